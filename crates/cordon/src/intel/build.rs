//! `cordon intel build`: validate the curated intel files and regenerate `intel/derived/`.
//!
//! The curated files (`companies.csv`, `designations.csv`, `asn.csv`, `domains.csv`,
//! `oui-rules.csv`, `oui-exclusions.csv`, `datasets.csv`) are specified in
//! `docs/intel-format.md`. This module guarantees:
//!
//! - **A malformed curated row fails the build** with `path:line: message` (lowercase, no
//!   trailing period), and nothing under `intel/derived/` is touched. The rows are read by
//!   [`schema`], the reader the snapshot loads with, and frozen as the snapshot freezes
//!   them: a row the build refuses, `--intel-dir` refuses too, in the same words.
//! - **Output is deterministic**: every derived file is sorted, so building twice from the
//!   same inputs gives byte-identical files.
//! - **Output is atomic**: each file is written to a temporary sibling and renamed into place,
//!   so a reader never sees a half-written table.

use super::schema::{self, OuiExclusion, OuiRule, Text};
use crate::error::FileError;
use cordon_index::IntelBuilder;
use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::fmt;
use std::fs;
use std::io::{self, BufWriter};
use std::net::IpAddr;
use std::path::{Path, PathBuf};

/// Where the build reads from. Outputs go to `intel_dir/derived/`.
#[derive(Debug, Clone)]
pub struct BuildInputs {
    /// The `intel/` directory holding the curated CSV files.
    pub intel_dir: PathBuf,
    /// ip-location-db `asn-ipv4.csv` (`start,end,asn,org`, no header).
    pub asn_v4_csv: PathBuf,
    /// ip-location-db `asn-ipv6.csv` (`start,end,asn,org`, no header).
    pub asn_v6_csv: PathBuf,
    /// Directory with the IEEE registry files `oui.csv`, `mam.csv` and `oui36.csv`.
    pub ieee_dir: PathBuf,
}

/// What a build read and wrote.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BuildReport {
    /// Rows read from each curated file, keyed by file name (`companies.csv`, ...).
    pub curated_rows: BTreeMap<String, usize>,
    /// Rows written to each derived file, keyed by path relative to `intel/`
    /// (`derived/prefixes-v4.csv`, ...).
    pub derived_rows: BTreeMap<String, usize>,
    /// Things a reviewer should look at that do not fail the build (lowercase sentences).
    pub warnings: Vec<String>,
}

/// Why a build failed. Messages are lowercase and name the file (and line) at fault.
#[derive(Debug)]
pub enum BuildError {
    /// A curated or dataset row is malformed (the same message `--intel-dir` gives for a
    /// curated row).
    Invalid(FileError),
    /// The curated rows do not hold together (what the snapshot checks when it freezes).
    Intel(cordon_index::BuildError),
    /// A dataset could not be read, or a derived file written.
    Io { path: PathBuf, source: io::Error },
}

impl From<FileError> for BuildError {
    fn from(e: FileError) -> BuildError {
        BuildError::Invalid(e)
    }
}

impl fmt::Display for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BuildError::Invalid(e) => e.fmt(f),
            BuildError::Intel(e) => e.fmt(f),
            BuildError::Io { path, source } => write!(f, "{}: {}", path.display(), source),
        }
    }
}

impl std::error::Error for BuildError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            BuildError::Io { source, .. } => Some(source),
            BuildError::Invalid(_) | BuildError::Intel(_) => None,
        }
    }
}

const IEEE_FILES: &[&str] = &["oui.csv", "mam.csv", "oui36.csv"];

/// The curated files, validated.
#[derive(Debug, Default)]
struct Curated {
    asns: BTreeSet<u32>,
    oui_rules: Vec<OuiRule>,
    oui_exclusions: Vec<OuiExclusion>,
    rows: BTreeMap<String, usize>,
}

/// Validates every curated file under `intel_dir`, without writing anything.
///
/// Returns the number of rows per file, or the first malformed row as `path:line: message`.
pub fn validate(intel_dir: &Path) -> Result<BTreeMap<String, usize>, BuildError> {
    Ok(load_curated(intel_dir)?.rows)
}

