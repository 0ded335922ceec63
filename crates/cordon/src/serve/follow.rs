//! Log followers: Zeek log folders and Suricata's eve.json, read as they grow.
//!
//! A [`Follower`] is synchronous and poll-driven: the daemon calls [`Follower::poll`] from a
//! blocking thread every `poll_ms`, and each call reads every complete new line of every
//! followed file, hands it to the Zeek or EVE decoder of cordon-wire, and says what it read
//! in [`PollStats`]. [`Follower::state`] is the position after everything handed to sinks
//! so far; the daemon stores it in the same transaction as the data derived from it.
//!
//! **Guarantees:**
//! - **a line is handed to the decoder once, and only when complete** (ended by a newline);
//!   a partial last line waits for its end;
//! - **resuming from a [`FollowState`] reads nothing twice and skips nothing** in the files
//!   still there: a file is continued at the stored offset only if the path names the same
//!   `(dev, ino)` and its first bytes have the same fingerprint; otherwise it is new, read from
//!   0, and the old file's unreachable tail is counted ([`PollStats::lost`]);
//! - **rotation** (the name now names another inode, or nothing): the old file is read to
//!   its end through the handle still open, then dropped once it stays idle; the new file is
//!   read from 0; a file renamed inside a followed folder (Zeek's `conn.log` →
//!   `conn.<date>.log`) is followed under its new name, never read again;
//! - **truncation** (size below the offset, or different first bytes: copytruncate) restarts
//!   the file at 0 and is counted;
//! - **bounded**: at most [`Limits::max_files`] files, about [`Limits::poll_bytes`] bytes per
//!   file per poll (the rest next poll), lines longer than [`Limits::max_line`] skipped with a
//!   `limit` anomaly without being held;
//! - **never blocks, never panics**: only regular files are opened (non-blocking, checked
//!   after opening, so a FIFO swapped in cannot hang a poll); I/O problems are
//!   [`FollowError`] values naming the file and offset, each reported once while it lasts.
//!
//! Anomaly offsets are offsets in the followed file. A Zeek TSV header (`#separator`,
//! `#fields`, ...) is kept per file; the state records where its lines are, and a resumed
//! follower reads them again from the file. In a folder, only files whose content is a Zeek
//! log are decoded (zeekctl's `stderr.log` and `stdout.log` are not).

use cordon_wire::detect::{self, Format};
use cordon_wire::zeek::{self, Header};
use cordon_wire::{Anomaly, AnomalyKind, DecodeStats, Observation, Sink};
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use std::fmt;
use std::fs::{File, OpenOptions};
use std::io;
use std::net::IpAddr;
use std::os::unix::fs::{FileExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// Most files a follower follows at once; further files wait for room (and are counted).
pub const MAX_FILES: usize = 256;
/// Bytes read from one file in one poll, about: the rest is read next poll.
pub const POLL_BYTES: usize = 8 << 20;
/// Longest line held: longer lines are skipped with a `limit` anomaly (the decoders refuse
/// lines over 1 MiB anyway).
pub const MAX_LINE: usize = crate::scan::source::MAX_CARRIED_LINE;
/// How many first bytes of a file its fingerprint covers.
const FINGERPRINT_LEN: usize = 1024;
/// How many first bytes are sniffed to tell a Zeek log from other files in the folder.
const SNIFF_LEN: usize = 64 * 1024;
/// A rotated file is dropped after this many polls in which it gained nothing (a writer may
/// still append to it between the rename and its reopening).
const GONE_IDLE_POLLS: u32 = 3;
/// Runs of Zeek `#` lines kept per file, and the longest run kept: caps against a file made
/// of header lines.
const MAX_HEADER_RUNS: usize = 16;
const MAX_HEADER_RUN: usize = 4 << 20;

/// What a follower reads.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A Zeek log folder (every `*.log` in it) or one Zeek log, TSV or JSON.
    Zeek,
    /// Suricata's eve.json (or every `*.json` of a folder).
    Eve,
}

