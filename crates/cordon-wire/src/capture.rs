//! Packet captures (pcap and pcapng) to flows, DNS answers, server names, DHCP and host MACs.
//!
//! [`decode`] walks a whole capture file held in memory (already decompressed). Each packet
//! record goes through [`packet::parse`], is counted into the [`FlowTable`], and its payload is
//! inspected: DNS responses (UDP and in-order TCP on port 53, mDNS on 5353), the first client
//! bytes of each TCP connection (TLS ClientHello SNI, reassembled across segments and records;
//! HTTP/1.x `Host:`), DHCPv4, ARP, and NetFlow/IPFIX/sFlow export datagrams, which are handed
//! to [`netflow::Collector`] and [`sflow::datagram`] (their datagrams still count as flows).
//!
//! **Invariants: no panic and no `unsafe`; no allocation sized by a length the input claims
//! (record lengths are checked against [`MAX_SNAPLEN`] and the bytes present, buffers against
//! named caps); every malformed record is one [`Anomaly`] at the byte offset of its packet
//! record (or block) in the file, and decoding goes on with the next record whenever the file's
//! framing allows.** A record or block whose length cannot be right (over the cap, or past the
//! end of the file) is followed by a search, at most [`RESYNC_WINDOW`] bytes and constant work
//! per offset, for the next plausible record header (timestamp within a day of the last good
//! record, caplen within the snap length and the original length, all bytes present, and the
//! header after it plausible too) or pcapng block (known type, length repeated in its last
//! word); its anomaly says where decoding resumed and how many bytes were skipped. `DecodeStats::anomalies` counts exactly the anomalies pushed, including
//! those of the export decoders it calls.
//!
//! Not decoded: tunnels (GRE, VXLAN, Geneve, Teredo, GTP, 6in4/4in6 are flows of their outer
//! header), IP reassembly (later IPv4/IPv6 fragments are attributed to the flow of their first
//! fragment when it was seen), out-of-order TCP (reassembly stops at the first gap), QUIC
//! Initial SNI, DTLS, DHCPv6, LLMNR/NBNS, radiotap and other link types than those in
//! [`LinkType::is_supported`].

use crate::dhcp;
use crate::dns;
use crate::flowtable::{FlowTable, PacketInfo, MAX_FLOWS};
use crate::netflow;
use crate::obs::{
    Anomaly, AnomalyKind, DecodeStats, Dhcp, Dns, DnsData, DnsRecord, HostMac, IpProto, Mac,
    Micros, NameSource, Observation, ServerName, Sink,
};
use crate::packet::{self, Error, Frag, Ip, LinkType, Tcp, Transport};
use crate::sflow;
use crate::tls::{self, TlsError};
use std::collections::{HashMap, HashSet};
use std::net::IpAddr;

/// Largest packet record accepted (libpcap's own maximum snap length).
pub const MAX_SNAPLEN: u32 = 262_144;
/// Largest pcapng block taken as a length that merely runs past the end of the file (a cut
/// capture); a block claiming more that does not fit is reported as over the cap. Wireshark
/// refuses blocks above 16 MiB too.
pub const MAX_BLOCK_LEN: usize = 16 << 20;
/// How many bytes past a record (or block) whose length cannot be right the decoder searches
/// for the next plausible one before it gives the rest of the file up.
pub const RESYNC_WINDOW: usize = 1 << 20;
/// Largest time step, in seconds, between a record and the one found after a bad record.
const RESYNC_MAX_STEP_SECS: u32 = 86_400;
/// Most pcapng interfaces per section.
pub const MAX_INTERFACES: usize = 1024;
/// Most distinct (MAC, IP) host pairs reported per capture.
pub const MAX_HOSTS: usize = 65_536;
/// Most first fragments remembered to attribute later fragments to their flow.
pub const MAX_FRAGMENTS: usize = 4096;
/// Most senders of DNS responses with bad UDP checksums remembered (one anomaly each).
pub const MAX_CHECKSUM_SENDERS: usize = 1024;
/// UDP ports of NetFlow v5/v9 and IPFIX collectors.
pub const NETFLOW_PORTS: [u16; 4] = [2055, 4739, 9995, 9996];
/// UDP port of sFlow collectors.
pub const SFLOW_PORT: u16 = 6343;
pub const DNS_PORT: u16 = 53;
pub const MDNS_PORT: u16 = 5353;

/// Tunable limits; [`Config::default`] uses the named caps.
#[derive(Clone, Debug)]
pub struct Config {
    /// Most flows held at once (see [`FlowTable`]).
    pub max_flows: usize,
    /// Most distinct host pairs reported.
    pub max_hosts: usize,
    /// Report hosts with any source address. By default only private, link-local, shared
    /// (100.64/10) and unique-local addresses are paired with their Ethernet source MAC: a
    /// public source address behind a router arrives with the router's MAC.
    pub hosts_any_address: bool,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            max_flows: MAX_FLOWS,
            max_hosts: MAX_HOSTS,
            hosts_any_address: false,
        }
    }
}

