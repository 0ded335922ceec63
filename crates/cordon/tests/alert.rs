//! The alert outbox end to end: rows enqueued as the store does, delivered by a running
//! [`Alerter`] to receivers this file starts on 127.0.0.1 (a tiny HTTP server), in a
//! temporary folder (files) or on a Unix datagram socket (syslog), and checked as the
//! receiver saw them. Every wait is bounded (10 s).
#![cfg(feature = "serve")]

use cordon::model::Finding;
use cordon::serve::alert::{self, Alerter, Transition};
use cordon::serve::config::AlertConfig;
use cordon::serve::stats::DestinationStats;
use rusqlite::Connection;
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::{watch, Notify};

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("cordon-alert-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// A database with the outbox, as the store opens it.
fn database(dir: &Path) -> (PathBuf, Connection) {
    let path = dir.join("cordon.db");
    let conn = Connection::open(&path).unwrap();
    conn.pragma_update(None, "journal_mode", "WAL").unwrap();
    conn.busy_timeout(Duration::from_secs(10)).unwrap();
    conn.execute_batch(alert::SCHEMA).unwrap();
    (path, conn)
}

fn finding(id: &str, severity: &str, asset_name: Option<&str>) -> Finding {
    serde_json::from_value(json!({
        "id": id, "rule": "designated-vendor", "severity": severity, "asset": "10.0.0.7",
        "asset_name": asset_name, "entity": "acme-telecom", "group": "acme",
        "relationship": "operated-by", "designations": [], "regulations": [],
        "evidence": [{"kind": "address", "value": "203.0.113.9"}],
        "remediation": "replace the device", "waived": false, "flows": 3, "bytes_out": 100,
        "first_seen": "2026-01-01T00:00:00.000Z", "last_seen": "2026-01-01T00:10:00.000Z"
    }))
    .unwrap()
}

fn dest(v: Value) -> AlertConfig {
    serde_json::from_value(v).unwrap()
}

fn enqueue(conn: &Connection, dests: &[AlertConfig], findings: &[Finding]) -> usize {
    let tx = conn.unchecked_transaction().unwrap();
    let mut n = 0;
    for f in findings {
        n += alert::enqueue(&tx, dests, f, Transition::New, 1, 1_000).unwrap();
    }
    tx.commit().unwrap();
    n
}

struct Running {
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
    stats: Vec<Arc<DestinationStats>>,
}

fn start(db: &Path, dests: Vec<AlertConfig>) -> Running {
    let stats: Vec<_> = (dests.iter())
        .map(|d| Arc::new(DestinationStats::new(d.name())))
        .collect();
    let alerter = Alerter::new(db, dests, stats.clone())
        .unwrap()
        .with_backoff(Duration::from_millis(20), Duration::from_millis(100));
    let (stop, shutdown) = watch::channel(false);
    let task = tokio::spawn(alerter.run(Arc::new(Notify::new()), shutdown));
    Running { stop, task, stats }
}

impl Running {
    async fn stop(self) -> Vec<Arc<DestinationStats>> {
        self.stop.send(true).unwrap();
        tokio::time::timeout(Duration::from_secs(10), self.task)
            .await
            .expect("the alerter stops when told")
            .unwrap();
        self.stats
    }
}

/// Polls `f` every 20 ms for at most 10 s.
async fn eventually<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    for _ in 0..500 {
        if let Some(t) = f() {
            return t;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("timed out waiting for {what}")
}

fn summary(conn: &Connection) -> alert::DestinationSummary {
    let mut s = alert::summary(conn).unwrap();
    assert_eq!(s.len(), 1, "{s:?}");
    s.pop().unwrap()
}

/// One request as the receiver saw it.
#[derive(Debug, Clone)]
struct Request {
    head: String,
    body: Value,
}

impl Request {
    fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case(name).then_some(v.trim())
        })
    }
}

