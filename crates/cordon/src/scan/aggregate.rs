//! Aggregate: flows into exposures per (asset, company, relationship), MACs into devices.
//!
//! **Memory grows with the number of exposures and devices, not with the input**: a flow
//! either adds to an existing exposure, starts one, or is only counted. Lists kept per
//! exposure are capped (names 20, remotes 10, ports 20). Aggregators are built per worker
//! and merged.

use super::attrib::{Attributor, RemoteMatch};
use crate::model::Evidence;
use cordon_index::{EntityId, Relationship};
use cordon_wire::{Flow, Mac, Micros};
use foldhash::HashMap;
use ipnet::IpNet;
use smallvec::SmallVec;
use std::net::IpAddr;
use std::sync::Arc;

pub const MAX_NAMES: usize = 20;
pub const MAX_REMOTES: usize = 10;
pub const MAX_PORTS: usize = 20;

/// Which addresses are the organisation's own.
#[derive(Clone, Debug)]
pub struct Internal {
    /// IPv4 ranges as (network, mask), IPv6 likewise: one AND and compare per range.
    v4: Vec<(u32, u32)>,
    v6: Vec<(u128, u128)>,
}

impl Internal {
    /// Private, CGNAT, unique-local and link-local ranges.
    pub fn default_ranges() -> Internal {
        let nets = [
            "10.0.0.0/8",
            "172.16.0.0/12",
            "192.168.0.0/16",
            "100.64.0.0/10",
            "169.254.0.0/16",
            "fc00::/7",
            "fe80::/10",
        ];
        Internal::new(
            nets.iter()
                .map(|n| n.parse().expect("valid built-in range"))
                .collect(),
        )
    }

    pub fn new(nets: Vec<IpNet>) -> Internal {
        let mut v4 = Vec::new();
        let mut v6 = Vec::new();
        for n in nets {
            match n {
                IpNet::V4(n) => v4.push((u32::from(n.network()), u32::from(n.netmask()))),
                IpNet::V6(n) => v6.push((u128::from(n.network()), u128::from(n.netmask()))),
            }
        }
        Internal { v4, v6 }
    }

    #[inline]
    pub fn contains(&self, ip: IpAddr) -> bool {
        match ip.to_canonical() {
            IpAddr::V4(a) => {
                let a = u32::from(a);
                self.v4.iter().any(|&(n, m)| a & m == n)
            }
            IpAddr::V6(a) => {
                let a = u128::from(a);
                self.v6.iter().any(|&(n, m)| a & m == n)
            }
        }
    }
}

#[derive(Clone, Debug)]
pub struct ExposureAgg {
    pub flows: u64,
    pub bytes_out: u64,
    pub bytes_in: u64,
    pub first: Micros,
    pub last: Micros,
    pub confidence: f32,
    /// The lists are inline while short: most exposures of a big scan have one remote, one
    /// port and no name, and a heap allocation each was a fifth of the memory of 166 k
    /// exposures.
    pub names: SmallVec<[Arc<str>; 1]>,
    pub remotes: SmallVec<[IpAddr; 1]>,
    pub ports: SmallVec<[u16; 4]>,
    pub services: SmallVec<[Arc<str>; 1]>,
    pub evidence: Arc<Vec<Evidence>>,
    /// The remote the evidence is about: for an AS-only match the output adds its address
    /// and prefix.
    pub evidence_remote: IpAddr,
    /// The evidence rests on the AS of `evidence_remote`.
    pub by_address: bool,
}

/// Adds `v` to a sorted list that keeps the `cap` smallest distinct values: the result does
/// not depend on the order values arrive in, so merging workers' aggregates in any order
/// gives the same output.
fn add_capped<A: smallvec::Array>(list: &mut SmallVec<A>, v: &A::Item, cap: usize)
where
    A::Item: Ord + Clone,
{
    if let Err(i) = list.binary_search(v) {
        if i < cap {
            list.insert(i, v.clone());
            list.truncate(cap);
        }
    }
}

