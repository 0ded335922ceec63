//! `cordon scan`: the pipeline, on one screen.
//!
//! ```text
//! source ─bytes─▶ decode (cordon-wire) ─Observation─▶ correlate (names) ─▶ attribute ─▶ aggregate ─▶ sink
//! ```
//!
//! 1. **Source** ([`source`]): walk the paths, decompress, detect each input's format.
//! 2. **Decode, phase 1**: inputs that carry names (captures, Suricata EVE, Zeek dns/ssl/
//!    http/x509/dhcp logs, Route 53 logs) are decoded in parallel; their flows are held.
//! 3. **Correlate** ([`names`]): DNS answers, CNAME chains, TLS and HTTP names are frozen
//!    into a name index, by address and by connection id.
//! 4. **Decode, phase 2, attribute and aggregate** ([`attrib`], [`aggregate`]): held flows,
//!    then flow-only inputs (Zeek conn logs in parallel chunks, NetFlow/IPFIX/sFlow, VPC flow
//!    logs, CSV) are attributed one flow at a time and folded into exposures per (asset,
//!    company, relationship); MACs into devices.
//! 5. **Sink** ([`output`]): JSONL records or a summary people read.
//!
//! **A bad input never ends the run**: per-file errors and malformed records are counted and
//! reported with file and offset; the exit status is 2 only when no input could be read.

pub mod aggregate;
pub mod attrib;
pub mod names;
pub mod output;
mod sigbus;
pub mod source;

use crate::cli::{Global, ScanArgs, ScanFormat};
use crate::indicators::Matcher;
use crate::model::{AnomalyRecord, InputSummary};
use crate::snapshot::{Snapshot, SnapshotConfig};
use crate::Outcome;
use aggregate::{Aggregator, Internal};
use anyhow::{Context, Result};
use attrib::Attributor;
use cordon_wire::detect::Format;
use cordon_wire::{zeek, Anomaly, DecodeStats, Flow, Observation, Sink};
use names::NameIndex;
use rayon::prelude::*;
use source::{Input, Probe};
use std::net::IpAddr;
use std::sync::Mutex;

