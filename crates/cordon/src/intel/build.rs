//! `cordon intel build`: validate the curated intel files and regenerate `intel/derived/`.
//!
//! The curated files (`companies.csv`, `designations.csv`, `asn.csv`, `domains.csv`,
//! `oui-rules.csv`, `oui-exclusions.csv`, `datasets.csv`) are specified in
//! `docs/intel-format.md`. This module guarantees:
//!
//! - **A malformed curated row fails the build** with `path:line: message` (lowercase, no
//!   trailing period), and nothing under `intel/derived/` is touched.
//! - **Output is deterministic**: every derived file is sorted, so building twice from the
//!   same inputs gives byte-identical files.
//! - **Output is atomic**: each file is written to a temporary sibling and renamed into place,
//!   so a reader never sees a half-written table.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
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
    /// A curated or dataset row is malformed.
    Invalid {
        path: PathBuf,
        line: u64,
        message: String,
    },
    /// A file could not be read or written.
    Io { path: PathBuf, source: io::Error },
}

impl fmt::Display for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BuildError::Invalid {
                path,
                line,
                message,
            } => write!(f, "{}:{}: {}", path.display(), line, message),
            BuildError::Io { path, source } => write!(f, "{}: {}", path.display(), source),
        }
    }
}

impl std::error::Error for BuildError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            BuildError::Io { source, .. } => Some(source),
            BuildError::Invalid { .. } => None,
        }
    }
}

const LINKS: &[&str] = &[
    "subsidiary",
    "division",
    "brand",
    "affiliate",
    "joint-venture",
];
const STATUSES: &[&str] = &["designated", "reported"];
const RELATIONSHIPS: &[&str] = &["operated-by", "hosted-on", "transit-via"];
const CONFIDENCES: &[&str] = &["high", "medium", "low"];
const SERVICES: &[&str] = &[
    "ai-model-api",
    "cloud",
    "cdn",
    "payment",
    "telemetry",
    "device-cloud",
    "firmware-update",
    "dns",
    "web",
    "mail",
    "messaging",
    "video",
    "app",
    "ads",
    "other",
];
const IEEE_FILES: &[&str] = &["oui.csv", "mam.csv", "oui36.csv"];

/// One IEEE registry attribution rule (`oui-rules.csv`).
#[derive(Debug, Clone)]
struct OuiRule {
    pattern: String,
    entity: String,
}

/// One exclusion (`oui-exclusions.csv`): a block prefix or an organisation substring.
#[derive(Debug, Clone)]
enum OuiExclusion {
    Prefix(String),
    Pattern(String),
}

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

    for (name, rows) in [("prefixes-v4.csv", &v4), ("prefixes-v6.csv", &v6)] {
        let lines = rows
            .iter()
            .map(|(start, end, asn)| vec![start.to_string(), end.to_string(), asn.to_string()]);
        write_csv(&derived.join(name), &["start", "end", "asn"], lines)?;
        report
            .derived_rows
            .insert(format!("derived/{name}"), rows.len());
    }
    write_csv(
        &derived.join("oui.csv"),
        &["prefix", "registry", "organization", "entity", "source"],
        oui_rows.iter().cloned(),
    )?;
    report
        .derived_rows
        .insert("derived/oui.csv".into(), oui_rows.len());
    write_csv(
        &derived.join("ieee-makers.csv"),
        &["prefix", "registry", "organization"],
        ieee.iter()
            .map(|b| vec![b.prefix.clone(), b.registry.clone(), b.organization.clone()]),
    )?;
    report
        .derived_rows
        .insert("derived/ieee-makers.csv".into(), ieee.len());
    Ok(report)
}

// ---------------------------------------------------------------------------------------------
// Curated files

/// A CSV file being read: its path, for error messages, and its rows with line numbers.
struct Table {
    path: PathBuf,
    rows: Vec<(u64, csv::StringRecord)>,
}

impl Table {
    fn open(path: PathBuf, header: &[&str]) -> Result<Table, BuildError> {
        let data = fs::read(&path).map_err(|source| BuildError::Io {
            path: path.clone(),
            source,
        })?;
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(data.as_slice());
        let mut rows = Vec::new();
        let mut first = true;
        for result in reader.records() {
            let record = result.map_err(|e| {
                let line = e.position().map_or(0, |p| p.line());
                BuildError::Invalid {
                    path: path.clone(),
                    line,
                    message: format!("malformed csv: {}", e.kind_message()),
                }
            })?;
            let line = record.position().map_or(0, |p| p.line());
            if first {
                first = false;
                let got: Vec<&str> = record.iter().collect();
                if got != header {
                    return Err(BuildError::Invalid {
                        path,
                        line,
                        message: format!(
                            "header is \"{}\", expected \"{}\"",
                            got.join(","),
                            header.join(",")
                        ),
                    });
                }
                continue;
            }
            if record.len() != header.len() {
                return Err(BuildError::Invalid {
                    path,
                    line,
                    message: format!("{} fields, expected {}", record.len(), header.len()),
                });
            }
            rows.push((line, record));
        }
        if first {
            return Err(BuildError::Invalid {
                path,
                line: 1,
                message: "empty file, expected a header row".into(),
            });
        }
        Ok(Table { path, rows })
    }

