//! Bidirectional flow assembly for packet captures.
//!
//! Packets are keyed on the normalised 5-tuple (the lower address/port pair first), so both
//! directions land in one [`Flow`]. `src` is the sender of the first packet seen, except when
//! the caller marks that packet as a reply (a TCP SYN-ACK, or a datagram from a well-known
//! server port): then its receiver is `src`, the side that opened the conversation.
//! Each flow also carries a caller-defined value `T` (the capture decoder keeps its per-stream
//! inspection state there).
//!
//! **The table never holds more than its cap ([`MAX_FLOWS`] by default). When a new flow would
//! exceed it, the quarter of flows idle the longest are emitted early, so counts are split
//! across two records but never lost.**

use crate::obs::{Flow, IpProto, Mac, Micros, Observation, Sink};
use std::collections::HashMap;
use std::net::IpAddr;

/// Most flows held at once by a capture decoder.
pub const MAX_FLOWS: usize = 1 << 20;

/// The normalised 5-tuple: `(lo, lo_port) <= (hi, hi_port)`; IPv4 is held as v4-mapped IPv6.
#[derive(Copy, Clone, PartialEq, Eq, Hash, Debug, PartialOrd, Ord)]
pub struct FlowKey {
    lo: [u8; 16],
    hi: [u8; 16],
    lo_port: u16,
    hi_port: u16,
    proto: u8,
}

pub(crate) fn ip16(a: IpAddr) -> [u8; 16] {
    match a {
        IpAddr::V4(v4) => v4.to_ipv6_mapped().octets(),
        IpAddr::V6(v6) => v6.octets(),
    }
}

impl FlowKey {
    /// The key for a packet from `(src, sport)` to `(dst, dport)`.
    pub fn new(src: IpAddr, dst: IpAddr, sport: u16, dport: u16, proto: IpProto) -> FlowKey {
        let (a, b) = (ip16(src), ip16(dst));
        if (a, sport) <= (b, dport) {
            FlowKey {
                lo: a,
                hi: b,
                lo_port: sport,
                hi_port: dport,
                proto: proto.0,
            }
        } else {
            FlowKey {
                lo: b,
                hi: a,
                lo_port: dport,
                hi_port: sport,
                proto: proto.0,
            }
        }
    }
}

/// One packet as the flow table sees it.
#[derive(Copy, Clone, Debug)]
pub struct PacketInfo {
    pub ts: Micros,
    pub src: IpAddr,
    pub dst: IpAddr,
    pub sport: u16,
    pub dport: u16,
    pub proto: IpProto,
    /// IP length (or captured length) of the packet.
    pub bytes: u64,
    pub src_mac: Option<Mac>,
    pub dst_mac: Option<Mac>,
    /// The packet answers an opening (TCP SYN-ACK): if it starts a flow, its receiver is `src`.
    pub reply: bool,
    /// For ICMP: the request type this message belongs to (echo reply → echo request), so a
    /// request and its reply share a flow; `sport`/`dport` then hold the type and code.
    pub icmp_type: Option<u8>,
}

/// A flow and the caller's state for it.
#[derive(Debug)]
pub struct Entry<T> {
    pub flow: Flow,
    pub extra: T,
}

/// What [`FlowTable::update`] did.
pub struct Update<'a, T> {
    pub entry: &'a mut Entry<T>,
    /// The packet went from the flow's `src` to its `dst`.
    pub forward: bool,
    /// The packet started the flow.
    pub new: bool,
    /// Flows emitted early to stay under the cap (0 almost always).
    pub evicted: usize,
}

/// The table of open flows.
pub struct FlowTable<T> {
    map: HashMap<FlowKey, Entry<T>, foldhash::fast::RandomState>,
    max: usize,
}

impl<T: Default> FlowTable<T> {
    /// A table holding at most `max` flows (at least 4).
    pub fn new(max: usize) -> FlowTable<T> {
        FlowTable {
            map: HashMap::default(),
            max: max.max(4),
        }
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Counts one packet: finds or creates its flow.
    pub fn update(&mut self, p: &PacketInfo, sink: &mut dyn Sink) -> Update<'_, T> {
        let key = match p.icmp_type {
            Some(t) => FlowKey::new(p.src, p.dst, u16::from(t), u16::from(t), p.proto),
            None => FlowKey::new(p.src, p.dst, p.sport, p.dport, p.proto),
        };
        let mut evicted = 0;
        if self.map.len() >= self.max && !self.map.contains_key(&key) {
            evicted = self.evict(sink);
        }
        let mut new = false;
        let entry = self.map.entry(key).or_insert_with(|| {
            new = true;
            let (src, dst, sport, dport, src_mac, dst_mac) = if p.reply {
                (p.dst, p.src, p.dport, p.sport, p.dst_mac, p.src_mac)
            } else {
                (p.src, p.dst, p.sport, p.dport, p.src_mac, p.dst_mac)
            };
            Entry {
                flow: Flow {
                    first: p.ts,
                    last: p.ts,
                    src,
                    dst,
                    sport,
                    dport,
                    proto: p.proto,
                    bytes_out: 0,
                    packets_out: 0,
                    bytes_in: 0,
                    packets_in: 0,
                    src_mac,
                    dst_mac,
                    uid: None,
                    sampling: 1,
                },
                extra: T::default(),
            }
        });
        let f = &mut entry.flow;
        let forward = f.src == p.src && (p.icmp_type.is_some() || f.sport == p.sport);
        if forward {
            f.bytes_out += p.bytes;
            f.packets_out += 1;
            if f.src_mac.is_none() {
                f.src_mac = p.src_mac;
            }
            if f.dst_mac.is_none() {
                f.dst_mac = p.dst_mac;
            }
        } else {
            f.bytes_in += p.bytes;
            f.packets_in += 1;
            if f.src_mac.is_none() {
                f.src_mac = p.dst_mac;
            }
            if f.dst_mac.is_none() {
                f.dst_mac = p.src_mac;
            }
        }
        // Captures are not always in time order: keep the span.
        f.first = f.first.min(p.ts);
        f.last = f.last.max(p.ts);
        Update {
            entry,
            forward,
            new,
            evicted,
        }
    }

