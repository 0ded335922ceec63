//! Capture decoder end to end: synthetic frames built here, small real captures shipped in
//! `tests/data/capture`, and (when present) the shared corpus with Zeek's own conn.log as the
//! reference for flow endpoints.

mod common;

use cordon_wire::capture::{self, Config};
use cordon_wire::{
    AnomalyKind, DecodeStats, DnsData, Flow, IpProto, NameSource, Observation, VecSink,
};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

// ---------------------------------------------------------------------------------------
// What a decode produced, in comparable form.

type DhcpSeen = (String, Option<String>, Option<String>, Option<String>);
/// (what, file, packets, anomalies as (offset, kind)).
type BadCase = (&'static str, Vec<u8>, u64, Vec<(u64, AnomalyKind)>);

#[derive(Default, Debug)]
struct Seen {
    stats: DecodeStats,
    flows: Vec<Flow>,
    /// (query, answers as "owner=data") per DNS observation.
    dns: Vec<(String, Vec<String>)>,
    names: Vec<(NameSource, String, u16)>,
    /// (mac, address, host name, vendor class).
    dhcp: Vec<DhcpSeen>,
    hosts: Vec<(String, String)>,
    anomalies: Vec<(u64, AnomalyKind)>,
}

fn run_with(input: &[u8], cfg: &Config) -> Seen {
    let mut sink = VecSink::default();
    let stats = capture::decode_with(input, cfg, &mut sink);
    let mut s = Seen {
        stats,
        ..Seen::default()
    };
    assert_eq!(
        stats.anomalies,
        sink.anomalies.len() as u64,
        "stats count every anomaly pushed"
    );
    for o in sink.observations {
        match o {
            Observation::Flow(f) => s.flows.push(f),
            Observation::Dns(d) => s.dns.push((
                d.query,
                d.answers
                    .iter()
                    .map(|a| match &a.data {
                        DnsData::Addr(ip) => format!("{}={ip}", a.name),
                        DnsData::Cname(c) => format!("{}={c}", a.name),
                    })
                    .collect(),
            )),
            Observation::Name(n) => s.names.push((n.source, n.name, n.server_port)),
            Observation::Dhcp(d) => s.dhcp.push((
                d.mac.to_string(),
                d.ip.map(|i| i.to_string()),
                d.host_name,
                d.vendor_class,
            )),
            Observation::Host(h) => s.hosts.push((
                h.mac.to_string(),
                h.ip.map(|i| i.to_string()).unwrap_or_default(),
            )),
        }
    }
    s.anomalies = sink.anomalies.iter().map(|a| (a.offset, a.kind)).collect();
    s
}

fn run(input: &[u8]) -> Seen {
    run_with(input, &Config::default())
}

// ---------------------------------------------------------------------------------------
// Frame and file builders.

fn ipv4_udp(src: [u8; 4], dst: [u8; 4], sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
    let mut l4 = Vec::new();
    l4.extend_from_slice(&sport.to_be_bytes());
    l4.extend_from_slice(&dport.to_be_bytes());
    l4.extend_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
    l4.extend_from_slice(&[0, 0]); // no checksum
    l4.extend_from_slice(payload);
    ipv4(src, dst, 17, &l4)
}

fn ipv4_tcp(
    src: [u8; 4],
    dst: [u8; 4],
    sport: u16,
    dport: u16,
    seq: u32,
    flags: u8,
    payload: &[u8],
) -> Vec<u8> {
    let mut l4 = Vec::new();
    l4.extend_from_slice(&sport.to_be_bytes());
    l4.extend_from_slice(&dport.to_be_bytes());
    l4.extend_from_slice(&seq.to_be_bytes());
    l4.extend_from_slice(&[0, 0, 0, 0, 0x50, flags, 0xff, 0xff, 0, 0, 0, 0]);
    l4.extend_from_slice(payload);
    ipv4(src, dst, 6, &l4)
}

fn ipv4(src: [u8; 4], dst: [u8; 4], proto: u8, l4: &[u8]) -> Vec<u8> {
    let mut v = vec![0x45, 0];
    v.extend_from_slice(&((20 + l4.len()) as u16).to_be_bytes());
    v.extend_from_slice(&[0, 1, 0, 0, 64, proto, 0, 0]);
    v.extend_from_slice(&src);
    v.extend_from_slice(&dst);
    v.extend_from_slice(l4);
    v
}

const MAC_A: [u8; 6] = [0x28, 0xcf, 0xda, 0, 0, 1];
const MAC_B: [u8; 6] = [0x00, 0x0c, 0x29, 0, 0, 2];

fn eth(src: [u8; 6], dst: [u8; 6], vlans: &[u16], ethertype: u16, ip: &[u8]) -> Vec<u8> {
    let mut v = dst.to_vec();
    v.extend_from_slice(&src);
    for &tpid in vlans {
        v.extend_from_slice(&tpid.to_be_bytes());
        v.extend_from_slice(&[0x00, 0x0a]);
    }
    v.extend_from_slice(&ethertype.to_be_bytes());
    v.extend_from_slice(ip);
    v
}

/// A little-endian microsecond pcap.
fn pcap(link: u32, frames: &[(i64, Vec<u8>)]) -> Vec<u8> {
    let mut v = vec![
        0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 4, 0,
    ];
    v.extend_from_slice(&link.to_le_bytes());
    for (ts, f) in frames {
        v.extend_from_slice(&((ts / 1_000_000) as u32).to_le_bytes());
        v.extend_from_slice(&((ts % 1_000_000) as u32).to_le_bytes());
        v.extend_from_slice(&(f.len() as u32).to_le_bytes());
        v.extend_from_slice(&(f.len() as u32).to_le_bytes());
        v.extend_from_slice(f);
    }
    v
}

/// A big-endian pcapng with one interface per entry of `ifaces` (link type, tsresol byte);
/// frames name their interface.
fn pcapng_be(ifaces: &[(u16, u8)], frames: &[(usize, u64, Vec<u8>)]) -> Vec<u8> {
    fn block(out: &mut Vec<u8>, ty: u32, body: &[u8]) {
        let len = 12 + body.len().div_ceil(4) * 4;
        out.extend_from_slice(&ty.to_be_bytes());
        out.extend_from_slice(&(len as u32).to_be_bytes());
        out.extend_from_slice(body);
        out.resize(out.len() + (len - 12 - body.len()), 0);
        out.extend_from_slice(&(len as u32).to_be_bytes());
    }
    let mut v = Vec::new();
    block(
        &mut v,
        0x0a0d0d0a,
        &[
            0x1a, 0x2b, 0x3c, 0x4d, 0, 1, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        ],
    );
    for &(link, res) in ifaces {
        let mut b = link.to_be_bytes().to_vec();
        b.extend_from_slice(&[0, 0, 0, 0, 0xff, 0xff]);
        b.extend_from_slice(&[0, 9, 0, 1, res, 0, 0, 0, 0, 0, 0, 0]);
        block(&mut v, 1, &b);
    }
    for (ifc, ts, f) in frames {
        let mut b = (*ifc as u32).to_be_bytes().to_vec();
        b.extend_from_slice(&((ts >> 32) as u32).to_be_bytes());
        b.extend_from_slice(&(*ts as u32).to_be_bytes());
        b.extend_from_slice(&(f.len() as u32).to_be_bytes());
        b.extend_from_slice(&(f.len() as u32).to_be_bytes());
        b.extend_from_slice(f);
        block(&mut v, 6, &b);
    }
    v
}

/// A TLS ClientHello record for `sni`, padded to about `pad` extra bytes (post-quantum key
/// shares make real ones ~1.8 KB).
fn client_hello(sni: &str, pad: usize) -> Vec<u8> {
    let n = sni.as_bytes();
    let mut exts = Vec::new();
    exts.extend_from_slice(&[0, 0]);
    exts.extend_from_slice(&((n.len() + 5) as u16).to_be_bytes());
    exts.extend_from_slice(&((n.len() + 3) as u16).to_be_bytes());
    exts.push(0);
    exts.extend_from_slice(&(n.len() as u16).to_be_bytes());
    exts.extend_from_slice(n);
    exts.extend_from_slice(&[0, 21]);
    exts.extend_from_slice(&(pad as u16).to_be_bytes());
    exts.resize(exts.len() + pad, 0);
    let mut body = vec![3, 3];
    body.extend_from_slice(&[9; 32]);
    body.extend_from_slice(&[0, 0, 2, 0x13, 0x01, 1, 0]);
    body.extend_from_slice(&(exts.len() as u16).to_be_bytes());
    body.extend_from_slice(&exts);
    let mut rec = vec![22, 3, 1];
    rec.extend_from_slice(&((body.len() + 4) as u16).to_be_bytes());
    rec.extend_from_slice(&[1, 0]);
    rec.extend_from_slice(&(body.len() as u16).to_be_bytes());
    rec.extend_from_slice(&body);
    rec
}

fn dns_response(id: u16, qname: &str, answers: &[(&str, &str)]) -> Vec<u8> {
    fn name(v: &mut Vec<u8>, n: &str) {
        for l in n.split('.') {
            v.push(l.len() as u8);
            v.extend_from_slice(l.as_bytes());
        }
        v.push(0);
    }
    let mut v = id.to_be_bytes().to_vec();
    v.extend_from_slice(&[0x81, 0x80, 0, 1]);
    v.extend_from_slice(&(answers.len() as u16).to_be_bytes());
    v.extend_from_slice(&[0, 0, 0, 0]);
    name(&mut v, qname);
    v.extend_from_slice(&[0, 1, 0, 1]);
    for (owner, data) in answers {
        name(&mut v, owner);
        if let Ok(ip) = data.parse::<std::net::Ipv4Addr>() {
            v.extend_from_slice(&[0, 1, 0, 1, 0, 0, 0, 60, 0, 4]);
            v.extend_from_slice(&ip.octets());
        } else {
            let mut t = Vec::new();
            name(&mut t, data);
            v.extend_from_slice(&[0, 5, 0, 1, 0, 0, 0, 60]);
            v.extend_from_slice(&(t.len() as u16).to_be_bytes());
            v.extend_from_slice(&t);
        }
    }
    v
}

const CLIENT: [u8; 4] = [10, 0, 0, 5];
const SERVER: [u8; 4] = [198, 51, 100, 7];

/// The TCP connection of the shipped fixture `tls-split-clienthello.pcap`: handshake, then a
/// 1.8 KB ClientHello in two segments, with a retransmission of the first in between.
fn split_tls_frames() -> Vec<(i64, Vec<u8>)> {
    let hello = client_hello("pq.Example.ORG", 1700);
    let (a, b) = hello.split_at(1200);
    let e = |src, dst, ip: Vec<u8>| eth(src, dst, &[], 0x0800, &ip);
    vec![
        (
            1_000_000,
            e(
                MAC_A,
                MAC_B,
                ipv4_tcp(CLIENT, SERVER, 40000, 443, 100, 0x02, &[]),
            ),
        ),
        (
            1_000_100,
            e(
                MAC_B,
                MAC_A,
                ipv4_tcp(SERVER, CLIENT, 443, 40000, 900, 0x12, &[]),
            ),
        ),
        (
            1_000_200,
            e(
                MAC_A,
                MAC_B,
                ipv4_tcp(CLIENT, SERVER, 40000, 443, 101, 0x10, &[]),
            ),
        ),
        (
            1_000_300,
            e(
                MAC_A,
                MAC_B,
                ipv4_tcp(CLIENT, SERVER, 40000, 443, 101, 0x18, a),
            ),
        ),
        (
            1_000_400,
            e(
                MAC_A,
                MAC_B,
                ipv4_tcp(CLIENT, SERVER, 40000, 443, 101, 0x18, a),
            ),
        ),
        (
            1_000_500,
            e(
                MAC_A,
                MAC_B,
                ipv4_tcp(CLIENT, SERVER, 40000, 443, 101 + a.len() as u32, 0x18, b),
            ),
        ),
        (
            1_000_600,
            e(
                MAC_B,
                MAC_A,
                ipv4_tcp(SERVER, CLIENT, 443, 40000, 901, 0x10, &[]),
            ),
        ),
    ]
}

fn own_data() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/capture")
}