/// True when `b` starts with a pcap or pcapng magic number.
pub fn looks_like_capture(b: &[u8]) -> bool {
    matches!(
        b.get(..4),
        Some(
            [0xd4, 0xc3, 0xb2, 0xa1]
                | [0xa1, 0xb2, 0xc3, 0xd4]
                | [0x4d, 0x3c, 0xb2, 0xa1]
                | [0xa1, 0xb2, 0x3c, 0x4d]
                | [0x0a, 0x0d, 0x0d, 0x0a]
        )
    )
}

/// Decodes a whole pcap or pcapng file with the default limits.
pub fn decode(input: &[u8], sink: &mut dyn Sink) -> DecodeStats {
    decode_with(input, &Config::default(), sink)
}

/// Decodes a whole pcap or pcapng file.
pub fn decode_with(input: &[u8], config: &Config, sink: &mut dyn Sink) -> DecodeStats {
    let mut d = Decoder {
        out: Out {
            sink,
            stats: DecodeStats::default(),
        },
        cfg: config.clone(),
        flows: FlowTable::new(config.max_flows),
        flows_full: false,
        hosts: HashSet::default(),
        hosts_full: false,
        frags: HashMap::default(),
        collector: netflow::Collector::new(),
        links_reported: Vec::new(),
        bad_checksum: HashSet::default(),
    };
    match input.get(..4) {
        Some([0x0a, 0x0d, 0x0d, 0x0a]) => d.pcapng(input),
        Some(_) if looks_like_capture(input) => d.pcap(input),
        Some(_) => d
            .out
            .anomaly(0, AnomalyKind::Unsupported, "not a pcap or pcapng file"),
        None => d.out.anomaly(
            0,
            AnomalyKind::Truncated,
            "capture shorter than its magic number",
        ),
    }
    d.flows.finish(d.out.sink);
    d.out.stats
}

/// The sink plus the counts, so anomalies are always counted as they are pushed.
struct Out<'s> {
    sink: &'s mut dyn Sink,
    stats: DecodeStats,
}

impl Out<'_> {
    fn anomaly(&mut self, offset: u64, kind: AnomalyKind, detail: &str) {
        self.stats.anomalies += 1;
        self.sink.anomaly(Anomaly {
            offset,
            kind,
            detail: detail.to_string(),
        });
    }
    fn error(&mut self, offset: u64, e: Error) {
        self.anomaly(offset, e.kind, e.detail);
    }
    fn observe(&mut self, o: Observation) {
        self.sink.observe(o);
    }
}

/// Inspection state of one direction of a TCP connection.
#[derive(Default, Debug)]
enum Stream {
    /// No payload seen yet.
    #[default]
    Fresh,
    /// A ClientHello split across segments: `buf` holds the stream so far.
    Tls { next: u32, buf: Vec<u8> },
    /// DNS over TCP responses: `buf` holds an incomplete message.
    Dns { next: u32, buf: Vec<u8> },
    /// Nothing more to look for.
    Done,
}

/// Per-flow state kept in the flow table: index 0 is `src`→`dst`, 1 is the reverse.
#[derive(Default, Debug)]
pub struct App {
    dir: [Stream; 2],
}

type FragKey = (IpAddr, IpAddr, u8, u32);

struct Decoder<'s> {
    out: Out<'s>,
    cfg: Config,
    flows: FlowTable<App>,
    flows_full: bool,
    hosts: HashSet<(Mac, IpAddr), foldhash::fast::RandomState>,
    hosts_full: bool,
    frags: HashMap<FragKey, (u16, u16), foldhash::fast::RandomState>,
    collector: netflow::Collector,
    links_reported: Vec<u32>,
    bad_checksum: HashSet<IpAddr, foldhash::fast::RandomState>,
}

/// How a pcapng interface's timestamps become microseconds.
#[derive(Copy, Clone, Debug)]
enum Scale {
    Mul(u64),
    Div(u64),
    Shift(u32),
}

#[derive(Copy, Clone, Debug)]
struct Iface {
    link: LinkType,
    snaplen: u32,
    scale: Scale,
    /// if_tsoffset, in seconds.
    offset: i64,
}

impl Iface {
    fn micros(&self, ts: u64) -> Micros {
        let us = match self.scale {
            Scale::Mul(m) => ts.saturating_mul(m),
            Scale::Div(d) => ts / d,
            Scale::Shift(s) => ((u128::from(ts) * 1_000_000) >> s) as u64,
        };
        i64::try_from(us)
            .unwrap_or(i64::MAX)
            .saturating_add(self.offset.saturating_mul(1_000_000))
    }
}

