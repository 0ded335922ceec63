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
}

pub type Matches = Arc<[RemoteMatch]>;

/// Caches attributions per address; one per worker thread.
pub struct Attributor<'a> {
    intel: &'a Intel,
    names: &'a NameIndex,
    cache: HashMap<IpAddr, Option<Matches>>,
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
        }
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
        // Fast path: nothing of concern in the AS and no name known for the address.
        if let IpAddr::V4(v4) = ip {
            let asn_concern = self
                .intel
                .lookup_v4(u32::from(v4))
                .is_some_and(|i| self.intel.asns[i as usize].rule.is_some());
            if !asn_concern && !self.names.has_ip(&ip) {
                return None;
            }
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
