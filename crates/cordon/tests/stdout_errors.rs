//! Standard output that cannot be written (a full disk, a reader that went away) is an error
//! like any other: exit status 2 with a message for a full disk, a quiet end for a closed
//! pipe, never a panic.

mod common;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

fn tempdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("cordon-stdout-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn cordon(data: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_cordon"));
    c.env("CORDON_DATA_DIR", data)
        .env_remove("CORDON_INTEL_DIR")
        .env("NO_COLOR", "1")
        .current_dir(data);
    c
}

fn findings(name: &str) -> String {
    common::repo()
        .join("crates/cordon/tests/data/findings")
        .join(name)
        .display()
        .to_string()
}

/// A small tree for `intel build`: the curated intel files, one range per address family
/// for an AS of concern, and IEEE registry files with one block.
fn build_inputs(dir: &Path) -> Vec<String> {
    let intel = dir.join("repo/intel");
    std::fs::create_dir_all(&intel).unwrap();
    for e in std::fs::read_dir(common::repo().join("intel")).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_file() {
            std::fs::copy(e.path(), intel.join(e.file_name())).unwrap();
        }
    }
    let v4 = dir.join("asn-ipv4.csv");
    std::fs::write(&v4, "47.88.0.0,47.89.255.255,45102,Alibaba\n").unwrap();
    let v6 = dir.join("asn-ipv6.csv");
    std::fs::write(
        &v6,
        "2400:3200::,2400:3200:ffff:ffff:ffff:ffff:ffff:ffff,37963,Alibaba\n",
    )
    .unwrap();
    let ieee = dir.join("ieee");
    std::fs::create_dir_all(&ieee).unwrap();
    let header = "Registry,Assignment,Organization Name,Organization Address\n";
    std::fs::write(
        ieee.join("oui.csv"),
        format!("{header}MA-L,00163E,\"Alibaba Cloud\",Hangzhou\n"),
    )
    .unwrap();
    for f in ["mam.csv", "oui36.csv"] {
        std::fs::write(ieee.join(f), header).unwrap();
    }
    [
        "intel",
        "build",
        "--repo",
        dir.join("repo").to_str().unwrap(),
        "--asn-v4",
        v4.to_str().unwrap(),
        "--asn-v6",
        v6.to_str().unwrap(),
        "--ieee-dir",
        ieee.to_str().unwrap(),
    ]
    .map(String::from)
    .to_vec()
}

/// Every command that prints to standard output, with what it needs in `dir`.
fn commands(dir: &Path) -> Vec<Vec<String>> {
    let csv = dir.join("asn.csv");
    std::fs::write(&csv, "8.8.8.0,8.8.8.255,15169,Google LLC\n").unwrap();
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    vec![
        s(&["intel", "status", "--format", "json"]),
        s(&["intel", "status"]),
        s(&[
            "intel",
            "import",
            csv.to_str().unwrap(),
            "--date",
            "2026-06-17",
        ]),
        s(&["intel", "reset"]),
        build_inputs(dir),
        s(&["report", &findings("new.jsonl"), "--md", "-"]),
        s(&["report", &findings("new.jsonl"), "--csv", "-"]),
        s(&["report", &findings("new.jsonl"), "--html", "-"]),
        s(&["diff", &findings("old.jsonl"), &findings("new.jsonl")]),
        s(&[
            "diff",
            &findings("old.jsonl"),
            &findings("new.jsonl"),
            "--format",
            "json",
        ]),
        s(&["policy", "check", &findings("policy.toml")]),
        s(&["explain", "47.88.1.2"]),
    ]
}

#[test]
fn commands_print_their_output() {
    // The commands below must each write something, or the other tests prove nothing.
    let dir = tempdir("ok");
    for args in commands(&dir) {
        let out = cordon(&dir).args(&args).output().unwrap();
        assert!(
            out.status.success() && !out.stdout.is_empty(),
            "{args:?}: {out:?}"
        );
    }
}

#[test]
fn full_disk_is_an_error_not_a_panic() {
    if !Path::new("/dev/full").exists() {
        eprintln!("no /dev/full here: skipped");
        return;
    }
    let dir = tempdir("full");
    for args in commands(&dir) {
        let full = std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .unwrap();
        let out = cordon(&dir).args(&args).stdout(full).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{args:?}: {err}");
        assert!(err.contains("cordon: error:"), "{args:?}: {err}");
    }
}

#[test]
fn closed_pipe_ends_quietly() {
    let dir = tempdir("pipe");
    for args in commands(&dir) {
        for _ in 0..3 {
            let mut child = cordon(&dir)
                .args(&args)
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap();
            // No reader from the start: the first write fails with EPIPE.
            drop(child.stdout.take());
            let mut err = String::new();
            child
                .stderr
                .take()
                .unwrap()
                .read_to_string(&mut err)
                .unwrap();
            let status = child.wait().unwrap();
            assert!(!err.contains("panicked"), "{args:?}: {err}");
            assert_eq!(status.code(), Some(0), "{args:?}: {err}");
        }
    }
}