// ---------------------------------------------------------------------------------------
// Synthetic cases.

#[test]
fn tls_client_hello_split_across_segments() {
    let file = pcap(1, &split_tls_frames());
    // The shipped fixture is this builder's output: regenerate it with
    // CORDON_REGEN_FIXTURES=1 if the builder changes.
    if std::env::var_os("CORDON_REGEN_FIXTURES").is_some() {
        std::fs::write(own_data().join("tls-split-clienthello.pcap"), &file).unwrap();
    }
    let shipped = std::fs::read(own_data().join("tls-split-clienthello.pcap")).expect("fixture");
    assert_eq!(
        shipped, file,
        "tests/data/capture/tls-split-clienthello.pcap is stale"
    );
    let s = run(&file);
    assert_eq!(
        s.names,
        vec![(NameSource::Tls, "pq.example.org".to_string(), 443)]
    );
    assert_eq!(s.anomalies, vec![]);
    assert_eq!(s.flows.len(), 1);
    let f = &s.flows[0];
    assert_eq!(
        (f.src.to_string(), f.sport, f.dport),
        ("10.0.0.5".to_string(), 40000, 443)
    );
    assert_eq!((f.packets_out, f.packets_in), (5, 2));
    assert_eq!(
        f.src_mac.map(|m| m.to_string()).as_deref(),
        Some("28:cf:da:00:00:01")
    );
    assert_eq!(
        s.hosts,
        vec![("28:cf:da:00:00:01".to_string(), "10.0.0.5".to_string())]
    );
    assert_eq!(s.stats.records, 7);
}

