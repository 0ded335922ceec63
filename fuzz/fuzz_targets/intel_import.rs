//! `cordon intel import` and the stored table it writes, through the public API only
//! (`intel::store::parse_files` and `intel::store::read`; the parsers behind them,
//! `parse_text`, `parse_mmdb` and `decode`, are private), so each input is written to a
//! file in a scratch folder under /dev/shm (or the temporary folder), one per process;
//! folders left by earlier processes that are gone are removed at start.
//!
//! The first byte picks the entry point:
//! - even: the rest is a dataset file for `parse_files` (ip-location-db CSV, iptoasn TSV,
//!   or a MaxMind DB when it holds the metadata marker), judged by content;
//! - odd: the rest is the body of a stored table `ip-asn.bin`, framed here with the magic,
//!   format version 2 (or 1 when the byte is 3 mod 4, with a fixed `ip-asn.json` beside it)
//!   and the right FNV-1a checksum, so the decoder's structure is reached, and read back
//!   with `store::read`.
//!
//! Oracles: no panic; an accepted dataset has at least one range, every range starts at or
//! before its end; a stored table that is accepted satisfies the same checks as an import
//! (start not after end, AS number not 0, v2 ranges ordered and disjoint).
#![no_main]

use cordon::intel::store;
use libfuzzer_sys::fuzz_target;
use std::path::PathBuf;
use std::sync::OnceLock;

fn scratch() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let base = if std::path::Path::new("/dev/shm").is_dir() {
            PathBuf::from("/dev/shm")
        } else {
            std::env::temp_dir()
        };
        // Folders of earlier runs whose process is gone (libFuzzer exits without a hook).
        if let Ok(rd) = std::fs::read_dir(&base) {
            for e in rd.flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                if let Some(pid) = name.strip_prefix("cordon-fuzz-intel-") {
                    if !std::path::Path::new("/proc").join(pid).exists() {
                        let _ = std::fs::remove_dir_all(e.path());
                    }
                }
            }
        }
        let d = base.join(format!("cordon-fuzz-intel-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        d
    })
}

fn fnv1a(data: &[u8]) -> u64 {
    data.iter().fold(0xcbf29ce484222325u64, |h, &b| {
        (h ^ b as u64).wrapping_mul(0x100000001b3)
    })
}

const LEGACY_INFO: &str = r#"{"format":"iptoasn","files":["f.tsv"],"date":"2026-01-01","imported":"2026-01-02","v4_ranges":1,"v6_ranges":0,"asns":1}"#;

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    let dir = scratch();
    if sel % 2 == 0 {
        let f = dir.join("dataset");
        std::fs::write(&f, rest).unwrap();
        if let Ok((t, _format)) = store::parse_files(&[f]) {
            assert!(!t.v4.is_empty() || !t.v6.is_empty());
            assert!(t.v4.iter().all(|r| r.start <= r.end), "v4 range inverted");
            assert!(t.v6.iter().all(|r| r.start <= r.end), "v6 range inverted");
        }
        return;
    }
    let version: u32 = if sel % 4 == 3 { 1 } else { 2 };
    let mut file = b"CORDONIP".to_vec();
    file.extend_from_slice(&version.to_le_bytes());
    file.extend_from_slice(&fnv1a(rest).to_le_bytes());
    file.extend_from_slice(rest);
    std::fs::write(dir.join("ip-asn.bin"), &file).unwrap();
    let info = dir.join("ip-asn.json");
    if version == 1 {
        std::fs::write(&info, LEGACY_INFO).unwrap();
    } else {
        let _ = std::fs::remove_file(&info);
    }
    if let Ok(Some((_info, t))) = store::read(dir) {
        for (i, r) in t.v4.iter().enumerate() {
            assert!(r.start <= r.end && r.asn != 0, "v4 range {i}: {r:?}");
            if version == 2 && i > 0 {
                assert!(t.v4[i - 1].end < r.start, "v4 ranges {i}");
            }
        }
        for (i, r) in t.v6.iter().enumerate() {
            assert!(r.start <= r.end && r.asn != 0, "v6 range {i}: {r:?}");
            if version == 2 && i > 0 {
                assert!(t.v6[i - 1].end < r.start, "v6 ranges {i}");
            }
        }
    }
});