/// Anomaly records written per input (all are counted).
pub const MAX_ANOMALY_RECORDS: usize = 100;
/// Chunk size for parallel line-based decoding.
const CHUNK: usize = 4 << 20;
/// Flows phase 1 holds per line-based input (about 100 MiB) before it streams that input's
/// flows in a second pass instead.
const HOLD_FLOWS: usize = 1 << 20;

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
    let internal = &snap.internal;
    let new_matcher = || snap.matcher();

    // 1. Source: every path is sniffed and closed again; it is opened for decoding when its
    // turn comes, so no number of files exhausts descriptors or memory.
    let mut summaries: Vec<InputSummary> = Vec::new();
    let mut probes: Vec<Probe> = Vec::new();
    let mut unknown = 0usize;
    for item in source::walk(&a.paths) {
        match item.and_then(|p| Input::probe(&p).map_err(|e| (p, format!("{e:#}")))) {
            Ok(p) if p.format == Format::Unknown => {
                unknown += 1;
                summaries.push(failed(
                    &p.path,
                    "unknown",
                    "unknown format: not a capture, flow export or log cordon reads",
                ))
            }
            Ok(p) => probes.push(p),
            Err((path, why)) => summaries.push(failed(&path, "unknown", &why)),
        }
    }
    for s in &summaries {
        anstream::eprintln!(
            "cordon: {}: {}",
            crate::output::safe(&s.path),
            crate::output::safe(s.error.as_deref().unwrap_or(""))
        );
    }
    let total_size: u64 = probes.iter().map(|i| i.disk_size).sum();
    let progress = output::progress(total_size, a.format == ScanFormat::Text || a.progress);
    let (phase1, phase2): (Vec<Probe>, Vec<Probe>) = probes.into_iter().partition(carries_names);
    let allow_map = !a.no_mmap;

    // 2. Decode, phase 1: inputs with names. Names, devices and indicator matches are folded
    // in as they are decoded (memory follows what is distinct, not lines); flows are held.
    let budget = names::Budget::new(names::Budget::DEFAULT);
    // CORDON_HOLD_FLOWS: flows held per line-based input before its second pass.
    let hold = std::env::var("CORDON_HOLD_FLOWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(HOLD_FLOWS);
    let held: Vec<(InputSummary, Collect<'_>, Probe)> = phase1
        .into_par_iter()
        .map(|probe| {
            let size = probe.disk_size;
            let sink = Collect {
                flows: Vec::new(),
                hold,
                can_spill: matches!(
                    probe.format,
                    Format::SuricataEve | Format::ZeekJson | Format::ZeekTsv
                ),
                spilled: false,
                names: NameIndex::default(),
                intel,
                budget: &budget,
                agg: Aggregator::default(),
                matcher: new_matcher(),
                internal,
                anomalies: Vec::new(),
            };
            let (summary, sink) = decode_named(&probe, allow_map, sink);
            progress.inc(size);
            (summary, sink, probe)
        })
        .collect();

    // 3. Correlate.
    let mut names = NameIndex::default();
    let mut held = held;
    for (_, c, _) in &mut held {
        names.merge(std::mem::take(&mut c.names));
    }
    if names.invalid > 0 {
        anstream::eprintln!(
            "cordon: note: {} names in the telemetry cannot be host names (bad characters or lengths) and were not used",
            names.invalid
        );
    }
    if names.dropped > 0 {
        anstream::eprintln!(
            "cordon: note: {} DNS answers for addresses of no concern were not kept (more than {} such addresses); they could only have added hosting context",
            names.dropped,
            names::Budget::DEFAULT
        );
    }

    // 4. Attribute and aggregate: held flows, then flow-only inputs.
    let mut agg = Aggregator::default();
    let mut anomalies: Vec<AnomalyRecord> = Vec::new();
    let mut matcher = new_matcher();
    let mut second_pass: Vec<Probe> = Vec::new();
    {
        let mut attr = Attributor::new(intel, &names);
        let is_internal = |ip: IpAddr| internal.contains(ip);
        for (summary, c, probe) in held {
            for f in &c.flows {
                agg.flow(f, &mut attr, internal);
            }
            if let Some(m) = matcher.as_mut() {
                for f in c.flows {
                    m.observe(&Observation::Flow(f), &is_internal);
                }
            }
            if c.spilled {
                second_pass.push(probe);
            }
            agg.merge(c.agg);
            if let (Some(all), Some(m)) = (matcher.as_mut(), c.matcher) {
                all.merge(m);
            }
            anomalies.extend(
                c.anomalies
                    .into_iter()
                    .map(|x| anomaly_record(&summary.path, x)),
            );
            summaries.push(summary);
        }
    }
    // Line-based logs with too many flows to hold: their flows alone, streamed again now
    // that the names are known (their records, anomalies, names and devices came from the
    // first pass).
    let again: Vec<(Aggregator, Option<Matcher>)> = second_pass
        .into_par_iter()
        .map(|probe| flows_again(&probe, intel, &names, internal, &new_matcher))
        .collect();
    for (part, m) in again {
        agg.merge(part);
        if let (Some(all), Some(m)) = (matcher.as_mut(), m) {
            all.merge(m);
        }
    }
    let streamed: Vec<(InputSummary, Aggregator, Vec<Anomaly>, Option<Matcher>)> = phase2
        .into_par_iter()
        .map(|probe| {
            stream(
                &probe,
                allow_map,
                intel,
                &names,
                internal,
                &new_matcher,
                &progress,
            )
        })
        .collect();
    for (summary, part, anoms, m) in streamed {
        agg.merge(part);
        if let (Some(all), Some(m)) = (matcher.as_mut(), m) {
            all.merge(m);
        }
        anomalies.extend(anoms.into_iter().map(|x| anomaly_record(&summary.path, x)));
        summaries.push(summary);
    }
    progress.finish_and_clear();
    stage("inputs decoded, attributed, aggregated");
    summaries.sort_by(|a, b| a.path.cmp(&b.path));

    // 5. Sink.
    let mut report = output::Report::build(intel, &agg, summaries, anomalies, a.all_devices);
    report.summary.indicators = snap.indicator_report.clone();
    report.indicator_matches = matcher.map(Matcher::finish).unwrap_or_default();
    stage("report built");
    // An input counts as read when it gave records, even if its tail was damaged.
    let read_any = report
        .summary
        .inputs
        .iter()
        .any(|i| i.error.is_none() || i.records > 0);
    // Inputs that could not be read, or only in part (unknown formats are not counted:
    // they were read and are not telemetry).
    let unread = report
        .summary
        .inputs
        .iter()
        .filter(|i| i.error.is_some())
        .count()
        .saturating_sub(unknown);
    let fails = match a.format {
        ScanFormat::Jsonl => {
            // Stdout is line-buffered: one write per record without this.
            let mut out = std::io::BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
            report.write_jsonl(findings_config, &mut out)?
        }
        ScanFormat::Text => {
            let totals = report.tally(findings_config);
            stage("findings tallied");
            report.write_text(&totals, started.elapsed(), &mut anstream::stdout().lock())?;
            totals.fails
        }
    };
    // Freeing the exposures one allocation at a time cost a fifth of a conn-log scan in the
    // profile (BENCHMARKS.md); the process exits next, so the OS takes the memory back.
    stage("output written");
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

fn failed(path: &std::path::Path, format: &str, error: &str) -> InputSummary {
    let path = path.display().to_string();
    // Messages name their path; the summary holds it once, in `path`.
    let error = error.strip_prefix(&format!("{path}: ")).unwrap_or(error);
    InputSummary {
        path,
        format: format.into(),
        error: Some(error.into()),
        ..Default::default()
    }
}

fn anomaly_record(path: &str, a: Anomaly) -> AnomalyRecord {
    AnomalyRecord {
        path: path.to_string(),
        offset: a.offset,
        kind: a.kind.as_str().into(),
        detail: a.detail,
    }
}

/// Inputs decoded before flows are attributed: those that can carry names.
fn carries_names(p: &Probe) -> bool {
    match p.format {
        Format::ZeekTsv => !p.zeek_conn,
        Format::Pcap
        | Format::Pcapng
        | Format::SuricataEve
        | Format::ZeekJson
        | Format::Route53 => true,
        _ => false,
    }
}

/// What phase 1 keeps of an input: its flows for later; its names, devices and indicator
/// matches folded in as they are decoded; the first anomalies.
struct Collect<'a> {
    flows: Vec<Flow>,
    /// Flows held at most; past this a line-based log's flows are dropped and the log is
    /// decoded again in phase 2 for its flows alone (`spilled`).
    hold: usize,
    can_spill: bool,
    spilled: bool,
    names: NameIndex,
    intel: &'a cordon_index::Intel,
    budget: &'a names::Budget,
    /// Devices only.
    agg: Aggregator,
    matcher: Option<Matcher>,
    internal: &'a Internal,
    anomalies: Vec<Anomaly>,
}

impl Sink for Collect<'_> {
    fn observe(&mut self, obs: Observation) {
        // Flows meet the matcher when they are attributed (held or streamed again).
        if let (Some(m), false) = (self.matcher.as_mut(), matches!(obs, Observation::Flow(_))) {
            let internal = self.internal;
            m.observe(&obs, &|ip| internal.contains(ip));
        }
        match obs {
            Observation::Flow(_) if self.spilled => {}
            Observation::Flow(f) => {
                self.flows.push(f);
                if self.flows.len() > self.hold && self.can_spill {
                    // Too many to hold: this input's flows are streamed again in phase 2.
                    self.flows = Vec::new();
                    self.spilled = true;
                }
            }
            Observation::Dns(d) => {
                let intel = self.intel;
                // An answer matters when its address may lie in an AS of concern or a name
                // of its chain is known to the domain rules; the others only add context.
                let matters = |ip: IpAddr, chain: &[&str]| {
                    (match ip {
                        IpAddr::V4(a) => intel.may_be_of_concern_v4(u32::from(a)),
                        IpAddr::V6(_) => true,
                    }) || chain.iter().any(|n| intel.lookup_domain(n).is_some())
                };
                self.names.add_dns_within(&d, &matters, self.budget)
            }
            Observation::Name(n) => self.names.add_server_name(&n),
            other => device_from(&mut self.agg, &other),
        }
    }
    fn anomaly(&mut self, a: Anomaly) {
        if self.anomalies.len() < MAX_ANOMALY_RECORDS {
            self.anomalies.push(a);
        }
    }
}

