//! Malformed NetFlow v5/v9/IPFIX input: every case becomes anomalies with byte offsets
//! (datagram offset + position), decoding goes on with the next set, nothing panics or
//! loops. Cases are built by hand so each one breaks exactly one rule.

mod common;

use common::corpus;
use cordon_wire::netflow::{self, Collector, MAX_TEMPLATE_FIELDS};
use cordon_wire::obs::VecSink;
use std::net::{IpAddr, Ipv4Addr};

const BASE: u64 = 10_000;

fn be16(v: u16) -> [u8; 2] {
    v.to_be_bytes()
}

/// A set (v9 flowset / IPFIX set) with a correct length.
fn set(id: u16, body: &[u8]) -> Vec<u8> {
    [&be16(id)[..], &be16(body.len() as u16 + 4), body].concat()
}

/// NetFlow v9 datagram: header (source id 7) + raw set bytes.
fn v9(sets: &[Vec<u8>]) -> Vec<u8> {
    let mut d = vec![
        0,
        9,
        0,
        sets.len() as u8,
        0,
        0,
        0x10,
        0,
        0x60,
        0,
        0,
        0,
        0,
        0,
        0,
        1,
        0,
        0,
        0,
        7,
    ];
    for s in sets {
        d.extend_from_slice(s);
    }
    d
}

/// IPFIX message: header (domain 7) + raw set bytes, length field correct.
fn ipfix(sets: &[Vec<u8>]) -> Vec<u8> {
    let body: Vec<u8> = sets.concat();
    let mut d = vec![0, 10];
    d.extend_from_slice(&be16(16 + body.len() as u16));
    d.extend_from_slice(&[0x60, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 7]);
    d.extend_from_slice(&body);
    d
}

/// Template body: id, fields (type, length).
fn template(id: u16, fields: &[(u16, u16)]) -> Vec<u8> {
    let mut b = [be16(id), be16(fields.len() as u16)].concat();
    for (t, l) in fields {
        b.extend_from_slice(&be16(*t));
        b.extend_from_slice(&be16(*l));
    }
    b
}

/// src addr, dst addr, src port, dst port, proto, bytes (4), packets (4) = 21 bytes.
const FIELDS: &[(u16, u16)] = &[(8, 4), (12, 4), (7, 2), (11, 2), (4, 1), (1, 4), (2, 4)];

fn record(bytes: u32) -> Vec<u8> {
    let mut r = vec![10, 0, 0, 1, 192, 0, 2, 1, 0x30, 0x39, 0, 80, 6];
    r.extend_from_slice(&bytes.to_be_bytes());
    r.extend_from_slice(&1u32.to_be_bytes());
    r
}

struct Got {
    records: u64,
    bytes: u64,
    kinds: Vec<&'static str>,
    offsets: Vec<u64>,
}

fn decode(datagrams: &[Vec<u8>]) -> Got {
    let mut c = Collector::new();
    let mut sink = VecSink::default();
    let (mut records, mut bytes) = (0, 0);
    let exporter = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 200));
    for d in datagrams {
        let st = c.datagram(exporter, d, BASE, &mut sink);
        assert_eq!(
            st.anomalies as usize,
            sink.anomalies.len() - (sink.anomalies.len() - st.anomalies as usize)
        );
        records += st.export_records;
        bytes += st.export_bytes;
    }
    Got {
        records,
        bytes,
        kinds: sink.anomalies.iter().map(|a| a.kind.as_str()).collect(),
        offsets: sink.anomalies.iter().map(|a| a.offset).collect(),
    }
}

/// One row: name, datagrams fed to one collector, expected records, expected anomaly
/// kinds, expected anomaly offsets relative to the datagram start.
type Case = (
    &'static str,
    Vec<Vec<u8>>,
    u64,
    &'static [&'static str],
    &'static [u64],
);

