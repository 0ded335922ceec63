//! Matching observations against the indicator set, aggregated per (asset, indicator).
//!
//! Every address of a flow (both ends), every DNS query name, CNAME target and resolved
//! address, and every TLS / HTTP / certificate name is looked up. A domain indicator
//! matches its name exactly, or — with `subdomains` — any name under it. An indicator only
//! matches observations inside its validity window, and a key with a port only matches
//! when the port on the matched side is that port.
//!
//! **The path where nothing matches does not allocate**: lookups borrow the observation's
//! strings and cost two Bloom-filter bit tests per address or name; only a match touches
//! the aggregation map.

use super::set::{IndicatorSet, Key, NONE};
use crate::date::rfc3339_micros;
use crate::model::{Evidence, IndicatorMatch, IndicatorRef};
use cordon_wire::obs::{DnsData, NameSource, Observation};
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;

/// Distinct evidence items kept per match.
pub const MAX_EVIDENCE: usize = 10;

/// Counters of the matcher.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct MatchStats {
    /// Observations looked at.
    pub observations: u64,
    /// Key hits that became matches.
    pub matches: u64,
    /// Key hits outside the indicator's validity window.
    pub outside_window: u64,
    /// Key hits whose port condition did not hold.
    pub port_mismatch: u64,
    /// DNS and name observations without a client or server address (no asset to name).
    pub no_asset: u64,
}

struct Agg {
    key: Key,
    remote: String,
    first: i64,
    last: i64,
    count: u64,
    evidence: Vec<(&'static str, Seen)>,
}

/// An observed address or name, kept as evidence.
#[derive(Clone, PartialEq, Eq)]
enum Seen {
    Addr(IpAddr),
    Name(Box<str>),
}

/// Matches observations; one per scan thread, merged at the end.
pub struct Matcher {
    set: Arc<IndicatorSet>,
    subdomains: bool,
    st: State,
}

/// What the matcher accumulates (apart from the set, so both can be borrowed at once).
#[derive(Default)]
struct State {
    aggs: HashMap<(IpAddr, u32), Agg>,
    stats: MatchStats,
}

/// One hit: where it was found, to aggregate.
#[derive(Copy, Clone)]
struct Hit<'o> {
    asset: IpAddr,
    remote: Remote<'o>,
    t0: i64,
    t1: i64,
    /// The port on the matched side, when the observation has one.
    port: Option<u16>,
    kind: &'static str,
    value: Value<'o>,
}

#[derive(Copy, Clone)]
enum Remote<'o> {
    Addr(IpAddr),
    Name(&'o str),
}

#[derive(Copy, Clone)]
enum Value<'o> {
    Addr(IpAddr),
    Name(&'o str),
}

impl Matcher {
    pub fn new(set: Arc<IndicatorSet>, subdomains: bool) -> Matcher {
        Matcher {
            set,
            subdomains,
            st: State::default(),
        }
    }

    pub fn stats(&self) -> MatchStats {
        self.st.stats
    }

    /// Prepares a batch of addresses about to be observed (see [`IndicatorSet::warm`]).
    pub fn warm(&self, ips: impl Iterator<Item = IpAddr>) {
        self.set.warm(ips);
    }

    /// Looks at one observation. `is_internal` says which addresses are the organisation's.
    pub fn observe(&mut self, obs: &Observation, is_internal: &dyn Fn(IpAddr) -> bool) {
        let (set, st, sub) = (&*self.set, &mut self.st, self.subdomains);
        if set.is_empty() {
            return;
        }
        st.stats.observations += 1;
        match obs {
            Observation::Flow(f) => {
                let src_is_asset = is_internal(f.src) || !is_internal(f.dst);
                let (asset, remote) = if src_is_asset {
                    (f.src, f.dst)
                } else {
                    (f.dst, f.src)
                };
                for (ip, port) in [(f.dst, f.dport), (f.src, f.sport)] {
                    set.addr_hits(ip, |r, key| {
                        st.hit(
                            set,
                            r,
                            key,
                            Hit {
                                asset,
                                remote: Remote::Addr(remote),
                                t0: f.first,
                                t1: f.last.max(f.first),
                                port: Some(port),
                                kind: "address",
                                value: Value::Addr(ip),
                            },
                        )
                    });
                }
            }
            Observation::Dns(d) => {
                let Some(asset) = d.client.or(d.server) else {
                    st.stats.no_asset += 1;
                    return;
                };
                fn dns<'o>(asset: IpAddr, ts: i64, name: &'o str, kind: &'static str) -> Hit<'o> {
                    Hit {
                        asset,
                        remote: Remote::Name(name),
                        t0: ts,
                        t1: ts,
                        port: None,
                        kind,
                        value: Value::Name(name),
                    }
                }
                names(set, st, sub, dns(asset, d.ts, &d.query, "dns"));
                for a in &d.answers {
                    match &a.data {
                        DnsData::Cname(t) => names(set, st, sub, dns(asset, d.ts, t, "cname")),
                        DnsData::Addr(ip) => {
                            set.addr_hits(*ip, |r, key| {
                                st.hit(
                                    set,
                                    r,
                                    key,
                                    Hit {
                                        asset,
                                        remote: Remote::Addr(*ip),
                                        t0: d.ts,
                                        t1: d.ts,
                                        port: None,
                                        kind: "dns-answer",
                                        value: Value::Addr(*ip),
                                    },
                                )
                            });
                        }
                    }
                }
            }
            Observation::Name(n) => {
                let (asset, remote) = match (n.client, n.server) {
                    // Inbound: the internal server is the asset, the client the remote.
                    (Some(c), Some(s)) if !is_internal(c) && is_internal(s) => (s, Remote::Addr(c)),
                    (Some(c), Some(s)) => (c, Remote::Addr(s)),
                    (Some(c), None) => (c, Remote::Name(&n.name)),
                    (None, Some(s)) => (s, Remote::Name(&n.name)),
                    (None, None) => {
                        st.stats.no_asset += 1;
                        return;
                    }
                };
                let kind = match n.source {
                    NameSource::Tls => "tls",
                    NameSource::Http => "http",
                    NameSource::X509 => "x509",
                };
                let h = Hit {
                    asset,
                    remote,
                    t0: n.ts,
                    t1: n.ts,
                    port: Some(n.server_port),
                    kind,
                    value: Value::Name(&n.name),
                };
                names(set, st, sub, h);
            }
            Observation::Dhcp(_) | Observation::Host(_) => {}
        }
    }

