//! Markdown and CSV reports. Markdown escapes what would become markup; CSV cells that a
//! spreadsheet would run as a formula (`=`, `+`, `-`, `@`) are prefixed with `'`.

use super::escape::{cell, md_esc, md_link};
use super::{human_bytes, ScanData};
use std::fmt::Write;

pub fn markdown(d: &ScanData, source_name: &str) -> String {
    let mut m = String::new();
    let _ = writeln!(
        m,
        "# cordon exposure report\n\nScan `{}`",
        source_name.replace('`', "'")
    );
    if let Some(s) = &d.summary {
        let _ = writeln!(
            m,
            "run {} by cordon {}",
            md_esc(&s.scanned_at),
            md_esc(&s.cordon_version)
        );
    }
    m.push('\n');
    if d.truncated || !d.problems.is_empty() {
        m += "> **Warning:** the scan output is incomplete or damaged; this report shows what it has.\n";
        for p in &d.problems {
            let _ = writeln!(m, "> - {}", md_esc(p));
        }
        m.push('\n');
    }
    if d.derived_findings {
        m += "> Findings computed with the built-in policy (the scan wrote none).\n\n";
    }
    m += "## Executive summary\n\n| severity | open | waived |\n|---|---:|---:|\n";
    for (s, open, w) in d.counts() {
        let _ = writeln!(m, "| {s} | {open} | {w} |");
    }
    let _ = writeln!(
        m,
        "\nCompanies: {}. Exposures: {}; devices of concern: {}.\n",
        md_esc(&d.companies().join(", ")),
        d.exposures.len(),
        d.devices.iter().filter(|x| x.entity.is_some()).count()
    );
    if let Some(s) = &d.summary {
        if !s.expired_waivers.is_empty() {
            m += "### Expired waivers\n\n";
            for w in &s.expired_waivers {
                let _ = writeln!(
                    m,
                    "- {} expired {}: {}",
                    md_esc(&w.at),
                    md_esc(&w.expires),
                    md_esc(&w.reason)
                );
            }
            m.push('\n');
        }
    }
    m += "## Findings\n\n| severity | asset | name | company | relationship | rule | sent | waived | id |\n|---|---|---|---|---|---|---:|---|---|\n";
    for f in &d.findings {
        let _ = writeln!(
            m,
            "| {} | {} | {} | {} ({}) | {} | {} | {} | {} | {} |",
            md_esc(f.severity.as_str()),
            md_esc(&f.asset),
            md_esc(f.asset_name.as_deref().unwrap_or("")),
            md_esc(&f.entity),
            md_esc(&f.group),
            md_esc(f.relationship.as_str()),
            md_esc(&f.rule),
            human_bytes(f.bytes_out),
            if f.waived { "yes" } else { "" },
            md_esc(&f.id)
        );
    }
    m += "\n## Evidence\n";
    for f in &d.findings {
        let _ = writeln!(
            m,
            "\n### {} {} → {} ({})\n\n{}\n",
            md_esc(f.severity.as_str()),
            md_esc(f.asset_name.as_deref().unwrap_or(&f.asset)),
            md_esc(&f.entity),
            md_esc(&f.rule),
            md_esc(&f.remediation)
        );
        for e in &f.evidence {
            let _ = writeln!(
                m,
                "1. {}: {}{}",
                md_esc(&e.kind),
                md_esc(&e.value),
                e.source
                    .as_deref()
                    .map(|s| format!(" — {}", md_link(s, s)))
                    .unwrap_or_default()
            );
        }
        m.push('\n');
        for r in &f.regulations {
            let _ = writeln!(
                m,
                "- **{}** ({}), {}: {} {}",
                md_esc(&r.title),
                md_esc(&r.citation),
                md_esc(&r.date),
                md_esc(&r.note),
                md_link(&r.source, "source")
            );
        }
    }
    if !d.indicator_matches.is_empty() {
        m += "\n## Threat-indicator matches\n\n| asset | remote | indicator | name | count | first seen | last seen |\n|---|---|---|---|---:|---|---|\n";
        for x in &d.indicator_matches {
            let _ = writeln!(
                m,
                "| {} | {} | {} | {} | {} | {} | {} |",
                md_esc(&x.asset),
                md_esc(&x.remote),
                md_esc(&x.indicator.id),
                md_esc(x.indicator.name.as_deref().unwrap_or("")),
                x.count,
                md_esc(&x.first_seen),
                md_esc(&x.last_seen)
            );
        }
    }
    if let Some(s) = &d.summary {
        m += "\n## Datasets used\n\n";
        for ds in &s.datasets {
            let _ = writeln!(m, "- {} {}", md_esc(&ds.id), md_esc(&ds.date));
        }
    }
    m
}

pub fn csv(d: &ScanData) -> anyhow::Result<String> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record([
        "id",
        "severity",
        "rule",
        "asset",
        "asset_name",
        "owner",
        "entity",
        "group",
        "relationship",
        "designations",
        "regulations",
        "waived",
        "flows",
        "bytes_out",
        "first_seen",
        "last_seen",
        "remediation",
    ])?;
    for f in &d.findings {
        let mut lists: Vec<&str> = f.designations.iter().map(|x| x.list.as_str()).collect();
        lists.sort();
        lists.dedup();
        let mut regs: Vec<&str> = f.regulations.iter().map(|x| x.id.as_str()).collect();
        regs.dedup();
        w.write_record([
            cell(&f.id),
            cell(f.severity.as_str()),
            cell(&f.rule),
            cell(&f.asset),
            cell(f.asset_name.as_deref().unwrap_or("")),
            cell(f.owner.as_deref().unwrap_or("")),
            cell(&f.entity),
            cell(&f.group),
            cell(f.relationship.as_str()),
            cell(&lists.join(";")),
            cell(&regs.join(";")),
            f.waived.to_string(),
            f.flows.to_string(),
            f.bytes_out.to_string(),
            cell(f.first_seen.as_deref().unwrap_or("")),
            cell(f.last_seen.as_deref().unwrap_or("")),
            cell(&f.remediation),
        ])?;
    }
    Ok(String::from_utf8(w.into_inner()?)?)
}
