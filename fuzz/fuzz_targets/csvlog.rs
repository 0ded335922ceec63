//! Fuzzes the csvlog decoder. Oracles: no panic; the stats agree with the sink; every anomaly
//! offset lies inside the input. (Not line-local: a header line changes how later lines read,
//! so no doubling oracle here.)
#![no_main]

use cordon_wire::{csvlog, VecSink};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut sink = VecSink::default();
    let st = csvlog::decode(data, &mut sink);
    assert_eq!(st.anomalies as usize, sink.anomalies.len());
    for a in &sink.anomalies {
        assert!(a.offset as usize <= data.len(), "{a:?}");
    }
    let _ = cordon_wire::detect::detect(data);
});
