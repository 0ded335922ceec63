//! Correlation: which host names the telemetry ties to which addresses and connections.
//!
//! DNS answers (with their CNAME chains), TLS server names, HTTP hosts and certificate names
//! seen anywhere in the input set are gathered into a [`NameIndex`], frozen before flows are
//! attributed: an address is then explained by the names that resolved to it, and a
//! connection by the name it asked for (linked by Zeek uid or Suricata flow id).
//!
//! **Memory is bounded**: at most [`MAX_NAMES_PER_KEY`] names per address or connection.

use cordon_wire::{Dns, DnsData, NameSource, ServerName};
use foldhash::HashMap;
use std::net::IpAddr;
use std::sync::Arc;

/// Distinct names kept per address or per connection.
pub const MAX_NAMES_PER_KEY: usize = 16;

/// How a name was tied to an address or connection.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Via {
    /// A DNS answer: the chain as text, `q → cname → address`, and the owner name of the
    /// address record (the last name of the chain).
    Dns {
        chain: Arc<str>,
        owner: Arc<str>,
    },
    Tls,
    Http,
    X509,
}

impl Via {
    pub fn kind(&self) -> &'static str {
        match self {
            Via::Dns { .. } => "dns",
            Via::Tls => "tls",
            Via::Http => "http",
            Via::X509 => "x509",
        }
    }
    /// Stronger evidence sorts first: a name the client asked for on this very connection
    /// beats a name some DNS answer gave for the address.
    fn rank(&self) -> u8 {
        match self {
            Via::Tls => 0,
            Via::Http => 1,
            Via::X509 => 2,
            Via::Dns { .. } => 3,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct NameSeen {
    pub name: Arc<str>,
    pub via: Via,
}

/// Names by address and by connection id.
#[derive(Default)]
pub struct NameIndex {
    by_ip: HashMap<IpAddr, Vec<NameSeen>>,
    by_uid: HashMap<Box<str>, Vec<NameSeen>>,
    /// Interned names, so each distinct name is stored once.
    interned: HashMap<Box<str>, Arc<str>>,
}

fn push(list: &mut Vec<NameSeen>, seen: NameSeen) {
    if list.len() < MAX_NAMES_PER_KEY && !list.contains(&seen) {
        list.push(seen);
        list.sort_by_key(|s| s.via.rank());
    }
}

impl NameIndex {
    fn intern(&mut self, name: &str) -> Arc<str> {
        if let Some(a) = self.interned.get(name) {
            return a.clone();
        }
        let a: Arc<str> = name.into();
        self.interned.insert(name.into(), a.clone());
        a
    }

    /// Every address in the answer gets every name of the chain that led to it.
    pub fn add_dns(&mut self, d: &Dns) {
        let mut owners: Vec<&str> = vec![d.query.as_str()];
        let mut chain = d.query.clone();
        for r in &d.answers {
            if let DnsData::Cname(target) = &r.data {
                if !owners.contains(&target.as_str()) {
                    owners.push(target);
                    chain.push_str(" → ");
                    chain.push_str(target);
                }
            }
        }
        for r in &d.answers {
            let DnsData::Addr(ip) = r.data else { continue };
            let text: Arc<str> = format!("{chain} → {ip}").into();
            // The names of the chain, most specific (the query) first.
            let names: Vec<Arc<str>> = owners.iter().map(|o| self.intern(o)).collect();
            let owner = self.intern(&r.name);
            let list = self.by_ip.entry(ip.to_canonical()).or_default();
            for n in names {
                push(
                    list,
                    NameSeen {
                        name: n,
                        via: Via::Dns {
                            chain: text.clone(),
                            owner: owner.clone(),
                        },
                    },
                );
            }
        }
    }

    pub fn add_server_name(&mut self, s: &ServerName) {
        let via = match s.source {
            NameSource::Tls => Via::Tls,
            NameSource::Http => Via::Http,
            NameSource::X509 => Via::X509,
        };
        // An address literal in SNI or Host says nothing about the company.
        if s.name.parse::<IpAddr>().is_ok() {
            return;
        }
        let name = self.intern(&s.name);
        if let Some(ip) = s.server {
            push(
                self.by_ip.entry(ip.to_canonical()).or_default(),
                NameSeen {
                    name: name.clone(),
                    via: via.clone(),
                },
            );
        }
        if let Some(uid) = &s.uid {
            push(
                self.by_uid.entry(uid.clone()).or_default(),
                NameSeen { name, via },
            );
        }
    }

    /// Adds everything `other` holds, as if its observations had come after this index's
    /// own (phase 1 indexes each input apart, then merges them in input order).
    pub fn merge(&mut self, other: NameIndex) {
        if self.is_empty() && self.interned.is_empty() {
            *self = other;
            return;
        }
        for (ip, list) in other.by_ip {
            let mine = self.by_ip.entry(ip).or_default();
            for seen in list {
                push(mine, seen);
            }
        }
        for (uid, list) in other.by_uid {
            let mine = self.by_uid.entry(uid).or_default();
            for seen in list {
                push(mine, seen);
            }
        }
        for (k, v) in other.interned {
            self.interned.entry(k).or_insert(v);
        }
    }

    /// Names tied to an address.
    pub fn for_ip(&self, ip: IpAddr) -> &[NameSeen] {
        self.by_ip.get(&ip).map_or(&[], Vec::as_slice)
    }

    /// Names tied to a connection.
    pub fn for_uid(&self, uid: &str) -> &[NameSeen] {
        self.by_uid.get(uid).map_or(&[], Vec::as_slice)
    }

    /// True when some name is tied to a connection id (Zeek uid, Suricata flow id).
    pub fn has_uids(&self) -> bool {
        !self.by_uid.is_empty()
    }

    pub fn is_empty(&self) -> bool {
        self.by_ip.is_empty() && self.by_uid.is_empty()
    }

    pub fn has_ip(&self, ip: &IpAddr) -> bool {
        self.by_ip.contains_key(ip)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cordon_wire::DnsRecord;

    #[test]
    fn cname_chains_name_every_address() {
        let mut idx = NameIndex::default();
        let ip: IpAddr = "47.246.1.1".parse().unwrap();
        idx.add_dns(&Dns {
            ts: 0,
            client: None,
            server: None,
            query: "www.shop.example".into(),
            answers: vec![
                DnsRecord {
                    name: "www.shop.example".into(),
                    data: DnsData::Cname("shop.alicdn.com".into()),
                    ttl: 60,
                },
                DnsRecord {
                    name: "shop.alicdn.com".into(),
                    data: DnsData::Addr(ip),
                    ttl: 60,
                },
            ],
            uid: None,
        });
        let names: Vec<&str> = idx.for_ip(ip).iter().map(|n| &*n.name).collect();
        assert_eq!(names, ["www.shop.example", "shop.alicdn.com"]);
        match &idx.for_ip(ip)[0].via {
            Via::Dns { chain, owner } => {
                assert_eq!(&**chain, "www.shop.example → shop.alicdn.com → 47.246.1.1");
                assert_eq!(&**owner, "shop.alicdn.com");
            }
            v => panic!("{v:?}"),
        }
    }

    #[test]
    fn tls_names_rank_before_dns_and_literals_are_ignored() {
        let mut idx = NameIndex::default();
        let ip: IpAddr = "1.2.3.4".parse().unwrap();
        idx.add_dns(&Dns {
            ts: 0,
            client: None,
            server: None,
            query: "a.example".into(),
            answers: vec![DnsRecord {
                name: "a.example".into(),
                data: DnsData::Addr(ip),
                ttl: 1,
            }],
            uid: None,
        });
        for name in ["b.example", "1.2.3.4"] {
            idx.add_server_name(&ServerName {
                ts: 0,
                client: None,
                server: Some(ip),
                server_port: 443,
                name: name.into(),
                source: NameSource::Tls,
                uid: Some("C1".into()),
            });
        }
        let names: Vec<&str> = idx.for_ip(ip).iter().map(|n| &*n.name).collect();
        assert_eq!(names, ["b.example", "a.example"]);
        assert_eq!(idx.for_uid("C1").len(), 1);
    }
}
