//! Writes cordon's example telemetry: one morning in a small office, as a packet capture
//! (`office.pcap`), as the Zeek TSV logs Zeek would write for the same traffic (`zeek/`),
//! and as a generic CSV flow table (`flows.csv`).
//!
//! Usage: `cargo run -p cordon --example make_examples -- OUTDIR`
//!
//! **Deterministic**: no clock, no randomness but a seeded generator, so the committed
//! files in `examples/` can be checked byte for byte (`tests/examples_fresh.rs`). Every
//! output comes from one event list: each event emits its packets and, at the same time,
//! the log lines that describe them, so the capture and the logs cannot disagree.
//!
//! Packets are Ethernet II with correct IPv4 header, UDP and TCP checksums (IPv6 too);
//! TCP connections have a handshake, a TLS 1.3 ClientHello (with SNI when the client sent
//! one), server records, and a FIN exchange. The scenario is described in
//! `examples/README.md`.

use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::Path;

/// 2026-11-26T09:00:00Z.
const T0: u64 = 1_795_683_600;

/// xorshift64*: enough to make payload bytes and ports look varied, and reproducible.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

type MacAddr = [u8; 6];

const BROADCAST: MacAddr = [0xff; 6];
/// The office router (Cisco block): every packet to or from the internet crosses it.
const GATEWAY_MAC: MacAddr = [0x00, 0x1b, 0x54, 0x11, 0x22, 0x01];
const GATEWAY: Ipv4Addr = Ipv4Addr::new(10, 20, 0, 1);

#[derive(Clone, Copy)]
struct Host {
    mac: MacAddr,
    ip: IpAddr,
}

fn v4(a: u8, b: u8, c: u8, d: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(a, b, c, d))
}

fn v6(s: &str) -> IpAddr {
    IpAddr::V6(s.parse::<Ipv6Addr>().expect("valid literal"))
}

// ---------------------------------------------------------------------------------------
// Packets

fn sum16(mut acc: u32, b: &[u8]) -> u32 {
    let mut chunks = b.chunks_exact(2);
    for c in &mut chunks {
        acc += u32::from(u16::from_be_bytes([c[0], c[1]]));
    }
    if let [last] = chunks.remainder() {
        acc += u32::from(*last) << 8;
    }
    acc
}

fn fold(mut acc: u32) -> u16 {
    while acc > 0xffff {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    !(acc as u16)
}

/// The TCP/UDP checksum over the pseudo-header and the segment.
fn l4_checksum(src: IpAddr, dst: IpAddr, proto: u8, seg: &[u8]) -> u16 {
    let mut acc = 0;
    match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            acc = sum16(acc, &s.octets());
            acc = sum16(acc, &d.octets());
            acc = sum16(acc, &[0, proto]);
            acc = sum16(acc, &(seg.len() as u16).to_be_bytes());
        }
        (IpAddr::V6(s), IpAddr::V6(d)) => {
            acc = sum16(acc, &s.octets());
            acc = sum16(acc, &d.octets());
            acc = sum16(acc, &(seg.len() as u32).to_be_bytes());
            acc = sum16(acc, &[0, 0, 0, proto]);
        }
        _ => unreachable!("mixed address families"),
    }
    let c = fold(sum16(acc, seg));
    // UDP sends an all-zero checksum as all ones.
    if c == 0 && proto == 17 {
        0xffff
    } else {
        c
    }
}

/// An IPv4 or IPv6 packet around `seg`.
fn ip_packet(src: IpAddr, dst: IpAddr, proto: u8, id: u16, seg: &[u8]) -> Vec<u8> {
    match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            let mut h = vec![0u8; 20];
            h[0] = 0x45;
            h[2..4].copy_from_slice(&((20 + seg.len()) as u16).to_be_bytes());
            h[4..6].copy_from_slice(&id.to_be_bytes());
            if proto == 6 {
                h[6] = 0x40; // don't fragment
            }
            h[8] = 64;
            h[9] = proto;
            h[12..16].copy_from_slice(&s.octets());
            h[16..20].copy_from_slice(&d.octets());
            let c = fold(sum16(0, &h));
            h[10..12].copy_from_slice(&c.to_be_bytes());
            h.extend_from_slice(seg);
            h
        }
        (IpAddr::V6(s), IpAddr::V6(d)) => {
            let mut h = vec![0u8; 40];
            h[0] = 0x60;
            h[4..6].copy_from_slice(&(seg.len() as u16).to_be_bytes());
            h[6] = proto;
            h[7] = 64;
            h[8..24].copy_from_slice(&s.octets());
            h[24..40].copy_from_slice(&d.octets());
            h.extend_from_slice(seg);
            h
        }
        _ => unreachable!("mixed address families"),
    }
}

fn udp_segment(src: IpAddr, dst: IpAddr, sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
    let mut s = Vec::with_capacity(8 + payload.len());
    s.extend_from_slice(&sport.to_be_bytes());
    s.extend_from_slice(&dport.to_be_bytes());
    s.extend_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
    s.extend_from_slice(&[0, 0]);
    s.extend_from_slice(payload);
    let c = l4_checksum(src, dst, 17, &s);
    s[6..8].copy_from_slice(&c.to_be_bytes());
    s
}

const FIN: u8 = 0x01;
const SYN: u8 = 0x02;
const PSH: u8 = 0x08;
const ACK: u8 = 0x10;

