//! Helpers shared by the integration tests. Each `tests/*.rs` file is a crate of its own
//! and uses the part it needs (`mod common;`).
#![allow(dead_code)]

pub mod daemon;

use serde_json::Value;
use std::path::PathBuf;
use std::process::Command;

/// The repository's root, where `examples/` and `intel/` are.
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Runs `cmd` and returns its standard output; fails the test, with the command's standard
/// error, unless it succeeded.
pub fn stdout_of(cmd: &mut Command) -> String {
    let out = cmd.output().expect("the command runs");
    assert!(
        out.status.success(),
        "{:?} failed: {}",
        cmd,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8 output")
}

/// The records of JSONL text, one per line.
pub fn json_lines(text: &str) -> Vec<Value> {
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

/// Says why a test does not run; fails it instead when `CORDON_REQUIRE_PEERS` is set, so
/// that CI, which installs every peer, cannot pass by skipping.
pub fn skip(why: &str) {
    if std::env::var_os("CORDON_REQUIRE_PEERS").is_some() {
        panic!("{why} (CORDON_REQUIRE_PEERS is set: nothing may be skipped)");
    }
    eprintln!("{why}");
}

/// True when `tool` is on the PATH.
pub fn installed(tool: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .stdout(std::process::Stdio::null())
        .status()
        .is_ok_and(|st| st.success())
}

/// A UDP port on 127.0.0.1 that was free a moment ago.
pub fn free_udp_port() -> u16 {
    std::net::UdpSocket::bind("127.0.0.1:0")
        .and_then(|s| s.local_addr())
        .map(|a| a.port())
        .expect("bind a UDP port on 127.0.0.1")
}
