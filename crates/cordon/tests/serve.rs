//! `cordon serve` end to end: the real binary, fed by softflowd on loopback.
//!
//! - the daemon's exposures and findings equal `cordon scan`'s of the same export datagrams
//!   (same engine, same answers), NetFlow v9 and IPFIX;
//! - one alert per new finding, none again while it stays open;
//! - `kill -9` and restart: the store opens, what was committed is there, the exporter's
//!   templates are reused (data-only datagrams decode at once);
//! - a full queue drops and counts: received + dropped = sent;
//! - configuration errors name the key; a token guards a non-loopback API; reload swaps
//!   or keeps the snapshot;
//! - acceptance: captures the other tests never use (from `../shared/corpus`), an indicator
//!   folder, an asset inventory and an inline-table configuration, alerting a real receiver
//!   (adnanh's `webhook`, Debian `webhook`) that checks the HMAC signature and a header from
//!   `headers_file` and refuses forged POSTs; then an acknowledgement through the API.
//!
//! Needs softflowd (Debian `softflowd`) and, for the acceptance test, `webhook` and the
//! shared corpus; without them those tests say "skipping" and pass, unless
//! `CORDON_REQUIRE_PEERS` is set. Every socket is on 127.0.0.1; every process
//! the tests start is stopped by PID; every wait is bounded.

mod common;

use common::daemon::*;

use serde_json::Value;
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// `cordon scan --format jsonl` of the datagrams, back to back in one file.
fn scan_of(datagrams: &[Vec<u8>], dir: &Path) -> Vec<Value> {
    let raw = dir.join("export.dat");
    std::fs::write(&raw, datagrams.concat()).unwrap();
    let out = common::stdout_of(
        Command::new(env!("CARGO_BIN_EXE_cordon"))
            .env("CORDON_DATA_DIR", dir.join("data"))
            .args(["scan", "--format", "jsonl"])
            .arg(&raw)
            .args(["--internal", "10.0.0.0/8", "fd00::/8"]),
    );
    common::json_lines(&out)
}

type ExposureKey = (String, String, String);

fn exposures_of<'a>(
    records: impl Iterator<Item = &'a Value>,
) -> BTreeMap<ExposureKey, (u64, u64, u64)> {
    records
        .map(|e| {
            (
                (
                    e["asset"].as_str().unwrap().to_string(),
                    e["entity"].as_str().unwrap().to_string(),
                    e["relationship"].as_str().unwrap().to_string(),
                ),
                (
                    e["flows"].as_u64().unwrap(),
                    e["bytes_out"].as_u64().unwrap(),
                    e["bytes_in"].as_u64().unwrap(),
                ),
            )
        })
        .collect()
}

type FindingFacts = (String, String, String, bool, u64, u64);

fn findings_of<'a>(records: impl Iterator<Item = &'a Value>) -> BTreeMap<String, FindingFacts> {
    records
        .map(|f| {
            (
                f["id"].as_str().unwrap().to_string(),
                (
                    f["rule"].as_str().unwrap().to_string(),
                    f["severity"].as_str().unwrap().to_string(),
                    f["asset"].as_str().unwrap().to_string(),
                    f["waived"].as_bool().unwrap(),
                    f["flows"].as_u64().unwrap(),
                    f["bytes_out"].as_u64().unwrap(),
                ),
            )
        })
        .collect()
}

/// Flow records in NetFlow v9 / IPFIX datagrams: the v9 header's count minus template
/// records is not reliable, so data records are counted by walking the sets with the
/// templates seen.
fn data_records(datagrams: &[Vec<u8>]) -> u64 {
    let mut templates: BTreeMap<u16, usize> = BTreeMap::new();
    let mut n = 0u64;
    for d in datagrams {
        let v = u16::from_be_bytes([d[0], d[1]]);
        let (mut at, tmpl_id) = if v == 9 { (20, 0) } else { (16, 2) };
        while at + 4 <= d.len() {
            let id = u16::from_be_bytes([d[at], d[at + 1]]);
            let len = u16::from_be_bytes([d[at + 2], d[at + 3]]) as usize;
            if len < 4 || at + len > d.len() {
                break;
            }
            let body = &d[at + 4..at + len];
            if id == tmpl_id {
                let mut p = 0;
                while p + 4 <= body.len() {
                    let tid = u16::from_be_bytes([body[p], body[p + 1]]);
                    let count = u16::from_be_bytes([body[p + 2], body[p + 3]]) as usize;
                    let mut size = 0;
                    let mut q = p + 4;
                    for _ in 0..count {
                        let ty = u16::from_be_bytes([body[q], body[q + 1]]);
                        let flen = u16::from_be_bytes([body[q + 2], body[q + 3]]) as usize;
                        size += flen;
                        q += if ty & 0x8000 != 0 && v == 10 { 8 } else { 4 };
                    }
                    templates.insert(tid, size);
                    p = q;
                }
            } else if id >= 256 {
                if let Some(&size) = templates.get(&id) {
                    n += (body.len() / size) as u64;
                }
            }
            at += len;
        }
    }
    n
}