#[test]
fn tls_segment_gap_gives_no_name_and_no_anomaly() {
    let mut frames = split_tls_frames();
    frames.remove(4);
    frames.remove(3); // the first half of the ClientHello is never seen
    let s = run(&pcap(1, &frames));
    assert_eq!(s.names, vec![]);
}

#[test]
fn dns_over_tcp_split_and_udp_with_vlans() {
    let msg = dns_response(
        7,
        "WWW.Apple.com",
        &[
            ("www.apple.com", "www.apple.com.edgekey.net"),
            ("www.apple.com.edgekey.net", "e6858.dsce9.akamaiedge.net"),
            ("e6858.dsce9.akamaiedge.net", "23.1.2.3"),
        ],
    );
    let mut stream = (msg.len() as u16).to_be_bytes().to_vec();
    stream.extend_from_slice(&msg);
    stream.extend_from_slice(&stream.clone()); // two messages back to back
    let (a, b) = stream.split_at(msg.len() / 2);
    let tcp = |seq, p: &[u8]| {
        eth(
            MAC_B,
            MAC_A,
            &[0x88a8, 0x8100],
            0x0800,
            &ipv4_tcp([9, 9, 9, 9], CLIENT, 53, 5555, seq, 0x18, p),
        )
    };
    let udp = eth(
        MAC_B,
        MAC_A,
        &[0x8100],
        0x0800,
        &ipv4_udp([9, 9, 9, 9], CLIENT, 53, 5556, &msg),
    );
    let s = run(&pcap(
        1,
        &[(1, tcp(1, a)), (2, tcp(1 + a.len() as u32, b)), (3, udp)],
    ));
    let want_answers = vec![
        "www.apple.com=www.apple.com.edgekey.net".to_string(),
        "www.apple.com.edgekey.net=e6858.dsce9.akamaiedge.net".to_string(),
        "e6858.dsce9.akamaiedge.net=23.1.2.3".to_string(),
    ];
    assert_eq!(s.dns.len(), 3, "{:?}", s.dns);
    for (q, ans) in &s.dns {
        assert_eq!(q, "www.apple.com");
        assert_eq!(ans, &want_answers);
    }
    assert_eq!(s.flows.len(), 2);
}

