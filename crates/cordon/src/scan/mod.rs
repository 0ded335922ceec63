//! `cordon scan`: the pipeline, on one screen.
//!
//! ```text
//! source ─bytes─▶ decode (cordon-wire) ─Observation─▶ correlate (names) ─▶ attribute ─▶ aggregate ─▶ judge ─▶ sink
//! ```
//!
//! 1. **Snapshot** ([`crate::snapshot`]): intel, indicators, internal ranges, inventory,
//!    policy and waivers, built whole before anything is read.
//! 2. **Source** ([`source`]): walk the paths, decompress, detect each input's format; each
//!    input is probed and closed, and opened again when its turn comes.
//! 3. **Decode, correlate, attribute, aggregate** ([`batch`], [`worker`], [`names`],
//!    [`attrib`], [`aggregate`]): inputs that carry names first, then every flow with those
//!    names known, folded into exposures per (asset, company, relationship) and devices.
//! 4. **Judge** ([`crate::judge`]): policy and waivers decide every exposure, device and
//!    indicator match once, before any sink runs.
//! 5. **Sink** ([`output`]): JSONL records or a summary people read, built from the
//!    verdicts.
//!
//! **A bad input never ends the run**: per-file errors and malformed records are counted and
//! reported with file and offset; the exit status is 2 only when no input could be read, or
//! when `--fail-on` is given and some input could not be read in full.

pub mod aggregate;
pub mod attrib;
pub mod batch;
pub mod names;
pub mod output;
mod sigbus;
pub mod source;
pub mod worker;

use crate::cli::{Global, ScanArgs, ScanFormat};
use crate::indicators::Matcher;
use crate::judge::Judge;
use crate::model::InputSummary;
use crate::snapshot::{Snapshot, SnapshotConfig};
use crate::Outcome;
use anyhow::Result;
use cordon_wire::detect::Format;
use source::{Input, Probe};

pub use worker::MAX_ANOMALY_RECORDS;

