//! The intel files, read one way: a header, a row type and a reader per file, used both by
//! `load` (the snapshot cordon runs on, bundled or `--intel-dir`) and by `build`
//! (`cordon intel build`), so **both accept and refuse exactly the same rows, with the same
//! `file:line: message`** (lowercase, no trailing period). Formats: `docs/intel-format.md`.
//!
//! One date check ([`crate::date::parse_exact`]), one slug check ([`cordon_index::is_slug`]),
//! one relationship vocabulary for footprint rows ([`Relationship::FOOTPRINT`]), one list of
//! services ([`SERVICES`]) and of links ([`LINKS`]). [`Curated::read`] also checks what the
//! curated files say about each other (every entity is a company, parents form trees); the
//! builder's own checks on freeze apply to both paths because `intel build` freezes too.

use crate::date;
use crate::error::FileError;
use cordon_index::{
    AsRange, Confidence, Dataset, Designation, DomainRule, EntityRow, IntelBuilder, Relationship,
    Status,
};
use cordon_index::{AsnRule, Attribution};
use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::path::PathBuf;

pub type Result<T, E = FileError> = std::result::Result<T, E>;

// Files, by their path inside the intel folder, and their headers.

pub const COMPANIES: &str = "companies.csv";
pub const DESIGNATIONS: &str = "designations.csv";
pub const ASNS: &str = "asn.csv";
pub const DOMAINS: &str = "domains.csv";
pub const OUI_RULES: &str = "oui-rules.csv";
pub const OUI_EXCLUSIONS: &str = "oui-exclusions.csv";
pub const DATASETS: &str = "datasets.csv";
pub const PREFIXES_V4: &str = "derived/prefixes-v4.csv";
pub const PREFIXES_V6: &str = "derived/prefixes-v6.csv";
pub const OUI: &str = "derived/oui.csv";
pub const IEEE_MAKERS: &str = "derived/ieee-makers.csv";

pub const COMPANIES_HEADER: &[&str] = &[
    "id",
    "name",
    "aliases",
    "country",
    "parent",
    "link",
    "ownership",
    "source",
];
pub const DESIGNATIONS_HEADER: &[&str] = &[
    "entity",
    "list",
    "edition",
    "date_added",
    "status",
    "source",
    "note",
];
pub const ASNS_HEADER: &[&str] = &[
    "asn",
    "as_org",
    "entity",
    "relationship",
    "confidence",
    "source",
    "note",
];
pub const DOMAINS_HEADER: &[&str] = &[
    "suffix",
    "entity",
    "relationship",
    "service",
    "confidence",
    "source",
];
pub const OUI_RULES_HEADER: &[&str] = &["pattern", "entity", "source", "note"];
pub const OUI_EXCLUSIONS_HEADER: &[&str] = &["prefix", "pattern", "reason"];
pub const DATASETS_HEADER: &[&str] = &["id", "name", "version", "date", "url", "licence", "credit"];
pub const PREFIXES_HEADER: &[&str] = &["start", "end", "asn"];
pub const OUI_HEADER: &[&str] = &["prefix", "registry", "organization", "entity", "source"];
pub const IEEE_MAKERS_HEADER: &[&str] = &["prefix", "registry", "organization"];

// Vocabularies the index does not name.

