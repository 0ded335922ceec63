//! Source: from paths on the command line to readable inputs with a detected format.
//!
//! Folders are walked (sorted, hidden files skipped); gzip and zstd are decompressed
//! transparently, with a cap on the decompressed size; **the format comes from the content,
//! never from the file name**. A path that cannot be read is an error for that path only.

use anyhow::{anyhow, Context, Result};
use cordon_wire::detect::{self, Compression, Format};
use cordon_wire::{Anomaly, AnomalyKind};
use std::collections::HashSet;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// Decompressed inputs larger than this are cut there (a decompression bomb, or a file to
/// split first): what comes before is decoded, and the input is reported as cut.
pub const MAX_DECOMPRESSED: u64 = 32 << 30;
/// How much of an input is read to detect its format.
const SNIFF: usize = 64 * 1024;
/// Folders nested deeper than this are not entered.
const MAX_DEPTH: usize = 32;
/// The chunked reader skips a line longer than this (with a `limit` anomaly) instead of
/// holding it: the decoders refuse lines over 1 MiB anyway.
pub const MAX_CARRIED_LINE: usize = 16 << 20;

/// A path found by [`walk`] that cannot be scanned, and why (a message without the path).
pub type WalkError = (PathBuf, String);

/// Lists the files under the given paths: files as given, folders walked recursively in
/// name order. Unreadable paths come back as errors in place.
///
/// **Each file is listed once and the walk always ends**: files and folders are known by
/// (device, inode), so a symbolic link back to a folder already entered (a loop), a second
/// link to the same file or the same path given twice adds nothing.
pub fn walk(paths: &[PathBuf]) -> Vec<Result<PathBuf, WalkError>> {
    let mut w = Walker::default();
    for p in paths {
        w.walk_one(p, 0);
    }
    w.out
}

#[derive(Default)]
struct Walker {
    out: Vec<Result<PathBuf, WalkError>>,
    /// (device, inode) of every file listed and folder entered.
    seen: HashSet<(u64, u64)>,
}

impl Walker {
    fn walk_one(&mut self, p: &Path, depth: usize) {
        let fail = |why: String| Err((p.to_path_buf(), why));
        let meta = match std::fs::metadata(p) {
            Ok(m) => m,
            Err(e) => return self.out.push(fail(format!("cannot read: {e}"))),
        };
        if !meta.is_file() && !meta.is_dir() {
            return self.out.push(fail("not a file or folder".into()));
        }
        if !self.seen.insert((meta.dev(), meta.ino())) {
            // Already listed or entered: a link to it, or a loop.
            return;
        }
        if meta.is_file() {
            return self.out.push(Ok(p.to_path_buf()));
        }
        if depth > MAX_DEPTH {
            return self.out.push(fail("folders nested too deep".into()));
        }
        let mut entries: Vec<PathBuf> = match std::fs::read_dir(p) {
            Ok(rd) => rd.filter_map(|e| e.ok().map(|e| e.path())).collect(),
            Err(e) => return self.out.push(fail(format!("cannot list: {e}"))),
        };
        entries.sort();
        for e in entries {
            let hidden = e
                .file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with('.'));
            if !hidden {
                self.walk_one(&e, depth + 1);
            }
        }
    }
}

/// Uncompressed files at least this large are mapped rather than read (when mapping is
/// allowed): no copy through the kernel, no buffers to fill.
const MAP_MIN: u64 = 1 << 20;
/// Files modified this recently are read, not mapped: a live log (`eve.json` under
/// `logrotate copytruncate`) may be truncated while it is scanned, and a mapped file that
/// shrinks faults the process (SIGBUS).
const LIVE_SECS: u64 = 60;

/// What the sniff found about an input, without holding it open.
#[derive(Clone, Debug)]
pub struct Probe {
    pub path: PathBuf,
    pub format: Format,
    /// A Zeek TSV log whose header says `conn`.
    pub zeek_conn: bool,
    /// Size on disk, for progress.
    pub disk_size: u64,
}

