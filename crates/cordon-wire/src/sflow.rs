//! sFlow v5 datagrams: flow samples whose raw packet header records become [`Flow`]s.
//!
//! Each sampled packet becomes one flow with `packets_out = 1`, `bytes_out` = the sampled
//! frame's length on the wire and `sampling` = the sample's rate (counters are not scaled).
//! sFlow carries no wall-clock time: flows are stamped 0 and the caller (which knows the
//! capture or receive time) should overwrite `first`/`last`. Counter samples, extended
//! records and non-Ethernet headers are skipped.
//!
//! Guarantees: **no panics, no allocation sized by the input**; every count is bounded by
//! the bytes present; a bad sample or record becomes an [`Anomaly`] at the datagram's offset
//! plus its position, and decoding goes on with the next sample.
//!
//! The small Ethernet/IPv4/IPv6/TCP/UDP header reader here ([`parse_frame`]) is also used by
//! the IPFIX decoder for dataLinkFrameSection (IE 315) samples.

use crate::obs::{Anomaly, AnomalyKind, DecodeStats, Flow, IpProto, Mac, Observation, Sink};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// sFlow datagram version this module decodes.
pub const SFLOW_VERSION: u32 = 5;
/// Most samples read from one datagram.
pub const MAX_SAMPLES: u32 = 1_024;
/// Most records read from one sample.
pub const MAX_RECORDS: u32 = 64;
/// Most VLAN tags / MPLS labels / IPv6 extension headers skipped in a sampled header.
pub const MAX_HEADER_HOPS: usize = 8;

/// sFlow sample type: enterprise (high 20 bits) and format (low 12 bits), enterprise 0.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub struct SampleType(pub u32);

impl SampleType {
    pub const FLOW_SAMPLE: SampleType = SampleType(1);
    pub const COUNTER_SAMPLE: SampleType = SampleType(2);
    pub const EXPANDED_FLOW_SAMPLE: SampleType = SampleType(3);
    pub const EXPANDED_COUNTER_SAMPLE: SampleType = SampleType(4);
}

/// sFlow flow record type (enterprise 0).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub struct FlowRecordType(pub u32);

impl FlowRecordType {
    pub const RAW_PACKET_HEADER: FlowRecordType = FlowRecordType(1);
}

/// Protocol of a raw packet header record.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub struct HeaderProtocol(pub u32);

impl HeaderProtocol {
    pub const ETHERNET: HeaderProtocol = HeaderProtocol(1);
}

/// EtherType (open registry).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub struct EtherType(pub u16);

impl EtherType {
    pub const IPV4: EtherType = EtherType(0x0800);
    pub const IPV6: EtherType = EtherType(0x86DD);
    pub const VLAN: EtherType = EtherType(0x8100);
    pub const QINQ: EtherType = EtherType(0x88A8);
    pub const MPLS: EtherType = EtherType(0x8847);
}

/// Flow keys read from the start of a sampled Ethernet frame.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct FrameInfo {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub sport: u16,
    pub dport: u16,
    pub proto: IpProto,
    pub src_mac: Option<Mac>,
    pub dst_mac: Option<Mac>,
}

fn be16(b: &[u8], at: usize) -> Option<u16> {
    b.get(at..at + 2).map(|s| u16::from_be_bytes([s[0], s[1]]))
}

fn be32(b: &[u8], at: usize) -> Option<u32> {
    b.get(at..at + 4)
        .map(|s| u32::from_be_bytes([s[0], s[1], s[2], s[3]]))
}