/// The caps of a follower; [`Limits::default`] holds the named constants.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Most files followed at once.
    pub max_files: usize,
    /// Bytes read from one file per poll, about (a single line may take up to `max_line`).
    pub poll_bytes: usize,
    /// Longest line handed to a decoder.
    pub max_line: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_files: MAX_FILES,
            poll_bytes: POLL_BYTES,
            max_line: MAX_LINE,
        }
    }
}

/// Where a follower is: what the daemon persists and gives back to [`Follower::new`].
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FollowState {
    /// One entry per followed file (rotated files still being read included).
    pub files: Vec<FileState>,
}

/// Where a follower is in one file.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileState {
    /// The file's name in the followed folder (or the followed file's own name).
    pub name: String,
    /// The file's device and inode: which file the offset is in.
    pub dev: u64,
    pub ino: u64,
    /// The offset after the last line handed to sinks (or skipped).
    pub offset: u64,
    /// FNV-1a 64 of the first `fingerprint_len` bytes (at most 1 KiB): tells a file from
    /// another that got the same inode, or from its own truncated and rewritten self.
    pub fingerprint: u64,
    pub fingerprint_len: u32,
    /// Zeek TSV: where the runs of `#` lines that make the header in force are, as
    /// `(offset, length)`; read again from the file on resume.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub header: Vec<(u64, u32)>,
    /// The offset is inside a line longer than the cap, already reported: skip to its end.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub skipping: bool,
}

/// A problem with one file (or the followed folder), as a value: the follower goes on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FollowError {
    pub path: PathBuf,
    /// The offset in the file the problem is at (0 when it is about the whole file).
    pub offset: u64,
    /// Lowercase, no trailing period.
    pub message: String,
}

impl fmt::Display for FollowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: offset {}: {}",
            self.path.display(),
            self.offset,
            self.message
        )
    }
}

impl std::error::Error for FollowError {}

/// What one poll did.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PollStats {
    /// Complete lines consumed (handed to a decoder, or skipped as too long).
    pub lines: u64,
    /// Bytes consumed.
    pub bytes: u64,
    /// Files followed after this poll (rotated files still being read included).
    pub files: u64,
    /// Files seen rotated: their name now names another file, or none.
    pub rotations: u64,
    /// Files seen truncated (or rewritten from the start): read again from 0.
    pub truncations: u64,
    /// Files of the resumed state that were rotated away while the follower was stopped:
    /// whatever they gained after the stored offset could not be read.
    pub lost: u64,
    /// Files not followed for now: more than [`Limits::max_files`].
    pub over_cap: u64,
    /// Files of a Zeek folder that are not Zeek logs (followed, not decoded).
    pub ignored: u64,
    /// Some file has more to read than this poll's budget: poll again soon.
    pub more: bool,
    /// What the decoders said, over every file.
    pub decode: DecodeStats,
    /// Problems, each reported once while it lasts.
    pub errors: Vec<FollowError>,
}

/// Follows a Zeek log folder or an eve.json; see the module documentation.
pub struct Follower {
    root: PathBuf,
    kind: Kind,
    /// Whether `root` is a folder whose files are followed, or the one file followed.
    folder: bool,
    limits: Limits,
    files: Vec<Tracked>,
    /// The state to resume from, applied at the first poll.
    resume: Option<FollowState>,
    /// Problems reported at the last poll: not reported again while they last.
    reported: HashSet<String>,
    buf: Vec<u8>,
}

/// One followed file.
struct Tracked {
    name: String,
    file: File,
    dev: u64,
    ino: u64,
    offset: u64,
    fingerprint: u64,
    fingerprint_len: u32,
    header: HeaderTrack,
    skipping: bool,
    /// Whether its content is decoded: `None` until a Zeek folder's file is sniffed.
    decode: Option<bool>,
    /// Its name no longer names it (rotated or removed): polls since it last gained bytes.
    gone: Option<u32>,
}

/// A file found at a poll.
struct Entry {
    name: String,
    dev: u64,
    ino: u64,
}