#[allow(clippy::too_many_arguments)]
fn tcp_segment(
    src: IpAddr,
    dst: IpAddr,
    sport: u16,
    dport: u16,
    seq: u32,
    ack: u32,
    flags: u8,
    payload: &[u8],
) -> Vec<u8> {
    // SYNs carry MSS 1460, SACK permitted and window scale 7, as Linux does.
    let opts: &[u8] = if flags & SYN != 0 {
        &[2, 4, 0x05, 0xb4, 4, 2, 1, 3, 3, 7]
    } else {
        &[]
    };
    let hlen = 20 + opts.len().div_ceil(4) * 4;
    let mut s = Vec::with_capacity(hlen + payload.len());
    s.extend_from_slice(&sport.to_be_bytes());
    s.extend_from_slice(&dport.to_be_bytes());
    s.extend_from_slice(&seq.to_be_bytes());
    s.extend_from_slice(&ack.to_be_bytes());
    s.push(((hlen / 4) as u8) << 4);
    s.push(flags);
    s.extend_from_slice(&(if flags & SYN != 0 { 64240u16 } else { 502 }).to_be_bytes());
    s.extend_from_slice(&[0, 0, 0, 0]);
    s.extend_from_slice(opts);
    s.resize(hlen, 0); // end-of-options padding
    s.extend_from_slice(payload);
    let c = l4_checksum(src, dst, 6, &s);
    s[16..18].copy_from_slice(&c.to_be_bytes());
    s
}

fn ethernet(dst: MacAddr, src: MacAddr, ip: &IpAddr, packet: &[u8]) -> Vec<u8> {
    let mut f = Vec::with_capacity(14 + packet.len());
    f.extend_from_slice(&dst);
    f.extend_from_slice(&src);
    f.extend_from_slice(if ip.is_ipv4() {
        &[0x08, 0x00]
    } else {
        &[0x86, 0xdd]
    });
    f.extend_from_slice(packet);
    f
}

// ---------------------------------------------------------------------------------------
// Application payloads

fn dns_name(out: &mut Vec<u8>, name: &str) {
    for label in name.split('.') {
        out.push(label.len() as u8);
        out.extend_from_slice(label.as_bytes());
    }
    out.push(0);
}