/// An opened input: its (decompressed) head for sniffing and a reader for the rest.
pub struct Input {
    pub path: PathBuf,
    pub format: Format,
    pub compression: Option<Compression>,
    /// Size on disk, for progress.
    pub disk_size: u64,
    head: Vec<u8>,
    rest: Box<dyn Read + Send>,
    /// The file itself, when it is uncompressed, regular, large enough and old enough to map.
    mappable: Option<File>,
}

/// The whole content of an input: read into memory, or mapped.
pub enum Data {
    Read(Vec<u8>),
    Mapped(Mapped),
}

impl Data {
    /// Whether the file shrank while it was mapped (what lay past its new end read as
    /// zeros).
    pub fn truncated_while_read(&self) -> bool {
        matches!(self, Data::Mapped(m) if m.truncated())
    }
}

impl std::ops::Deref for Data {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            Data::Read(v) => v,
            Data::Mapped(m) => m,
        }
    }
}

/// A mapped input, guarded against truncation (see [`super::sigbus`]).
pub struct Mapped {
    // Unregistered before the range is unmapped: fields drop in order.
    guard: super::sigbus::Guard,
    map: memmap2::Mmap,
}

impl Mapped {
    /// Whether the file shrank while it was mapped.
    pub fn truncated(&self) -> bool {
        self.guard.faulted()
    }
}

impl std::ops::Deref for Mapped {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.map
    }
}

/// The error for an input that shrank while it was mapped.
pub fn truncated_while_scanned(path: &Path, len: usize) -> anyhow::Error {
    damage(
        path,
        len as u64,
        format!("truncated while it was scanned: it had {len} bytes when opened; what lay past its new end read as zeros"),
    )
}

/// Maps `file` read-only, guarded against truncation; `None` when it cannot be guarded.
///
/// One of cordon's two `unsafe` places (the other is the guard itself): a mapping of a file
/// that someone truncates faults the process with SIGBUS on the next read past the new
/// end. The guard ([`super::sigbus`]) answers such reads with zeros and marks the input
/// damaged; files still being written (modified in the last [`LIVE_SECS`]) are not mapped
/// at all, and `--no-mmap` reads every file. The content is only ever read as bytes, so a
/// file that changes under the map yields wrong data at worst, which the decoders already
/// treat as hostile input.
#[allow(unsafe_code)]
fn map(file: &File) -> Option<Mapped> {
    // SAFETY: read-only private mapping of a regular file, read as plain bytes and guarded
    // against truncation; see above.
    let map = unsafe { memmap2::MmapOptions::new().map(file).ok()? };
    let guard = super::sigbus::register(map.as_ptr(), map.len())?;
    // Read ahead: the decoders go through it front to back.
    let _ = map.advise(memmap2::Advice::Sequential);
    Some(Mapped { guard, map })
}

/// Whether a file was modified in the last [`LIVE_SECS`] (or its time is unknown, or in
/// the future).
fn is_live(meta: &std::fs::Metadata) -> bool {
    meta.modified()
        .ok()
        .and_then(|m| m.elapsed().ok())
        .is_none_or(|age| age.as_secs() < LIVE_SECS)
}

/// Gzip members one after another, as `gzip -d` reads them: zero bytes after the last
/// member (tape and block padding) end the stream quietly; anything else that follows a
/// member and is not another member is an error.
struct GzMembers<R: BufRead> {
    member: Option<flate2::bufread::GzDecoder<R>>,
}

impl<R: BufRead> GzMembers<R> {
    fn new(r: R) -> Self {
        GzMembers {
            member: Some(flate2::bufread::GzDecoder::new(r)),
        }
    }
}

impl<R: BufRead> Read for GzMembers<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            let Some(member) = self.member.as_mut() else {
                return Ok(0);
            };
            let n = member.read(buf)?;
            if n > 0 || buf.is_empty() {
                return Ok(n);
            }
            // The member ended: another one, zero padding to the end, or garbage.
            let Some(member) = self.member.take() else {
                return Ok(0);
            };
            let mut inner = member.into_inner();
            let mut padded = false;
            loop {
                let b = inner.fill_buf()?;
                match b.first() {
                    None => return Ok(0),
                    Some(0) => {
                        let zeros = b.iter().take_while(|&&x| x == 0).count();
                        inner.consume(zeros);
                        padded = true;
                    }
                    Some(0x1f) if !padded => break,
                    Some(_) => {
                        return Err(io::Error::new(
                            io::ErrorKind::InvalidData,
                            "data after the last gzip member is not gzip",
                        ))
                    }
                }
            }
            self.member = Some(flate2::bufread::GzDecoder::new(inner));
        }
    }
}