/// Keeps the anomalies it is given.
struct Keep<'v>(&'v mut Vec<Anomaly>);

impl Sink for Keep<'_> {
    fn observe(&mut self, _: Observation) {}
    fn anomaly(&mut self, a: Anomaly) {
        self.0.push(a);
    }
}

/// Adds a base offset to the anomalies a decoder of one chunk reports.
struct Offset<'s> {
    sink: &'s mut dyn Sink,
    base: u64,
}

impl Sink for Offset<'_> {
    fn observe(&mut self, obs: Observation) {
        self.sink.observe(obs);
    }
    fn anomaly(&mut self, mut a: Anomaly) {
        a.offset += self.base;
        self.sink.anomaly(a);
    }
    fn wants_detail(&mut self, src: IpAddr, dst: IpAddr) -> bool {
        self.sink.wants_detail(src, dst)
    }
}

/// Phase 1: one input that carries names. Line-based logs (Zeek, EVE) are read a chunk at a
/// time, so memory does not follow the file's size; captures and Route 53 logs whole.
fn decode_named<S: Sink>(probe: &Probe, allow_map: bool, mut sink: S) -> (InputSummary, S) {
    let path = probe.path.display().to_string();
    let input = match Input::open(&probe.path, allow_map) {
        Ok(i) => i,
        Err(e) => {
            return (
                failed(&probe.path, probe.format.as_str(), &format!("{e:#}")),
                sink,
            )
        }
    };
    let format = input.format;
    if !matches!(
        format,
        Format::ZeekTsv | Format::ZeekJson | Format::SuricataEve
    ) {
        return decode_whole(input, sink);
    }
    let header = zeek::parse_header(input.head()).unwrap_or_default();
    let mut stats = DecodeStats::default();
    let mut skipped = Vec::new();
    let read = input.for_each_line_chunk(
        CHUNK,
        || None,
        |a| skipped.push(a),
        |chunk, off| {
            let st = match format {
                Format::SuricataEve => cordon_wire::eve::decode(
                    &chunk,
                    &mut Offset {
                        sink: &mut sink,
                        base: off,
                    },
                ),
                _ => zeek::decode_body(&header, &chunk, off, &mut sink),
            };
            stats.add(&st);
            Ok(())
        },
    );
    stats.anomalies += skipped.len() as u64;
    for a in skipped {
        sink.anomaly(a);
    }
    let mut s = summary(path, format, &stats);
    if let Err(e) = read {
        damaged(&mut s, &e, &mut sink);
    }
    (s, sink)
}