#[derive(Clone)]
enum Rdata {
    Cname(&'static str),
    Addr(IpAddr),
}

/// One answer record: owner name, data, TTL.
type Answer = (&'static str, Rdata, u32);

fn dns_message(id: u16, query: &str, qtype: u16, answers: Option<&[Answer]>, rcode: u8) -> Vec<u8> {
    let mut m = Vec::new();
    m.extend_from_slice(&id.to_be_bytes());
    match answers {
        None => m.extend_from_slice(&[0x01, 0x00]), // query, recursion desired
        Some(_) => m.extend_from_slice(&[0x81, 0x80 | rcode]),
    }
    let an = answers.map_or(0, |a| a.len() as u16);
    m.extend_from_slice(&[0, 1]);
    m.extend_from_slice(&an.to_be_bytes());
    m.extend_from_slice(&[0, 0, 0, 0]);
    dns_name(&mut m, query);
    m.extend_from_slice(&qtype.to_be_bytes());
    m.extend_from_slice(&[0, 1]);
    for (owner, data, ttl) in answers.unwrap_or(&[]) {
        dns_name(&mut m, owner);
        let (ty, rdata) = match data {
            Rdata::Cname(t) => {
                let mut r = Vec::new();
                dns_name(&mut r, t);
                (5u16, r)
            }
            Rdata::Addr(IpAddr::V4(a)) => (1, a.octets().to_vec()),
            Rdata::Addr(IpAddr::V6(a)) => (28, a.octets().to_vec()),
        };
        m.extend_from_slice(&ty.to_be_bytes());
        m.extend_from_slice(&[0, 1]);
        m.extend_from_slice(&ttl.to_be_bytes());
        m.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
        m.extend_from_slice(&rdata);
    }
    m
}

fn ext(out: &mut Vec<u8>, ty: u16, body: &[u8]) {
    out.extend_from_slice(&ty.to_be_bytes());
    out.extend_from_slice(&(body.len() as u16).to_be_bytes());
    out.extend_from_slice(body);
}

/// A TLS 1.3 ClientHello record as browsers send it (trimmed), with SNI when given.
fn client_hello(rng: &mut Rng, sni: Option<&str>) -> Vec<u8> {
    let mut exts = Vec::new();
    if let Some(name) = sni {
        let mut b = Vec::new();
        b.extend_from_slice(&((name.len() + 3) as u16).to_be_bytes());
        b.push(0);
        b.extend_from_slice(&(name.len() as u16).to_be_bytes());
        b.extend_from_slice(name.as_bytes());
        ext(&mut exts, 0, &b);
    }
    ext(&mut exts, 23, &[]); // extended master secret
    ext(&mut exts, 65281, &[0]); // renegotiation info
    ext(&mut exts, 10, &[0, 6, 0, 0x1d, 0, 0x17, 0, 0x18]); // groups: x25519, P-256, P-384
    ext(&mut exts, 11, &[1, 0]); // EC point formats
    ext(&mut exts, 16, b"\x00\x0c\x02h2\x08http/1.1"); // ALPN
    ext(&mut exts, 13, &[0, 8, 4, 3, 8, 4, 4, 1, 5, 3]); // signature algorithms
    let mut ks = vec![0, 36, 0, 0x1d, 0, 32];
    ks.extend(rng.bytes(32));
    ext(&mut exts, 51, &ks); // key share
    ext(&mut exts, 45, &[1, 1]); // PSK modes
    ext(&mut exts, 43, &[4, 3, 4, 3, 3]); // supported versions: 1.3, 1.2
    let mut body = vec![3, 3];
    body.extend(rng.bytes(32));
    body.push(32);
    body.extend(rng.bytes(32));
    let suites: [u16; 8] = [
        0x1301, 0x1303, 0x1302, 0xc02b, 0xc02f, 0xcca9, 0xcca8, 0xc02c,
    ];
    body.extend_from_slice(&((suites.len() * 2) as u16).to_be_bytes());
    for s in suites {
        body.extend_from_slice(&s.to_be_bytes());
    }
    body.extend_from_slice(&[1, 0]);
    body.extend_from_slice(&(exts.len() as u16).to_be_bytes());
    body.extend(exts);
    let mut hs = vec![1];
    hs.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
    hs.extend(body);
    tls_record(0x16, 0x0301, &hs)
}

fn tls_record(ty: u8, version: u16, body: &[u8]) -> Vec<u8> {
    let mut r = vec![ty];
    r.extend_from_slice(&version.to_be_bytes());
    r.extend_from_slice(&(body.len() as u16).to_be_bytes());
    r.extend_from_slice(body);
    r
}

/// Opaque TLS records of about `n` bytes in total (the first a handshake record).
fn tls_records(rng: &mut Rng, n: usize, handshake: bool) -> Vec<u8> {
    let mut out = Vec::new();
    let mut first = true;
    while out.len() + 5 < n {
        let len = (n - out.len() - 5).min(4000);
        let ty = if first && handshake { 0x16 } else { 0x17 };
        out.extend(tls_record(ty, 0x0303, &rng.bytes(len)));
        first = false;
    }
    out
}

/// A DHCPv4 client or server message.
fn dhcp_message(
    op: u8,
    xid: u32,
    mac: MacAddr,
    yiaddr: Ipv4Addr,
    opts: &[(u8, Vec<u8>)],
) -> Vec<u8> {
    let mut m = vec![0u8; 236];
    m[0] = op;
    m[1] = 1;
    m[2] = 6;
    m[4..8].copy_from_slice(&xid.to_be_bytes());
    if op == 1 {
        m[10] = 0x80; // broadcast: the client has no address yet
    }
    m[16..20].copy_from_slice(&yiaddr.octets());
    m[28..34].copy_from_slice(&mac);
    m.extend_from_slice(&[99, 130, 83, 99]);
    for (code, val) in opts {
        m.push(*code);
        m.push(val.len() as u8);
        m.extend_from_slice(val);
    }
    m.push(255);
    while m.len() < 300 {
        m.push(0);
    }
    m
}

// ---------------------------------------------------------------------------------------
// Events, packets and the Zeek log lines that describe them

/// One connection as Zeek counts it.
struct Conn {
    uid: String,
    start: u64,
    last: u64,
    orig: (IpAddr, u16),
    resp: (IpAddr, u16),
    proto: &'static str,
    service: &'static str,
    orig_bytes: u64,
    resp_bytes: u64,
    orig_pkts: u64,
    resp_pkts: u64,
    orig_ip_bytes: u64,
    resp_ip_bytes: u64,
    history: String,
    state: &'static str,
}

struct World {
    rng: Rng,
    pcap: Vec<u8>,
    ip_id: u16,
    uid_n: u64,
    conns: Vec<Conn>,
    dns: Vec<String>,
    ssl: Vec<String>,
    dhcp: Vec<String>,
    csv: Vec<(u64, String)>,
}

fn ts(us: u64) -> String {
    format!("{}.{:06}", us / 1_000_000, us % 1_000_000)
}

fn interval(us: u64) -> String {
    format!("{}.{:06}", us / 1_000_000, us % 1_000_000)
}

impl World {
    fn new() -> World {
        let mut pcap = Vec::new();
        pcap.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
        pcap.extend_from_slice(&2u16.to_le_bytes());
        pcap.extend_from_slice(&4u16.to_le_bytes());
        pcap.extend_from_slice(&[0; 8]);
        pcap.extend_from_slice(&65_535u32.to_le_bytes());
        pcap.extend_from_slice(&1u32.to_le_bytes()); // Ethernet
        World {
            rng: Rng(0x00c0_4d0e_2026_1126),
            pcap,
            ip_id: 0x1c46,
            uid_n: 0,
            conns: Vec::new(),
            dns: Vec::new(),
            ssl: Vec::new(),
            dhcp: Vec::new(),
            csv: Vec::new(),
        }
    }

    /// A Zeek-style connection uid: `C` and 17 base-62 characters.
    fn uid(&mut self) -> String {
        const A: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
        self.uid_n += 1;
        let mut s = String::from("C");
        for _ in 0..17 {
            s.push(A[self.rng.below(62) as usize] as char);
        }
        s
    }

    fn ephemeral(&mut self) -> u16 {
        32_768 + self.rng.below(28_000) as u16
    }

    fn frame(&mut self, t: u64, frame: &[u8]) {
        self.pcap
            .extend_from_slice(&((t / 1_000_000) as u32).to_le_bytes());
        self.pcap
            .extend_from_slice(&((t % 1_000_000) as u32).to_le_bytes());
        self.pcap
            .extend_from_slice(&(frame.len() as u32).to_le_bytes());
        self.pcap
            .extend_from_slice(&(frame.len() as u32).to_le_bytes());
        self.pcap.extend_from_slice(frame);
    }

    /// Sends one IP packet of `c` from the originator (`from_orig`) or the responder.
    #[allow(clippy::too_many_arguments)]
    fn send(
        &mut self,
        c: &mut Conn,
        t: u64,
        from_orig: bool,
        macs: (MacAddr, MacAddr),
        proto: u8,
        seg: Vec<u8>,
        payload: usize,
    ) {
        let (src, dst) = if from_orig {
            (c.orig.0, c.resp.0)
        } else {
            (c.resp.0, c.orig.0)
        };
        self.ip_id = self.ip_id.wrapping_add(1 + self.rng.below(7) as u16);
        let pkt = ip_packet(src, dst, proto, self.ip_id, &seg);
        let (smac, dmac) = if from_orig { macs } else { (macs.1, macs.0) };
        let f = ethernet(dmac, smac, &src, &pkt);
        self.frame(t, &f);
        c.last = c.last.max(t);
        if from_orig {
            c.orig_pkts += 1;
            c.orig_ip_bytes += pkt.len() as u64;
            c.orig_bytes += payload as u64;
        } else {
            c.resp_pkts += 1;
            c.resp_ip_bytes += pkt.len() as u64;
            c.resp_bytes += payload as u64;
        }
    }

    fn conn(
        &mut self,
        t: u64,
        orig: (IpAddr, u16),
        resp: (IpAddr, u16),
        proto: &'static str,
        service: &'static str,
    ) -> Conn {
        Conn {
            uid: self.uid(),
            start: t,
            last: t,
            orig,
            resp,
            proto,
            service,
            orig_bytes: 0,
            resp_bytes: 0,
            orig_pkts: 0,
            resp_pkts: 0,
            orig_ip_bytes: 0,
            resp_ip_bytes: 0,
            history: String::new(),
            state: "SF",
        }
    }

    /// A DNS lookup from `client` to `server` (port 53) and its answer (NOERROR).
    fn dns(
        &mut self,
        t: u64,
        client: Host,
        server: IpAddr,
        query: &'static str,
        qtype: u16,
        answers: &[Answer],
    ) {
        let rcode = 0;
        let sport = self.ephemeral();
        let mut c = self.conn(t, (client.ip, sport), (server, 53), "udp", "dns");
        let id = self.rng.next() as u16;
        let q = dns_message(id, query, qtype, None, 0);
        let seg = udp_segment(client.ip, server, sport, 53, &q);
        self.send(&mut c, t, true, (client.mac, GATEWAY_MAC), 17, seg, q.len());
        let rtt = 8_000 + self.rng.below(30_000);
        let r = dns_message(id, query, qtype, Some(answers), rcode);
        let seg = udp_segment(server, client.ip, 53, sport, &r);
        self.send(
            &mut c,
            t + rtt,
            false,
            (client.mac, GATEWAY_MAC),
            17,
            seg,
            r.len(),
        );
        c.history = "Dd".into();
        let data: Vec<String> = answers
            .iter()
            .map(|(_, d, _)| match d {
                Rdata::Cname(n) => n.to_string(),
                Rdata::Addr(a) => a.to_string(),
            })
            .collect();
        let ttls: Vec<String> = answers
            .iter()
            .map(|(_, _, t)| format!("{t}.000000"))
            .collect();
        let (qt, rc) = (if qtype == 28 { "AAAA" } else { "A" }, "NOERROR");
        let set = |v: &[String]| {
            if v.is_empty() {
                "-".to_string()
            } else {
                v.join(",")
            }
        };
        self.dns.push(format!(
            "{}\t{}\t{}\t{}\t{}\t53\tudp\t{id}\t{}\t{query}\t1\tC_INTERNET\t{qtype}\t{qt}\t{rcode}\t{rc}\tF\tF\tT\tT\t0\t{}\t{}\tF",
            ts(t),
            c.uid,
            client.ip,
            sport,
            server,
            interval(rtt),
            set(&data),
            set(&ttls),
        ));
        self.finish(c);
    }

    /// A TCP connection with a TLS session: handshake, ClientHello (SNI when given), server
    /// flight, `exchanges` of (request, response) application bytes, then FINs.
    fn tls(
        &mut self,
        t: u64,
        client: Host,
        server: IpAddr,
        sni: Option<&'static str>,
        flight: usize,
        exchanges: &[(usize, usize)],
    ) {
        let sport = self.ephemeral();
        let mut c = self.conn(t, (client.ip, sport), (server, 443), "tcp", "ssl");
        let macs = (client.mac, GATEWAY_MAC);
        let (cip, sip) = (client.ip, server);
        let rtt = 15_000 + self.rng.below(120_000);
        let mut now = t;
        let mut cseq = self.rng.next() as u32;
        let mut sseq = self.rng.next() as u32;
        let seg = tcp_segment(cip, sip, sport, 443, cseq, 0, SYN, &[]);
        self.send(&mut c, now, true, macs, 6, seg, 0);
        now += rtt;
        let seg = tcp_segment(
            sip,
            cip,
            443,
            sport,
            sseq,
            cseq.wrapping_add(1),
            SYN | ACK,
            &[],
        );
        self.send(&mut c, now, false, macs, 6, seg, 0);
        cseq = cseq.wrapping_add(1);
        sseq = sseq.wrapping_add(1);
        now += 120;
        let seg = tcp_segment(cip, sip, sport, 443, cseq, sseq, ACK, &[]);
        self.send(&mut c, now, true, macs, 6, seg, 0);
        // Client data, server data, alternately; each data burst split at the MSS.
        let hello = client_hello(&mut self.rng, sni);
        let mut bursts: Vec<(bool, Vec<u8>)> = vec![
            (true, hello),
            (false, tls_records(&mut self.rng, flight, true)),
        ];
        for &(up, down) in exchanges {
            bursts.push((true, tls_records(&mut self.rng, up, false)));
            bursts.push((false, tls_records(&mut self.rng, down, false)));
        }
        for (i, (from_client, data)) in bursts.iter().enumerate() {
            now += if i == 0 {
                300
            } else {
                rtt / 2 + self.rng.below(4_000)
            };
            let chunks: Vec<&[u8]> = data.chunks(1448).collect();
            for (j, chunk) in chunks.iter().enumerate() {
                let flags = if j + 1 == chunks.len() {
                    PSH | ACK
                } else {
                    ACK
                };
                let seg = if *from_client {
                    tcp_segment(cip, sip, sport, 443, cseq, sseq, flags, chunk)
                } else {
                    tcp_segment(sip, cip, 443, sport, sseq, cseq, flags, chunk)
                };
                self.send(&mut c, now, *from_client, macs, 6, seg, chunk.len());
                if *from_client {
                    cseq = cseq.wrapping_add(chunk.len() as u32);
                } else {
                    sseq = sseq.wrapping_add(chunk.len() as u32);
                }
                now += 40 + self.rng.below(200);
            }
            // The receiver acknowledges the burst.
            now += rtt / 2;
            let seg = if *from_client {
                tcp_segment(sip, cip, 443, sport, sseq, cseq, ACK, &[])
            } else {
                tcp_segment(cip, sip, sport, 443, cseq, sseq, ACK, &[])
            };
            self.send(&mut c, now, !*from_client, macs, 6, seg, 0);
        }
        now += 2_000_000 + self.rng.below(3_000_000);
        let seg = tcp_segment(cip, sip, sport, 443, cseq, sseq, FIN | ACK, &[]);
        self.send(&mut c, now, true, macs, 6, seg, 0);
        cseq = cseq.wrapping_add(1);
        now += rtt;
        let seg = tcp_segment(sip, cip, 443, sport, sseq, cseq, FIN | ACK, &[]);
        self.send(&mut c, now, false, macs, 6, seg, 0);
        sseq = sseq.wrapping_add(1);
        now += 150;
        let seg = tcp_segment(cip, sip, sport, 443, cseq, sseq, ACK, &[]);
        self.send(&mut c, now, true, macs, 6, seg, 0);
        c.history = "ShADadFf".into();
        self.ssl.push(format!(
            "{}\t{}\t{}\t{}\t{}\t443\tTLSv13\tTLS_AES_128_GCM_SHA256\tx25519\t{}\tF\t-\th2\tT\tCsiI\t(empty)\t(empty)\t-",
            ts(t + rtt + 420),
            c.uid,
            cip,
            sport,
            sip,
            sni.unwrap_or("-"),
        ));
        self.finish(c);
    }

    /// A DHCP exchange: DISCOVER, OFFER, REQUEST, ACK, the client naming itself with
    /// option 12 and its software with option 60.
    fn dhcp(&mut self, t: u64, client: Host, host_name: &str, vendor_class: &str) {
        let IpAddr::V4(addr) = client.ip else {
            unreachable!("DHCPv4")
        };
        let xid = self.rng.next() as u32;
        let any = v4(0, 0, 0, 0);
        let bcast = v4(255, 255, 255, 255);
        let mut cc = self.conn(t, (any, 68), (bcast, 67), "udp", "dhcp");
        let mut sc = self.conn(
            t + 1_500,
            (IpAddr::V4(GATEWAY), 67),
            (bcast, 68),
            "udp",
            "dhcp",
        );
        let params = vec![1, 3, 6, 15, 28, 42, 51, 58, 59];
        let mut id = vec![1];
        id.extend_from_slice(&client.mac);
        let server_opts = |kind: u8| {
            vec![
                (53, vec![kind]),
                (54, GATEWAY.octets().to_vec()),
                (51, 86_400u32.to_be_bytes().to_vec()),
                (1, vec![255, 255, 0, 0]),
                (3, GATEWAY.octets().to_vec()),
                (6, vec![8, 8, 8, 8]),
            ]
        };
        let mut now = t;
        for (kind, from_client) in [(1u8, true), (2, false), (3, true), (5, false)] {
            let msg = if from_client {
                let mut opts = vec![(53, vec![kind]), (61, id.clone())];
                if kind == 3 {
                    opts.push((50, addr.octets().to_vec()));
                    opts.push((54, GATEWAY.octets().to_vec()));
                }
                opts.push((12, host_name.as_bytes().to_vec()));
                opts.push((60, vendor_class.as_bytes().to_vec()));
                opts.push((55, params.clone()));
                dhcp_message(1, xid, client.mac, Ipv4Addr::UNSPECIFIED, &opts)
            } else {
                dhcp_message(2, xid, client.mac, addr, &server_opts(kind))
            };
            let (c, src, sport, dport, macs) = if from_client {
                (&mut cc, any, 68, 67, (client.mac, BROADCAST))
            } else {
                (
                    &mut sc,
                    IpAddr::V4(GATEWAY),
                    67,
                    68,
                    (GATEWAY_MAC, BROADCAST),
                )
            };
            let seg = udp_segment(src, bcast, sport, dport, &msg);
            let len = msg.len();
            // Each direction is its own Zeek connection, originated by the sender.
            self.send(c, now, true, macs, 17, seg, len);
            now += 1_500 + self.rng.below(2_000);
        }
        cc.history = "D".into();
        sc.history = "D".into();
        cc.state = "S0";
        sc.state = "S0";
        self.dhcp.push(format!(
            "{}\t{},{}\t{addr}\t{GATEWAY}\t{}\t{host_name}\t-\t-\t{addr}\t{addr}\t86400.000000\t-\t-\tDISCOVER,OFFER,REQUEST,ACK\t{}\t{vendor_class}\t-",
            ts(t),
            cc.uid,
            sc.uid,
            mac_text(client.mac),
            interval(now - t),
        ));
        self.finish(cc);
        self.finish(sc);
    }

    fn finish(&mut self, c: Conn) {
        self.csv.push((
            c.start,
            format!(
                "{},{},{},{},{},{},{},{},{},{},{}",
                iso(c.start),
                iso(c.last),
                c.orig.0,
                c.resp.0,
                c.orig.1,
                c.resp.1,
                c.proto,
                c.orig_ip_bytes,
                c.resp_ip_bytes,
                c.orig_pkts,
                c.resp_pkts
            ),
        ));
        self.conns.push(c);
    }
}

fn mac_text(m: MacAddr) -> String {
    m.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// RFC 3339 in UTC with milliseconds, for days in November 2026 only.
fn iso(us: u64) -> String {
    let s = us / 1_000_000;
    let day = (s - 1_793_491_200) / 86_400 + 1; // 2026-11-01T00:00:00Z
    let sod = s % 86_400;
    format!(
        "2026-11-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        sod / 3600,
        sod / 60 % 60,
        sod % 60,
        us % 1_000_000 / 1000
    )
}

fn zeek_log(
    path: &str,
    fields: &[(&str, &str)],
    mut lines: Vec<(u64, String)>,
    open: u64,
) -> String {
    lines.sort_by_key(|(t, _)| *t);
    let mut s = String::new();
    s.push_str("#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n");
    let _ = writeln!(s, "#path\t{path}");
    let _ = writeln!(s, "#open\t{}", zeek_date(open));
    let names: Vec<&str> = fields.iter().map(|f| f.0).collect();
    let types: Vec<&str> = fields.iter().map(|f| f.1).collect();
    let _ = writeln!(s, "#fields\t{}", names.join("\t"));
    let _ = writeln!(s, "#types\t{}", types.join("\t"));
    for (_, l) in &lines {
        s.push_str(l);
        s.push('\n');
    }
    let _ = writeln!(s, "#close\t{}", zeek_date(open + 3_600_000_000));
    s
}

fn zeek_date(us: u64) -> String {
    // `2026-11-26-09-00-00`, as Zeek writes #open and #close.
    iso(us)[..19].replace(['T', ':'], "-")
}

fn lead_ts(line: &str) -> u64 {
    let t = line.split('\t').next().unwrap_or("0");
    let (s, f) = t.split_once('.').unwrap_or((t, "0"));
    s.parse::<u64>().unwrap_or(0) * 1_000_000 + f.parse::<u64>().unwrap_or(0)
}

const CONN_FIELDS: &[(&str, &str)] = &[
    ("ts", "time"),
    ("uid", "string"),
    ("id.orig_h", "addr"),
    ("id.orig_p", "port"),
    ("id.resp_h", "addr"),
    ("id.resp_p", "port"),
    ("proto", "enum"),
    ("service", "string"),
    ("duration", "interval"),
    ("orig_bytes", "count"),
    ("resp_bytes", "count"),
    ("conn_state", "string"),
    ("local_orig", "bool"),
    ("local_resp", "bool"),
    ("missed_bytes", "count"),
    ("history", "string"),
    ("orig_pkts", "count"),
    ("orig_ip_bytes", "count"),
    ("resp_pkts", "count"),
    ("resp_ip_bytes", "count"),
    ("tunnel_parents", "set[string]"),
];

const DNS_FIELDS: &[(&str, &str)] = &[
    ("ts", "time"),
    ("uid", "string"),
    ("id.orig_h", "addr"),
    ("id.orig_p", "port"),
    ("id.resp_h", "addr"),
    ("id.resp_p", "port"),
    ("proto", "enum"),
    ("trans_id", "count"),
    ("rtt", "interval"),
    ("query", "string"),
    ("qclass", "count"),
    ("qclass_name", "string"),
    ("qtype", "count"),
    ("qtype_name", "string"),
    ("rcode", "count"),
    ("rcode_name", "string"),
    ("AA", "bool"),
    ("TC", "bool"),
    ("RD", "bool"),
    ("RA", "bool"),
    ("Z", "count"),
    ("answers", "vector[string]"),
    ("TTLs", "vector[interval]"),
    ("rejected", "bool"),
];

const SSL_FIELDS: &[(&str, &str)] = &[
    ("ts", "time"),
    ("uid", "string"),
    ("id.orig_h", "addr"),
    ("id.orig_p", "port"),
    ("id.resp_h", "addr"),
    ("id.resp_p", "port"),
    ("version", "string"),
    ("cipher", "string"),
    ("curve", "string"),
    ("server_name", "string"),
    ("resumed", "bool"),
    ("last_alert", "string"),
    ("next_protocol", "string"),
    ("established", "bool"),
    ("ssl_history", "string"),
    ("cert_chain_fps", "vector[string]"),
    ("client_cert_chain_fps", "vector[string]"),
    ("sni_matches_cert", "bool"),
];

const DHCP_FIELDS: &[(&str, &str)] = &[
    ("ts", "time"),
    ("uids", "set[string]"),
    ("client_addr", "addr"),
    ("server_addr", "addr"),
    ("mac", "string"),
    ("host_name", "string"),
    ("client_fqdn", "string"),
    ("domain", "string"),
    ("requested_addr", "addr"),
    ("assigned_addr", "addr"),
    ("lease_time", "interval"),
    ("client_message", "string"),
    ("server_message", "string"),
    ("msg_types", "vector[string]"),
    ("duration", "interval"),
    ("client_software", "string"),
    ("server_software", "string"),
];

fn internal(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(a) => a.is_private(),
        IpAddr::V6(a) => (a.segments()[0] & 0xfe00) == 0xfc00,
    }
}

/// The office morning. Each line is one event; `s` is seconds after 09:00.
fn scenario(w: &mut World) {
    let s = |sec: f64| T0 * 1_000_000 + (sec * 1e6) as u64;
    let google_dns = v4(8, 8, 8, 8);
    let google_dns6 = v6("2001:4860:4860::8888");

    // Hosts (MAC blocks: Apple a4:83:e7 and 3c:22:fb, Dell f8:bc:12, Intel 8c:8d:28).
    let laptop = Host {
        mac: [0xa4, 0x83, 0xe7, 0x5e, 0x10, 0x23],
        ip: v4(10, 20, 1, 23),
    };
    let dev = Host {
        mac: [0x3c, 0x22, 0xfb, 0x9a, 0x01, 0x42],
        ip: v4(10, 20, 1, 42),
    };
    let camera = Host {
        mac: [0x44, 0x19, 0xb6, 0x3a, 0x7c, 0x01],
        ip: v4(10, 20, 5, 17),
    };
    let router = Host {
        mac: [0x50, 0xc7, 0xbf, 0x12, 0x34, 0x56],
        ip: v4(10, 20, 0, 2),
    };
    let ws_mac = [0xf8, 0xbc, 0x12, 0x44, 0x02, 0x08];
    let ws = Host {
        mac: ws_mac,
        ip: v4(10, 20, 2, 8),
    };
    let ws6 = Host {
        mac: ws_mac,
        ip: v6("fd00::2:8"),
    };
    let lookalike = Host {
        mac: [0x8c, 0x8d, 0x28, 0x03, 0x33, 0x01],
        ip: v4(10, 20, 3, 33),
    };
    let honor = Host {
        mac: [0x04, 0x79, 0x75, 0x2b, 0x9e, 0x10],
        ip: v4(10, 20, 4, 52),
    };
    let random = Host {
        mac: [0x6a, 0x3e, 0x91, 0x0c, 0x55, 0x12],
        ip: v4(10, 20, 4, 51),
    };

    // Remote addresses (see examples/README.md for who is behind each).
    let cdn = [v4(47, 246, 23, 10), v4(47, 246, 23, 11)];
    let dashscope = v4(8, 219, 131, 52);
    let hik = [v4(3, 120, 181, 40), v4(3, 121, 6, 180)];
    let telecom = v4(218, 30, 118, 6);
    let unicom6 = v6("2408:8000:1010:1::8");
    let google = v4(142, 250, 185, 68);
    let google6 = v6("2a00:1450:4001:82b::2004");
    let notalibaba = v4(93, 184, 215, 14);
    let travel = v4(104, 21, 48, 7);
    let example = v4(198, 51, 100, 23);

    // DHCP: the TP-Link access point, the Hikvision camera, and two phones (traps: a
    // divested brand's MAC, a randomised MAC).
    w.dhcp(s(0.4), router, "Archer-AX55", "TP-LINK");
    w.dhcp(s(2.1), camera, "DS-2CD2143G2-IS", "udhcp 1.20.2");
    w.dhcp(s(5.3), honor, "HONOR-Magic6-Pro", "android-dhcp-14");
    w.dhcp(s(7.8), random, "Galaxy-S24", "android-dhcp-14");

    // c. The camera phones home: a Hik-Connect name on AWS (Frankfurt).
    let hik_answers: &[Answer] = &[
        (
            "api.hik-connect.com",
            Rdata::Cname("hikconnect-euc1-prod-2031657981.eu-central-1.elb.amazonaws.com"),
            300,
        ),
        (
            "hikconnect-euc1-prod-2031657981.eu-central-1.elb.amazonaws.com",
            Rdata::Addr(hik[0]),
            60,
        ),
        (
            "hikconnect-euc1-prod-2031657981.eu-central-1.elb.amazonaws.com",
            Rdata::Addr(hik[1]),
            60,
        ),
    ];
    w.dns(
        s(10.2),
        camera,
        google_dns,
        "api.hik-connect.com",
        1,
        hik_answers,
    );
    w.tls(
        s(10.3),
        camera,
        hik[0],
        Some("api.hik-connect.com"),
        2100,
        &[(310, 190), (700, 105)],
    );
    w.tls(
        s(70.6),
        camera,
        hik[1],
        Some("api.hik-connect.com"),
        2100,
        &[(270, 190)],
    );

    // a. A shop whose www name is a CNAME into Alibaba's CDN.
    let shop_answers: &[Answer] = &[
        (
            "www.shop-example.com",
            Rdata::Cname("shop-example.com.w.alikunlun.com"),
            600,
        ),
        ("shop-example.com.w.alikunlun.com", Rdata::Addr(cdn[0]), 60),
        ("shop-example.com.w.alikunlun.com", Rdata::Addr(cdn[1]), 60),
    ];
    w.dns(
        s(20.0),
        laptop,
        google_dns,
        "www.shop-example.com",
        1,
        shop_answers,
    );
    w.tls(
        s(20.1),
        laptop,
        cdn[0],
        Some("www.shop-example.com"),
        1900,
        &[(450, 2600), (350, 1450)],
    );
    w.tls(
        s(21.4),
        laptop,
        cdn[1],
        Some("www.shop-example.com"),
        1900,
        &[(325, 2050)],
    );

    // b. A developer calls the Qwen model API (DashScope international) directly.
    w.tls(
        s(31.0),
        dev,
        dashscope,
        Some("dashscope-intl.aliyuncs.com"),
        2300,
        &[(1450, 900), (1800, 1200)],
    );
    w.tls(
        s(95.2),
        dev,
        dashscope,
        Some("dashscope-intl.aliyuncs.com"),
        2300,
        &[(2050, 1050)],
    );

    // f. Benign: Google, from the laptop, the Honor phone and (IPv6) the workstation.
    let g: &[Answer] = &[("www.google.com", Rdata::Addr(google), 300)];
    w.dns(s(40.0), laptop, google_dns, "www.google.com", 1, g);
    w.tls(
        s(40.1),
        laptop,
        google,
        Some("www.google.com"),
        2400,
        &[(400, 3050)],
    );
    w.dns(s(44.5), honor, google_dns, "www.google.com", 1, g);
    w.tls(
        s(44.6),
        honor,
        google,
        Some("www.google.com"),
        2400,
        &[(350, 1950)],
    );
    let g6: &[Answer] = &[("www.google.com", Rdata::Addr(google6), 300)];
    w.dns(s(47.0), ws6, google_dns6, "www.google.com", 28, g6);
    w.tls(
        s(47.1),
        ws6,
        google6,
        Some("www.google.com"),
        2400,
        &[(380, 2500)],
    );

    // e. The workstation reaches a China Telecom address and a China Unicom IPv6 address
    // (no names: only the addresses' networks say who they are).
    w.tls(s(52.0), ws, telecom, None, 1500, &[(600, 400)]);
    w.tls(s(57.5), ws6, unicom6, None, 1500, &[(550, 450)]);

    // g. Look-alikes: names that contain "alibaba" or "alicdn" but are not theirs.
    let na: &[Answer] = &[("notalibaba.com", Rdata::Addr(notalibaba), 3600)];
    w.dns(s(61.0), lookalike, google_dns, "notalibaba.com", 1, na);
    w.tls(
        s(61.1),
        lookalike,
        notalibaba,
        Some("notalibaba.com"),
        1650,
        &[(250, 1300)],
    );
    let at: &[Answer] = &[("alibaba-travel.com", Rdata::Addr(travel), 300)];
    w.dns(s(63.0), lookalike, google_dns, "alibaba-travel.com", 1, at);
    w.tls(
        s(63.1),
        lookalike,
        travel,
        Some("alibaba-travel.com"),
        1650,
        &[(325, 1550)],
    );
    let ae: &[Answer] = &[("alicdn.com.example", Rdata::Addr(example), 300)];
    w.dns(s(66.0), lookalike, google_dns, "alicdn.com.example", 1, ae);
    w.tls(
        s(66.1),
        lookalike,
        example,
        Some("alicdn.com.example"),
        1450,
        &[(240, 750)],
    );
}

fn main() {
    let Some(out) = std::env::args_os().nth(1) else {
        eprintln!("usage: make_examples OUTDIR");
        std::process::exit(2);
    };
    if let Err(e) = write_all(Path::new(&out)) {
        eprintln!("make_examples: {e}");
        std::process::exit(1);
    }
}

/// Writes `office.pcap`, `zeek/*.log` and `flows.csv` into `out` (created if needed).
pub fn write_all(out: &Path) -> std::io::Result<()> {
    let mut w = World::new();
    scenario(&mut w);
    std::fs::create_dir_all(out.join("zeek"))?;
    std::fs::write(out.join("office.pcap"), &w.pcap)?;

    let open = T0 * 1_000_000;
    let conns: Vec<(u64, String)> = w
        .conns
        .iter()
        .map(|c| {
            (
                c.start,
                format!(
                    "{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t0\t{}\t{}\t{}\t{}\t{}\t-",
                    ts(c.start),
                    c.uid,
                    c.orig.0,
                    c.orig.1,
                    c.resp.0,
                    c.resp.1,
                    c.proto,
                    c.service,
                    interval(c.last - c.start),
                    c.orig_bytes,
                    c.resp_bytes,
                    c.state,
                    if internal(c.orig.0) { "T" } else { "F" },
                    if internal(c.resp.0) { "T" } else { "F" },
                    c.history,
                    c.orig_pkts,
                    c.orig_ip_bytes,
                    c.resp_pkts,
                    c.resp_ip_bytes,
                ),
            )
        })
        .collect();
    let with_ts = |v: &[String]| {
        v.iter()
            .map(|l| (lead_ts(l), l.clone()))
            .collect::<Vec<_>>()
    };
    let logs = [
        ("conn.log", zeek_log("conn", CONN_FIELDS, conns, open)),
        (
            "dns.log",
            zeek_log("dns", DNS_FIELDS, with_ts(&w.dns), open),
        ),
        (
            "ssl.log",
            zeek_log("ssl", SSL_FIELDS, with_ts(&w.ssl), open),
        ),
        (
            "dhcp.log",
            zeek_log("dhcp", DHCP_FIELDS, with_ts(&w.dhcp), open),
        ),
    ];
    for (name, text) in logs {
        std::fs::write(out.join("zeek").join(name), text)?;
    }
    let mut csv = String::from(
        "start,end,src,dst,sport,dport,proto,bytes_out,bytes_in,packets_out,packets_in\n",
    );
    w.csv.sort_by_key(|(t, _)| *t);
    for (_, l) in &w.csv {
        csv.push_str(l);
        csv.push('\n');
    }
    std::fs::write(out.join("flows.csv"), csv)
}
