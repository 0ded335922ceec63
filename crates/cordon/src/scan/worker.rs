//! The worker: a [`Sink`] that attributes, aggregates and matches flows as a decoder
//! pushes them, and files devices — the part of the pipeline every source shares. A batch
//! scan runs one per core over a file's chunks and merges them; the daemon's collectors
//! will run one per queue.
//!
//! **A flow that nothing can attribute is only counted**: with no MACs, no names, no
//! indicators and neither address in an AS of concern (the concern filter's first level),
//! it skips the attribution batch.

use super::aggregate::{Aggregator, Internal};
use super::attrib::Attributor;

use crate::indicators::Matcher;
use crate::metrics::Counters;
use cordon_wire::{Anomaly, Flow, Observation, Sink};
use std::net::IpAddr;

/// Anomaly records kept per input (all are counted).
pub const MAX_ANOMALY_RECORDS: usize = 100;

/// Flows attributed together: their table lookups are issued back to back first, so the
/// memory accesses overlap instead of waiting one after another (BENCHMARKS.md).
pub const FLOW_BATCH: usize = 128;

/// What a [`Worker`] has gathered, without the borrows it judges by.
pub struct Gathered {
    pub agg: Aggregator,
    pub matcher: Option<Matcher>,
    pub counters: Counters,
    pub anomalies: Vec<Anomaly>,
    flows_only: bool,
}

/// Attributes flows as they are decoded; keeps devices and the first anomalies.
pub struct Worker<'a> {
    pub attr: Attributor<'a>,
    pub agg: Aggregator,
    pub internal: &'a Internal,
    pub anomalies: Vec<Anomaly>,
    pub matcher: Option<Matcher>,
    pub batch: Vec<Flow>,
    /// A second pass: everything but flows was taken in the first.
    pub flows_only: bool,
    pub counters: Counters,
}

impl<'a> Worker<'a> {
    /// A worker judging by `intel` and `names`; `flows_only` for a second pass.
    pub fn new(
        intel: &'a cordon_index::Intel,
        names: &'a super::names::NameIndex,
        internal: &'a Internal,
        matcher: Option<Matcher>,
        flows_only: bool,
    ) -> Worker<'a> {
        Worker {
            attr: Attributor::new(intel, names),
            agg: Aggregator::default(),
            internal,
            anomalies: Vec::new(),
            matcher,
            batch: Vec::with_capacity(FLOW_BATCH),
            flows_only,
            counters: Counters::default(),
        }
    }

    /// Attributes the buffered flows, then gives up the names and intel this worker
    /// borrows, keeping what it has gathered: the daemon adds a tick's names to its index
    /// after the flows taken earlier in the tick, and goes on with [`Worker::resume`].
    pub fn suspend(mut self) -> Gathered {
        self.flush();
        Gathered {
            agg: self.agg,
            matcher: self.matcher,
            counters: self.counters,
            anomalies: self.anomalies,
            flows_only: self.flows_only,
        }
    }

    /// A worker that goes on from `gathered` with (possibly changed) names.
    pub fn resume(
        intel: &'a cordon_index::Intel,
        names: &'a super::names::NameIndex,
        internal: &'a Internal,
        gathered: Gathered,
    ) -> Worker<'a> {
        Worker {
            attr: Attributor::new(intel, names),
            agg: gathered.agg,
            internal,
            anomalies: gathered.anomalies,
            matcher: gathered.matcher,
            batch: Vec::with_capacity(FLOW_BATCH),
            flows_only: gathered.flows_only,
            counters: gathered.counters,
        }
    }

    /// Attributes the buffered flows. Call before reading `agg`.
    pub fn flush(&mut self) {
        let ips = || self.batch.iter().flat_map(|f| [f.src, f.dst]);
        self.attr.warm(ips());
        if let Some(m) = &self.matcher {
            m.warm(ips());
        }
        let internal = self.internal;
        let n = self.batch.len() as u64;
        self.counters.flows_attributed += n;
        if self.flows_only {
            self.counters.flows_second_pass += n;
        }
        for f in self.batch.drain(..) {
            self.agg.flow(&f, &mut self.attr, internal);
            if let Some(m) = self.matcher.as_mut() {
                let obs = Observation::Flow(f);
                m.observe(&obs, &|ip| internal.contains(ip));
            }
        }
    }
}

impl Sink for Worker<'_> {
    fn observe(&mut self, obs: Observation) {
        if self.flows_only && !matches!(obs, Observation::Flow(_)) {
            return;
        }
        if let (Some(m), false) = (self.matcher.as_mut(), matches!(obs, Observation::Flow(_))) {
            let internal = self.internal;
            m.observe(&obs, &|ip| internal.contains(ip));
        }
        match obs {
            Observation::Flow(f) => {
                // Most flows of a big log touch nothing of concern: without MACs (devices)
                // and with neither end attributable or matchable, a flow is only counted,
                // so it skips the batch. (The decoder asked `wants_detail` for the same
                // addresses just before, so the filter's words are in cache.)
                if f.src_mac.is_none() && f.dst_mac.is_none() && !self.wants_detail(f.src, f.dst) {
                    self.agg.count(&f);
                    self.counters.flows_counted_only += 1;
                    if self.flows_only {
                        self.counters.flows_second_pass += 1;
                    }
                    return;
                }
                self.batch.push(f);
                if self.batch.len() >= FLOW_BATCH {
                    self.flush();
                }
            }
            other => device_from(&mut self.agg, &other),
        }
    }
    fn anomaly(&mut self, a: Anomaly) {
        if self.anomalies.len() < MAX_ANOMALY_RECORDS {
            self.anomalies.push(a);
        }
    }
    /// Ports and packets matter only to a flow that can be attributed or matched: with no
    /// names and no indicators, only an AS of concern attributes, and the first level of
    /// the concern filter rules most addresses out (a flow of neither is only counted).
    /// The second level is left to the batch, which reads it and the table for many flows
    /// at once: read here, it was one wait on memory per flow that passed the first.
    fn wants_detail(&mut self, src: IpAddr, dst: IpAddr) -> bool {
        let may = |ip: IpAddr| match ip {
            IpAddr::V4(a) => self.attr.intel().may_be_of_concern_v4_16(u32::from(a)),
            IpAddr::V6(_) => true,
        };
        self.matcher.is_some() || !self.attr.names().is_empty() || may(src) || may(dst)
    }
}

