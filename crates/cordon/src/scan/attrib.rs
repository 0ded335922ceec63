//! Attribute: the companies behind one remote endpoint, from every signal the input set has.
//!
//! Signals: names tied to the connection (TLS server name, HTTP host), names tied to the
//! address (DNS answers and CNAME chains, server names seen for it), and the address's AS.
//! Rules, in order:
//!
//! 1. **A name rule beats an AS rule** for the same traffic: the name says which service the
//!    client asked for. A name-attributed match keeps the hosting network as `hosted-on`
//!    context in its evidence.
//! 2. When the AS is a cloud, CDN or carrier of concern (`hosted-on`, `transit-via`) its
//!    match stands beside the name's: the traffic touches both companies' infrastructure.
//!    When the AS rule says `operated-by` and a name points at another group, the name wins
//!    and the AS match is dropped (the AS evidence stays as context).
//! 3. When name and AS point at the same group, they agree: one match, confidence raised.
//!
//!
//! A name-attributed match names where the service runs as `hosted-on` context: the
//! address's AS when the intel knows it, otherwise (the bundled table holds only networks of
//! concern) the DNS name that held the address record, when it is in another registrable
//! domain (`api.hik-connect.com → ….elb.amazonaws.com → 3.120.181.40`).
//! Further DNS answers that led to the same company are kept as corroborating evidence.
//!
//! Results for an address are cached per worker; the no-signal path (an address in no AS of
//! concern and with no name) allocates nothing.

use super::names::{NameIndex, NameSeen, Via};
use crate::attribute::{self, agree, Match};
use crate::model::Evidence;
use cordon_index::{EntityId, Intel, Relationship};
use foldhash::HashMap;
use std::net::IpAddr;
use std::sync::Arc;

/// One company behind a remote endpoint.
#[derive(Clone, Debug)]
pub struct RemoteMatch {
    pub entity: EntityId,
    pub relationship: Relationship,
    pub confidence: f32,
    pub service: Option<Arc<str>>,
    /// Names of the remote that led here (or that were seen for it).
    pub names: Vec<Arc<str>>,
    pub evidence: Arc<Vec<Evidence>>,
    /// True when the match rests on the address's AS alone: its evidence starts at the AS,
    /// and the output adds the address and prefix of the exposure's first remote.
    pub by_address: bool,
}

pub type Matches = Arc<[RemoteMatch]>;

/// Caches attributions per address with names, and per AS for addresses without; one per
/// worker thread.
pub struct Attributor<'a> {
    intel: &'a Intel,
    names: &'a NameIndex,
    cache: HashMap<IpAddr, Option<Matches>>,
    /// By (ASN, IPv6?): the AS-only attribution, shared by every address of the AS.
    by_as: HashMap<(u32, bool), Option<Matches>>,
}

/// Upper bound on cached addresses per worker; past it the cache is cleared.
const MAX_CACHE: usize = 1 << 20;

pub fn to_evidence(m: &Match) -> Vec<Evidence> {
    m.chain
        .iter()
        .map(|s| Evidence {
            kind: s.kind.to_string(),
            value: s.value.clone(),
            source: s.source.clone(),
            date: s.date.clone(),
        })
        .collect()
}