#[test]
fn link_types_reach_the_same_flow() {
    let ip = ipv4_udp(CLIENT, SERVER, 1234, 9999, b"hello");
    let mut sll = vec![0, 0, 0, 1, 0, 6];
    sll.extend_from_slice(&MAC_A);
    sll.extend_from_slice(&[0, 0, 0x08, 0x00]);
    sll.extend_from_slice(&ip);
    let mut sll2 = vec![0x08, 0x00, 0, 0, 0, 0, 0, 2, 0, 1, 0, 6];
    sll2.extend_from_slice(&MAC_A);
    sll2.extend_from_slice(&[0, 0]);
    sll2.extend_from_slice(&ip);
    let mut null = 2u32.to_le_bytes().to_vec();
    null.extend_from_slice(&ip);
    let mut lo = 2u32.to_be_bytes().to_vec();
    lo.extend_from_slice(&ip);
    let cases: &[(u32, Vec<u8>, bool)] = &[
        (
            1,
            eth(MAC_A, MAC_B, &[0x8100, 0x8100, 0x8100], 0x0800, &ip),
            true,
        ),
        (113, sll, true),
        (276, sll2, true),
        (0, null, false),
        (108, lo, false),
        (101, ip.clone(), false),
        (12, ip.clone(), false),
        (14, ip.clone(), false),
    ];
    for (link, frame, has_mac) in cases {
        let s = run(&pcap(*link, &[(5, frame.clone())]));
        assert_eq!(s.anomalies, vec![], "link {link}");
        assert_eq!(s.flows.len(), 1, "link {link}");
        let f = &s.flows[0];
        assert_eq!(
            (f.src.to_string(), f.dport, f.bytes_out),
            ("10.0.0.5".to_string(), 9999, 33),
            "link {link}"
        );
        assert_eq!(f.src_mac.is_some(), *has_mac, "link {link}");
    }
}

#[test]
fn pcap_and_pcapng_agree() {
    // Differential oracle: the same packets through both container formats, pcapng with two
    // interfaces of different link types and timestamp resolutions.
    let frames = split_tls_frames();
    let a = run(&pcap(1, &frames));
    let ng: Vec<(usize, u64, Vec<u8>)> = frames
        .iter()
        .enumerate()
        .map(|(i, (ts, f))| {
            if i % 2 == 0 {
                (0, *ts as u64 * 1000, f.clone()) // nanoseconds on interface 0
            } else {
                // Raw IP on interface 1, in units of 2^-20 s.
                (
                    1,
                    (*ts as u128 * 1_048_576 / 1_000_000) as u64,
                    f[14..].to_vec(),
                )
            }
        })
        .collect();
    let b = run(&pcapng_be(&[(1, 9), (101, 0x80 | 20)], &ng));
    assert_eq!(a.names, b.names);
    assert_eq!(a.stats.records, b.stats.records);
    assert_eq!(b.anomalies, vec![]);
    assert_eq!(a.flows.len(), 1);
    assert_eq!(b.flows.len(), 1);
    let (fa, fb) = (&a.flows[0], &b.flows[0]);
    assert_eq!(
        (
            fa.src,
            fa.dst,
            fa.bytes_out,
            fa.bytes_in,
            fa.packets_out,
            fa.packets_in
        ),
        (
            fb.src,
            fb.dst,
            fb.bytes_out,
            fb.bytes_in,
            fb.packets_out,
            fb.packets_in
        )
    );
    assert_eq!(fa.first, fb.first);
    // Binary resolution rounds down by at most a microsecond.
    assert!((fa.last - fb.last).abs() <= 1, "{} vs {}", fa.last, fb.last);
}

#[test]
fn bad_files_and_records() {
    let good = eth(
        MAC_A,
        MAC_B,
        &[],
        0x0800,
        &ipv4_udp(CLIENT, SERVER, 1, 2, b"x"),
    );
    let mut trailing = pcap(1, &[(1, good.clone())]);
    trailing.extend_from_slice(&[1, 2, 3, 4, 5]);
    let mut cut = pcap(1, &[(1, good.clone()), (2, good.clone())]);
    cut.truncate(cut.len() - 3);
    let mut huge = pcap(1, &[(1, good.clone())]);
    huge.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0x7f, 0, 0, 0, 0]);
    let bad_tcp = eth(
        MAC_A,
        MAC_B,
        &[],
        0x0800,
        &ipv4(CLIENT, SERVER, 6, &[0, 80, 0, 81, 0, 0]),
    );
    let bad_ihl = {
        let mut ip = ipv4_udp(CLIENT, SERVER, 1, 2, b"x");
        ip[0] = 0x43;
        eth(MAC_A, MAC_B, &[], 0x0800, &ip)
    };
    let loop_dns = {
        let mut m = vec![
            0, 1, 0x81, 0x80, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 12, 0, 1, 0, 1,
        ];
        m.truncate(18);
        eth(
            MAC_B,
            MAC_A,
            &[],
            0x0800,
            &ipv4_udp(SERVER, CLIENT, 53, 999, &m),
        )
    };
    let vlan_bomb = eth(
        MAC_A,
        MAC_B,
        &[0x8100; 6],
        0x0800,
        &ipv4_udp(CLIENT, SERVER, 1, 2, b"x"),
    );
    // (what, file, packets, anomalies as (offset, kind)).
    let cases: Vec<BadCase> = vec![
        ("empty input", vec![], 0, vec![(0, AnomalyKind::Truncated)]),
        (
            "not a capture",
            b"hello world, no pcap".to_vec(),
            0,
            vec![(0, AnomalyKind::Unsupported)],
        ),
        (
            "short header",
            pcap(1, &[])[..20].to_vec(),
            0,
            vec![(0, AnomalyKind::Truncated)],
        ),
        ("header only", pcap(1, &[]), 0, vec![]),
        (
            "trailing bytes",
            trailing,
            1,
            vec![(24 + 16 + good.len() as u64, AnomalyKind::Truncated)],
        ),
        (
            "last record cut",
            cut,
            1,
            vec![(24 + 16 + good.len() as u64, AnomalyKind::Truncated)],
        ),
        (
            "record length beyond MAX_SNAPLEN",
            huge,
            1,
            vec![(24 + 16 + good.len() as u64, AnomalyKind::Limit)],
        ),
        (
            "tcp header of 6 bytes then a good packet",
            pcap(1, &[(1, bad_tcp), (2, good.clone())]),
            2,
            vec![(24, AnomalyKind::Malformed)],
        ),
        (
            "ihl 3",
            pcap(1, &[(1, bad_ihl)]),
            1,
            vec![(24, AnomalyKind::Malformed)],
        ),
        (
            "dns pointer loop",
            pcap(1, &[(1, loop_dns)]),
            1,
            vec![(24, AnomalyKind::Loop)],
        ),
        (
            "six vlan tags",
            pcap(1, &[(1, vlan_bomb)]),
            1,
            vec![(24, AnomalyKind::Limit)],
        ),
        (
            "unknown link type reported once",
            pcap(147, &[(1, good.clone()), (2, good.clone())]),
            2,
            vec![(20, AnomalyKind::Unsupported)],
        ),
        (
            "pcapng undeclared interface",
            pcapng_be(&[], &[(0, 1, good.clone())]),
            1,
            vec![(28, AnomalyKind::Missing)],
        ),
    ];
    for (what, file, packets, anomalies) in cases {
        let s = run(&file);
        assert_eq!(s.stats.records, packets, "{what}");
        assert_eq!(s.anomalies, anomalies, "{what}");
    }
}