    fn err(&self, line: u64, message: String) -> BuildError {
        BuildError::Invalid {
            path: self.path.clone(),
            line,
            message,
        }
    }
}

/// `csv::Error` has no public short message; this keeps ours lowercase and one line.
trait KindMessage {
    fn kind_message(&self) -> String;
}

impl KindMessage for csv::Error {
    fn kind_message(&self) -> String {
        match self.kind() {
            csv::ErrorKind::Utf8 { .. } => "invalid utf-8".into(),
            csv::ErrorKind::Io(e) => e.to_string().to_lowercase(),
            _ => self.to_string().to_lowercase(),
        }
    }
}

fn is_slug(s: &str) -> bool {
    !s.is_empty()
        && s.split('-').all(|part| {
            !part.is_empty()
                && part
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        })
}

fn is_date(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit())
        && (1..=12).contains(&s[5..7].parse::<u8>().unwrap_or(0))
        && (1..=31).contains(&s[8..10].parse::<u8>().unwrap_or(0))
}

fn one_of(
    table: &Table,
    line: u64,
    field: &str,
    value: &str,
    allowed: &[&str],
) -> Result<(), BuildError> {
    if allowed.contains(&value) {
        Ok(())
    } else {
        Err(table.err(
            line,
            format!("{field} \"{value}\" is not one of {}", allowed.join(", ")),
        ))
    }
}

fn required(table: &Table, line: u64, field: &str, value: &str) -> Result<(), BuildError> {
    if value.trim().is_empty() {
        Err(table.err(line, format!("{field} is empty")))
    } else {
        Ok(())
    }
}

fn known_entity(
    table: &Table,
    line: u64,
    field: &str,
    value: &str,
    ids: &HashSet<String>,
) -> Result<(), BuildError> {
    if ids.contains(value) {
        Ok(())
    } else {
        Err(table.err(
            line,
            format!("{field} \"{value}\" is not an id in companies.csv"),
        ))
    }
}

fn load_curated(dir: &Path) -> Result<Curated, BuildError> {
    let mut curated = Curated::default();
    let ids = load_companies(dir, &mut curated)?;
    load_designations(dir, &ids, &mut curated)?;
    load_asns(dir, &ids, &mut curated)?;
    load_domains(dir, &ids, &mut curated)?;
    load_oui_rules(dir, &ids, &mut curated)?;
    load_oui_exclusions(dir, &mut curated)?;
    load_datasets(dir, &mut curated)?;
    Ok(curated)
}

fn load_companies(dir: &Path, curated: &mut Curated) -> Result<HashSet<String>, BuildError> {
    let t = Table::open(
        dir.join("companies.csv"),
        &[
            "id",
            "name",
            "aliases",
            "country",
            "parent",
            "link",
            "ownership",
            "source",
        ],
    )?;
    let mut parents: HashMap<String, (u64, String)> = HashMap::new();
    let mut ids = HashSet::new();
    for (line, r) in &t.rows {
        let line = *line;
        let (id, name, country, parent, link, ownership, source) =
            (&r[0], &r[1], &r[3], &r[4], &r[5], &r[6], &r[7]);
        if !is_slug(id) {
            return Err(t.err(
                line,
                format!("id \"{id}\" is not a lowercase slug [a-z0-9-]"),
            ));
        }
        if !ids.insert(id.to_string()) {
            return Err(t.err(line, format!("id \"{id}\" is defined twice")));
        }
        required(&t, line, "name", name)?;
        required(&t, line, "source", source)?;
        if !(country.is_empty()
            || (country.len() == 2 && country.bytes().all(|b| b.is_ascii_uppercase())))
        {
            return Err(t.err(
                line,
                format!("country \"{country}\" is not a two-letter code"),
            ));
        }
        match (parent.is_empty(), link.is_empty()) {
            (true, true) => {}
            (false, false) => one_of(&t, line, "link", link, LINKS)?,
            (true, false) => return Err(t.err(line, format!("link \"{link}\" without a parent"))),
            (false, true) => return Err(t.err(line, format!("parent \"{parent}\" without a link"))),
        }
        if !ownership.is_empty() {
            match ownership.parse::<f64>() {
                Ok(p) if (0.0..=100.0).contains(&p) => {}
                _ => {
                    return Err(t.err(
                        line,
                        format!("ownership \"{ownership}\" is not a percent from 0 to 100"),
                    ))
                }
            }
        }
        if !parent.is_empty() {
            parents.insert(id.to_string(), (line, parent.to_string()));
        }
    }
    // Parents must resolve, and following them must end at a top entity.
    for (id, (line, parent)) in &parents {
        known_entity(&t, *line, "parent", parent, &ids)?;
        let mut at = parent.as_str();
        let mut steps = 0;
        while let Some((_, next)) = parents.get(at) {
            at = next;
            steps += 1;
            if steps > parents.len() {
                return Err(t.err(*line, format!("parent chain of \"{id}\" has a cycle")));
            }
        }
    }
    curated.rows.insert("companies.csv".into(), t.rows.len());
    Ok(ids)
}

