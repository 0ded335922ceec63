//! Where the integration tests find the shared real-world corpus, in one place.
//!
//! The corpus is not in the repository: locally it is `/work/shared/corpus`, in CI a read-only
//! copy of `shared/` sits beside the clone. Tests that read it call [`corpus`] and return early
//! when it is absent, so a checkout without it still passes (and says what it skipped); they
//! never panic over a missing corpus and never write into it.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

/// The message printed to stderr by a test skipped for want of the corpus.
pub const SKIP: &str = "skipping: shared corpus not found (set CORDON_SHARED)";

/// The shared folder (the one holding `corpus/MANIFEST.md`), or `None`.
///
/// `CORDON_SHARED`, when set, is the only place looked at (it may name the shared folder or
/// the corpus inside it), so pointing it nowhere hides the corpus. Otherwise the folder beside
/// the clone (`<repo>/../shared`) or beside a worktree's parent (`<repo>/../../shared`).
pub fn shared() -> Option<PathBuf> {
    let candidates: Vec<PathBuf> = match std::env::var_os("CORDON_SHARED") {
        Some(s) => {
            let s = PathBuf::from(s);
            vec![s.clone(), s.join("..")]
        }
        None => {
            let here = Path::new(env!("CARGO_MANIFEST_DIR"));
            vec![
                here.join("../../../shared"),
                here.join("../../../../shared"),
            ]
        }
    };
    candidates
        .into_iter()
        .find(|p| p.join("corpus/MANIFEST.md").is_file())
}

/// The corpus folder (`<shared>/corpus`), or `None` after printing [`SKIP`] to stderr.
/// With `CORDON_REQUIRE_PEERS` set (CI sets it), a missing corpus fails the test instead.
pub fn corpus() -> Option<PathBuf> {
    let c = shared().map(|s| s.join("corpus"));
    if c.is_none() {
        skip(SKIP);
    }
    c
}

/// Says why a test does not run; fails it instead when `CORDON_REQUIRE_PEERS` is set, so
/// that CI, which installs every peer and has the corpus, cannot pass by skipping.
pub fn skip(why: &str) {
    if std::env::var_os("CORDON_REQUIRE_PEERS").is_some() {
        panic!("{why} (CORDON_REQUIRE_PEERS is set: nothing may be skipped)");
    }
    eprintln!("{why}");
}
