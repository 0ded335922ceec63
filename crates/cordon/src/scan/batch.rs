//! The two phases of a batch scan over files: decode the inputs that carry names and
//! correlate their names, then attribute every flow with those names known.
//!
//! 1. **Decode, phase 1**: inputs that carry names (captures, Suricata EVE, Zeek dns/ssl/
//!    http/x509/dhcp logs, Route 53 logs) are decoded in parallel; names, devices and
//!    indicator matches are folded in as they come, flows are held (up to a limit, past which
//!    a line-based log is decoded again for its flows).
//! 2. **Correlate** ([`super::names`]): the inputs' name indexes merge into one.
//! 3. **Phase 2, attribute and aggregate** ([`super::worker`]): held flows, then flow-only
//!    inputs (Zeek conn logs in parallel chunks, NetFlow/IPFIX/sFlow, VPC flow logs, CSV),
//!    are attributed one flow at a time and folded into exposures; MACs into devices.
//!
//! Inputs are opened when their turn comes (each was probed and closed by the source).

use super::aggregate::{Aggregator, Internal};
use super::attrib::Attributor;
use super::names::{self, NameIndex};
use super::source::{self, Input, Probe};
use super::worker::{device_from, Worker, MAX_ANOMALY_RECORDS};
use crate::indicators::Matcher;
use crate::metrics::Counters;
use crate::model::{AnomalyRecord, InputSummary};
use crate::snapshot::Snapshot;
use anyhow::Context;
use cordon_wire::detect::Format;
use cordon_wire::{zeek, Anomaly, DecodeStats, Flow, Observation, Sink};
use rayon::prelude::*;
use std::net::IpAddr;
use std::sync::Mutex;

/// Chunk size for parallel line-based decoding.
const CHUNK: usize = 4 << 20;
/// Flows phase 1 holds per line-based input (about 100 MiB) before it streams that input's
/// flows in a second pass instead.
const HOLD_FLOWS: usize = 1 << 20;

/// What the phases produce: the aggregate, every input's summary and first anomalies, the
/// indicator matches, and what the name index refused.
pub struct Batch {
    pub agg: Aggregator,
    pub summaries: Vec<InputSummary>,
    pub anomalies: Vec<AnomalyRecord>,
    pub matcher: Option<Matcher>,
    /// What the workers counted (flows attributed, counted only, read twice; names).
    pub counters: Counters,
}

/// Runs both phases over the probed inputs, with `progress` advanced by input size.
pub fn run(
    snap: &Snapshot,
    probes: Vec<Probe>,
    allow_map: bool,
    progress: &indicatif::ProgressBar,
) -> Batch {
    let intel = &snap.intel;
    let internal = &snap.internal;
    let new_matcher = || snap.matcher();
    let mut summaries: Vec<InputSummary> = Vec::new();
    let (phase1, phase2): (Vec<Probe>, Vec<Probe>) = probes.into_iter().partition(carries_names);

    // 1. Decode, phase 1: inputs with names. Names, devices and indicator matches are folded
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

    // 2. Correlate.
    let mut names = NameIndex::default();
    let mut held = held;
    for (_, c, _) in &mut held {
        names.merge(std::mem::take(&mut c.names));
    }
    // 3. Attribute and aggregate: held flows, then flow-only inputs.
    let mut agg = Aggregator::default();
    let mut anomalies: Vec<AnomalyRecord> = Vec::new();
    let mut matcher = new_matcher();
    let mut second_pass: Vec<Probe> = Vec::new();
    let mut counters = Counters::default();
    {
        let mut attr = Attributor::new(intel, &names);
        let is_internal = |ip: IpAddr| internal.contains(ip);
        for (summary, c, probe) in held {
            for f in &c.flows {
                agg.flow(f, &mut attr, internal);
            }
            counters.flows_attributed += c.flows.len() as u64;
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
    let again: Vec<(Aggregator, Option<Matcher>, Counters)> = second_pass
        .into_par_iter()
        .map(|probe| flows_again(&probe, intel, &names, internal, &new_matcher))
        .collect();
    for (part, m, c) in again {
        agg.merge(part);
        counters.merge(&c);
        if let (Some(all), Some(m)) = (matcher.as_mut(), m) {
            all.merge(m);
        }
    }
    let streamed: Vec<Streamed> = phase2
        .into_par_iter()
        .map(|probe| {
            stream(
                &probe,
                allow_map,
                intel,
                &names,
                internal,
                &new_matcher,
                progress,
            )
        })
        .collect();
    for (summary, part, anoms, m, c) in streamed {
        agg.merge(part);
        counters.merge(&c);
        if let (Some(all), Some(m)) = (matcher.as_mut(), m) {
            all.merge(m);
        }
        anomalies.extend(anoms.into_iter().map(|x| anomaly_record(&summary.path, x)));
        summaries.push(summary);
    }
    Batch {
        agg,
        summaries,
        anomalies,
        matcher,
        counters: Counters {
            names_invalid: names.invalid,
            dns_answers_dropped: names.dropped,
            ..counters
        },
    }
}

pub fn failed(path: &std::path::Path, format: &str, error: &str) -> InputSummary {
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

/// The second pass over a line-based log whose flows were too many to hold: a chunk at a
/// time, flows only. Failures were reported by the first pass.
fn flows_again(
    probe: &Probe,
    intel: &cordon_index::Intel,
    names: &NameIndex,
    internal: &Internal,
    new_matcher: &(dyn Fn() -> Option<Matcher> + Sync),
) -> (Aggregator, Option<Matcher>, Counters) {
    let mut st = Worker::new(intel, names, internal, new_matcher(), true);
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
    (st.agg, st.matcher, st.counters)
}

/// What phase 2 gives for one input: its summary, aggregate, first anomalies, indicator
/// matches and counters.
type Streamed = (
    InputSummary,
    Aggregator,
    Vec<Anomaly>,
    Option<Matcher>,
    Counters,
);

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
) -> Streamed {
    let new = || Worker::new(intel, names, internal, new_matcher(), false);
    let path = probe.path.display().to_string();
    let input = match Input::open(&probe.path, allow_map) {
        Ok(i) => i,
        Err(e) => {
            progress.inc(probe.disk_size);
            let s = failed(&probe.path, probe.format.as_str(), &format!("{e:#}"));
            return (
                s,
                Aggregator::default(),
                Vec::new(),
                None,
                Counters::default(),
            );
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
        return (s, st.agg, st.anomalies, st.matcher, st.counters);
    };
    // Zeek TSV conn: chunks cut on newlines, decoded in parallel, merged.
    let workers = rayon::current_num_threads().max(1);
    let results: Mutex<Vec<(Worker<'_>, DecodeStats)>> = Mutex::new(Vec::new());
    let decode = |chunk: &[u8], off: u64, st: &mut Worker<'_>, stats: &mut DecodeStats| {
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
    let mut counters = Counters::default();
    for (st, s) in results.into_inner().unwrap_or_default() {
        agg.merge(st.agg);
        counters.merge(&st.counters);
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
    (summary, agg, anomalies, matcher, counters)
}