    /// Emits the quarter of flows idle the longest.
    fn evict(&mut self, sink: &mut dyn Sink) -> usize {
        let mut ages: Vec<(Micros, FlowKey)> =
            self.map.iter().map(|(k, e)| (e.flow.last, *k)).collect();
        let n = (ages.len() / 4).max(1);
        ages.select_nth_unstable(n - 1);
        ages.truncate(n);
        ages.sort_unstable();
        for (_, k) in ages {
            if let Some(e) = self.map.remove(&k) {
                sink.observe(Observation::Flow(e.flow));
            }
        }
        n
    }

    /// Emits every flow, oldest first, and empties the table. Returns how many.
    pub fn finish(&mut self, sink: &mut dyn Sink) -> usize {
        let mut all: Vec<(FlowKey, Entry<T>)> = self.map.drain().collect();
        all.sort_unstable_by_key(|a| (a.1.flow.first, a.0));
        let n = all.len();
        for (_, e) in all {
            sink.observe(Observation::Flow(e.flow));
        }
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::obs::VecSink;

    fn pkt(
        ts: Micros,
        src: &str,
        sport: u16,
        dst: &str,
        dport: u16,
        bytes: u64,
        reply: bool,
    ) -> PacketInfo {
        PacketInfo {
            ts,
            src: src.parse().unwrap(),
            dst: dst.parse().unwrap(),
            sport,
            dport,
            proto: IpProto::TCP,
            bytes,
            src_mac: None,
            dst_mac: None,
            reply,
            icmp_type: None,
        }
    }

    #[test]
    fn both_directions_one_flow() {
        let mut t: FlowTable<()> = FlowTable::new(16);
        let mut s = VecSink::default();
        t.update(
            &pkt(5, "10.0.0.2", 4000, "192.0.2.1", 443, 60, false),
            &mut s,
        );
        t.update(
            &pkt(7, "192.0.2.1", 443, "10.0.0.2", 4000, 1500, false),
            &mut s,
        );
        t.update(
            &pkt(3, "10.0.0.2", 4000, "192.0.2.1", 443, 40, false),
            &mut s,
        );
        assert_eq!(t.finish(&mut s), 1);
        let Observation::Flow(f) = &s.observations[0] else {
            panic!()
        };
        assert_eq!(
            (f.src.to_string().as_str(), f.sport, f.dport),
            ("10.0.0.2", 4000, 443)
        );
        assert_eq!(
            (f.bytes_out, f.packets_out, f.bytes_in, f.packets_in),
            (100, 2, 1500, 1)
        );
        assert_eq!((f.first, f.last), (3, 7));
    }

    #[test]
    fn syn_ack_first_names_the_opener() {
        let mut t: FlowTable<()> = FlowTable::new(16);
        let mut s = VecSink::default();
        t.update(&pkt(1, "192.0.2.1", 80, "10.0.0.2", 5000, 60, true), &mut s);
        t.update(
            &pkt(2, "10.0.0.2", 5000, "192.0.2.1", 80, 40, false),
            &mut s,
        );
        t.finish(&mut s);
        let Observation::Flow(f) = &s.observations[0] else {
            panic!()
        };
        assert_eq!((f.src.to_string().as_str(), f.dport), ("10.0.0.2", 80));
        assert_eq!((f.packets_out, f.packets_in), (1, 1));
    }

    #[test]
    fn cap_evicts_oldest_without_losing_counts() {
        let mut t: FlowTable<()> = FlowTable::new(8);
        let mut s = VecSink::default();
        let mut evicted = 0;
        for i in 0..20u16 {
            evicted += t
                .update(
                    &pkt(
                        i64::from(i),
                        "10.0.0.1",
                        1000 + i,
                        "10.0.0.2",
                        80,
                        10,
                        false,
                    ),
                    &mut s,
                )
                .evicted;
        }
        assert!(t.len() <= 8);
        assert!(evicted > 0);
        t.finish(&mut s);
        let total: u64 = s
            .observations
            .iter()
            .map(|o| match o {
                Observation::Flow(f) => f.bytes_out,
                _ => 0,
            })
            .sum();
        assert_eq!(total, 200);
        assert_eq!(s.observations.len(), 20);
        // The first emitted are the oldest.
        let Observation::Flow(f) = &s.observations[0] else {
            panic!()
        };
        assert_eq!(f.sport, 1000);
    }
}
