//! Zeek conn.log TSV decoding throughput, in lines, with a counting sink (no attribution).
//!
//! The input is a synthetic conn.log of 200,000 lines in the shape of the project's grepcidr
//! benchmark file (`gen_conn_bench.py`): Zeek's default conn columns, IPv4 addresses, six
//! decimal places on times. It is generated in memory, deterministically. Both the conn fast
//! path (`decode_body`) and the general TSV path it must agree with are measured.
//!
//!     cargo bench -p cordon-wire --bench zeek

use cordon_wire::{zeek, Anomaly, Observation, Sink};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use std::hint::black_box;

const LINES: usize = 200_000;

/// xorshift64: deterministic input without a dependency.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn conn_log() -> Vec<u8> {
    let mut r = Rng(0x2545_f491_4f6c_dd1d);
    let mut out = String::from(
        "#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n\
         #path\tconn\n#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\t\
         service\tduration\torig_bytes\tresp_bytes\tconn_state\tlocal_orig\tlocal_resp\t\
         missed_bytes\thistory\torig_pkts\torig_ip_bytes\tresp_pkts\tresp_ip_bytes\t\
         tunnel_parents\n#types\ttime\tstring\taddr\tport\taddr\tport\tenum\tstring\t\
         interval\tcount\tcount\tstring\tbool\tbool\tcount\tstring\tcount\tcount\tcount\t\
         count\tset[string]\n",
    );
    const UID: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    for i in 0..LINES as u64 {
        let uid: String = (0..17)
            .map(|_| UID[r.below(UID.len() as u64) as usize] as char)
            .collect();
        let dst = r.next() as u32;
        out.push_str(&format!(
            "{}.{:06}\tC{uid}\t10.{}.{}.{}\t{}\t{}.{}.{}.{}\t443\ttcp\tssl\t{}.{:06}\t{}\t{}\t\
             SF\tT\tF\t0\tShADadFf\t{}\t{}\t{}\t{}\t-\n",
            1_700_000_000 + i / 1000,
            (i % 1000) * 1000,
            r.below(256),
            r.below(256),
            r.below(256),
            1024 + r.below(64_000),
            dst >> 24,
            (dst >> 16) & 255,
            (dst >> 8) & 255,
            dst & 255,
            r.below(10),
            r.below(1_000_000),
            r.below(5000),
            r.below(50_000),
            r.below(50),
            r.below(6000),
            r.below(60),
            r.below(60_000),
        ));
    }
    out.into_bytes()
}

/// Counts flows and touches one field, so every flow is really built.
#[derive(Default)]
struct Count {
    flows: u64,
    ports: u64,
    anomalies: u64,
}

impl Sink for Count {
    fn observe(&mut self, obs: Observation) {
        if let Observation::Flow(f) = obs {
            self.flows += 1;
            self.ports = self.ports.wrapping_add(f.dport as u64);
        }
    }
    fn anomaly(&mut self, _: Anomaly) {
        self.anomalies += 1;
    }
}

fn bench(c: &mut Criterion) {
    let input = conn_log();
    let header = zeek::parse_header(&input).expect("header");
    let body = &input[header.body_start..];
    let base = header.body_start as u64;
    let mut g = c.benchmark_group("zeek_conn_tsv");
    g.throughput(Throughput::Elements(LINES as u64));
    g.sample_size(20);
    g.bench_function("fast", |b| {
        b.iter(|| {
            let mut sink = Count::default();
            let st = zeek::decode_body(&header, black_box(body), base, &mut sink);
            assert_eq!((sink.flows, sink.anomalies), (LINES as u64, 0));
            black_box((st, sink.ports))
        })
    });
    g.bench_function("general", |b| {
        b.iter(|| {
            let mut sink = Count::default();
            let st = zeek::decode_body_general(&header, black_box(body), base, &mut sink);
            assert_eq!((sink.flows, sink.anomalies), (LINES as u64, 0));
            black_box((st, sink.ports))
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
