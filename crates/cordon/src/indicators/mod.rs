//! Threat indicators: loaded from STIX 2.1 bundles, MISP events and feeds, and plain lists;
//! matched against every observation of a scan.
//!
//! ```text
//! files ─▶ Loader ─▶ (IndicatorSet, LoadReport)      once, before the scan
//! Observation ─▶ Matcher::observe ─▶ Matcher::finish ─▶ Vec<IndicatorMatch>
//! ```
//!
//! - [`pattern`]: the STIX pattern parser (the subset telemetry can decide, the rest named),
//! - [`values`]: values to match keys, patterns to keys, times,
//! - [`stix`], [`misp`], [`list`]: the three input families,
//! - [`set`]: the frozen, compact index,
//! - [`matcher`]: per-observation matching and per-(asset, indicator) aggregation,
//! - [`report`]: what was loaded and what was not, and why.
//!
//! **Loading never fails as a whole**: a file that cannot be read, a malformed object or
//! line is reported in the [`LoadReport`] with its position and the rest loads.

pub mod cmd;
pub mod list;
pub mod matcher;
pub mod misp;
pub mod pattern;
pub mod report;
pub mod set;
pub mod stix;
pub mod values;

pub use matcher::{MatchStats, Matcher};
pub use report::{FileReport, LoadReport};
pub use set::{IndicatorSet, SourceFormat};

use set::Builder;
use std::path::{Path, PathBuf};

/// File extensions read when walking a folder (a file named explicitly is always read).
const EXTENSIONS: &[&str] = &["json", "stix", "csv", "tsv", "txt", "list", "ioc"];
/// Folder depth followed when walking.
const MAX_DEPTH: usize = 16;

/// Collects indicator files into one set.
#[derive(Default)]
pub struct Loader {
    builder: Builder,
    report: LoadReport,
}

/// Loads every file and folder in `paths` (see [`Loader::load_path`]).
pub fn load(paths: &[PathBuf]) -> (IndicatorSet, LoadReport) {
    let mut l = Loader::default();
    for p in paths {
        l.load_path(p);
    }
    l.finish()
}

/// What a file holds, judged from its first bytes.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Detected {
    Stix,
    Misp,
    List,
    /// JSON that is neither.
    OtherJson,
}

/// Detects the format by content: JSON with an `Event` is MISP, JSON with STIX keys is STIX,
/// anything else is a list.
pub fn detect(bytes: &[u8]) -> Detected {
    let head = &bytes[..bytes.len().min(64 * 1024)];
    let first = head
        .iter()
        .find(|b| !b.is_ascii_whitespace() && **b != 0xef && **b != 0xbb && **b != 0xbf);
    if !matches!(first, Some(b'{' | b'[')) {
        return Detected::List;
    }
    let has = |needle: &[u8]| head.windows(needle.len()).any(|w| w == needle);
    if has(b"\"Event\"") || has(b"\"Attribute\"") {
        Detected::Misp
    } else if has(b"\"objects\"") || has(b"\"pattern\"") || has(b"\"spec_version\"") {
        Detected::Stix
    } else {
        Detected::OtherJson
    }
}

impl Loader {
    /// Loads a file, or walks a folder: a folder with a `manifest.json` is a MISP feed (its
    /// listed events are loaded); otherwise files with indicator extensions are loaded and
    /// sub-folders walked, in name order.
    pub fn load_path(&mut self, path: &Path) {
        self.load_path_at(path, 0);
    }

    fn load_path_at(&mut self, path: &Path, depth: usize) {
        if !path.is_dir() {
            return self.load_file(path);
        }
        let shown = path.display().to_string();
        if depth > MAX_DEPTH {
            let mut r = FileReport::new(&shown, "folder");
            r.error = Some(format!("folders nested deeper than {MAX_DEPTH}"));
            return self.report.push(r);
        }
        let manifest = path.join("manifest.json");
        if manifest.is_file() {
            return self.load_feed(path, &manifest);
        }
        let mut entries: Vec<PathBuf> = match std::fs::read_dir(path) {
            Ok(rd) => rd.filter_map(|e| e.ok().map(|e| e.path())).collect(),
            Err(e) => {
                let mut r = FileReport::new(&shown, "folder");
                r.error = Some(format!("cannot read folder: {e}"));
                return self.report.push(r);
            }
        };
        entries.sort();
        for e in entries {
            let hidden = e
                .file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with('.'));
            if hidden {
                continue;
            }
            if e.is_dir() {
                self.load_path_at(&e, depth + 1);
            } else if e.extension().is_some_and(|x| {
                EXTENSIONS.contains(&x.to_string_lossy().to_ascii_lowercase().as_str())
            }) {
                self.load_file(&e);
            }
        }
    }

    fn load_feed(&mut self, dir: &Path, manifest: &Path) {
        let mut r = FileReport::new(&manifest.display().to_string(), "misp-feed");
        let uuids = std::fs::read(manifest)
            .map_err(|e| format!("cannot read: {e}"))
            .and_then(|b| misp::manifest_uuids(&b));
        let (uuids, bad) = match uuids {
            Ok(u) => u,
            Err(e) => {
                r.error = Some(e);
                return self.report.push(r);
            }
        };
        if bad > 0 {
            r.note(
                report::Reason::Error,
                "manifest".into(),
                &format!("{bad} keys are not event uuids (not followed)"),
                None,
            );
        }
        let mut events = Vec::new();
        for u in uuids {
            let p = dir.join(format!("{u}.json"));
            if p.is_file() {
                events.push(p);
            } else {
                r.note(
                    report::Reason::Error,
                    format!("event {u}"),
                    "event listed in the manifest has no file",
                    None,
                );
            }
        }
        self.report.push(r);
        for p in events {
            self.load_file(&p);
        }
    }

    /// Loads one file, detecting its format by content.
    pub fn load_file(&mut self, path: &Path) {
        let shown = path.display().to_string();
        match std::fs::read(path) {
            Ok(bytes) => self.load_bytes(&shown, &bytes),
            Err(e) => {
                let mut r = FileReport::new(&shown, "unknown");
                r.error = Some(format!("cannot read: {e}"));
                self.report.push(r);
            }
        }
    }

    /// Loads indicators from `bytes`, reported under `name`.
    pub fn load_bytes(&mut self, name: &str, bytes: &[u8]) {
        let (format, fmt_name) = match detect(bytes) {
            Detected::Stix => (SourceFormat::Stix, "stix"),
            Detected::Misp => (SourceFormat::Misp, "misp"),
            Detected::List => (SourceFormat::List, "list"),
            Detected::OtherJson => {
                let mut r = FileReport::new(name, "unknown");
                r.error = Some("json that is neither a stix bundle nor a misp event".into());
                return self.report.push(r);
            }
        };
        let mut r = FileReport::new(name, fmt_name);
        let src = self.builder.source(name, format);
        match format {
            SourceFormat::Stix => stix::load(bytes, src, &mut self.builder, &mut r),
            SourceFormat::Misp => misp::load(bytes, src, &mut self.builder, &mut r),
            SourceFormat::List => list::load(bytes, src, &mut self.builder, &mut r),
        }
        self.report.push(r);
    }

    /// Freezes the index.
    pub fn finish(self) -> (IndicatorSet, LoadReport) {
        (self.builder.freeze(), self.report)
    }
}