fn scale(tsresol: u8) -> Scale {
    if tsresol & 0x80 != 0 {
        Scale::Shift(u32::from(tsresol & 0x7f))
    } else if tsresol <= 6 {
        Scale::Mul(10u64.pow(u32::from(6 - tsresol)))
    } else {
        // 10^(e-6) overflows u64 past e = 25: such a clock ticks too fast to matter.
        Scale::Div(
            10u64
                .checked_pow(u32::from(tsresol - 6))
                .unwrap_or(u64::MAX),
        )
    }
}

#[derive(Copy, Clone)]
struct Order(bool);

impl Order {
    fn u16(self, b: &[u8], at: usize) -> u16 {
        let s = [b[at], b[at + 1]];
        if self.0 {
            u16::from_le_bytes(s)
        } else {
            u16::from_be_bytes(s)
        }
    }
    fn u32(self, b: &[u8], at: usize) -> u32 {
        let s = [b[at], b[at + 1], b[at + 2], b[at + 3]];
        if self.0 {
            u32::from_le_bytes(s)
        } else {
            u32::from_be_bytes(s)
        }
    }
}

fn is_local(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(a) => {
            let o = a.octets();
            a.is_private() || a.is_link_local() || (o[0] == 100 && o[1] & 0xc0 == 64)
        }
        IpAddr::V6(a) => {
            let s = a.segments()[0];
            s & 0xffc0 == 0xfe80 || s & 0xfe00 == 0xfc00
        }
    }
}

/// Well-known server ports: a flow whose first packet comes *from* one of these (to a client
/// port, unicast) was caught mid-conversation, and its `src` is the receiver (as Zeek does).
const SERVER_PORTS: [u16; 14] = [
    53, 67, 69, 80, 88, 123, 137, 161, 389, 443, 445, 514, 853, 3389,
];

fn from_server(ip: &Ip, sport: u16, dport: u16) -> bool {
    let unicast = match ip.dst {
        IpAddr::V4(a) => !a.is_broadcast() && !a.is_multicast() && a.octets()[3] != 255,
        IpAddr::V6(a) => !a.is_multicast(),
    };
    unicast
        && SERVER_PORTS.contains(&sport)
        && !SERVER_PORTS.contains(&dport)
        && (dport > 1023 || dport == 68)
}

/// The request type an ICMP reply answers, so both land in one flow.
fn icmp_kind(proto: IpProto, ty: u8) -> (u8, bool) {
    match (proto, ty) {
        (IpProto::ICMP, 0) => (8, true),
        (IpProto::ICMP, 14) => (13, true),
        (IpProto::ICMP, 16) => (15, true),
        (IpProto::ICMP, 18) => (17, true),
        (IpProto::ICMPV6, 129) => (128, true),
        _ => (ty, false),
    }
}

/// How a pcap file frames its records, for the resynchronisation search.
#[derive(Copy, Clone)]
struct PcapFraming {
    o: Order,
    nanos: bool,
    /// Largest caplen a plausible record has: the header's snap length when it is sane.
    snaplen: u32,
}

impl PcapFraming {
    /// The end of the record at `at` when its header is plausible: fraction below one
    /// second, 0 < caplen <= origlen, caplen within the snap length, origlen within
    /// [`MAX_SNAPLEN`], seconds within a day of `prev` (the last good record's), and all of
    /// its bytes present.
    fn plausible(&self, b: &[u8], at: usize, prev: Option<u32>) -> Option<(usize, u32)> {
        let h = b.get(at..at.checked_add(16)?)?;
        let o = self.o;
        let (sec, frac, incl, orig) = (o.u32(h, 0), o.u32(h, 4), o.u32(h, 8), o.u32(h, 12));
        let second = if self.nanos { 1_000_000_000 } else { 1_000_000 };
        let near = prev.is_none_or(|p| sec.abs_diff(p) <= RESYNC_MAX_STEP_SECS);
        let ok = frac < second
            && incl > 0
            && incl <= orig
            && incl <= self.snaplen
            && orig <= MAX_SNAPLEN
            && near;
        let end = (at + 16).checked_add(incl as usize)?;
        (ok && end <= b.len()).then_some((end, sec))
    }

    /// The first offset after `bad` (within [`RESYNC_WINDOW`]) where a plausible record
    /// starts that is followed by the end of the file or by another plausible record. Each
    /// offset costs two header checks: the search is linear in the window.
    fn resync(&self, b: &[u8], bad: usize, prev: Option<u32>) -> Option<usize> {
        let last = b.len().saturating_sub(16);
        let stop = last.min(bad.saturating_add(RESYNC_WINDOW));
        (bad + 1..=stop).find(|&c| {
            self.plausible(b, c, prev).is_some_and(|(end, sec)| {
                b.len() - end < 16 || self.plausible(b, end, Some(sec)).is_some()
            })
        })
    }
}