impl ExposureAgg {
    fn merge(&mut self, o: &ExposureAgg) {
        self.flows += o.flows;
        self.bytes_out = self.bytes_out.saturating_add(o.bytes_out);
        self.bytes_in = self.bytes_in.saturating_add(o.bytes_in);
        self.first = self.first.min(o.first);
        self.last = self.last.max(o.last);
        // The strongest evidence wins; between equals, the one about the smaller address.
        if (o.confidence, std::cmp::Reverse(o.evidence_remote))
            > (self.confidence, std::cmp::Reverse(self.evidence_remote))
        {
            self.confidence = o.confidence;
            self.evidence = o.evidence.clone();
            self.evidence_remote = o.evidence_remote;
            self.by_address = o.by_address;
        }
        for n in &o.names {
            add_capped(&mut self.names, n, MAX_NAMES);
        }
        for r in &o.remotes {
            add_capped(&mut self.remotes, r, MAX_REMOTES);
        }
        for p in &o.ports {
            add_capped(&mut self.ports, p, MAX_PORTS);
        }
        for s in &o.services {
            add_capped(&mut self.services, s, 8);
        }
    }
}

/// A MAC address seen on the network.
#[derive(Clone, Debug, Default)]
pub struct DeviceAgg {
    pub ip: Option<IpAddr>,
    pub host_name: Option<String>,
    pub vendor_class: Option<String>,
    pub first: Micros,
    pub last: Micros,
    /// How it was seen: `ethernet`, `dhcp`, `zeek conn`, ...
    pub seen_by: Vec<&'static str>,
}

pub type ExposureKey = (IpAddr, EntityId, Relationship);

/// Exposures per segment of [`Exposures`]: 4096 × ~200 bytes, under a megabyte.
const SEG_BITS: u32 = 12;
const SEG: usize = 1 << SEG_BITS;

/// The exposures of a scan: a hash index of small entries into segments of aggregates.
///
/// A hash map of the aggregates themselves copied every entry into fresh memory at each
/// doubling, and so did one growing array; with 166 k exposures the page faults of that
/// churn cost more than the aggregation. Segments never move: memory is touched once, and a
/// merge adopts the other table's segments instead of copying its entries. The report reads
/// them in sequence.
#[derive(Clone, Default)]
pub struct Exposures {
    /// Where each exposure is: `segment << SEG_BITS | slot`.
    index: HashMap<ExposureKey, u32>,
    /// Live entries; a merge leaves the ones it folded into another as `None`.
    segs: Vec<Vec<Option<(ExposureKey, ExposureAgg)>>>,
    len: usize,
}

impl Exposures {
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Every exposure, in the order they were first seen (merges append).
    pub fn iter(&self) -> impl Iterator<Item = (&ExposureKey, &ExposureAgg)> {
        self.segs.iter().flatten().flatten().map(|(k, v)| (k, v))
    }

    /// Every exposure, on every core (segments in parallel).
    pub fn par_iter(
        &self,
    ) -> impl rayon::iter::ParallelIterator<Item = (&ExposureKey, &ExposureAgg)> {
        use rayon::prelude::*;
        self.segs
            .par_iter()
            .flat_map_iter(|s| s.iter().flatten().map(|(k, v)| (k, v)))
    }

    pub fn values(&self) -> impl Iterator<Item = &ExposureAgg> {
        self.iter().map(|(_, v)| v)
    }

    fn at(&mut self, i: u32) -> Option<&mut (ExposureKey, ExposureAgg)> {
        let seg = self.segs.get_mut((i >> SEG_BITS) as usize)?;
        seg.get_mut(i as usize & (SEG - 1))?.as_mut()
    }

