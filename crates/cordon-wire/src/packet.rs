//! One captured frame: link, network and transport headers, parsed without allocation.
//!
//! [`parse`] borrows the frame and returns a [`Packet`] holding what it could read: MAC
//! addresses, the IP header fields cordon needs, and the TCP/UDP/ICMP header with a borrowed
//! payload. **Every length is checked before slicing, nothing allocates, nothing panics.**
//! When a header is truncated or malformed, [`Packet::error`] says what and where it stopped;
//! the fields read before that point stay filled so the caller can still count the packet.
//! A frame cut short by the capture's snap length inside the *payload* is not an error.

use crate::obs::{AnomalyKind, IpProto, Mac};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Most VLAN tags (802.1Q, 802.1ad, QinQ) followed on one frame.
pub const MAX_VLAN_DEPTH: usize = 4;
/// Most IPv6 extension headers followed before giving up on the transport header.
pub const MAX_IPV6_EXT: usize = 8;
/// Most MPLS labels popped.
pub const MAX_MPLS_DEPTH: usize = 8;

/// What went wrong in a decoder of this crate's capture path: an anomaly kind and a static,
/// lowercase description. Shared by `packet`, `dns`, `tls` and `dhcp`.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Error {
    pub kind: AnomalyKind,
    pub detail: &'static str,
}

impl Error {
    pub const fn truncated(detail: &'static str) -> Error {
        Error {
            kind: AnomalyKind::Truncated,
            detail,
        }
    }
    pub const fn malformed(detail: &'static str) -> Error {
        Error {
            kind: AnomalyKind::Malformed,
            detail,
        }
    }
    pub const fn limit(detail: &'static str) -> Error {
        Error {
            kind: AnomalyKind::Limit,
            detail,
        }
    }
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.kind.as_str(), self.detail)
    }
}

impl std::error::Error for Error {}

/// Capture link-layer type (tcpdump.org LINKTYPE_*; open registry).
#[derive(Copy, Clone, PartialEq, Eq, Hash, Debug)]
pub struct LinkType(pub u32);

impl LinkType {
    pub const NULL: LinkType = LinkType(0);
    pub const ETHERNET: LinkType = LinkType(1);
    /// DLT_RAW as numbered on some BSDs.
    pub const RAW_12: LinkType = LinkType(12);
    pub const RAW_14: LinkType = LinkType(14);
    pub const RAW: LinkType = LinkType(101);
    pub const LOOP: LinkType = LinkType(108);
    pub const LINUX_SLL: LinkType = LinkType(113);
    pub const IPV4: LinkType = LinkType(228);
    pub const IPV6: LinkType = LinkType(229);
    pub const NFLOG: LinkType = LinkType(239);
    pub const LINUX_SLL2: LinkType = LinkType(276);

    /// True for the link types [`parse`] decodes.
    pub fn is_supported(self) -> bool {
        matches!(
            self.0,
            0 | 1 | 12 | 14 | 101 | 108 | 113 | 228 | 229 | 239 | 276
        )
    }
}

/// EtherType (IEEE registry; open).
#[derive(Copy, Clone, PartialEq, Eq, Hash, Debug, Default)]
pub struct EtherType(pub u16);

impl EtherType {
    pub const IPV4: EtherType = EtherType(0x0800);
    pub const ARP: EtherType = EtherType(0x0806);
    pub const VLAN: EtherType = EtherType(0x8100);
    pub const IPV6: EtherType = EtherType(0x86dd);
    pub const MPLS: EtherType = EtherType(0x8847);
    pub const MPLS_MULTICAST: EtherType = EtherType(0x8848);
    pub const PPPOE_SESSION: EtherType = EtherType(0x8864);
    pub const QINQ: EtherType = EtherType(0x88a8);
    pub const QINQ_9100: EtherType = EtherType(0x9100);
    pub const QINQ_9200: EtherType = EtherType(0x9200);
    /// Cisco VN-Tag: 6 bytes (4 of tag, then the next EtherType).
    pub const VNTAG: EtherType = EtherType(0x8926);