fn load_designations(
    dir: &Path,
    ids: &HashSet<String>,
    curated: &mut Curated,
) -> Result<(), BuildError> {
    let t = Table::open(
        dir.join("designations.csv"),
        &[
            "entity",
            "list",
            "edition",
            "date_added",
            "status",
            "source",
            "note",
        ],
    )?;
    for (line, r) in &t.rows {
        let line = *line;
        known_entity(&t, line, "entity", &r[0], ids)?;
        let list = &r[1];
        if !cordon_index::is_list_id(list) {
            return Err(t.err(
                line,
                format!(
                    "list \"{list}\" is not one of {}, state-ban-<xx>",
                    cordon_index::LIST_IDS.join(", ")
                ),
            ));
        }
        for (field, value) in [("edition", &r[2]), ("date_added", &r[3])] {
            if !value.is_empty() && !is_date(value) {
                return Err(t.err(
                    line,
                    format!("{field} \"{value}\" is not a yyyy-mm-dd date"),
                ));
            }
        }
        one_of(&t, line, "status", &r[4], STATUSES)?;
        required(&t, line, "source", &r[5])?;
    }
    curated.rows.insert("designations.csv".into(), t.rows.len());
    Ok(())
}

fn load_asns(dir: &Path, ids: &HashSet<String>, curated: &mut Curated) -> Result<(), BuildError> {
    let t = Table::open(
        dir.join("asn.csv"),
        &[
            "asn",
            "as_org",
            "entity",
            "relationship",
            "confidence",
            "source",
            "note",
        ],
    )?;
    for (line, r) in &t.rows {
        let line = *line;
        let asn: u32 = r[0]
            .parse()
            .map_err(|_| t.err(line, format!("asn \"{}\" is not a number", &r[0])))?;
        if !curated.asns.insert(asn) {
            return Err(t.err(line, format!("asn {asn} is listed twice")));
        }
        known_entity(&t, line, "entity", &r[2], ids)?;
        one_of(&t, line, "relationship", &r[3], RELATIONSHIPS)?;
        one_of(&t, line, "confidence", &r[4], CONFIDENCES)?;
        required(&t, line, "source", &r[5])?;
    }
    curated.rows.insert("asn.csv".into(), t.rows.len());
    Ok(())
}

fn load_domains(
    dir: &Path,
    ids: &HashSet<String>,
    curated: &mut Curated,
) -> Result<(), BuildError> {
    let t = Table::open(
        dir.join("domains.csv"),
        &[
            "suffix",
            "entity",
            "relationship",
            "service",
            "confidence",
            "source",
        ],
    )?;
    let mut seen = HashSet::new();
    for (line, r) in &t.rows {
        let line = *line;
        let suffix = &r[0];
        let well_formed = suffix.split('.').all(|label| {
            !label.is_empty()
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
        });
        if !well_formed {
            return Err(t.err(
                line,
                format!("suffix \"{suffix}\" is not a lowercase ascii domain name (use punycode)"),
            ));
        }
        // A name with a dot that is itself a public suffix would match unrelated registrants.
        // Single labels are brand TLDs owned by the company (`alibaba`), which are allowed.
        if suffix.contains('.') && psl::suffix_str(suffix) == Some(suffix) {
            return Err(t.err(line, format!("suffix \"{suffix}\" is a public suffix")));
        }
        if !seen.insert(suffix.to_string()) {
            return Err(t.err(line, format!("suffix \"{suffix}\" is listed twice")));
        }
        known_entity(&t, line, "entity", &r[1], ids)?;
        one_of(&t, line, "relationship", &r[2], RELATIONSHIPS)?;
        one_of(&t, line, "service", &r[3], SERVICES)?;
        one_of(&t, line, "confidence", &r[4], CONFIDENCES)?;
        required(&t, line, "source", &r[5])?;
    }
    curated.rows.insert("domains.csv".into(), t.rows.len());
    Ok(())
}

