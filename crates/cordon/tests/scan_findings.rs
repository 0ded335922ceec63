//! `cordon scan` with an asset inventory, waivers and `--fail-on` on the bundled office
//! capture: every exposed asset gets a finding and no benign asset does; the payment
//! terminal's and the covered camera's findings are high or critical; `--fail-on high` exits
//! 1 and no `--fail-on` exits 0; an active waiver waives, an expired one does not and is
//! listed in the summary.

mod common;

use common::{json_lines, repo};
use serde_json::Value;
use std::process::{Command, Output};

fn scan(extra: &[&str]) -> Output {
    let data = std::env::temp_dir().join(format!("cordon-scan-findings-{}", std::process::id()));
    let d = repo().join("crates/cordon/tests/data/office");
    Command::new(env!("CARGO_BIN_EXE_cordon"))
        .env("CORDON_DATA_DIR", &data)
        .args(["scan", "--format", "jsonl", "--assets"])
        .arg(d.join("assets.csv"))
        .arg("--waivers")
        .arg(d.join("waivers.toml"))
        .args(extra)
        .arg(repo().join("examples/office.pcap"))
        .output()
        .unwrap()
}

fn records(out: &Output) -> Vec<Value> {
    json_lines(&String::from_utf8_lossy(&out.stdout))
}

#[test]
fn findings_waivers_and_exit_status() {
    let out = scan(&[]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let recs = records(&out);
    let findings: Vec<&Value> = recs.iter().filter(|r| r["type"] == "finding").collect();
    let by_asset = |a: &str| -> Vec<&Value> {
        findings
            .iter()
            .copied()
            .filter(|f| f["asset"] == a)
            .collect()
    };

    // Every exposed asset and covered device has a finding; the benign ones have none.
    for asset in [
        "10.20.1.23",
        "10.20.1.42",
        "10.20.5.17",
        "10.20.2.8",
        "fd00::2:8",
        "44:19:b6:3a:7c:01",
        "50:c7:bf:12:34:56",
    ] {
        assert!(!by_asset(asset).is_empty(), "no finding for {asset}");
    }
    for benign in [
        "10.20.3.33",
        "10.20.4.52",
        "10.20.4.51",
        "04:79:75:5e:21:09",
    ] {
        assert!(
            by_asset(benign).is_empty(),
            "benign {benign} flagged: {:?}",
            by_asset(benign)
        );
    }
    let high = |f: &&Value| f["severity"] == "high" || f["severity"] == "critical";
    let terminal = by_asset("10.20.1.23");
    assert!(terminal.iter().all(high), "payment terminal: {terminal:?}");
    assert_eq!(terminal[0]["asset_name"], "payment-terminal-1");
    assert!(by_asset("10.20.5.17").iter().all(high), "camera exposure");
    assert!(
        by_asset("44:19:b6:3a:7c:01").iter().all(high),
        "camera device"
    );

    // The active waiver waives; the expired one does not, and is listed.
    assert!(by_asset("10.20.2.8").iter().all(|f| f["waived"] == true));
    assert!(by_asset("fd00::2:8").iter().all(|f| f["waived"] == false));
    let summary = recs.last().unwrap();
    assert_eq!(summary["type"], "summary");
    let expired = summary["expired_waivers"].as_array().unwrap();
    assert_eq!(expired.len(), 1, "{expired:?}");
    assert_eq!(expired[0]["group"], "china-unicom");
    assert_eq!(
        summary["findings"].as_u64().unwrap() as usize,
        findings.len()
    );

    // Ids are stable across runs.
    let again = records(&scan(&[]));
    let ids = |r: &[Value]| {
        let mut v: Vec<String> = r
            .iter()
            .filter(|x| x["type"] == "finding")
            .map(|x| x["id"].as_str().unwrap().to_string())
            .collect();
        v.sort();
        v
    };
    assert_eq!(ids(&recs), ids(&again));
}

#[test]
fn fail_on_gates_the_exit_status() {
    assert_eq!(scan(&["--fail-on", "high"]).status.code(), Some(1));
    // At `critical`, the exit status follows whether an unwaived critical finding exists.
    let out = scan(&["--fail-on", "critical"]);
    let critical = records(&out)
        .iter()
        .any(|r| r["type"] == "finding" && r["severity"] == "critical" && r["waived"] == false);
    assert_eq!(out.status.code(), Some(if critical { 1 } else { 0 }));
    // Without an inventory, nothing in the office's flow table is critical: exit 0.
    let out = Command::new(env!("CARGO_BIN_EXE_cordon"))
        .args(["scan", "--format", "jsonl", "--fail-on", "critical"])
        .arg(repo().join("examples/flows.csv"))
        .output()
        .unwrap();
    let recs = records(&out);
    let any_critical = recs
        .iter()
        .any(|r| r["type"] == "finding" && r["severity"] == "critical");
    assert!(!any_critical, "no inventory: nothing is critical");
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn a_malformed_inventory_refuses_the_scan_before_it_starts() {
    let dir = std::env::temp_dir().join(format!("cordon-bad-assets-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bad = dir.join("assets.csv");
    std::fs::write(&bad, "cidr,name\n10.20.0.0/33,broken\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_cordon"))
        .args(["scan", "--assets"])
        .arg(&bad)
        .arg(repo().join("examples/office.pcap"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("assets.csv:2"), "{err}");
    assert!(
        out.stdout.is_empty(),
        "nothing scanned: {}",
        String::from_utf8_lossy(&out.stdout)
    );
}