/// Marks an input whose reading failed part way: its error says where and why, and an
/// anomaly at that offset says that what came before was kept.
fn damaged(s: &mut InputSummary, e: &anyhow::Error, sink: &mut dyn Sink) {
    let msg = format!("{e:#}");
    let msg = msg
        .strip_prefix(&format!("{}: ", s.path))
        .unwrap_or(&msg)
        .to_string();
    if let Some(d) = e.downcast_ref::<source::Damage>() {
        s.anomalies += 1;
        sink.anomaly(Anomaly {
            offset: d.offset,
            kind: cordon_wire::AnomalyKind::Truncated,
            detail: format!("{msg}; the {} records before it were kept", s.records),
        });
    }
    s.error = Some(msg);
}

/// Devices from DHCP and host observations.
fn device_from(agg: &mut Aggregator, obs: &Observation) {
    match obs {
        Observation::Dhcp(d) => agg.device(
            d.mac,
            d.ip,
            d.host_name.as_deref(),
            d.vendor_class.as_deref(),
            d.ts,
            d.ts,
            "dhcp",
        ),
        Observation::Host(h) => agg.device(h.mac, h.ip, None, None, h.ts, h.ts, "ethernet"),
        _ => {}
    }
}

/// Decodes a whole input with the decoder its format calls for; what was read before a
/// failure is decoded, and the failure reported.
fn decode_whole<S: Sink>(input: Input, mut sink: S) -> (InputSummary, S) {
    let path = input.path.display().to_string();
    let format = input.format;
    let (data, mut err) = input.read_all();
    let st = decode_bytes(format, &data, &mut sink);
    let mut s = summary(path, format, &st);
    if data.truncated_while_read() {
        err = Some(source::truncated_while_scanned(
            std::path::Path::new(&s.path),
            data.len(),
        ));
    }
    if let Some(e) = err {
        damaged(&mut s, &e, &mut sink);
    }
    (s, sink)
}

