//! Fuzz the sFlow v5 datagram decoder. Oracles: the stats' anomaly and record counts match
//! what reached the sink, and every anomaly offset lies inside the datagram.
#![no_main]

use cordon_wire::obs::{Observation, VecSink};
use cordon_wire::sflow;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut sink = VecSink::default();
    let st = sflow::datagram(data, 1000, &mut sink);
    assert_eq!(st.anomalies as usize, sink.anomalies.len());
    let flows = sink.observations.iter().filter(|o| matches!(o, Observation::Flow(_))).count();
    assert_eq!(st.export_records as usize, flows);
    assert!(sink.anomalies.iter().all(|a| a.offset >= 1000 && a.offset <= 1000 + data.len() as u64));
    let _ = sflow::looks_like_sflow(data);
});