impl<'a> Attributor<'a> {
    pub fn new(intel: &'a Intel, names: &'a NameIndex) -> Attributor<'a> {
        Attributor {
            intel,
            names,
            cache: HashMap::default(),
            by_as: HashMap::default(),
        }
    }

    pub fn intel(&self) -> &'a Intel {
        self.intel
    }

    pub fn names(&self) -> &'a NameIndex {
        self.names
    }

    /// Looks up the addresses' table entries back to back, so that the memory accesses of a
    /// batch overlap; the lookups that follow in [`Attributor::remote`] then hit the cache.
    pub fn warm(&self, ips: impl Iterator<Item = IpAddr>) {
        let mut acc = 0u32;
        for ip in ips {
            if let IpAddr::V4(a) = ip {
                let a = u32::from(a);
                if self.intel.may_be_of_concern_v4(a) {
                    acc = acc.wrapping_add(self.intel.lookup_v4(a).unwrap_or(0));
                }
            }
        }
        std::hint::black_box(acc);
    }

    /// The companies behind `ip`, given the names tied to this connection (`uid`), if any.
    #[inline]
    pub fn remote(&mut self, ip: IpAddr, uid: Option<&str>) -> Option<Matches> {
        let conn_names = match uid {
            Some(u) if !self.names.is_empty() => self.names.for_uid(u),
            _ => &[],
        };
        if !conn_names.is_empty() {
            // Per-connection names are rare (TLS/HTTP logs): not cached.
            return self.compute(ip, conn_names);
        }
        if self.names.is_empty() || !self.names.has_ip(&ip) {
            // No name for the address: only its AS can say anything, and says the same for
            // every address of the AS.
            let (asn, v6) = match ip.to_canonical() {
                IpAddr::V4(v4) => {
                    let a = u32::from(v4);
                    if !self.intel.may_be_of_concern_v4(a) {
                        return None;
                    }
                    let i = self.intel.lookup_v4(a)?;
                    let info = &self.intel.asns[i as usize];
                    info.rule?;
                    (info.asn, false)
                }
                v6 => {
                    let m = self.intel.lookup_ip(v6)?;
                    m.asn.rule?;
                    (m.asn.asn, true)
                }
            };
            if let Some(hit) = self.by_as.get(&(asn, v6)) {
                return hit.clone();
            }
            let r = self.compute(ip, &[]).map(|m| {
                let shared: Vec<RemoteMatch> = m
                    .iter()
                    .map(|x| {
                        let mut x = x.clone();
                        let ev: Vec<Evidence> = x
                            .evidence
                            .iter()
                            .filter(|e| e.kind != "address" && e.kind != "prefix")
                            .cloned()
                            .collect();
                        x.evidence = Arc::new(ev);
                        x.by_address = true;
                        x
                    })
                    .collect();
                Matches::from(shared)
            });
            self.by_as.insert((asn, v6), r.clone());
            return r;
        }
        if let Some(hit) = self.cache.get(&ip) {
            return hit.clone();
        }
        let r = self.compute(ip, &[]);
        if self.cache.len() >= MAX_CACHE {
            self.cache.clear();
        }
        self.cache.insert(ip, r.clone());
        r
    }

    fn compute(&self, ip: IpAddr, conn_names: &[NameSeen]) -> Option<Matches> {
        let intel = self.intel;
        let ip_facts = attribute::ip(intel, ip);
        let ip_names = self.names.for_ip(ip);
        let all_names: Vec<&NameSeen> = conn_names.iter().chain(ip_names.iter()).collect();

        // The best name rule per group, strongest signal first (the order of `all_names`).
        let mut name_matches: Vec<(Match, &NameSeen)> = Vec::new();
        for seen in &all_names {
            let f = attribute::name(intel, &seen.name);
            for m in f.matches {
                let g = intel.group(m.entity);
                if !name_matches.iter().any(|(x, _)| intel.group(x.entity) == g) {
                    name_matches.push((m, seen));
                }
            }
        }
        let context = hosting_context(&ip_facts);
        let mut out: Vec<RemoteMatch> = Vec::new();
        for (m, seen) in &name_matches {
            let group = intel.group(m.entity);
            let mut ev = vec![signal(seen)];
            ev.extend(to_evidence(m));
            // Other signals that led to the same company (a DNS chain beside a TLS name).
            for other in &all_names {
                let e = signal(other);
                let same = attribute::name(intel, &other.name)
                    .matches
                    .iter()
                    .any(|x| intel.group(x.entity) == group);
                if same
                    && ev.len() < 16
                    && !ev.iter().any(|x| x.kind == e.kind && x.value == e.value)
                {
                    ev.push(e);
                }
            }
            match &context {
                Some(c) => ev.push(c.clone()),
                None => ev.extend(dns_hosting_context(intel, &all_names, &seen.name, group)),
            }
            let mut conf = m.confidence;
            // Agreement with the AS of the same group raises confidence.
            if ip_facts
                .matches
                .iter()
                .any(|a| intel.group(a.entity) == intel.group(m.entity))
            {
                conf = agree(conf, ip_facts.matches[0].confidence);
                ev.push(Evidence {
                    kind: "agrees".into(),
                    value: "the address's AS belongs to the same group".into(),
                    source: None,
                    date: None,
                });
            }
            out.push(RemoteMatch {
                entity: m.entity,
                relationship: m.relationship.unwrap_or(Relationship::OperatedBy),
                confidence: conf,
                service: m.service.as_deref().map(Arc::from),
                names: names_of_group(intel, &all_names, intel.group(m.entity)),
                evidence: Arc::new(ev),
                by_address: false,
            });
        }
        for a in &ip_facts.matches {
            let g = intel.group(a.entity);
            if out.iter().any(|o| intel.group(o.entity) == g) {
                continue; // agreed with a name rule above
            }
            let rel = a.relationship.unwrap_or(Relationship::HostedOn);
            if rel == Relationship::OperatedBy && !name_matches.is_empty() {
                continue; // the name points at another group: it wins
            }
            let mut ev = to_evidence(a);
            for seen in all_names.iter().take(3) {
                ev.push(signal(seen));
            }
            out.push(RemoteMatch {
                entity: a.entity,
                relationship: rel,
                confidence: a.confidence,
                service: None,
                names: all_names.iter().take(8).map(|s| s.name.clone()).collect(),
                evidence: Arc::new(ev),
                by_address: false,
            });
        }
        (!out.is_empty()).then(|| out.into())
    }
}