#[test]
fn malformed_inputs_become_anomalies() {
    let tpl = set(0, &template(300, FIELDS));
    let data = set(300, &[record(100), record(200)].concat());
    let mut v5_lie = vec![0, 5, 0, 30];
    v5_lie.extend_from_slice(&[0; 20]);
    v5_lie.extend_from_slice(&[0; 48]);
    let mut huge = template(301, &[]);
    huge[2..4].copy_from_slice(&be16(5000));
    huge.extend_from_slice(&[0, 1, 0, 4].repeat(5000));
    let mut short_set = v9(std::slice::from_ref(&tpl));
    short_set.extend_from_slice(&[1, 44, 0, 2, 9, 9, 9, 9]); // id 300, length 2
    let mut long_set = v9(std::slice::from_ref(&tpl));
    long_set.extend_from_slice(&[1, 44, 0x01, 0]); // length 256, 0 bytes follow
                                                   // v9 options template: id 400, scope length 6 (not a multiple of 4), option length 4.
    let opt_bad_scope = set(1, &[1, 144, 0, 6, 0, 4, 0, 1, 0, 4, 0, 34, 0, 4]);
    // IPFIX options template: 2 fields, 3 of them scope.
    let ipfix_opt_scope = set(3, &[1, 144, 0, 2, 0, 3, 0, 149, 0, 4, 0, 34, 0, 4]);
    // IPFIX template with a variable-length field, then a record whose length runs past.
    let ipfix_var_tpl = set(2, &template(310, &[(8, 4), (82, 0xFFFF)]));
    let ipfix_var_data = set(310, &[10, 0, 0, 1, 200, b'x', b'y']);
    let mut ipfix_short_len = ipfix(&[]);
    ipfix_short_len[2..4].copy_from_slice(&be16(8));

    assert_eq!(tpl.len(), 36, "offsets below assume a 36-byte template set");
    let cases: Vec<Case> = vec![
        (
            "v9 header cut",
            vec![v9(&[])[..12].to_vec()],
            0,
            &["truncated"],
            &[0],
        ),
        ("v5 count lies", vec![v5_lie], 0, &["malformed"], &[0]),
        (
            "v5 header cut",
            vec![vec![0, 5, 0, 1, 0, 0]],
            0,
            &["truncated"],
            &[0],
        ),
        (
            "unknown version",
            vec![vec![0, 7, 0, 0]],
            0,
            &["unsupported"],
            &[0],
        ),
        (
            "data before template",
            vec![
                v9(std::slice::from_ref(&data)),
                v9(&[tpl.clone(), data.clone()]),
            ],
            2,
            &["missing"],
            &[20],
        ),
        (
            "template then data",
            vec![v9(&[tpl.clone(), data.clone()])],
            2,
            &[],
            &[],
        ),
        (
            "zero-length fields only",
            vec![v9(&[
                set(0, &template(302, &[(1, 0), (2, 0)])),
                set(302, &[0; 8]),
            ])],
            0,
            &["malformed", "missing"],
            &[24, 36],
        ),
        (
            "zero-length field among others is fine",
            vec![v9(&[
                set(0, &template(303, &[(8, 4), (1, 0), (12, 4), (1, 4)])),
                set(303, &[10, 0, 0, 1, 10, 0, 0, 2, 0, 0, 0, 9]),
            ])],
            1,
            &[],
            &[],
        ),
        (
            "thousands of fields",
            vec![v9(&[set(0, &huge)])],
            0,
            &["limit"],
            &[24],
        ),
        (
            "set length below 4",
            vec![short_set],
            0,
            &["malformed"],
            &[56],
        ),
        (
            "set length past the end",
            vec![long_set],
            0,
            &["truncated"],
            &[56],
        ),
        (
            "v9 options scope length",
            vec![v9(&[opt_bad_scope])],
            0,
            &["malformed"],
            &[24],
        ),
        (
            "ipfix options scope count",
            vec![ipfix(&[ipfix_opt_scope])],
            0,
            &["malformed"],
            &[20],
        ),
        (
            "ipfix varlen past set",
            vec![ipfix(&[ipfix_var_tpl, ipfix_var_data])],
            0,
            &["truncated"],
            &[16 + 16 + 4],
        ),
        (
            "ipfix length below header",
            vec![ipfix_short_len],
            0,
            &["malformed"],
            &[0],
        ),
        (
            "reserved set id, next set still read",
            vec![v9(&[tpl.clone(), set(5, &[1, 2, 3, 4]), data.clone()])],
            2,
            &["unsupported"],
            &[56],
        ),
        (
            "template id below 256",
            vec![v9(&[set(0, &template(12, FIELDS))])],
            0,
            &["malformed"],
            &[24],
        ),
    ];
    let mut failures = Vec::new();
    for (name, dgrams, records, kinds, offsets) in cases {
        let got = decode(&dgrams);
        let want_offsets: Vec<u64> = offsets.iter().map(|o| BASE + o).collect();
        if got.records != records || got.kinds != kinds || got.offsets != want_offsets {
            failures.push(format!(
                "{name}: records {} (want {records}), kinds {:?} (want {kinds:?}), offsets {:?} (want {want_offsets:?})",
                got.records, got.kinds, got.offsets
            ));
        }
        let _ = got.bytes;
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
    const { assert!(MAX_TEMPLATE_FIELDS < 5000) };
}

#[test]
fn data_before_template_counts_the_dropped_set() {
    let data = set(300, &[record(100), record(200)].concat());
    let mut sink = VecSink::default();
    let st = Collector::new().datagram(IpAddr::V4(Ipv4Addr::LOCALHOST), &v9(&[data]), 0, &mut sink);
    assert_eq!(st.anomalies, 1);
    assert!(
        sink.anomalies[0].detail.contains("42 bytes dropped"),
        "{}",
        sink.anomalies[0].detail
    );
}

/// The corpus' own malformed datagrams: logstash's invalid v5 files (header counts 55582
/// and 163 in 1464-byte datagrams) are rejected whole, as nfdump does; the v9 file the
/// origin calls invalid still yields nfdump's 2 flows.
#[test]
fn corpus_invalid_datagrams() {
    let Some(c) = corpus() else { return };
    let root = c.join("netflow/logstash-codec-netflow");
    for f in ["netflow5_test_invalid01.dat", "netflow5_test_invalid02.dat"] {
        let bytes = std::fs::read(root.join(f)).unwrap();
        let mut sink = VecSink::default();
        let st = netflow::decode_file(&bytes, &mut sink);
        assert_eq!(st.export_records, 0, "{f}");
        assert_eq!(sink.anomalies.len(), 1, "{f}");
        assert_eq!(
            (sink.anomalies[0].offset, sink.anomalies[0].kind.as_str()),
            (0, "malformed")
        );
    }
    let bytes = std::fs::read(root.join("netflow9_test_invalid01.dat")).unwrap();
    let mut sink = VecSink::default();
    assert_eq!(netflow::decode_file(&bytes, &mut sink).export_records, 2);
}

/// Every prefix and a byte-flipped copy of every corpus datagram decodes without panicking,
/// and the anomaly counter in the stats matches what reached the sink.
#[test]
fn truncations_and_bit_flips_of_corpus_datagrams_never_panic() {
    let Some(c) = corpus() else { return };
    let root = c.join("netflow/logstash-codec-netflow");
    let mut n = 0;
    for e in std::fs::read_dir(&root).unwrap() {
        let bytes = std::fs::read(e.unwrap().path()).unwrap();
        for cut in (0..bytes.len()).step_by(7) {
            let mut sink = VecSink::default();
            let st = netflow::decode_file(&bytes[..cut], &mut sink);
            assert_eq!(st.anomalies as usize, sink.anomalies.len());
            let mut flipped = bytes.clone();
            flipped[cut] ^= 0xA5;
            let st = netflow::decode_file(&flipped, &mut sink);
            assert!(st.export_records < 10_000);
            n += 1;
        }
    }
    assert!(n > 1000);
}

/// Fuzzer crashers (`tests/data/flows/fuzz/`), replayed the way the fuzz targets feed them:
/// split at 0xFE into datagrams for one collector, whole to `decode_file` and to sFlow.
#[test]
fn fuzz_crashers_stay_fixed() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/flows/fuzz");
    let mut n = 0;
    for e in std::fs::read_dir(dir).unwrap() {
        let data = std::fs::read(e.unwrap().path()).unwrap();
        let mut c = Collector::new();
        let mut sink = VecSink::default();
        for d in data.split(|&b| b == 0xFE) {
            c.datagram(IpAddr::V4(Ipv4Addr::LOCALHOST), d, 0, &mut sink);
        }
        let st = netflow::decode_file(&data, &mut sink);
        assert!(st.export_bytes <= st.export_records * netflow::MAX_RECORD_OCTETS);
        cordon_wire::sflow::datagram(&data, 0, &mut sink);
        n += 1;
    }
    assert!(n >= 1);
}