#[test]
fn flow_cap_flushes_oldest_and_keeps_counts() {
    let frames: Vec<(i64, Vec<u8>)> = (0..50u16)
        .map(|i| {
            (
                i64::from(i),
                eth(
                    MAC_A,
                    MAC_B,
                    &[],
                    0x0800,
                    &ipv4_udp(CLIENT, SERVER, 2000 + i, 80, b"abc"),
                ),
            )
        })
        .collect();
    let s = run_with(
        &pcap(1, &frames),
        &Config {
            max_flows: 10,
            ..Config::default()
        },
    );
    assert_eq!(s.flows.len(), 50);
    assert_eq!(s.flows.iter().map(|f| f.bytes_out).sum::<u64>(), 50 * 31);
    assert_eq!(
        s.anomalies
            .iter()
            .filter(|a| a.1 == AnomalyKind::Limit)
            .count(),
        1
    );
}

#[test]
fn dhcp_and_arp() {
    let mut d = vec![0u8; 240];
    d[0] = 1;
    d[1] = 1;
    d[2] = 6;
    d[28..34].copy_from_slice(&MAC_A);
    d[236..240].copy_from_slice(&[99, 130, 83, 99]);
    d.extend_from_slice(&[
        53, 1, 3, 50, 4, 10, 0, 0, 5, 12, 3, b'c', b'a', b'm', 60, 4, b'H', b'i', b'k', b'v', 255,
    ]);
    let dhcp = eth(
        MAC_A,
        [0xff; 6],
        &[],
        0x0800,
        &ipv4_udp([0; 4], [255; 4], 68, 67, &d),
    );
    let mut arp = vec![0, 1, 8, 0, 6, 4, 0, 2];
    arp.extend_from_slice(&MAC_B);
    arp.extend_from_slice(&[192, 168, 1, 1]);
    arp.extend_from_slice(&MAC_A);
    arp.extend_from_slice(&[192, 168, 1, 9]);
    let arp = eth(MAC_B, MAC_A, &[], 0x0806, &arp);
    let s = run(&pcap(1, &[(1, dhcp), (2, arp.clone()), (3, arp)]));
    assert_eq!(
        s.dhcp,
        vec![(
            "28:cf:da:00:00:01".to_string(),
            Some("10.0.0.5".to_string()),
            Some("cam".to_string()),
            Some("Hikv".to_string())
        )]
    );
    assert_eq!(
        s.hosts,
        vec![("00:0c:29:00:00:02".to_string(), "192.168.1.1".to_string())]
    );
}

// ---------------------------------------------------------------------------------------
// Real captures: the small ones shipped here always run; the shared corpus when present.

/// Expectations for one capture file.
struct Want {
    file: &'static str,
    packets: u64,
    anomalies: &'static [AnomalyKind],
    names: &'static [&'static str],
    /// (query, answer that must be present).
    dns: &'static [(&'static str, &'static str)],
    /// (mac, host name, vendor class).
    dhcp: &'static [(&'static str, &'static str, &'static str)],
    min_flows: usize,
}

const W: Want = Want {
    file: "",
    packets: 0,
    anomalies: &[],
    names: &[],
    dns: &[],
    dhcp: &[],
    min_flows: 0,
};

fn gunzip(b: Vec<u8>) -> Vec<u8> {
    use std::io::Read;
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(&b[..])
        .read_to_end(&mut out)
        .expect("gzip");
    out
}

