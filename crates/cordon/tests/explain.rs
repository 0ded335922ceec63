//! `cordon explain` against a table of targets and the companies expected behind them
//! (tests/data/explain.tsv), through the real binary and its JSON output, on the bundled
//! snapshot.

mod common;

use common::{json_lines, stdout_of};
use serde_json::Value;
use std::process::Command;

fn cordon() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_cordon"));
    // Never read a developer's imported table: the test is about the bundled snapshot.
    c.env(
        "CORDON_DATA_DIR",
        std::env::temp_dir().join("cordon-explain-test-empty"),
    );
    c.env_remove("CORDON_INTEL_DIR");
    c
}

#[test]
fn explain_table() {
    let table = include_str!("data/explain.tsv");
    let rows: Vec<Vec<&str>> = table
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| l.split('\t').collect())
        .collect();
    let targets: Vec<&str> = rows.iter().map(|r| r[0]).collect();
    let answers = json_lines(&stdout_of(
        cordon()
            .args(["explain", "--format", "json"])
            .args(&targets),
    ));
    assert_eq!(answers.len(), rows.len());
    let mut failures = Vec::new();
    for (row, ans) in rows.iter().zip(&answers) {
        let (target, entity, group, rel) =
            (row[0], row[1], row[2], row.get(3).copied().unwrap_or("-"));
        assert_eq!(ans["query"], target);
        let matches = ans["matches"].as_array().unwrap();
        if group == "-" {
            if !matches.is_empty() {
                failures.push(format!(
                    "{target}: expected no match, got {}",
                    ans["matches"]
                ));
            }
            continue;
        }
        let Some(m) = matches.first() else {
            failures.push(format!(
                "{target}: expected {group}, got no match ({})",
                ans["found"]
            ));
            continue;
        };
        let ok = (entity == "-" || m["entity"] == entity)
            && m["group"] == group
            && (rel == "-" || m["relationship"] == rel);
        if !ok {
            failures.push(format!(
                "{target}: expected {entity}/{group}/{rel}, got {}/{}/{}",
                m["entity"], m["group"], m["relationship"]
            ));
        }
        // Every match explains itself: a chain with sources, and designations with sources.
        assert!(
            !m["chain"].as_array().unwrap().is_empty(),
            "{target}: empty chain"
        );
        for d in m["designations"].as_array().unwrap() {
            assert!(
                d["source"].as_str().is_some_and(|s| s.starts_with("http")),
                "{target}: {d}"
            );
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} targets wrong:\n{}",
        failures.len(),
        rows.len(),
        failures.join("\n")
    );
}

#[test]
fn designations_reach_subsidiaries() {
    let out = cordon()
        .args(["explain", "--format", "json", "47.88.1.2"])
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let lists: Vec<&str> = v["matches"][0]["designations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["list"].as_str().unwrap())
        .collect();
    assert!(lists.contains(&"dod-1260h"), "{lists:?}");
    let prefix = v["found"]["prefix"].as_str().unwrap();
    assert!(prefix.starts_with("47.88."), "{prefix}");
}

#[test]
fn a_bad_target_is_named_and_the_others_answered() {
    let out = cordon()
        .args([
            "explain",
            "--format",
            "json",
            "47.88.1.2",
            "999.1.1.1",
            "no such thing!",
            "dji.com",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("\"999.1.1.1\""), "{stderr}");
    assert!(stderr.contains("\"no such thing!\""), "{stderr}");
    assert_eq!(stderr.lines().count(), 2, "{stderr}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let queries: Vec<String> = stdout
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["query"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(queries, ["47.88.1.2", "dji.com"]);
}

#[test]
fn text_output_has_no_colour_when_piped() {
    let out = cordon().args(["explain", "47.88.1.2"]).output().unwrap();
    let s = String::from_utf8(out.stdout).unwrap();
    assert!(
        s.contains("alibaba-cloud") && s.contains("dod-1260h"),
        "{s}"
    );
    assert!(!s.contains('\x1b'), "escape codes in piped output");
}
