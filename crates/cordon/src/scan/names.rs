//! Correlation: which host names the telemetry ties to which addresses and connections.
//!
//! DNS answers (with their CNAME chains), TLS server names, HTTP hosts and certificate names
//! seen anywhere in the input set are gathered into a [`NameIndex`], frozen before flows are
//! attributed: an address is then explained by the names that resolved to it, and a
//! connection by the name it asked for (linked by Zeek uid or Suricata flow id).
//!
//! **Memory is bounded**: at most [`MAX_NAMES_PER_KEY`] names per address or connection,
//! and each distinct name is stored once. DNS answers that can matter to attribution (an
//! address that may lie in an AS of concern, or a chain with a name some domain rule
//! knows) are always kept; the others, which can only add hosting context, are kept while
//! a [`Budget`] of addresses lasts and counted when it is spent.

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

/// Addresses of no concern whose DNS names phase 1 may still keep, shared by its workers.
pub struct Budget(std::sync::atomic::AtomicUsize);

impl Budget {
    /// Enough for the DNS answers of a large enterprise's day; about 500 bytes each.
    pub const DEFAULT: usize = 256 * 1024;

    pub fn new(addresses: usize) -> Budget {
        Budget(std::sync::atomic::AtomicUsize::new(addresses))
    }

    fn take(&self) -> bool {
        use std::sync::atomic::Ordering;
        self.0
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
            .is_ok()
    }
}

/// Whether `name` can be a host name: 1 to 253 bytes of labels of 1 to 63 characters,
/// each a letter, digit, `-` or `_` (letters of any script, for names not yet in
/// punycode), optionally a leading `*.` wildcard label. Anything else that telemetry calls
/// a name (a 122 KB "name", markup, quotes, spaces) attributes nothing and is not kept.
pub fn is_hostname(name: &str) -> bool {
    let name = name.strip_suffix('.').unwrap_or(name);
    let body = name.strip_prefix("*.").unwrap_or(name);
    !body.is_empty()
        && name.len() <= 253
        && body.split('.').all(|l| {
            !l.is_empty()
                && l.chars().count() <= 63
                && l.chars()
                    .all(|c| c.is_alphanumeric() || c == '-' || c == '_')
        })
}

