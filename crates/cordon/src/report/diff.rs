//! `cordon diff`: findings that are new, resolved or persisting between two scans, matched by
//! their stable `id` (asset, company group and rule).

use crate::model::{Finding, Open, Severity};
use serde::Serialize;
use std::collections::BTreeMap;

#[derive(Debug, Default, Serialize)]
pub struct Diff {
    /// In the new scan only.
    pub new: Vec<Finding>,
    /// In the old scan only.
    pub resolved: Vec<Finding>,
    /// In both; the new scan's record.
    pub persisting: Vec<Persisting>,
}

#[derive(Debug, Serialize)]
pub struct Persisting {
    #[serde(flatten)]
    pub finding: Finding,
    /// The old severity when it changed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub previous_severity: Option<Open<Severity>>,
    /// The old waived flag when it changed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub previous_waived: Option<bool>,
}

pub fn diff(old: &[Finding], new: &[Finding]) -> Diff {
    let o: BTreeMap<&str, &Finding> = old.iter().map(|f| (f.id.as_str(), f)).collect();
    let n: BTreeMap<&str, &Finding> = new.iter().map(|f| (f.id.as_str(), f)).collect();
    let mut d = Diff::default();
    // Keep the scans' own order (most severe first) rather than id order.
    for f in new {
        match o.get(f.id.as_str()) {
            None => d.new.push(f.clone()),
            Some(old) => d.persisting.push(Persisting {
                finding: f.clone(),
                previous_severity: (old.severity != f.severity).then(|| old.severity.clone()),
                previous_waived: (old.waived != f.waived).then_some(old.waived),
            }),
        }
    }
    d.resolved = old
        .iter()
        .filter(|f| !n.contains_key(f.id.as_str()))
        .cloned()
        .collect();
    d
}

fn line(f: &Finding) -> String {
    format!(
        "{:<8}  {}{}  {} ({})  {}  {}{}  [{}]",
        f.severity,
        f.asset,
        f.asset_name
            .as_deref()
            .map(|n| format!(" ({n})"))
            .unwrap_or_default(),
        f.entity,
        f.group,
        f.relationship,
        f.rule,
        if f.waived { "  waived" } else { "" },
        f.id
    )
    .chars()
    .map(|c| {
        if c.is_control() || crate::output::is_bidi(c) {
            '\u{fffd}'
        } else {
            c
        }
    })
    .collect()
}

pub fn text(d: &Diff) -> String {
    let mut s = format!(
        "{} new, {} resolved, {} persisting\n",
        d.new.len(),
        d.resolved.len(),
        d.persisting.len()
    );
    for (title, list) in [("new", &d.new), ("resolved", &d.resolved)] {
        if !list.is_empty() {
            s += &format!("\n{title}:\n");
            for f in list {
                s += &format!("  {}\n", line(f));
            }
        }
    }
    if !d.persisting.is_empty() {
        s += "\npersisting:\n";
        for p in &d.persisting {
            let mut extra = String::new();
            if let Some(o) = &p.previous_severity {
                extra += &format!("  (was {o})");
            }
            if let Some(w) = p.previous_waived {
                extra += if w {
                    "  (was waived)"
                } else {
                    "  (newly waived)"
                };
            }
            s += &format!("  {}{extra}\n", line(&p.finding));
        }
    }
    s
}
