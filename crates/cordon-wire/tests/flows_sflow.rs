//! sFlow v5 over the corpus' akvorado capture, plus hand-built datagrams for the edges.

mod common;
mod flows_support;

use common::corpus;
use cordon_wire::obs::{Observation, VecSink};
use cordon_wire::{netflow, sflow};
use flows_support::udp_payloads;

#[test]
fn akvorado_sflow_capture() {
    let Some(c) = corpus() else { return };
    let file = std::fs::read(c.join("netflow/akvorado/sflow-data-sflow-ipv4-data.pcap")).unwrap();
    let dgrams = udp_payloads(&file);
    assert_eq!(dgrams.len(), 1);
    let d = &dgrams[0];
    assert!(sflow::looks_like_sflow(&d.payload));
    assert!(!netflow::looks_like_export(&d.payload));
    let mut sink = VecSink::default();
    let st = sflow::datagram(&d.payload, d.offset, &mut sink);
    assert!(sink.anomalies.is_empty(), "{:?}", sink.anomalies);
    assert_eq!((st.export_records, st.export_bytes), (1, 1390));
    let [Observation::Flow(f)] = &sink.observations[..] else {
        panic!("{:?}", sink.observations)
    };
    assert_eq!(f.src, "50.50.50.50".parse::<std::net::IpAddr>().unwrap());
    assert_eq!(f.dst, "51.51.51.51".parse::<std::net::IpAddr>().unwrap());
    assert_eq!((f.sport, f.dport, f.proto.0), (46622, 58631, 17));
    assert_eq!((f.bytes_out, f.packets_out, f.sampling), (1390, 1, 256));
    assert_eq!(f.src_mac.unwrap().to_string(), "00:fe:c8:99:05:47");
}

/// sFlow v5 header with an IPv4 agent, then the given samples.
fn sflow_datagram(samples: &[(u32, Vec<u8>)], claimed: Option<u32>) -> Vec<u8> {
    let mut d = Vec::new();
    for w in [
        5u32,
        1,
        0x0a000001,
        0,
        1,
        1000,
        claimed.unwrap_or(samples.len() as u32),
    ] {
        d.extend_from_slice(&w.to_be_bytes());
    }
    for (tag, body) in samples {
        d.extend_from_slice(&tag.to_be_bytes());
        d.extend_from_slice(&(body.len() as u32).to_be_bytes());
        d.extend_from_slice(body);
    }
    d
}

/// An expanded flow sample (format 3) with one raw-header record holding `frame`.
fn expanded_sample(rate: u32, frame: &[u8], frame_len: u32) -> Vec<u8> {
    let mut s = Vec::new();
    for w in [7u32, 0, 3, rate, 1000, 0, 0, 3, 0, 4, 1] {
        s.extend_from_slice(&w.to_be_bytes());
    }
    let mut rec = Vec::new();
    for w in [1u32, frame_len, 0, frame.len() as u32] {
        rec.extend_from_slice(&w.to_be_bytes());
    }
    rec.extend_from_slice(frame);
    while rec.len() % 4 != 0 {
        rec.push(0);
    }
    s.extend_from_slice(&1u32.to_be_bytes());
    s.extend_from_slice(&(rec.len() as u32).to_be_bytes());
    s.extend_from_slice(&rec);
    s
}

fn ipv6_udp_frame() -> Vec<u8> {
    let mut f = vec![0x02, 0, 0, 0, 0, 1, 0x02, 0, 0, 0, 0, 2, 0x86, 0xdd];
    f.extend_from_slice(&[0x60, 0, 0, 0, 0, 8, 17, 64]);
    f.extend_from_slice(
        &"2001:db8::1"
            .parse::<std::net::Ipv6Addr>()
            .unwrap()
            .octets(),
    );
    f.extend_from_slice(
        &"2001:db8::2"
            .parse::<std::net::Ipv6Addr>()
            .unwrap()
            .octets(),
    );
    f.extend_from_slice(&[0x13, 0x88, 0x00, 0x35, 0, 8, 0, 0]);
    f
}