/// Validates the curated files and regenerates `intel_dir/derived/` from the datasets.
pub fn build(inputs: &BuildInputs) -> Result<BuildReport, BuildError> {
    let curated = load_curated(&inputs.intel_dir)?;
    let mut report = BuildReport {
        curated_rows: curated.rows.clone(),
        ..BuildReport::default()
    };
    let derived = inputs.intel_dir.join("derived");
    fs::create_dir_all(&derived).map_err(|source| BuildError::Io {
        path: derived.clone(),
        source,
    })?;

    // Read every input before writing any output, so a bad dataset leaves the old tables.
    let v4 = read_prefixes(&inputs.asn_v4_csv, &curated.asns, false)?;
    let v6 = read_prefixes(&inputs.asn_v6_csv, &curated.asns, true)?;
    let ieee = read_ieee(&inputs.ieee_dir)?;
    let (oui_rows, oui_warnings) = attribute_ouis(&ieee, &curated);
    report.warnings.extend(oui_warnings);

    let seen: HashSet<u32> = v4.iter().chain(v6.iter()).map(|r| r.2).collect();
    for asn in &curated.asns {
        if !seen.contains(asn) {
            report.warnings.push(format!(
                "asn {asn} in intel/asn.csv announces no range in the ip-location-db dataset"
            ));
        }
    }

    for (name, rows) in [(schema::PREFIXES_V4, &v4), (schema::PREFIXES_V6, &v6)] {
        let lines = rows
            .iter()
            .map(|(start, end, asn)| vec![start.to_string(), end.to_string(), asn.to_string()]);
        write_csv(&inputs.intel_dir.join(name), schema::PREFIXES_HEADER, lines)?;
        report.derived_rows.insert(name.into(), rows.len());
    }
    write_csv(
        &inputs.intel_dir.join(schema::OUI),
        schema::OUI_HEADER,
        oui_rows.iter().cloned(),
    )?;
    report
        .derived_rows
        .insert(schema::OUI.into(), oui_rows.len());
    write_csv(
        &inputs.intel_dir.join(schema::IEEE_MAKERS),
        schema::IEEE_MAKERS_HEADER,
        ieee.iter()
            .map(|b| vec![b.prefix.clone(), b.registry.clone(), b.organization.clone()]),
    )?;
    report
        .derived_rows
        .insert(schema::IEEE_MAKERS.into(), ieee.len());
    Ok(report)
}

// ---------------------------------------------------------------------------------------------
// Curated files

/// Reads the curated files with the snapshot's reader ([`schema`]), then freezes them the
/// way the snapshot does, so `intel build` and `--intel-dir` refuse the same rows.
fn load_curated(dir: &Path) -> Result<Curated, BuildError> {
    let open = |name: &str| Text::read(dir.join(name));
    let files = schema::Curated::read(open)?;
    let oui_rules = files.read_oui_rules(&open(schema::OUI_RULES)?)?;
    let oui_exclusions = schema::read_oui_exclusions(&open(schema::OUI_EXCLUSIONS)?)?;
    let mut b = IntelBuilder::new();
    files.add_to(&mut b);
    b.freeze().map_err(BuildError::Intel)?;
    let mut rows: BTreeMap<String, usize> = files
        .counts()
        .into_iter()
        .map(|(name, n)| (name.to_string(), n))
        .collect();
    rows.insert(schema::OUI_RULES.into(), oui_rules.rows.len());
    rows.insert(schema::OUI_EXCLUSIONS.into(), oui_exclusions.rows.len());
    Ok(Curated {
        asns: files.asns.rows.iter().map(|(_, a)| a.asn).collect(),
        oui_rules: oui_rules.rows.into_iter().map(|(_, r)| r).collect(),
        oui_exclusions: oui_exclusions.rows.into_iter().map(|(_, x)| x).collect(),
        rows,
    })
}

// ---------------------------------------------------------------------------------------------
// Datasets

/// Reads ip-location-db `start,end,asn,org` rows and keeps those whose ASN is in `asns`,
/// sorted by start address.
fn read_prefixes(
    path: &Path,
    asns: &BTreeSet<u32>,
    v6: bool,
) -> Result<Vec<(IpAddr, IpAddr, u32)>, BuildError> {
    let data = fs::read(path).map_err(|source| BuildError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(data.as_slice());
    let mut out = Vec::new();
    for result in reader.records() {
        let invalid = |line: u64, message: String| {
            BuildError::Invalid(FileError::new(path, Some(line as usize), message))
        };
        let record = result.map_err(|e| {
            invalid(
                e.position().map_or(0, |p| p.line()),
                format!("malformed csv: {}", schema::csv_message(&e)),
            )
        })?;
        let line = record.position().map_or(0, |p| p.line());
        if record.len() < 3 {
            return Err(invalid(
                line,
                format!("{} fields, expected start,end,asn,org", record.len()),
            ));
        }
        let Ok(asn) = record[2].parse::<u32>() else {
            return Err(invalid(
                line,
                format!("asn \"{}\" is not a number", &record[2]),
            ));
        };
        if !asns.contains(&asn) {
            continue;
        }
        let start: IpAddr = record[0].parse().map_err(|_| {
            invalid(
                line,
                format!("start \"{}\" is not an ip address", &record[0]),
            )
        })?;
        let end: IpAddr = record[1]
            .parse()
            .map_err(|_| invalid(line, format!("end \"{}\" is not an ip address", &record[1])))?;
        if start.is_ipv6() != v6 || end.is_ipv6() != v6 || end < start {
            return Err(invalid(
                line,
                format!("range {start}-{end} is not an ordered range of one family"),
            ));
        }
        out.push((start, end, asn));
    }
    out.sort();
    Ok(out)
}

/// One IEEE registry block.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Block {
    prefix: String,
    registry: String,
    organization: String,
}

