//! `cordon explain` and `cordon intel ...`: loading the snapshot and answering about it.

use crate::cli::{ExplainArgs, Format, Global, IntelCommand};
use crate::explain;
use crate::intel::load::{self, Loaded, Source};
use crate::intel::store;
use crate::output::{paint, Style};
use crate::{date, Outcome};
use anyhow::{bail, Context, Result};
use serde_json::json;
use std::io::Write;
use std::path::PathBuf;

/// Datasets older than this many days are called stale.
pub const STALE_DAYS: i64 = 180;

/// A dataset's age in days on `today` (days since 1970), and whether that makes it stale.
/// A statute's date is its enactment: it does not go stale. Lists and registries do.
pub fn dataset_age(d: &cordon_index::intel::Dataset, today: i64) -> (Option<i64>, bool) {
    let age = date::parse_days(&d.date).map(|x| today - x);
    let stale = !d.id.starts_with("ndaa-") && age.is_some_and(|a| a > STALE_DAYS);
    (age, stale)
}

/// Writes to standard output and flushes: a closed pipe or a full disk is an error (main
/// ends quietly on the one and reports the other), not a panic as with `println!`.
fn print_out(args: std::fmt::Arguments) -> Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_fmt(args)
        .and_then(|()| out.flush())
        .context("cannot write to standard output")
}

fn data_dir(g: &Global) -> Option<PathBuf> {
    g.data_dir.clone().or_else(store::default_data_dir)
}

/// Loads the snapshot the flags ask for; warns (once, on stderr) when an imported table had
/// to be set aside.
pub fn load_intel(g: &Global) -> Result<Loaded> {
    let source = match &g.intel_dir {
        Some(d) => Source::Dir(d.clone()),
        None => Source::Bundled,
    };
    let loaded = load::load(&source, data_dir(g).as_deref())?;
    if let Some(e) = &loaded.import_error {
        anstream::eprintln!(
            "cordon: warning: imported IP table not used ({e}); using the bundled subset. Run `cordon intel import` again or `cordon intel reset`"
        );
    }
    Ok(loaded)
}

pub fn explain(g: &Global, a: &ExplainArgs) -> Result<Outcome> {
    let loaded = load_intel(g)?;
    let intel = &loaded.intel;
    let stdout = anstream::stdout();
    let mut out = stdout.lock();
    let mut bad = 0;
    for (i, raw) in a.targets.iter().enumerate() {
        let target = match explain::parse_target(intel, raw) {
            Ok(t) => t,
            Err(msg) => {
                out.flush()?;
                anstream::eprintln!("cordon: error: {msg}");
                bad += 1;
                continue;
            }
        };
        let ans = explain::answer(intel, raw, &target);
        match a.format {
            Format::Json => writeln!(out, "{}", explain::to_json(intel, &ans))?,
            Format::Text => {
                if i > 0 {
                    writeln!(out)?;
                }
                explain::print_text(intel, &ans, &mut out)?;
            }
        }
    }
    out.flush()?;
    Ok(if bad > 0 { Outcome::Usage } else { Outcome::Ok })
}

pub fn intel(g: &Global, c: &IntelCommand) -> Result<Outcome> {
    match c {
        IntelCommand::Status { format } => status(g, *format),
        IntelCommand::Import { files, date } => import(g, files, date.as_deref()),
        IntelCommand::Reset => {
            let dir = data_dir(g).context("no data folder: set --data-dir or HOME")?;
            let lock = store::lock(&dir)?;
            if store::remove(&lock)? {
                print_out(format_args!(
                    "removed the imported IP table from {}\n",
                    dir.display()
                ))?;
            } else {
                print_out(format_args!("no imported IP table in {}\n", dir.display()))?;
            }
            Ok(Outcome::Ok)
        }
        IntelCommand::Build {
            repo,
            asn_v4,
            asn_v6,
            ieee_dir,
        } => {
            let inputs = crate::intel::build::BuildInputs {
                intel_dir: repo.join("intel"),
                asn_v4_csv: asn_v4.clone(),
                asn_v6_csv: asn_v6.clone(),
                ieee_dir: ieee_dir.clone(),
            };
            let report = crate::intel::build::build(&inputs).map_err(anyhow::Error::new)?;
            for w in &report.warnings {
                anstream::eprintln!("cordon: warning: {w}");
            }
            let rows: String = report
                .derived_rows
                .iter()
                .map(|(file, n)| format!("{n:>8} rows  {file}\n"))
                .collect();
            print_out(format_args!("{rows}"))?;
            Ok(Outcome::Ok)
        }
    }
}