impl Follower {
    /// A follower of `path`: a folder (its `*.log` files for Zeek, `*.json` for EVE, not
    /// recursive) or a file. A path that does not exist yet is a folder for Zeek and a file
    /// for EVE. With `resume`, files are continued where that state says (see the module
    /// documentation); without it, every file is read from its start.
    pub fn new(path: &Path, kind: Kind, resume: Option<FollowState>) -> Follower {
        let folder = match std::fs::metadata(path) {
            Ok(m) => m.is_dir(),
            Err(_) => kind == Kind::Zeek,
        };
        Follower {
            root: path.to_path_buf(),
            kind,
            folder,
            limits: Limits::default(),
            files: Vec::new(),
            resume,
            reported: HashSet::new(),
            buf: Vec::new(),
        }
    }

    /// The same follower with other caps.
    pub fn with_limits(mut self, limits: Limits) -> Follower {
        self.limits = Limits {
            max_files: limits.max_files.max(1),
            poll_bytes: limits.poll_bytes.max(1),
            max_line: limits.max_line.max(1),
        };
        self
    }

    /// Reads every complete new line of every followed file (up to the caps), decodes them
    /// into `sink`, and says what it read.
    pub fn poll(&mut self, sink: &mut dyn Sink) -> PollStats {
        let mut st = PollStats::default();
        let mut rep = Reporter {
            before: std::mem::take(&mut self.reported),
            now: HashSet::new(),
            errors: Vec::new(),
        };
        let listing = self.list(&mut rep);
        if let Some(state) = self.resume.take() {
            self.apply_resume(state, &listing, &mut st, &mut rep);
        }
        // Rotations and renames: match the followed files to what the names now name.
        for t in &mut self.files {
            match listing.iter().find(|e| (e.dev, e.ino) == (t.dev, t.ino)) {
                Some(e) => {
                    if e.name != t.name {
                        st.rotations += 1;
                        t.name = e.name.clone();
                    }
                    t.gone = None;
                }
                None if t.gone.is_none() => {
                    st.rotations += 1;
                    t.gone = Some(0);
                }
                None => {}
            }
        }
        // New files.
        for e in &listing {
            if self.files.iter().any(|t| (t.dev, t.ino) == (e.dev, e.ino)) {
                continue;
            }
            if self.files.len() >= self.limits.max_files {
                st.over_cap += 1;
                let path = self.path_of(&e.name);
                rep.note(
                    format!("cap\0{}", e.name),
                    &path,
                    0,
                    format!(
                        "not followed: more than {} files followed",
                        self.limits.max_files
                    ),
                );
                continue;
            }
            let path = self.path_of(&e.name);
            match open_regular(&path) {
                Ok((file, dev, ino)) if (dev, ino) == (e.dev, e.ino) => {
                    self.files
                        .push(Tracked::new(e.name.clone(), file, dev, ino));
                }
                // Replaced between the listing and the opening: the next poll sees it.
                Ok(_) => {}
                Err(msg) => rep.note(format!("open\0{}", e.name), &path, 0, msg),
            }
        }
        // Older data first: rotated files, then by name.
        self.files
            .sort_by(|a, b| (a.gone.is_none(), &a.name).cmp(&(b.gone.is_none(), &b.name)));
        let ctx = Ctx {
            kind: self.kind,
            sniff: self.folder && self.kind == Kind::Zeek,
            limits: self.limits,
        };
        let mut i = 0;
        while i < self.files.len() {
            let path = self.path_of(&self.files[i].name);
            let t = &mut self.files[i];
            let progressed = read_file(t, &ctx, &path, &mut self.buf, sink, &mut st, &mut rep);
            let drop = match &mut t.gone {
                Some(idle) if !progressed => {
                    *idle += 1;
                    *idle >= GONE_IDLE_POLLS
                }
                Some(idle) => {
                    *idle = 0;
                    false
                }
                None => false,
            };
            if drop {
                // The writer has moved on: a last line without its newline is final.
                flush_tail(t, &ctx, &path, &mut self.buf, sink, &mut st, &mut rep);
                self.files.remove(i);
            } else {
                i += 1;
            }
        }
        if self.buf.len() > self.limits.poll_bytes.max(SNIFF_LEN) {
            // A long line made it grow: give the memory back.
            self.buf = Vec::new();
        }
        st.files = self.files.len() as u64;
        st.ignored = self
            .files
            .iter()
            .filter(|t| t.decode == Some(false))
            .count() as u64;
        self.reported = rep.now;
        st.errors = rep.errors;
        st
    }

