//! What loading indicator files did: per-file counts and the items behind them.
//!
//! **Nothing is dropped silently**: every indicator that was not loaded is counted under
//! one reason (revoked, not for detection, undecidable, unsupported, malformed), and the
//! first [`MAX_ITEMS`] of each file are listed with their position and text. The report
//! prints as the human summary and serialises into the scan summary's `indicators` key.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;

/// Items listed per file; the counts go on past it.
pub const MAX_ITEMS: usize = 200;

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LoadReport {
    /// Indicators loaded, over all files.
    pub loaded: u64,
    /// Indicators not loaded (every reason), over all files.
    pub not_loaded: u64,
    pub files: Vec<FileReport>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct FileReport {
    pub path: String,
    /// `stix`, `misp`, `misp-feed`, `list`, or `unknown`.
    pub format: String,
    /// Indicators loaded (each with at least one address or name to match).
    pub loaded: u64,
    /// Loaded, but some alternatives of the pattern could not be decided or parsed.
    pub partial: u64,
    /// STIX indicators with `revoked: true`, MISP attributes marked deleted.
    pub revoked: u64,
    /// MISP attributes with `to_ids: false`.
    pub not_to_ids: u64,
    /// Indicators of kinds network telemetry cannot decide (file hashes, registry keys, JA3,
    /// user agents, certificate hashes), by kind.
    pub undecidable: u64,
    pub undecidable_kinds: BTreeMap<String, u64>,
    /// Valid indicators the pattern parser or the matcher does not support.
    pub unsupported: u64,
    /// Malformed objects, attributes or lines (skipped).
    pub errors: u64,
    /// Objects of other types (STIX), comments and blank lines are not counted anywhere.
    /// The first items behind the counts above.
    pub items: Vec<ReportItem>,
    /// Items not listed because of the cap.
    pub items_omitted: u64,
    /// A problem that stopped the file before its end (unreadable, not JSON, cut short).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportItem {
    /// Where: `line 12`, `indicator--...`, `objects[3]`, `event <uuid> attribute <uuid>`.
    pub position: String,
    /// `error`, `unsupported`, `undecidable` or `partial`.
    pub reason: String,
    /// Lowercase, no trailing period.
    pub detail: String,
    /// The pattern or value concerned, when there is one (at most 300 bytes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
}

/// Why an indicator was not (fully) loaded.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Reason {
    Error,
    Unsupported,
    Undecidable,
    Partial,
}

impl Reason {
    fn as_str(self) -> &'static str {
        match self {
            Reason::Error => "error",
            Reason::Unsupported => "unsupported",
            Reason::Undecidable => "undecidable",
            Reason::Partial => "partial",
        }
    }
}

impl FileReport {
    pub fn new(path: &str, format: &str) -> FileReport {
        FileReport {
            path: path.to_string(),
            format: format.to_string(),
            ..FileReport::default()
        }
    }

    /// Counts one item under `reason` and lists it while under the cap. For `Undecidable`,
    /// `detail` is the kind (`file:hashes`, `ja3-fingerprint-md5`, ...).
    pub fn note(&mut self, reason: Reason, position: String, detail: &str, text: Option<&str>) {
        match reason {
            Reason::Error => self.errors += 1,
            Reason::Unsupported => self.unsupported += 1,
            Reason::Undecidable => {
                self.undecidable += 1;
                *self
                    .undecidable_kinds
                    .entry(detail.to_string())
                    .or_default() += 1;
            }
            Reason::Partial => self.partial += 1,
        }
        if self.items.len() < MAX_ITEMS {
            self.items.push(ReportItem {
                position,
                reason: reason.as_str().to_string(),
                detail: clip(detail, 300).to_string(),
                text: text.map(|t| clip(t, 300).to_string()),
            });
        } else {
            self.items_omitted += 1;
        }
    }

    /// Indicators of this file that were not loaded.
    pub fn not_loaded(&self) -> u64 {
        self.revoked + self.not_to_ids + self.undecidable + self.unsupported + self.errors
    }
}

impl LoadReport {
    pub fn push(&mut self, f: FileReport) {
        self.loaded += f.loaded;
        self.not_loaded += f.not_loaded();
        self.files.push(f);
    }

    /// True when some file could not be read or had malformed content.
    pub fn has_errors(&self) -> bool {
        self.files.iter().any(|f| f.error.is_some() || f.errors > 0)
    }
}

pub(crate) fn clip(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut i = max;
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    &s[..i]
}

impl fmt::Display for LoadReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "indicators: {} loaded, {} not loaded, from {} file{}",
            self.loaded,
            self.not_loaded,
            self.files.len(),
            if self.files.len() == 1 { "" } else { "s" }
        )?;
        for r in &self.files {
            write!(f, "  {} ({}): {} loaded", r.path, r.format, r.loaded)?;
            for (n, what) in [
                (r.partial, "partly loaded"),
                (r.revoked, "revoked"),
                (r.not_to_ids, "not for detection (to_ids false)"),
                (r.undecidable, "not decidable from network telemetry"),
                (r.unsupported, "unsupported"),
                (r.errors, "malformed"),
            ] {
                if n > 0 {
                    write!(f, ", {n} {what}")?;
                }
            }
            writeln!(f)?;
            if let Some(e) = &r.error {
                writeln!(f, "    error: {e}")?;
            }
            if !r.undecidable_kinds.is_empty() {
                let kinds: Vec<String> = r
                    .undecidable_kinds
                    .iter()
                    .map(|(k, n)| format!("{k} {n}"))
                    .collect();
                writeln!(f, "    undecidable kinds: {}", kinds.join(", "))?;
            }
            for it in &r.items {
                write!(f, "    {} {}: {}", it.reason, it.position, it.detail)?;
                match &it.text {
                    Some(t) => writeln!(f, ": {t}")?,
                    None => writeln!(f)?,
                }
            }
            if r.items_omitted > 0 {
                writeln!(f, "    ... and {} more", r.items_omitted)?;
            }
        }
        Ok(())
    }
}
