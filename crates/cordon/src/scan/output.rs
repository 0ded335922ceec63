//! Sink: the scan's results as JSONL records (`docs/wire-format.md`) or as a summary people
//! read on a terminal, and the progress bar on stderr.

use super::aggregate::{Aggregator, ExposureAgg, ExposureKey};
use crate::attribute;
use crate::date::{now_rfc3339, rfc3339_micros};
use crate::findings::Evaluation;
use crate::findings::FindingConfig;
use crate::model::Severity;
use crate::model::{
    AnomalyRecord, DatasetRef, DesignationRef, Device, Evidence, Exposure, Finding, InputSummary,
    RecordRef, Summary, WIRE_VERSION,
};
use crate::model::{ExpiredWaiver, IndicatorMatch};
use crate::output::{paint, Safe, Style};
use cordon_index::{EntityId, Intel, Relationship};
use foldhash::HashMap;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::collections::BTreeMap;
use std::io::Write;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

/// A byte-count progress bar on stderr; hidden when stderr is not a terminal or the input
/// is small.
pub fn progress(total: u64, wanted: bool) -> ProgressBar {
    if !wanted || total < (64 << 20) {
        return ProgressBar::hidden();
    }
    let pb = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
    if let Ok(style) = ProgressStyle::with_template(
        "{spinner} scanning {bytes}/{total_bytes} {wide_bar} {bytes_per_sec} eta {eta}",
    ) {
        pb.set_style(style);
    }
    pb
}

pub fn designations(intel: &Intel, id: EntityId) -> Vec<DesignationRef> {
    intel
        .designations(id)
        .iter()
        .map(|d| {
            let x = d.designation;
            let date = if x.date_added.is_empty() {
                &x.edition
            } else {
                &x.date_added
            };
            DesignationRef {
                list: x.list.to_string(),
                date: date.to_string(),
                status: x.status.into(),
                source: x.source.to_string(),
                holder: intel.entity(d.holder).id.to_string(),
            }
        })
        .collect()
}

/// The evidence of an exposure; for an AS-only match, led by the address and prefix of the
/// first remote (computed here, once per exposure, rather than per flow).
fn exposure_evidence(intel: &Intel, e: &super::aggregate::ExposureAgg) -> Vec<Evidence> {
    let mut out = Vec::with_capacity(e.evidence.len() + 2);
    if e.by_address {
        let f = attribute::ip(intel, e.evidence_remote);
        if let Some(m) = f.matches.first() {
            out.extend(
                super::attrib::to_evidence(m)
                    .into_iter()
                    .filter(|x| x.kind == "address" || x.kind == "prefix"),
            );
        }
    }
    out.extend(e.evidence.iter().cloned());
    out
}

/// The scan's results, ready to write. Exposure records are built from the aggregates when
/// written, a batch at a time with their findings, so memory holds the aggregates and one
/// batch of records, not every record at once.
pub struct Report<'a> {
    intel: &'a Intel,
    /// The aggregates, in table order.
    table: &'a super::aggregate::Exposures,
    /// The company groups the text summary shows, most traffic first.
    groups: Groups<'a>,
    /// The exposures of each device's address, largest first (the text summary's "talks
    /// to").
    device_exposures: DeviceExposures<'a>,
    pub devices: Vec<Device>,
    /// Threat-indicator matches, when indicators were given.
    pub indicator_matches: Vec<IndicatorMatch>,
    pub anomalies: Vec<AnomalyRecord>,
    pub summary: Summary,
    /// Designations per entity, computed once.
    designations: HashMap<EntityId, Vec<DesignationRef>>,
}

/// An exposure with what ordering and the summary read copied out of the table, so that
/// sorting and grouping 166 k of them walk one array instead of chasing a pointer each.
#[derive(Clone, Copy)]
struct Ranked<'a> {
    key: ExposureKey,
    bytes_out: u64,
    bytes_in: u64,
    flows: u64,
    agg: &'a ExposureAgg,
}

/// Exposures listed per group in the text summary.
const TOP_PER_GROUP: usize = 8;

/// One company group of the text summary, gathered in one pass over the table (the lines
/// shown need the best few exposures, not all of them sorted).
#[derive(Default)]
struct GroupView<'a> {
    /// Bytes both ways, summed per exposure (the order of groups).
    total: u64,
    bytes_out: u64,
    bytes_in: u64,
    flows: u64,
    exposures: usize,
    /// Every exposure's asset until [`Gathered::finish`], then the distinct ones.
    assets: Vec<IpAddr>,
    entities: std::collections::BTreeSet<EntityId>,
    /// The best exposures, best first.
    top: Vec<Ranked<'a>>,
}

type Groups<'a> = Vec<(EntityId, GroupView<'a>)>;
type DeviceExposures<'a> = HashMap<IpAddr, Vec<Ranked<'a>>>;