/// Kinds of link from a company to its parent.
pub const LINKS: &[&str] = &[
    "subsidiary",
    "division",
    "brand",
    "affiliate",
    "joint-venture",
];
/// What a domain rule's service is.
pub const SERVICES: &[&str] = &[
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
const CONFIDENCES: [Confidence; 3] = [Confidence::High, Confidence::Medium, Confidence::Low];
const STATUSES: [Status; 2] = [Status::Designated, Status::Reported];

/// One file's text and the path that names it in messages.
pub struct Text {
    pub path: PathBuf,
    pub text: Cow<'static, str>,
}

impl Text {
    /// Reads a file from disk (regular files only; see [`FileError::read`]).
    pub fn read(path: PathBuf) -> Result<Text> {
        let text = FileError::read(&path)?;
        Ok(Text {
            path,
            text: Cow::Owned(text),
        })
    }

    fn err(&self, line: u64, message: String) -> FileError {
        FileError::new(&self.path, Some(line as usize), message)
    }

    /// `path:line`, the origin the builder keeps for its own messages.
    pub fn origin(&self, line: u64) -> String {
        format!("{}:{line}", self.path.display())
    }
}

/// A file's rows, each with its line.
pub struct Rows<T> {
    pub path: PathBuf,
    pub rows: Vec<(u64, T)>,
}

impl<T> Rows<T> {
    pub fn origin(&self, line: u64) -> String {
        format!("{}:{line}", self.path.display())
    }
}

/// A company's designation on a list.
#[derive(Clone, Debug)]
pub struct DesignationRow {
    pub entity: String,
    pub list: String,
    pub edition: String,
    pub date_added: String,
    pub status: Status,
    pub source: String,
    pub note: String,
}

/// A company → AS rule.
#[derive(Clone, Debug)]
pub struct AsnRow {
    pub asn: u32,
    pub as_org: String,
    pub entity: String,
    pub relationship: Relationship,
    pub confidence: Confidence,
    pub source: String,
    pub note: String,
}

/// A company → domain suffix rule.
#[derive(Clone, Debug)]
pub struct DomainRow {
    pub suffix: String,
    pub entity: String,
    pub relationship: Relationship,
    pub service: String,
    pub confidence: Confidence,
    pub source: String,
}

/// An IEEE registry name pattern attributed to a company.
#[derive(Clone, Debug)]
pub struct OuiRule {
    pub pattern: String,
    pub entity: String,
    pub source: String,
    pub note: String,
}

/// A registry block never attributed: by prefix, or by an organisation substring.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OuiExclusion {
    Prefix(String),
    Pattern(String),
}

/// A row of `derived/oui.csv` or `derived/ieee-makers.csv` (`entity` and `source` empty).
pub struct MacRow<'r> {
    pub prefix: u64,
    pub bits: u8,
    pub registry: &'r str,
    pub organization: &'r str,
    pub entity: &'r str,
    pub source: &'r str,
}

/// The curated files the snapshot is made of, checked row by row and against each other.
pub struct Curated {
    pub companies: Rows<EntityRow>,
    pub designations: Rows<DesignationRow>,
    pub asns: Rows<AsnRow>,
    pub domains: Rows<DomainRow>,
    pub datasets: Rows<Dataset>,
    ids: HashSet<String>,
}

impl Curated {
    /// Reads `companies.csv`, `designations.csv`, `asn.csv`, `domains.csv` and
    /// `datasets.csv`, in that order, through `open` (a name inside the intel folder → its
    /// text). The first bad row fails the whole read.
    pub fn read(open: impl Fn(&str) -> Result<Text>) -> Result<Curated> {
        let companies = read_companies(&open(COMPANIES)?)?;
        let ids: HashSet<String> = companies.rows.iter().map(|(_, c)| c.id.clone()).collect();
        let designations = read_designations(&open(DESIGNATIONS)?, &ids)?;
        let asns = read_asns(&open(ASNS)?, &ids)?;
        let domains = read_domains(&open(DOMAINS)?, &ids)?;
        let datasets = read_datasets(&open(DATASETS)?)?;
        Ok(Curated {
            companies,
            designations,
            asns,
            domains,
            datasets,
            ids,
        })
    }

    /// Reads `oui-rules.csv` (only `intel build` needs it), its entities checked against
    /// the companies.
    pub fn read_oui_rules(&self, file: &Text) -> Result<Rows<OuiRule>> {
        let mut seen = HashSet::new();
        read_table(file, OUI_RULES_HEADER, |r| {
            let pattern = r.required("pattern")?;
            if pattern.to_lowercase() != pattern || pattern.trim() != pattern {
                return Err(format!("pattern {pattern:?} is not lowercase and trimmed"));
            }
            if !seen.insert(pattern.to_string()) {
                return Err(format!("pattern {pattern:?} is listed twice"));
            }
            Ok(OuiRule {
                pattern: pattern.into(),
                entity: r.entity("entity", &self.ids)?.into(),
                source: r.required("source")?.into(),
                note: r.get("note").into(),
            })
        })
    }