fn load_oui_rules(
    dir: &Path,
    ids: &HashSet<String>,
    curated: &mut Curated,
) -> Result<(), BuildError> {
    let t = Table::open(
        dir.join("oui-rules.csv"),
        &["pattern", "entity", "source", "note"],
    )?;
    let mut seen = HashSet::new();
    for (line, r) in &t.rows {
        let line = *line;
        let pattern = &r[0];
        required(&t, line, "pattern", pattern)?;
        if pattern.to_lowercase() != *pattern || pattern.trim() != pattern {
            return Err(t.err(
                line,
                format!("pattern \"{pattern}\" is not lowercase and trimmed"),
            ));
        }
        if !seen.insert(pattern.to_string()) {
            return Err(t.err(line, format!("pattern \"{pattern}\" is listed twice")));
        }
        known_entity(&t, line, "entity", &r[1], ids)?;
        required(&t, line, "source", &r[2])?;
        curated.oui_rules.push(OuiRule {
            pattern: pattern.to_string(),
            entity: r[1].to_string(),
        });
    }
    curated.rows.insert("oui-rules.csv".into(), t.rows.len());
    Ok(())
}

fn load_oui_exclusions(dir: &Path, curated: &mut Curated) -> Result<(), BuildError> {
    let t = Table::open(
        dir.join("oui-exclusions.csv"),
        &["prefix", "pattern", "reason"],
    )?;
    for (line, r) in &t.rows {
        let line = *line;
        let (prefix, pattern) = (&r[0], &r[1]);
        let exclusion = match (prefix.is_empty(), pattern.is_empty()) {
            (false, true) => {
                let hex = prefix
                    .bytes()
                    .all(|b| b.is_ascii_digit() || (b'A'..=b'F').contains(&b));
                if !hex || ![6, 7, 9].contains(&prefix.len()) {
                    return Err(t.err(
                        line,
                        format!("prefix \"{prefix}\" is not 6, 7 or 9 uppercase hex digits"),
                    ));
                }
                OuiExclusion::Prefix(prefix.to_string())
            }
            (true, false) => {
                if pattern.to_lowercase() != *pattern {
                    return Err(t.err(line, format!("pattern \"{pattern}\" is not lowercase")));
                }
                OuiExclusion::Pattern(pattern.to_string())
            }
            _ => return Err(t.err(line, "exactly one of prefix and pattern must be set".into())),
        };
        required(&t, line, "reason", &r[2])?;
        curated.oui_exclusions.push(exclusion);
    }
    curated
        .rows
        .insert("oui-exclusions.csv".into(), t.rows.len());
    Ok(())
}

fn load_datasets(dir: &Path, curated: &mut Curated) -> Result<(), BuildError> {
    let t = Table::open(
        dir.join("datasets.csv"),
        &["id", "name", "version", "date", "url", "licence", "credit"],
    )?;
    let mut seen = HashSet::new();
    for (line, r) in &t.rows {
        let line = *line;
        if !is_slug(&r[0]) {
            return Err(t.err(
                line,
                format!("id \"{}\" is not a lowercase slug [a-z0-9-]", &r[0]),
            ));
        }
        if !seen.insert(r[0].to_string()) {
            return Err(t.err(line, format!("id \"{}\" is defined twice", &r[0])));
        }
        required(&t, line, "name", &r[1])?;
        if !r[3].is_empty() && !is_date(&r[3]) {
            return Err(t.err(line, format!("date \"{}\" is not a yyyy-mm-dd date", &r[3])));
        }
        required(&t, line, "url", &r[4])?;
        required(&t, line, "licence", &r[5])?;
    }
    curated.rows.insert("datasets.csv".into(), t.rows.len());
    Ok(())
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
        let invalid = |line: u64, message: String| BuildError::Invalid {
            path: path.to_path_buf(),
            line,
            message,
        };
        let record = result.map_err(|e| {
            invalid(
                e.position().map_or(0, |p| p.line()),
                format!("malformed csv: {}", e.kind_message()),
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
            let invalid = |line: u64, message: String| BuildError::Invalid {
                path: path.clone(),
                line,
                message,
            };
            let record = result.map_err(|e| {
                invalid(
                    e.position().map_or(0, |p| p.line()),
                    format!("malformed csv: {}", e.kind_message()),
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