/// Keeps `list` the `cap` best by rank, best first.
fn push_ranked<'a>(list: &mut Vec<Ranked<'a>>, r: Ranked<'a>, cap: usize) {
    let key = |r: &Ranked<'_>| rank_of(&r.key, r.bytes_out, r.bytes_in, r.flows);
    let at = list.partition_point(|x| key(x) < key(&r));
    if at < cap {
        list.insert(at, r);
        list.truncate(cap);
    }
}

/// What one pass over the table gathers for the text summary and the designations.
#[derive(Default)]
struct Gathered<'a> {
    groups: HashMap<EntityId, GroupView<'a>>,
    device_exposures: HashMap<IpAddr, Vec<Ranked<'a>>>,
}

impl<'a> Gathered<'a> {
    fn add(&mut self, intel: &Intel, devices: &[IpAddr], r: Ranked<'a>) {
        let g = self.groups.entry(intel.group(r.key.1)).or_default();
        g.total = g
            .total
            .saturating_add(r.bytes_out.saturating_add(r.bytes_in));
        g.bytes_out = g.bytes_out.saturating_add(r.bytes_out);
        g.bytes_in = g.bytes_in.saturating_add(r.bytes_in);
        g.flows = g.flows.wrapping_add(r.flows);
        g.exposures += 1;
        g.assets.push(r.key.0);
        g.entities.insert(r.key.1);
        push_ranked(&mut g.top, r, TOP_PER_GROUP);
        if devices.contains(&r.key.0) {
            self.device_exposures.entry(r.key.0).or_default().push(r);
        }
    }