fn check(path: &Path, w: &Want) {
    let mut bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    if w.file.ends_with(".gz") {
        bytes = gunzip(bytes);
    }
    let s = run(&bytes);
    let f = w.file;
    assert_eq!(s.stats.records, w.packets, "{f} packets");
    let kinds: Vec<AnomalyKind> = s.anomalies.iter().map(|a| a.1).collect();
    assert_eq!(kinds, w.anomalies, "{f} anomalies {:?}", s.anomalies);
    let names: BTreeSet<&str> = s.names.iter().map(|n| n.1.as_str()).collect();
    for n in w.names {
        assert!(names.contains(n), "{f}: name {n} not in {names:?}");
    }
    for (q, a) in w.dns {
        assert!(
            s.dns
                .iter()
                .any(|(dq, ans)| dq == q && ans.iter().any(|x| x.ends_with(a))),
            "{f}: dns {q} -> {a} not in {:?}",
            s.dns
        );
    }
    for (mac, host, vendor) in w.dhcp {
        assert!(
            s.dhcp.iter().any(|d| d.0 == *mac
                && (host.is_empty() || d.2.as_deref() == Some(host))
                && (vendor.is_empty() || d.3.as_deref() == Some(vendor))),
            "{f}: dhcp {mac} {host} {vendor} not in {:?}",
            s.dhcp
        );
    }
    assert!(s.flows.len() >= w.min_flows, "{f}: {} flows", s.flows.len());
    assert_eq!(
        s.stats.bytes,
        s.stats.bytes.min(bytes.len() as u64),
        "{f} bytes"
    );
}

fn shipped() -> Vec<Want> {
    use AnomalyKind::*;
    vec![
        Want {
            file: "tls_chrome-34-google.pcap",
            packets: 42,
            names: &["google.de"],
            min_flows: 1,
            ..W
        },
        Want {
            file: "dns-two-responses.pcap",
            packets: 3,
            dns: &[
                ("www.cmu.edu", "=www-cmu.andrew.cmu.edu"),
                ("www.cmu.edu", "=128.2.10.163"),
            ],
            min_flows: 1,
            ..W
        },
        Want {
            file: "pcapng-multi-interface.pcapng",
            packets: 6,
            dns: &[
                ("www.apple.com", "=www-apple-com.v.aaplimg.com"),
                ("www.apple.com", "edgekey.net=e6858.dsce9.akamaiedge.net"),
            ],
            min_flows: 3,
            ..W
        },
        Want {
            file: "tcp_truncated-header.pcap",
            packets: 24,
            anomalies: &[Truncated],
            min_flows: 1,
            ..W
        },
        Want {
            file: "smb_dssetup-bigendian.cap",
            packets: 9,
            min_flows: 1,
            ..W
        },
        Want {
            file: "http_get-to-ssh-server.pcap",
            packets: 9,
            names: &["128.3.50.246"],
            min_flows: 1,
            ..W
        },
        Want {
            file: "trunc_ip6-ext-trunc.pcap",
            packets: 1,
            anomalies: &[Truncated],
            ..W
        },
        Want {
            file: "dhcp-eve-extended-option-60.pcap",
            packets: 1,
            dhcp: &[("28:cf:da:dc:8d:76", "NicksMacBook", "MSFT 5.0")],
            ..W
        },
        Want {
            file: "dns_dns-udp-eve-log-srv.pcap",
            packets: 2,
            min_flows: 1,
            ..W
        },
        Want {
            file: "tls-split-clienthello.pcap",
            packets: 7,
            names: &["pq.example.org"],
            min_flows: 1,
            ..W
        },
    ]
}

#[test]
fn shipped_captures() {
    for w in shipped() {
        check(&own_data().join(w.file), &w);
    }
}

#[test]
fn timestamps_of_nanosecond_and_big_endian_files() {
    // First packets per MANIFEST: 2026-02-03 13:47:05 (ns) and 2004-01-06 12:38:58 (BE).
    for (file, secs) in [
        ("http_get-to-ssh-server.pcap", 1_770_126_425i64),
        ("smb_dssetup-bigendian.cap", 1_073_392_738),
    ] {
        let s = run(&std::fs::read(own_data().join(file)).unwrap());
        let first = s.flows.iter().map(|f| f.first).min().unwrap();
        assert_eq!(first / 1_000_000, secs, "{file}");
    }
}