/// Reads `oui.csv`, `mam.csv` and `oui36.csv`, sorted by prefix.
fn read_ieee(dir: &Path) -> Result<Vec<Block>, BuildError> {
    let mut blocks = Vec::new();
    for name in IEEE_FILES {
        let path = dir.join(name);
        let data = fs::read(&path).map_err(|source| BuildError::Io {
            path: path.clone(),
            source,
        })?;
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(true)
            .flexible(true)
            .from_reader(data.as_slice());
        for result in reader.records() {
            let invalid = |line: u64, message: String| {
                BuildError::Invalid(FileError::new(&path, Some(line as usize), message))
            };
            let record = result.map_err(|e| {
                invalid(
                    e.position().map_or(0, |p| p.line()),
                    format!("malformed csv: {}", schema::csv_message(&e)),
                )
            })?;
            let line = record.position().map_or(0, |p| p.line());
            if record.len() < 3 {
                return Err(invalid(
                    line,
                    format!(
                        "{} fields, expected registry,assignment,organization",
                        record.len()
                    ),
                ));
            }
            let prefix = record[1].trim().to_ascii_uppercase();
            if !prefix.bytes().all(|b| b.is_ascii_hexdigit()) || ![6, 7, 9].contains(&prefix.len())
            {
                return Err(invalid(
                    line,
                    format!("assignment \"{prefix}\" is not 6, 7 or 9 hex digits"),
                ));
            }
            blocks.push(Block {
                prefix,
                registry: record[0].trim().to_string(),
                organization: clean_org(&record[2]),
            });
        }
    }
    blocks.sort();
    blocks.dedup();
    Ok(blocks)
}

/// Collapses runs of whitespace (the registry has tabs, doubled and non-ASCII spaces) and trims.
fn clean_org(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Attributes registry blocks to companies: the longest matching rule pattern wins (ties go
/// to the alphabetically first entity, with a warning); exclusions always win.
fn attribute_ouis(blocks: &[Block], curated: &Curated) -> (Vec<Vec<String>>, Vec<String>) {
    let mut rows = Vec::new();
    let mut warnings = Vec::new();
    let mut used: HashSet<&str> = HashSet::new();
    for block in blocks {
        let org = block.organization.to_lowercase();
        let excluded = curated.oui_exclusions.iter().any(|x| match x {
            OuiExclusion::Prefix(p) => *p == block.prefix,
            OuiExclusion::Pattern(p) => org.contains(p.as_str()),
        });
        if excluded {
            continue;
        }
        let mut matches: Vec<&OuiRule> = curated
            .oui_rules
            .iter()
            .filter(|r| org.contains(r.pattern.as_str()))
            .collect();
        if matches.is_empty() {
            continue;
        }
        matches.sort_by(|a, b| {
            b.pattern
                .len()
                .cmp(&a.pattern.len())
                .then(a.entity.cmp(&b.entity))
        });
        let best = matches[0];
        if matches
            .iter()
            .any(|r| r.pattern.len() == best.pattern.len() && r.entity != best.entity)
        {
            warnings.push(format!(
                "ieee block {} ({}) matches rules for several entities; attributed to {}",
                block.prefix, block.organization, best.entity
            ));
        }
        used.insert(best.pattern.as_str());
        rows.push(vec![
            block.prefix.clone(),
            block.registry.clone(),
            block.organization.clone(),
            best.entity.clone(),
            format!(
                "ieee-registry {} {}; rule \"{}\"",
                block.registry, block.prefix, best.pattern
            ),
        ]);
    }
    for rule in &curated.oui_rules {
        if !used.contains(rule.pattern.as_str()) {
            warnings.push(format!(
                "oui rule \"{}\" matches no registry block",
                rule.pattern
            ));
        }
    }
    (rows, warnings)
}

// ---------------------------------------------------------------------------------------------
// Output

/// Writes a CSV file atomically: to `<name>.tmp` in the same directory, then renamed.
fn write_csv<I>(path: &Path, header: &[&str], rows: I) -> Result<(), BuildError>
where
    I: IntoIterator<Item = Vec<String>>,
{
    let io_err = |source: io::Error| BuildError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut tmp_name = path.file_name().unwrap_or_default().to_os_string();
    tmp_name.push(".tmp");
    let tmp = path.with_file_name(tmp_name);
    let file = fs::File::create(&tmp).map_err(io_err)?;
    let mut writer = csv::WriterBuilder::new()
        .terminator(csv::Terminator::Any(b'\n'))
        .from_writer(BufWriter::new(file));
    let csv_err = |e: csv::Error| io_err(io::Error::other(e.to_string().to_lowercase()));
    writer.write_record(header).map_err(csv_err)?;
    for row in rows {
        writer.write_record(&row).map_err(csv_err)?;
    }
    let buffered = writer
        .into_inner()
        .map_err(|e| io_err(io::Error::other(e.to_string())))?;
    let file = buffered.into_inner().map_err(|e| io_err(e.into_error()))?;
    file.sync_all().map_err(io_err)?;
    drop(file);
    fs::rename(&tmp, path).map_err(io_err)?;
    Ok(())
}

#[cfg(test)]
mod tests;