fn decode_bytes(format: Format, data: &[u8], sink: &mut dyn Sink) -> DecodeStats {
    use cordon_wire::{aws, capture, csvlog, eve, netflow, sflow};
    match format {
        Format::Pcap | Format::Pcapng => capture::decode(data, sink),
        Format::NetflowDatagrams => netflow::decode_file(data, sink),
        Format::Sflow => sflow::decode_file(data, sink),
        Format::ZeekTsv | Format::ZeekJson => zeek::decode(data, sink),
        Format::SuricataEve => eve::decode(data, sink),
        Format::AwsVpcFlow | Format::AwsVpcFlowCloudWatch | Format::Route53 => {
            aws::decode(data, sink)
        }
        Format::Csv => csvlog::decode(data, sink),
        Format::Ndjson => csvlog::decode_ndjson(data, sink),
        Format::Unknown => DecodeStats::default(),
    }
}

fn summary(path: String, format: Format, st: &DecodeStats) -> InputSummary {
    // Flow exports count flow records and their octets, as nfdump does.
    let export =
        st.export_records > 0 || matches!(format, Format::NetflowDatagrams | Format::Sflow);
    let fmt = match (format, st.export_records > 0) {
        (Format::Pcap, true) => "pcap (flow export)",
        (Format::Pcapng, true) => "pcapng (flow export)",
        (f, _) => f.as_str(),
    };
    InputSummary {
        path,
        format: fmt.to_string(),
        records: if export {
            st.export_records
        } else {
            st.records
        },
        bytes: if export { st.export_bytes } else { st.bytes },
        anomalies: st.anomalies,
        error: None,
    }
}

/// Flows attributed together: their table lookups are issued back to back first, so the
/// memory accesses overlap instead of waiting one after another (BENCHMARKS.md).
const FLOW_BATCH: usize = 128;

/// Attributes flows as they are decoded; keeps devices and the first anomalies.
struct Streamer<'a> {
    attr: Attributor<'a>,
    agg: Aggregator,
    internal: &'a Internal,
    anomalies: Vec<Anomaly>,
    matcher: Option<Matcher>,
    batch: Vec<Flow>,
    /// A second pass: everything but flows was taken in the first.
    flows_only: bool,
}

impl Streamer<'_> {
    /// Attributes the buffered flows. Call before reading `agg`.
    fn flush(&mut self) {
        let ips = || self.batch.iter().flat_map(|f| [f.src, f.dst]);
        self.attr.warm(ips());
        if let Some(m) = &self.matcher {
            m.warm(ips());
        }
        let internal = self.internal;
        for f in self.batch.drain(..) {
            self.agg.flow(&f, &mut self.attr, internal);
            if let Some(m) = self.matcher.as_mut() {
                let obs = Observation::Flow(f);
                m.observe(&obs, &|ip| internal.contains(ip));
            }
        }
    }
}