    /// Adds every row to `b`, each with its `file:line` for the builder's messages.
    pub fn add_to(&self, b: &mut IntelBuilder) {
        let c = &self.companies;
        for (line, row) in &c.rows {
            b.entity(&c.origin(*line), row.clone());
        }
        let d = &self.designations;
        for (line, row) in &d.rows {
            b.designation(
                &d.origin(*line),
                &row.entity,
                Designation {
                    entity: 0,
                    list: row.list.as_str().into(),
                    edition: row.edition.as_str().into(),
                    date_added: row.date_added.as_str().into(),
                    status: row.status,
                    source: row.source.as_str().into(),
                    note: row.note.as_str().into(),
                },
            );
        }
        let a = &self.asns;
        for (line, row) in &a.rows {
            b.asn_rule(
                &a.origin(*line),
                &row.entity,
                AsnRule {
                    asn: row.asn,
                    as_org: row.as_org.as_str().into(),
                    attribution: Attribution {
                        entity: 0,
                        relationship: row.relationship,
                        confidence: row.confidence,
                        source: row.source.as_str().into(),
                    },
                    note: row.note.as_str().into(),
                },
            );
        }
        let d = &self.domains;
        for (line, row) in &d.rows {
            b.domain_rule(
                &d.origin(*line),
                &row.entity,
                DomainRule {
                    suffix: row.suffix.as_str().into(),
                    service: row.service.as_str().into(),
                    attribution: Attribution {
                        entity: 0,
                        relationship: row.relationship,
                        confidence: row.confidence,
                        source: row.source.as_str().into(),
                    },
                },
            );
        }
        for (_, row) in &self.datasets.rows {
            b.dataset(row.clone());
        }
    }

