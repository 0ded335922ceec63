//! Indicator load time, memory and match cost on generated inputs: a 1 M-indicator STIX
//! bundle and a 1 M-line plain list (addresses, CIDRs, names, URLs), written once to the
//! temp folder.
//!
//! `cargo bench -p cordon --bench indicators` prints, before the criterion runs, the file
//! sizes, the index size (`IndicatorSet::memory_bytes`, the arrays' capacities) and the
//! process RSS growth over the load (which also counts allocator slack and freed pages not
//! returned to the system), then times loading and matching.

use cordon::indicators::{load, IndicatorSet, Loader, Matcher};
use cordon_wire::obs::{Dns, Flow, IpProto, Observation};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use std::hint::black_box;
use std::io::Write;
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

const N: usize = 1_000_000;

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

fn public_v4(r: &mut Rng) -> Ipv4Addr {
    loop {
        let a = Ipv4Addr::from(r.next() as u32);
        if !a.is_private() && !a.is_loopback() && !a.is_multicast() && a.octets()[0] != 0 {
            return a;
        }
    }
}

fn name(r: &mut Rng) -> String {
    let x = r.next();
    format!(
        "h{:x}.d{:x}.example{}",
        x & 0x00ff_ffff,
        (x >> 24) & 0xfffff,
        x % 7
    )
}

/// One value per `i`, in a fixed mix: 70% addresses, 5% CIDRs, 20% names, 5% URLs.
fn value(r: &mut Rng, i: usize) -> (String, &'static str) {
    match i % 20 {
        0 => {
            let a = u32::from(public_v4(r)) & 0xffff_ff00;
            (format!("{}/24", Ipv4Addr::from(a)), "ipv4-addr")
        }
        1..=4 => (name(r), "domain-name"),
        5 => (
            format!("http://{}/p/{}.bin", name(r), r.next() % 1000),
            "url",
        ),
        _ => (public_v4(r).to_string(), "ipv4-addr"),
    }
}

fn write_inputs(dir: &Path) -> (PathBuf, PathBuf) {
    std::fs::create_dir_all(dir).unwrap();
    let stix = dir.join("bench-1m.stix.json");
    let list = dir.join("bench-1m.txt");
    if !stix.exists() {
        let mut r = Rng(0x9e37_79b9_7f4a_7c15);
        let mut w = std::io::BufWriter::new(std::fs::File::create(&stix).unwrap());
        write!(
            w,
            "{{\"type\":\"bundle\",\"id\":\"bundle--b\",\"objects\":["
        )
        .unwrap();
        for i in 0..N {
            let (v, ty) = value(&mut r, i);
            let pattern = format!("[{ty}:value = '{v}']");
            let sep = if i == 0 { "" } else { "," };
            write!(
                w,
                "{sep}\n{{\"type\":\"indicator\",\"spec_version\":\"2.1\",\"id\":\"indicator--{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}\",\"created\":\"2026-01-01T00:00:00.000Z\",\"modified\":\"2026-01-01T00:00:00.000Z\",\"name\":\"Bench {}\",\"indicator_types\":[\"malicious-activity\"],\"pattern_type\":\"stix\",\"pattern\":\"{pattern}\",\"valid_from\":\"2026-01-{:02}T00:00:00Z\"}}",
                i,
                r.next() & 0xffff,
                r.next() & 0xfff,
                r.next() & 0xfff,
                r.next() & 0xffff_ffff_ffff,
                ty,
                1 + i % 28
            )
            .unwrap();
        }
        write!(w, "\n]}}\n").unwrap();
    }
    if !list.exists() {
        let mut r = Rng(0x2545_f491_4f6c_dd1d);
        let mut w = std::io::BufWriter::new(std::fs::File::create(&list).unwrap());
        writeln!(w, "# bench list").unwrap();
        for i in 0..N {
            let (v, _) = value(&mut r, i);
            writeln!(w, "{v}").unwrap();
        }
    }
    (stix, list)
}

fn rss_kb() -> u64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    s.lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

