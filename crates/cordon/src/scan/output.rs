//! Sink: the scan's results as JSONL records (`docs/wire-format.md`) or as a summary people
//! read on a terminal, and the progress bar on stderr.

use super::aggregate::Aggregator;
use crate::attribute;
use crate::date::{now_rfc3339, rfc3339_micros};
use crate::findings::Evaluation;
use crate::model::{
    AnomalyRecord, DatasetRef, DesignationRef, Device, Evidence, Exposure, Finding, InputSummary,
    Record, Summary, WIRE_VERSION,
};
use crate::output::{paint, Style};
use crate::policy::Severity;
use cordon_index::{EntityId, Intel};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::collections::BTreeMap;
use std::io::Write;
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
                status: x.status.as_str().into(),
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
    if let (true, Some(r)) = (e.by_address, e.remotes.first()) {
        let f = attribute::ip(intel, *r);
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

pub struct Report {
    pub exposures: Vec<Exposure>,
    pub devices: Vec<Device>,
    pub findings: Vec<Finding>,
    pub anomalies: Vec<AnomalyRecord>,
    pub summary: Summary,
}

fn round2(x: f32) -> f64 {
    (x as f64 * 100.0).round() / 100.0
}

impl Report {
    pub fn build(
        intel: &Intel,
        agg: &Aggregator,
        inputs: Vec<InputSummary>,
        anomalies: Vec<AnomalyRecord>,
        all_devices: bool,
    ) -> Report {
        let mut exposures: Vec<Exposure> = agg
            .exposures
            .iter()
            .map(|((asset, entity, rel), e)| Exposure {
                asset: asset.to_string(),
                entity: intel.entity(*entity).id.to_string(),
                group: intel.entity(intel.group(*entity)).id.to_string(),
                relationship: rel.as_str().into(),
                confidence: round2(e.confidence),
                flows: e.flows,
                bytes_out: e.bytes_out,
                bytes_in: e.bytes_in,
                first_seen: rfc3339_micros(e.first),
                last_seen: rfc3339_micros(e.last),
                names: e.names.iter().map(|n| n.to_string()).collect(),
                remotes: e.remotes.iter().map(|r| r.to_string()).collect(),
                ports: e.ports.clone(),
                services: e.services.iter().map(|s| s.to_string()).collect(),
                evidence: exposure_evidence(intel, e),
                designations: designations(intel, *entity),
            })
            .collect();
        exposures.sort_by(|a, b| {
            (b.bytes_out + b.bytes_in, b.flows)
                .cmp(&(a.bytes_out + a.bytes_in, a.flows))
                .then_with(|| (&a.asset, &a.entity).cmp(&(&b.asset, &b.entity)))
        });
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
                relationship: m.map(|_| "made-by".to_string()),
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
            exposures: exposures.len() as u64,
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
        };
        Report {
            exposures,
            devices,
            findings: Vec::new(),
            anomalies,
            summary,
        }
    }

    /// Adds the policy's findings (most severe first) and the waivers that expired.
    pub fn set_findings(&mut self, ev: Evaluation) {
        let mut findings = ev.findings;
        let rank = |f: &Finding| Severity::parse(&f.severity).map_or(0, |s| s as u8);
        findings.sort_by(|a, b| {
            rank(b)
                .cmp(&rank(a))
                .then_with(|| (&a.asset, &a.group).cmp(&(&b.asset, &b.group)))
        });
        self.summary.findings = findings.len() as u64;
        self.summary.expired_waivers = ev.expired_waivers;
        self.findings = findings;
    }

    pub fn write_jsonl(&self, out: &mut dyn Write) -> std::io::Result<()> {
        let mut line = |r: Record| -> std::io::Result<()> {
            serde_json::to_writer(&mut *out, &r)?;
            out.write_all(b"\n")
        };
        for e in &self.exposures {
            line(Record::Exposure(e.clone()))?;
        }
        for d in &self.devices {
            line(Record::Device(d.clone()))?;
        }
        for f in &self.findings {
            line(Record::Finding(f.clone()))?;
        }
        for a in &self.anomalies {
            line(Record::Anomaly(a.clone()))?;
        }
        line(Record::Summary(self.summary.clone()))?;
        out.flush()
    }

    pub fn write_text(
        &self,
        intel: &Intel,
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
        // Exposures by group, then assets.
        let mut by_group: BTreeMap<&str, Vec<&Exposure>> = BTreeMap::new();
        for e in &self.exposures {
            by_group.entry(&e.group).or_default().push(e);
        }
        if by_group.is_empty() {
            writeln!(
                out,
                "{}",
                paint(Style::Good, "No exposure to companies of concern found.")
            )?;
        } else {
            writeln!(out, "{}", paint(Style::Bold, "Exposure by company"))?;
        }
        let mut groups: Vec<(&str, Vec<&Exposure>)> = by_group.into_iter().collect();
        groups.sort_by_key(|(_, v)| {
            std::cmp::Reverse(v.iter().map(|e| e.bytes_out + e.bytes_in).sum::<u64>())
        });
        for (group, list) in groups {
            let name = intel
                .entity_by_id(group)
                .map(|i| intel.entity(i).name.to_string())
                .unwrap_or_default();
            let assets: std::collections::BTreeSet<&str> =
                list.iter().map(|e| e.asset.as_str()).collect();
            let lists: std::collections::BTreeSet<&str> = list
                .iter()
                .flat_map(|e| e.designations.iter().map(|d| d.list.as_str()))
                .collect();
            writeln!(
                out,
                "  {} {}  {} asset(s), {} flows, {} out / {} in  [{}]",
                paint(Style::Alert, group),
                paint(Style::Dim, &name),
                assets.len(),
                list.iter().map(|e| e.flows).sum::<u64>(),
                human_bytes(list.iter().map(|e| e.bytes_out).sum()),
                human_bytes(list.iter().map(|e| e.bytes_in).sum()),
                lists.into_iter().collect::<Vec<_>>().join(", ")
            )?;
            for e in list.iter().take(8) {
                let mut what = e
                    .names
                    .iter()
                    .take(3)
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", ");
                if what.is_empty() {
                    what = e
                        .remotes
                        .iter()
                        .take(3)
                        .cloned()
                        .collect::<Vec<_>>()
                        .join(", ");
                }
                let svc = if e.services.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", e.services.join(", "))
                };
                writeln!(
                    out,
                    "    {:<18} → {} {}{svc}  {}  conf {:.2}",
                    e.asset, e.entity, e.relationship, what, e.confidence
                )?;
            }
            if list.len() > 8 {
                writeln!(
                    out,
                    "    … and {} more (see --format jsonl)",
                    list.len() - 8
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
                let phones: Vec<String> =
                    d.ip.as_ref()
                        .map(|ip| {
                            self.exposures
                                .iter()
                                .filter(|e| &e.asset == ip)
                                .map(|e| format!("{} {}", e.entity, e.relationship))
                                .collect()
                        })
                        .unwrap_or_default();
                writeln!(
                    out,
                    "  {}  {:<15} {} {}{}{}{}",
                    d.mac,
                    d.ip.as_deref().unwrap_or("-"),
                    paint(Style::Alert, d.group.as_deref().unwrap_or("?")),
                    paint(Style::Dim, d.maker.as_deref().unwrap_or("")),
                    d.host_name
                        .as_deref()
                        .map(|h| format!("  host {h}"))
                        .unwrap_or_default(),
                    d.vendor_class
                        .as_deref()
                        .map(|v| format!("  class {v}"))
                        .unwrap_or_default(),
                    if phones.is_empty() {
                        String::new()
                    } else {
                        format!("  → talks to {}", phones.join(", "))
                    },
                )?;
            }
        }
        if !self.findings.is_empty() {
            let mut counts: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
            for f in &self.findings {
                let c = counts.entry(&f.severity).or_default();
                if f.waived {
                    c.1 += 1
                } else {
                    c.0 += 1
                }
            }
            let order = ["critical", "high", "medium", "low", "info"];
            let parts: Vec<String> = order
                .iter()
                .filter_map(|s| {
                    counts.get(s).map(|(n, w)| {
                        if *w > 0 {
                            format!("{n} {s} (+{w} waived)")
                        } else {
                            format!("{n} {s}")
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
            for f in self.findings.iter().filter(|f| !f.waived).take(10) {
                writeln!(
                    out,
                    "  {:<8} {:<18} {} {} {}  [{}]",
                    paint(Style::Alert, &f.severity),
                    f.asset_name.as_deref().unwrap_or(&f.asset),
                    f.entity,
                    f.relationship,
                    f.rule,
                    f.id
                )?;
            }
            for w in &s.expired_waivers {
                writeln!(
                    out,
                    "  {} {}",
                    paint(Style::Alert, "expired waiver:"),
                    serde_json::to_string(w).unwrap_or_default()
                )?;
            }
        }
        writeln!(out, "\n{}", paint(Style::Bold, "Inputs"))?;
        for i in &s.inputs {
            match &i.error {
                Some(e) => writeln!(out, "  {}  {}: {}", paint(Style::Alert, "error"), i.path, e)?,
                None => writeln!(
                    out,
                    "  {:<26} {:>10} records {:>10} {:>6} anomalies  {}",
                    i.format,
                    i.records,
                    human_bytes(i.bytes),
                    i.anomalies,
                    i.path
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
                    a.path, a.offset, a.kind, a.detail
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