impl Input {
    /// Opens an input just long enough to detect its format, then closes it: a walk of
    /// 100,000 files holds no file open and no buffer.
    pub fn probe(path: &Path) -> Result<Probe> {
        let input = Input::open(path, false)?;
        let zeek_conn = input.format == Format::ZeekTsv
            && cordon_wire::zeek::parse_header(input.head())
                .is_some_and(|h| h.kind == cordon_wire::zeek::LogKind::Conn);
        Ok(Probe {
            path: input.path,
            format: input.format,
            zeek_conn,
            disk_size: input.disk_size,
        })
    }

    /// Opens a file, decompressing if needed, and detects its format from the content.
    /// Large uncompressed regular files that are not being written may be mapped when
    /// `allow_map` is set.
    pub fn open(path: &Path, allow_map: bool) -> Result<Input> {
        // Checked before opening: opening a FIFO blocks until a writer comes.
        if std::fs::metadata(path).is_ok_and(|m| !m.is_file()) {
            return Err(anyhow!("{}: not a regular file", path.display()));
        }
        let file = File::open(path).with_context(|| format!("{}: cannot open", path.display()))?;
        let meta = file.metadata().ok();
        let disk_size = meta.as_ref().map(|m| m.len()).unwrap_or(0);
        let mappable = meta
            .as_ref()
            .is_some_and(|m| m.is_file() && m.len() >= MAP_MIN && !is_live(m));
        let for_map = (allow_map && mappable)
            .then(|| file.try_clone().ok())
            .flatten();
        let mut raw = BufReader::with_capacity(256 * 1024, file);
        let mut magic = Vec::with_capacity(8);
        (&mut raw)
            .take(8)
            .read_to_end(&mut magic)
            .with_context(|| format!("{}: cannot read", path.display()))?;
        let compression = detect::compression(&magic);
        let raw = std::io::Cursor::new(magic).chain(raw);
        let mut reader: Box<dyn Read + Send> = match compression {
            Some(Compression::Gzip) => Box::new(GzMembers::new(BufReader::new(raw))),
            Some(Compression::Zstd) => Box::new(
                zstd::stream::read::Decoder::new(raw)
                    .with_context(|| format!("{}: cannot start zstd decoding", path.display()))?,
            ),
            None => Box::new(raw),
        };
        let mut head = Vec::with_capacity(SNIFF);
        // A damaged stream still gives its first bytes: sniff what came, and let the
        // decoding report the damage at its offset.
        let sniffed = (&mut reader).take(SNIFF as u64).read_to_end(&mut head);
        if let Err(e) = sniffed {
            if head.is_empty() {
                return Err(anyhow!(e)).with_context(|| {
                    format!("{}: cannot read (corrupt compression?)", path.display())
                });
            }
            reader = Box::new(FailingReader(Some(e)));
        }
        let format = detect::detect(&head);
        Ok(Input {
            path: path.to_path_buf(),
            format,
            compression,
            disk_size,
            head,
            rest: reader,
            mappable: for_map.filter(|_| compression.is_none()),
        })
    }

    /// The whole file mapped, when it can be (uncompressed, regular, large, not live,
    /// allowed).
    pub fn mapped(&self) -> Option<Mapped> {
        let m = map(self.mappable.as_ref()?)?;
        // A file that changed since it was opened is read instead.
        (m.len() as u64 == self.disk_size && m.starts_with(&self.head)).then_some(m)
    }

    /// The first bytes of the (decompressed) content.
    pub fn head(&self) -> &[u8] {
        &self.head
    }