/// Reads MACs, addresses, protocol and ports from the start of an Ethernet frame (VLAN and
/// MPLS tags skipped). `None` when there is no IPv4/IPv6 header in the bytes given; ports
/// are 0 when the transport header is cut off or the packet is a later fragment.
pub fn parse_frame(frame: &[u8]) -> Option<FrameInfo> {
    let dst_mac = frame.get(0..6).and_then(|m| m.try_into().ok()).map(Mac);
    let src_mac = frame.get(6..12).and_then(|m| m.try_into().ok()).map(Mac);
    let mut ty = EtherType(be16(frame, 12)?);
    let mut pos = 14usize;
    let mut hops = 0;
    while ty == EtherType::VLAN || ty == EtherType::QINQ {
        hops += 1;
        if hops > MAX_HEADER_HOPS {
            return None;
        }
        ty = EtherType(be16(frame, pos + 2)?);
        pos += 4;
    }
    if ty == EtherType::MPLS {
        loop {
            hops += 1;
            if hops > MAX_HEADER_HOPS {
                return None;
            }
            let label = be32(frame, pos)?;
            pos += 4;
            if label & 0x100 != 0 {
                break;
            }
        }
        ty = match frame.get(pos)? >> 4 {
            4 => EtherType::IPV4,
            6 => EtherType::IPV6,
            _ => return None,
        };
    }
    let mut info = parse_ip(frame.get(pos..)?, ty)?;
    info.src_mac = src_mac;
    info.dst_mac = dst_mac;
    Some(info)
}

fn parse_ip(ip: &[u8], ty: EtherType) -> Option<FrameInfo> {
    let (src, dst, mut proto, l4, first_fragment) = match ty {
        EtherType::IPV4 => {
            let ihl = (*ip.first()? & 0x0F) as usize * 4;
            let src: [u8; 4] = ip.get(12..16)?.try_into().ok()?;
            let dst: [u8; 4] = ip.get(16..20)?.try_into().ok()?;
            let frag_off = be16(ip, 6)? & 0x1FFF;
            (
                IpAddr::V4(Ipv4Addr::from(src)),
                IpAddr::V4(Ipv4Addr::from(dst)),
                ip[9],
                ihl.max(20),
                frag_off == 0,
            )
        }
        EtherType::IPV6 => {
            let src: [u8; 16] = ip.get(8..24)?.try_into().ok()?;
            let dst: [u8; 16] = ip.get(24..40)?.try_into().ok()?;
            (
                IpAddr::V6(Ipv6Addr::from(src)),
                IpAddr::V6(Ipv6Addr::from(dst)),
                ip[6],
                40,
                true,
            )
        }
        _ => return None,
    };
    let mut pos = l4;
    let mut first_fragment = first_fragment;
    if ty == EtherType::IPV6 {
        // Hop-by-hop, routing, fragment and destination options headers.
        for _ in 0..MAX_HEADER_HOPS {
            match proto {
                0 | 43 | 60 => {
                    let next = *ip.get(pos).unwrap_or(&59);
                    let len = (*ip.get(pos + 1).unwrap_or(&0) as usize + 1) * 8;
                    proto = next;
                    pos += len;
                }
                44 => {
                    let next = *ip.get(pos).unwrap_or(&59);
                    first_fragment = be16(ip, pos + 2).is_some_and(|o| o & 0xFFF8 == 0);
                    proto = next;
                    pos += 8;
                }
                _ => break,
            }
        }
    }
    let (mut sport, mut dport) = (0, 0);
    if first_fragment && matches!(proto, 6 | 17 | 132) {
        sport = be16(ip, pos).unwrap_or(0);
        dport = be16(ip, pos + 2).unwrap_or(0);
    }
    Some(FrameInfo {
        src,
        dst,
        sport,
        dport,
        proto: IpProto(proto),
        src_mac: None,
        dst_mac: None,
    })
}

fn anomaly(
    sink: &mut dyn Sink,
    stats: &mut DecodeStats,
    offset: u64,
    kind: AnomalyKind,
    detail: String,
) {
    stats.anomalies += 1;
    sink.anomaly(Anomaly {
        offset,
        kind,
        detail,
    });
}

/// Decodes one sFlow v5 datagram; flow samples' raw packet headers become flows.
pub fn datagram(payload: &[u8], offset: u64, sink: &mut dyn Sink) -> DecodeStats {
    let mut stats = DecodeStats::default();
    decode_one(payload, offset, sink, &mut stats);
    stats
}

