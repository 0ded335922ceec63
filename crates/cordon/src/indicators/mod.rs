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
use std::collections::HashSet;
use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// File extensions read when walking a folder (a file named explicitly is always read).
const EXTENSIONS: &[&str] = &["json", "stix", "csv", "tsv", "txt", "list", "ioc"];
/// Folder depth followed when walking.
const MAX_DEPTH: usize = 16;
/// Largest indicator file read, in MiB: a bigger one (or a device that never ends) is
/// refused with an error for that file instead of exhausting memory.
pub const MAX_FILE_MIB: u64 = 256;

/// Collects indicator files into one set.
#[derive(Default)]
pub struct Loader {
    builder: Builder,
    report: LoadReport,
    /// (device, inode) of every folder walked and file read: a symlink loop (`loop -> .`)
    /// or a file reached by two names is walked or loaded once.
    seen: HashSet<(u64, u64)>,
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
    ///
    /// Inside a folder only regular files are read (after following links): a FIFO, socket
    /// or device there is reported as an error for that entry and the walk goes on. A folder
    /// or file already walked or loaded by this loader (a symlink loop, two names for one
    /// file) is skipped.
    pub fn load_path(&mut self, path: &Path) {
        self.load_path_at(path, 0);
    }

    /// Whether the object behind `m` was seen before (and marks it seen).
    fn seen_before(&mut self, m: &std::fs::Metadata) -> bool {
        !self.seen.insert((m.dev(), m.ino()))
    }

    fn load_path_at(&mut self, path: &Path, depth: usize) {
        let meta = std::fs::metadata(path);
        if !meta.as_ref().is_ok_and(|m| m.is_dir()) {
            // Named explicitly or found in a folder: only a regular file is read. A FIFO
            // (or `--indicators <(...)`) would block until a writer came, and a device
            // might never end; write the feed to a file first.
            return self.load_file(path);
        }
        let shown = path.display().to_string();
        if meta.as_ref().is_ok_and(|m| self.seen_before(m)) {
            return;
        }
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
                self.load_entry(&e);
            }
        }
    }

    fn load_feed(&mut self, dir: &Path, manifest: &Path) {
        let mut r = FileReport::new(&manifest.display().to_string(), "misp-feed");
        let uuids = read_capped(manifest).and_then(|b| misp::manifest_uuids(&b));
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
            self.load_entry(&p);
        }
    }

    /// A file found in a folder: loaded only if it is a regular file (checked before it is
    /// opened: opening a FIFO blocks until a writer comes).
    fn load_entry(&mut self, path: &Path) {
        let shown = path.display().to_string();
        let err = match std::fs::metadata(path) {
            Ok(m) if m.is_file() => {
                if self.seen_before(&m) {
                    return;
                }
                return self.load_checked(path);
            }
            Ok(m) => format!("not a regular file ({})", kind(&m.file_type())),
            Err(e) => format!("cannot read: {e}"),
        };
        let mut r = FileReport::new(&shown, "unknown");
        r.error = Some(err);
        self.report.push(r);
    }

    /// Loads one file, detecting its format by content. Only regular files are read (a
    /// FIFO or a device is refused with an error in the report, before it is opened), and
    /// files larger than [`MAX_FILE_MIB`] are refused.
    pub fn load_file(&mut self, path: &Path) {
        self.load_entry(path);
    }

    fn load_checked(&mut self, path: &Path) {
        let shown = path.display().to_string();
        match read_capped(path) {
            Ok(bytes) => self.load_bytes(&shown, &bytes),
            Err(e) => {
                let mut r = FileReport::new(&shown, "unknown");
                r.error = Some(e);
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

/// What a non-regular file is, for the error.
fn kind(t: &std::fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    if t.is_fifo() {
        "a fifo"
    } else if t.is_socket() {
        "a socket"
    } else if t.is_char_device() {
        "a character device"
    } else if t.is_block_device() {
        "a block device"
    } else if t.is_dir() {
        "a folder"
    } else {
        "not a file"
    }
}

/// Reads a whole regular file of at most [`MAX_FILE_MIB`]. The opened file is
/// checked again (it may have been replaced since the caller looked).
fn read_capped(path: &Path) -> Result<Vec<u8>, String> {
    let cap = MAX_FILE_MIB * 1024 * 1024;
    let too_big = || format!("larger than {MAX_FILE_MIB} MiB");
    let f = std::fs::File::open(path).map_err(|e| format!("cannot read: {e}"))?;
    let m = f.metadata().map_err(|e| format!("cannot read: {e}"))?;
    if !m.is_file() {
        return Err(format!("not a regular file ({})", kind(&m.file_type())));
    }
    if m.len() > cap {
        return Err(too_big());
    }
    let mut bytes = Vec::with_capacity(m.len() as usize);
    f.take(cap + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot read: {e}"))?;
    if bytes.len() as u64 > cap {
        return Err(too_big());
    }
    Ok(bytes)
}
