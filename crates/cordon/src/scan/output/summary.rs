//! The terminal summary: company groups gathered in one pass over the table, devices,
//! indicator matches, findings, inputs and anomalies, for people to read.

use super::records::round2;
use super::{rank_of, Rank, Ranked, Report};
use crate::judge::{Judge, Judged, Verdict};
use crate::model::{Finding, Severity};
use crate::output::{paint, Safe, Style};
use crate::report::human_bytes;
use cordon_index::{EntityId, Intel};
use foldhash::HashMap;
use std::io::Write;
use std::net::IpAddr;
use std::time::Duration;

/// Exposures listed per group in the text summary.
const TOP_PER_GROUP: usize = 8;

/// One company group of the text summary, gathered in one pass over the table (the lines
/// shown need the best few exposures, not all of them sorted).
#[derive(Default)]
pub(super) struct GroupView<'a> {
    /// Bytes both ways, summed per exposure (the order of groups).
    total: u64,
    bytes_out: u64,
    bytes_in: u64,
    flows: u64,
    exposures: usize,
    /// Every exposure's asset until [`Gathered::finish`], then the distinct ones.
    assets: Vec<IpAddr>,
    pub(super) entities: std::collections::BTreeSet<EntityId>,
    /// The best exposures, best first.
    top: Vec<Ranked<'a>>,
}

pub(super) type Groups<'a> = Vec<(EntityId, GroupView<'a>)>;
pub(super) type DeviceExposures<'a> = HashMap<IpAddr, Vec<Ranked<'a>>>;

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
pub(super) struct Gathered<'a> {
    groups: HashMap<EntityId, GroupView<'a>>,
    device_exposures: HashMap<IpAddr, Vec<Ranked<'a>>>,
}

impl<'a> Gathered<'a> {
    pub(super) fn add(&mut self, intel: &Intel, devices: &[IpAddr], r: Ranked<'a>) {
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

    pub(super) fn merge(mut self, o: Gathered<'a>) -> Gathered<'a> {
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
    pub(super) fn finish(mut self) -> (Groups<'a>, DeviceExposures<'a>) {
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

impl Report<'_> {
    /// The findings the terminal shows, built in full: the ten most severe unwaived ones;
    /// between equals, exposures by traffic, then devices, then indicator matches.
    pub(super) fn shown(
        &self,
        judge: &Judge<'_>,
        judged: &Judged<'_, '_, Ranked<'_>>,
    ) -> Vec<Finding> {
        // In table order, from the verdicts' copy of the ordering facts (the table is not
        // read again).
        let mut top: Vec<(Severity, Rank, &Ranked<'_>, Verdict)> = Vec::new();
        for (r, v) in &judged.exposures {
            if v.waived_by.is_some() {
                continue;
            }
            let sev = judged.decision(*v).severity;
            let rank = || rank_of(&r.key, r.bytes_out, r.bytes_in, r.flows);
            let better = |t: &(Severity, Rank, &Ranked<'_>, Verdict), r: &Rank| {
                sev > t.0 || (sev == t.0 && *r < t.1)
            };
            if top.len() < 10 || top.last().is_some_and(|l| better(l, &rank())) {
                let r2 = rank();
                let at = top.partition_point(|t| !better(t, &r2));
                top.insert(at, (sev, r2, r, *v));
                top.truncate(10);
            }
        }
        let mut shown: Vec<Finding> = (top.iter())
            .map(|(_, _, r, v)| {
                let record = self.exposure(&r.key, r.agg);
                judge.exposure_finding(&record, judged.decision(*v), v.waived_by)
            })
            .collect();
        // Devices and indicator matches are few: their findings are built already.
        let others = judged.devices.iter().chain(&judged.indicators);
        shown.extend(others.filter(|f| !f.waived).cloned());
        // A stable sort keeps the order between equals.
        shown.sort_by_key(|f| std::cmp::Reverse(f.rank()));
        shown.truncate(10);
        shown
    }

    pub fn write_text(
        &self,
        judge: &Judge<'_>,
        judged: &Judged<'_, '_, Ranked<'_>>,
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
        let by_severity = &judged.totals.by_severity;
        if !by_severity.is_empty() {
            let parts: Vec<String> = Severity::ALL
                .iter()
                .rev()
                .filter_map(|sev| {
                    by_severity.get(sev).map(|(n, w)| {
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
            for f in &self.shown(judge, judged) {
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