impl Sink for Streamer<'_> {
    fn observe(&mut self, obs: Observation) {
        if self.flows_only && !matches!(obs, Observation::Flow(_)) {
            return;
        }
        if let (Some(m), false) = (self.matcher.as_mut(), matches!(obs, Observation::Flow(_))) {
            let internal = self.internal;
            m.observe(&obs, &|ip| internal.contains(ip));
        }
        match obs {
            Observation::Flow(f) => {
                // Most flows of a big log touch nothing of concern: without MACs (devices)
                // and with neither end attributable or matchable, a flow is only counted,
                // so it skips the batch. (The decoder asked `wants_detail` for the same
                // addresses just before, so the filter's words are in cache.)
                if f.src_mac.is_none() && f.dst_mac.is_none() && !self.wants_detail(f.src, f.dst) {
                    self.agg.count(&f);
                    return;
                }
                self.batch.push(f);
                if self.batch.len() >= FLOW_BATCH {
                    self.flush();
                }
            }
            other => device_from(&mut self.agg, &other),
        }
    }
    fn anomaly(&mut self, a: Anomaly) {
        if self.anomalies.len() < MAX_ANOMALY_RECORDS {
            self.anomalies.push(a);
        }
    }
    /// Ports and packets matter only to a flow that can be attributed or matched: with no
    /// names and no indicators, only an AS of concern attributes, and the first level of
    /// the concern filter rules most addresses out (a flow of neither is only counted).
    /// The second level is left to the batch, which reads it and the table for many flows
    /// at once: read here, it was one wait on memory per flow that passed the first.
    fn wants_detail(&mut self, src: IpAddr, dst: IpAddr) -> bool {
        let may = |ip: IpAddr| match ip {
            IpAddr::V4(a) => self.attr.intel().may_be_of_concern_v4_16(u32::from(a)),
            IpAddr::V6(_) => true,
        };
        self.matcher.is_some() || !self.attr.names().is_empty() || may(src) || may(dst)
    }
}

/// The second pass over a line-based log whose flows were too many to hold: a chunk at a
/// time, flows only. Failures were reported by the first pass.
fn flows_again(
    probe: &Probe,
    intel: &cordon_index::Intel,
    names: &NameIndex,
    internal: &Internal,
    new_matcher: &(dyn Fn() -> Option<Matcher> + Sync),
) -> (Aggregator, Option<Matcher>) {
    let mut st = Streamer {
        attr: Attributor::new(intel, names),
        agg: Aggregator::default(),
        internal,
        anomalies: Vec::new(),
        matcher: new_matcher(),
        batch: Vec::with_capacity(FLOW_BATCH),
        flows_only: true,
    };
    if let Ok(input) = Input::open(&probe.path, false) {
        let format = input.format;
        let header = zeek::parse_header(input.head()).unwrap_or_default();
        let _ = input.for_each_line_chunk(
            CHUNK,
            || None,
            |_| {},
            |chunk, _| {
                match format {
                    Format::SuricataEve => {
                        cordon_wire::eve::decode(&chunk, &mut st);
                    }
                    _ => {
                        zeek::decode_body(&header, &chunk, 0, &mut st);
                    }
                }
                Ok(())
            },
        );
    }
    st.flush();
    (st.agg, st.matcher)
}

