//! Errors about cordon's own input files (inventory, policy, waivers): which file, which
//! line, what was expected; and the one reader of those files.
//!
//! This module depends on nothing else in the crate, so every loader can use it without
//! importing the module that calls the loaders (the old `findings ↔ assets/policy/waivers`
//! circle).

use std::fmt;
use std::path::{Path, PathBuf};

/// A refused input file: which file, which line, what was expected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileError {
    pub path: PathBuf,
    pub line: Option<usize>,
    pub message: String,
}

impl FileError {
    pub fn new(path: &Path, line: Option<usize>, message: String) -> FileError {
        FileError {
            path: path.to_path_buf(),
            line,
            message,
        }
    }

    /// Reads a configuration file (inventory, policy, waivers) whole, or says why it cannot
    /// be read. Only regular files are read: a FIFO or a device would block or never end, so
    /// it is refused, and so is a file over [`MAX_CONFIG_FILE`].
    pub fn read(path: &Path) -> Result<String, FileError> {
        use std::io::Read;
        let err = |m: String| FileError::new(path, None, m);
        // Checked before opening too: opening a FIFO blocks until a writer comes.
        if std::fs::metadata(path).is_ok_and(|m| !m.is_file()) {
            return Err(err("not a regular file (a FIFO, device or folder)".into()));
        }
        let file = std::fs::File::open(path).map_err(|e| err(format!("cannot read: {e}")))?;
        let meta = file
            .metadata()
            .map_err(|e| err(format!("cannot read: {e}")))?;
        if !meta.is_file() {
            return Err(err("not a regular file (a FIFO, device or folder)".into()));
        }
        let mut text = String::new();
        file.take(MAX_CONFIG_FILE + 1)
            .read_to_string(&mut text)
            .map_err(|e| err(format!("cannot read: {e}")))?;
        if text.len() as u64 > MAX_CONFIG_FILE {
            return Err(err(format!("larger than {} MiB", MAX_CONFIG_FILE >> 20)));
        }
        Ok(text)
    }
}

impl fmt::Display for FileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(l) => write!(f, "{}:{l}: {}", self.path.display(), self.message),
            None => write!(f, "{}: {}", self.path.display(), self.message),
        }
    }
}

impl std::error::Error for FileError {}

/// Configuration files larger than this are refused (an inventory of ten million rows is
/// about 500 MiB).
pub const MAX_CONFIG_FILE: u64 = 1 << 30;

/// The 1-based line of a byte offset in `text` (for TOML spans).
pub fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset.min(text.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_regular_files_only() {
        let dir = std::env::temp_dir().join(format!("cordon-error-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let ok = dir.join("a.toml");
        std::fs::write(&ok, "x = 1\n").unwrap();
        assert_eq!(FileError::read(&ok).unwrap(), "x = 1\n");
        let not_regular = "not a regular file (a FIFO, device or folder)";
        assert_eq!(FileError::read(&dir).unwrap_err().message, not_regular);
        #[cfg(unix)]
        assert_eq!(
            FileError::read(Path::new("/dev/null")).unwrap_err().message,
            not_regular
        );
        let missing = FileError::read(&dir.join("missing.toml")).unwrap_err();
        assert!(missing.message.starts_with("cannot read: "), "{missing}");
        assert_eq!(missing.line, None);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn messages_name_file_and_line() {
        let p = Path::new("p.toml");
        assert_eq!(
            FileError::new(p, Some(3), "bad".into()).to_string(),
            "p.toml:3: bad"
        );
        assert_eq!(
            FileError::new(p, None, "bad".into()).to_string(),
            "p.toml: bad"
        );
        for (offset, line) in [(0, 1), (1, 1), (2, 2), (3, 2), (4, 3), (99, 3)] {
            assert_eq!(line_of("a\nb\nc", offset), line, "{offset}");
        }
    }
}