#[test]
fn corpus_captures() {
    let Some(c) = common::corpus() else { return };
    use AnomalyKind::*;
    let wants = vec![
        Want {
            file: "zeek/dhcp_dhcp.pcap",
            packets: 9,
            dhcp: &[
                ("90:b1:1c:99:49:29", "btest.is.cool", ""),
                ("90:b1:1c:99:49:29", "", "ArubaAP"),
            ],
            ..W
        },
        Want {
            file: "zeek/dns_dns-corrupt.pcap",
            packets: 2,
            anomalies: &[Malformed],
            min_flows: 1,
            ..W
        },
        Want {
            file: "zeek/empty.pcap",
            ..W
        },
        Want {
            file: "zeek/ip-bogus-header-len.pcap",
            packets: 1,
            anomalies: &[Malformed],
            ..W
        },
        Want {
            file: "zeek/trunc_ip4-trunc.pcap",
            packets: 1,
            anomalies: &[Truncated],
            ..W
        },
        Want {
            file: "zeek/trunc_ip6-trunc.pcap",
            packets: 1,
            anomalies: &[Truncated],
            ..W
        },
        Want {
            file: "zeek/trunc_trunc-hdr.pcap",
            packets: 1,
            anomalies: &[Truncated],
            ..W
        },
        Want {
            file: "zeek/udp-contents-truncated-oob.pcap",
            packets: 1,
            min_flows: 1,
            ..W
        },
        Want {
            file: "zeek/linux_dlt_sll2.pcap",
            packets: 6,
            min_flows: 2,
            ..W
        },
        Want {
            file: "zeek/vntag.pcap",
            packets: 3,
            min_flows: 1,
            ..W
        },
        Want {
            file: "zeek/vlan-qinqinq.pcap",
            packets: 14,
            names: &["bro.org"],
            min_flows: 1,
            ..W
        },
        Want {
            file: "zeek/mpls-in-vlan.pcap",
            packets: 3,
            names: &["ww.example.org"],
            min_flows: 1,
            ..W
        },
        Want {
            file: "zeek/nflog-http.pcap",
            packets: 13,
            names: &["www.example.net"],
            min_flows: 1,
            ..W
        },
        Want {
            file: "zeek/radiotap.pcap",
            packets: 3,
            anomalies: &[Unsupported],
            ..W
        },
        Want {
            file: "zeek/tls_tls-conn-with-extensions.pcap",
            packets: 58,
            names: &["ssl.gstatic.com"],
            ..W
        },
        Want {
            file: "zeek/tls_tls13-ech.pcap",
            packets: 69,
            names: &["cloudflare-ech.com"],
            ..W
        },
        // The client put an address literal in server_name; the point is the reassembly.
        Want {
            file: "zeek/tls_tls-fragmented-handshake.pcap.gz",
            packets: 416,
            names: &["104.236.167.107"],
            ..W
        },
        Want {
            file: "zeek/tls_signed_certificate_timestamp.pcap",
            packets: 51,
            names: &["ritter.vg"],
            ..W
        },
        Want {
            file: "zeek/wikipedia.pcap",
            packets: 136,
            names: &["upload.wikimedia.org"],
            dns: &[
                ("upload.wikimedia.org", "=upload.pmtpa.wikimedia.org"),
                ("meta.wikimedia.org", "=text.wikimedia.org"),
            ],
            min_flows: 30,
            ..W
        },
        Want {
            file: "zeek/tunnels_Teredo.pcap",
            packets: 78,
            dns: &[("ipv6.google.com", "=ipv6.l.google.com")],
            dhcp: &[("00:1a:e9:9d:53:b7", "Wii", "")],
            ..W
        },
        Want {
            file: "zeek/dns_mdns.pcap",
            packets: 24,
            dns: &[("johanna-qemu-virtual-machine.local", "=10.0.2.7")],
            ..W
        },
        Want {
            file: "suricata-verify/dns_dns-tcp-www-google-com.pcap",
            packets: 10,
            dns: &[("www.google.com", "=216.197.242.244")],
            ..W
        },
        Want {
            file: "suricata-verify/decode-sll2-01.pcap",
            packets: 5,
            min_flows: 1,
            ..W
        },
        Want {
            file: "suricata-verify/http-ipv6.pcap",
            packets: 14,
            min_flows: 1,
            ..W
        },
        Want {
            file: "suricata-verify/tls-alpn-log-detect-02.pcap",
            packets: 28,
            names: &["p130-contacts.icloud.com"],
            ..W
        },
        Want {
            file: "suricata-verify/community-id-ipv6.pcap",
            packets: 70,
            names: &["dns.google", "ipv6.google.com"],
            ..W
        },
        Want {
            file: "suricata-verify/dhcp-eve-extended.pcap",
            packets: 2,
            dhcp: &[("00:11:32:17:49:f0", "nas1", "")],
            ..W
        },
        Want {
            file: "suricata-verify/ipv4-truncated.pcap",
            packets: 1,
            min_flows: 1,
            ..W
        },
    ];
    for w in &wants {
        check(&c.join("pcap").join(w.file), w);
    }
}

/// (orig_h, resp_h, resp_p) of Zeek's TCP and UDP connections.
fn zeek_endpoints(log: &Path) -> BTreeSet<(String, String, u16)> {
    let text = std::fs::read_to_string(log).unwrap();
    let mut cols: Vec<String> = Vec::new();
    let mut out = BTreeSet::new();
    for line in text.lines() {
        if let Some(f) = line.strip_prefix("#fields\t") {
            cols = f.split('\t').map(str::to_string).collect();
            continue;
        }
        if line.starts_with('#') {
            continue;
        }
        let v: Vec<&str> = line.split('\t').collect();
        let get = |n: &str| v[cols.iter().position(|c| c == n).unwrap()];
        if matches!(get("proto"), "tcp" | "udp") {
            out.insert((
                get("id.orig_h").to_string(),
                get("id.resp_h").to_string(),
                get("id.resp_p").parse().unwrap(),
            ));
        }
    }
    out
}

#[test]
fn flows_match_zeek_conn_log() {
    let Some(c) = common::corpus() else { return };
    for (pcap, log) in [
        (
            "zeek/pcapng-multi-interface.pcapng",
            "core.pcapng-pktsrc--conn.log",
        ),
        ("zeek/q-in-q.pcap", "core.q-in-q--conn.log"),
        ("zeek/wikipedia.pcap", "opt.basic--conn.log"),
        (
            "zeek/ftp_ipv6.pcap",
            "scripts.base.protocols.ftp.ftp-ipv6--conn.log",
        ),
        (
            "zeek/dhcp_dhcp.pcap",
            "scripts.base.protocols.dhcp.dhcp-all-msg-types--conn.log",
        ),
    ] {
        let want = zeek_endpoints(&c.join("zeek-logs/zeek-btest-canonified").join(log));
        assert!(!want.is_empty(), "{log}");
        let s = run(&std::fs::read(c.join("pcap").join(pcap)).unwrap());
        let got: BTreeSet<(String, String, u16)> = s
            .flows
            .iter()
            .filter(|f| f.proto == IpProto::TCP || f.proto == IpProto::UDP)
            .map(|f| (f.src.to_string(), f.dst.to_string(), f.dport))
            .collect();
        assert_eq!(got, want, "{pcap}");
    }
}