    /// The position after everything handed to sinks so far.
    pub fn state(&self) -> FollowState {
        if let Some(s) = &self.resume {
            return s.clone();
        }
        FollowState {
            files: self
                .files
                .iter()
                .map(|t| FileState {
                    name: t.name.clone(),
                    dev: t.dev,
                    ino: t.ino,
                    offset: t.offset,
                    fingerprint: t.fingerprint,
                    fingerprint_len: t.fingerprint_len,
                    header: t
                        .header
                        .runs
                        .iter()
                        .map(|(o, b)| (*o, b.len() as u32))
                        .collect(),
                    skipping: t.skipping,
                })
                .collect(),
        }
    }

    fn path_of(&self, name: &str) -> PathBuf {
        if self.folder {
            self.root.join(name)
        } else {
            self.root.clone()
        }
    }

    /// The regular files the followed path names now, sorted by name.
    fn list(&self, rep: &mut Reporter) -> Vec<Entry> {
        let mut out = Vec::new();
        if !self.folder {
            let name = self
                .root
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            match std::fs::metadata(&self.root) {
                Ok(m) if m.is_file() => out.push(Entry {
                    name,
                    dev: m.dev(),
                    ino: m.ino(),
                }),
                Ok(_) => rep.note("root".into(), &self.root, 0, "not a regular file".into()),
                // Not there yet, or between a rotation and the new file: quietly wait.
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => rep.note("root".into(), &self.root, 0, format!("cannot read: {e}")),
            }
            return out;
        }
        let dir = match std::fs::read_dir(&self.root) {
            Ok(d) => d,
            Err(e) => {
                rep.note(
                    "root".into(),
                    &self.root,
                    0,
                    format!("cannot list the folder: {e}"),
                );
                return out;
            }
        };
        let ext = match self.kind {
            Kind::Zeek => ".log",
            Kind::Eve => ".json",
        };
        for entry in dir.flatten() {
            let Ok(name) = entry.file_name().into_string() else {
                continue;
            };
            if name.starts_with('.') || !name.ends_with(ext) {
                continue;
            }
            let path = self.root.join(&name);
            match std::fs::metadata(&path) {
                Ok(m) if m.is_file() => out.push(Entry {
                    name,
                    dev: m.dev(),
                    ino: m.ino(),
                }),
                Ok(_) => rep.note(
                    format!("regular\0{name}"),
                    &path,
                    0,
                    "not a regular file: not followed".into(),
                ),
                Err(_) => {}
            }
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        out
    }

    /// Continues the files of `state` that are still there, the same files.
    fn apply_resume(
        &mut self,
        state: FollowState,
        listing: &[Entry],
        st: &mut PollStats,
        rep: &mut Reporter,
    ) {
        for fs in state.files {
            if self.files.len() >= self.limits.max_files {
                break;
            }
            if self
                .files
                .iter()
                .any(|t| (t.dev, t.ino) == (fs.dev, fs.ino))
            {
                continue;
            }
            let old = self.path_of(&fs.name);
            let lost = |st: &mut PollStats, rep: &mut Reporter, why: &str| {
                st.lost += 1;
                rep.errors.push(FollowError {
                    path: old.clone(),
                    offset: fs.offset,
                    message: format!(
                        "{why} while the follower was stopped: what it gained after this offset was not read"
                    ),
                });
            };
            let Some(e) = listing.iter().find(|e| (e.dev, e.ino) == (fs.dev, fs.ino)) else {
                lost(st, rep, "rotated away");
                continue;
            };
            let path = self.path_of(&e.name);
            let Ok((file, dev, ino)) = open_regular(&path) else {
                lost(st, rep, "rotated away");
                continue;
            };
            if (dev, ino) != (fs.dev, fs.ino) {
                lost(st, rep, "rotated away");
                continue;
            }
            let size = file.metadata().map(|m| m.len()).unwrap_or(0);
            let mut t = Tracked::new(e.name.clone(), file, dev, ino);
            let n = fs.fingerprint_len as usize;
            let same = n == 0
                || (n <= FINGERPRINT_LEN
                    && read_full(&t.file, &mut self.buf, 0, n).is_ok_and(|got| got == n)
                    && fnv1a(&self.buf[..n]) == fs.fingerprint);
            if !same {
                // The inode was given to another file.
                lost(st, rep, "replaced");
                self.files.push(t);
                continue;
            }
            if e.name != fs.name {
                st.rotations += 1;
            }
            if size < fs.offset {
                st.truncations += 1;
                self.files.push(t);
                continue;
            }
            t.offset = fs.offset;
            t.fingerprint = fs.fingerprint;
            t.fingerprint_len = fs.fingerprint_len;
            t.skipping = fs.skipping;
            for (off, len) in fs.header {
                let len = len as usize;
                if len > MAX_HEADER_RUN || off.saturating_add(len as u64) > fs.offset {
                    continue;
                }
                if read_full(&t.file, &mut self.buf, off, len).is_ok_and(|got| got == len) {
                    t.header.runs.push((off, self.buf[..len].to_vec()));
                }
            }
            t.header.reparse();
            self.files.push(t);
        }
    }
}

impl Tracked {
    fn new(name: String, file: File, dev: u64, ino: u64) -> Tracked {
        Tracked {
            name,
            file,
            dev,
            ino,
            offset: 0,
            fingerprint: 0,
            fingerprint_len: 0,
            header: HeaderTrack::default(),
            skipping: false,
            decode: None,
            gone: None,
        }
    }