fn import(g: &Global, files: &[PathBuf], date_arg: Option<&str>) -> Result<Outcome> {
    let dir = data_dir(g).context("no data folder: set --data-dir or HOME")?;
    // Checked before anything is read: the date is stored, and shown in every scan summary.
    if let Some(d) = date_arg {
        if date::parse_exact(d).is_none() {
            bail!("--date {d:?} is not a calendar date written YYYY-MM-DD");
        }
    }
    // Held until the new table is installed: a second import or a reset fails meanwhile.
    let lock = store::lock(&dir).context("import refused; the table in use is unchanged")?;
    let (table, format) =
        store::parse_files(files).context("import refused; the table in use is unchanged")?;
    let date = match date_arg {
        Some(d) => d.to_string(),
        None => {
            let newest = files
                .iter()
                .filter_map(|f| std::fs::metadata(f).ok()?.modified().ok())
                .max()
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map_or(date::today(), |d| d.as_secs() as i64 / 86_400);
            date::format_days(newest)
        }
    };
    let info = store::ImportInfo {
        format,
        files: files.iter().map(|f| f.display().to_string()).collect(),
        date,
        imported: date::format_days(date::today()),
        v4_ranges: table.v4.len(),
        v6_ranges: table.v6.len(),
        asns: table.names.len(),
    };
    // Build the index once before installing: what is installed must load.
    let mut check = cordon_index::IntelBuilder::new();
    check.ip_ranges("import-check", table.v4.clone(), table.v6.clone());
    check
        .freeze()
        .map_err(anyhow::Error::new)
        .context("import refused: the ranges do not build")?;
    store::write(&lock, &info, &table)?;
    print_out(format_args!(
        "imported {} IPv4 and {} IPv6 ranges ({} dataset, dated {}) into {}\n",
        info.v4_ranges,
        info.v6_ranges,
        info.format,
        info.date,
        dir.display()
    ))?;
    Ok(Outcome::Ok)
}

fn status(g: &Global, format: Format) -> Result<Outcome> {
    let t0 = std::time::Instant::now();
    let loaded = load_intel(g)?;
    let load_ms = t0.elapsed().as_secs_f64() * 1000.0;
    let intel = &loaded.intel;
    let s = intel.stats();
    let today = date::today();
    let datasets: Vec<_> = intel
        .datasets
        .iter()
        .map(|d| {
            let (age, stale) = dataset_age(d, today);
            (d, age, stale)
        })
        .collect();
    let source = match &g.intel_dir {
        Some(d) => format!("folder {}", d.display()),
        None => "bundled with this cordon".to_string(),
    };
    let ip_table = match &loaded.import {
        Some(i) => format!(
            "imported {} table dated {} ({} files)",
            i.format,
            i.date,
            i.files.len()
        ),
        None => "bundled subset: ranges of ASNs of concern only".to_string(),
    };
    if format == Format::Json {
        let j = json!({
            "source": source,
            "ip_table": ip_table,
            "import_error": loaded.import_error,
            "load_ms": (load_ms * 10.0).round() / 10.0,
            "counts": {
                "companies": s.entities, "designations": s.designations, "asn_rules": s.asn_rules,
                "domain_rules": s.domain_rules, "mac_blocks": s.mac_blocks,
                "mac_blocks_of_concern": s.mac_blocks_of_concern, "asns": s.asns,
                "ipv4_ranges": s.v4_segments, "ipv6_ranges": s.v6_segments,
            },
            "datasets": datasets.iter().map(|(d, age, stale)| json!({
                "id": &*d.id, "name": &*d.name, "version": &*d.version, "date": &*d.date,
                "age_days": age, "stale": stale, "url": &*d.url, "licence": &*d.licence,
                "credit": &*d.credit,
            })).collect::<Vec<_>>(),
        });
        print_out(format_args!("{j}\n"))?;
        return Ok(Outcome::Ok);
    }
    let mut out = anstream::stdout().lock();
    writeln!(
        out,
        "{}  {source}, loaded in {load_ms:.0} ms",
        paint(Style::Bold, "intel")
    )?;
    writeln!(out, "  ip table      {ip_table}")?;
    writeln!(
        out,
        "  companies     {} ({} designations)\n  rules         {} ASNs, {} domain suffixes, {} MAC blocks of concern\n  tables        {} IPv4 and {} IPv6 ranges over {} ASes; {} IEEE registry blocks",
        s.entities, s.designations, s.asn_rules, s.domain_rules, s.mac_blocks_of_concern,
        s.v4_segments, s.v6_segments, s.asns, s.mac_blocks
    )?;
    writeln!(out, "{}", paint(Style::Bold, "datasets"))?;
    let mut stale_n = 0;
    for (d, age, stale) in &datasets {
        let age_text = age.map_or("date unknown".to_string(), |a| format!("{a} days old"));
        let flag = if *stale {
            stale_n += 1;
            paint(Style::Alert, " STALE")
        } else {
            String::new()
        };
        writeln!(
            out,
            "  {:<24} {:<12} {age_text}{flag}  {}",
            d.id,
            d.date,
            paint(Style::Dim, &d.name)
        )?;
    }
    if stale_n > 0 {
        writeln!(
            out,
            "{}: {stale_n} dataset(s) older than {STALE_DAYS} days; newer data: `cordon intel import` (IP tables) or a newer cordon release",
            paint(Style::Alert, "warning")
        )?;
    }
    if let Some(e) = &loaded.import_error {
        writeln!(
            out,
            "{}: imported table not used: {e}",
            paint(Style::Alert, "warning")
        )?;
    }
    out.flush()?;
    Ok(Outcome::Ok)
}