    /// The whole (decompressed) content: mapped when it can be, read into memory otherwise.
    ///
    /// **What was read before a failure is kept**: a damaged compressed tail, a read error
    /// or the [`MAX_DECOMPRESSED`] cap gives the content up to that point together with the
    /// error, which names the decompressed offset; the caller decodes the first and
    /// reports the second.
    pub fn read_all(self) -> (Data, Option<anyhow::Error>) {
        if let Some(m) = self.mapped() {
            return (Data::Mapped(m), None);
        }
        let mut buf = self.head;
        let path = self.path;
        if self.compression.is_none() {
            // Room for the whole file at once: a buffer grown by doubling is copied at each
            // step and briefly held twice.
            let _ = buf.try_reserve_exact(self.disk_size.saturating_sub(buf.len() as u64) as usize);
        }
        // A compressed input read whole may not take more than half the memory the system
        // has free: past that the OOM killer, not an error, would end the run.
        let cap = match self.compression {
            Some(_) => whole_read_cap(),
            None => MAX_DECOMPRESSED,
        };
        let r = self
            .rest
            .take(cap.saturating_sub(buf.len() as u64) + 1)
            .read_to_end(&mut buf);
        let at = buf.len() as u64;
        let err = match r {
            // `read_to_end` keeps what it read before the error in `buf`.
            Err(e) if e.kind() == io::ErrorKind::OutOfMemory => Some(damage(
                &path,
                at,
                format!("larger than the memory available ({} MiB read)", at >> 20),
            )),
            Err(e) => Some(damage(
                &path,
                at,
                format!("damaged at decompressed offset {at}: {e}"),
            )),
            Ok(_) if at > cap => {
                buf.truncate(cap as usize);
                Some(damage(
                    &path,
                    cap,
                    format!(
                        "larger than {} MiB decompressed ({}): cut there; decompress or split it first",
                        cap >> 20,
                        if cap < MAX_DECOMPRESSED {
                            "half the memory available"
                        } else {
                            "cordon's cap"
                        }
                    ),
                ))
            }
            Ok(_) => None,
        };
        (Data::Read(buf), err)
    }

    /// Reads the content in chunks of about `size` bytes that end on a newline (the last one
    /// may not), handing each to `f` with its offset. Memory stays bounded by the chunk size
    /// and [`MAX_CARRIED_LINE`]; time is linear in the input, whatever its line lengths.
    /// Each chunk is read into a buffer from `recycle` (a consumer's spent one, when it has
    /// handed one back; reusing them spares the kernel from zeroing fresh pages).
    ///
    /// A line longer than [`MAX_CARRIED_LINE`] is skipped and reported to `skipped` as a
    /// `limit` anomaly. A read failure (a damaged compressed tail) or the
    /// [`MAX_DECOMPRESSED`] cap ends the reading: what was read before it is handed over
    /// first, then the error is returned, naming the decompressed offset.
    pub fn for_each_line_chunk(
        self,
        size: usize,
        recycle: impl FnMut() -> Option<Vec<u8>>,
        skipped: impl FnMut(Anomaly),
        f: impl FnMut(Vec<u8>, u64) -> Result<()>,
    ) -> Result<()> {
        self.line_chunks(size, MAX_CARRIED_LINE, recycle, skipped, f)
    }

