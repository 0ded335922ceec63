//! Lookup and build benchmarks for the IPv4 table, with a Rust trie crate as the baseline.
//!
//! The table is the full ip-location-db IPv4 → ASN dataset when `CORDON_ASN_V4_CSV` names
//! its CSV (`start,end,asn,org`, as in the npm package `@ip-location-db/asn`); otherwise a
//! synthetic table of 520,000 disjoint ranges of the same shape. Lookups are on uniformly
//! random IPv4 addresses.
//!
//!     CORDON_ASN_V4_CSV=/path/asn-ipv4.csv cargo bench -p cordon-index --bench lookup

use cordon_index::ipv4::Ipv4Table;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use std::hint::black_box;
use std::net::Ipv4Addr;

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

fn load_ranges() -> (Vec<(u32, u32, u32)>, &'static str) {
    if let Ok(path) = std::env::var("CORDON_ASN_V4_CSV") {
        let text = std::fs::read_to_string(&path).expect("read CORDON_ASN_V4_CSV");
        let mut out = Vec::new();
        for line in text.lines() {
            let mut f = line.splitn(4, ',');
            let (Some(s), Some(e), Some(a)) = (f.next(), f.next(), f.next()) else {
                continue;
            };
            let (Ok(s), Ok(e), Ok(a)) = (
                s.parse::<Ipv4Addr>(),
                e.parse::<Ipv4Addr>(),
                a.parse::<u32>(),
            ) else {
                continue;
            };
            out.push((u32::from(s), u32::from(e), a % (1 << 30)));
        }
        return (out, "ip-location-db full table");
    }
    // Synthetic: 520k disjoint ranges covering ~85% of the space, mostly /24-aligned.
    let mut rng = Rng(42);
    let mut out = Vec::new();
    let mut at: u64 = 1 << 24;
    while out.len() < 520_000 && at < u32::MAX as u64 {
        let len = 256 * (1 + rng.next() % 30)
            - if rng.next().is_multiple_of(200) {
                128
            } else {
                0
            };
        let end = (at + len - 1).min(u32::MAX as u64);
        out.push((at as u32, end as u32, (rng.next() % 80_000) as u32));
        at = end + 1 + 256 * (rng.next() % 8);
    }
    (out, "synthetic 520k ranges")
}

fn range_to_cidrs(mut s: u64, e: u64, out: &mut Vec<ipnet::Ipv4Net>) {
    while s <= e {
        let mut len = 32u8;
        while len > 0 {
            let size = 1u64 << (33 - len);
            if !s.is_multiple_of(size) || s + size - 1 > e {
                break;
            }
            len -= 1;
        }
        out.push(ipnet::Ipv4Net::new(Ipv4Addr::from(s as u32), len).unwrap());
        s += 1u64 << (32 - len);
    }
}

fn bench(c: &mut Criterion) {
    let (ranges, what) = load_ranges();
    eprintln!("table: {what}, {} ranges", ranges.len());
    let table = Ipv4Table::build(&ranges).unwrap();
    let mut rng = Rng(7);
    let addrs: Vec<u32> = (0..1 << 20).map(|_| rng.next() as u32).collect();

    let mut g = c.benchmark_group("ipv4_lookup");
    g.throughput(Throughput::Elements(addrs.len() as u64));
    g.bench_function("dir24_8", |b| {
        b.iter(|| {
            let mut hits = 0u32;
            for &a in &addrs {
                hits += table.lookup(black_box(a)).is_some() as u32;
            }
            hits
        })
    });
    let mut trie = prefix_trie::PrefixMap::<ipnet::Ipv4Net, u32>::new();
    let mut cidrs = Vec::new();
    for &(s, e, v) in &ranges {
        cidrs.clear();
        range_to_cidrs(s as u64, e as u64, &mut cidrs);
        for n in &cidrs {
            trie.insert(*n, v);
        }
    }
    g.bench_function("prefix_trie_baseline", |b| {
        b.iter(|| {
            let mut hits = 0u32;
            for &a in &addrs {
                let q = ipnet::Ipv4Net::new(Ipv4Addr::from(black_box(a)), 32).unwrap();
                hits += trie.get_lpm(&q).is_some() as u32;
            }
            hits
        })
    });
    g.finish();

    let mut g = c.benchmark_group("ipv4_build");
    g.sample_size(10);
    g.bench_function("dir24_8", |b| {
        b.iter(|| Ipv4Table::build(black_box(&ranges)).unwrap())
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
