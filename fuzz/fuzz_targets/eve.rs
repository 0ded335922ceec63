//! Fuzzes the eve decoder. Oracles: no panic; the stats agree with the sink; every anomaly
//! offset lies inside the input; and decoding is line-local, so the input, a newline and the
//! input again give exactly twice the records and observations.
#![no_main]

use cordon_wire::{eve, VecSink};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut sink = VecSink::default();
    let st = eve::decode(data, &mut sink);
    assert_eq!(st.anomalies as usize, sink.anomalies.len());
    for a in &sink.anomalies {
        assert!(a.offset as usize <= data.len(), "{a:?}");
    }
    let _ = cordon_wire::detect::detect(data);
    let mut twice = data.to_vec();
    twice.push(b'\n');
    twice.extend_from_slice(data);
    let mut sink2 = VecSink::default();
    let st2 = eve::decode(&twice, &mut sink2);
    assert_eq!(st2.records, 2 * st.records);
    assert_eq!(sink2.observations.len(), 2 * sink.observations.len());
});