    fn merge(mut self, o: Gathered<'a>) -> Gathered<'a> {
        for (id, v) in o.groups {
            let g = self.groups.entry(id).or_default();
            g.total = g.total.saturating_add(v.total);
            g.bytes_out = g.bytes_out.saturating_add(v.bytes_out);
            g.bytes_in = g.bytes_in.saturating_add(v.bytes_in);
            g.flows = g.flows.wrapping_add(v.flows);
            g.exposures += v.exposures;
            g.assets.extend(v.assets);
            g.entities.extend(v.entities);
            for r in v.top {
                push_ranked(&mut g.top, r, TOP_PER_GROUP);
            }
        }
        for (ip, list) in o.device_exposures {
            self.device_exposures.entry(ip).or_default().extend(list);
        }
        self
    }

    /// Groups by traffic (ties by id), distinct assets, device exposures ranked.
    fn finish(mut self) -> (Groups<'a>, DeviceExposures<'a>) {
        use rayon::slice::ParallelSliceMut;
        let mut groups: Groups<'a> = self.groups.into_iter().collect();
        groups.sort_by_key(|(id, g)| (std::cmp::Reverse(g.total), *id));
        for (_, g) in &mut groups {
            g.assets.par_sort_unstable();
            g.assets.dedup();
        }
        for list in self.device_exposures.values_mut() {
            list.sort_unstable_by_key(|r| rank_of(&r.key, r.bytes_out, r.bytes_in, r.flows));
        }
        (groups, self.device_exposures)
    }
}

impl<'a> Ranked<'a> {
    fn of(key: &ExposureKey, agg: &'a ExposureAgg) -> Ranked<'a> {
        Ranked {
            key: *key,
            bytes_out: agg.bytes_out,
            bytes_in: agg.bytes_in,
            flows: agg.flows,
            agg,
        }
    }
}

/// The order of exposures: most traffic, then most flows, then by key (unique).
type Rank = (std::cmp::Reverse<u64>, std::cmp::Reverse<u64>, ExposureKey);

fn rank_of(key: &ExposureKey, bytes_out: u64, bytes_in: u64, flows: u64) -> Rank {
    use std::cmp::Reverse;
    (
        Reverse(bytes_out.saturating_add(bytes_in)),
        Reverse(flows),
        *key,
    )
}

fn rank(key: &ExposureKey, e: &ExposureAgg) -> Rank {
    rank_of(key, e.bytes_out, e.bytes_in, e.flows)
}

/// Adds expired waivers to a list, one entry per waiver, their match counts summed.
fn merge_expired(into: &mut Vec<ExpiredWaiver>, from: Vec<ExpiredWaiver>) {
    for x in from {
        match into.iter_mut().find(|e| e.at == x.at) {
            Some(e) => e.matched += x.matched,
            None => into.push(x),
        }
    }
}

/// Exposure records written (or evaluated) per batch.
const BATCH: usize = 2048;
/// Batches built at once, in parallel.
const PARALLEL_BATCHES: usize = 4;

/// What the findings came to, over every batch.
#[derive(Default)]
pub struct FindingTotals {
    /// Per severity: (unwaived, waived).
    pub by_severity: BTreeMap<Severity, (u64, u64)>,
    /// The most severe unwaived findings, for the terminal.
    pub top: Vec<Finding>,
    pub fails: bool,
}

fn round2(x: f32) -> f64 {
    (x as f64 * 100.0).round() / 100.0
}

impl<'a> Report<'a> {
    pub fn build(
        intel: &'a Intel,
        agg: &'a Aggregator,
        inputs: Vec<InputSummary>,
        anomalies: Vec<AnomalyRecord>,
        all_devices: bool,
    ) -> Report<'a> {
        let mut devices: Vec<Device> = Vec::new();
        for (mac, d) in &agg.devices {
            let f = attribute::mac(intel, *mac);
            let m = f.matches.first();
            if m.is_none() && !all_devices {
                continue;
            }
            let mut evidence: Vec<Evidence> = m.map(super::attrib::to_evidence).unwrap_or_default();
            evidence.push(Evidence {
                kind: "seen".into(),
                value: d.seen_by.join(", "),
                source: Some("telemetry".into()),
                date: None,
            });
            if let Some(v) = &d.vendor_class {
                evidence.push(Evidence {
                    kind: "dhcp".into(),
                    value: format!("vendor class {v}"),
                    source: Some("telemetry".into()),
                    date: None,
                });
            }
            devices.push(Device {
                mac: mac.to_string(),
                ip: d.ip.map(|i| i.to_string()),
                entity: m.map(|m| intel.entity(m.entity).id.to_string()),
                group: m.map(|m| intel.entity(intel.group(m.entity)).id.to_string()),
                relationship: m.map(|_| Relationship::MadeBy.into()),
                maker: f.maker.clone(),
                host_name: d.host_name.clone(),
                vendor_class: d.vendor_class.clone(),
                first_seen: rfc3339_micros(d.first),
                last_seen: rfc3339_micros(d.last),
                evidence,
                designations: m.map(|m| designations(intel, m.entity)).unwrap_or_default(),
            });
        }
        devices.sort_by(|a, b| (&a.group, &a.mac).cmp(&(&b.group, &b.mac)));
        // One pass over the table, on every core: groups, device exposures, entities.
        let device_ips: Vec<IpAddr> = devices
            .iter()
            .filter_map(|d| d.ip.as_deref()?.parse().ok())
            .collect();
        use rayon::prelude::*;
        let gathered = agg
            .exposures
            .par_iter()
            .fold(Gathered::default, |mut g, (k, e)| {
                g.add(intel, &device_ips, Ranked::of(k, e));
                g
            })
            .reduce(Gathered::default, Gathered::merge);
        let (groups, device_exposures) = gathered.finish();
        let mut designations_by: HashMap<EntityId, Vec<DesignationRef>> = HashMap::default();
        for e in groups.iter().flat_map(|(_, g)| &g.entities) {
            designations_by.insert(*e, designations(intel, *e));
        }
        let summary = Summary {
            wire_version: WIRE_VERSION,
            cordon_version: env!("CARGO_PKG_VERSION").into(),
            scanned_at: now_rfc3339(),
            records: inputs.iter().map(|i| i.records).sum(),
            bytes: inputs
                .iter()
                .map(|i| i.bytes)
                .fold(0u64, u64::saturating_add),
            anomalies: inputs.iter().map(|i| i.anomalies).sum(),
            inputs,
            flows: agg.flows,
            exposures: agg.exposures.len() as u64,
            devices: devices.len() as u64,
            first_seen: agg.first.map(rfc3339_micros),
            last_seen: agg.last.map(rfc3339_micros),
            datasets: intel
                .datasets
                .iter()
                .map(|d| DatasetRef {
                    id: d.id.to_string(),
                    date: d.date.to_string(),
                })
                .collect(),
            findings: 0,
            expired_waivers: Vec::new(),
            indicators: None,
            indicator_matches: 0,
        };
        Report {
            intel,
            table: &agg.exposures,
            groups,
            device_exposures,
            devices,
            indicator_matches: Vec::new(),
            anomalies,
            summary,
            designations: designations_by,
        }
    }

    /// The exposure record of one aggregate.
    fn exposure(&self, (asset, entity, rel): &ExposureKey, e: &ExposureAgg) -> Exposure {
        let intel = self.intel;
        Exposure {
            asset: asset.to_string(),
            entity: intel.entity(*entity).id.to_string(),
            group: intel.entity(intel.group(*entity)).id.to_string(),
            relationship: (*rel).into(),
            confidence: round2(e.confidence),
            flows: e.flows,
            bytes_out: e.bytes_out,
            bytes_in: e.bytes_in,
            first_seen: rfc3339_micros(e.first),
            last_seen: rfc3339_micros(e.last),
            names: e.names.iter().map(|n| n.to_string()).collect(),
            remotes: e.remotes.iter().map(|r| r.to_string()).collect(),
            ports: e.ports.to_vec(),
            services: e.services.iter().map(|s| s.to_string()).collect(),
            evidence: exposure_evidence(intel, e),
            designations: self.designations.get(entity).cloned().unwrap_or_default(),
        }
    }