/// Block types a resynchronised pcapng block may have: the standard ones (1-10), the
/// section header, and the two custom block types.
fn known_block(t: u32) -> bool {
    matches!(t, 1..=10 | 0x0A0D_0D0A | 0x0000_0BAD | 0x4000_0BAD)
}

/// The first offset after `bad` (in steps of 4, within [`RESYNC_WINDOW`]) where a plausible
/// pcapng block starts: a known type, a length of at least 12, a multiple of 4 and at most
/// [`MAX_BLOCK_LEN`], all of it in the file, and the same length in its last word. A section
/// header is read in its own byte order. Constant work per offset: linear in the window.
fn pcapng_resync(b: &[u8], bad: usize, o: Order) -> Option<usize> {
    let stop = b
        .len()
        .saturating_sub(12)
        .min(bad.saturating_add(RESYNC_WINDOW));
    (bad + 4..=stop).step_by(4).find(|&c| {
        let o = if b[c..c + 4] == [0x0a, 0x0d, 0x0d, 0x0a] {
            match b[c + 8..c + 12] {
                [0x4d, 0x3c, 0x2b, 0x1a] => Order(true),
                [0x1a, 0x2b, 0x3c, 0x4d] => Order(false),
                _ => return false,
            }
        } else {
            o
        };
        let blen = o.u32(b, c + 4) as usize;
        known_block(o.u32(b, c))
            && blen >= 12
            && blen.is_multiple_of(4)
            && blen <= MAX_BLOCK_LEN
            && blen <= b.len() - c
            && o.u32(b, c + blen - 4) as usize == blen
    })
}

/// The end of a bad record's anomaly: where decoding goes on, or that it stops.
fn resync_note(found: Option<usize>, bad: usize, len: usize, unit: &str) -> String {
    match found {
        Some(c) => format!("; resynchronised at offset {c}, {} bytes skipped", c - bad),
        None => format!(
            "; no plausible {unit} within {RESYNC_WINDOW} bytes, the last {} bytes skipped",
            len - bad
        ),
    }
}