    /// Appends an entry that is not in the index yet and indexes it.
    fn push(&mut self, k: ExposureKey, v: ExposureAgg) -> u32 {
        if self.segs.last().is_none_or(|s| s.len() == SEG) {
            self.segs.push(Vec::with_capacity(SEG));
        }
        let seg = self.segs.len() - 1;
        let last = &mut self.segs[seg];
        let i = (seg as u32) << SEG_BITS | last.len() as u32;
        last.push(Some((k, v)));
        self.index.insert(k, i);
        self.len += 1;
        i
    }

    /// The aggregate of `k`, made by `new` when there is none yet.
    #[inline]
    pub fn get_or_insert_with(
        &mut self,
        k: ExposureKey,
        new: impl FnOnce() -> ExposureAgg,
    ) -> &mut ExposureAgg {
        let i = match self.index.get(&k) {
            Some(&i) => i,
            None => self.push(k, new()),
        };
        // Every indexed position holds a live entry.
        &mut self.at(i).expect("indexed exposure").1
    }

    /// Adds `o`'s exposures: one this table has merges into it, the others stay where they
    /// are and their segments move over.
    fn merge(&mut self, mut o: Exposures) {
        self.index.reserve(o.len());
        let base = self.segs.len() as u32;
        for (si, seg) in o.segs.iter_mut().enumerate() {
            for (slot, e) in seg.iter_mut().enumerate() {
                let Some((k, v)) = e else { continue };
                match self.index.get(k) {
                    Some(&i) => {
                        if let Some((_, mine)) = self.at(i) {
                            mine.merge(v);
                        }
                        *e = None;
                    }
                    None => {
                        let i = (base + si as u32) << SEG_BITS | slot as u32;
                        self.index.insert(*k, i);
                        self.len += 1;
                    }
                }
            }
        }
        // Segments keep their places: the index encodes them, and pushes go to the last
        // one while it has room (every segment is allocated for SEG entries).
        self.segs.append(&mut o.segs);
    }
}

#[derive(Default)]
pub struct Aggregator {
    pub exposures: Exposures,
    pub devices: HashMap<Mac, DeviceAgg>,
    /// Flows seen, and flows between two internal or two external endpoints with no
    /// attribution (counted, not kept).
    pub flows: u64,
    pub first: Option<Micros>,
    pub last: Option<Micros>,
}

impl Aggregator {
    /// Attributes one flow and adds it to the exposures it belongs to.
    #[inline]
    pub fn flow(&mut self, f: &Flow, attr: &mut Attributor<'_>, internal: &Internal) {
        self.count(f);
        let (si, di) = (internal.contains(f.src), internal.contains(f.dst));
        if si && di {
            self.flow_macs(f, si, di);
            return;
        }
        let uid = f.uid.as_deref();
        // The asset is the internal side; with neither internal, the side not attributed.
        let (asset, remote, out, inn, port, matches) = if si {
            let Some(m) = attr.remote(f.dst, uid) else {
                return self.flow_macs(f, si, di);
            };
            (f.src, f.dst, f.bytes_out, f.bytes_in, f.dport, m)
        } else if di {
            let Some(m) = attr.remote(f.src, uid) else {
                return self.flow_macs(f, si, di);
            };
            (f.dst, f.src, f.bytes_in, f.bytes_out, f.sport, m)
        } else if let Some(m) = attr.remote(f.dst, uid) {
            (f.src, f.dst, f.bytes_out, f.bytes_in, f.dport, m)
        } else if let Some(m) = attr.remote(f.src, uid) {
            (f.dst, f.src, f.bytes_in, f.bytes_out, f.sport, m)
        } else {
            return;
        };
        self.flow_macs(f, si, di);
        let scale = u64::from(f.sampling.max(1));
        for m in matches.iter() {
            self.add(
                asset,
                remote,
                port,
                f,
                out.saturating_mul(scale),
                inn.saturating_mul(scale),
                m,
            );
        }
    }