fn report(path: &Path) -> IndicatorSet {
    let size = std::fs::metadata(path).unwrap().len();
    let before = rss_kb();
    let t = Instant::now();
    let (set, rep) = load(&[path.to_path_buf()]);
    let secs = t.elapsed().as_secs_f64();
    let after = rss_kb();
    let mem = set.memory_bytes() as f64;
    eprintln!(
        "{}: {:.1} MB, {} indicators loaded ({} not) in {:.2} s; index {:.1} MB = {:.2}x the file; RSS +{:.1} MB = {:.2}x",
        path.file_name().unwrap().to_string_lossy(),
        size as f64 / 1e6,
        rep.loaded,
        rep.not_loaded,
        secs,
        mem / 1e6,
        mem / size as f64,
        (after.saturating_sub(before)) as f64 / 1e3,
        (after.saturating_sub(before) * 1024) as f64 / size as f64,
    );
    set
}

/// 200 k observations: flows from internal hosts to random public addresses and DNS
/// queries for random names, four to one; with `listed`, an eighth of the flows and a tenth
/// of the queries are for listed values.
fn observations(list: &Path, listed: bool) -> Vec<Observation> {
    let text = std::fs::read_to_string(list).unwrap();
    let listed_ips: Vec<IpAddr> = text
        .lines()
        .filter_map(|l| l.parse::<IpAddr>().ok())
        .take(10_000)
        .collect();
    let listed_names: Vec<String> = text
        .lines()
        .filter(|l| l.starts_with('h'))
        .take(10_000)
        .map(String::from)
        .collect();
    let mut r = Rng(42);
    let mut out = Vec::new();
    for i in 0..200_000u64 {
        let src = IpAddr::V4(Ipv4Addr::new(10, 0, (i >> 8) as u8, i as u8));
        if i % 5 == 4 {
            let query = if listed && i % 50 == 4 {
                listed_names[(r.next() as usize) % listed_names.len()].clone()
            } else {
                name(&mut r)
            };
            out.push(Observation::Dns(Dns {
                ts: 1_772_366_400_000_000,
                client: Some(src),
                server: None,
                query,
                answers: Vec::new(),
                uid: None,
            }));
            continue;
        }
        let dst = if listed && i % 10 == 3 {
            listed_ips[(r.next() as usize) % listed_ips.len()]
        } else {
            IpAddr::V4(public_v4(&mut r))
        };
        out.push(Observation::Flow(Flow {
            first: 1_772_366_400_000_000,
            last: 1_772_366_401_000_000,
            src,
            dst,
            sport: 40000,
            dport: 443,
            proto: IpProto::TCP,
            bytes_out: 1,
            packets_out: 1,
            bytes_in: 1,
            packets_in: 1,
            src_mac: None,
            dst_mac: None,
            uid: None,
            sampling: 1,
        }));
    }
    out
}

fn internal(a: IpAddr) -> bool {
    matches!(a, IpAddr::V4(v) if v.is_private())
}

fn bench(c: &mut Criterion) {
    let dir = std::env::temp_dir().join("cordon-indicator-bench");
    let (stix, list) = write_inputs(&dir);
    let list_set = Arc::new(report(&list));
    drop(report(&stix));

    let mut g = c.benchmark_group("indicators_load");
    g.sample_size(10);
    g.bench_function("plain_list_1m", |b| {
        b.iter(|| load(black_box(std::slice::from_ref(&list))))
    });
    g.bench_function("stix_bundle_1m", |b| {
        b.iter(|| load(black_box(std::slice::from_ref(&stix))))
    });
    g.finish();

    // A feed-sized set: the first 10 k lines of the list.
    let small = {
        let text = std::fs::read(&list).unwrap();
        let cut = text
            .iter()
            .enumerate()
            .filter(|(_, &b)| b == b'\n')
            .nth(10_000)
            .map_or(text.len(), |(i, _)| i + 1);
        let mut l = Loader::default();
        l.load_bytes("bench-10k.txt", &text[..cut]);
        Arc::new(l.finish().0)
    };
    let obs = observations(&list, true);
    let clean = observations(&list, false);
    let mut g = c.benchmark_group("indicators_match");
    g.throughput(Throughput::Elements(obs.len() as u64));
    for (label, set, obs) in [
        ("empty_set", Arc::new(IndicatorSet::default()), &obs),
        ("list_10k_no_match", small, &clean),
        ("list_1m_no_match", list_set.clone(), &clean),
        ("list_1m_12pct_match", list_set, &obs),
    ] {
        g.bench_function(label, |b| {
            b.iter(|| {
                let mut m = Matcher::new(set.clone(), false);
                for o in obs.iter() {
                    m.observe(o, &internal);
                }
                m.finish().len()
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