    fn is_vlan(self) -> bool {
        matches!(self.0, 0x8100 | 0x88a8 | 0x9100 | 0x9200)
    }
}

/// IP fragmentation state of a packet.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Frag {
    /// Not a fragment.
    Whole,
    /// First fragment (offset 0, more to come): carries the transport header.
    First { id: u32 },
    /// A later fragment: no transport header.
    Later { id: u32 },
}

/// The IP header fields cordon uses.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Ip {
    pub src: IpAddr,
    pub dst: IpAddr,
    /// The transport protocol (after IPv6 extension headers).
    pub proto: IpProto,
    /// IP total length as declared (IPv4 total length, IPv6 40 + payload length), or the
    /// captured IP bytes when an IPv6 header declares 0 (jumbograms).
    pub len: u32,
    pub frag: Frag,
}

/// A TCP header and its captured payload.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Tcp<'a> {
    pub sport: u16,
    pub dport: u16,
    pub seq: u32,
    pub flags: u8,
    pub payload: &'a [u8],
    /// Offset of `payload` within the frame.
    pub payload_off: usize,
}

impl Tcp<'_> {
    pub const FIN: u8 = 0x01;
    pub const SYN: u8 = 0x02;
    pub const RST: u8 = 0x04;
    pub const ACK: u8 = 0x10;
}

/// A UDP header and its captured payload.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Udp<'a> {
    pub sport: u16,
    pub dport: u16,
    pub payload: &'a [u8],
    /// Offset of `payload` within the frame.
    pub payload_off: usize,
    /// The UDP length and checksum fields.
    pub len: u16,
    pub checksum: u16,
}

impl Udp<'_> {
    /// True when the whole datagram was captured (so its checksum can be verified).
    pub fn complete(&self) -> bool {
        usize::from(self.len) == self.payload.len() + 8
    }

    /// Verifies the checksum over the IP pseudo-header; true when the datagram is incomplete
    /// or (IPv4 only) carries no checksum.
    pub fn checksum_ok(&self, ip: &Ip) -> bool {
        if !self.complete() || (self.checksum == 0 && ip.src.is_ipv4()) {
            return true;
        }
        fn add(sum: &mut u64, b: &[u8]) {
            let mut c = b.chunks_exact(2);
            for w in &mut c {
                *sum += u64::from(u16::from_be_bytes([w[0], w[1]]));
            }
            if let [last] = c.remainder() {
                *sum += u64::from(*last) << 8;
            }
        }
        let mut sum = 0u64;
        match (ip.src, ip.dst) {
            (IpAddr::V4(a), IpAddr::V4(b)) => {
                add(&mut sum, &a.octets());
                add(&mut sum, &b.octets());
            }
            (a, b) => {
                add(&mut sum, &crate::flowtable::ip16(a));
                add(&mut sum, &crate::flowtable::ip16(b));
            }
        }
        sum += 17 + 2 * u64::from(self.len);
        sum += u64::from(self.sport) + u64::from(self.dport) + u64::from(self.checksum);
        add(&mut sum, self.payload);
        while sum > 0xffff {
            sum = (sum & 0xffff) + (sum >> 16);
        }
        sum == 0xffff
    }
}

/// The transport layer, as far as it could be read.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Default)]
pub enum Transport<'a> {
    /// No transport header: not IP, a later fragment, or unreadable.
    #[default]
    None,
    Tcp(Tcp<'a>),
    Udp(Udp<'a>),
    /// ICMP or ICMPv6 type and code.
    Icmp {
        ty: u8,
        code: u8,
    },
    /// Only the port numbers could be read (a truncated TCP header, SCTP).
    Ports {
        sport: u16,
        dport: u16,
    },
    /// Another protocol; the IP header says which.
    Other,
}

/// What [`parse`] read from one frame.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Default)]
pub struct Packet<'a> {
    pub src_mac: Option<Mac>,
    pub dst_mac: Option<Mac>,
    /// The last EtherType seen (after VLAN tags), when the link layer has one.
    pub ethertype: EtherType,
    pub ip: Option<Ip>,
    pub l4: Transport<'a>,
    /// ARP sender hardware and protocol address.
    pub arp: Option<(Mac, Ipv4Addr)>,
    /// Why decoding stopped early, if it did.
    pub error: Option<Error>,
}