    /// What the findings come to, for the terminal summary, without building a record or a
    /// finding per exposure: the policy decision is taken once per (inventory entry, company,
    /// relationship, services) unless a policy rule selects by asset, waivers are matched on
    /// the parts of the finding, and full findings are built only for the ten shown. Counts,
    /// `--fail-on` and expired waivers equal those of [`Report::for_each_batch`] (tested).
    pub fn tally(&mut self, cfg: &FindingConfig) -> FindingTotals {
        type Key<'k> = (usize, EntityId, cordon_index::Relationship, &'k [Arc<str>]);
        let intel = self.intel;
        let active: Vec<bool> = cfg
            .waivers
            .list
            .iter()
            .map(|w| w.active(&cfg.today))
            .collect();
        let mut matched = vec![0u64; cfg.waivers.list.len()];
        let mut totals = FindingTotals::default();
        let mut counts: BTreeMap<Severity, (u64, u64)> = BTreeMap::new();
        // The most severe unwaived findings, best first; between equals, in report order.
        let mut top: Vec<(Severity, Rank, &ExposureAgg)> = Vec::new();
        let reads_asset = cfg.policy.reads_asset();
        let mut decided: HashMap<Key<'_>, (String, Severity)> = HashMap::default();
        // In table order: memory is read in sequence (the sorted order would jump around).
        for (k, e) in self.table.iter() {
            let inv = cfg.inventory.lookup_addr(k.0);
            let entity = &*intel.entity(k.1).id;
            let group = &*intel.entity(intel.group(k.1)).id;
            // The inventory entry is named by its address (entries are borrowed from `cfg`
            // for the whole loop); 0 for none.
            let key: Key<'_> = (
                inv.map_or(0, |a| a as *const _ as usize),
                k.1,
                k.2,
                &e.services[..],
            );
            let decide = || {
                let services: Vec<String> = e.services.iter().map(|s| s.to_string()).collect();
                let d = cfg.policy.decide(&crate::policy::Subject {
                    asset: &k.0.to_string(),
                    inventory: inv,
                    entity,
                    group,
                    relationship: &k.2.into(),
                    services: &services,
                    designations: self.designations.get(&k.1).map_or(&[], Vec::as_slice),
                    is_device: false,
                });
                (d.rule, d.severity)
            };
            let (rule, sev) = if reads_asset {
                &decide()
            } else {
                &*decided.entry(key).or_insert_with(decide)
            };
            let mut waived = false;
            let asset_name = inv.map(|a| a.name.as_str()).filter(|n| !n.is_empty());
            for (i, w) in cfg.waivers.list.iter().enumerate() {
                if w.matches_parts(group, entity, rule, || k.0.to_string(), asset_name) {
                    matched[i] += 1;
                    waived |= active[i];
                }
            }
            let c = counts.entry(*sev).or_default();
            if waived {
                c.1 += 1;
                continue;
            }
            c.0 += 1;
            totals.fails |= cfg.fail_on.is_some_and(|t| *sev >= t);
            let better = |t: &(Severity, Rank, &ExposureAgg), r: &Rank| {
                *sev > t.0 || (*sev == t.0 && *r < t.1)
            };
            if top.len() < 10 || top.last().is_some_and(|l| better(l, &rank(k, e))) {
                let r = rank(k, e);
                let at = top.partition_point(|t| !better(t, &r));
                top.insert(at, (*sev, r, e));
                top.truncate(10);
            }
        }
        let mut expired: Vec<ExpiredWaiver> = cfg
            .waivers
            .list
            .iter()
            .zip(&matched)
            .zip(&active)
            .filter(|(_, a)| !**a)
            .map(|((w, m), _)| w.expired(*m))
            .collect();
        // The shown exposures' findings, built in full.
        let mut shown: Vec<Finding> = Vec::new();
        for (_, r, e) in &top {
            let ev = cfg.apply(&[self.exposure(&r.2, e)], &[]);
            shown.extend(ev.findings);
        }
        // Devices and indicator matches are few: evaluated in full.
        for mut ev in [
            cfg.apply(&[], &self.devices),
            cfg.indicator_findings(&self.indicator_matches),
        ] {
            totals.fails |= cfg.fails(&ev);
            merge_expired(&mut expired, std::mem::take(&mut ev.expired_waivers));
            for f in ev.findings {
                let c = counts.entry(f.rank()).or_default();
                if f.waived {
                    c.1 += 1;
                } else {
                    c.0 += 1;
                    shown.push(f);
                }
            }
        }
        // Most severe first; between equals, exposures by traffic, then devices, then
        // indicator matches (a stable sort keeps that order).
        shown.sort_by_key(|f| std::cmp::Reverse(f.rank()));
        shown.truncate(10);
        let findings: u64 = counts.values().map(|c| c.0 + c.1).sum();
        totals.by_severity = counts;
        totals.top = shown;
        self.summary.indicator_matches = self.indicator_matches.len() as u64;
        self.summary.findings = findings;
        self.summary.expired_waivers = expired;
        totals
    }

    /// Builds the exposure records a batch at a time, evaluates their findings, and hands
    /// both to `f`; devices and their findings come last, as a batch of their own. Returns the
    /// totals and records them in the summary.
    ///
    /// `render` runs on every core, a batch at a time (it serialises, for JSONL); `f` gets
    /// what it made, in order.
    pub fn for_each_batch<R: Send>(
        &mut self,
        cfg: &FindingConfig,
        render: impl Fn(&[Exposure], &[Device], &[IndicatorMatch], &[Finding]) -> R + Sync,
        mut f: impl FnMut(R) -> std::io::Result<()>,
    ) -> std::io::Result<FindingTotals> {
        let mut totals = FindingTotals::default();
        let mut expired: Vec<ExpiredWaiver> = Vec::new();
        let mut count = 0u64;
        let mut tally = |ev: &mut Evaluation, totals: &mut FindingTotals| {
            merge_expired(&mut expired, std::mem::take(&mut ev.expired_waivers));
            totals.fails |= cfg.fails(ev);
            for fd in &ev.findings {
                let c = totals.by_severity.entry(fd.rank()).or_default();
                if fd.waived {
                    c.1 += 1;
                } else {
                    c.0 += 1;
                }
            }
            count += ev.findings.len() as u64;
        };
        // Batches are built and evaluated on every core, a few at a time, and handed to `f`
        // in order: memory holds at most PARALLEL_BATCHES batches of records.
        use rayon::prelude::*;
        let this = &*self;
        // Every exposure, largest first. Keys are unique, so an unstable sort gives one
        // order.
        let mut order: Vec<Ranked<'_>> = self
            .table
            .par_iter()
            .map(|(k, e)| Ranked::of(k, e))
            .collect();
        order.par_sort_unstable_by_key(|r| rank_of(&r.key, r.bytes_out, r.bytes_in, r.flows));
        for group in order.chunks(BATCH * PARALLEL_BATCHES) {
            let built: Vec<(R, Evaluation)> = group
                .par_chunks(BATCH)
                .map(|chunk| {
                    let batch: Vec<Exposure> =
                        chunk.iter().map(|r| this.exposure(&r.key, r.agg)).collect();
                    let mut ev = cfg.apply(&batch, &[]);
                    let made = render(&batch, &[], &[], &ev.findings);
                    // What the tally reads is kept; the findings' bulk is freed here, on
                    // this core.
                    for f in &mut ev.findings {
                        f.evidence = Vec::new();
                        f.designations = Vec::new();
                        f.regulations = Vec::new();
                    }
                    (made, ev)
                })
                .collect();
            for (made, mut ev) in built {
                f(made)?;
                tally(&mut ev, &mut totals);
            }
        }
        let mut ev = cfg.apply(&[], &self.devices);
        f(render(&[], &self.devices, &[], &ev.findings))?;
        tally(&mut ev, &mut totals);
        let mut ev = cfg.indicator_findings(&self.indicator_matches);
        f(render(&[], &[], &self.indicator_matches, &ev.findings))?;
        tally(&mut ev, &mut totals);
        self.summary.indicator_matches = self.indicator_matches.len() as u64;
        self.summary.findings = count;
        self.summary.expired_waivers = expired;
        Ok(totals)
    }

    /// Writes the JSONL stream: exposures with their findings, devices with theirs,
    /// anomalies, the summary. Returns whether `--fail-on` was met.
    pub fn write_jsonl(
        &mut self,
        cfg: &FindingConfig,
        out: &mut dyn Write,
    ) -> std::io::Result<bool> {
        fn line(out: &mut Vec<u8>, r: RecordRef<'_>) -> std::io::Result<()> {
            serde_json::to_writer(&mut *out, &r)?;
            out.push(b'\n');
            Ok(())
        }
        let render = |exposures: &[Exposure],
                      devices: &[Device],
                      matches: &[IndicatorMatch],
                      findings: &[Finding]| {
            let mut buf = Vec::with_capacity(exposures.len() * 4096 + 1024);
            for e in exposures {
                line(&mut buf, RecordRef::Exposure(e))?;
            }
            for d in devices {
                line(&mut buf, RecordRef::Device(d))?;
            }
            for m in matches {
                line(&mut buf, RecordRef::IndicatorMatch(m))?;
            }
            for f in findings {
                line(&mut buf, RecordRef::Finding(f))?;
            }
            Ok::<_, std::io::Error>(buf)
        };
        let totals = self.for_each_batch(cfg, render, |buf| out.write_all(&buf?))?;
        let mut buf = Vec::new();
        for a in &self.anomalies {
            line(&mut buf, RecordRef::Anomaly(a))?;
        }
        line(&mut buf, RecordRef::Summary(&self.summary))?;
        out.write_all(&buf)?;
        out.flush()?;
        Ok(totals.fails)
    }

    pub fn write_text(
        &self,
        totals: &FindingTotals,
        took: Duration,
        out: &mut dyn Write,
    ) -> std::io::Result<()> {
        let s = &self.summary;
        let ok = s.inputs.iter().filter(|i| i.error.is_none()).count();
        writeln!(
            out,
            "{} {} input(s), {} records, {}, {} anomalies, {:.2} s",
            paint(Style::Bold, "cordon scan:"),
            ok,
            s.records,
            human_bytes(s.bytes),
            s.anomalies,
            took.as_secs_f64()
        )?;
        if let (Some(a), Some(b)) = (&s.first_seen, &s.last_seen) {
            writeln!(out, "  traffic from {a} to {b}; {} flows", s.flows)?;
        }
        writeln!(out)?;
        // Exposures by group, then assets: totals from the aggregates, records built only for
        // the lines shown.
        let intel = self.intel;
        if self.groups.is_empty() {
            writeln!(
                out,
                "{}",
                paint(Style::Good, "No exposure to companies of concern found.")
            )?;
        } else {
            writeln!(out, "{}", paint(Style::Bold, "Exposure by company"))?;
        }
        for (group, v) in &self.groups {
            let g = intel.entity(*group);
            let lists: std::collections::BTreeSet<&str> = v
                .entities
                .iter()
                .filter_map(|e| self.designations.get(e))
                .flat_map(|ds| ds.iter().map(|d| d.list.as_str()))
                .collect();
            writeln!(
                out,
                "  {} {}  {} asset(s), {} flows, {} out / {} in  [{}]",
                paint(Style::Alert, &g.id),
                paint(Style::Dim, &g.name),
                v.assets.len(),
                v.flows,
                human_bytes(v.bytes_out),
                human_bytes(v.bytes_in),
                Safe(&lists.into_iter().collect::<Vec<_>>().join(", "))
            )?;
            for Ranked { key: k, agg: e, .. } in &v.top {
                let what: Vec<String> = if e.names.is_empty() {
                    e.remotes.iter().take(3).map(|r| r.to_string()).collect()
                } else {
                    e.names.iter().take(3).map(|n| n.to_string()).collect()
                };
                let svc = if e.services.is_empty() {
                    String::new()
                } else {
                    format!(
                        " ({})",
                        e.services
                            .iter()
                            .map(|s| &**s)
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                };
                writeln!(
                    out,
                    "    {:<18} → {} {}{}  {}  conf {:.2}",
                    k.0.to_string(),
                    Safe(&intel.entity(k.1).id),
                    k.2.as_str(),
                    Safe(&svc),
                    Safe(&what.join(", ")),
                    round2(e.confidence)
                )?;
            }
            if v.exposures > TOP_PER_GROUP {
                writeln!(
                    out,
                    "    … and {} more (see --format jsonl)",
                    v.exposures - TOP_PER_GROUP
                )?;
            }
        }
        if !self.devices.is_empty() {
            writeln!(
                out,
                "\n{}",
                paint(Style::Bold, "Devices made by companies of concern")
            )?;
            for d in self.devices.iter().take(20) {
                let ip: Option<IpAddr> = d.ip.as_deref().and_then(|i| i.parse().ok());
                let phones: Vec<String> = ip
                    .and_then(|ip| self.device_exposures.get(&ip))
                    .into_iter()
                    .flatten()
                    .map(|r| format!("{} {}", intel.entity(r.key.1).id, r.key.2.as_str()))
                    .collect();
                writeln!(
                    out,
                    "  {}  {:<15} {} {}{}{}{}",
                    d.mac,
                    Safe(d.ip.as_deref().unwrap_or("-")),
                    paint(Style::Alert, d.group.as_deref().unwrap_or("?")),
                    paint(Style::Dim, d.maker.as_deref().unwrap_or("")),
                    d.host_name
                        .as_deref()
                        .map(|h| format!("  host {}", Safe(h)))
                        .unwrap_or_default(),
                    d.vendor_class
                        .as_deref()
                        .map(|v| format!("  class {}", Safe(v)))
                        .unwrap_or_default(),
                    if phones.is_empty() {
                        String::new()
                    } else {
                        format!("  → talks to {}", phones.join(", "))
                    },
                )?;
            }
        }
        if let Some(r) = &s.indicators {
            writeln!(
                out,
                "\n{} {} loaded, {} not loaded (see `cordon indicators check`); {} asset/indicator match(es)",
                paint(Style::Bold, "Threat indicators:"),
                r.loaded,
                r.not_loaded,
                self.indicator_matches.len()
            )?;
            for m in self.indicator_matches.iter().take(10) {
                writeln!(
                    out,
                    "  {:<18} ↔ {}  {} {}  ×{}",
                    Safe(&m.asset),
                    Safe(&m.remote),
                    paint(Style::Alert, &m.indicator.id),
                    Safe(m.indicator.name.as_deref().unwrap_or("")),
                    m.count
                )?;
            }
        }
        if !totals.by_severity.is_empty() {
            let parts: Vec<String> = Severity::ALL
                .iter()
                .rev()
                .filter_map(|sev| {
                    totals.by_severity.get(sev).map(|(n, w)| {
                        if *w > 0 {
                            format!("{n} {sev} (+{w} waived)")
                        } else {
                            format!("{n} {sev}")
                        }
                    })
                })
                .collect();
            writeln!(
                out,
                "\n{} {}",
                paint(Style::Bold, "Findings:"),
                parts.join(", ")
            )?;
            for f in &totals.top {
                writeln!(
                    out,
                    "  {:<8} {:<18} {} {} {}  [{}]",
                    paint(Style::Alert, f.severity.as_str()),
                    Safe(f.asset_name.as_deref().unwrap_or(&f.asset)),
                    Safe(&f.entity),
                    Safe(f.relationship.as_str()),
                    Safe(&f.rule),
                    Safe(&f.id)
                )?;
            }
            for w in &s.expired_waivers {
                writeln!(
                    out,
                    "  {} {} ({}, expired {})",
                    paint(Style::Alert, "expired waiver:"),
                    Safe(&w.at),
                    Safe(&w.reason),
                    Safe(&w.expires)
                )?;
            }
        }
        writeln!(out, "\n{}", paint(Style::Bold, "Inputs"))?;
        for i in &s.inputs {
            match &i.error {
                Some(e) => writeln!(
                    out,
                    "  {}  {}: {}",
                    paint(Style::Alert, "error"),
                    Safe(&i.path),
                    Safe(e)
                )?,
                None => writeln!(
                    out,
                    "  {:<26} {:>10} records {:>10} {:>6} anomalies  {}",
                    Safe(&i.format),
                    i.records,
                    human_bytes(i.bytes),
                    i.anomalies,
                    Safe(&i.path)
                )?,
            }
        }
        if !self.anomalies.is_empty() {
            writeln!(
                out,
                "\n{} (first {} of {})",
                paint(Style::Bold, "Anomalies"),
                self.anomalies.len().min(10),
                s.anomalies
            )?;
            for a in self.anomalies.iter().take(10) {
                writeln!(
                    out,
                    "  {}: byte {}: {}: {}",
                    Safe(&a.path),
                    a.offset,
                    Safe(&a.kind),
                    Safe(&a.detail)
                )?;
            }
        }
        let dates: Vec<String> = s
            .datasets
            .iter()
            .filter(|d| {
                matches!(
                    d.id.as_str(),
                    "ip-location-db-asn" | "ieee-registry" | "dod-1260h" | "fcc-covered"
                ) || d.id.starts_with("import:")
            })
            .map(|d| format!("{} {}", d.id, d.date))
            .collect();
        writeln!(
            out,
            "\n{}",
            paint(Style::Dim, &format!("intel: {}", dates.join(", ")))
        )?;
        Ok(())
    }
}

