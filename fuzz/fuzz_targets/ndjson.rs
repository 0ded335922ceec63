//! NDJSON flow tables (`csvlog::decode_ndjson`, `Format::Ndjson`; the csvlog target covers
//! only the CSV path).
//!
//! Oracles: no panic; the stats agree with the sink; every anomaly offset lies inside the
//! input; lines are independent, so decoding the input twice (joined by a newline) gives
//! twice the records and anomalies.
#![no_main]

use cordon_wire::{csvlog, VecSink};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut sink = VecSink::default();
    let st = csvlog::decode_ndjson(data, &mut sink);
    assert_eq!(st.anomalies as usize, sink.anomalies.len());
    for a in &sink.anomalies {
        assert!(a.offset as usize <= data.len(), "{a:?}");
    }
    let mut twice = data.to_vec();
    twice.push(b'\n');
    twice.extend_from_slice(data);
    let mut sink2 = VecSink::default();
    let st2 = csvlog::decode_ndjson(&twice, &mut sink2);
    assert_eq!(st2.anomalies, 2 * st.anomalies, "anomalies");
    assert_eq!(
        sink2.observations.len(),
        2 * sink.observations.len(),
        "records"
    );
});
