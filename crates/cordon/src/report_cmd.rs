//! `cordon report`, `cordon diff` and `cordon policy check`: the commands over a scan's JSONL
//! and the finding configuration files. The work is in `report/`, `policy.rs` and friends.

use crate::cli::{DiffArgs, Format, PolicyCommand, ReportArgs};
use crate::policy::Policy;
use crate::report::{self, ScanData};
use crate::Outcome;
use anyhow::{Context, Result};
use std::io::Write;
use std::path::Path;

/// Writes to standard output and flushes: a closed pipe or a full disk is an error (main
/// ends quietly on the one and reports the other), not a panic as with `println!`.
fn print_out(args: std::fmt::Arguments) -> Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_fmt(args)
        .and_then(|()| out.flush())
        .context("cannot write to standard output")
}

fn read_scan(path: &Path) -> Result<ScanData> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let text = String::from_utf8_lossy(&bytes);
    let d = ScanData::parse(&path.display().to_string(), &text);
    for p in &d.problems {
        anstream::eprintln!("cordon: warning: {p}");
    }
    Ok(d)
}

fn write(path: &Path, what: &str, body: &str) -> Result<()> {
    if path.as_os_str() == "-" {
        return print_out(format_args!("{body}"));
    }
    std::fs::write(path, body)
        .with_context(|| format!("cannot write the {what} report to {}", path.display()))?;
    anstream::eprintln!("cordon: wrote {what} report {}", path.display());
    Ok(())
}

pub fn report(a: &ReportArgs) -> Result<Outcome> {
    let d = read_scan(&a.input)?;
    let name = a.input.file_name().map_or_else(
        || a.input.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    if let Some(p) = &a.html {
        write(p, "HTML", &report::html::render(&d, &name))?;
    }
    if let Some(p) = &a.md {
        write(p, "Markdown", &report::text::markdown(&d, &name))?;
    }
    if let Some(p) = &a.csv {
        write(p, "CSV", &report::text::csv(&d)?)?;
    }
    Ok(Outcome::Ok)
}

pub fn diff(a: &DiffArgs) -> Result<Outcome> {
    let old = read_scan(&a.old)?;
    let new = read_scan(&a.new)?;
    let d = report::diff::diff(&old.findings, &new.findings);
    match a.format {
        Format::Json => print_out(format_args!("{}\n", serde_json::to_string(&d)?))?,
        Format::Text => print_out(format_args!("{}", report::diff::text(&d)))?,
    }
    Ok(Outcome::Ok)
}

pub fn policy(c: &PolicyCommand) -> Result<Outcome> {
    match c {
        PolicyCommand::Check { file } => {
            let p = Policy::load(file)?;
            print_out(format_args!(
                "{}: ok ({} rule{}, {} severity override{})\n",
                file.display(),
                p.user_rules(),
                if p.user_rules() == 1 { "" } else { "s" },
                p.overrides(),
                if p.overrides() == 1 { "" } else { "s" }
            ))?;
            Ok(Outcome::Ok)
        }
    }
}