    /// Rows per file, keyed by file name.
    pub fn counts(&self) -> [(&'static str, usize); 5] {
        [
            (COMPANIES, self.companies.rows.len()),
            (DESIGNATIONS, self.designations.rows.len()),
            (ASNS, self.asns.rows.len()),
            (DOMAINS, self.domains.rows.len()),
            (DATASETS, self.datasets.rows.len()),
        ]
    }
}

fn read_companies(file: &Text) -> Result<Rows<EntityRow>> {
    let mut ids = HashSet::new();
    let t = read_table(file, COMPANIES_HEADER, |r| {
        let id = r.slug("id")?;
        if !ids.insert(id.to_string()) {
            return Err(format!("id {id:?} is defined twice"));
        }
        let name = r.required("name")?;
        let source = r.required("source")?;
        let country = r.get("country");
        if !(country.is_empty()
            || (country.len() == 2 && country.bytes().all(|b| b.is_ascii_uppercase())))
        {
            return Err(format!("country {country:?} is not a two-letter code"));
        }
        let (parent, link) = (r.get("parent"), r.get("link"));
        match (parent.is_empty(), link.is_empty()) {
            (true, true) => {}
            (false, false) => {
                r.one_of("link", LINKS)?;
            }
            (true, false) => return Err(format!("link {link:?} without a parent")),
            (false, true) => return Err(format!("parent {parent:?} without a link")),
        }
        let ownership = match r.get("ownership") {
            "" => None,
            v => Some(
                v.parse::<f32>()
                    .ok()
                    .filter(|p| (0.0..=100.0).contains(p))
                    .ok_or_else(|| format!("ownership {v:?} is not a percent from 0 to 100"))?,
            ),
        };
        Ok(EntityRow {
            id: id.into(),
            name: name.into(),
            aliases: r
                .get("aliases")
                .split(';')
                .map(str::trim)
                .filter(|a| !a.is_empty())
                .map(String::from)
                .collect(),
            country: country.into(),
            parent: parent.into(),
            link: link.into(),
            ownership,
            source: source.into(),
        })
    })?;
    // Parents must resolve, and following them must end at a top entity.
    let parent_of: HashMap<&str, &str> = t
        .rows
        .iter()
        .filter(|(_, c)| !c.parent.is_empty())
        .map(|(_, c)| (c.id.as_str(), c.parent.as_str()))
        .collect();
    for (line, c) in &t.rows {
        if c.parent.is_empty() {
            continue;
        }
        if !ids.contains(&c.parent) {
            return Err(file.err(
                *line,
                format!("parent {:?} is not an id in companies.csv", c.parent),
            ));
        }
        let mut at = c.parent.as_str();
        for steps in 0.. {
            match parent_of.get(at) {
                Some(next) => at = next,
                None => break,
            }
            if steps > parent_of.len() {
                return Err(file.err(*line, format!("parent chain of {:?} has a cycle", c.id)));
            }
        }
    }
    Ok(t)
}

fn read_designations(file: &Text, ids: &HashSet<String>) -> Result<Rows<DesignationRow>> {
    read_table(file, DESIGNATIONS_HEADER, |r| {
        let entity = r.entity("entity", ids)?;
        let list = r.get("list");
        if !cordon_index::is_list_id(list) {
            return Err(format!(
                "list {list:?} is not one of {}, state-ban-<xx>",
                cordon_index::LIST_IDS.join(", ")
            ));
        }
        Ok(DesignationRow {
            entity: entity.into(),
            list: list.into(),
            edition: r.date("edition")?.into(),
            date_added: r.date("date_added")?.into(),
            status: r.word("status", &STATUSES, Status::as_str)?,
            source: r.required("source")?.into(),
            note: r.get("note").into(),
        })
    })
}

fn read_asns(file: &Text, ids: &HashSet<String>) -> Result<Rows<AsnRow>> {
    let mut seen = HashSet::new();
    read_table(file, ASNS_HEADER, |r| {
        let asn = parse_asn(r.get("asn"))?;
        if !seen.insert(asn) {
            return Err(format!("asn {asn} is listed twice"));
        }
        Ok(AsnRow {
            asn,
            as_org: r.get("as_org").into(),
            entity: r.entity("entity", ids)?.into(),
            relationship: r.relationship("relationship")?,
            confidence: r.word("confidence", &CONFIDENCES, Confidence::as_str)?,
            source: r.required("source")?.into(),
            note: r.get("note").into(),
        })
    })
}

fn read_domains(file: &Text, ids: &HashSet<String>) -> Result<Rows<DomainRow>> {
    let mut seen = HashSet::new();
    read_table(file, DOMAINS_HEADER, |r| {
        let suffix = r.get("suffix");
        let well_formed = !suffix.is_empty()
            && suffix.len() <= 253
            && suffix.split('.').all(|label| {
                !label.is_empty()
                    && label.len() <= 63
                    && !label.starts_with('-')
                    && !label.ends_with('-')
                    && label.bytes().all(|b| {
                        b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_'
                    })
            });
        if !well_formed {
            return Err(format!(
                "suffix {suffix:?} is not a lowercase ascii domain name (use punycode)"
            ));
        }
        // A name with a dot that is itself a public suffix would match unrelated registrants.
        // Single labels are brand TLDs owned by the company (`alibaba`), which are allowed.
        if suffix.contains('.') && psl::suffix_str(suffix) == Some(suffix) {
            return Err(format!("suffix {suffix:?} is a public suffix"));
        }
        if !seen.insert(suffix.to_string()) {
            return Err(format!("suffix {suffix:?} is listed twice"));
        }
        Ok(DomainRow {
            suffix: suffix.into(),
            entity: r.entity("entity", ids)?.into(),
            relationship: r.relationship("relationship")?,
            service: r.one_of("service", SERVICES)?.into(),
            confidence: r.word("confidence", &CONFIDENCES, Confidence::as_str)?,
            source: r.required("source")?.into(),
        })
    })
}

fn read_datasets(file: &Text) -> Result<Rows<Dataset>> {
    let mut seen = HashSet::new();
    read_table(file, DATASETS_HEADER, |r| {
        let id = r.slug("id")?;
        if !seen.insert(id.to_string()) {
            return Err(format!("id {id:?} is defined twice"));
        }
        Ok(Dataset {
            id: id.into(),
            name: r.required("name")?.into(),
            version: r.get("version").into(),
            date: r.date("date")?.into(),
            url: r.required("url")?.into(),
            licence: r.required("licence")?.into(),
            credit: r.get("credit").into(),
        })
    })
}

/// Reads `oui-exclusions.csv` (only `intel build` needs it).
pub fn read_oui_exclusions(file: &Text) -> Result<Rows<OuiExclusion>> {
    read_table(file, OUI_EXCLUSIONS_HEADER, |r| {
        let (prefix, pattern) = (r.get("prefix"), r.get("pattern"));
        let exclusion = match (prefix.is_empty(), pattern.is_empty()) {
            (false, true) => {
                let hex = prefix
                    .bytes()
                    .all(|b| b.is_ascii_digit() || (b'A'..=b'F').contains(&b));
                if !hex || ![6, 7, 9].contains(&prefix.len()) {
                    return Err(format!(
                        "prefix {prefix:?} is not 6, 7 or 9 uppercase hex digits"
                    ));
                }
                OuiExclusion::Prefix(prefix.into())
            }
            (true, false) => {
                if pattern.to_lowercase() != pattern {
                    return Err(format!("pattern {pattern:?} is not lowercase"));
                }
                OuiExclusion::Pattern(pattern.into())
            }
            _ => return Err("exactly one of prefix and pattern must be set".into()),
        };
        r.required("reason")?;
        Ok(exclusion)
    })
}

/// Reads `derived/oui.csv` (`with_entity`) or `derived/ieee-makers.csv`, handing each row to
/// `f` with its line: the makers are tens of thousands of rows, not collected here.
pub fn read_mac_blocks(
    file: &Text,
    with_entity: bool,
    mut f: impl FnMut(u64, MacRow<'_>),
) -> Result<()> {
    let header = if with_entity {
        OUI_HEADER
    } else {
        IEEE_MAKERS_HEADER
    };
    each_row(file, header, |line, r| {
        let p = r.get("prefix");
        let (prefix, bits) = cordon_index::mac::parse_prefix(p)
            .ok_or_else(|| format!("prefix {p:?} is not 6, 7 or 9 hex digits"))?;
        let (entity, source) = if with_entity {
            (r.required("entity")?, r.required("source")?)
        } else {
            ("", "")
        };
        f(
            line,
            MacRow {
                prefix,
                bits,
                registry: r.get("registry"),
                organization: r.get("organization"),
                entity,
                source,
            },
        );
        Ok(())
    })
}

/// Reads `derived/prefixes-v4.csv` or (`v6`) `derived/prefixes-v6.csv`.
pub fn read_prefixes(
    file: &Text,
    v6: bool,
    v4_out: &mut Vec<AsRange<u32>>,
    v6_out: &mut Vec<AsRange<u128>>,
) -> Result<()> {
    each_row(file, PREFIXES_HEADER, |_, r| {
        let asn = parse_asn(r.get("asn"))?;
        let ip = |name: &str| -> Result<IpAddr, String> {
            let v = r.get(name);
            v.parse()
                .map_err(|_| format!("{name} {v:?} is not an ip address"))
        };
        let (start, end) = (ip("start")?, ip("end")?);
        if start > end {
            return Err(format!("range start {start} is after its end {end}"));
        }
        match (start, end) {
            (IpAddr::V4(s), IpAddr::V4(e)) if !v6 => v4_out.push(AsRange {
                start: u32::from(s),
                end: u32::from(e),
                asn,
            }),
            (IpAddr::V6(s), IpAddr::V6(e)) if v6 => v6_out.push(AsRange {
                start: u128::from(s),
                end: u128::from(e),
                asn,
            }),
            _ => return Err(format!("not an ipv{} range", if v6 { 6 } else { 4 })),
        }
        Ok(())
    })
}

fn parse_asn(s: &str) -> Result<u32, String> {
    s.parse().map_err(|_| format!("asn {s:?} is not a number"))
}

/// `csv::Error` has no public short message; this keeps ours lowercase and one line.
pub fn csv_message(e: &csv::Error) -> String {
    match e.kind() {
        csv::ErrorKind::Utf8 { .. } => "invalid utf-8".into(),
        csv::ErrorKind::Io(e) => e.to_string().to_lowercase(),
        _ => e.to_string().to_lowercase(),
    }
}

/// One row's fields, by column name, with the checks every file shares. Errors are the
/// message only; [`each_row`] adds the file and line.
pub struct Fields<'r> {
    header: &'static [&'static str],
    rec: &'r csv::StringRecord,
}