    fn line_chunks(
        self,
        size: usize,
        max_line: usize,
        mut recycle: impl FnMut() -> Option<Vec<u8>>,
        mut skipped: impl FnMut(Anomaly),
        mut f: impl FnMut(Vec<u8>, u64) -> Result<()>,
    ) -> Result<()> {
        let path = self.path;
        let head_len = self.head.len() as u64;
        let mut reader = self
            .rest
            .take(MAX_DECOMPRESSED.saturating_sub(head_len) + 1);
        let mut total = head_len;
        let mut carry = self.head;
        // The decompressed offset of carry[0], which always starts a line (or a skipped
        // line's remainder while `skipping`).
        let mut offset = 0u64;
        // carry[..searched] holds no newline.
        let mut searched = 0usize;
        // The offset where a line too long to carry began.
        let mut skipping: Option<u64> = None;
        let mut eof = false;
        let mut failure: Option<anyhow::Error> = None;
        loop {
            if !eof {
                let want = size.saturating_sub(carry.len()).max(64 * 1024);
                // Room for the whole read up front: growing the buffer while reading would
                // copy it several times per chunk.
                carry.reserve(want + 64);
                let before = carry.len();
                let r = (&mut reader).take(want as u64).read_to_end(&mut carry);
                let n = carry.len() - before;
                total += n as u64;
                if total > MAX_DECOMPRESSED {
                    carry.truncate(carry.len() - (total - MAX_DECOMPRESSED) as usize);
                    failure = Some(damage(
                        &path,
                        MAX_DECOMPRESSED,
                        format!(
                            "larger than {} GiB decompressed: cut there",
                            MAX_DECOMPRESSED >> 30
                        ),
                    ));
                    eof = true;
                } else if let Err(e) = r {
                    failure = Some(damage(
                        &path,
                        total,
                        format!("damaged at decompressed offset {total}: {e}"),
                    ));
                    eof = true;
                } else {
                    eof = n == 0;
                }
            }
            if let Some(start) = skipping {
                match memchr::memchr(b'\n', &carry) {
                    Some(i) => {
                        offset += i as u64 + 1;
                        carry.drain(..=i);
                        skipped(long_line(start, offset - start, max_line));
                        skipping = None;
                        searched = 0;
                    }
                    None => {
                        offset += carry.len() as u64;
                        carry.clear();
                        if eof {
                            skipped(long_line(start, offset - start, max_line));
                            break;
                        }
                        continue;
                    }
                }
            }
            if carry.is_empty() {
                if eof {
                    break;
                }
                continue;
            }
            // Cut after the last newline and keep the partial line for the next chunk; with
            // no newline yet, read more (a line longer than a chunk), or skip it when it is
            // longer than any decoder takes.
            let cut = if eof {
                carry.len()
            } else {
                match memchr::memrchr(b'\n', &carry[searched..]) {
                    Some(i) => searched + i + 1,
                    None if carry.len() > max_line => {
                        skipping = Some(offset);
                        offset += carry.len() as u64;
                        carry.clear();
                        searched = 0;
                        continue;
                    }
                    None => {
                        searched = carry.len();
                        continue;
                    }
                }
            };
            // The partial line moves to a fresh buffer sized for the next chunk.
            let mut rest = recycle().unwrap_or_default();
            rest.clear();
            rest.reserve(size + 64 * 1024);
            rest.extend_from_slice(&carry[cut..]);
            carry.truncate(cut);
            searched = rest.len();
            let chunk = std::mem::replace(&mut carry, rest);
            let len = chunk.len() as u64;
            f(chunk, offset)?;
            offset += len;
        }
        failure.map_or(Ok(()), Err)
    }
}

/// How much a compressed input read whole may decompress to: [`MAX_DECOMPRESSED`], or half
/// the memory the system has available (`MemAvailable`), whichever is less.
fn whole_read_cap() -> u64 {
    let available = std::fs::read_to_string("/proc/meminfo").ok().and_then(|m| {
        let line = m.lines().find(|l| l.starts_with("MemAvailable:"))?;
        let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
        Some(kib << 10)
    });
    available.map_or(MAX_DECOMPRESSED, |a| (a / 2).min(MAX_DECOMPRESSED))
}

fn long_line(start: u64, len: u64, max: usize) -> Anomaly {
    Anomaly {
        offset: start,
        kind: AnomalyKind::Limit,
        detail: format!("line of {len} bytes longer than the {max}-byte cap skipped"),
    }
}

/// Where and why reading an input stopped early; what came before was handed over.
#[derive(Debug)]
pub struct Damage {
    /// The decompressed offset where reading stopped.
    pub offset: u64,
    pub message: String,
}

impl std::fmt::Display for Damage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Damage {}

fn damage(path: &Path, offset: u64, why: String) -> anyhow::Error {
    anyhow::Error::new(Damage {
        offset,
        message: format!("{}: {why}", path.display()),
    })
}

/// A reader that has already failed: the error once, then the end.
struct FailingReader(Option<io::Error>);