pub fn human_bytes(b: u64) -> String {
    const UNITS: [&str; 5] = ["B", "kB", "MB", "GB", "TB"];
    let mut v = b as f64;
    let mut u = 0;
    while v >= 1000.0 && u < UNITS.len() - 1 {
        v /= 1000.0;
        u += 1;
    }
    if u == 0 {
        format!("{b} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::assets::Inventory;
    use crate::intel::load::{load, Source};
    use crate::policy::Policy;
    use crate::scan::aggregate::Internal;
    use crate::scan::attrib::Attributor;
    use crate::scan::names::NameIndex;
    use crate::waivers::Waivers;
    use cordon_wire::{Flow, IpProto, NameSource, ServerName};
    use std::path::Path;

    const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/findings/");

    /// Flows from inventoried and other assets to several companies, one of them over an
    /// AI model API; the same aggregates every time.
    fn aggregate(intel: &Intel) -> Aggregator {
        let mut names = NameIndex::default();
        names.add_server_name(&ServerName {
            ts: 0,
            client: None,
            server: Some("47.88.9.9".parse().unwrap()),
            server_port: 443,
            name: "dashscope.aliyuncs.com".into(),
            source: NameSource::Tls,
            uid: None,
        });
        let mut attr = Attributor::new(intel, &names);
        let internal = Internal::default_ranges();
        let mut agg = Aggregator::default();
        let assets = [
            "10.20.1.5",
            "10.20.3.3",
            "10.30.0.9",
            "10.40.0.7",
            "10.50.0.2",
            "10.9.8.7",
            "192.168.1.20",
        ];
        let remotes = [
            "47.88.1.2",
            "47.88.9.9",
            "182.61.200.6",
            "36.16.180.254",
            "120.222.111.10",
            "43.158.108.18",
            "8.8.8.8",
        ];
        for (i, a) in assets.iter().enumerate() {
            for (j, r) in remotes.iter().enumerate() {
                if (i + j) % 3 == 0 {
                    continue;
                }
                let f = Flow {
                    first: 1_700_000_000_000_000 + (i * 10 + j) as i64,
                    last: 1_700_000_000_000_000 + (i * 10 + j) as i64 + 5,
                    src: a.parse().unwrap(),
                    dst: r.parse().unwrap(),
                    sport: 40000,
                    dport: 443,
                    proto: IpProto::TCP,
                    bytes_out: 100 * (i + 1) as u64,
                    packets_out: 1,
                    bytes_in: 1000 * (j + 1) as u64,
                    packets_in: 1,
                    src_mac: None,
                    dst_mac: None,
                    uid: None,
                    sampling: 1,
                };
                agg.flow(&f, &mut attr, &internal);
            }
        }
        agg
    }

    fn config(policy: Option<&str>, waivers: &str, fail_on: Option<Severity>) -> FindingConfig {
        let inv = std::fs::read_to_string(format!("{DATA}assets.csv")).unwrap();
        FindingConfig {
            inventory: Inventory::parse(Path::new("assets.csv"), &inv).unwrap(),
            policy: policy.map_or_else(Policy::default, |p| {
                Policy::parse(Path::new("policy.toml"), p).unwrap()
            }),
            waivers: Waivers::parse(Path::new("waivers.toml"), waivers).unwrap(),
            fail_on,
            today: "2026-11-26".into(),
        }
    }

    /// The terminal's tally, taken without building findings, equals the full evaluation
    /// the JSONL stream writes: counts per severity, waived counts, `--fail-on`, expired
    /// waivers; and the findings it shows are the most severe of the full set.
    #[test]
    fn tally_equals_the_full_evaluation() {
        let intel = load(&Source::Bundled, None).unwrap().intel;
        let agg = aggregate(&intel);
        assert!(agg.exposures.len() >= 20, "{}", agg.exposures.len());
        let policy = std::fs::read_to_string(format!("{DATA}policy.toml")).unwrap();
        let asset_rule = format!(
            "{policy}\n[[rule]]\nid = \"printer\"\nseverity = \"high\"\nasset = [\"10.50.0.2\"]\n"
        );
        let waivers = std::fs::read_to_string(format!("{DATA}waivers.toml")).unwrap();
        let by_group = "[[waiver]]\ngroup = \"china-telecom\"\nrule = \"exposure-transit-via\"\nreason = \"x\"\nexpires = 2099-01-01\n\n[[waiver]]\nasset = \"10.9.0.0/16\"\nreason = \"old\"\nexpires = 2020-01-01\n";
        let mut seen_waived = false;
        for (policy, waivers) in [
            (None, ""),
            (Some(policy.as_str()), waivers.as_str()),
            (Some(asset_rule.as_str()), by_group),
            (None, by_group),
        ] {
            for fail_on in [None, Some(Severity::High), Some(Severity::Critical)] {
                let cfg = config(policy, waivers, fail_on);
                let mut full = Report::build(&intel, &agg, vec![], vec![], false);
                let mut all: Vec<Finding> = Vec::new();
                let want = full
                    .for_each_batch(
                        &cfg,
                        |_, _, _, f| f.to_vec(),
                        |f| {
                            all.extend(f);
                            Ok(())
                        },
                    )
                    .unwrap();
                let mut light = Report::build(&intel, &agg, vec![], vec![], false);
                let got = light.tally(&cfg);
                let what = format!("policy {policy:?} waivers {waivers:?} fail-on {fail_on:?}");
                assert_eq!(got.by_severity, want.by_severity, "{what}");
                assert_eq!(got.fails, want.fails, "{what}");
                assert_eq!(light.summary.findings, full.summary.findings, "{what}");
                assert_eq!(
                    light.summary.expired_waivers, full.summary.expired_waivers,
                    "{what}"
                );
                seen_waived |= got.by_severity.values().any(|c| c.1 > 0);
                // The shown findings are real, unwaived, and the most severe.
                let rank = |f: &Finding| f.severity.known().unwrap();
                let mut ranks: Vec<Severity> = all.iter().filter(|f| !f.waived).map(rank).collect();
                ranks.sort_by(|a, b| b.cmp(a));
                ranks.truncate(10);
                assert_eq!(
                    got.top.iter().map(rank).collect::<Vec<_>>(),
                    ranks,
                    "{what}"
                );
                for f in &got.top {
                    assert!(all.contains(f), "{what}: {f:?}");
                }
            }
        }
        assert!(seen_waived, "some configuration waives a finding");
    }
}