#[inline]
fn be16(b: &[u8], at: usize) -> Option<u16> {
    let s = b.get(at..at.checked_add(2)?)?;
    Some(u16::from_be_bytes([s[0], s[1]]))
}

#[inline]
fn be32(b: &[u8], at: usize) -> Option<u32> {
    let s = b.get(at..at.checked_add(4)?)?;
    Some(u32::from_be_bytes([s[0], s[1], s[2], s[3]]))
}

fn mac_at(b: &[u8], at: usize) -> Option<Mac> {
    let s = b.get(at..at.checked_add(6)?)?;
    let mut m = [0u8; 6];
    m.copy_from_slice(s);
    Some(Mac(m))
}

/// Parses one frame of the given link type.
pub fn parse(link: LinkType, frame: &[u8]) -> Packet<'_> {
    let mut p = Packet::default();
    if let Err(e) = parse_link(link, frame, &mut p) {
        p.error = Some(e);
    }
    p
}

fn parse_link<'a>(link: LinkType, f: &'a [u8], p: &mut Packet<'a>) -> Result<(), Error> {
    match link.0 {
        1 => {
            if f.len() < 14 {
                return Err(Error::truncated("ethernet header shorter than 14 bytes"));
            }
            p.dst_mac = mac_at(f, 0);
            p.src_mac = mac_at(f, 6);
            let et = EtherType(be16(f, 12).unwrap_or(0));
            ethertype(et, f, 14, p, 0)
        }
        113 => {
            if f.len() < 16 {
                return Err(Error::truncated(
                    "linux cooked header shorter than 16 bytes",
                ));
            }
            let hatype = be16(f, 2).unwrap_or(0);
            let alen = be16(f, 4).unwrap_or(0);
            if hatype == 1 && alen == 6 {
                p.src_mac = mac_at(f, 6);
            }
            ethertype(EtherType(be16(f, 14).unwrap_or(0)), f, 16, p, 0)
        }
        276 => {
            if f.len() < 20 {
                return Err(Error::truncated(
                    "linux cooked v2 header shorter than 20 bytes",
                ));
            }
            let hatype = be16(f, 8).unwrap_or(0);
            if hatype == 1 && f[11] == 6 {
                p.src_mac = mac_at(f, 12);
            }
            ethertype(EtherType(be16(f, 0).unwrap_or(0)), f, 20, p, 0)
        }
        0 | 108 => {
            if f.len() < 4 {
                return Err(Error::truncated("loopback header shorter than 4 bytes"));
            }
            // The address family is in the capturing host's byte order (NULL) or network
            // order (LOOP), and AF_INET6 differs between systems: the IP version nibble is the
            // reliable signal.
            ip_by_version(f, 4, p)
        }
        12 | 14 | 101 | 228 | 229 => ip_by_version(f, 0, p),
        239 => nflog(f, p),
        _ => Ok(()),
    }
}

fn ip_by_version<'a>(f: &'a [u8], at: usize, p: &mut Packet<'a>) -> Result<(), Error> {
    match f.get(at).map(|b| b >> 4) {
        Some(4) => ipv4(f, at, p),
        Some(6) => ipv6(f, at, p),
        Some(_) => Ok(()),
        None => Err(Error::truncated("no ip header after link header")),
    }
}

/// LINKTYPE_NFLOG: a 4-byte header, then TLVs (little-endian length and type, padded to 4);
/// type 9 holds the packet from its IP header on.
fn nflog<'a>(f: &'a [u8], p: &mut Packet<'a>) -> Result<(), Error> {
    if f.len() < 4 {
        return Err(Error::truncated("nflog header shorter than 4 bytes"));
    }
    let mut at = 4usize;
    while at + 4 <= f.len() {
        let len = u16::from_le_bytes([f[at], f[at + 1]]) as usize;
        let ty = u16::from_le_bytes([f[at + 2], f[at + 3]]);
        if len < 4 {
            return Err(Error::malformed("nflog tlv length below 4"));
        }
        let end = at
            .checked_add(len)
            .ok_or(Error::malformed("nflog tlv length"))?;
        if ty == 9 {
            let body = f.get(at + 4..end.min(f.len())).unwrap_or(&[]);
            // Re-slice so offsets stay relative to the frame.
            let start = at + 4;
            let data = f.get(..start + body.len()).unwrap_or(f);
            return ip_by_version(data, start, p);
        }
        at = end
            .checked_add(3)
            .ok_or(Error::malformed("nflog tlv length"))?
            & !3;
    }
    Ok(())
}