impl Read for FailingReader {
    fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
        self.0.take().map_or(Ok(0), Err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn tmp(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("cordon-source-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        d.join(name)
    }

    fn gz(data: &[u8]) -> Vec<u8> {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(data).unwrap();
        gz.finish().unwrap()
    }

    /// Every chunk, its offset, the skipped lines and the final error of a chunked read.
    struct Chunked {
        data: Vec<u8>,
        offsets: Vec<u64>,
        skipped: Vec<Anomaly>,
        error: Option<String>,
    }

    fn chunked(p: &Path, size: usize, max_line: usize) -> Chunked {
        let input = Input::open(p, false).unwrap();
        let mut c = Chunked {
            data: Vec::new(),
            offsets: Vec::new(),
            skipped: Vec::new(),
            error: None,
        };
        let mut lens = Vec::new();
        let r = input.line_chunks(
            size,
            max_line,
            || None,
            |a| c.skipped.push(a),
            |chunk, off| {
                c.offsets.push(off);
                lens.push(chunk.len() as u64);
                c.data.extend_from_slice(&chunk);
                Ok(())
            },
        );
        c.error = r.err().map(|e| format!("{e:#}"));
        // Each chunk's offset is where it lies in the input: after the chunks and skipped
        // lines before it.
        let mut at = 0u64;
        let mut skips = c.skipped.iter().peekable();
        for (off, len) in c.offsets.iter().zip(&lens) {
            while let Some(a) = skips.next_if(|a| a.offset == at) {
                at += skipped_len(std::slice::from_ref(a)) as u64;
            }
            assert_eq!(*off, at);
            at += len;
        }
        c
    }

    fn skipped_len(s: &[Anomaly]) -> usize {
        s.iter()
            .map(|a| {
                let d = &a.detail;
                d["line of ".len()..d.find(" bytes").unwrap()]
                    .parse::<usize>()
                    .unwrap()
            })
            .sum()
    }

    #[test]
    fn gzip_is_transparent_and_chunks_end_on_lines() {
        let text: String = (0..20_000).map(|i| format!("line {i}\n")).collect();
        let p = tmp("lines.gz");
        std::fs::write(&p, gz(text.as_bytes())).unwrap();
        let input = Input::open(&p, false).unwrap();
        assert_eq!(input.compression, Some(Compression::Gzip));
        let c = chunked(&p, 10_000, MAX_CARRIED_LINE);
        assert_eq!(c.data, text.as_bytes());
        assert!(c.offsets.len() > 2);
        assert_eq!(c.offsets[0], 0);
        assert!(c.error.is_none() && c.skipped.is_empty());
    }

    /// Chunks concatenate to the input whatever the line lengths, plain or compressed; a
    /// line over the cap is skipped whole, reported at its offset with its length, and the
    /// lines around it come through (a reader that searched its whole carry again after
    /// each read took minutes on such a line).
    #[test]
    fn any_line_length_reads_in_line_chunks() {
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = |m: u64| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x % m
        };
        let cap = 1 << 20;
        let mut data = Vec::new();
        let mut kept = Vec::new();
        let mut long = Vec::new();
        for i in 0..400 {
            let len = match next(20) {
                0 => cap + 1 + next(3 * cap as u64) as usize,
                1..=3 => next(200_000) as usize,
                _ => next(100) as usize,
            };
            let mut line = vec![b'a' + (i % 26) as u8; len];
            line.push(b'\n');
            if len > cap {
                long.push((data.len() as u64, line.len() as u64));
            } else {
                kept.extend_from_slice(&line);
            }
            data.extend_from_slice(&line);
        }
        // A last line without a newline.
        data.extend_from_slice(b"tail");
        kept.extend_from_slice(b"tail");
        assert!(long.len() > 5, "{}", long.len());
        let plain = tmp("lines-any.log");
        std::fs::write(&plain, &data).unwrap();
        let packed = tmp("lines-any.log.gz");
        std::fs::write(&packed, gz(&data)).unwrap();
        for p in [&plain, &packed] {
            for size in [4096, 65_536, 1 << 20] {
                let c = chunked(p, size, cap);
                assert!(c.error.is_none(), "{:?}", c.error);
                assert_eq!(c.data.len(), kept.len(), "{} {size}", p.display());
                assert!(c.data == kept);
                let got: Vec<(u64, u64)> = c
                    .skipped
                    .iter()
                    .map(|a| (a.offset, skipped_len(std::slice::from_ref(a)) as u64))
                    .collect();
                assert_eq!(got, long);
                assert!(c.skipped.iter().all(|a| a.kind == AnomalyKind::Limit));
            }
        }
    }

    /// `gzip -d` accepts zero padding after the last member (tape and block devices write
    /// it); so does cordon, and garbage after a member or a cut stream keeps what came
    /// before it, with an error naming the decompressed offset.
    #[test]
    fn damaged_gzip_keeps_what_came_before() {
        let text: String = (0..20_000).map(|i| format!("line {i}\n")).collect();
        let member = gz(text.as_bytes());
        let cases: [(&str, Vec<u8>, Option<&str>); 4] = [
            ("padded.gz", [&member[..], &[0u8; 512][..]].concat(), None),
            (
                "two-members-padded.gz",
                [&member[..], &member[..], &[0u8; 100][..]].concat(),
                None,
            ),
            (
                "garbage.gz",
                [&member[..], b"\0\x01garbage"].concat(),
                Some("not gzip"),
            ),
            (
                "cut.gz",
                member[..member.len() * 9 / 10].to_vec(),
                Some("damaged at decompressed offset"),
            ),
        ];
        for (name, bytes, err) in cases {
            let p = tmp(name);
            std::fs::write(&p, &bytes).unwrap();
            let want: Vec<u8> = if name.starts_with("two") {
                [text.as_bytes(), text.as_bytes()].concat()
            } else {
                text.as_bytes().to_vec()
            };
            let c = chunked(&p, 8192, MAX_CARRIED_LINE);
            match err {
                None => {
                    assert!(c.error.is_none(), "{name}: {:?}", c.error);
                    assert_eq!(c.data, want, "{name}");
                }
                Some(e) => {
                    let got = c.error.unwrap_or_default();
                    assert!(got.contains(e), "{name}: {got}");
                    assert!(c.data.len() > want.len() / 2, "{name}: {}", c.data.len());
                    assert!(want.starts_with(&c.data), "{name}");
                    assert!(got.contains(&format!("offset {}", c.data.len())) || e == "not gzip");
                }
            }
            // The whole-file reader keeps the same prefix.
            let (data, e) = Input::open(&p, false).unwrap().read_all();
            assert_eq!(e.is_some(), err.is_some(), "{name}");
            assert!(
                want.starts_with(&data) && data.len() > want.len() / 2,
                "{name}"
            );
        }
    }

    #[test]
    fn missing_paths_are_errors_in_place() {
        let out = walk(&[PathBuf::from("/nonexistent/cordon")]);
        assert_eq!(out.len(), 1);
        let (path, why) = out[0].as_ref().unwrap_err();
        assert_eq!(path, &PathBuf::from("/nonexistent/cordon"));
        assert!(why.starts_with("cannot read"), "{why}");
    }

    /// A link back to a folder already entered adds nothing: one self-link used to list
    /// every file 33 times, two sent the walk through 2^33 paths.
    #[test]
    fn symlink_loops_list_each_file_once() {
        let d = tmp("loops");
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(d.join("sub")).unwrap();
        std::fs::write(d.join("conn.log"), b"x").unwrap();
        std::fs::write(d.join("sub/dns.log"), b"y").unwrap();
        std::os::unix::fs::symlink(".", d.join("a")).unwrap();
        std::os::unix::fs::symlink(".", d.join("b")).unwrap();
        std::os::unix::fs::symlink("..", d.join("sub/up")).unwrap();
        std::os::unix::fs::symlink("conn.log", d.join("same.log")).unwrap();
        let out = walk(&[d.clone(), d.join("conn.log")]);
        let files: Vec<_> = out.iter().map(|r| r.as_ref().unwrap().clone()).collect();
        assert_eq!(files, vec![d.join("conn.log"), d.join("sub/dns.log")]);
    }
}