impl<'r> Fields<'r> {
    /// The field as written (an unknown column name reads as empty).
    pub fn get(&self, name: &str) -> &'r str {
        let i = self.header.iter().position(|h| *h == name);
        i.and_then(|i| self.rec.get(i)).unwrap_or("")
    }

    fn required(&self, name: &str) -> Result<&'r str, String> {
        let v = self.get(name);
        if v.trim().is_empty() {
            Err(format!("{name} is empty"))
        } else {
            Ok(v)
        }
    }

    fn slug(&self, name: &str) -> Result<&'r str, String> {
        let v = self.get(name);
        if cordon_index::is_slug(v) {
            Ok(v)
        } else {
            Err(format!("{name} {v:?} is not a lowercase slug [a-z0-9-]"))
        }
    }

    /// Empty, or a calendar date written `YYYY-MM-DD`.
    fn date(&self, name: &str) -> Result<&'r str, String> {
        let v = self.get(name);
        if v.is_empty() || date::parse_exact(v).is_some() {
            Ok(v)
        } else {
            Err(format!("{name} {v:?} is not a yyyy-mm-dd date"))
        }
    }

    fn one_of(&self, name: &str, allowed: &[&str]) -> Result<&'r str, String> {
        let v = self.get(name);
        if allowed.contains(&v) {
            Ok(v)
        } else {
            Err(format!("{name} {v:?} is not one of {}", allowed.join(", ")))
        }
    }

    fn word<T: Copy>(
        &self,
        name: &str,
        allowed: &[T],
        spell: fn(T) -> &'static str,
    ) -> Result<T, String> {
        let v = self.get(name);
        allowed
            .iter()
            .copied()
            .find(|w| spell(*w) == v)
            .ok_or_else(|| {
                let all: Vec<_> = allowed.iter().map(|w| spell(*w)).collect();
                format!("{name} {v:?} is not one of {}", all.join(", "))
            })
    }

    /// A footprint row's relationship: one of [`Relationship::FOOTPRINT`].
    fn relationship(&self, name: &str) -> Result<Relationship, String> {
        self.word(name, &Relationship::FOOTPRINT, Relationship::as_str)
    }

    fn entity(&self, name: &str, ids: &HashSet<String>) -> Result<&'r str, String> {
        let v = self.required(name)?;
        if ids.contains(v) {
            Ok(v)
        } else {
            Err(format!("{name} {v:?} is not an id in companies.csv"))
        }
    }
}