fn ethertype<'a>(
    mut et: EtherType,
    f: &'a [u8],
    mut at: usize,
    p: &mut Packet<'a>,
    mut depth: usize,
) -> Result<(), Error> {
    loop {
        p.ethertype = et;
        if et.is_vlan() {
            depth += 1;
            if depth > MAX_VLAN_DEPTH {
                return Err(Error::limit("more vlan tags than MAX_VLAN_DEPTH"));
            }
            et = EtherType(be16(f, at + 2).ok_or(Error::truncated("vlan tag truncated"))?);
            at += 4;
            continue;
        }
        if et == EtherType::VNTAG {
            depth += 1;
            if depth > MAX_VLAN_DEPTH {
                return Err(Error::limit("more vlan tags than MAX_VLAN_DEPTH"));
            }
            et = EtherType(be16(f, at + 4).ok_or(Error::truncated("vn-tag truncated"))?);
            at += 6;
            continue;
        }
        return match et {
            EtherType::IPV4 => ipv4(f, at, p),
            EtherType::IPV6 => ipv6(f, at, p),
            EtherType::ARP => {
                arp(f, at, p);
                Ok(())
            }
            EtherType::MPLS | EtherType::MPLS_MULTICAST => {
                for _ in 0..MAX_MPLS_DEPTH {
                    let label = be32(f, at).ok_or(Error::truncated("mpls label truncated"))?;
                    at += 4;
                    if label & 0x100 != 0 {
                        return ip_by_version(f, at, p);
                    }
                }
                Err(Error::limit("more mpls labels than MAX_MPLS_DEPTH"))
            }
            EtherType::PPPOE_SESSION => {
                let proto = be16(f, at + 6).ok_or(Error::truncated("pppoe header truncated"))?;
                match proto {
                    0x0021 => ipv4(f, at + 8, p),
                    0x0057 => ipv6(f, at + 8, p),
                    _ => Ok(()),
                }
            }
            _ => Ok(()),
        };
    }
}

fn arp(f: &[u8], at: usize, p: &mut Packet<'_>) {
    let Some(h) = f.get(at..at + 28) else { return };
    // Ethernet hardware, IPv4 protocol, 6- and 4-byte addresses.
    if h[0..6] == [0, 1, 8, 0, 6, 4] {
        if let Some(mac) = mac_at(h, 8) {
            p.arp = Some((mac, Ipv4Addr::new(h[14], h[15], h[16], h[17])));
        }
    }
}

fn ipv4<'a>(f: &'a [u8], at: usize, p: &mut Packet<'a>) -> Result<(), Error> {
    let h = f.get(at..).unwrap_or(&[]);
    if h.len() < 20 {
        return Err(Error::truncated("ipv4 header shorter than 20 bytes"));
    }
    if h[0] >> 4 != 4 {
        return Err(Error::malformed("ipv4 version is not 4"));
    }
    let ihl = usize::from(h[0] & 0x0f) * 4;
    if ihl < 20 {
        return Err(Error::malformed("ipv4 header length below 20 bytes"));
    }
    let total = usize::from(u16::from_be_bytes([h[2], h[3]]));
    if total < ihl {
        return Err(Error::malformed("ipv4 header length exceeds total length"));
    }
    if h.len() < ihl {
        return Err(Error::truncated("ipv4 options truncated"));
    }
    let id = u32::from(u16::from_be_bytes([h[4], h[5]]));
    let fl = u16::from_be_bytes([h[6], h[7]]);
    let frag_off = fl & 0x1fff;
    let more = fl & 0x2000 != 0;
    let frag = if frag_off != 0 {
        Frag::Later { id }
    } else if more {
        Frag::First { id }
    } else {
        Frag::Whole
    };
    let proto = IpProto(h[9]);
    let src = IpAddr::V4(Ipv4Addr::new(h[12], h[13], h[14], h[15]));
    let dst = IpAddr::V4(Ipv4Addr::new(h[16], h[17], h[18], h[19]));
    // Ethernet pads short frames: the declared length bounds the payload.
    let (len, end, cut) = (total, total.min(h.len()), h.len() < total);
    p.ip = Some(Ip {
        src,
        dst,
        proto,
        len: len as u32,
        frag,
    });
    if matches!(frag, Frag::Later { .. }) {
        return Ok(());
    }
    let partial = cut || matches!(frag, Frag::First { .. });
    transport(proto, f, at + ihl, at + end, partial, p)
}