pub fn run(g: &Global, a: &ScanArgs) -> Result<Outcome> {
    let started = std::time::Instant::now();
    // CORDON_TIMINGS=1: the time at the end of each stage, on stderr (BENCHMARKS.md).
    let timings = std::env::var_os("CORDON_TIMINGS").is_some();
    let stage = |name: &str| {
        if timings {
            // Resident memory, from /proc (Linux); absent elsewhere.
            let rss = std::fs::read_to_string("/proc/self/statm")
                .ok()
                .and_then(|s| s.split_whitespace().nth(1)?.parse::<u64>().ok())
                .map_or(String::new(), |p| {
                    format!(", {} MiB resident", (p * 4096) >> 20)
                });
            eprintln!(
                "cordon: timing: {name} at {:.1} ms{rss}",
                started.elapsed().as_secs_f64() * 1e3
            );
        }
    };
    // The snapshot: inventory, policy and waivers checked before anything is scanned (a bad
    // file refuses the run, nothing is half-applied), intel, indicators, internal ranges.
    let snap = Snapshot::build(&SnapshotConfig::for_scan(g, a), 0)?;
    for w in snap.warnings() {
        anstream::eprintln!("cordon: warning: {}", crate::output::safe(&w));
    }
    stage("intel loaded");
    let intel = &snap.intel;
    let findings_config = &snap.judge;

    // 1. Source: every path is sniffed and closed again; it is opened for decoding when its
    // turn comes, so no number of files exhausts descriptors or memory.
    let mut failures: Vec<InputSummary> = Vec::new();
    let mut probes: Vec<Probe> = Vec::new();
    let mut unknown = 0usize;
    for item in source::walk(&a.paths) {
        match item.and_then(|p| Input::probe(&p).map_err(|e| (p, format!("{e:#}")))) {
            Ok(p) if p.format == Format::Unknown => {
                unknown += 1;
                failures.push(batch::failed(
                    &p.path,
                    "unknown",
                    "unknown format: not a capture, flow export or log cordon reads",
                ))
            }
            Ok(p) => probes.push(p),
            Err((path, why)) => failures.push(batch::failed(&path, "unknown", &why)),
        }
    }
    for s in &failures {
        anstream::eprintln!(
            "cordon: {}: {}",
            crate::output::safe(&s.path),
            crate::output::safe(s.error.as_deref().unwrap_or(""))
        );
    }
    let total_size: u64 = probes.iter().map(|i| i.disk_size).sum();
    let progress = output::progress(total_size, a.format == ScanFormat::Text || a.progress);

    // 2–4. Decode, correlate, attribute and aggregate (`batch`).
    let scan = batch::run(&snap, probes, !a.no_mmap, &progress);
    progress.finish_and_clear();
    stage("inputs decoded, attributed, aggregated");
    if scan.counters.names_invalid > 0 {
        anstream::eprintln!(
            "cordon: note: {} names in the telemetry cannot be host names (bad characters or lengths) and were not used",
            scan.counters.names_invalid
        );
    }
    if scan.counters.dns_answers_dropped > 0 {
        anstream::eprintln!(
            "cordon: note: {} DNS answers for addresses of no concern were not kept (more than {} such addresses); they could only have added hosting context",
            scan.counters.dns_answers_dropped,
            names::Budget::DEFAULT
        );
    }
    let batch::Batch {
        agg,
        mut summaries,
        anomalies,
        matcher,
        mut counters,
        ..
    } = scan;
    summaries.extend(failures);
    summaries.sort_by(|a, b| a.path.cmp(&b.path));

    // 5. Records, then the judge. One reading of the clock gives the summary's time and the
    // day that decides which waivers are in force.
    let now = crate::date::now_rfc3339();
    let today =
        (now.get(..10).and_then(crate::date::parse_days)).unwrap_or_else(crate::date::today);
    let mut report = output::Report::build(intel, &agg, summaries, anomalies, a.all_devices, now);
    report.summary.indicators = snap.indicator_report.clone();
    // The stage counters, with the totals the summary already holds.
    let sum = &report.summary;
    counters.inputs = sum.inputs.len() as u64;
    counters.inputs_unknown = unknown as u64;
    counters.inputs_damaged = sum
        .inputs
        .iter()
        .filter(|i| i.error.is_some())
        .count()
        .saturating_sub(unknown) as u64;
    counters.records = sum.records;
    counters.anomalies = sum.anomalies;
    counters.flows = sum.flows;
    counters.exposures = sum.exposures;
    counters.devices = sum.devices;
    report.summary.counters = counters;
    report.indicator_matches = matcher.map(Matcher::finish).unwrap_or_default();
    stage("report built");
    // Every exposure, device and indicator match judged once; the totals complete the
    // summary before any sink runs.
    let judge = Judge::new(findings_config, today);
    let judged = judge.scan(
        report.exposure_facts(),
        &report.devices,
        &report.indicator_matches,
    );
    report.summary.findings = judged.totals.findings;
    report.summary.expired_waivers = judged.totals.expired_waivers.clone();
    report.summary.indicator_matches = report.indicator_matches.len() as u64;
    stage("findings judged");
    // An input counts as read when it gave records, even if its tail was damaged.
    let read_any = report
        .summary
        .inputs
        .iter()
        .any(|i| i.error.is_none() || i.records > 0);
    // Inputs that could not be read, or only in part (unknown formats are not counted:
    // they were read and are not telemetry).
    let unread = report.summary.counters.inputs_damaged;
    // 6. Sink: findings built from the verdicts as a sink asks for them.
    match a.format {
        ScanFormat::Jsonl => {
            // Stdout is line-buffered: one write per record without this.
            let mut out = std::io::BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
            report.write_jsonl(&judge, &judged, &mut out)?
        }
        ScanFormat::Text => {
            let out = &mut anstream::stdout().lock();
            report.write_text(&judge, &judged, started.elapsed(), out)?
        }
    };
    let fails = judged.totals.fails;
    // Freeing the exposures one allocation at a time cost a fifth of a conn-log scan in the
    // profile (BENCHMARKS.md); the process exits next, so the OS takes the memory back.
    stage("output written");
    std::mem::forget(judged);
    std::mem::forget(report);
    std::mem::forget(agg);
    if !read_any {
        anstream::eprintln!("cordon: error: no input could be read");
        return Ok(Outcome::Usage);
    }
    // A gate never passes on data it could not read.
    if a.fail_on.is_some() && unread > 0 {
        anstream::eprintln!(
            "cordon: error: {unread} input{} could not be read in full; --fail-on fails on data it could not read",
            if unread == 1 { "" } else { "s" }
        );
        return Ok(Outcome::Usage);
    }
    Ok(if fails {
        Outcome::Findings
    } else {
        Outcome::Ok
    })
}