    /// Adds another matcher's results (from another thread, same set) to these.
    pub fn merge(&mut self, other: Matcher) {
        for (k, o) in other.st.aggs {
            match self.st.aggs.get_mut(&k) {
                None => {
                    self.st.aggs.insert(k, o);
                }
                Some(a) => {
                    a.first = a.first.min(o.first);
                    a.last = a.last.max(o.last);
                    a.count += o.count;
                    for e in o.evidence {
                        if a.evidence.len() < MAX_EVIDENCE && !a.evidence.contains(&e) {
                            a.evidence.push(e);
                        }
                    }
                }
            }
        }
        let s = other.st.stats;
        self.st.stats.observations += s.observations;
        self.st.stats.matches += s.matches;
        self.st.stats.outside_window += s.outside_window;
        self.st.stats.port_mismatch += s.port_mismatch;
        self.st.stats.no_asset += s.no_asset;
    }

    /// The matches, ordered by asset, then indicator id.
    pub fn finish(self) -> Vec<IndicatorMatch> {
        let set = &self.set;
        let mut out: Vec<(IpAddr, IndicatorMatch)> = self
            .st
            .aggs
            .into_iter()
            .map(|((asset, meta), a)| {
                let d = set.describe(meta, a.key);
                let m = IndicatorMatch {
                    asset: asset.to_string(),
                    remote: a.remote,
                    indicator: IndicatorRef {
                        id: d.id,
                        pattern: d.is_pattern.then(|| d.text.clone()),
                        value: (!d.is_pattern).then_some(d.text),
                        name: d.name,
                        source: d.source,
                    },
                    first_seen: rfc3339_micros(a.first),
                    last_seen: rfc3339_micros(a.last),
                    count: a.count,
                    evidence: a
                        .evidence
                        .into_iter()
                        .map(|(kind, seen)| Evidence {
                            kind: kind.to_string(),
                            value: match seen {
                                Seen::Addr(a) => a.to_string(),
                                Seen::Name(n) => n.into(),
                            },
                            source: None,
                            date: None,
                        })
                        .collect(),
                };
                (asset, m)
            })
            .collect();
        out.sort_by(|a, b| {
            a.0.cmp(&b.0)
                .then_with(|| a.1.indicator.id.cmp(&b.1.indicator.id))
        });
        out.into_iter().map(|(_, m)| m).collect()
    }
}

/// Looks up `h.value`'s name (and, with `subdomains`, its parent names).
fn names(set: &IndicatorSet, st: &mut State, subdomains: bool, h: Hit<'_>) {
    let Value::Name(name) = h.value else {
        return;
    };
    if !set.has_names() {
        return;
    }
    let mut rest = name;
    loop {
        set.name_hits(rest, |r, key| st.hit(set, r, key, h));
        if !subdomains {
            return;
        }
        match rest.find('.') {
            Some(i) => rest = &rest[i + 1..],
            None => return,
        }
    }
}

impl State {
    fn hit(&mut self, set: &IndicatorSet, r: u32, key: Key, h: Hit<'_>) {
        let (meta, want_port) = set.resolve(r);
        if meta == NONE {
            return;
        }
        if let Some(p) = want_port {
            if h.port != Some(p) {
                self.stats.port_mismatch += 1;
                return;
            }
        }
        let (from, until) = set.window(meta);
        if !(from <= h.t1 && h.t0 < until) {
            self.stats.outside_window += 1;
            return;
        }
        self.stats.matches += 1;
        let agg = self.aggs.entry((h.asset, meta)).or_insert_with(|| Agg {
            key,
            remote: match h.remote {
                Remote::Addr(a) => a.to_string(),
                Remote::Name(n) => n.to_string(),
            },
            first: h.t0,
            last: h.t1,
            count: 0,
            evidence: Vec::new(),
        });
        agg.first = agg.first.min(h.t0);
        agg.last = agg.last.max(h.t1);
        agg.count += 1;
        if agg.evidence.len() < MAX_EVIDENCE {
            let same = |(k, v): &(&'static str, Seen)| {
                *k == h.kind
                    && match (h.value, v) {
                        (Value::Addr(a), Seen::Addr(b)) => a == *b,
                        (Value::Name(n), Seen::Name(m)) => n == &**m,
                        _ => false,
                    }
            };
            if !agg.evidence.iter().any(same) {
                let v = match h.value {
                    Value::Addr(a) => Seen::Addr(a),
                    Value::Name(n) => Seen::Name(n.into()),
                };
                agg.evidence.push((h.kind, v));
            }
        }
    }
}
