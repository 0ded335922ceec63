//! Measures `zeek::decode_body` on a conn.log with a counting sink, on one core.
//!
//! `cargo run --release -p cordon-wire --example zeek_conn_rate -- /tmp/connbench/conn.tsv`
//!
//! Timings on a shared machine are noisy; to compare two versions, count instructions:
//! `valgrind --tool=callgrind '--toggle-collect=cordon_wire::zeek::decode_body*'
//! target/release/examples/zeek_conn_rate conn-200k.tsv` (5 passes over the file).

use cordon_wire::{zeek, Anomaly, Observation, Sink};
use std::time::Instant;

#[derive(Default)]
struct Count {
    flows: u64,
    ports: u64,
    anomalies: u64,
}

impl Sink for Count {
    fn observe(&mut self, obs: Observation) {
        if let Observation::Flow(f) = obs {
            // Touch a field so the flow is really built.
            self.flows += 1;
            self.ports = self.ports.wrapping_add(f.dport as u64);
        }
    }
    fn anomaly(&mut self, _: Anomaly) {
        self.anomalies += 1;
    }
}

fn main() {
    let path = std::env::args()
        .nth(1)
        .expect("usage: zeek_conn_rate CONN_LOG");
    let input = std::fs::read(&path).expect("read input");
    let mut header = zeek::parse_header(&input).expect("a Zeek TSV header");
    // As `cordon scan` reads a conn log alone: no names tied to uids, so uids are skipped.
    header.keep_uid = false;
    let body = &input[header.body_start..];
    let mut best = f64::MAX;
    let mut lines = 0;
    for _ in 0..5 {
        let mut sink = Count::default();
        let t = Instant::now();
        let st = zeek::decode_body(&header, body, header.body_start as u64, &mut sink);
        let dt = t.elapsed().as_secs_f64();
        best = best.min(dt);
        lines = st.records;
        assert_eq!(sink.flows, st.records);
        assert_eq!(sink.anomalies, 0);
    }
    println!(
        "{lines} lines, best of 5: {:.3} s, {:.2} M lines/s, {:.0} MB/s",
        best,
        lines as f64 / best / 1e6,
        body.len() as f64 / best / 1e6
    );
}
