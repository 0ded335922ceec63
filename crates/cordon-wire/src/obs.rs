//! Observations: what every decoder produces, whatever the input format.
//!
//! A decoder turns bytes into a stream of [`Observation`]s and [`Anomaly`]s, pushed into a
//! [`Sink`]. Observations are plain values with no reference to the input buffer, so the
//! pipeline can keep them after the buffer is gone. Timestamps are Unix microseconds (UTC).
//!
//! **Invariant: a decoder never panics and never stops at the first bad record.** It reports
//! an [`Anomaly`] with the byte offset of the bad record within its input and goes on with
//! the next record it can find.

use std::fmt;
use std::net::IpAddr;

/// Unix time in microseconds.
pub type Micros = i64;

/// A MAC-48 address.
#[derive(Copy, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Mac(pub [u8; 6]);

impl Mac {
    /// True for locally administered (typically randomised) addresses: they name no maker.
    pub fn is_local(self) -> bool {
        self.0[0] & 0x02 != 0
    }
    /// True for group (multicast and broadcast) addresses.
    pub fn is_multicast(self) -> bool {
        self.0[0] & 0x01 != 0
    }
    /// True for 00:00:00:00:00:00.
    pub fn is_zero(self) -> bool {
        self.0 == [0; 6]
    }
    /// Parses `aa:bb:cc:dd:ee:ff`, `aa-bb-cc-dd-ee-ff`, `aabb.ccdd.eeff` or `aabbccddeeff`.
    pub fn parse(s: &str) -> Option<Mac> {
        let mut out = [0u8; 6];
        let mut n = 0usize;
        let mut hi: Option<u8> = None;
        for c in s.bytes() {
            let v = match c {
                b'0'..=b'9' => c - b'0',
                b'a'..=b'f' => c - b'a' + 10,
                b'A'..=b'F' => c - b'A' + 10,
                b':' | b'-' | b'.' => {
                    if hi.is_some() {
                        return None;
                    }
                    continue;
                }
                _ => return None,
            };
            match hi.take() {
                None => hi = Some(v),
                Some(h) => {
                    if n == 6 {
                        return None;
                    }
                    out[n] = h << 4 | v;
                    n += 1;
                }
            }
        }
        if n == 6 && hi.is_none() {
            Some(Mac(out))
        } else {
            None
        }
    }
}

impl fmt::Display for Mac {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let m = self.0;
        write!(
            f,
            "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
            m[0], m[1], m[2], m[3], m[4], m[5]
        )
    }
}

impl fmt::Debug for Mac {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// IP protocol number (open registry: unknown values survive).
#[derive(Copy, Clone, PartialEq, Eq, Hash, Debug, Default, PartialOrd, Ord)]
pub struct IpProto(pub u8);

impl IpProto {
    pub const ICMP: IpProto = IpProto(1);
    pub const TCP: IpProto = IpProto(6);
    pub const UDP: IpProto = IpProto(17);
    pub const ICMPV6: IpProto = IpProto(58);
    pub const SCTP: IpProto = IpProto(132);
}

/// One flow: a conversation between two endpoints, counted in both directions.
///
/// `src` is the side that started it when the input says so (the originator in Zeek, the
/// first packet's sender in a capture); flow exports are unidirectional, so their `*_in`
/// counters are zero.
#[derive(Clone, Debug, PartialEq)]
pub struct Flow {
    pub first: Micros,
    pub last: Micros,
    pub src: IpAddr,
    pub dst: IpAddr,
    pub sport: u16,
    pub dport: u16,
    pub proto: IpProto,
    /// Bytes and packets from `src` to `dst` (already multiplied by the sampling rate).
    pub bytes_out: u64,
    pub packets_out: u64,
    /// Bytes and packets from `dst` to `src`.
    pub bytes_in: u64,
    pub packets_in: u64,
    pub src_mac: Option<Mac>,
    pub dst_mac: Option<Mac>,
    /// Zeek's connection uid, when the input has one: links ssl/http/dns records to it.
    pub uid: Option<Box<str>>,
    /// Packet sampling rate the exporter declared (1 = unsampled). Counters above are as
    /// exported, not scaled.
    pub sampling: u32,
}

/// One resource record of a DNS answer that cordon uses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DnsData {
    /// An A or AAAA record.
    Addr(IpAddr),
    /// A CNAME: the owner name is an alias of this target.
    Cname(String),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DnsRecord {
    /// Owner name, lowercase, without the trailing dot.
    pub name: String,
    pub data: DnsData,
    pub ttl: u32,
}

/// A DNS query and the answers seen for it (possibly none).
#[derive(Clone, Debug, PartialEq)]
pub struct Dns {
    pub ts: Micros,
    /// The resolver's client, when known.
    pub client: Option<IpAddr>,
    pub server: Option<IpAddr>,
    /// Query name, lowercase, without the trailing dot.
    pub query: String,
    /// Answer records in the order given (CNAME chains included).
    pub answers: Vec<DnsRecord>,
    pub uid: Option<Box<str>>,
}

/// Which protocol carried a server name.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum NameSource {
    /// TLS ClientHello server_name (or Zeek ssl.log server_name).
    Tls,
    /// HTTP Host header.
    Http,
    /// x509 certificate subject / SAN (Zeek x509.log).
    X509,
}

/// A server name seen on a connection: TLS SNI, HTTP Host, certificate name.
#[derive(Clone, Debug, PartialEq)]
pub struct ServerName {
    pub ts: Micros,
    pub client: Option<IpAddr>,
    pub server: Option<IpAddr>,
    pub server_port: u16,
    /// Lowercase, without a port or trailing dot.
    pub name: String,
    pub source: NameSource,
    pub uid: Option<Box<str>>,
}