/// The datagrams with their template sets taken out (and data sets kept), as an exporter
/// sends between template refreshes.
fn data_only(datagrams: &[Vec<u8>]) -> Vec<Vec<u8>> {
    datagrams
        .iter()
        .filter_map(|d| {
            let v = u16::from_be_bytes([d[0], d[1]]);
            let head = if v == 9 { 20 } else { 16 };
            let mut out = d[..head].to_vec();
            let mut at = head;
            let mut kept = 0;
            while at + 4 <= d.len() {
                let id = u16::from_be_bytes([d[at], d[at + 1]]);
                let len = u16::from_be_bytes([d[at + 2], d[at + 3]]) as usize;
                if len < 4 || at + len > d.len() {
                    break;
                }
                if id >= 256 {
                    out.extend_from_slice(&d[at..at + len]);
                    kept += 1;
                }
                at += len;
            }
            if kept == 0 {
                return None;
            }
            if v == 10 {
                let l = out.len() as u16;
                out[2..4].copy_from_slice(&l.to_be_bytes());
            }
            Some(out)
        })
        .collect()
}

fn same_answers(version: &str) {
    let Some(datagrams) = softflowd_datagrams(version) else {
        return;
    };
    let dir = temp_dir(&format!("same-{version}"));
    let scan = scan_of(&datagrams, &dir);
    let want_x = exposures_of(scan.iter().filter(|r| r["type"] == "exposure"));
    let want_f = findings_of(scan.iter().filter(|r| r["type"] == "finding"));
    assert!(want_x.len() >= 3, "the scan found {want_x:?}");
    assert!(!want_f.is_empty());
    let alerts = dir.join("alerts.jsonl");
    let hook = Hook::start();
    let mut d = Daemon::start(
        &dir,
        &format!(
            "[[alert]]\nfile = \"{}\"\nmin_severity = \"info\"\n\
             [[alert]]\nwebhook = \"http://127.0.0.1:{}/hook\"\nmin_severity = \"medium\"\n",
            alerts.display(),
            hook.port
        ),
        1024,
    );
    d.send(&datagrams);
    let records = data_records(&datagrams);
    let s = d.wait_ingested(records);
    assert_eq!(s["collectors"][0]["flows_received"], records, "{s}");
    let x = get_json(d.http, "/api/v1/exposures?limit=1000");
    let got_x = exposures_of(x["exposures"].as_array().unwrap().iter());
    assert_eq!(got_x, want_x, "serve vs scan: exposures");
    let f = get_json(d.http, "/api/v1/findings?limit=1000");
    let list = f["findings"].as_array().unwrap();
    assert_eq!(findings_of(list.iter()), want_f, "serve vs scan: findings");
    assert!(list.iter().all(|f| f["status"] == "new"), "{f}");

    // One alert per new finding, delivered to the file.
    let deadline = Instant::now() + Duration::from_secs(20);
    let read_alerts = || -> Vec<Value> {
        std::fs::read_to_string(&alerts)
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    };
    while read_alerts().len() < want_f.len() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    let sent = read_alerts();
    let ids: Vec<&str> = sent
        .iter()
        .map(|a| a["finding"]["id"].as_str().unwrap())
        .collect();
    let unique: std::collections::BTreeSet<&str> = ids.iter().copied().collect();
    assert_eq!(ids.len(), unique.len(), "one alert per finding: {ids:?}");
    assert_eq!(
        unique,
        want_f.keys().map(String::as_str).collect(),
        "an alert for each new finding"
    );

    // The webhook takes only medium and above, each once.
    let want_hook: std::collections::BTreeSet<&str> = want_f
        .iter()
        .filter(|(_, f)| f.1 == "medium" || f.1 == "high" || f.1 == "critical")
        .map(|(id, _)| id.as_str())
        .collect();
    assert!(
        !want_hook.is_empty() && want_hook.len() < want_f.len(),
        "{want_f:?}"
    );
    while hook.received().len() < want_hook.len() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    let posted = hook.received();
    let posted_ids: Vec<String> = posted
        .iter()
        .map(|a| a["finding"]["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        posted_ids
            .iter()
            .map(String::as_str)
            .collect::<std::collections::BTreeSet<_>>(),
        want_hook,
        "webhook: {posted:?}"
    );
    assert_eq!(posted_ids.len(), want_hook.len(), "one POST per finding");
    assert!(posted
        .iter()
        .all(|a| a["type"] == "alert" && a["transition"] == "new"));

    // The same traffic again: counts double, findings are ongoing, no alert is sent again.
    d.send(&datagrams);
    d.wait_ingested(2 * records);
    let x = get_json(d.http, "/api/v1/exposures?limit=1000");
    let doubled: BTreeMap<_, _> = want_x
        .iter()
        .map(|(k, (f, o, i))| (k.clone(), (2 * f, 2 * o, 2 * i)))
        .collect();
    assert_eq!(
        exposures_of(x["exposures"].as_array().unwrap().iter()),
        doubled
    );
    let f = get_json(d.http, "/api/v1/findings?status=ongoing&limit=1000");
    assert_eq!(f["findings"].as_array().unwrap().len(), want_f.len(), "{f}");
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(read_alerts().len(), want_f.len(), "no second alert");
    assert_eq!(hook.received().len(), want_hook.len(), "no second POST");
    let m = http(d.http, "GET", "/metrics", None, None).1;
    assert!(
        m.contains(&format!(
            "cordon_alerts_sent_total{{destination=\"webhook:127.0.0.1:{}\"}} {}",
            hook.port,
            want_hook.len()
        )),
        "{m}"
    );
    assert_eq!(d.stop(), 0, "clean stop: {}", d.log());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn serve_answers_as_scan_netflow_v9() {
    same_answers("9");
}

#[test]
fn serve_answers_as_scan_ipfix() {
    same_answers("10");
}

#[test]
fn kill_9_keeps_the_store_and_the_templates() {
    let Some(datagrams) = softflowd_datagrams("9") else {
        return;
    };
    let dir = temp_dir("kill9");
    let records = data_records(&datagrams);
    let mut d = Daemon::start(&dir, "", 1024);
    d.send(&datagrams);
    d.wait_ingested(records);
    let before = get_json(d.http, "/api/v1/exposures?limit=1000");
    let before = exposures_of(before["exposures"].as_array().unwrap().iter());
    assert!(!before.is_empty());
    d.kill9();
    // The same folder, the same ports: templates come back from the store, so data sets
    // alone decode at once.
    d.spawn();
    let data = data_only(&datagrams);
    assert!(
        data.len() < datagrams.len() || data.iter().zip(&datagrams).any(|(a, b)| a.len() < b.len()),
        "softflowd's datagrams carry templates to strip"
    );
    d.send(&data);
    let s = d.wait_ingested(records);
    assert_eq!(s["collectors"][0]["flows_received"], records, "{s}");
    assert_eq!(
        s["collectors"][0]["anomalies"],
        serde_json::json!({}),
        "{s}"
    );
    let after = get_json(d.http, "/api/v1/exposures?limit=1000");
    let after = exposures_of(after["exposures"].as_array().unwrap().iter());
    let doubled: BTreeMap<_, _> = before
        .iter()
        .map(|(k, (f, o, i))| (k.clone(), (2 * f, 2 * o, 2 * i)))
        .collect();
    assert_eq!(
        after, doubled,
        "what was committed before kill -9 is kept, and added to"
    );

    // A kill at any moment: the store opens each time and never goes back.
    let mut last: u64 = after.values().map(|v| v.0).sum();
    for round in 0..5u64 {
        d.kill9();
        d.spawn();
        let sender = {
            let port = d.netflow;
            let data = data.clone();
            std::thread::spawn(move || {
                let s = UdpSocket::bind("127.0.0.1:0").unwrap();
                for _ in 0..40 {
                    for x in &data {
                        let _ = s.send_to(x, ("127.0.0.1", port));
                    }
                    std::thread::sleep(Duration::from_millis(10));
                }
            })
        };
        std::thread::sleep(Duration::from_millis(150 + 97 * round));
        d.kill9();
        sender.join().unwrap();
        d.spawn();
        let x = get_json(d.http, "/api/v1/exposures?limit=1000");
        let total: u64 = exposures_of(x["exposures"].as_array().unwrap().iter())
            .values()
            .map(|v| v.0)
            .sum();
        assert!(
            total >= last,
            "round {round}: flows went back from {last} to {total}"
        );
        last = total;
    }
    assert_eq!(d.stop(), 0);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_full_queue_drops_and_counts_exactly() {
    let Some(datagrams) = softflowd_datagrams("10") else {
        return;
    };
    let dir = temp_dir("drops");
    // One batch in the queue at most, and a burst far beyond what a tick takes.
    let mut d = Daemon::start(&dir, "", 1);
    let records = data_records(&datagrams);
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    let rounds = 400u64;
    for _ in 0..rounds {
        for x in &datagrams {
            s.send_to(x, ("127.0.0.1", d.netflow)).unwrap();
        }
    }
    let sent = rounds * records;
    let deadline = Instant::now() + Duration::from_secs(30);
    let st = loop {
        let st = d.status();
        let c = &st["collectors"][0];
        let got = c["flows_received"].as_u64().unwrap()
            + c["dropped"]["queue-full"].as_u64().unwrap_or(0);
        if got >= sent || Instant::now() > deadline {
            break st;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let c = &st["collectors"][0];
    let kernel = c["datagrams_dropped_kernel"].as_u64().unwrap_or(0);
    assert_eq!(
        kernel, 0,
        "the socket buffer overflowed; counts cannot be exact: {st}"
    );
    assert_eq!(
        c["flows_received"].as_u64().unwrap() + c["dropped"]["queue-full"].as_u64().unwrap_or(0),
        sent,
        "received + dropped = sent: {st}"
    );
    let m = http(d.http, "GET", "/metrics", None, None).1;
    assert!(
        m.lines()
            .any(|l| l.starts_with("cordon_records_dropped_total{") && l.contains("queue-full")),
        "{m}"
    );
    assert_eq!(d.stop(), 0);
    let _ = std::fs::remove_dir_all(&dir);
}

fn check_config(dir: &Path, text: &str) -> (bool, String) {
    let p = dir.join("check.toml");
    std::fs::write(&p, text).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_cordon"))
        .env("CORDON_DATA_DIR", dir.join("data"))
        .args(["serve", "--check-config"])
        .arg(&p)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr),
    )
}

#[test]
fn check_config_names_what_is_wrong() {
    let dir = temp_dir("check");
    let (ok, out) = check_config(&dir, "[store]\npath = \"var\"\n");
    assert!(ok, "{out}");
    assert!(
        out.contains("retention_days = 90"),
        "defaults printed: {out}"
    );
    let (ok, out) = check_config(&dir, "[store]\npaht = \"var\"\n");
    assert!(!ok && out.contains("paht"), "{out}");
    let (ok, out) = check_config(&dir, "[http]\nlisten = \"0.0.0.0:8470\"\n");
    assert!(!ok && out.contains("token_file"), "{out}");
    let (ok, out) = check_config(&dir, "[[alert]]\nfile = \"a\"\nsyslog = true\n");
    assert!(!ok && out.contains("exactly one"), "{out}");
    let (ok, out) = check_config(&dir, "[[alert]]\nwebhook = \"ftp://x\"\n");
    assert!(!ok && out.contains("http://"), "{out}");
    let (ok, out) = check_config(&dir, "[judge]\nwaivers = \"missing.toml\"\n");
    assert!(!ok && out.contains("missing.toml"), "{out}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_token_guards_the_api() {
    let dir = temp_dir("token");
    let token = "s3cret-token-for-the-test-0123456789";
    std::fs::write(dir.join("token"), format!("{token}\n")).unwrap();
    let mut d = Daemon::start(&dir, "", 16);
    // Loopback with a token file: the token is required.
    d.stop();
    let text = std::fs::read_to_string(&d.config).unwrap().replace(
        "[http]\n",
        &format!("[http]\ntoken_file = \"{}\"\n", dir.join("token").display()),
    );
    std::fs::write(&d.config, text).unwrap();
    d.spawn();
    assert_eq!(http(d.http, "GET", "/healthz", None, None).0, 200);
    assert_eq!(http(d.http, "GET", "/api/v1/status", None, None).0, 401);
    assert_eq!(http(d.http, "GET", "/metrics", Some("wrong"), None).0, 401);
    let (st, body) = http(d.http, "GET", "/api/v1/status", Some(token), None);
    assert_eq!(st, 200, "{body}");
    assert!(!d.log().contains(token), "the token is never logged");
    assert_eq!(d.stop(), 0);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn reload_swaps_or_keeps_the_snapshot() {
    let dir = temp_dir("reload");
    let waivers = dir.join("waivers.toml");
    std::fs::write(&waivers, "").unwrap();
    let mut d = Daemon::start(&dir, &format!("waivers = \"{}\"\n", waivers.display()), 16);
    let g0 = d.status()["snapshot"]["generation"].as_u64().unwrap();
    let (st, body) = http(d.http, "POST", "/api/v1/reload", None, Some(""));
    assert_eq!(st, 200, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["generation"].as_u64(), Some(g0 + 1), "{v}");
    assert!(
        v["took_ms"].as_u64().unwrap() < 1000,
        "swap under a second: {v}"
    );
    // A broken waivers file: refused, the running snapshot stays.
    std::fs::write(&waivers, "[[waiver]]\nthis is not toml").unwrap();
    let (st, body) = http(d.http, "POST", "/api/v1/reload", None, Some(""));
    assert_eq!(st, 422, "{body}");
    assert!(body.contains("waivers.toml"), "{body}");
    let s = d.status();
    assert_eq!(s["snapshot"]["generation"].as_u64(), Some(g0 + 1), "{s}");
    assert_eq!(s["snapshot"]["reloads"]["failed"], 1, "{s}");
    // SIGHUP reloads too.
    std::fs::write(&waivers, "").unwrap();
    let pid = d.child.as_ref().unwrap().id();
    let _ = Command::new("kill")
        .args(["-HUP", &pid.to_string()])
        .status();
    let deadline = Instant::now() + Duration::from_secs(20);
    while d.status()["snapshot"]["generation"].as_u64() != Some(g0 + 2) {
        assert!(
            Instant::now() < deadline,
            "SIGHUP did not reload: {}",
            d.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(d.stop(), 0);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_api_refuses_bad_queries_and_serves_its_description() {
    let dir = temp_dir("api");
    let mut d = Daemon::start(&dir, "", 16);
    for bad in [
        "/api/v1/findings?status=bogus",
        "/api/v1/findings?severity=urgent",
        "/api/v1/findings?limit=0",
        "/api/v1/findings?since=yesterday",
        "/api/v1/findings?colour=red",
        "/api/v1/findings/nothex",
    ] {
        let (st, body) = http(d.http, "GET", bad, None, None);
        assert_eq!(st, 400, "{bad}: {body}");
    }
    assert_eq!(
        http(
            d.http,
            "GET",
            "/api/v1/findings/0123456789abcdef",
            None,
            None
        )
        .0,
        404
    );
    let (st, _) = http(
        d.http,
        "POST",
        "/api/v1/findings/0123456789abcdef/ack",
        None,
        Some(&format!("{{\"note\": \"{}\"}}", "x".repeat(200_000))),
    );
    assert_eq!(st, 413, "body limit");
    let spec = get_json(d.http, "/api/v1/openapi.json");
    assert_eq!(spec["openapi"], "3.1.0");
    for p in [
        "/api/v1/findings",
        "/api/v1/findings/{id}/ack",
        "/api/v1/trend",
        "/metrics",
    ] {
        assert!(spec["paths"].get(p).is_some(), "{p} described");
    }
    let e = get_json(d.http, "/api/v1/entities/alibaba-cloud");
    assert!(e.to_string().contains("alibaba"), "{e}");
    let t = get_json(d.http, "/api/v1/trend?days=7");
    assert!(t["findings"].is_array(), "{t}");
    assert_eq!(d.stop(), 0);
    let _ = std::fs::remove_dir_all(&dir);
}

/// A Zeek folder followed live: lines appended while the daemon runs, while it is killed
/// (-9) and after it restarts are each counted once, and the totals equal a scan of the
/// whole log.
#[test]
fn a_zeek_follower_resumes_at_its_offset_after_kill_9() {
    let dir = temp_dir("zeek");
    let logs = dir.join("current");
    std::fs::create_dir_all(&logs).unwrap();
    let full = std::fs::read_to_string(examples().join("zeek/conn.log")).unwrap();
    let (header, body): (Vec<&str>, Vec<&str>) = full.lines().partition(|l| l.starts_with('#'));
    let header: Vec<&str> = header
        .into_iter()
        .filter(|l| !l.starts_with("#close"))
        .collect();
    assert!(body.len() > 20, "the example log has lines to split");
    let conn = logs.join("conn.log");
    let write = |lines: &[&str], append: bool| {
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(append)
            .write(true)
            .truncate(!append)
            .open(&conn)
            .unwrap();
        for l in lines {
            writeln!(f, "{l}").unwrap();
        }
    };
    let third = body.len() / 3;
    write(&header, false);
    write(&body[..third], true);
    // A partial line at the end is not read until it is complete.
    let (cut, rest) = body[third].split_at(body[third].len() / 2);
    write!(
        std::fs::OpenOptions::new()
            .append(true)
            .open(&conn)
            .unwrap(),
        "{cut}"
    )
    .unwrap();
    let mut d = Daemon::start(
        &dir,
        &format!(
            "[[collect.zeek]]\npath = \"{}\"\npoll_ms = 50\n",
            logs.display()
        ),
        16,
    );
    let zeek = |d: &Daemon| -> Value {
        let s = d.status();
        s["collectors"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["kind"] == "zeek")
            .cloned()
            .unwrap()
    };
    let wait_lines = |d: &Daemon, n: u64| {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let z = zeek(d);
            if z["flows_received"].as_u64() >= Some(n) && z["queue_depth"] == 0 {
                std::thread::sleep(Duration::from_millis(1300));
                return zeek(d);
            }
            assert!(
                Instant::now() < deadline,
                "read {z} of {n} flows: {}",
                d.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    };
    let z = wait_lines(&d, third as u64);
    // Each body line of conn.log is one flow.
    assert_eq!(
        z["flows_received"], third as u64,
        "the partial line waits: {z}"
    );
    assert_eq!(z["flows_ingested"], third as u64, "{z}");
    // The rest of the line and a second third, then kill -9.
    writeln!(
        std::fs::OpenOptions::new()
            .append(true)
            .open(&conn)
            .unwrap(),
        "{rest}"
    )
    .unwrap();
    write(&body[third + 1..2 * third], true);
    wait_lines(&d, 2 * third as u64);
    d.kill9();
    // Lines written while it is down are read after the restart, and nothing twice.
    write(&body[2 * third..], true);
    d.spawn();
    let z = wait_lines(&d, (body.len() - 2 * third) as u64);
    assert_eq!(
        z["flows_received"],
        (body.len() - 2 * third) as u64,
        "resumed at the stored offset: {z}"
    );
    let x = get_json(d.http, "/api/v1/exposures?limit=1000");
    let got = exposures_of(x["exposures"].as_array().unwrap().iter());
    let scan_out = common::stdout_of(
        Command::new(env!("CARGO_BIN_EXE_cordon"))
            .env("CORDON_DATA_DIR", dir.join("data"))
            .args(["scan", "--format", "jsonl"])
            .arg(&conn)
            .args(["--internal", "10.0.0.0/8", "fd00::/8"]),
    );
    let scan = common::json_lines(&scan_out);
    let want = exposures_of(scan.iter().filter(|r| r["type"] == "exposure"));
    assert!(!want.is_empty());
    assert_eq!(
        got, want,
        "every line counted once: serve vs scan of the whole log"
    );
    assert_eq!(d.stop(), 0);
    let _ = std::fs::remove_dir_all(&dir);
}

// ---------------------------------------------------------------------------------------
// Captures the project did not make: real exporters' datagrams from the shared corpus
// (akvorado's test data, read in place, never copied), with nfdump's decoding as the answer.

fn corpus() -> Option<PathBuf> {
    let dir = std::env::var_os("CORDON_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| common::repo().join("../shared"))
        .join("corpus");
    if dir.is_dir() {
        Some(dir)
    } else {
        common::skip(&format!(
            "skipping: the shared corpus is not at {} (set CORDON_SHARED)",
            dir.display()
        ));
        None
    }
}

/// The UDP payloads of a classic pcap (Ethernet, raw IP, Linux cooked), in order.
fn udp_payloads(file: &[u8]) -> Vec<Vec<u8>> {
    let le = match &file[..4] {
        [0xd4, 0xc3, 0xb2, 0xa1] | [0x4d, 0x3c, 0xb2, 0xa1] => true,
        [0xa1, 0xb2, 0xc3, 0xd4] | [0xa1, 0xb2, 0x3c, 0x4d] => false,
        m => panic!("not a classic pcap: {m:02x?}"),
    };
    let u32at = |i: usize| {
        let a: [u8; 4] = file[i..i + 4].try_into().unwrap();
        if le {
            u32::from_le_bytes(a)
        } else {
            u32::from_be_bytes(a)
        }
    };
    let link = u32at(20);
    let mut out = Vec::new();
    let mut pos = 24;
    while pos + 16 <= file.len() {
        let caplen = u32at(pos + 8) as usize;
        let frame = &file[pos + 16..(pos + 16 + caplen).min(file.len())];
        pos += 16 + caplen;
        let mut at = match link {
            1 => {
                let mut ty = u16::from_be_bytes([frame[12], frame[13]]);
                let mut at = 14;
                while ty == 0x8100 || ty == 0x88a8 {
                    ty = u16::from_be_bytes([frame[at + 2], frame[at + 3]]);
                    at += 4;
                }
                at
            }
            113 => 16,
            101 | 12 | 14 => 0,
            other => panic!("link type {other}"),
        };
        let ip = &frame[at..];
        let (proto, l4) = match ip[0] >> 4 {
            4 => (ip[9], (ip[0] & 0x0f) as usize * 4),
            6 => (ip[6], 40),
            _ => continue,
        };
        if proto != 17 {
            continue;
        }
        at = l4 + 8;
        out.push(ip[at..].to_vec());
    }
    out
}

/// nfdump's flow count in one of the corpus answer files (CSV lines before `Summary`).
fn nfdump_flows(corpus: &Path, group: &str) -> u64 {
    let text = std::fs::read_to_string(corpus.join(format!(
        "netflow/nfdump-decoded/akvorado-{group}.nfdump.csv"
    )))
    .unwrap();
    text.lines()
        .skip(1)
        .take_while(|l| !l.starts_with("Summary"))
        .filter(|l| !l.trim().is_empty())
        .count() as u64
}

#[test]
fn real_exporters_templates_survive_a_kill_and_match_nfdump() {
    let Some(c) = corpus() else { return };
    let nf = c.join("netflow/akvorado");
    // (nfdump group, template files, data files)
    let groups: &[(&str, &[&str], &[&str])] = &[
        ("v9-template+data", &["template.pcap"], &["data.pcap"]),
        (
            "v9-samplingrate",
            &["samplingrate-template.pcap"],
            &["samplingrate-data.pcap"],
        ),
        (
            "v9-multisampling",
            &[
                "multiplesamplingrates-options-template.pcap",
                "multiplesamplingrates-template.pcap",
            ],
            &[
                "multiplesamplingrates-options-data.pcap",
                "multiplesamplingrates-data.pcap",
            ],
        ),
        ("v9-icmp", &["icmp-template.pcap"], &["icmp-data.pcap"]),
        (
            "ipfixprobe",
            &["ipfixprobe-templates.pcap"],
            &["ipfixprobe-data.pcap"],
        ),
    ];
    let dir = temp_dir("corpus");
    let sflow = common::free_udp_port();
    let mut d = Daemon::start(
        &dir,
        &format!("[[collect.sflow]]\nlisten = \"127.0.0.1:{sflow}\"\n"),
        64,
    );
    let read = |f: &str| udp_payloads(&std::fs::read(nf.join(f)).unwrap());
    for (_, templates, _) in groups {
        for t in *templates {
            d.send(&read(t));
        }
    }
    // Templates arrive (icmp-template.pcap carries two data records too), then the daemon
    // is killed before the data files.
    std::thread::sleep(Duration::from_millis(1500));
    let before = d.status()["collectors"][0]["flows_received"]
        .as_u64()
        .unwrap();
    d.kill9();
    d.spawn();
    let mut want = 0;
    for (group, _, data) in groups {
        for f in *data {
            d.send(&read(f));
        }
        want += nfdump_flows(&c, group);
    }
    let s = d.wait_ingested(want - before);
    let nfc = &s["collectors"][0];
    assert_eq!(
        before + nfc["flows_received"].as_u64().unwrap(),
        want,
        "flows decoded before and after the restart vs nfdump: {s}"
    );
    assert_eq!(
        nfc["anomalies"].get("missing"),
        None,
        "no data set waited for a template: {s}"
    );
    // sFlow: one real datagram, one flow.
    let u = UdpSocket::bind("127.0.0.1:0").unwrap();
    for p in read("sflow-data-sflow-ipv4-data.pcap") {
        u.send_to(&p, ("127.0.0.1", sflow)).unwrap();
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let s = d.status();
        if s["collectors"][1]["flows_ingested"] == 1 {
            assert_eq!(s["collectors"][1]["kind"], "sflow");
            break;
        }
        assert!(Instant::now() < deadline, "sflow: {s}");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(d.stop(), 0);
    let _ = std::fs::remove_dir_all(&dir);
}

// ---------------------------------------------------------------------------------------
// Acceptance with parts the project did not make: captures from Zeek's and Suricata's test
// suites exported by softflowd as IPFIX, a configuration in a layout the examples do not
// use (inline tables, a named collector, an indicator folder, an inventory), an advisory
// written for this test, and Debian's `webhook` (adnanh/webhook) as the receiver. The
// receiver verifies each POST's HMAC signature and a header from `headers_file` with its
// own rules, and runs a command that appends the payload to a file.

/// Debian's webhook server on loopback, by PID.
struct Receiver {
    child: Option<Child>,
    port: u16,
    dir: PathBuf,
}

impl Receiver {
    fn start(dir: &Path, secret: &str, tenant: &str) -> Receiver {
        std::fs::create_dir_all(dir).unwrap();
        let script = dir.join("record.sh");
        std::fs::write(
            &script,
            "#!/bin/sh\nprintf '%s\\n' \"$1\" >> \"$(dirname \"$0\")/received.jsonl\"\n",
        )
        .unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        let hooks = serde_json::json!([{
            "id": "cordon",
            "execute-command": script,
            "command-working-directory": dir,
            "http-methods": ["POST"],
            "pass-arguments-to-command": [{"source": "entire-payload"}],
            "trigger-rule-mismatch-http-response-code": 403,
            "trigger-rule": {"and": [
                {"match": {"type": "payload-hmac-sha256", "secret": secret,
                           "parameter": {"source": "header", "name": "X-Cordon-Signature-256"}}},
                {"match": {"type": "value", "value": tenant,
                           "parameter": {"source": "header", "name": "X-Tenant"}}}
            ]}
        }]);
        std::fs::write(dir.join("hooks.json"), hooks.to_string()).unwrap();
        let port = free_tcp_port();
        let child = Command::new("webhook")
            .arg("-hooks")
            .arg(dir.join("hooks.json"))
            .args(["-ip", "127.0.0.1", "-port", &port.to_string(), "-verbose"])
            .stdout(std::fs::File::create(dir.join("webhook.log")).unwrap())
            .stderr(Stdio::null())
            .spawn()
            .expect("start webhook");
        let mut r = Receiver {
            child: Some(child),
            port,
            dir: dir.to_path_buf(),
        };
        let deadline = Instant::now() + Duration::from_secs(15);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Some(s) = r.child.as_mut().unwrap().try_wait().unwrap() {
                panic!("webhook exited ({s}): {}", r.log());
            }
            assert!(
                Instant::now() < deadline,
                "webhook did not listen: {}",
                r.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        r
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("webhook.log")).unwrap_or_default()
    }

    /// The payloads the hook's command recorded.
    fn received(&self) -> Vec<Value> {
        std::fs::read_to_string(self.dir.join("received.jsonl"))
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
            .collect()
    }

    /// A POST with the given extra headers: the status code.
    fn post(&self, headers: &str, body: &str) -> u16 {
        let mut s = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        write!(
            s,
            "POST /hooks/cordon HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\
             Content-Type: application/json\r\n{headers}Content-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        let mut out = String::new();
        let _ = s.read_to_string(&mut out);
        out.split(' ')
            .nth(1)
            .and_then(|c| c.parse().ok())
            .unwrap_or(0)
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

#[test]
fn acceptance_with_unseen_captures_configuration_and_receiver() {
    let Some(c) = corpus() else { return };
    if !common::installed("softflowd") || !common::installed("webhook") {
        common::skip(
            "skipping: needs softflowd and webhook (apt-get install -y softflowd webhook)",
        );
        return;
    }
    // Campus captures from Zeek's and Suricata's test suites, one softflowd run each.
    let pcaps = [
        "pcap/zeek/wikipedia.pcap",
        "pcap/zeek/web.pcap",
        "pcap/zeek/http_get.pcap",
        "pcap/zeek/tls_chrome-34-google.pcap",
        "pcap/zeek/quic_chromium-115.0.5790.110-api-cirrus-com.pcap",
        "pcap/suricata-verify/community-id-ipv6.pcap",
    ];
    let mut datagrams = Vec::new();
    for p in pcaps {
        datagrams.extend(softflowd_export(&c.join(p), "10"));
    }
    let dir = temp_dir("acceptance");
    for sub in ["inventory", "advisories", "secrets", "receiver"] {
        std::fs::create_dir_all(dir.join(sub)).unwrap();
    }
    // A partner's advisory: an address and a /24 seen in two of the captures.
    std::fs::write(
        dir.join("advisories/partner.stix.json"),
        r#"{"type":"bundle","id":"bundle--5d0f3c1e-8a4b-4d8e-9a57-0c2b1f3e6a10","objects":[
 {"type":"indicator","spec_version":"2.1","id":"indicator--1b6f4c2a-3e9d-4f11-8a0e-7c5d2b9e4f31",
  "created":"2026-11-20T00:00:00Z","modified":"2026-11-20T00:00:00Z",
  "name":"Staging servers named in a partner advisory",
  "pattern":"[ipv4-addr:value = '208.80.152.3'] OR [ipv4-addr:value = '192.150.187.0/24']",
  "pattern_type":"stix","valid_from":"2010-01-01T00:00:00Z"}]}"#,
    )
    .unwrap();
    std::fs::write(
        dir.join("inventory/assets.csv"),
        "cidr,ip,mac,name,owner,tags,data\n141.142.0.0/16,,,campus,research-it,,\n\
         ,141.142.220.118,,lab-workstation-118,research-it,lab,personal\n",
    )
    .unwrap();
    let secret = "a4f0c2e9d71b3856e0f9a2c4b7d1e3f5";
    std::fs::write(dir.join("secrets/hook-key"), format!("{secret}\n")).unwrap();
    std::fs::write(
        dir.join("secrets/hook-headers"),
        "# the SOC's receiver routes by tenant\nX-Tenant: airport-ops\n",
    )
    .unwrap();
    let internal = ["141.142.0.0/16", "141.42.0.0/16", "192.168.0.0/16"];

    // The answer: `cordon scan` of the same datagrams with the same judge.
    let raw = dir.join("export.dat");
    std::fs::write(&raw, datagrams.concat()).unwrap();
    let out = common::stdout_of(
        Command::new(env!("CARGO_BIN_EXE_cordon"))
            .env("CORDON_DATA_DIR", dir.join("data"))
            .args(["scan", "--format", "jsonl"])
            .arg(&raw)
            .arg("--internal")
            .args(internal)
            .arg("--assets")
            .arg(dir.join("inventory/assets.csv"))
            .arg("--indicators")
            .arg(dir.join("advisories")),
    );
    let scan = common::json_lines(&out);
    let want_x = exposures_of(scan.iter().filter(|r| r["type"] == "exposure"));
    let scan_f: Vec<&Value> = scan.iter().filter(|r| r["type"] == "finding").collect();
    let want_f = findings_of(scan_f.iter().copied());
    let rules: std::collections::BTreeSet<&str> =
        scan_f.iter().map(|f| f["rule"].as_str().unwrap()).collect();
    assert!(
        rules.contains("threat-indicator") && rules.len() >= 2,
        "the scenario should give indicator and intel findings: {rules:?}"
    );

    let receiver = Receiver::start(&dir.join("receiver"), secret, "airport-ops");
    let http_port = free_tcp_port();
    let udp = common::free_udp_port();
    let config = dir.join("cordon.toml");
    std::fs::write(
        &config,
        format!(
            "# acceptance: inline tables, a named collector, an indicator folder\n\
             store = {{ path = \"state/db\", retention_days = 7 }}\n\
             http = {{ listen = \"127.0.0.1:{http_port}\" }}\n\
             lifecycle = {{ resolve_after_secs = 3600 }}\n\n\
             [collect]\n\
             netflow = [ {{ listen = \"127.0.0.1:{udp}\", name = \"campus-ipfix\", queue = 64 }} ]\n\n\
             [judge]\n\
             internal = {internal:?}\n\
             assets = \"inventory/assets.csv\"\n\
             indicators = [\"advisories\"]\n\n\
             [[alert]]\n\
             name = \"soc-webhook\"\n\
             webhook = \"http://127.0.0.1:{}/hooks/cordon\"\n\
             min_severity = \"low\"\n\
             headers_file = \"secrets/hook-headers\"\n\
             secret_file = \"secrets/hook-key\"\n",
            receiver.port
        ),
    )
    .unwrap();
    let check = Command::new(env!("CARGO_BIN_EXE_cordon"))
        .env("CORDON_DATA_DIR", dir.join("data"))
        .args(["serve", "--check-config"])
        .arg(&config)
        .output()
        .unwrap();
    let shown = String::from_utf8_lossy(&check.stdout);
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );
    assert!(
        !shown.contains(secret) && !shown.contains("airport-ops"),
        "the effective configuration names the files, not the secrets: {shown}"
    );

    let mut d = Daemon {
        child: None,
        dir: dir.clone(),
        http: http_port,
        netflow: udp,
        config,
    };
    d.spawn();
    d.send(&datagrams);
    let records = data_records(&datagrams);
    let s = d.wait_ingested(records);
    assert_eq!(s["collectors"][0]["name"], "campus-ipfix", "{s}");
    assert_eq!(s["collectors"][0]["flows_received"], records, "{s}");

    let x = get_json(d.http, "/api/v1/exposures?limit=1000");
    assert_eq!(
        exposures_of(x["exposures"].as_array().unwrap().iter()),
        want_x,
        "serve vs scan: exposures"
    );
    let f = get_json(d.http, "/api/v1/findings?limit=1000");
    let list = f["findings"].as_array().unwrap();
    assert_eq!(findings_of(list.iter()), want_f, "serve vs scan: findings");
    for want in &scan_f {
        let got = list.iter().find(|g| g["id"] == want["id"]).unwrap();
        assert_eq!(
            got["asset_name"], want["asset_name"],
            "inventory names: {got}"
        );
    }

    // Every finding is low or above: one signed POST each, accepted by the receiver's rules.
    let deadline = Instant::now() + Duration::from_secs(30);
    while receiver.received().len() < want_f.len() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_millis(1500));
    let got = receiver.received();
    let mut ids: Vec<&str> = got
        .iter()
        .map(|a| a["finding"]["id"].as_str().unwrap())
        .collect();
    ids.sort_unstable();
    let want_ids: Vec<&str> = want_f.keys().map(String::as_str).collect();
    assert_eq!(ids, want_ids, "one POST per finding: {}", receiver.log());
    assert!(got
        .iter()
        .all(|a| a["type"] == "alert" && a["transition"] == "new"));
    // The rules bite: an unsigned or wrongly signed POST is refused and not recorded.
    let forged = r#"{"type":"alert","finding":{"id":"0000000000000000"}}"#;
    // webhook answers 500 when its signature rule fails (missing or wrong signature): the
    // rule errors rather than evaluating false, so its configured 403 is not used.
    let unsigned = receiver.post("X-Tenant: airport-ops\r\n", forged);
    assert!(unsigned >= 400, "unsigned POST answered {unsigned}");
    let wrong = receiver.post(
        &format!(
            "X-Tenant: airport-ops\r\nX-Cordon-Signature-256: sha256={}\r\n",
            "0".repeat(64)
        ),
        forged,
    );
    assert!(wrong >= 400, "wrongly signed POST answered {wrong}");
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(receiver.received().len(), want_f.len());
    let m = http(d.http, "GET", "/metrics", None, None).1;
    assert!(
        m.contains(&format!(
            "cordon_alerts_sent_total{{destination=\"soc-webhook\"}} {}",
            want_f.len()
        )),
        "{m}"
    );
    assert!(!d.log().contains(secret), "the secret is never logged");

    // The analyst acknowledges the indicator finding on the workstation.
    let id = scan_f
        .iter()
        .find(|f| f["rule"] == "threat-indicator" && f["asset"] == "141.142.220.118")
        .map(|f| f["id"].as_str().unwrap().to_string())
        .expect("the advisory's address was reached by the workstation");
    let (st, body) = http(
        d.http,
        "POST",
        &format!("/api/v1/findings/{id}/ack"),
        None,
        Some(r#"{"note":"staging server, ticket SOC-4711"}"#),
    );
    assert_eq!(st, 200, "{body}");
    let one = get_json(d.http, &format!("/api/v1/findings/{id}"));
    assert_eq!(one["acknowledged"], true, "{one}");
    assert_eq!(one["ack_note"], "staging server, ticket SOC-4711", "{one}");
    assert_eq!(d.stop(), 0, "clean stop: {}", d.log());
    drop(receiver);
    let _ = std::fs::remove_dir_all(&dir);
}