fn ipv6<'a>(f: &'a [u8], at: usize, p: &mut Packet<'a>) -> Result<(), Error> {
    let h = f.get(at..).unwrap_or(&[]);
    if h.len() < 40 {
        return Err(Error::truncated("ipv6 header shorter than 40 bytes"));
    }
    if h[0] >> 4 != 6 {
        return Err(Error::malformed("ipv6 version is not 6"));
    }
    let plen = usize::from(u16::from_be_bytes([h[4], h[5]]));
    let mut a = [0u8; 16];
    a.copy_from_slice(&h[8..24]);
    let src = IpAddr::V6(Ipv6Addr::from(a));
    a.copy_from_slice(&h[24..40]);
    let dst = IpAddr::V6(Ipv6Addr::from(a));
    let (len, end, cut) = if plen == 0 {
        (h.len(), h.len(), false)
    } else {
        (40 + plen, (40 + plen).min(h.len()), h.len() < 40 + plen)
    };
    let mut next = h[6];
    let mut off = 40usize;
    let mut frag = Frag::Whole;
    let mut ip = Ip {
        src,
        dst,
        proto: IpProto(next),
        len: len as u32,
        frag,
    };
    p.ip = Some(ip);
    for _ in 0..=MAX_IPV6_EXT {
        match next {
            // Hop-by-hop, routing, destination options, mobility, HIP, shim6.
            0 | 43 | 60 | 135 | 139 | 140 => {
                let e = h
                    .get(off..off + 2)
                    .filter(|_| off + 2 <= end)
                    .ok_or(Error::truncated("ipv6 extension header truncated"))?;
                let elen = (usize::from(e[1]) + 1) * 8;
                if off + elen > end {
                    return Err(Error::truncated("ipv6 extension header truncated"));
                }
                next = e[0];
                off += elen;
            }
            // Fragment header.
            44 => {
                let e = h
                    .get(off..off + 8)
                    .filter(|_| off + 8 <= end)
                    .ok_or(Error::truncated("ipv6 fragment header truncated"))?;
                let fo = u16::from_be_bytes([e[2], e[3]]);
                let id = u32::from_be_bytes([e[4], e[5], e[6], e[7]]);
                next = e[0];
                off += 8;
                frag = if fo >> 3 != 0 {
                    Frag::Later { id }
                } else if fo & 1 != 0 {
                    Frag::First { id }
                } else {
                    Frag::Whole
                };
            }
            // Authentication header: length in 4-byte units, minus 2.
            51 => {
                let e = h
                    .get(off..off + 2)
                    .filter(|_| off + 2 <= end)
                    .ok_or(Error::truncated("ipv6 authentication header truncated"))?;
                let elen = (usize::from(e[1]) + 2) * 4;
                if off + elen > end {
                    return Err(Error::truncated("ipv6 authentication header truncated"));
                }
                next = e[0];
                off += elen;
            }
            _ => {
                ip.proto = IpProto(next);
                ip.frag = frag;
                p.ip = Some(ip);
                if matches!(frag, Frag::Later { .. }) {
                    return Ok(());
                }
                let partial = cut || matches!(frag, Frag::First { .. });
                return transport(ip.proto, f, at + off, at + end, partial, p);
            }
        }
    }
    ip.proto = IpProto(next);
    ip.frag = frag;
    p.ip = Some(ip);
    Err(Error::limit(
        "more ipv6 extension headers than MAX_IPV6_EXT",
    ))
}