/// A DHCP message from (or about) a client.
#[derive(Clone, Debug, PartialEq)]
pub struct Dhcp {
    pub ts: Micros,
    pub mac: Mac,
    /// The client's address: yiaddr/ciaddr/requested address, when known.
    pub ip: Option<IpAddr>,
    /// Option 12.
    pub host_name: Option<String>,
    /// Option 60.
    pub vendor_class: Option<String>,
}

/// A local host seen with its MAC address (Ethernet source, ARP, Zeek known_devices).
#[derive(Clone, Debug, PartialEq)]
pub struct HostMac {
    pub ts: Micros,
    pub mac: Mac,
    pub ip: Option<IpAddr>,
}

/// Everything a decoder can report.
#[derive(Clone, Debug, PartialEq)]
pub enum Observation {
    Flow(Flow),
    Dns(Dns),
    Name(ServerName),
    Dhcp(Dhcp),
    Host(HostMac),
}

/// What went wrong with one record.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AnomalyKind {
    /// The record ends before a length it declares.
    Truncated,
    /// A field holds a value the format does not allow.
    Malformed,
    /// A length or count exceeds one of cordon's named caps.
    Limit,
    /// A compression pointer loop or similar cycle.
    Loop,
    /// A record refers to something not seen (e.g. a NetFlow template).
    Missing,
    /// A version or type cordon does not decode.
    Unsupported,
}

impl AnomalyKind {
    pub fn as_str(self) -> &'static str {
        match self {
            AnomalyKind::Truncated => "truncated",
            AnomalyKind::Malformed => "malformed",
            AnomalyKind::Limit => "limit",
            AnomalyKind::Loop => "loop",
            AnomalyKind::Missing => "missing",
            AnomalyKind::Unsupported => "unsupported",
        }
    }
}

/// A bad record: where it is in the input and what is wrong with it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Anomaly {
    /// Byte offset of the record within the decoder's input.
    pub offset: u64,
    pub kind: AnomalyKind,
    /// Lowercase, no trailing period, e.g. "tcp header shorter than 20 bytes".
    pub detail: String,
}

/// Where decoders push what they find.
pub trait Sink {
    fn observe(&mut self, obs: Observation);
    fn anomaly(&mut self, anomaly: Anomaly);
    /// Whether a flow between `src` and `dst` needs its ports, packet counts and protocol.
    /// When this says no, a decoder may leave them zero to save parsing them; times,
    /// addresses, byte counts, MACs, uid, stats and anomalies are the same either way. The
    /// default is yes.
    fn wants_detail(&mut self, _src: IpAddr, _dst: IpAddr) -> bool {
        true
    }
}

/// A sink that keeps everything, for tests and small inputs.
#[derive(Default, Debug)]
pub struct VecSink {
    pub observations: Vec<Observation>,
    pub anomalies: Vec<Anomaly>,
}

impl Sink for VecSink {
    fn observe(&mut self, obs: Observation) {
        self.observations.push(obs);
    }
    fn anomaly(&mut self, anomaly: Anomaly) {
        self.anomalies.push(anomaly);
    }
}

/// What a decoder says about its whole input when it is done.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct DecodeStats {
    /// Records decoded: packets for captures, flow records for flow exports, data lines for
    /// logs.
    pub records: u64,
    /// For flow exports: the sum of the records' octet counters. For captures: the captured
    /// bytes of the packets. For logs: the sum of the byte counters of flow lines.
    pub bytes: u64,
    /// Anomalies reported.
    pub anomalies: u64,
    /// Flow records decoded from NetFlow/IPFIX/sFlow export datagrams (inside a capture of
    /// export traffic, or a raw datagram file), and the sum of their octet counters as
    /// exported: these compare directly with nfdump's totals.
    pub export_records: u64,
    pub export_bytes: u64,
}

impl DecodeStats {
    /// Adds another decoder's counts to these.
    pub fn add(&mut self, other: &DecodeStats) {
        // Saturating: hostile counters must not be able to overflow a sum.
        self.records = self.records.saturating_add(other.records);
        self.bytes = self.bytes.saturating_add(other.bytes);
        self.anomalies = self.anomalies.saturating_add(other.anomalies);
        self.export_records = self.export_records.saturating_add(other.export_records);
        self.export_bytes = self.export_bytes.saturating_add(other.export_bytes);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mac_forms() {
        let want = Mac([0x00, 0x0c, 0x29, 0xab, 0xcd, 0xef]);
        for s in [
            "00:0c:29:ab:cd:ef",
            "00-0C-29-AB-CD-EF",
            "000c.29ab.cdef",
            "000c29abcdef",
        ] {
            assert_eq!(Mac::parse(s), Some(want), "{s}");
        }
        for s in [
            "00:0c:29:ab:cd",
            "00:0c:29:ab:cd:ef:01",
            "0:0c:29:ab:cd:ef",
            "zz:0c:29:ab:cd:ef",
        ] {
            assert_eq!(Mac::parse(s), None, "{s}");
        }
        assert_eq!(want.to_string(), "00:0c:29:ab:cd:ef");
        assert!(Mac([0x02, 0, 0, 0, 0, 1]).is_local());
        assert!(!want.is_local());
        assert!(Mac([0x01, 0, 0x5e, 0, 0, 1]).is_multicast());
    }
}
