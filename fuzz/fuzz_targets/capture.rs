//! Fuzzes `capture::decode` over whole capture files.
//!
//! Oracles beyond "no panic": the anomaly count in the stats equals the anomalies pushed (the
//! export decoders are stubs here or count their own), captured bytes never exceed the input,
//! and each packet record is at least 16 bytes of input.

#![no_main]

use cordon_wire::{capture, Anomaly, Observation, Sink};
use libfuzzer_sys::fuzz_target;

#[derive(Default)]
struct Counting {
    observations: u64,
    anomalies: u64,
}

impl Sink for Counting {
    fn observe(&mut self, _: Observation) {
        self.observations += 1;
    }
    fn anomaly(&mut self, a: Anomaly) {
        assert!(!a.detail.is_empty());
        self.anomalies += 1;
    }
}

fuzz_target!(|data: &[u8]| {
    let mut sink = Counting::default();
    let stats = capture::decode(data, &mut sink);
    assert_eq!(stats.anomalies, sink.anomalies);
    assert!(stats.bytes <= data.len() as u64);
    assert!(stats.records * 16 <= data.len() as u64);
});