impl Decoder<'_> {
    fn pcap(&mut self, b: &[u8]) {
        if b.len() < 24 {
            self.out.anomaly(
                0,
                AnomalyKind::Truncated,
                "pcap file header shorter than 24 bytes",
            );
            return;
        }
        let (o, nanos) = match [b[0], b[1], b[2], b[3]] {
            [0xd4, 0xc3, 0xb2, 0xa1] => (Order(true), false),
            [0xa1, 0xb2, 0xc3, 0xd4] => (Order(false), false),
            [0x4d, 0x3c, 0xb2, 0xa1] => (Order(true), true),
            _ => (Order(false), true),
        };
        // The upper bits of the link type field carry FCS information.
        let link = LinkType(o.u32(b, 20) & 0xffff);
        self.check_link(link, 20);
        let snaplen = match o.u32(b, 16) {
            n @ 1..=MAX_SNAPLEN => n,
            _ => MAX_SNAPLEN,
        };
        let framing = PcapFraming { o, nanos, snaplen };
        let mut prev_sec: Option<u32> = None;
        let mut at = 24usize;
        while at < b.len() {
            if b.len() - at < 16 {
                self.out.anomaly(
                    at as u64,
                    AnomalyKind::Truncated,
                    "truncated record header at end of file",
                );
                break;
            }
            let raw_sec = o.u32(b, at);
            let sec = i64::from(raw_sec);
            let frac = i64::from(o.u32(b, at + 4));
            let incl = o.u32(b, at + 8);
            let ts = sec * 1_000_000 + if nanos { frac / 1000 } else { frac };
            let start = at + 16;
            let end = start + incl as usize;
            if incl > MAX_SNAPLEN || end > b.len() {
                // A length that cannot be right: look for the next plausible record.
                let found = framing.resync(b, at, prev_sec);
                let note = resync_note(found, at, b.len(), "record");
                let (kind, what) = if incl > MAX_SNAPLEN {
                    let d =
                        format!("record length {incl} exceeds the cap MAX_SNAPLEN ({MAX_SNAPLEN})");
                    (AnomalyKind::Limit, d)
                } else if found.is_some() {
                    let d = format!("record length {incl} runs over the records after it");
                    (AnomalyKind::Malformed, d)
                } else {
                    let d = "record data truncated at end of file".to_string();
                    (AnomalyKind::Truncated, d)
                };
                self.out.anomaly(at as u64, kind, &format!("{what}{note}"));
                match found {
                    Some(c) => {
                        at = c;
                        continue;
                    }
                    None => break,
                }
            }
            self.frame(at as u64, start as u64, link, ts, &b[start..end]);
            prev_sec = Some(raw_sec);
            at = end;
        }
    }

    fn pcapng(&mut self, b: &[u8]) {
        let mut o = Order(true);
        let mut ifaces: Vec<Iface> = Vec::new();
        let mut last_ts: Micros = 0;
        let mut at = 0usize;
        while at < b.len() {
            let off = at as u64;
            if b.len() - at < 12 {
                self.out.anomaly(
                    off,
                    AnomalyKind::Truncated,
                    "truncated block header at end of file",
                );
                break;
            }
            // A block that cannot be framed: (kind, what), then the search for the next one.
            let mut bad: Option<(AnomalyKind, String)> = None;
            if b[at..at + 4] == [0x0a, 0x0d, 0x0d, 0x0a] {
                // A new section: its byte order, and no interfaces yet.
                match b[at + 8..at + 12] {
                    [0x4d, 0x3c, 0x2b, 0x1a] => (o, bad) = (Order(true), None),
                    [0x1a, 0x2b, 0x3c, 0x4d] => (o, bad) = (Order(false), None),
                    _ => {
                        let d = "pcapng section byte-order magic unknown".to_string();
                        bad = Some((AnomalyKind::Malformed, d));
                    }
                }
                if bad.is_none() {
                    ifaces.clear();
                }
            }
            let btype = o.u32(b, at);
            let blen = o.u32(b, at + 4) as usize;
            let left = b.len() - at;
            if bad.is_none() {
                bad = if blen < 12 || !blen.is_multiple_of(4) {
                    let d = format!("pcapng block length {blen} below 12 or not a multiple of 4");
                    Some((AnomalyKind::Malformed, d))
                } else if blen > left && blen > MAX_BLOCK_LEN {
                    let d = format!(
                        "pcapng block length {blen} exceeds the cap MAX_BLOCK_LEN ({MAX_BLOCK_LEN})"
                    );
                    Some((AnomalyKind::Limit, d))
                } else if blen > left {
                    Some((AnomalyKind::Truncated, String::new()))
                } else {
                    None
                };
            }
            if let Some((kind, what)) = bad {
                let found = pcapng_resync(b, at, o);
                let note = resync_note(found, at, b.len(), "block");
                let (kind, what) = match (kind, found) {
                    (AnomalyKind::Truncated, Some(_)) => (
                        AnomalyKind::Malformed,
                        format!("pcapng block length {blen} runs over the blocks after it"),
                    ),
                    (AnomalyKind::Truncated, None) => {
                        (kind, "pcapng block truncated at end of file".to_string())
                    }
                    _ => (kind, what),
                };
                self.out.anomaly(off, kind, &format!("{what}{note}"));
                match found {
                    Some(c) => {
                        at = c;
                        continue;
                    }
                    None => break,
                }
            }
            let body = &b[at + 8..at + blen - 4];
            let body_off = at as u64 + 8;
            at += blen;
            match btype {
                // Interface description.
                1 => {
                    if body.len() < 8 {
                        self.out.anomaly(
                            off,
                            AnomalyKind::Malformed,
                            "pcapng interface block shorter than 8 bytes",
                        );
                        continue;
                    }
                    let mut ifc = Iface {
                        link: LinkType(u32::from(o.u16(body, 0))),
                        snaplen: o.u32(body, 4),
                        scale: Scale::Mul(1),
                        offset: 0,
                    };
                    let mut p = 8usize;
                    while body.len() - p >= 4 {
                        let code = o.u16(body, p);
                        let len = usize::from(o.u16(body, p + 2));
                        let Some(v) = body.get(p + 4..p + 4 + len) else {
                            self.out.anomaly(
                                off,
                                AnomalyKind::Malformed,
                                "pcapng option runs past its block",
                            );
                            break;
                        };
                        match code {
                            0 => break,
                            9 if len >= 1 => ifc.scale = scale(v[0]),
                            14 if len == 8 => {
                                let hi = u64::from(o.u32(v, 0));
                                let lo = u64::from(o.u32(v, 4));
                                let w = if o.0 { lo << 32 | hi } else { hi << 32 | lo };
                                ifc.offset = w as i64;
                            }
                            _ => {}
                        }
                        p += 4 + ((len + 3) & !3);
                    }
                    if ifaces.len() >= MAX_INTERFACES {
                        self.out.anomaly(
                            off,
                            AnomalyKind::Limit,
                            "more pcapng interfaces than MAX_INTERFACES",
                        );
                        continue;
                    }
                    self.check_link(ifc.link, off);
                    ifaces.push(ifc);
                }
                // Enhanced packet (6) and the obsolete packet block (2).
                2 | 6 => {
                    if body.len() < 20 {
                        self.out.stats.records += 1;
                        self.out.anomaly(
                            off,
                            AnomalyKind::Truncated,
                            "pcapng packet block shorter than its header",
                        );
                        continue;
                    }
                    let id = if btype == 6 {
                        o.u32(body, 0) as usize
                    } else {
                        usize::from(o.u16(body, 0))
                    };
                    let ts = u64::from(o.u32(body, 4)) << 32 | u64::from(o.u32(body, 8));
                    let cap = o.u32(body, 12) as usize;
                    let Some(data) = body.get(20..20 + cap) else {
                        self.out.stats.records += 1;
                        self.out.anomaly(
                            off,
                            AnomalyKind::Malformed,
                            "pcapng captured length exceeds its block",
                        );
                        continue;
                    };
                    let Some(ifc) = ifaces.get(id).copied() else {
                        self.out.stats.records += 1;
                        self.out.anomaly(
                            off,
                            AnomalyKind::Missing,
                            "pcapng packet names an undeclared interface",
                        );
                        continue;
                    };
                    let ts = ifc.micros(ts);
                    last_ts = ts;
                    self.frame(off, body_off + 20, ifc.link, ts, data);
                }
                // Simple packet: no interface id (interface 0) and no timestamp.
                3 => {
                    let Some(ifc) = ifaces.first().copied() else {
                        self.out.stats.records += 1;
                        self.out.anomaly(
                            off,
                            AnomalyKind::Missing,
                            "pcapng packet names an undeclared interface",
                        );
                        continue;
                    };
                    if body.len() < 4 {
                        self.out.stats.records += 1;
                        self.out.anomaly(
                            off,
                            AnomalyKind::Truncated,
                            "pcapng simple packet block shorter than 4 bytes",
                        );
                        continue;
                    }
                    let orig = o.u32(body, 0) as usize;
                    let mut cap = orig.min(body.len() - 4);
                    if ifc.snaplen != 0 {
                        cap = cap.min(ifc.snaplen as usize);
                    }
                    self.frame(off, body_off + 4, ifc.link, last_ts, &body[4..4 + cap]);
                }
                _ => {}
            }
        }
    }

    fn check_link(&mut self, link: LinkType, offset: u64) {
        if !link.is_supported()
            && !self.links_reported.contains(&link.0)
            && self.links_reported.len() < 64
        {
            self.links_reported.push(link.0);
            self.out.anomaly(
                offset,
                AnomalyKind::Unsupported,
                "link type not decoded: packets counted only",
            );
        }
    }

    fn host(&mut self, ts: Micros, mac: Mac, ip: IpAddr, rec: u64) {
        if mac.is_multicast() || mac.is_zero() || ip.is_unspecified() || ip.is_multicast() {
            return;
        }
        if let IpAddr::V4(a) = ip {
            if a.is_broadcast() {
                return;
            }
        }
        if !self.cfg.hosts_any_address && !is_local(ip) {
            return;
        }
        if self.hosts.len() >= self.cfg.max_hosts {
            if !self.hosts_full && !self.hosts.contains(&(mac, ip)) {
                self.hosts_full = true;
                self.out.anomaly(
                    rec,
                    AnomalyKind::Limit,
                    "more host mac/address pairs than MAX_HOSTS",
                );
            }
            return;
        }
        if self.hosts.insert((mac, ip)) {
            self.out.observe(Observation::Host(HostMac {
                ts,
                mac,
                ip: Some(ip),
            }));
        }
    }

    /// One packet record: `rec` is its offset in the file, `data_off` that of its first byte.
    fn frame(&mut self, rec: u64, data_off: u64, link: LinkType, ts: Micros, data: &[u8]) {
        self.out.stats.records += 1;
        self.out.stats.bytes += data.len() as u64;
        if !link.is_supported() {
            return;
        }
        let p = packet::parse(link, data);
        if let Some(e) = p.error {
            self.out.error(rec, e);
        }
        if let Some((mac, ip)) = p.arp {
            self.host(ts, mac, IpAddr::V4(ip), rec);
        }
        let Some(ip) = p.ip else { return };
        if let Some(mac) = p.src_mac {
            self.host(ts, mac, ip.src, rec);
        }
        let (mut sport, mut dport, mut reply, mut icmp) = (0u16, 0u16, false, false);
        match p.l4 {
            Transport::Tcp(t) => {
                (sport, dport) = (t.sport, t.dport);
                reply = if t.flags & Tcp::SYN != 0 {
                    t.flags & Tcp::ACK != 0
                } else {
                    from_server(&ip, sport, dport)
                };
            }
            Transport::Udp(u) => {
                (sport, dport) = (u.sport, u.dport);
                reply = from_server(&ip, sport, dport);
            }
            Transport::Ports { sport: s, dport: d } => (sport, dport) = (s, d),
            Transport::Icmp { ty, code } => {
                (sport, dport) = (u16::from(ty), u16::from(code));
                reply = icmp_kind(ip.proto, ty).1;
                icmp = true;
            }
            Transport::None | Transport::Other => {}
        }
        match ip.frag {
            Frag::Whole => {}
            Frag::First { id } => {
                if self.frags.len() >= MAX_FRAGMENTS {
                    self.frags.clear();
                }
                self.frags
                    .insert((ip.src, ip.dst, ip.proto.0, id), (sport, dport));
            }
            Frag::Later { id } => match self.frags.get(&(ip.src, ip.dst, ip.proto.0, id)) {
                Some(&(s, d)) => (sport, dport) = (s, d),
                // The first fragment was not seen: its ports are unknown, so no flow.
                None => return,
            },
        }
        let info = PacketInfo {
            ts,
            src: ip.src,
            dst: ip.dst,
            sport,
            dport,
            proto: ip.proto,
            bytes: u64::from(ip.len),
            src_mac: p.src_mac,
            dst_mac: p.dst_mac,
            reply,
            icmp_type: icmp.then(|| icmp_kind(ip.proto, sport as u8).0),
        };
        let u = self.flows.update(&info, self.out.sink);
        if u.evicted > 0 && !self.flows_full {
            self.flows_full = true;
            self.out.anomaly(
                rec,
                AnomalyKind::Limit,
                "more flows than MAX_FLOWS: idle flows emitted early",
            );
        }
        if ip.frag != Frag::Whole {
            // No IP reassembly: a fragment's payload is not a whole message.
            return;
        }
        match p.l4 {
            Transport::Tcp(t) if !t.payload.is_empty() => {
                let dir = usize::from(!u.forward);
                tcp_payload(&mut u.entry.extra.dir[dir], &t, &ip, ts, rec, &mut self.out);
            }
            Transport::Udp(u) => self.udp(&u, &ip, &p, ts, rec, data_off),
            _ => {}
        }
    }

    fn udp(
        &mut self,
        u: &packet::Udp<'_>,
        ip: &Ip,
        p: &packet::Packet<'_>,
        ts: Micros,
        rec: u64,
        data_off: u64,
    ) {
        let (sport, dport, payload) = (u.sport, u.dport, u.payload);
        if sport == DNS_PORT || sport == MDNS_PORT {
            // Senders with checksum offload put wrong checksums on every datagram they send,
            // and passive DNS sensors often run on the resolver itself: report a mismatch once
            // per sender and still decode (a corrupt message fails to parse on its own).
            if !u.checksum_ok(ip)
                && self.bad_checksum.len() < MAX_CHECKSUM_SENDERS
                && self.bad_checksum.insert(ip.src)
            {
                self.out.anomaly(
                    rec,
                    AnomalyKind::Malformed,
                    "udp checksum mismatch on a dns response (first from this sender)",
                );
            }
            match dns::parse_message(payload) {
                Ok(m) => emit_dns(&m, ip.dst, ip.src, sport == MDNS_PORT, ts, &mut self.out),
                Err(e) => self.out.error(rec, e),
            }
            return;
        }
        if dport == DNS_PORT || dport == MDNS_PORT {
            return;
        }
        if matches!((sport, dport), (67 | 68, 67 | 68)) {
            match dhcp::parse(payload) {
                Ok(m) => {
                    let eth = if m.op == 1 {
                        p.src_mac
                    } else {
                        p.dst_mac.filter(|m| !m.is_multicast())
                    };
                    if let Some(mac) = m.chaddr.or(eth) {
                        self.out.observe(Observation::Dhcp(Dhcp {
                            ts,
                            mac,
                            ip: m.client_ip().map(IpAddr::V4),
                            host_name: m.host_name,
                            vendor_class: m.vendor_class,
                        }));
                    }
                }
                Err(e) => self.out.error(rec, e),
            }
            return;
        }
        let off = data_off + u.payload_off as u64;
        let is_port = |ports: &[u16]| ports.contains(&sport) || ports.contains(&dport);
        if is_port(&NETFLOW_PORTS) {
            let s = self.collector.datagram(ip.src, payload, off, self.out.sink);
            self.out.stats.add(&s);
        } else if is_port(&[SFLOW_PORT]) || sflow::looks_like_sflow(payload) {
            let s = sflow::datagram(payload, off, self.out.sink);
            self.out.stats.add(&s);
        } else if netflow::looks_like_export(payload) {
            let s = self.collector.datagram(ip.src, payload, off, self.out.sink);
            self.out.stats.add(&s);
        }
    }
}