/// Review finding 17 (pcap): a record claiming caplen 0xFFFFFFFF (`gen.py
/// pcap_caplen_ffffffff`), with or without bytes of its own, between two good packets. The
/// anomaly says the length exceeds the cap, and the decoder finds the next record.
#[test]
fn pcap_bad_record_length_resyncs_on_the_next_record() {
    let good = eth(
        MAC_A,
        MAC_B,
        &[],
        0x0800,
        &ipv4_udp(CLIENT, SERVER, 40000, 443, &[b'x'; 32]),
    );
    let t0 = 1_795_683_600_000_000i64;
    for junk in [0usize, 100] {
        let mut file = pcap(1, &[(t0, good.clone())]);
        let bad_at = file.len() as u64;
        file.extend_from_slice(&1_795_683_600u32.to_le_bytes());
        file.extend_from_slice(&0u32.to_le_bytes());
        file.extend_from_slice(&u32::MAX.to_le_bytes());
        file.extend_from_slice(&u32::MAX.to_le_bytes());
        file.extend(std::iter::repeat_n(0x41, junk));
        file.extend_from_slice(&pcap(1, &[(t0 + 1_000_000, good.clone())])[24..]);
        let mut sink = VecSink::default();
        let st = capture::decode(&file, &mut sink);
        assert_eq!(st.records, 2, "junk {junk}: later packet decoded");
        let [a] = &sink.anomalies[..] else {
            panic!("{:?}", sink.anomalies)
        };
        assert_eq!((a.offset, a.kind), (bad_at, AnomalyKind::Limit));
        assert!(a.detail.contains("exceeds"), "{}", a.detail);
        assert!(!a.detail.contains("truncated"), "{}", a.detail);
        let skipped = format!("{} bytes skipped", 16 + junk);
        assert!(a.detail.contains(&skipped), "{}", a.detail);
        let flows: Vec<_> = sink
            .observations
            .iter()
            .filter_map(|o| match o {
                Observation::Flow(f) => Some(f),
                _ => None,
            })
            .collect();
        assert_eq!(flows.len(), 1);
        assert_eq!(flows[0].packets_out + flows[0].packets_in, 2);
    }
}

/// Review finding 17 (pcapng): a block claiming length 0xFFFFFFF0 (`gen.py
/// pcapng_huge_block`) between two good packet blocks: "exceeds the cap", not "truncated",
/// and the next block is read.
#[test]
fn pcapng_absurd_block_length_is_a_limit_and_resyncs() {
    let good = eth(
        MAC_A,
        MAC_B,
        &[],
        0x0800,
        &ipv4_udp(CLIENT, SERVER, 40000, 443, &[b'x'; 32]),
    );
    let head = pcapng_be(&[(1, 6)], &[]).len();
    let mut file = pcapng_be(&[(1, 6)], &[(0, 1_795_683_600_000_000, good.clone())]);
    let bad_at = file.len() as u64;
    file.extend_from_slice(&6u32.to_be_bytes());
    file.extend_from_slice(&0xFFFF_FFF0u32.to_be_bytes());
    file.extend_from_slice(&[0; 28]);
    let later = pcapng_be(&[(1, 6)], &[(0, 1_795_683_601_000_000, good.clone())]);
    file.extend_from_slice(&later[head..]);
    let mut sink = VecSink::default();
    let st = capture::decode(&file, &mut sink);
    assert_eq!(st.records, 2, "later block decoded");
    let [a] = &sink.anomalies[..] else {
        panic!("{:?}", sink.anomalies)
    };
    assert_eq!((a.offset, a.kind), (bad_at, AnomalyKind::Limit));
    assert!(a.detail.contains("block length"), "{}", a.detail);
    assert!(a.detail.contains("exceeds the cap"), "{}", a.detail);
    assert!(!a.detail.contains("truncated"), "{}", a.detail);
    assert!(a.detail.contains("36 bytes skipped"), "{}", a.detail);
}

/// The resynchronisation search is bounded and linear: 4 MiB of record headers with a
/// timestamp near the good packet's but a length above the cap end the file with one
/// anomaly, after a search of at most `RESYNC_WINDOW` bytes.
#[test]
fn resync_search_on_hostile_bytes_is_bounded() {
    let good = eth(
        MAC_A,
        MAC_B,
        &[],
        0x0800,
        &ipv4_udp(CLIENT, SERVER, 1, 2, b"x"),
    );
    let mut file = pcap(1, &[(1_795_683_600_000_000, good)]);
    let mut pat = Vec::new();
    pat.extend_from_slice(&1_795_683_600u32.to_le_bytes());
    pat.extend_from_slice(&0u32.to_le_bytes());
    pat.extend_from_slice(&0x0004_0001u32.to_le_bytes());
    pat.extend_from_slice(&0x0004_0001u32.to_le_bytes());
    while file.len() < 4 << 20 {
        file.extend_from_slice(&pat);
    }
    let t = std::time::Instant::now();
    let mut sink = VecSink::default();
    let st = capture::decode(&file, &mut sink);
    assert_eq!(st.records, 1);
    assert_eq!(sink.anomalies.len(), 1, "{:?}", sink.anomalies);
    assert!(t.elapsed().as_secs() < 20);
}