/// Decodes the datagram at the start of `p`; returns its length (header plus every sample
/// it declares) when all of it is present, `None` when it cannot be framed (an anomaly then
/// says why).
fn decode_one(
    p: &[u8],
    offset: u64,
    sink: &mut dyn Sink,
    stats: &mut DecodeStats,
) -> Option<usize> {
    let Some(version) = be32(p, 0) else {
        let d = format!("sflow datagram of {} bytes has no version", p.len());
        anomaly(sink, stats, offset, AnomalyKind::Truncated, d);
        return None;
    };
    if version != SFLOW_VERSION {
        let d = format!("sflow version {version} is not 5");
        anomaly(sink, stats, offset, AnomalyKind::Unsupported, d);
        return None;
    }
    let addr_len = match be32(p, 4) {
        Some(1) => 4,
        Some(2) => 16,
        Some(t) => {
            let d = format!("sflow agent address type {t} is neither 1 (ipv4) nor 2 (ipv6)");
            anomaly(sink, stats, offset + 4, AnomalyKind::Malformed, d);
            return None;
        }
        None => {
            let d = "sflow header truncated before the agent address".to_string();
            anomaly(sink, stats, offset, AnomalyKind::Truncated, d);
            return None;
        }
    };
    // version, address type, address, sub-agent id, sequence, uptime, sample count.
    let head = 8 + addr_len + 16;
    let Some(n) = be32(p, head - 4) else {
        let d = format!("sflow header needs {head} bytes, datagram has {}", p.len());
        anomaly(sink, stats, offset, AnomalyKind::Truncated, d);
        return None;
    };
    if n > MAX_SAMPLES {
        let d = format!("sflow datagram claims {n} samples, cap is {MAX_SAMPLES}");
        anomaly(sink, stats, offset + head as u64 - 4, AnomalyKind::Limit, d);
    }
    let mut pos = head;
    // Samples past the cap are not decoded but still framed, to find where the datagram
    // ends; each takes at least 8 bytes, so the walk is bounded by the input.
    for i in 0..n {
        let at = offset + pos as u64;
        let (Some(tag), Some(len)) = (be32(p, pos), be32(p, pos + 4)) else {
            let d = "sflow sample header truncated".to_string();
            anomaly(sink, stats, at, AnomalyKind::Truncated, d);
            return None;
        };
        let Some(body) = p.get(pos + 8..).and_then(|b| b.get(..len as usize)) else {
            let d = format!(
                "sflow sample length {len} exceeds the {} bytes left",
                p.len() - pos - 8
            );
            anomaly(sink, stats, at, AnomalyKind::Truncated, d);
            return None;
        };
        if i < MAX_SAMPLES {
            match SampleType(tag) {
                SampleType::FLOW_SAMPLE => flow_sample(body, false, at + 8, sink, stats),
                SampleType::EXPANDED_FLOW_SAMPLE => flow_sample(body, true, at + 8, sink, stats),
                _ => {} // counter samples and other enterprises' samples carry no flows
            }
        }
        pos += 8 + body.len();
    }
    Some(pos)
}

/// Decodes a raw sFlow file: datagrams back to back (as a collector that writes each UDP
/// payload in turn stores them). sFlow has no length field, so a datagram ends after the
/// last sample it declares, and the next starts there. Where a datagram cannot be framed
/// (cut short, not version 5, a sample length that overruns), its anomaly is reported and
/// one more says how many bytes after it were left undecoded: the walk cannot find the next
/// datagram's start.
pub fn decode_file(input: &[u8], sink: &mut dyn Sink) -> DecodeStats {
    let mut stats = DecodeStats::default();
    let mut pos = 0usize;
    while pos < input.len() {
        let rest = &input[pos..];
        match decode_one(rest, pos as u64, sink, &mut stats) {
            Some(n) if n > 0 => pos += n,
            _ => {
                let d = format!(
                    "sflow file: {} bytes from offset {pos} left undecoded, the datagram there cannot be framed",
                    rest.len()
                );
                anomaly(sink, &mut stats, pos as u64, AnomalyKind::Malformed, d);
                break;
            }
        }
    }
    stats
}