fn emit_dns(
    m: &dns::Message,
    client: IpAddr,
    server: IpAddr,
    mdns: bool,
    ts: Micros,
    out: &mut Out<'_>,
) {
    if !m.response {
        return;
    }
    if mdns && m.answers.is_empty() {
        return;
    }
    let query = match (m.questions.first(), m.answers.first()) {
        (Some(q), _) => q.name.clone(),
        (None, Some(a)) if mdns => a.name.clone(),
        _ => return,
    };
    let answers = m
        .answers
        .iter()
        .map(|r| DnsRecord {
            name: r.name.clone(),
            ttl: r.ttl,
            data: match &r.data {
                dns::RData::Addr(a) => DnsData::Addr(*a),
                dns::RData::Cname(c) => DnsData::Cname(c.clone()),
            },
        })
        .collect();
    out.observe(Observation::Dns(Dns {
        ts,
        client: Some(client),
        server: Some(server),
        query,
        answers,
        uid: None,
    }));
}

/// Accepts the in-order part of a segment: `None` on a gap, the new bytes otherwise.
fn in_order<'p>(next: &mut u32, seq: u32, payload: &'p [u8]) -> Option<&'p [u8]> {
    let d = seq.wrapping_sub(*next) as i32;
    if d > 0 {
        return None;
    }
    let skip = d.unsigned_abs() as usize;
    let new = payload.get(skip..).unwrap_or(&[]);
    *next = next.wrapping_add(new.len() as u32);
    Some(new)
}

