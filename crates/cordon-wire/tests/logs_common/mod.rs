//! Helpers shared by the text-log integration tests: fixtures and a
//! summary of what a decoder produced.
#![allow(dead_code)]

use cordon_wire::{DecodeStats, Observation, Sink, VecSink};
use std::path::PathBuf;

/// A fixture from `tests/data/logs`.
pub fn fixture(name: &str) -> Vec<u8> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/logs")
        .join(name);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// Counts of what a decoder produced.
#[derive(Debug, Default, PartialEq, Eq, Clone, Copy)]
pub struct Counts {
    pub records: u64,
    pub flows: usize,
    pub dns: usize,
    pub names: usize,
    pub dhcp: usize,
    pub hosts: usize,
    pub anomalies: usize,
}

pub fn counts(sink: &VecSink, st: &DecodeStats) -> Counts {
    let mut c = Counts {
        records: st.records,
        anomalies: sink.anomalies.len(),
        ..Counts::default()
    };
    assert_eq!(
        st.anomalies as usize,
        sink.anomalies.len(),
        "stats and sink disagree"
    );
    for o in &sink.observations {
        match o {
            Observation::Flow(_) => c.flows += 1,
            Observation::Dns(_) => c.dns += 1,
            Observation::Name(_) => c.names += 1,
            Observation::Dhcp(_) => c.dhcp += 1,
            Observation::Host(_) => c.hosts += 1,
        }
    }
    c
}

/// Runs a whole-input decoder into a fresh sink.
pub fn run(
    decode: fn(&[u8], &mut dyn Sink) -> DecodeStats,
    input: &[u8],
) -> (VecSink, DecodeStats) {
    let mut sink = VecSink::default();
    let st = decode(input, &mut sink);
    (sink, st)
}

/// Offset of the line containing `needle`.
pub fn line_offset(input: &[u8], needle: &str) -> u64 {
    let at = input
        .windows(needle.len())
        .position(|w| w == needle.as_bytes())
        .unwrap_or_else(|| panic!("{needle} not in input"));
    input[..at]
        .iter()
        .rposition(|&c| c == b'\n')
        .map_or(0, |i| i + 1) as u64
}