fn flow_sample(s: &[u8], expanded: bool, at: u64, sink: &mut dyn Sink, stats: &mut DecodeStats) {
    // seq, source id (1 or 2 words), rate, pool, drops, input (1 or 2), output (1 or 2), count.
    let (rate_at, count_at) = if expanded { (12, 40) } else { (8, 28) };
    let (Some(rate), Some(n)) = (be32(s, rate_at), be32(s, count_at)) else {
        let d = "sflow flow sample shorter than its header".to_string();
        return anomaly(sink, stats, at, AnomalyKind::Truncated, d);
    };
    if n > MAX_RECORDS {
        let d = format!("sflow flow sample claims {n} records, cap is {MAX_RECORDS}");
        anomaly(sink, stats, at + count_at as u64, AnomalyKind::Limit, d);
    }
    let mut pos = count_at + 4;
    for _ in 0..n.min(MAX_RECORDS) {
        let rec_at = at + pos as u64;
        let (Some(tag), Some(len)) = (be32(s, pos), be32(s, pos + 4)) else {
            let d = "sflow flow record header truncated".to_string();
            return anomaly(sink, stats, rec_at, AnomalyKind::Truncated, d);
        };
        let Some(body) = s.get(pos + 8..).and_then(|b| b.get(..len as usize)) else {
            let d = format!("sflow flow record length {len} exceeds its sample");
            return anomaly(sink, stats, rec_at, AnomalyKind::Truncated, d);
        };
        if FlowRecordType(tag) == FlowRecordType::RAW_PACKET_HEADER {
            raw_header(body, rate, rec_at + 8, sink, stats);
        }
        pos += 8 + len as usize;
    }
}

fn raw_header(r: &[u8], rate: u32, at: u64, sink: &mut dyn Sink, stats: &mut DecodeStats) {
    let (Some(proto), Some(frame_len), Some(hlen)) = (be32(r, 0), be32(r, 4), be32(r, 12)) else {
        let d = "sflow raw packet header record truncated".to_string();
        return anomaly(sink, stats, at, AnomalyKind::Truncated, d);
    };
    let Some(header) = r.get(16..).and_then(|h| h.get(..hlen as usize)) else {
        let d = format!("sflow sampled header length {hlen} exceeds its record");
        return anomaly(sink, stats, at, AnomalyKind::Truncated, d);
    };
    if HeaderProtocol(proto) != HeaderProtocol::ETHERNET {
        return;
    }
    let Some(f) = parse_frame(header) else {
        return; // non-IP frames (ARP, LLDP...) are not flows
    };
    stats.records += 1;
    stats.bytes += frame_len as u64;
    stats.export_records += 1;
    stats.export_bytes += frame_len as u64;
    sink.observe(Observation::Flow(Flow {
        first: 0,
        last: 0,
        src: f.src,
        dst: f.dst,
        sport: f.sport,
        dport: f.dport,
        proto: f.proto,
        bytes_out: frame_len as u64,
        packets_out: 1,
        bytes_in: 0,
        packets_in: 0,
        src_mac: f.src_mac,
        dst_mac: f.dst_mac,
        uid: None,
        sampling: rate.max(1),
    }));
}

/// True when `payload` plausibly starts an sFlow v5 datagram.
pub fn looks_like_sflow(payload: &[u8]) -> bool {
    let addr_len = match be32(payload, 4) {
        Some(1) => 4,
        Some(2) => 16,
        _ => return false,
    };
    be32(payload, 0) == Some(SFLOW_VERSION) && payload.len() >= 8 + addr_len + 16
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_with_vlan_and_tcp() {
        let mut f = vec![0u8; 12];
        f[6] = 0x00;
        f.extend_from_slice(&[0x81, 0x00, 0x00, 0x0a, 0x08, 0x00]);
        let mut ip = vec![
            0x45, 0, 0, 40, 0, 0, 0, 0, 64, 6, 0, 0, 10, 0, 0, 1, 192, 0, 2, 7,
        ];
        ip.extend_from_slice(&[0x1f, 0x90, 0x01, 0xbb]);
        f.extend_from_slice(&ip);
        let i = parse_frame(&f).unwrap();
        assert_eq!(i.src, "10.0.0.1".parse::<IpAddr>().unwrap());
        assert_eq!(i.dst, "192.0.2.7".parse::<IpAddr>().unwrap());
        assert_eq!((i.sport, i.dport, i.proto), (8080, 443, IpProto::TCP));
        assert_eq!(parse_frame(&f[..20]), None);
    }
}
