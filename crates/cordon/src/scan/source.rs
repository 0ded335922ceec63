//! Source: from paths on the command line to readable inputs with a detected format.
//!
//! Folders are walked (sorted, hidden files skipped); gzip and zstd are decompressed
//! transparently, with a cap on the decompressed size; **the format comes from the content,
//! never from the file name**. A path that cannot be read is an error for that path only.

use anyhow::{bail, Context, Result};
use cordon_wire::detect::{self, Compression, Format};
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

/// Decompressed inputs larger than this are refused (a decompression bomb, or a file to
/// split first).
pub const MAX_DECOMPRESSED: u64 = 32 << 30;
/// How much of an input is read to detect its format.
const SNIFF: usize = 64 * 1024;

/// A path found by [`walk`] that cannot be scanned, and why (a message without the path).
pub type WalkError = (PathBuf, String);

/// Lists the files under the given paths: files as given, folders walked recursively in
/// name order. Unreadable paths come back as errors in place.
pub fn walk(paths: &[PathBuf]) -> Vec<Result<PathBuf, WalkError>> {
    let mut out = Vec::new();
    for p in paths {
        walk_one(p, &mut out, 0);
    }
    out
}

fn walk_one(p: &Path, out: &mut Vec<Result<PathBuf, WalkError>>, depth: usize) {
    let fail = |why: String| Err((p.to_path_buf(), why));
    let meta = match std::fs::metadata(p) {
        Ok(m) => m,
        Err(e) => return out.push(fail(format!("cannot read: {e}"))),
    };
    if meta.is_file() {
        return out.push(Ok(p.to_path_buf()));
    }
    if !meta.is_dir() {
        return out.push(fail("not a file or folder".into()));
    }
    if depth > 32 {
        return out.push(fail("folders nested too deep".into()));
    }
    let mut entries: Vec<PathBuf> = match std::fs::read_dir(p) {
        Ok(rd) => rd.filter_map(|e| e.ok().map(|e| e.path())).collect(),
        Err(e) => return out.push(fail(format!("cannot list: {e}"))),
    };
    entries.sort();
    for e in entries {
        let hidden = e
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with('.'));
        if !hidden {
            walk_one(&e, out, depth + 1);
        }
    }
}

/// Uncompressed files at least this large are mapped rather than read (when mapping is
/// allowed): no copy through the kernel, no buffers to fill.
const MAP_MIN: u64 = 1 << 20;

/// An opened input: its (decompressed) head for sniffing and a reader for the rest.
pub struct Input {
    pub path: PathBuf,
    pub format: Format,
    pub compression: Option<Compression>,
    /// Size on disk, for progress.
    pub disk_size: u64,
    head: Vec<u8>,
    rest: Box<dyn Read + Send>,
    /// The file itself, when it is uncompressed, regular and large enough to map.
    mappable: Option<File>,
}

/// The whole content of an input: read into memory, or mapped.
pub enum Data {
    Read(Vec<u8>),
    Mapped(memmap2::Mmap),
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

/// Maps `file` read-only.
///
/// The one `unsafe` of cordon: a mapping is only sound while no one truncates the file. A
/// file truncated while it is scanned kills the process with SIGBUS instead of giving an
/// error (ripgrep takes the same trade for the same speed; `--no-mmap` reads instead). The
/// content is only ever read as bytes, so a file that changes under the map yields wrong
/// data at worst, which the decoders already treat as hostile input.
#[allow(unsafe_code)]
fn map(file: &File) -> std::io::Result<memmap2::Mmap> {
    // SAFETY: read-only private mapping of a regular file, read as plain bytes; see above.
    let m = unsafe { memmap2::MmapOptions::new().map(file)? };
    // Read ahead: the decoders go through it front to back.
    let _ = m.advise(memmap2::Advice::Sequential);
    Ok(m)
}

impl Input {
    /// Opens a file, decompressing if needed, and detects its format from the content.
    /// Large uncompressed regular files may be mapped when `allow_map` is set.
    pub fn open(path: &Path, allow_map: bool) -> Result<Input> {
        let file = File::open(path).with_context(|| format!("{}: cannot open", path.display()))?;
        let meta = file.metadata().ok();
        let disk_size = meta.as_ref().map(|m| m.len()).unwrap_or(0);
        let regular = meta.is_some_and(|m| m.is_file());
        let for_map = (allow_map && regular && disk_size >= MAP_MIN)
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
            Some(Compression::Gzip) => Box::new(flate2::read::MultiGzDecoder::new(raw)),
            Some(Compression::Zstd) => Box::new(
                zstd::stream::read::Decoder::new(raw)
                    .with_context(|| format!("{}: cannot start zstd decoding", path.display()))?,
            ),
            None => Box::new(raw),
        };
        let mut head = Vec::with_capacity(SNIFF);
        (&mut reader)
            .take(SNIFF as u64)
            .read_to_end(&mut head)
            .with_context(|| format!("{}: cannot read (corrupt compression?)", path.display()))?;
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