#[test]
fn expanded_flow_sample_with_ipv6_and_counter_sample_skipped() {
    let d = sflow_datagram(
        &[
            (2, vec![0; 12]),
            (3, expanded_sample(512, &ipv6_udp_frame(), 90)),
        ],
        None,
    );
    let mut sink = VecSink::default();
    let st = sflow::datagram(&d, 0, &mut sink);
    assert_eq!(
        (st.export_records, st.export_bytes, st.anomalies),
        (1, 90, 0)
    );
    let Observation::Flow(f) = &sink.observations[0] else {
        panic!()
    };
    assert_eq!((f.sport, f.dport, f.sampling), (5000, 53, 512));
    assert!(f.src.is_ipv6());
}

#[test]
fn bad_sflow_becomes_anomalies_with_offsets() {
    let good = sflow_datagram(&[(3, expanded_sample(512, &ipv6_udp_frame(), 90))], None);
    // (input, expected anomaly kinds, expected records)
    let mut lying_len = good.clone();
    lying_len[32..36].copy_from_slice(&9999u32.to_be_bytes()); // sample length
    let mut bad_addr = good.clone();
    bad_addr[4..8].copy_from_slice(&7u32.to_be_bytes());
    let cases: Vec<(&str, Vec<u8>, &[&str], u64)> = vec![
        ("empty", vec![], &["truncated"], 0),
        (
            "version 4",
            [&4u32.to_be_bytes()[..], &good[4..]].concat(),
            &["unsupported"],
            0,
        ),
        ("agent type 7", bad_addr, &["malformed"], 0),
        ("header cut", good[..20].to_vec(), &["truncated"], 0),
        ("sample length lies", lying_len, &["truncated"], 0),
        (
            "sample count huge",
            sflow_datagram(&[], Some(u32::MAX)),
            &["limit", "truncated"],
            0,
        ),
        (
            "record cut",
            good[..good.len() - 30].to_vec(),
            &["truncated"],
            0,
        ),
    ];
    for (name, input, kinds, records) in cases {
        let mut sink = VecSink::default();
        let st = sflow::datagram(&input, 5000, &mut sink);
        let got: Vec<&str> = sink.anomalies.iter().map(|a| a.kind.as_str()).collect();
        assert_eq!(got, kinds, "{name}");
        assert_eq!(st.export_records, records, "{name}");
        assert!(sink.anomalies.iter().all(|a| a.offset >= 5000), "{name}");
    }
}

/// Review finding 16: a raw sFlow file holds datagrams back to back (sFlow has no length
/// field: a datagram ends after its last sample); every one is decoded, and where the walk
/// cannot go on, an anomaly says so instead of the rest being dropped in silence.
#[test]
fn raw_file_of_back_to_back_datagrams_decodes_every_datagram() {
    let one = sflow_datagram(
        &[
            (2, vec![0; 12]),
            (3, expanded_sample(512, &ipv6_udp_frame(), 90)),
        ],
        None,
    );
    let n = one.len() as u64;
    let file = [one.clone(), one.clone(), one.clone()].concat();
    let mut sink = VecSink::default();
    let st = sflow::decode_file(&file, &mut sink);
    assert_eq!((st.export_records, st.export_bytes), (3, 270));
    assert_eq!(st.anomalies, 0, "{:?}", sink.anomalies);
    assert_eq!(sink.observations.len(), 3);

    // The last datagram cut short: the first two decode, the cut is reported inside the third.
    let mut sink = VecSink::default();
    let st = sflow::decode_file(&file[..file.len() - 10], &mut sink);
    assert_eq!(st.export_records, 2);
    assert!(st.anomalies >= 1);
    assert!(sink.anomalies.iter().all(|a| a.offset >= 2 * n));

    // Bytes after a good datagram that are no datagram: reported at their offset.
    let mut sink = VecSink::default();
    let st = sflow::decode_file(&[one.clone(), b"garbage!".to_vec()].concat(), &mut sink);
    assert_eq!(st.export_records, 1);
    assert_eq!(st.anomalies, sink.anomalies.len() as u64);
    assert!(
        sink.anomalies.iter().any(|a| a.offset == n),
        "{:?}",
        sink.anomalies
    );
}