/// Phase 2: one flow-only input, attributed as it is decoded. Zeek conn logs are read in
/// chunks decoded by all cores; other formats whole.
fn stream(
    probe: &Probe,
    allow_map: bool,
    intel: &cordon_index::Intel,
    names: &NameIndex,
    internal: &Internal,
    new_matcher: &(dyn Fn() -> Option<Matcher> + Sync),
    progress: &indicatif::ProgressBar,
) -> (InputSummary, Aggregator, Vec<Anomaly>, Option<Matcher>) {
    let new = || Streamer {
        attr: Attributor::new(intel, names),
        agg: Aggregator::default(),
        internal,
        anomalies: Vec::new(),
        matcher: new_matcher(),
        batch: Vec::with_capacity(FLOW_BATCH),
        flows_only: false,
    };
    let path = probe.path.display().to_string();
    let input = match Input::open(&probe.path, allow_map) {
        Ok(i) => i,
        Err(e) => {
            progress.inc(probe.disk_size);
            let s = failed(&probe.path, probe.format.as_str(), &format!("{e:#}"));
            return (s, Aggregator::default(), Vec::new(), None);
        }
    };
    let format = input.format;
    let header = (format == Format::ZeekTsv)
        .then(|| zeek::parse_header(input.head()))
        .flatten()
        .map(|mut h| {
            // Uids only matter when some name is tied to one.
            h.keep_uid = names.has_uids();
            h
        });
    let size = input.disk_size;
    let Some(header) = header else {
        let (s, mut st) = decode_whole(input, new());
        st.flush();
        progress.inc(size);
        return (s, st.agg, st.anomalies, st.matcher);
    };
    // Zeek TSV conn: chunks cut on newlines, decoded in parallel, merged.
    let workers = rayon::current_num_threads().max(1);
    let results: Mutex<Vec<(Streamer<'_>, DecodeStats)>> = Mutex::new(Vec::new());
    let decode = |chunk: &[u8], off: u64, st: &mut Streamer<'_>, stats: &mut DecodeStats| {
        stats.add(&zeek::decode_body(&header, chunk, off, st));
    };
    // Lines too long to carry, skipped by the reader.
    let mut skipped: Vec<Anomaly> = Vec::new();
    let read_result = if let Some(map) = input.mapped() {
        // Mapped: each worker cuts the next chunk itself, no copy and no reader thread.
        let data: &[u8] = &map;
        let next = Mutex::new(0usize);
        let take = || {
            let mut at = next.lock().ok()?;
            let start = *at;
            let want = start.saturating_add(CHUNK).min(data.len());
            let end = memchr::memchr(b'\n', data.get(want..)?).map_or(data.len(), |i| want + i + 1);
            *at = end;
            (start < end).then_some((start, end))
        };
        std::thread::scope(|s| {
            for _ in 0..workers {
                let (take, decode, results, new) = (&take, &decode, &results, &new);
                s.spawn(move || {
                    let mut st = new();
                    let mut stats = DecodeStats::default();
                    while let Some((a, b)) = take() {
                        decode(&data[a..b], a as u64, &mut st, &mut stats);
                        progress.inc((b - a) as u64);
                    }
                    st.flush();
                    if let Ok(mut r) = results.lock() {
                        r.push((st, stats));
                    }
                });
            }
        });
        let truncated = map.truncated();
        let len = map.len();
        // Unmapping hundreds of megabytes takes milliseconds: done aside, while the
        // report is built.
        std::thread::spawn(move || drop(map));
        if truncated {
            Err(source::truncated_while_scanned(&probe.path, len))
        } else {
            Ok(())
        }
    } else {
        // Read: one reader hands chunks to the workers and takes their spent buffers back.
        let compressed = input.compression.is_some();
        let (tx, rx) = std::sync::mpsc::sync_channel::<(Vec<u8>, u64)>(workers * 2);
        let rx = Mutex::new(rx);
        let (spent_tx, spent_rx) = std::sync::mpsc::channel::<Vec<u8>>();
        std::thread::scope(|s| {
            for _ in 0..workers {
                let spent = spent_tx.clone();
                let (rx, decode, results, new) = (&rx, &decode, &results, &new);
                s.spawn(move || {
                    let mut st = new();
                    let mut stats = DecodeStats::default();
                    loop {
                        let next = rx.lock().map(|r| r.recv());
                        let Ok(Ok((chunk, off))) = next else { break };
                        decode(&chunk, off, &mut st, &mut stats);
                        let _ = spent.send(chunk);
                    }
                    st.flush();
                    if let Ok(mut r) = results.lock() {
                        r.push((st, stats));
                    }
                });
            }
            let recycle = || spent_rx.try_recv().ok();
            let skip = |a| skipped.push(a);
            let r = input.for_each_line_chunk(CHUNK, recycle, skip, |chunk, off| {
                if !compressed {
                    progress.inc(chunk.len() as u64);
                }
                tx.send((chunk, off)).context("decoder threads stopped")
            });
            if compressed {
                progress.inc(size);
            }
            drop(tx);
            r
        })
    };
    let mut agg = Aggregator::default();
    let mut anomalies = Vec::new();
    let mut stats = DecodeStats::default();
    let mut matcher: Option<Matcher> = None;
    for (st, s) in results.into_inner().unwrap_or_default() {
        agg.merge(st.agg);
        match (matcher.as_mut(), st.matcher) {
            (Some(all), Some(m)) => all.merge(m),
            (None, m) => matcher = m,
            _ => {}
        }
        anomalies.extend(st.anomalies);
        stats.add(&s);
    }
    stats.anomalies += skipped.len() as u64;
    anomalies.extend(skipped);
    let mut summary = summary(path, format, &stats);
    if let Err(e) = read_result {
        let mut sink = Keep(&mut anomalies);
        damaged(&mut summary, &e, &mut sink);
    }
    anomalies.sort_by_key(|a| a.offset);
    anomalies.truncate(MAX_ANOMALY_RECORDS);
    (summary, agg, anomalies, matcher)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::intel::load::{load, Source};
    use cordon_wire::{IpProto, Mac};

    /// The streamer only counts flows that nothing can attribute; the aggregate must be the
    /// one that attributing every flow gives: flows, times, exposures and devices.
    #[test]
    fn counted_flows_aggregate_like_attributed_ones() {
        let intel = load(&Source::Bundled, None).unwrap().intel;
        let names = NameIndex::default();
        let internal = Internal::default_ranges();
        let mut s = Streamer {
            attr: Attributor::new(&intel, &names),
            agg: Aggregator::default(),
            internal: &internal,
            anomalies: Vec::new(),
            matcher: None,
            batch: Vec::with_capacity(FLOW_BATCH),
            flows_only: false,
        };
        let mut direct = Aggregator::default();
        let mut attr = Attributor::new(&intel, &names);
        let mut x = 0x2545_f491_4f6c_dd1du64;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let (mut counted, mut of_concern) = (0, 0);
        for i in 0..20_000i64 {
            let r = next();
            let remote: IpAddr = match r % 8 {
                // Alibaba Cloud, and addresses of no concern, and IPv6.
                0 => format!("47.88.{}.{}", (r >> 8) as u8, (r >> 16) as u8)
                    .parse()
                    .unwrap(),
                1 => format!("2001:db8::{:x}", r >> 48).parse().unwrap(),
                2 => format!("10.9.{}.{}", (r >> 8) as u8, (r >> 16) as u8)
                    .parse()
                    .unwrap(),
                _ => IpAddr::from(((r >> 24) as u32).to_be_bytes()),
            };
            let asset: IpAddr = format!("10.0.0.{}", (r >> 40) as u8).parse().unwrap();
            let mac = (r % 5 == 0).then_some(Mac([0x00, 0x1b, 0x21, 1, 2, (r >> 40) as u8]));
            let (src, dst) = if r % 3 == 0 {
                (remote, asset)
            } else {
                (asset, remote)
            };
            let f = Flow {
                first: if r % 50 == 0 {
                    0
                } else {
                    1_700_000_000_000_000 + i * 1000
                },
                last: 1_700_000_000_000_000 + i * 1000 + (r % 7_000_000) as i64,
                src,
                dst,
                sport: 40000,
                dport: 443,
                proto: IpProto::TCP,
                bytes_out: r % 10_000,
                packets_out: 3,
                bytes_in: (r >> 20) % 10_000,
                packets_in: 2,
                src_mac: mac,
                dst_mac: None,
                uid: None,
                sampling: 1,
            };
            if mac.is_none() && !s.wants_detail(src, dst) {
                counted += 1;
            }
            if attr.remote(remote, None).is_some() {
                of_concern += 1;
            }
            direct.flow(&f, &mut attr, &internal);
            s.observe(Observation::Flow(f));
        }
        s.flush();
        assert!(
            counted > 10_000 && of_concern > 1000,
            "{counted} {of_concern}"
        );
        let got = s.agg;
        assert_eq!(
            (got.flows, got.first, got.last),
            (direct.flows, direct.first, direct.last)
        );
        assert_eq!(got.exposures.len(), direct.exposures.len());
        for (k, e) in direct.exposures.iter() {
            let g = got
                .exposures
                .iter()
                .find(|(gk, _)| *gk == k)
                .map(|(_, g)| g);
            let g = g.unwrap_or_else(|| panic!("exposure {k:?} missing"));
            assert_eq!(
                (
                    g.flows,
                    g.bytes_out,
                    g.bytes_in,
                    g.first,
                    g.last,
                    &g.remotes
                ),
                (
                    e.flows,
                    e.bytes_out,
                    e.bytes_in,
                    e.first,
                    e.last,
                    &e.remotes
                )
            );
        }
        let devices = |a: &Aggregator| {
            let mut d: Vec<_> = a.devices.iter().map(|(m, d)| (*m, d.ip, d.first)).collect();
            d.sort();
            d
        };
        assert!(!direct.devices.is_empty());
        assert_eq!(devices(&got), devices(&direct));
    }
}