/// The evidence item for a name signal.
fn signal(seen: &NameSeen) -> Evidence {
    let value = match &seen.via {
        Via::Dns { chain, .. } => chain.to_string(),
        Via::Tls => format!("TLS server name {}", seen.name),
        Via::Http => format!("HTTP host {}", seen.name),
        Via::X509 => format!("certificate name {}", seen.name),
    };
    Evidence {
        kind: seen.via.kind().into(),
        value,
        source: Some("telemetry".into()),
        date: None,
    }
}

/// The network that carries a name-attributed service, as context.
fn hosting_context(f: &attribute::IpFacts) -> Option<Evidence> {
    let asn = f.asn?;
    let org = f.as_org.clone().unwrap_or_default();
    Some(Evidence {
        kind: "hosted-on".into(),
        value: format!("AS{asn} {org} ({})", f.prefix.clone().unwrap_or_default()),
        source: f.dataset.clone(),
        date: f.dataset_date.clone(),
    })
}

/// Where a name-attributed service runs, from the DNS answers for the address when its AS is
/// unknown: the name that held the address record, when its registrable domain differs from
/// the matched name's and it is not itself attributed to the same group.
fn dns_hosting_context(
    intel: &Intel,
    names: &[&NameSeen],
    matched: &str,
    group: EntityId,
) -> Option<Evidence> {
    let matched_domain = psl::domain_str(matched);
    names.iter().find_map(|seen| {
        let Via::Dns { owner, .. } = &seen.via else {
            return None;
        };
        let domain = psl::domain_str(owner)?;
        if Some(domain) == matched_domain {
            return None;
        }
        let f = attribute::name(intel, owner);
        if f.matches.iter().any(|m| intel.group(m.entity) == group) {
            return None;
        }
        Some(Evidence {
            kind: "hosted-on".into(),
            value: format!(
                "{owner} (the DNS name that held the address; its AS is not in the intel in use)"
            ),
            source: Some("telemetry".into()),
            date: None,
        })
    })
}