    /// The whole file mapped, when it can be (uncompressed, regular, large, allowed).
    pub fn mapped(&self) -> Option<memmap2::Mmap> {
        let m = map(self.mappable.as_ref()?).ok()?;
        // A file that changed since it was opened is read instead.
        (m.len() as u64 == self.disk_size && m.starts_with(&self.head)).then_some(m)
    }

    /// The first bytes of the (decompressed) content.
    pub fn head(&self) -> &[u8] {
        &self.head
    }

    /// The whole (decompressed) content: mapped when it can be, read into memory otherwise.
    pub fn read_all(self) -> Result<Data> {
        if let Some(m) = self.mapped() {
            return Ok(Data::Mapped(m));
        }
        let mut buf = self.head;
        let path = self.path;
        self.rest
            .take(MAX_DECOMPRESSED.saturating_sub(buf.len() as u64) + 1)
            .read_to_end(&mut buf)
            .with_context(|| format!("{}: read failed", path.display()))?;
        if buf.len() as u64 > MAX_DECOMPRESSED {
            bail!(
                "{}: larger than {} GiB decompressed",
                path.display(),
                MAX_DECOMPRESSED >> 30
            );
        }
        Ok(Data::Read(buf))
    }

    /// Reads the content in chunks of about `size` bytes that end on a newline (the last one
    /// may not), handing each to `f` with its offset. Memory stays bounded by the chunk size.
    /// Each chunk is read into a buffer from `recycle` (a consumer's spent one, when it has
    /// handed one back; reusing them spares the kernel from zeroing fresh pages).
    pub fn for_each_line_chunk(
        self,
        size: usize,
        mut recycle: impl FnMut() -> Option<Vec<u8>>,
        mut f: impl FnMut(Vec<u8>, u64) -> Result<()>,
    ) -> Result<()> {
        let path = self.path;
        let mut reader = self.rest.take(MAX_DECOMPRESSED);
        let mut carry = self.head;
        let mut offset = 0u64;
        let mut eof = false;
        loop {
            if !eof {
                let want = size.saturating_sub(carry.len()).max(64 * 1024);
                // Room for the whole read up front: growing the buffer while reading would
                // copy it several times per chunk.
                carry.reserve(want + 64);
                let n = (&mut reader)
                    .take(want as u64)
                    .read_to_end(&mut carry)
                    .with_context(|| format!("{}: read failed", path.display()))?;
                eof = n == 0;
            }
            if carry.is_empty() {
                return Ok(());
            }
            // Cut after the last newline and keep the partial line for the next chunk; with
            // no newline yet, read more (a line longer than a chunk).
            let cut = match (eof, memchr::memrchr(b'\n', &carry)) {
                (true, _) => carry.len(),
                (false, Some(i)) => i + 1,
                (false, None) => continue,
            };
            // The partial line moves to a fresh buffer sized for the next chunk.
            let mut rest = recycle().unwrap_or_default();
            rest.clear();
            rest.reserve(size + 64 * 1024);
            rest.extend_from_slice(&carry[cut..]);
            carry.truncate(cut);
            let chunk = std::mem::replace(&mut carry, rest);
            let len = chunk.len() as u64;
            f(chunk, offset)?;
            offset += len;
        }
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

    #[test]
    fn gzip_is_transparent_and_chunks_end_on_lines() {
        let text: String = (0..20_000).map(|i| format!("line {i}\n")).collect();
        let p = tmp("lines.gz");
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(text.as_bytes()).unwrap();
        std::fs::write(&p, gz.finish().unwrap()).unwrap();
        let input = Input::open(&p, false).unwrap();
        assert_eq!(input.compression, Some(Compression::Gzip));
        let mut got = Vec::new();
        let mut offsets = Vec::new();
        input
            .for_each_line_chunk(
                10_000,
                || None,
                |c, off| {
                    assert!(c.ends_with(b"\n"));
                    offsets.push(off);
                    got.extend_from_slice(&c);
                    Ok(())
                },
            )
            .unwrap();
        assert_eq!(got, text.as_bytes());
        assert!(offsets.len() > 2);
        assert_eq!(offsets[0], 0);
    }

    #[test]
    fn missing_paths_are_errors_in_place() {
        let out = walk(&[PathBuf::from("/nonexistent/cordon")]);
        assert_eq!(out.len(), 1);
        let (path, why) = out[0].as_ref().unwrap_err();
        assert_eq!(path, &PathBuf::from("/nonexistent/cordon"));
        assert!(why.starts_with("cannot read"), "{why}");
    }
}