/// Devices from DHCP and host observations.
pub fn device_from(agg: &mut Aggregator, obs: &Observation) {
    match obs {
        Observation::Dhcp(d) => agg.device(
            d.mac,
            d.ip,
            d.host_name.as_deref(),
            d.vendor_class.as_deref(),
            d.ts,
            d.ts,
            "dhcp",
        ),
        Observation::Host(h) => agg.device(h.mac, h.ip, None, None, h.ts, h.ts, "ethernet"),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::intel::load::{load, Source};
    use crate::scan::names::NameIndex;
    use cordon_wire::{IpProto, Mac};

    /// The streamer only counts flows that nothing can attribute; the aggregate must be the
    /// one that attributing every flow gives: flows, times, exposures and devices.
    #[test]
    fn counted_flows_aggregate_like_attributed_ones() {
        let intel = load(&Source::Bundled, None).unwrap().intel;
        let names = NameIndex::default();
        let internal = Internal::default_ranges();
        let mut s = Worker::new(&intel, &names, &internal, None, false);
        let mut direct = Aggregator::default();
        let mut attr = Attributor::new(&intel, &names);
        let mut x = 0x2545_f491_4f6c_dd1du64;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let (mut counted, mut of_concern) = (0, 0);
        for i in 0..20_000i64 {
            let r = next();
            let remote: IpAddr = match r % 8 {
                // Alibaba Cloud, and addresses of no concern, and IPv6.
                0 => format!("47.88.{}.{}", (r >> 8) as u8, (r >> 16) as u8)
                    .parse()
                    .unwrap(),
                1 => format!("2001:db8::{:x}", r >> 48).parse().unwrap(),
                2 => format!("10.9.{}.{}", (r >> 8) as u8, (r >> 16) as u8)
                    .parse()
                    .unwrap(),
                _ => IpAddr::from(((r >> 24) as u32).to_be_bytes()),
            };
            let asset: IpAddr = format!("10.0.0.{}", (r >> 40) as u8).parse().unwrap();
            let mac = (r % 5 == 0).then_some(Mac([0x00, 0x1b, 0x21, 1, 2, (r >> 40) as u8]));
            let (src, dst) = if r % 3 == 0 {
                (remote, asset)
            } else {
                (asset, remote)
            };
            let f = Flow {
                first: if r % 50 == 0 {
                    0
                } else {
                    1_700_000_000_000_000 + i * 1000
                },
                last: 1_700_000_000_000_000 + i * 1000 + (r % 7_000_000) as i64,
                src,
                dst,
                sport: 40000,
                dport: 443,
                proto: IpProto::TCP,
                bytes_out: r % 10_000,
                packets_out: 3,
                bytes_in: (r >> 20) % 10_000,
                packets_in: 2,
                src_mac: mac,
                dst_mac: None,
                uid: None,
                sampling: 1,
            };
            if mac.is_none() && !s.wants_detail(src, dst) {
                counted += 1;
            }
            if attr.remote(remote, None).is_some() {
                of_concern += 1;
            }
            direct.flow(&f, &mut attr, &internal);
            s.observe(Observation::Flow(f));
        }
        s.flush();
        assert!(
            counted > 10_000 && of_concern > 1000,
            "{counted} {of_concern}"
        );
        let got = s.agg;
        assert_eq!(
            (got.flows, got.first, got.last),
            (direct.flows, direct.first, direct.last)
        );
        assert_eq!(got.exposures.len(), direct.exposures.len());
        for (k, e) in direct.exposures.iter() {
            let g = got
                .exposures
                .iter()
                .find(|(gk, _)| *gk == k)
                .map(|(_, g)| g);
            let g = g.unwrap_or_else(|| panic!("exposure {k:?} missing"));
            assert_eq!(
                (
                    g.flows,
                    g.bytes_out,
                    g.bytes_in,
                    g.first,
                    g.last,
                    &g.remotes
                ),
                (
                    e.flows,
                    e.bytes_out,
                    e.bytes_in,
                    e.first,
                    e.last,
                    &e.remotes
                )
            );
        }
        let devices = |a: &Aggregator| {
            let mut d: Vec<_> = a.devices.iter().map(|(m, d)| (*m, d.ip, d.first)).collect();
            d.sort();
            d
        };
        assert!(!direct.devices.is_empty());
        assert_eq!(devices(&got), devices(&direct));
    }
}