/// Reads every row of `file` into `T` with `f`.
fn read_table<T>(
    file: &Text,
    header: &'static [&'static str],
    mut f: impl FnMut(&Fields<'_>) -> Result<T, String>,
) -> Result<Rows<T>> {
    let mut rows = Vec::new();
    each_row(file, header, |line, r| {
        rows.push((line, f(r)?));
        Ok(())
    })?;
    Ok(Rows {
        path: file.path.clone(),
        rows,
    })
}

/// The one CSV reader of the intel files: checks the header against `header` (line 1) and
/// the number of fields of every row, then hands each row to `f` with its line. The first
/// error ends the read, as `file:line: message`.
pub fn each_row(
    file: &Text,
    header: &'static [&'static str],
    mut f: impl FnMut(u64, &Fields<'_>) -> Result<(), String>,
) -> Result<()> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(file.text.as_bytes());
    let mut rec = csv::StringRecord::new();
    let mut first = true;
    loop {
        match reader.read_record(&mut rec) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line());
                return Err(file.err(line, format!("malformed csv: {}", csv_message(&e))));
            }
        }
        let line = rec.position().map_or(0, |p| p.line());
        if first {
            first = false;
            check_header(&rec, header).map_err(|m| file.err(line, m))?;
            continue;
        }
        if rec.len() != header.len() {
            let m = format!("{} fields, expected {}", rec.len(), header.len());
            return Err(file.err(line, m));
        }
        f(line, &Fields { header, rec: &rec }).map_err(|m| file.err(line, m))?;
    }
    if first {
        return Err(file.err(1, "empty file, expected a header row".into()));
    }
    Ok(())
}

fn check_header(got: &csv::StringRecord, want: &[&str]) -> Result<(), String> {
    if got.iter().eq(want.iter().copied()) {
        return Ok(());
    }
    let expected = want.join(",");
    if let Some(c) = got.iter().find(|c| !want.contains(c)) {
        return Err(format!(
            "unknown column {c:?}; expected header {expected:?}"
        ));
    }
    if let Some(c) = want.iter().find(|c| !got.iter().any(|g| g == **c)) {
        return Err(format!(
            "missing column {c:?}; expected header {expected:?}"
        ));
    }
    let found: Vec<&str> = got.iter().collect();
    Err(format!(
        "header is {:?}, expected {expected:?}",
        found.join(",")
    ))
}

#[cfg(test)]
mod tests;
