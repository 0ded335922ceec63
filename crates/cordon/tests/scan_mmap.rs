//! Inputs of a megabyte or more are mapped, smaller ones and `--no-mmap` read: the results
//! must not depend on which. A conn log made from the example's, repeated past the mapping
//! threshold (and past several decoding chunks), is scanned both ways.

mod common;

use common::{repo, stdout_of};
use std::process::Command;

fn scan(path: &std::path::Path, extra: &[&str]) -> Vec<String> {
    stdout_of(
        Command::new(env!("CARGO_BIN_EXE_cordon"))
            .args(["scan", "--format", "jsonl"])
            .args(extra)
            .arg(path),
    )
    .lines()
    // The summary says when the scan ran.
    .filter(|l| !l.contains(r#""type":"summary""#))
    .map(String::from)
    .collect()
}

#[test]
fn mapped_and_read_inputs_give_the_same_records() {
    let text = std::fs::read_to_string(repo().join("examples/zeek/conn.log")).unwrap();
    let (header, body): (Vec<&str>, Vec<&str>) = text.lines().partition(|l| l.starts_with('#'));
    let mut big = header.join("\n") + "\n";
    let body = body.join("\n") + "\n";
    // About 10 MB: mapped, and cut into several chunks.
    while big.len() < 10 << 20 {
        big.push_str(&body);
    }
    let dir = std::env::temp_dir().join(format!("cordon-mmap-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("conn.log");
    std::fs::write(&path, &big).unwrap();
    // A file written in the last minute is live and read, not mapped: age this one.
    let live = scan(&path, &[]);
    std::fs::File::options()
        .write(true)
        .open(&path)
        .unwrap()
        .set_modified(std::time::SystemTime::now() - std::time::Duration::from_secs(3600))
        .unwrap();
    let mapped = scan(&path, &[]);
    let read = scan(&path, &["--no-mmap"]);
    std::fs::remove_dir_all(&dir).ok();
    assert!(mapped.iter().any(|l| l.contains(r#""type":"exposure""#)));
    assert_eq!(mapped, read);
    assert_eq!(live, read);
}