    /// Counts a flow and its times, and nothing else: all that [`Aggregator::flow`] does
    /// with a flow without MACs that neither end can attribute.
    #[inline]
    pub fn count(&mut self, f: &Flow) {
        self.flows += 1;
        if f.first > 0 {
            self.first = Some(self.first.map_or(f.first, |x| x.min(f.first)));
            self.last = Some(self.last.map_or(f.last, |x| x.max(f.last)));
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn add(
        &mut self,
        asset: IpAddr,
        remote: IpAddr,
        port: u16,
        f: &Flow,
        out: u64,
        inn: u64,
        m: &RemoteMatch,
    ) {
        let key = (asset.to_canonical(), m.entity, m.relationship);
        let e = self.exposures.get_or_insert_with(key, || ExposureAgg {
            flows: 0,
            bytes_out: 0,
            bytes_in: 0,
            first: f.first,
            last: f.last,
            confidence: m.confidence,
            names: SmallVec::new(),
            remotes: SmallVec::new(),
            ports: SmallVec::new(),
            services: SmallVec::new(),
            evidence: m.evidence.clone(),
            evidence_remote: remote.to_canonical(),
            by_address: m.by_address,
        });
        e.flows += 1;
        e.bytes_out = e.bytes_out.saturating_add(out);
        e.bytes_in = e.bytes_in.saturating_add(inn);
        e.first = e.first.min(f.first);
        e.last = e.last.max(f.last);
        let r = remote.to_canonical();
        if (m.confidence, std::cmp::Reverse(r))
            > (e.confidence, std::cmp::Reverse(e.evidence_remote))
        {
            e.confidence = m.confidence;
            e.evidence = m.evidence.clone();
            e.evidence_remote = r;
            e.by_address = m.by_address;
        }
        for n in &m.names {
            add_capped(&mut e.names, n, MAX_NAMES);
        }
        add_capped(&mut e.remotes, &remote.to_canonical(), MAX_REMOTES);
        if port != 0 {
            add_capped(&mut e.ports, &port, MAX_PORTS);
        }
        if let Some(s) = &m.service {
            add_capped(&mut e.services, s, 8);
        }
    }

    /// MACs carried by a flow (Zeek `orig_l2_addr`, NetFlow MAC fields) for its internal
    /// endpoints.
    fn flow_macs(&mut self, f: &Flow, si: bool, di: bool) {
        if let (Some(m), true) = (f.src_mac, si) {
            self.device(m, Some(f.src), None, None, f.first, f.last, "flow");
        }
        if let (Some(m), true) = (f.dst_mac, di) {
            self.device(m, Some(f.dst), None, None, f.first, f.last, "flow");
        }
    }

    #[allow(clippy::too_many_arguments)]
    pub fn device(
        &mut self,
        mac: Mac,
        ip: Option<IpAddr>,
        host_name: Option<&str>,
        vendor_class: Option<&str>,
        first: Micros,
        last: Micros,
        seen_by: &'static str,
    ) {
        if mac.is_zero() || mac.is_multicast() {
            return;
        }
        let d = self.devices.entry(mac).or_insert_with(|| DeviceAgg {
            first,
            last,
            ..Default::default()
        });
        if ip.is_some() && last >= d.last {
            d.ip = ip;
        }
        if let Some(h) = host_name.filter(|h| !h.is_empty()) {
            d.host_name = Some(h.to_string());
        }
        if let Some(v) = vendor_class.filter(|v| !v.is_empty()) {
            d.vendor_class = Some(v.to_string());
        }
        d.first = d.first.min(first);
        d.last = d.last.max(last);
        if !d.seen_by.contains(&seen_by) {
            d.seen_by.push(seen_by);
        }
    }

    pub fn merge(&mut self, mut o: Aggregator) {
        // The smaller map is folded into the larger: merging into an empty aggregator moves
        // the other's table instead of re-inserting every exposure (the result does not
        // depend on the order, see `ExposureAgg::merge`).
        if o.exposures.len() > self.exposures.len() {
            std::mem::swap(&mut self.exposures, &mut o.exposures);
        }
        self.flows += o.flows;
        self.first = match (self.first, o.first) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        self.last = match (self.last, o.last) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        self.exposures.merge(std::mem::take(&mut o.exposures));
        for (mac, d) in o.devices {
            let seen = d.seen_by.clone();
            for s in seen {
                self.device(
                    mac,
                    d.ip,
                    d.host_name.as_deref(),
                    d.vendor_class.as_deref(),
                    d.first,
                    d.last,
                    s,
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::intel::load::{load, Source};
    use crate::scan::names::NameIndex;

    fn flow(src: &str, dst: &str, t: i64) -> Flow {
        Flow {
            first: t,
            last: t + 1,
            src: src.parse().unwrap(),
            dst: dst.parse().unwrap(),
            sport: 40000,
            dport: 443,
            proto: cordon_wire::IpProto::TCP,
            bytes_out: 100,
            packets_out: 1,
            bytes_in: 200,
            packets_in: 1,
            src_mac: None,
            dst_mac: None,
            uid: None,
            sampling: 1,
        }
    }

    /// Workers' aggregates merge to the same exposures in any order: the output of a scan
    /// does not depend on how its input was split across threads.
    #[test]
    fn merging_is_order_independent() {
        let intel = load(&Source::Bundled, None).unwrap().intel;
        let names = NameIndex::default();
        let internal = Internal::default_ranges();
        // Fifteen Alibaba Cloud addresses (more than MAX_REMOTES), split over two workers.
        let remotes: Vec<String> = (1..=15).map(|i| format!("47.88.{i}.1")).collect();
        let mut parts = [Aggregator::default(), Aggregator::default()];
        for (i, r) in remotes.iter().enumerate() {
            let mut attr = super::super::attrib::Attributor::new(&intel, &names);
            parts[i % 2].flow(&flow("10.0.0.1", r, i as i64), &mut attr, &internal);
        }
        let [a, b] = parts;
        let (a2, b2) = (a.exposures.clone(), b.exposures.clone());
        let mut ab = Aggregator::default();
        ab.merge(a);
        ab.merge(b);
        let mut ba = Aggregator::default();
        ba.merge(Aggregator {
            exposures: b2,
            ..Default::default()
        });
        ba.merge(Aggregator {
            exposures: a2,
            ..Default::default()
        });
        assert_eq!(ab.exposures.len(), 1);
        let (x, y) = (
            ab.exposures.values().next().unwrap(),
            ba.exposures.values().next().unwrap(),
        );
        assert_eq!(x.flows, 15);
        assert_eq!(x.remotes, y.remotes);
        assert_eq!(x.remotes.len(), MAX_REMOTES);
        assert_eq!(x.evidence_remote, y.evidence_remote);
        assert_eq!(x.evidence_remote, "47.88.1.1".parse::<IpAddr>().unwrap());
        assert_eq!(x.evidence, y.evidence);
    }

    #[test]
    fn internal_ranges() {
        let i = Internal::default_ranges();
        for a in [
            "10.1.2.3",
            "172.31.255.255",
            "192.168.0.1",
            "100.127.0.1",
            "169.254.1.1",
            "fd00::1",
            "fe80::1",
            "::ffff:10.0.0.1",
        ] {
            assert!(i.contains(a.parse().unwrap()), "{a}");
        }
        for a in [
            "11.0.0.1",
            "172.32.0.1",
            "100.128.0.1",
            "8.8.8.8",
            "2001:db8::1",
            "::ffff:8.8.8.8",
        ] {
            assert!(!i.contains(a.parse().unwrap()), "{a}");
        }
        let custom = Internal::new(vec!["198.51.100.0/24".parse().unwrap()]);
        assert!(custom.contains("198.51.100.7".parse().unwrap()));
        assert!(!custom.contains("10.0.0.1".parse().unwrap()));
    }
}
