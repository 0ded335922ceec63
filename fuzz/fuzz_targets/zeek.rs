//! Fuzzes the Zeek log decoder. Oracle: decoding the whole input must agree with
//! parse_header + decode_body over two chunks cut at a newline (the parallel path), whenever
//! the first chunk holds no further header lines; and the conn.log fast path must agree with
//! the general TSV path (`decode_body_general`).
#![no_main]

use cordon_wire::{zeek, VecSink};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut whole = VecSink::default();
    let wst = zeek::decode(data, &mut whole);
    assert_eq!(wst.anomalies as usize, whole.anomalies.len());
    let Some(h) = zeek::parse_header(data) else { return };
    let body = &data[h.body_start..];
    let mut general = VecSink::default();
    let gst = zeek::decode_body_general(&h, body, h.body_start as u64, &mut general);
    let mut fast = VecSink::default();
    assert_eq!(zeek::decode_body(&h, body, h.body_start as u64, &mut fast), gst);
    assert_eq!(fast.observations, general.observations);
    assert_eq!(fast.anomalies, general.anomalies);
    let Some(nl) = body.iter().position(|&c| c == b'\n') else { return };
    // Cut after a newline chosen by the input's first body byte.
    let newlines: Vec<usize> = body.iter().enumerate().filter(|(_, &c)| c == b'\n').map(|(i, _)| i + 1).collect();
    let cut = newlines[body[0] as usize % newlines.len()].max(nl + 1);
    let first = &body[..cut];
    if first.iter().enumerate().any(|(i, &c)| c == b'#' && (i == 0 || first[i - 1] == b'\n')) {
        return;
    }
    let mut sink = VecSink::default();
    let mut st = zeek::decode_body(&h, first, h.body_start as u64, &mut sink);
    st.add(&zeek::decode_body(&h, &body[cut..], (h.body_start + cut) as u64, &mut sink));
    assert_eq!(st, wst);
    assert_eq!(sink.observations, whole.observations);
    assert_eq!(sink.anomalies, whole.anomalies);
});