fn tcp_payload(st: &mut Stream, t: &Tcp<'_>, ip: &Ip, ts: Micros, rec: u64, out: &mut Out<'_>) {
    let name = |name: String, source: NameSource, out: &mut Out<'_>| {
        out.observe(Observation::Name(ServerName {
            ts,
            client: Some(ip.src),
            server: Some(ip.dst),
            server_port: t.dport,
            name,
            source,
            uid: None,
        }));
    };
    let payload = t.payload;
    match st {
        Stream::Done => {}
        Stream::Fresh => {
            if t.sport == DNS_PORT {
                *st = Stream::Dns {
                    next: t.seq,
                    buf: Vec::new(),
                };
                tcp_payload(st, t, ip, ts, rec, out);
            } else if t.dport == DNS_PORT {
                *st = Stream::Done;
            } else if tls::looks_like_handshake(payload) {
                *st = Stream::Done;
                match tls::client_hello_sni(payload) {
                    Ok(Some(n)) => name(n, NameSource::Tls, out),
                    Ok(None) => {}
                    Err(TlsError::Incomplete) => {
                        let next = t.seq.wrapping_add(payload.len() as u32);
                        *st = Stream::Tls {
                            next,
                            buf: payload.to_vec(),
                        };
                    }
                    // Servers send handshakes too: only a would-be ClientHello is an anomaly.
                    Err(TlsError::Bad(e)) if payload.get(5) == Some(&1) => out.error(rec, e),
                    Err(TlsError::Bad(_)) => {}
                }
            } else if tls::looks_like_http_request(payload) {
                *st = Stream::Done;
                match tls::http_request_host(payload) {
                    Ok(Some(h)) => name(h, NameSource::Http, out),
                    Ok(None) => {}
                    Err(e) => out.error(rec, e),
                }
            } else {
                *st = Stream::Done;
            }
        }
        Stream::Tls { next, buf } => {
            let Some(new) = in_order(next, t.seq, payload) else {
                *st = Stream::Done;
                return;
            };
            if new.is_empty() {
                return;
            }
            if buf.len() + new.len() > tls::MAX_TLS_REASSEMBLY + 5 * 8 {
                out.anomaly(
                    rec,
                    AnomalyKind::Limit,
                    "client hello larger than MAX_TLS_REASSEMBLY",
                );
                *st = Stream::Done;
                return;
            }
            buf.extend_from_slice(new);
            match tls::client_hello_sni(buf) {
                Err(TlsError::Incomplete) => return,
                Ok(Some(n)) => name(n, NameSource::Tls, out),
                Ok(None) => {}
                Err(TlsError::Bad(e)) => out.error(rec, e),
            }
            *st = Stream::Done;
        }
        Stream::Dns { next, buf } => {
            let Some(new) = in_order(next, t.seq, payload) else {
                *st = Stream::Done;
                return;
            };
            if new.is_empty() {
                return;
            }
            if buf.is_empty() {
                // Whole messages straight from the segment; only a partial one is copied.
                let rest = dns_messages(new, ip, ts, rec, out);
                buf.extend_from_slice(rest);
            } else {
                buf.extend_from_slice(new);
                let left = dns_messages(buf, ip, ts, rec, out).len();
                let used = buf.len() - left;
                buf.drain(..used);
            }
        }
    }
}

/// Parses the complete length-prefixed DNS messages at the start of `b`; returns the rest.
fn dns_messages<'b>(mut b: &'b [u8], ip: &Ip, ts: Micros, rec: u64, out: &mut Out<'_>) -> &'b [u8] {
    while b.len() >= 2 {
        let len = usize::from(u16::from_be_bytes([b[0], b[1]]));
        let Some(msg) = b.get(2..2 + len) else { break };
        match dns::parse_message(msg) {
            Ok(m) => emit_dns(&m, ip.dst, ip.src, false, ts, out),
            Err(e) => out.error(rec, e),
        }
        b = &b[2 + len..];
    }
    b
}
