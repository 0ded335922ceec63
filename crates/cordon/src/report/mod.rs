//! Reports people read, from a scan's JSONL: one self-contained HTML file, Markdown, CSV,
//! and the difference between two scans.
//!
//! **Everything from the JSONL is hostile text** (host names and DHCP strings come from the
//! network): it is escaped for the output it goes to, links are only ever `http(s)` URLs, and
//! the HTML fetches nothing (a Content-Security-Policy says so to the browser too).
//! **A damaged JSONL is reported, not refused**: a cut last line or a missing summary is
//! noted in the report and the rest is rendered.

pub mod diff;
pub mod escape;
pub mod html;
pub mod svg;
pub mod text;

use crate::assets::Inventory;
use crate::findings::evaluate;
use crate::model::Severity;
use crate::model::{Device, Exposure, Finding, Record, Summary};
use crate::policy::Policy;
use crate::waivers::Waivers;

/// What a JSONL stream holds, and what was wrong with it.
#[derive(Clone, Debug, Default)]
pub struct ScanData {
    pub exposures: Vec<Exposure>,
    pub devices: Vec<Device>,
    pub findings: Vec<Finding>,
    pub indicator_matches: Vec<crate::model::IndicatorMatch>,
    pub summary: Option<Summary>,
    /// Problems with the stream itself, as sentences (line numbers are 1-based).
    pub problems: Vec<String>,
    /// The stream ends early: no summary, or a cut last line.
    pub truncated: bool,
    /// Findings were computed here with the built-in policy (the scan wrote none).
    pub derived_findings: bool,
}

impl ScanData {
    /// Reads a JSONL stream leniently. `name` is used in the problem sentences.
    pub fn parse(name: &str, text: &str) -> ScanData {
        let mut d = ScanData::default();
        let cut_last = !text.is_empty() && !text.ends_with('\n');
        let lines: Vec<&str> = text.lines().collect();
        let mut bad = 0usize;
        for (i, line) in lines.iter().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let last = i + 1 == lines.len();
            let v: serde_json::Value = match serde_json::from_str(line) {
                Ok(v) => v,
                Err(e) => {
                    if last && cut_last {
                        d.truncated = true;
                        d.problems.push(format!(
                            "{name}: line {} is cut short ({e}); the stream was truncated",
                            i + 1
                        ));
                    } else {
                        bad += 1;
                        if bad <= 10 {
                            d.problems
                                .push(format!("{name}: line {} is not JSON: {e}", i + 1));
                        }
                    }
                    continue;
                }
            };
            let known = matches!(
                v.get("type").and_then(|t| t.as_str()),
                Some("exposure" | "device" | "finding" | "indicator-match" | "summary")
            );
            if !known {
                // Other and future record types are ignored, as the wire format says.
                continue;
            }
            match serde_json::from_value::<Record>(v) {
                Ok(Record::Exposure(e)) => d.exposures.push(e),
                Ok(Record::Device(x)) => d.devices.push(x),
                Ok(Record::Finding(f)) => d.findings.push(f),
                Ok(Record::Summary(s)) => d.summary = Some(s),
                Ok(Record::IndicatorMatch(m)) => d.indicator_matches.push(m),
                Ok(Record::Anomaly(_)) => {}
                Err(e) => {
                    bad += 1;
                    if bad <= 10 {
                        d.problems
                            .push(format!("{name}: line {} is not a valid record: {e}", i + 1));
                    }
                }
            }
        }
        if bad > 10 {
            d.problems
                .push(format!("{name}: {} more bad lines not shown", bad - 10));
        }
        if d.summary.is_none() {
            d.truncated = true;
            d.problems.push(format!(
                "{name}: no summary record: the scan did not finish or the file was cut; showing what it has"
            ));
        }
        if d.findings.is_empty() && (!d.exposures.is_empty() || !d.devices.is_empty()) {
            let today = crate::date::format_days(crate::date::today());
            d.findings = evaluate(
                &d.exposures,
                &d.devices,
                &Inventory::default(),
                &Policy::default(),
                &Waivers::default(),
                &today,
            )
            .findings;
            d.derived_findings = true;
        }
        d
    }

    /// Unwaived findings per severity, most severe first.
    pub fn counts(&self) -> Vec<(Severity, usize, usize)> {
        Severity::ALL
            .iter()
            .rev()
            .map(|&s| {
                let of = self.findings.iter().filter(|f| f.severity == s);
                let all: Vec<&Finding> = of.collect();
                (
                    s,
                    all.iter().filter(|f| !f.waived).count(),
                    all.iter().filter(|f| f.waived).count(),
                )
            })
            .collect()
    }

    /// Distinct groups with at least one exposure, device or finding.
    pub fn companies(&self) -> Vec<String> {
        let mut v: Vec<String> = self
            .exposures
            .iter()
            .map(|e| e.group.clone())
            .chain(self.devices.iter().filter_map(|d| d.group.clone()))
            // Threat-indicator findings name an indicator, not a company.
            .chain(
                self.findings
                    .iter()
                    .filter(|f| f.rule != crate::findings::INDICATOR_RULE)
                    .map(|f| f.group.clone()),
            )
            .collect();
        v.sort();
        v.dedup();
        v
    }
}

/// `1234567` → `1.2 MB`.
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "kB", "MB", "GB", "TB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1000.0 && u + 1 < UNITS.len() {
        v /= 1000.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

/// RFC 3339 UTC (`2026-11-26T09:30:00.000Z`) → Unix seconds.
pub fn parse_time(s: &str) -> Option<i64> {
    let days = crate::date::parse_days(s)?;
    let t = s.get(11..19)?;
    let mut it = t.split(':').map(|x| x.parse::<i64>().ok());
    let (h, m, sec) = (it.next()??, it.next()??, it.next()??);
    Some(days * 86_400 + h * 3600 + m * 60 + sec)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncated_streams_are_noted() {
        let summary = r#"{"type":"summary","wire_version":1,"cordon_version":"0.1.0","scanned_at":"2026-11-26T10:00:00.000Z","inputs":[],"records":0,"bytes":0,"anomalies":0,"flows":0,"exposures":0,"devices":0,"first_seen":null,"last_seen":null,"datasets":[]}"#;
        // (text, truncated, problems)
        for (text, truncated, problems) in [
            (format!("{summary}\n"), false, 0),
            (String::new(), true, 1),
            ("{\"type\":\"exposure\",\"asse".to_string(), true, 2),
            (format!("not json\n{summary}\n"), false, 1),
            (
                format!("{{\"type\":\"future-thing\",\"x\":1}}\n{summary}\n"),
                false,
                0,
            ),
            (format!("{{\"type\":\"exposure\"}}\n{summary}\n"), false, 1),
        ] {
            let d = ScanData::parse("s.jsonl", &text);
            assert_eq!(
                (d.truncated, d.problems.len()),
                (truncated, problems),
                "{text:?}: {:?}",
                d.problems
            );
        }
    }

    #[test]
    fn times_and_bytes() {
        assert_eq!(parse_time("1970-01-02T00:00:01.000Z"), Some(86_401));
        assert_eq!(parse_time("2026-11-26"), None);
        assert_eq!(human_bytes(999), "999 B");
        assert_eq!(human_bytes(1_234_567), "1.2 MB");
    }
}
