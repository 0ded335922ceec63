//! Time to load the bundled intel snapshot: parse the text files compiled into cordon and
//! build every table (the ≤ 200 ms target).
//!
//!     cargo bench -p cordon --bench load

use cordon::intel::load::{load, Source};
use criterion::{criterion_group, criterion_main, Criterion};

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("intel");
    g.sample_size(20);
    g.bench_function("load_bundled", |b| {
        b.iter(|| load(&Source::Bundled, None).unwrap())
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