    /// Back to the start of the file: it was truncated or rewritten.
    fn restart(&mut self) {
        self.offset = 0;
        self.fingerprint = 0;
        self.fingerprint_len = 0;
        self.header = HeaderTrack::default();
        self.skipping = false;
        self.decode = None;
    }
}

/// What reading needs to know about the follower.
struct Ctx {
    kind: Kind,
    /// Whether files must be sniffed before being decoded (a Zeek folder).
    sniff: bool,
    limits: Limits,
}

/// Collects the errors of one poll, each reported once while it lasts.
struct Reporter {
    before: HashSet<String>,
    now: HashSet<String>,
    errors: Vec<FollowError>,
}

impl Reporter {
    fn note(&mut self, key: String, path: &Path, offset: u64, message: String) {
        if !self.before.contains(&key) && !self.now.contains(&key) {
            self.errors.push(FollowError {
                path: path.to_path_buf(),
                offset,
                message,
            });
        }
        self.now.insert(key);
    }
}

/// Opens a regular file without blocking: a FIFO swapped in after the listing is refused
/// after opening (non-blocking opens of FIFOs return at once).
fn open_regular(path: &Path) -> Result<(File, u64, u64), String> {
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
        .map_err(|e| format!("cannot open: {e}"))?;
    let m = file.metadata().map_err(|e| format!("cannot read: {e}"))?;
    if !m.is_file() {
        return Err("not a regular file: not followed".into());
    }
    Ok((file, m.dev(), m.ino()))
}

/// Reads up to `n` bytes at `off` into `buf[..n]`, growing `buf` if needed. Returns how many
/// bytes were read (fewer at the end of the file).
fn read_full(file: &File, buf: &mut Vec<u8>, off: u64, n: usize) -> io::Result<usize> {
    if buf.len() < n {
        buf.resize(n, 0);
    }
    let mut got = 0;
    while got < n {
        match file.read_at(&mut buf[got..n], off + got as u64) {
            Ok(0) => break,
            Ok(k) => got += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}

/// FNV-1a, 64 bits: stable across versions and runs, unlike the hashers of hash maps.
fn fnv1a(data: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in data {
        h ^= b as u64;
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// Reads what one file gained since the last poll, within the budget. Returns whether it
/// consumed anything.
fn read_file(
    t: &mut Tracked,
    ctx: &Ctx,
    path: &Path,
    buf: &mut Vec<u8>,
    sink: &mut dyn Sink,
    st: &mut PollStats,
    rep: &mut Reporter,
) -> bool {
    let size = match t.file.metadata() {
        Ok(m) => m.len(),
        Err(e) => {
            rep.note(
                format!("stat\0{}", t.name),
                path,
                t.offset,
                format!("cannot read: {e}"),
            );
            return false;
        }
    };
    // Truncated, or rewritten from the start (copytruncate, then new lines past the offset).
    let head = FINGERPRINT_LEN.min(size as usize);
    let got = match read_full(&t.file, buf, 0, head) {
        Ok(n) => n,
        Err(e) => {
            rep.note(
                format!("read\0{}", t.name),
                path,
                0,
                format!("cannot read: {e}"),
            );
            return false;
        }
    };
    let old = t.fingerprint_len as usize;
    if size < t.offset || (old > 0 && (got < old || fnv1a(&buf[..old]) != t.fingerprint)) {
        st.truncations += 1;
        t.restart();
    }
    if got > t.fingerprint_len as usize {
        t.fingerprint = fnv1a(&buf[..got]);
        t.fingerprint_len = got as u32;
    }
    if t.decode.is_none() {
        if !ctx.sniff {
            t.decode = Some(true);
        } else {
            let n = SNIFF_LEN.min(size as usize);
            let Ok(n) = read_full(&t.file, buf, 0, n) else {
                return false;
            };
            let head = &buf[..n];
            if n == SNIFF_LEN || memchr::memchr(b'\n', head).is_some() {
                t.decode = Some(matches!(
                    detect::detect(head),
                    Format::ZeekTsv | Format::ZeekJson
                ));
            } else {
                // Not one complete line yet: decide when there is.
                return false;
            }
        }
    }
    if t.decode == Some(false) {
        // Followed (so a rotation is seen) but not decoded: nothing to consume.
        return false;
    }
    let start = t.offset;
    let mut budget = ctx.limits.poll_bytes;
    let max_line = ctx.limits.max_line;
    let key = format!("read\0{}", t.name);
    let read_err = |rep: &mut Reporter, off: u64, e: io::Error| {
        rep.note(key.clone(), path, off, format!("cannot read: {e}"));
    };
    while t.offset < size && budget > 0 {
        let avail = (size - t.offset).min(usize::MAX as u64) as usize;
        if t.skipping {
            // Inside a line too long to hold: look for its end, reading within the budget.
            let want = avail.min(budget);
            let n = match read_full(&t.file, buf, t.offset, want) {
                Ok(n) if n > 0 => n,
                Ok(_) => break,
                Err(e) => {
                    read_err(rep, t.offset, e);
                    break;
                }
            };
            budget -= n;
            match memchr::memchr(b'\n', &buf[..n]) {
                Some(i) => {
                    t.offset += i as u64 + 1;
                    t.skipping = false;
                    st.lines += 1;
                    st.bytes += i as u64 + 1;
                }
                None => {
                    t.offset += n as u64;
                    st.bytes += n as u64;
                }
            }
            continue;
        }
        let want = avail.min(budget);
        let n = match read_full(&t.file, buf, t.offset, want) {
            Ok(n) if n > 0 => n,
            Ok(_) => break,
            Err(e) => {
                read_err(rep, t.offset, e);
                break;
            }
        };
        if let Some(i) = memchr::memrchr(b'\n', &buf[..n]) {
            let base = t.offset;
            consume(t, ctx, &buf[..=i], base, sink, st);
            // What follows is a partial line (or the budget ended): next poll. When the
            // budget cut the read short, there is more to read at once.
            if want < avail {
                st.more = true;
            }
            break;
        }
        // No newline in what the budget allows: one line, longer than the budget. Read on
        // to its end, up to the line cap.
        let cap = (max_line + 1).min(avail);
        let n = if cap > n {
            match read_full(&t.file, buf, t.offset, cap) {
                Ok(n) => n,
                Err(e) => {
                    read_err(rep, t.offset, e);
                    break;
                }
            }
        } else {
            n
        };
        match memchr::memchr(b'\n', &buf[..n]) {
            Some(i) if i <= max_line => {
                let base = t.offset;
                consume(t, ctx, &buf[..=i], base, sink, st);
                break;
            }
            _ if n > max_line => {
                long_line(sink, st, t.offset, max_line);
                t.offset += n as u64;
                st.bytes += n as u64;
                t.skipping = true;
                budget = budget.saturating_sub(n);
            }
            // A partial line, shorter than the cap: wait for its end.
            _ => break,
        }
    }
    if t.offset < size && budget == 0 {
        st.more = true;
    }
    t.offset != start
}

/// Hands the last line of a file that stopped growing to the decoder, without its newline.
fn flush_tail(
    t: &mut Tracked,
    ctx: &Ctx,
    path: &Path,
    buf: &mut Vec<u8>,
    sink: &mut dyn Sink,
    st: &mut PollStats,
    rep: &mut Reporter,
) {
    if t.decode != Some(true) || t.skipping {
        return;
    }
    let size = t.file.metadata().map(|m| m.len()).unwrap_or(0);
    if size <= t.offset || size - t.offset > ctx.limits.max_line as u64 {
        return;
    }
    let n = (size - t.offset) as usize;
    match read_full(&t.file, buf, t.offset, n) {
        Ok(got) if got > 0 => {
            let base = t.offset;
            consume(t, ctx, &buf[..got], base, sink, st);
        }
        Ok(_) => {}
        Err(e) => rep.note(
            format!("read\0{}", t.name),
            path,
            t.offset,
            format!("cannot read: {e}"),
        ),
    }
}

/// Decodes `chunk`, complete lines of the file at `base`, and moves the offset past it.
/// Lines longer than the cap inside it are skipped with an anomaly.
fn consume(
    t: &mut Tracked,
    ctx: &Ctx,
    chunk: &[u8],
    base: u64,
    sink: &mut dyn Sink,
    st: &mut PollStats,
) {
    let max_line = ctx.limits.max_line;
    let mut lines = memchr::memchr_iter(b'\n', chunk).count() as u64;
    if chunk.last() != Some(&b'\n') {
        lines += 1;
    }
    st.lines += lines;
    st.bytes += chunk.len() as u64;
    let mut from = 0;
    if chunk.len() > max_line {
        let mut line_start = 0;
        for nl in memchr::memchr_iter(b'\n', chunk) {
            if nl - line_start > max_line {
                decode(t, ctx.kind, &chunk[from..line_start], base, from, sink, st);
                long_line(sink, st, base + line_start as u64, max_line);
                from = nl + 1;
            }
            line_start = nl + 1;
        }
    }
    decode(t, ctx.kind, &chunk[from..], base, from, sink, st);
    t.offset = base + chunk.len() as u64;
}

fn long_line(sink: &mut dyn Sink, st: &mut PollStats, offset: u64, max_line: usize) {
    st.decode.anomalies += 1;
    sink.anomaly(Anomaly {
        offset,
        kind: AnomalyKind::Limit,
        detail: format!("line longer than the {max_line}-byte cap skipped"),
    });
}

/// Decodes `seg`, which starts `at` bytes into a chunk at file offset `base`.
fn decode(
    t: &mut Tracked,
    kind: Kind,
    seg: &[u8],
    base: u64,
    at: usize,
    sink: &mut dyn Sink,
    st: &mut PollStats,
) {
    if seg.is_empty() {
        return;
    }
    let off = base + at as u64;
    let d = match kind {
        Kind::Zeek => {
            let d = zeek::decode_body(&t.header.parsed, seg, off, sink);
            t.header.scan(seg, off);
            d
        }
        Kind::Eve => cordon_wire::eve::decode(seg, &mut Offset { sink, base: off }),
    };
    st.decode.add(&d);
}

/// Moves the anomalies of a decoder given a piece of a file to offsets in the file.
struct Offset<'a> {
    sink: &'a mut dyn Sink,
    base: u64,
}

impl Sink for Offset<'_> {
    fn observe(&mut self, obs: Observation) {
        self.sink.observe(obs);
    }
    fn anomaly(&mut self, mut a: Anomaly) {
        a.offset = a.offset.saturating_add(self.base);
        self.sink.anomaly(a);
    }
    fn wants_detail(&mut self, src: IpAddr, dst: IpAddr) -> bool {
        self.sink.wants_detail(src, dst)
    }
}

/// The Zeek TSV header in force in one file, and the runs of `#` lines it comes from.
///
/// The decoder applies the `#` lines of a chunk to a copy of the header it is given; this
/// keeps them for the next chunks. A run holding a `#separator` line starts a new header
/// block from that line; other runs that set something the decoder reads (`#fields`,
/// `#path`, markers) are added to it. The header is always what `zeek::parse_header` makes
/// of the runs kept, so a resumed follower that reads them again gets the same one.
#[derive(Default)]
struct HeaderTrack {
    runs: Vec<(u64, Vec<u8>)>,
    parsed: Header,
}

impl HeaderTrack {
    /// Keeps the runs of `#` lines of `seg`, complete lines at file offset `base`.
    fn scan(&mut self, seg: &[u8], base: u64) {
        let first = (seg.first() == Some(&b'#')).then_some(0);
        let starts = first
            .into_iter()
            .chain(memchr::memmem::find_iter(seg, b"\n#").map(|i| i + 1));
        let mut run: Option<(usize, usize)> = None;
        let mut changed = false;
        for s in starts {
            let end = memchr::memchr(b'\n', &seg[s..]).map_or(seg.len(), |i| s + i + 1);
            run = match run {
                Some((a, b)) if b == s => Some((a, end)),
                Some((a, b)) => {
                    changed |= self.add(&seg[a..b], base + a as u64);
                    Some((s, end))
                }
                None => Some((s, end)),
            };
        }
        if let Some((a, b)) = run {
            changed |= self.add(&seg[a..b], base + a as u64);
        }
        if changed {
            self.reparse();
        }
    }

    /// Keeps one run of `#` lines at file offset `off`; says whether the header may change.
    fn add(&mut self, run: &[u8], off: u64) -> bool {
        if run.len() > MAX_HEADER_RUN {
            return false;
        }
        let mut block = None;
        let mut relevant = false;
        let mut pos = 0;
        while pos < run.len() {
            let line = &run[pos..];
            if line.starts_with(b"#separator") {
                block = Some(pos);
            }
            relevant |= [
                &b"#fields"[..],
                b"#path",
                b"#set_separator",
                b"#unset_field",
                b"#empty_field",
            ]
            .iter()
            .any(|k| line.starts_with(k));
            pos = memchr::memchr(b'\n', line).map_or(run.len(), |i| pos + i + 1);
        }
        match block {
            Some(p) => {
                self.runs.clear();
                self.runs.push((off + p as u64, run[p..].to_vec()));
            }
            None if off == 0 => {
                self.runs.clear();
                self.runs.push((off, run.to_vec()));
            }
            None if relevant => {
                self.runs.push((off, run.to_vec()));
                if self.runs.len() > MAX_HEADER_RUNS {
                    self.runs.remove(1);
                }
            }
            None => return false,
        }
        true
    }

    fn reparse(&mut self) {
        let mut all = Vec::new();
        for (_, r) in &self.runs {
            all.extend_from_slice(r);
            if r.last() != Some(&b'\n') {
                all.push(b'\n');
            }
        }
        self.parsed = zeek::parse_header(&all).unwrap_or_default();
    }
}
