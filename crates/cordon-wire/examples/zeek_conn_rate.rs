//! Measures `zeek::decode_body` on a conn.log with a counting sink, on one core.
//!
//! `cargo run --release -p cordon-wire --example zeek_conn_rate -- [--brief] conn.tsv`
//!
//! `--brief` declines the detail of every flow (ports, packets, protocol), as `cordon scan`
//! does for the nine in ten flows of a typical log that nothing can attribute.
//!
//! Timings on a shared machine are noisy; to compare two versions, count instructions:
//! `valgrind --tool=callgrind '--toggle-collect=cordon_wire::zeek::decode_body*'
//! target/release/examples/zeek_conn_rate conn-200k.tsv` (5 passes over the file).

use cordon_wire::{zeek, Anomaly, Observation, Sink};
use std::net::IpAddr;
use std::time::Instant;

#[derive(Default)]
struct Count {
    /// Declines the detail of every flow, as scan does for flows nothing can attribute.
    brief: bool,
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
    fn wants_detail(&mut self, _: IpAddr, _: IpAddr) -> bool {
        !self.brief
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let brief = args.iter().any(|a| a == "--brief");
    let path = args
        .iter()
        .find(|a| !a.starts_with("--"))
        .expect("usage: zeek_conn_rate [--brief] CONN_LOG");
    let input = std::fs::read(path).expect("read input");
    let mut header = zeek::parse_header(&input).expect("a Zeek TSV header");
    // As `cordon scan` reads a conn log alone: no names tied to uids, so uids are skipped.
    header.keep_uid = false;
    let body = &input[header.body_start..];
    let mut best = f64::MAX;
    let mut lines = 0;
    for _ in 0..5 {
        let mut sink = Count {
            brief,
            ..Count::default()
        };
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