fn names_of_group(intel: &Intel, names: &[&NameSeen], group: EntityId) -> Vec<Arc<str>> {
    let mut out: Vec<Arc<str>> = Vec::new();
    for n in names {
        let hit = attribute::name(intel, &n.name)
            .matches
            .iter()
            .any(|m| intel.group(m.entity) == group);
        if hit && !out.contains(&n.name) {
            out.push(n.name.clone());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::intel::load::{load, Source};
    use cordon_wire::{Dns, DnsData, DnsRecord, NameSource, ServerName};

    fn dns(query: &str, chain: &[&str], ip: &str) -> Dns {
        let mut answers = Vec::new();
        let mut owner = query.to_string();
        for c in chain {
            answers.push(DnsRecord {
                name: owner.clone(),
                data: DnsData::Cname(c.to_string()),
                ttl: 60,
            });
            owner = c.to_string();
        }
        answers.push(DnsRecord {
            name: owner,
            data: DnsData::Addr(ip.parse().unwrap()),
            ttl: 60,
        });
        Dns {
            ts: 0,
            client: None,
            server: None,
            query: query.into(),
            answers,
            uid: None,
        }
    }

    fn summary(intel: &Intel, m: &Matches) -> Vec<(String, String, &'static str)> {
        m.iter()
            .map(|r| {
                (
                    intel.entity(r.entity).id.to_string(),
                    intel.entity(intel.group(r.entity)).id.to_string(),
                    r.relationship.as_str(),
                )
            })
            .collect()
    }

    #[test]
    fn precedence_of_names_over_as() {
        let intel = load(&Source::Bundled, None).unwrap().intel;
        let mut names = NameIndex::default();
        // A Hikvision device cloud on an address of no concern (a US cloud).
        names.add_dns(&dns("api.hik-connect.com", &[], "3.120.1.1"));
        // A shop behind Alibaba's CDN: the CNAME names Alibaba.
        names.add_dns(&dns(
            "www.shop.example",
            &["shop.example.w.alikunlun.com"],
            "163.181.1.1",
        ));
        // A tenant's site on Alibaba Cloud: the name is of no concern, the AS is.
        names.add_dns(&dns("www.tenant.example", &[], "47.88.1.2"));
        // A Tencent name on a Baidu (operated-by) address: the name wins.
        names.add_server_name(&ServerName {
            ts: 0,
            client: None,
            server: Some("182.61.200.6".parse().unwrap()),
            server_port: 443,
            name: "weixin.qq.com".into(),
            source: NameSource::Tls,
            uid: None,
        });
        let mut a = Attributor::new(&intel, &names);
        let get = |a: &mut Attributor, ip: &str| a.remote(ip.parse().unwrap(), None);

        let hik = get(&mut a, "3.120.1.1").expect("hikvision by name");
        assert_eq!(
            summary(&intel, &hik),
            [("hikvision".into(), "hikvision".into(), "operated-by")]
        );

        let cdn = get(&mut a, "163.181.1.1").expect("alibaba by name and AS");
        assert_eq!(cdn.len(), 1, "{:?}", summary(&intel, &cdn));
        assert_eq!(summary(&intel, &cdn)[0].1, "alibaba");
        assert!(
            cdn[0].evidence.iter().any(|e| e.kind == "agrees"),
            "name and AS agree"
        );

        let tenant = get(&mut a, "47.88.1.2").expect("alibaba cloud by AS");
        assert_eq!(
            summary(&intel, &tenant),
            [("alibaba-cloud".into(), "alibaba".into(), "hosted-on")]
        );
        assert!(tenant[0].names.iter().any(|n| &**n == "www.tenant.example"));

        let tx = get(&mut a, "182.61.200.6").expect("tencent by name");
        assert_eq!(
            summary(&intel, &tx)
                .iter()
                .map(|s| s.1.as_str())
                .collect::<Vec<_>>(),
            ["tencent"]
        );

        assert!(get(&mut a, "8.8.8.8").is_none());
        assert!(get(&mut a, "2001:4860::8888").is_none());
    }

    #[test]
    fn a_connection_name_counts_for_that_connection_only() {
        let intel = load(&Source::Bundled, None).unwrap().intel;
        let mut names = NameIndex::default();
        names.add_server_name(&ServerName {
            ts: 0,
            client: None,
            server: None,
            server_port: 443,
            name: "dashscope.aliyuncs.com".into(),
            source: NameSource::Tls,
            uid: Some("C42".into()),
        });
        let mut a = Attributor::new(&intel, &names);
        let ip = "198.51.100.7".parse().unwrap();
        let m = a
            .remote(ip, Some("C42"))
            .expect("the TLS name of the connection");
        assert_eq!(m[0].service.as_deref(), Some("ai-model-api"));
        assert!(a.remote(ip, Some("C43")).is_none());
        assert!(a.remote(ip, None).is_none());
    }

    fn tls(ip: IpAddr, name: &str) -> ServerName {
        ServerName {
            ts: 0,
            client: None,
            server: Some(ip),
            server_port: 443,
            name: name.into(),
            source: NameSource::Tls,
            uid: None,
        }
    }

    fn kinds(m: &RemoteMatch) -> Vec<&str> {
        m.evidence.iter().map(|e| e.kind.as_str()).collect()
    }

    /// A camera's vendor cloud on an AWS address (in no AS of concern, so absent from the
    /// bundled table): the vendor is operated-by, the DNS chain is kept, and the AWS name
    /// that held the address is the hosted-on context.
    #[test]
    fn device_cloud_on_an_unlisted_cloud_takes_its_hosting_from_dns() {
        let intel = load(&Source::Bundled, None).unwrap().intel;
        let ip: IpAddr = "3.120.181.40".parse().unwrap();
        let elb = "hikconnect-euc1-prod-1.eu-central-1.elb.amazonaws.com";
        let mut names = NameIndex::default();
        names.add_dns(&Dns {
            ts: 0,
            client: None,
            server: None,
            query: "api.hik-connect.com".into(),
            answers: vec![
                DnsRecord {
                    name: "api.hik-connect.com".into(),
                    data: DnsData::Cname(elb.into()),
                    ttl: 300,
                },
                DnsRecord {
                    name: elb.into(),
                    data: DnsData::Addr(ip),
                    ttl: 60,
                },
            ],
            uid: None,
        });
        names.add_server_name(&tls(ip, "api.hik-connect.com"));
        let mut attr = Attributor::new(&intel, &names);
        let m = attr.remote(ip, None).expect("attributed");
        assert_eq!(m.len(), 1, "{m:?}");
        assert_eq!(&*intel.entity(m[0].entity).id, "hikvision");
        assert_eq!(m[0].relationship, Relationship::OperatedBy);
        let k = kinds(&m[0]);
        assert_eq!(k[0], "tls");
        assert!(k.contains(&"dns"), "{k:?}");
        let hosted = m[0]
            .evidence
            .iter()
            .find(|e| e.kind == "hosted-on")
            .expect("hosted-on context");
        assert!(hosted.value.starts_with(elb), "{}", hosted.value);

        // With only the TLS name there is nothing to say where it runs: no context invented.
        let ip2: IpAddr = "3.121.6.180".parse().unwrap();
        let mut names = NameIndex::default();
        names.add_server_name(&tls(ip2, "api.hik-connect.com"));
        let mut attr = Attributor::new(&intel, &names);
        let m = attr.remote(ip2, None).expect("attributed");
        assert!(!kinds(&m[0]).contains(&"hosted-on"), "{m:?}");
    }

    /// When the AS is known, it is the context, and a CNAME within the same group adds none.
    #[test]
    fn known_as_is_the_hosting_context() {
        let intel = load(&Source::Bundled, None).unwrap().intel;
        let ip: IpAddr = "47.246.23.10".parse().unwrap();
        let mut names = NameIndex::default();
        names.add_dns(&Dns {
            ts: 0,
            client: None,
            server: None,
            query: "www.shop-example.com".into(),
            answers: vec![
                DnsRecord {
                    name: "www.shop-example.com".into(),
                    data: DnsData::Cname("shop-example.com.w.alikunlun.com".into()),
                    ttl: 600,
                },
                DnsRecord {
                    name: "shop-example.com.w.alikunlun.com".into(),
                    data: DnsData::Addr(ip),
                    ttl: 60,
                },
            ],
            uid: None,
        });
        let mut attr = Attributor::new(&intel, &names);
        let m = attr.remote(ip, None).expect("attributed");
        assert_eq!(m.len(), 1, "{m:?}");
        assert_eq!(m[0].relationship, Relationship::HostedOn);
        let hosted: Vec<&Evidence> = m[0]
            .evidence
            .iter()
            .filter(|e| e.kind == "hosted-on")
            .collect();
        assert_eq!(hosted.len(), 1);
        assert!(
            hosted[0].value.starts_with("AS24429"),
            "{}",
            hosted[0].value
        );
    }
}