/// Names by address and by connection id.
#[derive(Default)]
pub struct NameIndex {
    /// DNS answers not kept because the [`Budget`] was spent.
    pub dropped: u64,
    /// Names refused because they cannot be host names ([`is_hostname`]).
    pub invalid: u64,
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
        self.add_dns_within(d, &|_, _| true, &Budget::new(usize::MAX));
    }

    /// [`NameIndex::add_dns`], keeping an answer whose address and chain are of no concern
    /// (`matters` says no) only while `budget` lasts.
    pub fn add_dns_within(
        &mut self,
        d: &Dns,
        matters: &dyn Fn(IpAddr, &[&str]) -> bool,
        budget: &Budget,
    ) {
        if !is_hostname(&d.query) {
            self.invalid += 1;
            return;
        }
        let mut owners: Vec<&str> = vec![d.query.as_str()];
        let mut chain = d.query.clone();
        for r in &d.answers {
            if let DnsData::Cname(target) = &r.data {
                if !is_hostname(target) {
                    self.invalid += 1;
                    continue;
                }
                if !owners.contains(&target.as_str()) {
                    owners.push(target);
                    chain.push_str(" → ");
                    chain.push_str(target);
                }
            }
        }
        for r in &d.answers {
            let DnsData::Addr(ip) = r.data else { continue };
            let key = ip.to_canonical();
            if !self.by_ip.contains_key(&key) && !matters(key, &owners) && !budget.take() {
                self.dropped += 1;
                continue;
            }
            let text: Arc<str> = format!("{chain} → {ip}").into();
            // The names of the chain, most specific (the query) first.
            let names: Vec<Arc<str>> = owners.iter().map(|o| self.intern(o)).collect();
            let owner = self.intern(&r.name);
            let list = self.by_ip.entry(key).or_default();
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
        if !is_hostname(&s.name) {
            self.invalid += 1;
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
            let (dropped, invalid) = (self.dropped, self.invalid);
            *self = other;
            self.dropped += dropped;
            self.invalid += invalid;
            return;
        }
        self.dropped += other.dropped;
        self.invalid += other.invalid;
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

    /// Addresses and connection ids that have names.
    pub fn len(&self) -> usize {
        self.by_ip.len() + self.by_uid.len()
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

    fn answer(query: &str, ip: &str) -> Dns {
        Dns {
            ts: 0,
            client: None,
            server: None,
            query: query.into(),
            answers: vec![DnsRecord {
                name: query.into(),
                data: DnsData::Addr(ip.parse().unwrap()),
                ttl: 60,
            }],
            uid: None,
        }
    }

    #[test]
    fn host_names_are_validated() {
        for ok in [
            "dashscope.aliyuncs.com",
            "a",
            "*.alicdn.com",
            "x_y.example.",
            "數據.中国",
            "xn--fiq228c.xn--fiqs8s",
        ] {
            assert!(is_hostname(ok), "{ok}");
        }
        let long_label = "a".repeat(64) + ".com";
        let long_name = ["abcdefghi"; 26].join(".");
        for bad in [
            "",
            ".",
            "a..b",
            "<script>.com",
            "a b.com",
            "\"x\".com",
            "a\u{1b}.com",
            "*.",
            "a.*.com",
            &long_label,
            &long_name,
        ] {
            assert!(!is_hostname(bad), "{bad}");
        }
        let mut idx = NameIndex::default();
        idx.add_dns(&answer("<img src=x>.aliyuncs.com", "47.88.1.2"));
        idx.add_dns(&answer("ok.aliyuncs.com", "47.88.1.2"));
        assert_eq!(idx.invalid, 1);
        assert_eq!(idx.for_ip("47.88.1.2".parse().unwrap()).len(), 1);
    }

    /// Answers that matter are always kept; the others while the budget lasts, then
    /// counted; an address already known keeps gaining names; merging adds the counts.
    #[test]
    fn answers_of_no_concern_are_kept_within_the_budget() {
        let budget = Budget::new(2);
        let matters = |_: IpAddr, chain: &[&str]| chain.iter().any(|n| n.ends_with(".cn"));
        let mut a = NameIndex::default();
        for i in 0..5 {
            a.add_dns_within(
                &answer(&format!("h{i}.example"), &format!("192.0.2.{i}")),
                &matters,
                &budget,
            );
            a.add_dns_within(
                &answer(&format!("h{i}.example.cn"), &format!("198.51.100.{i}")),
                &matters,
                &budget,
            );
        }
        // Known address: a second name for it costs nothing.
        a.add_dns_within(&answer("again.example", "192.0.2.0"), &matters, &budget);
        assert!(a.has_ip(&"192.0.2.0".parse().unwrap()) && a.has_ip(&"192.0.2.1".parse().unwrap()));
        assert!(!a.has_ip(&"192.0.2.2".parse().unwrap()));
        assert_eq!(a.for_ip("192.0.2.0".parse().unwrap()).len(), 2);
        assert!((0..5).all(|i| a.has_ip(&format!("198.51.100.{i}").parse().unwrap())));
        assert_eq!(a.dropped, 3);
        let mut b = NameIndex::default();
        b.add_dns_within(&answer("late.example", "192.0.2.9"), &matters, &budget);
        assert_eq!(b.dropped, 1);
        let mut all = NameIndex::default();
        all.merge(a);
        all.merge(b);
        assert_eq!(all.dropped, 4);
        assert_eq!(all.for_ip("192.0.2.0".parse().unwrap()).len(), 2);
    }

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