/// A webhook receiver: answers the `statuses` in turn, then 200; one request a connection.
struct Receiver {
    seen: Arc<Mutex<Vec<Request>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Receiver {
    async fn start(listener: TcpListener, statuses: Vec<u16>) -> Receiver {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        let task = tokio::spawn(async move {
            let mut statuses = statuses.into_iter();
            loop {
                let Ok((mut sock, _)) = listener.accept().await else {
                    return;
                };
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                let head_end = loop {
                    if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                        break Some(i);
                    }
                    match sock.read(&mut chunk).await {
                        Ok(0) | Err(_) => break None,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                    assert!(buf.len() < 1 << 20, "request too large");
                };
                let Some(head_end) = head_end else { continue };
                let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
                let len: usize = (head.lines())
                    .find_map(|l| {
                        let (k, v) = l.split_once(':')?;
                        k.eq_ignore_ascii_case("content-length")
                            .then(|| v.trim().parse().unwrap())
                    })
                    .unwrap_or(0);
                while buf.len() < head_end + 4 + len {
                    match sock.read(&mut chunk).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                }
                let body = serde_json::from_slice(&buf[head_end + 4..]).unwrap_or(Value::Null);
                log.lock().unwrap().push(Request { head, body });
                let status = statuses.next().unwrap_or(200);
                let answer = format!(
                    "HTTP/1.1 {status} X\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                );
                let _ = sock.write_all(answer.as_bytes()).await;
                let _ = sock.shutdown().await;
            }
        });
        Receiver { seen, task }
    }

    fn seen(&self) -> Vec<Request> {
        self.seen.lock().unwrap().clone()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn listener() -> (TcpListener, u16) {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    (l, port)
}

fn row(conn: &Connection) -> (String, u32, Option<String>) {
    conn.query_row("SELECT state, attempts, error FROM alert", [], |r| {
        Ok((r.get(0)?, r.get(1)?, r.get(2)?))
    })
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webhook_answering_500_twice_gets_the_alert_once_after_retries() {
    let dir = tmp("webhook");
    let (db, conn) = database(&dir);
    let (l, port) = listener().await;
    let rx = Receiver::start(l, vec![500, 500]).await;
    let d = dest(json!({"webhook": format!("http://127.0.0.1:{port}/hook"), "name": "soc"}));
    let f = finding("00000000000000a1", "critical", Some("core-router"));
    assert_eq!(
        enqueue(&conn, std::slice::from_ref(&d), std::slice::from_ref(&f)),
        1
    );

    let run = start(&db, vec![d]);
    eventually("the alert sent", || {
        (summary(&conn).sent == 1).then_some(())
    })
    .await;
    // Nothing more arrives once it is sent.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let stats = run.stop().await;

    let seen = rx.seen();
    assert_eq!(seen.len(), 3, "{seen:?}");
    for r in &seen {
        assert!(r.head.starts_with("POST /hook HTTP/1.1"), "{}", r.head);
        assert_eq!(r.header("content-type"), Some("application/json"));
        let ua = r.header("user-agent").unwrap();
        assert_eq!(ua, format!("cordon/{}", env!("CARGO_PKG_VERSION")));
        let b = &r.body;
        assert_eq!(b["type"], "alert");
        assert_eq!(b["wire_version"], 1);
        assert_eq!(b["transition"], "new");
        assert_eq!(b["destination"], "soc");
        assert!(b["sent_at"].as_str().unwrap().ends_with('Z'));
        let back: Finding = serde_json::from_value(b["finding"].clone()).unwrap();
        assert_eq!(back, f);
    }
    let (state, attempts, error) = row(&conn);
    assert_eq!((state.as_str(), attempts), ("sent", 3));
    assert!(error.unwrap().contains("500"));
    let s = summary(&conn);
    assert_eq!(
        (s.pending, s.sent, s.failed_attempts, s.digested),
        (0, 1, 2, 0)
    );
    assert_eq!(
        s.last_error.as_deref(),
        Some("HTTP 500 Internal Server Error")
    );
    assert_eq!(stats[0].sent.load(Relaxed), 1);
    assert_eq!(stats[0].failed.load(Relaxed), 2);
}

#[test]
fn enqueueing_the_same_finding_and_episode_twice_adds_one_row() {
    let dir = tmp("idempotent");
    let (_, conn) = database(&dir);
    let a = dest(json!({"file": "/nowhere/a.jsonl"}));
    let b = dest(json!({"file": "/nowhere/b.jsonl"}));
    let f = finding("00000000000000b1", "high", None);
    let count = || -> i64 {
        conn.query_row("SELECT count(*) FROM alert", [], |r| r.get(0))
            .unwrap()
    };
    assert_eq!(
        enqueue(&conn, std::slice::from_ref(&a), std::slice::from_ref(&f)),
        1
    );
    assert_eq!(
        enqueue(&conn, std::slice::from_ref(&a), std::slice::from_ref(&f)),
        0
    );
    assert_eq!(count(), 1);
    // Another destination, or the next episode, is another alert.
    assert_eq!(enqueue(&conn, &[a.clone(), b], std::slice::from_ref(&f)), 1);
    let tx = conn.unchecked_transaction().unwrap();
    assert_eq!(
        alert::enqueue(&tx, &[a], &f, Transition::Reopened, 2, 5).unwrap(),
        1
    );
    tx.commit().unwrap();
    assert_eq!(count(), 3);
}

#[test]
fn min_severity_decides_which_destinations_get_an_alert() {
    let dir = tmp("severity");
    let (_, conn) = database(&dir);
    let dests = [
        dest(json!({"file": "/nowhere/critical", "min_severity": "critical"})),
        dest(json!({"file": "/nowhere/low", "min_severity": "low"})),
        dest(json!({"file": "/nowhere/default"})),
    ];
    for (i, (severity, expected)) in [
        ("info", vec![]),
        ("low", vec!["file:/nowhere/low"]),
        ("medium", vec!["file:/nowhere/low"]),
        ("high", vec!["file:/nowhere/default", "file:/nowhere/low"]),
        (
            "critical",
            vec![
                "file:/nowhere/critical",
                "file:/nowhere/default",
                "file:/nowhere/low",
            ],
        ),
        // A severity this build does not know counts as info.
        ("severe", vec![]),
    ]
    .into_iter()
    .enumerate()
    {
        let f = finding(&format!("{i:016x}"), severity, None);
        assert_eq!(
            enqueue(&conn, &dests, std::slice::from_ref(&f)),
            expected.len(),
            "{severity}"
        );
        let mut q = conn
            .prepare("SELECT destination FROM alert WHERE finding = ?1 ORDER BY destination")
            .unwrap();
        let got: Vec<String> = q
            .query_map([&f.id], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!(got, expected, "{severity}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_past_the_rate_limit_becomes_one_digest() {
    let dir = tmp("rate");
    let (db, conn) = database(&dir);
    let (l, port) = listener().await;
    let rx = Receiver::start(l, vec![]).await;
    let d = dest(json!({"webhook": format!("http://127.0.0.1:{port}/"), "rate_per_minute": 5}));
    let findings: Vec<Finding> = (0..50)
        .map(|i| finding(&format!("{i:016x}"), "high", None))
        .collect();
    assert_eq!(enqueue(&conn, std::slice::from_ref(&d), &findings), 50);

    let run = start(&db, vec![d]);
    eventually("five alerts and a digest", || {
        (summary(&conn).digests_sent == 1).then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let stats = run.stop().await;

    let seen = rx.seen();
    assert_eq!(seen.len(), 6, "{seen:?}");
    let ids = |range: std::ops::Range<usize>| -> BTreeSet<String> {
        findings[range].iter().map(|f| f.id.clone()).collect()
    };
    let alerts: BTreeSet<String> = seen[..5]
        .iter()
        .map(|r| {
            assert_eq!(r.body["type"], "alert");
            r.body["finding"]["id"].as_str().unwrap().to_string()
        })
        .collect();
    assert_eq!(alerts, ids(0..5));
    let digest = &seen[5].body;
    assert_eq!(digest["type"], "alert-digest");
    assert_eq!(digest["wire_version"], 1);
    assert_eq!(digest["count"], 45);
    let listed = digest["alerts"].as_array().unwrap();
    assert_eq!(listed.len(), 45);
    let named: BTreeSet<String> = listed
        .iter()
        .map(|a| {
            assert_eq!(a["severity"], "high");
            assert_eq!(a["asset"], "10.0.0.7");
            assert_eq!(a["entity"], "acme-telecom");
            a["finding_id"].as_str().unwrap().to_string()
        })
        .collect();
    assert_eq!(named, ids(5..50));
    let s = summary(&conn);
    assert_eq!(
        (s.sent, s.digested, s.pending, s.digests_sent),
        (5, 45, 0, 1)
    );
    assert_eq!(stats[0].sent.load(Relaxed), 5);
    assert_eq!(stats[0].digested.load(Relaxed), 45);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_destination_gets_json_lines_that_read_back_as_the_findings() {
    let dir = tmp("file");
    let (db, conn) = database(&dir);
    let out = dir.join("alerts.jsonl");
    // A line a crash left unfinished does not swallow the next alert.
    std::fs::write(&out, "unfinished").unwrap();
    let d = dest(json!({"file": out, "min_severity": "info"}));
    let findings: Vec<Finding> = ["info", "medium", "critical"]
        .iter()
        .enumerate()
        .map(|(i, s)| finding(&format!("{i:016x}"), s, Some("printer")))
        .collect();
    assert_eq!(enqueue(&conn, std::slice::from_ref(&d), &findings), 3);

    let run = start(&db, vec![d]);
    eventually("three lines", || (summary(&conn).sent == 3).then_some(())).await;
    run.stop().await;

    let text = std::fs::read_to_string(&out).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 4, "{text}");
    assert_eq!(lines[0], "unfinished");
    assert!(text.ends_with('\n'));
    for (line, f) in lines[1..].iter().zip(&findings) {
        let v: Value = serde_json::from_str(line).unwrap();
        assert_eq!(v["type"], "alert");
        assert_eq!(v["destination"], format!("file:{}", out.display()));
        let back: Finding = serde_json::from_value(v["finding"].clone()).unwrap();
        assert_eq!(&back, f);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn syslog_lines_are_rfc5424_with_telemetry_text_escaped() {
    let dir = tmp("syslog");
    let (db, conn) = database(&dir);
    let socket = dir.join("log.sock");
    let d = dest(json!({"syslog": true, "syslog_socket": socket}));
    let f = finding(
        "00000000000000c1",
        "critical",
        Some("evil\nhost\r<13>1 forged"),
    );
    assert_eq!(enqueue(&conn, std::slice::from_ref(&d), &[f]), 1);

    // No socket yet: a failed attempt, retried, not a crash.
    let run = start(&db, vec![d]);
    eventually("a failed attempt", || {
        (summary(&conn).failed_attempts >= 1).then_some(())
    })
    .await;
    assert_eq!(summary(&conn).pending, 1);
    let log = std::os::unix::net::UnixDatagram::bind(&socket).unwrap();
    log.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut buf = vec![0u8; 65536];
    let n = log.recv(&mut buf).expect("a syslog datagram");
    eventually("the alert sent", || {
        (summary(&conn).sent == 1).then_some(())
    })
    .await;
    run.stop().await;

    let line = std::str::from_utf8(&buf[..n]).unwrap();
    assert!(!line.chars().any(char::is_control), "{line:?}");
    let parts: Vec<&str> = line.splitn(8, ' ').collect();
    assert_eq!(parts.len(), 8, "{line}");
    // local0 (16) * 8 + crit (2).
    assert_eq!(parts[0], "<130>1");
    let ts = parts[1];
    assert!(
        ts.len() == 24 && &ts[4..5] == "-" && &ts[10..11] == "T" && ts.ends_with('Z'),
        "{ts}"
    );
    assert!(!parts[2].is_empty());
    assert_eq!(parts[3], "cordon");
    assert_eq!(parts[4], std::process::id().to_string());
    assert_eq!((parts[5], parts[6]), ("-", "-"));
    let msg = parts[7];
    assert!(
        msg.contains(r#"asset_name="evil\nhost\r<13>1 forged""#),
        "{msg}"
    );
    assert!(msg.contains(r#"finding "00000000000000c1""#), "{msg}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_alert_a_dead_receiver_missed_is_delivered_after_a_restart() {
    let dir = tmp("restart");
    let (db, conn) = database(&dir);
    let (l, port) = listener().await;
    drop(l);
    let url = format!("http://user:hunter2@127.0.0.1:{port}/hook?token=s3cret");
    let d = dest(json!({"webhook": url}));
    let f = finding("00000000000000d1", "high", None);
    assert_eq!(
        enqueue(&conn, std::slice::from_ref(&d), std::slice::from_ref(&f)),
        1
    );

    let run = start(&db, vec![d.clone()]);
    eventually("failed attempts", || {
        (summary(&conn).failed_attempts >= 2).then_some(())
    })
    .await;
    run.stop().await;
    let (state, attempts, error) = row(&conn);
    let error = error.unwrap();
    assert_eq!(state, "pending");
    assert!(attempts >= 2);
    for secret in ["hunter2", "s3cret", "token"] {
        assert!(!error.contains(secret), "{error}");
    }

    let l = TcpListener::bind(("127.0.0.1", port)).await.unwrap();
    let rx = Receiver::start(l, vec![]).await;
    let run = start(&db, vec![d]);
    eventually("the alert sent", || {
        (summary(&conn).sent == 1).then_some(())
    })
    .await;
    let stats = run.stop().await;
    let seen = rx.seen();
    assert_eq!(seen.len(), 1);
    assert!(seen[0].head.starts_with("POST /hook?token=s3cret "));
    let back: Finding = serde_json::from_value(seen[0].body["finding"].clone()).unwrap();
    assert_eq!(back, f);
    assert_eq!(stats[0].sent.load(Relaxed), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_https_webhook_builds_and_a_failed_handshake_is_a_retried_attempt() {
    let dir = tmp("https");
    let (db, conn) = database(&dir);
    // A plain HTTP server answering at once: the TLS handshake fails.
    let (l, port) = listener().await;
    let server = tokio::spawn(async move {
        while let Ok((mut sock, _)) = l.accept().await {
            let _ = sock.write_all(b"HTTP/1.1 400 Bad Request\r\n\r\n").await;
            let _ = sock.shutdown().await;
        }
    });
    let d = dest(json!({"webhook": format!("https://127.0.0.1:{port}/hook")}));
    assert_eq!(
        enqueue(
            &conn,
            std::slice::from_ref(&d),
            &[finding("00000000000000e1", "high", None)]
        ),
        1
    );
    let run = start(&db, vec![d]);
    eventually("a failed attempt", || {
        (summary(&conn).failed_attempts >= 1).then_some(())
    })
    .await;
    let stats = run.stop().await;
    server.abort();
    let s = summary(&conn);
    assert_eq!((s.sent, s.pending), (0, 1));
    assert!(s.last_error.is_some());
    assert!(stats[0].failed.load(Relaxed) >= 1);
}