/// `start..end` is the transport segment within the frame (end already bounded by the
/// capture); `cut` says the capture ended before the IP length did.
fn transport<'a>(
    proto: IpProto,
    f: &'a [u8],
    start: usize,
    end: usize,
    cut: bool,
    p: &mut Packet<'a>,
) -> Result<(), Error> {
    let t = f.get(start..end).unwrap_or(&[]);
    let trunc_or_bad = |d_cut, d_bad| {
        if cut {
            Error::truncated(d_cut)
        } else {
            Error::malformed(d_bad)
        }
    };
    match proto {
        IpProto::TCP => {
            if t.len() < 4 {
                return Err(trunc_or_bad(
                    "tcp header truncated",
                    "tcp segment shorter than 4 bytes",
                ));
            }
            let sport = u16::from_be_bytes([t[0], t[1]]);
            let dport = u16::from_be_bytes([t[2], t[3]]);
            p.l4 = Transport::Ports { sport, dport };
            if t.len() < 20 {
                return Err(trunc_or_bad(
                    "tcp header truncated",
                    "tcp header shorter than 20 bytes",
                ));
            }
            let doff = usize::from(t[12] >> 4) * 4;
            if doff < 20 {
                return Err(Error::malformed("tcp data offset below 20 bytes"));
            }
            if doff > t.len() {
                return Err(trunc_or_bad(
                    "tcp options truncated",
                    "tcp data offset beyond the segment",
                ));
            }
            p.l4 = Transport::Tcp(Tcp {
                sport,
                dport,
                seq: u32::from_be_bytes([t[4], t[5], t[6], t[7]]),
                flags: t[13],
                payload: &t[doff..],
                payload_off: start + doff,
            });
            Ok(())
        }
        IpProto::UDP => {
            if t.len() < 8 {
                if t.len() >= 4 {
                    p.l4 = Transport::Ports {
                        sport: u16::from_be_bytes([t[0], t[1]]),
                        dport: u16::from_be_bytes([t[2], t[3]]),
                    };
                }
                return Err(trunc_or_bad(
                    "udp header truncated",
                    "udp segment shorter than 8 bytes",
                ));
            }
            let sport = u16::from_be_bytes([t[0], t[1]]);
            let dport = u16::from_be_bytes([t[2], t[3]]);
            let ulen = usize::from(u16::from_be_bytes([t[4], t[5]]));
            p.l4 = Transport::Ports { sport, dport };
            if ulen != 0 && ulen < 8 {
                return Err(Error::malformed("udp length below 8 bytes"));
            }
            if ulen > t.len() && !cut {
                return Err(Error::malformed("udp length beyond the ip payload"));
            }
            let pend = if ulen == 0 {
                t.len()
            } else {
                ulen.min(t.len())
            };
            p.l4 = Transport::Udp(Udp {
                sport,
                dport,
                payload: &t[8..pend],
                payload_off: start + 8,
                len: ulen as u16,
                checksum: u16::from_be_bytes([t[6], t[7]]),
            });
            Ok(())
        }
        IpProto::ICMP | IpProto::ICMPV6 => {
            if t.len() < 2 {
                return Err(trunc_or_bad(
                    "icmp header truncated",
                    "icmp message shorter than 2 bytes",
                ));
            }
            p.l4 = Transport::Icmp {
                ty: t[0],
                code: t[1],
            };
            Ok(())
        }
        IpProto::SCTP => {
            if t.len() < 4 {
                return Err(trunc_or_bad(
                    "sctp header truncated",
                    "sctp packet shorter than 4 bytes",
                ));
            }
            p.l4 = Transport::Ports {
                sport: u16::from_be_bytes([t[0], t[1]]),
                dport: u16::from_be_bytes([t[2], t[3]]),
            };
            Ok(())
        }
        _ => {
            p.l4 = Transport::Other;
            Ok(())
        }
    }
}
