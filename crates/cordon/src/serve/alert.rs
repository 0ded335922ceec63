//! The alert outbox and its delivery (docs/serve.md).
//!
//! When a finding becomes `new` or `reopened`, the store calls [`enqueue`] inside the
//! transaction that records the transition, so **an alert is durable exactly when the
//! transition is**. The [`Alerter`] delivers the outbox, one task per destination:
//!
//! - **At least once.** A row is marked `sent` only after the destination took it (webhook:
//!   a 2xx answer; file: the line written and `sync_data`; syslog: the datagram sent). A
//!   failed attempt is retried with exponential backoff and jitter; the attempt count, the
//!   next attempt time and the last error live in the row, so a restart carries on.
//! - **(destination, finding id, episode) is unique**: replaying a tick after a crash
//!   enqueues nothing twice.
//! - **Rate limit per destination**: at most `rate_per_minute` alerts sent per rolling
//!   minute. A row due past the limit is marked `digested`, and at most once a minute per
//!   destination one digest message lists them: a flood becomes one message, never silence,
//!   never an unbounded one (it names at most [`DIGEST_LIST`] alerts and counts all).
//! - Text from the telemetry (asset and entity names) is escaped in syslog lines: it cannot
//!   add a line or a control character. Webhook URLs are never logged (they may carry
//!   secrets in their userinfo or query): the destination's name is.

use super::config::AlertConfig;
use super::stats::{lock, now_ms, DestinationStats};
use crate::model::{Finding, Severity, WIRE_VERSION};
use anyhow::Context;
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{watch, Notify};

/// The outbox. `alert.state` is `pending` (waiting for its first or next attempt), `sent`
/// or `digested` (over the rate limit; `digest` names the digest that lists it, once made).
/// `level` is the severity's rank (0 info to 4 critical), `record` the finding as
/// serialised when it was enqueued.
pub const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS alert (
    id INTEGER PRIMARY KEY,
    destination TEXT NOT NULL,
    finding TEXT NOT NULL,
    episode INTEGER NOT NULL,
    transition TEXT NOT NULL,
    severity TEXT NOT NULL,
    level INTEGER NOT NULL,
    record TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending',
    attempts INTEGER NOT NULL DEFAULT 0,
    next_ms INTEGER NOT NULL,
    created_ms INTEGER NOT NULL,
    sent_ms INTEGER,
    error TEXT,
    error_ms INTEGER,
    digest INTEGER,
    UNIQUE (destination, finding, episode)
);
CREATE INDEX IF NOT EXISTS alert_due ON alert (destination, state, next_ms);
CREATE INDEX IF NOT EXISTS alert_sent ON alert (destination, sent_ms) WHERE state = 'sent';
CREATE INDEX IF NOT EXISTS alert_undigested ON alert (destination)
    WHERE state = 'digested' AND digest IS NULL;
CREATE INDEX IF NOT EXISTS alert_by_digest ON alert (digest) WHERE digest IS NOT NULL;
CREATE TABLE IF NOT EXISTS alert_digest (
    id INTEGER PRIMARY KEY,
    destination TEXT NOT NULL,
    count INTEGER NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending',
    attempts INTEGER NOT NULL DEFAULT 0,
    next_ms INTEGER NOT NULL,
    created_ms INTEGER NOT NULL,
    sent_ms INTEGER,
    error TEXT,
    error_ms INTEGER
);
CREATE INDEX IF NOT EXISTS alert_digest_due ON alert_digest (destination, state, next_ms);
";

/// The rolling window of the rate limit, and the least time between two digests.
const MINUTE_MS: i64 = 60_000;
/// Alerts a digest names; it counts all of them.
pub const DIGEST_LIST: usize = 200;
/// Sent alerts and digests are deleted after this long (a replay after a crash is seconds
/// old, so the uniqueness it relies on is kept).
const KEEP_SENT_MS: i64 = 30 * 24 * 3600 * 1000;
/// The longest syslog message (bytes of MSG); longer text is cut at a character boundary.
const SYSLOG_MSG_MAX: usize = 8000;
/// RFC 5424 facility `local0`.
const FACILITY_LOCAL0: u8 = 16;

/// Why a finding raises an alert.
#[derive(Copy, Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Transition {
    New,
    Reopened,
}

impl Transition {
    pub fn as_str(self) -> &'static str {
        match self {
            Transition::New => "new",
            Transition::Reopened => "reopened",
        }
    }
}

/// Inserts one outbox row per configured destination whose min_severity the finding reaches;
/// (destination, finding id, episode) is unique, so a replay after a crash adds nothing.
/// Returns the rows added. A severity this build does not know counts as `info`.
pub fn enqueue(
    tx: &Connection,
    dests: &[AlertConfig],
    finding: &Finding,
    transition: Transition,
    episode: u32,
    now_ms: i64,
) -> rusqlite::Result<usize> {
    let rank = finding.rank();
    let mut wanted = dests.iter().filter(|d| rank >= d.min_severity).peekable();
    if wanted.peek().is_none() {
        return Ok(0);
    }
    let record = serde_json::to_string(finding)
        .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?;
    let mut insert = tx.prepare_cached(
        "INSERT INTO alert (destination, finding, episode, transition, severity, level, record,
                            next_ms, created_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8)
         ON CONFLICT (destination, finding, episode) DO NOTHING",
    )?;
    let mut added = 0;
    for d in wanted {
        added += insert.execute(params![
            d.name(),
            finding.id,
            episode,
            transition.as_str(),
            finding.severity.as_str(),
            rank.level(),
            record,
            now_ms
        ])?;
    }
    Ok(added)
}

/// Delivery state of one destination, for the API.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct DestinationSummary {
    pub destination: String,
    /// Alerts waiting for their first attempt or a retry.
    pub pending: u64,
    pub sent: u64,
    /// Attempts that failed (alerts and digests); each was retried.
    pub failed_attempts: u64,
    /// Alerts over the rate limit, listed in a digest instead.
    pub digested: u64,
    pub digests_pending: u64,
    pub digests_sent: u64,
    /// Unix milliseconds: when the oldest pending alert was enqueued.
    pub oldest_pending_ms: Option<i64>,
    pub last_sent_ms: Option<i64>,
    /// The latest failed attempt's error (the destination may have recovered since: compare
    /// `last_error_ms` with `last_sent_ms`).
    pub last_error: Option<String>,
    pub last_error_ms: Option<i64>,
}

/// For the API: delivery state per destination (pending, sent, failed-attempts, digested) and
/// the last error. Only destinations that have rows are listed; name order.
pub fn summary(conn: &Connection) -> rusqlite::Result<Vec<DestinationSummary>> {
    let mut out: BTreeMap<String, DestinationSummary> = BTreeMap::new();
    let mut q = conn.prepare(
        "SELECT destination, sum(state = 'pending'), sum(state = 'sent'),
                sum(attempts) - sum(state = 'sent'), sum(state = 'digested'),
                min(CASE WHEN state = 'pending' THEN created_ms END), max(sent_ms)
         FROM alert GROUP BY destination",
    )?;
    let mut rows = q.query([])?;
    while let Some(r) = rows.next()? {
        let name: String = r.get(0)?;
        let s = out.entry(name.clone()).or_default();
        s.destination = name;
        s.pending = r.get::<_, i64>(1)? as u64;
        s.sent = r.get::<_, i64>(2)? as u64;
        s.failed_attempts = r.get::<_, i64>(3)? as u64;
        s.digested = r.get::<_, i64>(4)? as u64;
        s.oldest_pending_ms = r.get(5)?;
        s.last_sent_ms = r.get(6)?;
    }
    let mut q = conn.prepare(
        "SELECT destination, sum(state = 'pending'), sum(state = 'sent'),
                sum(attempts) - sum(state = 'sent'), max(sent_ms)
         FROM alert_digest GROUP BY destination",
    )?;
    let mut rows = q.query([])?;
    while let Some(r) = rows.next()? {
        let name: String = r.get(0)?;
        let s = out.entry(name.clone()).or_default();
        s.destination = name;
        s.digests_pending = r.get::<_, i64>(1)? as u64;
        s.digests_sent = r.get::<_, i64>(2)? as u64;
        s.failed_attempts += r.get::<_, i64>(3)? as u64;
        s.last_sent_ms = s.last_sent_ms.max(r.get(4)?);
    }
    let mut last = conn.prepare(
        "SELECT error, error_ms FROM (
            SELECT error, error_ms FROM alert WHERE destination = ?1 AND error_ms IS NOT NULL
            UNION ALL
            SELECT error, error_ms FROM alert_digest
            WHERE destination = ?1 AND error_ms IS NOT NULL)
         ORDER BY error_ms DESC LIMIT 1",
    )?;
    for s in out.values_mut() {
        if let Some((e, t)) = last
            .query_row([&s.destination], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?
        {
            s.last_error = e;
            s.last_error_ms = t;
        }
    }
    Ok(out.into_values().collect())
}

/// Delivers the outbox: one task per destination.
pub struct Alerter {
    dests: Vec<Arc<Dest>>,
    backoff: Backoff,
}

/// Retry delays: `base` doubling per failure up to `cap`, each with equal jitter (half fixed,
/// half random) so that rows failing together do not retry in step.
#[derive(Copy, Clone, Debug)]
struct Backoff {
    base: Duration,
    cap: Duration,
}

impl Backoff {
    fn after(self, failures: u32) -> Duration {
        let exp = self
            .base
            .saturating_mul(1u32 << failures.saturating_sub(1).min(30));
        let d = exp.min(self.cap);
        let half = d / 2;
        let spread = (d - half).as_nanos() as u64;
        half + Duration::from_nanos(random_u64() % spread.saturating_add(1))
    }
}

/// A random number from the standard library's hasher keys (no crate for one function).
fn random_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_i64(now_ms());
    h.finish()
}

struct Dest {
    name: String,
    rate: u32,
    timeout: Duration,
    stats: Arc<DestinationStats>,
    conn: Arc<Mutex<Connection>>,
    sink: Sink,
}

enum Sink {
    Webhook {
        client: reqwest::Client,
        url: String,
        auth: WebhookAuth,
    },
    File(PathBuf),
    Syslog {
        socket: PathBuf,
        hostname: String,
    },
}

/// Opens the alerter's own connection: WAL, a 10 s busy timeout (the engine's transactions
/// come first), and the outbox tables created if missing.
fn open(db: &Path) -> anyhow::Result<Connection> {
    let conn = Connection::open(db).with_context(|| format!("{}: cannot open", db.display()))?;
    conn.busy_timeout(Duration::from_secs(10))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.execute_batch(SCHEMA)
        .with_context(|| format!("{}: cannot create the alert outbox", db.display()))?;
    Ok(conn)
}

/// The header of a signed webhook POST: `sha256=` and the hex HMAC-SHA256 of the body
/// under the destination's `secret_file` key (the form GitHub's `X-Hub-Signature-256` uses,
/// which receivers such as adnanh/webhook verify).
pub const SIGNATURE_HEADER: &str = "x-cordon-signature-256";

/// Headers that cordon sets itself and a `headers_file` may not.
const RESERVED_HEADERS: [&str; 5] = [
    "content-type",
    "content-length",
    "host",
    "transfer-encoding",
    SIGNATURE_HEADER,
];

/// What a webhook POST carries besides its body: the `headers_file` headers (marked
/// sensitive, so they never appear in debug output) and the `secret_file` key.
pub struct WebhookAuth {
    headers: Vec<(reqwest::header::HeaderName, reqwest::header::HeaderValue)>,
    key: Option<ring::hmac::Key>,
}

impl WebhookAuth {
    /// Reads the destination's files; an error names the file and line (never the value).
    pub fn load(cfg: &AlertConfig) -> anyhow::Result<WebhookAuth> {
        let mut headers = Vec::new();
        if let Some(path) = &cfg.headers_file {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("{}: cannot read the headers file", path.display()))?;
            for (i, line) in text.lines().enumerate() {
                let line = line.trim();
                if line.is_empty() || line.starts_with('#') {
                    continue;
                }
                let at = || format!("{}:{}", path.display(), i + 1);
                let (k, v) = line
                    .split_once(':')
                    .with_context(|| format!("{}: expected `Name: value`", at()))?;
                let name =
                    reqwest::header::HeaderName::from_bytes(k.trim().as_bytes()).map_err(|_| {
                        anyhow::anyhow!("{}: {:?} is not a header name", at(), k.trim())
                    })?;
                anyhow::ensure!(
                    !RESERVED_HEADERS.contains(&name.as_str()),
                    "{}: cordon sets {} itself",
                    at(),
                    name
                );
                let mut value = reqwest::header::HeaderValue::from_str(v.trim()).map_err(|_| {
                    anyhow::anyhow!(
                        "{}: the value of {name} has characters a header cannot carry",
                        at()
                    )
                })?;
                value.set_sensitive(true);
                headers.push((name, value));
            }
        }
        let key = match &cfg.secret_file {
            None => None,
            Some(path) => {
                let raw = std::fs::read(path)
                    .with_context(|| format!("{}: cannot read the secret file", path.display()))?;
                let secret = raw.strip_suffix(b"\n").unwrap_or(&raw);
                let secret = secret.strip_suffix(b"\r").unwrap_or(secret);
                anyhow::ensure!(
                    secret.len() >= 16,
                    "{}: the secret is {} bytes; give at least 16",
                    path.display(),
                    secret.len()
                );
                Some(ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret))
            }
        };
        Ok(WebhookAuth { headers, key })
    }

    /// `sha256=<hex>` of `body`, when the destination has a key.
    pub fn sign(&self, body: &[u8]) -> Option<String> {
        let key = self.key.as_ref()?;
        let tag = ring::hmac::sign(key, body);
        let mut out = String::with_capacity(7 + 64);
        out.push_str("sha256=");
        for b in tag.as_ref() {
            out.push_str(&format!("{b:02x}"));
        }
        Some(out)
    }
}

/// The webhook client: rustls on ring, no redirects followed, `user-agent: cordon/<version>`.
fn webhook_client() -> anyhow::Result<reqwest::Client> {
    // Another part of the process may have installed it already; either way one is there.
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .tls_backend_rustls()
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("cordon/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| anyhow::anyhow!("cannot build the webhook client: {e}"))
}

/// The host name for syslog lines: printable ASCII without spaces, or `-` (RFC 5424 NILVALUE).
fn hostname() -> String {
    let raw = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    let h: String = raw
        .trim()
        .chars()
        .filter(|c| c.is_ascii_graphic())
        .take(255)
        .collect();
    if h.is_empty() {
        "-".into()
    } else {
        h
    }
}

impl Alerter {
    /// `db` is the SQLite file; `stats[i]` counts for `dests[i]`.
    pub fn new(
        db: &Path,
        dests: Vec<AlertConfig>,
        stats: Vec<Arc<DestinationStats>>,
    ) -> anyhow::Result<Alerter> {
        anyhow::ensure!(
            dests.len() == stats.len(),
            "alerter: {} destinations but {} sets of counters",
            dests.len(),
            stats.len()
        );
        let mut client: Option<reqwest::Client> = None;
        let mut out = Vec::with_capacity(dests.len());
        for (cfg, stats) in dests.into_iter().zip(stats) {
            let name = cfg.name();
            let sink = if let Some(url) = &cfg.webhook {
                let c = match &client {
                    Some(c) => c.clone(),
                    None => client.insert(webhook_client()?).clone(),
                };
                Sink::Webhook {
                    client: c,
                    url: url.clone(),
                    auth: WebhookAuth::load(&cfg)?,
                }
            } else if let Some(f) = &cfg.file {
                Sink::File(f.clone())
            } else if cfg.syslog == Some(true) {
                Sink::Syslog {
                    socket: (cfg.syslog_socket.clone()).unwrap_or_else(|| "/dev/log".into()),
                    hostname: hostname(),
                }
            } else {
                anyhow::bail!(
                    "[[alert]] {name}: give exactly one of webhook, file or syslog = true"
                );
            };
            out.push(Arc::new(Dest {
                name,
                rate: cfg.rate_per_minute.max(1),
                timeout: Duration::from_secs(cfg.timeout_secs.max(1)),
                stats,
                conn: Arc::new(Mutex::new(open(db)?)),
                sink,
            }));
        }
        Ok(Alerter {
            dests: out,
            backoff: Backoff {
                base: Duration::from_secs(1),
                cap: Duration::from_secs(300),
            },
        })
    }

    /// Retry delays: `base` (1 s) doubling to `cap` (5 min). Tests shorten them.
    pub fn with_backoff(mut self, base: Duration, cap: Duration) -> Alerter {
        self.backoff = Backoff {
            base: base.max(Duration::from_millis(1)),
            cap: cap.max(base),
        };
        self
    }

    /// Delivers until `shutdown` turns true (or its sender is dropped); finishes the attempt
    /// in flight. `notify` says the outbox has new rows.
    pub async fn run(self, notify: Arc<Notify>, mut shutdown: watch::Receiver<bool>) {
        let mut tasks = tokio::task::JoinSet::new();
        let mut wakes = Vec::with_capacity(self.dests.len());
        for d in self.dests {
            let wake = Arc::new(Notify::new());
            wakes.push(wake.clone());
            tasks.spawn(deliver(d, wake, shutdown.clone(), self.backoff));
        }
        while !stopping(&shutdown) {
            tokio::select! {
                _ = notify.notified() => wakes.iter().for_each(|w| w.notify_one()),
                _ = shutdown.changed() => {}
            }
        }
        while let Some(r) = tasks.join_next().await {
            if let Err(e) = r {
                tracing::error!(error = %e, "alert delivery task failed");
            }
        }
    }
}

fn stopping(shutdown: &watch::Receiver<bool>) -> bool {
    *shutdown.borrow() || shutdown.has_changed().is_err()
}

/// Sleeps until `until_ms` (at most a minute), a wake-up (when given) or shutdown.
async fn wait(shutdown: &mut watch::Receiver<bool>, wake: Option<&Notify>, until_ms: Option<i64>) {
    let ms = until_ms.map_or(MINUTE_MS, |t| (t - now_ms()).clamp(0, MINUTE_MS));
    let woken = async {
        match wake {
            Some(n) => n.notified().await,
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        _ = tokio::time::sleep(Duration::from_millis(ms as u64)) => {}
        _ = shutdown.changed() => {}
        _ = woken => {}
    }
}

/// Runs `f` on the destination's connection on a blocking thread.
async fn db<T: Send + 'static>(
    conn: &Arc<Mutex<Connection>>,
    f: impl FnOnce(&mut Connection) -> rusqlite::Result<T> + Send + 'static,
) -> Result<T, String> {
    let conn = conn.clone();
    match tokio::task::spawn_blocking(move || f(&mut lock(&conn))).await {
        Ok(r) => r.map_err(|e| format!("alert outbox: {e}")),
        Err(e) => Err(format!("alert outbox task failed: {e}")),
    }
}

/// What a destination does next.
enum Work {
    Alert {
        id: i64,
        attempts: u32,
        transition: String,
        episode: u32,
        record: String,
    },
    Digest {
        id: i64,
        attempts: u32,
        count: u64,
        level: u8,
        refs: Vec<AlertRef>,
    },
    /// Nothing due before this time (None: nothing waiting at all).
    Idle(Option<i64>),
}

struct Plan {
    work: Work,
    /// Rows just marked `digested`.
    digested: u64,
    /// The digest just made, and how many alerts it holds.
    new_digest: Option<u64>,
}

/// A digest's line for one alert.
#[derive(Clone, Debug, Serialize)]
struct AlertRef {
    finding_id: String,
    episode: u32,
    transition: String,
    severity: String,
    rule: String,
    asset: String,
    asset_name: Option<String>,
    entity: String,
    group: String,
}

/// One transaction: applies the rate limit, makes a digest when one is due, and picks the
/// next row to attempt (a due digest first, then the oldest due alert).
fn plan(c: &mut Connection, dest: &str, rate: u32, now: i64) -> rusqlite::Result<Plan> {
    let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let sent: i64 = tx.query_row(
        "SELECT count(*) FROM alert WHERE destination = ?1 AND state = 'sent' AND sent_ms > ?2",
        params![dest, now - MINUTE_MS],
        |r| r.get(0),
    )?;
    let budget = i64::from(rate) - sent;
    let mut digested = 0;
    if budget <= 0 {
        digested = tx.execute(
            "UPDATE alert SET state = 'digested'
             WHERE destination = ?1 AND state = 'pending' AND next_ms <= ?2",
            params![dest, now],
        )? as u64;
    }
    let mut next: Option<i64> = None;
    let mut new_digest = None;
    let waiting: i64 = tx.query_row(
        "SELECT count(*) FROM alert
         WHERE destination = ?1 AND state = 'digested' AND digest IS NULL",
        [dest],
        |r| r.get(0),
    )?;
    if waiting > 0 {
        let last: Option<i64> = tx.query_row(
            "SELECT max(created_ms) FROM alert_digest WHERE destination = ?1",
            [dest],
            |r| r.get(0),
        )?;
        let at = last.map_or(now, |t| t + MINUTE_MS);
        if at <= now {
            tx.execute(
                "INSERT INTO alert_digest (destination, count, next_ms, created_ms)
                 VALUES (?1, ?2, ?3, ?3)",
                params![dest, waiting, now],
            )?;
            let id = tx.last_insert_rowid();
            tx.execute(
                "UPDATE alert SET digest = ?1
                 WHERE destination = ?2 AND state = 'digested' AND digest IS NULL",
                params![id, dest],
            )?;
            new_digest = Some(waiting as u64);
        } else {
            next = Some(at);
        }
    }
    let digest: Option<(i64, u32, u64)> = tx
        .query_row(
            "SELECT id, attempts, count FROM alert_digest
             WHERE destination = ?1 AND state = 'pending' AND next_ms <= ?2
             ORDER BY id LIMIT 1",
            params![dest, now],
            |r| Ok((r.get(0)?, r.get(1)?, r.get::<_, i64>(2)? as u64)),
        )
        .optional()?;
    let work = if let Some((id, attempts, count)) = digest {
        let level: Option<u8> = tx.query_row(
            "SELECT max(level) FROM alert WHERE digest = ?1",
            [id],
            |r| r.get(0),
        )?;
        let mut q = tx.prepare(
            "SELECT finding, episode, transition, severity, record FROM alert
             WHERE digest = ?1 ORDER BY id LIMIT ?2",
        )?;
        let refs = q
            .query_map(params![id, DIGEST_LIST as i64], |r| {
                let record: String = r.get(4)?;
                let f = serde_json::from_str::<Finding>(&record).ok();
                Ok(AlertRef {
                    finding_id: r.get(0)?,
                    episode: r.get(1)?,
                    transition: r.get(2)?,
                    severity: r.get(3)?,
                    rule: f.as_ref().map_or_else(String::new, |f| f.rule.clone()),
                    asset: f.as_ref().map_or_else(String::new, |f| f.asset.clone()),
                    asset_name: f.as_ref().and_then(|f| f.asset_name.clone()),
                    entity: f.as_ref().map_or_else(String::new, |f| f.entity.clone()),
                    group: f.as_ref().map_or_else(String::new, |f| f.group.clone()),
                })
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        drop(q);
        Work::Digest {
            id,
            attempts,
            count,
            level: level.unwrap_or(0),
            refs,
        }
    } else {
        let due = if budget > 0 {
            tx.query_row(
                "SELECT id, attempts, transition, episode, record FROM alert
                 WHERE destination = ?1 AND state = 'pending' AND next_ms <= ?2
                 ORDER BY id LIMIT 1",
                params![dest, now],
                |r| {
                    Ok(Work::Alert {
                        id: r.get(0)?,
                        attempts: r.get(1)?,
                        transition: r.get(2)?,
                        episode: r.get(3)?,
                        record: r.get(4)?,
                    })
                },
            )
            .optional()?
        } else {
            None
        };
        match due {
            Some(w) => w,
            None => {
                for table in ["alert", "alert_digest"] {
                    let t: Option<i64> = tx.query_row(
                        &format!(
                            "SELECT min(next_ms) FROM {table}
                             WHERE destination = ?1 AND state = 'pending'"
                        ),
                        [dest],
                        |r| r.get(0),
                    )?;
                    next = match (next, t) {
                        (Some(a), Some(b)) => Some(a.min(b)),
                        (a, b) => a.or(b),
                    };
                }
                Work::Idle(next)
            }
        }
    };
    tx.commit()?;
    Ok(Plan {
        work,
        digested,
        new_digest,
    })
}

/// Records an attempt's outcome in `table` (`alert` or `alert_digest`).
fn record(
    c: &Connection,
    table: &str,
    id: i64,
    now: i64,
    outcome: Result<(), (String, i64)>,
) -> rusqlite::Result<()> {
    match outcome {
        Ok(()) => c.execute(
            &format!(
                "UPDATE {table} SET state = 'sent', sent_ms = ?2, attempts = attempts + 1
                 WHERE id = ?1"
            ),
            params![id, now],
        )?,
        Err((error, next_ms)) => c.execute(
            &format!(
                "UPDATE {table} SET attempts = attempts + 1, next_ms = ?2, error = ?3,
                        error_ms = ?4
                 WHERE id = ?1"
            ),
            params![id, next_ms, error, now],
        )?,
    };
    Ok(())
}

/// Deletes sent alerts and digests older than [`KEEP_SENT_MS`].
fn prune(c: &Connection, dest: &str, now: i64) -> rusqlite::Result<usize> {
    let before = now - KEEP_SENT_MS;
    let a = c.execute(
        "DELETE FROM alert WHERE destination = ?1 AND (
            (state = 'sent' AND sent_ms < ?2)
            OR (state = 'digested' AND digest IN (
                SELECT id FROM alert_digest
                WHERE destination = ?1 AND state = 'sent' AND sent_ms < ?2)))",
        params![dest, before],
    )?;
    let d = c.execute(
        "DELETE FROM alert_digest WHERE destination = ?1 AND state = 'sent' AND sent_ms < ?2
            AND NOT EXISTS (SELECT 1 FROM alert WHERE alert.digest = alert_digest.id)",
        params![dest, before],
    )?;
    Ok(a + d)
}

/// One destination's loop: plan, attempt, record, wait.
async fn deliver(
    d: Arc<Dest>,
    wake: Arc<Notify>,
    mut shutdown: watch::Receiver<bool>,
    backoff: Backoff,
) {
    // Consecutive failures at this destination: while it is down, it is tried once per
    // backoff step, not once per waiting row.
    let mut failures = 0u32;
    let mut paused_until = 0i64;
    let mut pruned_at = 0i64;
    while !stopping(&shutdown) {
        let now = now_ms();
        if now < paused_until {
            wait(&mut shutdown, None, Some(paused_until)).await;
            continue;
        }
        if now - pruned_at > 3_600_000 {
            pruned_at = now;
            let name = d.name.clone();
            if let Err(e) = db(&d.conn, move |c| prune(c, &name, now)).await {
                tracing::warn!(destination = %d.name, error = %e, "cannot prune sent alerts");
            }
        }
        let (name, rate) = (d.name.clone(), d.rate);
        let plan = match db(&d.conn, move |c| plan(c, &name, rate, now)).await {
            Ok(p) => p,
            Err(e) => {
                tracing::error!(destination = %d.name, error = %e, "cannot read the alert outbox");
                paused_until = now + 1000;
                continue;
            }
        };
        if plan.digested > 0 {
            d.stats.digested.fetch_add(plan.digested, Relaxed);
        }
        if let Some(n) = plan.new_digest {
            tracing::warn!(destination = %d.name, alerts = n, rate_per_minute = d.rate,
                "alert rate limit reached: alerts folded into one digest");
        }
        let (table, id, attempts, sent) = match plan.work {
            Work::Idle(next) => {
                wait(&mut shutdown, Some(&wake), next).await;
                continue;
            }
            Work::Alert {
                id,
                attempts,
                transition,
                episode,
                record,
            } => {
                let r = match serde_json::from_str::<Finding>(&record) {
                    Ok(f) => d.send_alert(&f, &transition, episode).await,
                    Err(e) => Err(format!("the stored finding cannot be read: {e}")),
                };
                ("alert", id, attempts, r)
            }
            Work::Digest {
                id,
                attempts,
                count,
                level,
                refs,
            } => {
                let r = d.send_digest(count, level, &refs).await;
                ("alert_digest", id, attempts, r)
            }
        };
        let now = now_ms();
        let outcome = match sent {
            Ok(()) => {
                failures = 0;
                if table == "alert" {
                    d.stats.sent.fetch_add(1, Relaxed);
                }
                Ok(())
            }
            Err(e) => {
                failures = failures.saturating_add(1);
                paused_until = now + backoff.after(failures).as_millis() as i64;
                let next = now + backoff.after(attempts + 1).as_millis() as i64;
                d.stats.failed.fetch_add(1, Relaxed);
                tracing::warn!(destination = %d.name, kind = table, attempt = attempts + 1,
                    error = %e, "alert delivery failed; retried later");
                Err((e, next))
            }
        };
        if let Err(e) = db(&d.conn, move |c| record(c, table, id, now, outcome)).await {
            // A delivery not recorded is delivered again: at least once.
            tracing::error!(destination = %d.name, error = %e, "cannot record an alert attempt");
            paused_until = paused_until.max(now + 1000);
        }
    }
}

/// The webhook body and file line of an alert.
#[derive(Serialize)]
struct AlertPayload<'a> {
    r#type: &'static str,
    wire_version: u32,
    transition: &'a str,
    episode: u32,
    destination: &'a str,
    sent_at: String,
    finding: &'a Finding,
}

/// The webhook body and file line of a digest.
#[derive(Serialize)]
struct DigestPayload<'a> {
    r#type: &'static str,
    wire_version: u32,
    destination: &'a str,
    sent_at: String,
    rate_per_minute: u32,
    alerts: &'a [AlertRef],
    /// Alerts counted but not listed (past [`DIGEST_LIST`]).
    omitted: u64,
    count: u64,
}

fn rfc3339(ms: i64) -> String {
    crate::date::rfc3339_micros(ms * 1000)
}

impl Dest {
    async fn send_alert(&self, f: &Finding, transition: &str, episode: u32) -> Result<(), String> {
        let now = now_ms();
        match &self.sink {
            Sink::Syslog { .. } => {
                let msg = alert_text(f, transition, episode);
                self.send_syslog(syslog_severity(f.severity.known()), now, &msg)
                    .await
            }
            _ => {
                let body = serde_json::to_string(&AlertPayload {
                    r#type: "alert",
                    wire_version: WIRE_VERSION,
                    transition,
                    episode,
                    destination: &self.name,
                    sent_at: rfc3339(now),
                    finding: f,
                })
                .map_err(|e| e.to_string())?;
                self.send_json(body).await
            }
        }
    }

    async fn send_digest(&self, count: u64, level: u8, refs: &[AlertRef]) -> Result<(), String> {
        let now = now_ms();
        match &self.sink {
            Sink::Syslog { .. } => {
                let sev = Severity::ALL.get(level as usize).copied();
                let msg = digest_text(count, self.rate, refs);
                self.send_syslog(syslog_severity(sev), now, &msg).await
            }
            _ => {
                let body = serde_json::to_string(&DigestPayload {
                    r#type: "alert-digest",
                    wire_version: WIRE_VERSION,
                    destination: &self.name,
                    sent_at: rfc3339(now),
                    rate_per_minute: self.rate,
                    alerts: refs,
                    omitted: count.saturating_sub(refs.len() as u64),
                    count,
                })
                .map_err(|e| e.to_string())?;
                self.send_json(body).await
            }
        }
    }

    /// A webhook POST (2xx is success) or a file line (written and synced).
    async fn send_json(&self, body: String) -> Result<(), String> {
        match &self.sink {
            Sink::Webhook { client, url, auth } => {
                let mut req = client
                    .post(url.as_str())
                    .header(reqwest::header::CONTENT_TYPE, "application/json")
                    .timeout(self.timeout);
                for (k, v) in &auth.headers {
                    req = req.header(k, v);
                }
                if let Some(sig) = auth.sign(body.as_bytes()) {
                    req = req.header(SIGNATURE_HEADER, sig);
                }
                let resp = req.body(body).send().await.map_err(|e| {
                    let timed_out = e.is_timeout();
                    let text = describe(&e.without_url());
                    if timed_out {
                        format!("timed out after {} s: {text}", self.timeout.as_secs())
                    } else {
                        text
                    }
                })?;
                let status = resp.status();
                if status.is_success() {
                    Ok(())
                } else if status.is_redirection() {
                    Err(format!("HTTP {status} (redirects are not followed)"))
                } else {
                    Err(format!("HTTP {status}"))
                }
            }
            Sink::File(path) => {
                let path = path.clone();
                tokio::task::spawn_blocking(move || append_line(&path, &body))
                    .await
                    .map_err(|e| format!("file task failed: {e}"))?
            }
            Sink::Syslog { .. } => Err("not a JSON destination".into()),
        }
    }

    async fn send_syslog(&self, severity: u8, now: i64, msg: &str) -> Result<(), String> {
        let Sink::Syslog { socket, hostname } = &self.sink else {
            return Err("not a syslog destination".into());
        };
        let line = syslog_line(severity, &rfc3339(now), hostname, std::process::id(), msg);
        let sock = tokio::net::UnixDatagram::unbound()
            .map_err(|e| format!("cannot make a datagram socket: {e}"))?;
        match tokio::time::timeout(self.timeout, sock.send_to(line.as_bytes(), socket)).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(format!("{}: {e}", socket.display())),
            Err(_) => Err(format!("{}: timed out", socket.display())),
        }
    }
}

/// An error and its causes, one after the other.
fn describe(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let t = c.to_string();
        if !s.contains(&t) {
            s.push_str(": ");
            s.push_str(&t);
        }
        cause = c.source();
    }
    s
}

/// Appends `line` and a newline to `path`, then `sync_data`. A line a failed write left
/// unfinished is ended first, so each alert stays a line of its own.
fn append_line(path: &Path, line: &str) -> Result<(), String> {
    use std::io::Write;
    use std::os::unix::fs::FileExt;
    let fail = |what: &str, e: std::io::Error| format!("{}: cannot {what}: {e}", path.display());
    let mut f = std::fs::OpenOptions::new()
        .read(true)
        .append(true)
        .create(true)
        .open(path)
        .map_err(|e| fail("open", e))?;
    let len = f.metadata().map_err(|e| fail("read", e))?.len();
    let mut text = String::with_capacity(line.len() + 2);
    if len > 0 {
        let mut last = [0u8];
        f.read_exact_at(&mut last, len - 1)
            .map_err(|e| fail("read", e))?;
        if last[0] != b'\n' {
            text.push('\n');
        }
    }
    text.push_str(line);
    text.push('\n');
    f.write_all(text.as_bytes())
        .map_err(|e| fail("append", e))?;
    f.sync_data().map_err(|e| fail("sync", e))
}

/// RFC 5424 severity of a finding's: critical 2 (crit), high 3 (err), medium 4 (warning),
/// low 5 (notice), info or unknown 6 (info).
fn syslog_severity(s: Option<Severity>) -> u8 {
    match s {
        Some(Severity::Critical) => 2,
        Some(Severity::High) => 3,
        Some(Severity::Medium) => 4,
        Some(Severity::Low) => 5,
        Some(Severity::Info) | None => 6,
    }
}

/// `<PRI>1 TIMESTAMP HOSTNAME cordon PID - - MSG`, facility local0; MSG cut to
/// [`SYSLOG_MSG_MAX`] bytes.
fn syslog_line(severity: u8, timestamp: &str, hostname: &str, pid: u32, msg: &str) -> String {
    let mut end = msg.len().min(SYSLOG_MSG_MAX);
    while !msg.is_char_boundary(end) {
        end -= 1;
    }
    format!(
        "<{}>1 {timestamp} {hostname} cordon {pid} - - {}",
        u16::from(FACILITY_LOCAL0) * 8 + u16::from(severity),
        &msg[..end]
    )
}

/// `s` quoted, with `\`, `"`, control characters (C0, DEL, C1), line and paragraph
/// separators and bidirectional or invisible formatting characters escaped: telemetry text
/// cannot end a syslog line or disguise one.
fn quoted(s: &str) -> String {
    let mut o = String::with_capacity(s.len() + 2);
    o.push('"');
    for c in s.chars() {
        match c {
            '\\' => o.push_str("\\\\"),
            '"' => o.push_str("\\\""),
            '\n' => o.push_str("\\n"),
            '\r' => o.push_str("\\r"),
            '\t' => o.push_str("\\t"),
            c if c.is_control()
                || matches!(c, '\u{200b}'..='\u{200f}' | '\u{2028}'..='\u{202e}'
                    | '\u{2066}'..='\u{2069}' | '\u{feff}') =>
            {
                let _ = write!(o, "\\u{{{:04x}}}", c as u32);
            }
            c => o.push(c),
        }
    }
    o.push('"');
    o
}

/// The syslog text of an alert: `new critical finding <id>: rule="…" asset="…" …`.
fn alert_text(f: &Finding, transition: &str, episode: u32) -> String {
    let mut s = format!(
        "{} {} finding {}: rule={} asset={}",
        quoted(transition),
        quoted(f.severity.as_str()),
        quoted(&f.id),
        quoted(&f.rule),
        quoted(&f.asset),
    );
    if let Some(n) = &f.asset_name {
        let _ = write!(s, " asset_name={}", quoted(n));
    }
    let _ = write!(
        s,
        " entity={} group={} relationship={} episode={episode}",
        quoted(&f.entity),
        quoted(&f.group),
        quoted(f.relationship.as_str()),
    );
    s
}

/// The syslog text of a digest: the count, then as many alerts as fit.
fn digest_text(count: u64, rate: u32, refs: &[AlertRef]) -> String {
    let mut s = format!("alert digest: {count} alerts over the rate limit of {rate} a minute:");
    let mut listed = 0u64;
    for r in refs {
        let item = format!(
            " finding={} severity={} asset={} entity={};",
            quoted(&r.finding_id),
            quoted(&r.severity),
            quoted(&r.asset),
            quoted(&r.entity)
        );
        if s.len() + item.len() + 40 > SYSLOG_MSG_MAX {
            break;
        }
        s.push_str(&item);
        listed += 1;
    }
    if listed < count {
        let _ = write!(s, " and {} more", count - listed);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn telemetry_text_cannot_break_a_syslog_line() {
        for (input, expected) in [
            ("plain", r#""plain""#),
            ("a\nb", r#""a\nb""#),
            ("a\r\nb\tc", r#""a\r\nb\tc""#),
            ("q\"u\\o", r#""q\"u\\o""#),
            (
                "nul\0bell\u{7}del\u{7f}",
                r#""nul\u{0000}bell\u{0007}del\u{007f}""#,
            ),
            (
                "c1\u{85}ls\u{2028}rlo\u{202e}",
                r#""c1\u{0085}ls\u{2028}rlo\u{202e}""#,
            ),
            ("ünïcødé", r#""ünïcødé""#),
        ] {
            assert_eq!(quoted(input), expected, "{input:?}");
        }
    }

    #[test]
    fn syslog_lines_are_rfc5424_and_capped() {
        let l = syslog_line(2, "2026-01-02T03:04:05.006Z", "box", 42, "hi");
        assert_eq!(l, "<130>1 2026-01-02T03:04:05.006Z box cordon 42 - - hi");
        let long = "é".repeat(SYSLOG_MSG_MAX);
        let l = syslog_line(6, "t", "h", 1, &long);
        assert!(l.len() <= SYSLOG_MSG_MAX + 30 && l.ends_with('é'));
        let sev: Vec<u8> = Severity::ALL
            .iter()
            .map(|s| syslog_severity(Some(*s)))
            .collect();
        assert_eq!(sev, [6, 5, 4, 3, 2]);
        assert_eq!(syslog_severity(None), 6);
    }

    #[test]
    fn backoff_doubles_to_its_cap_with_jitter() {
        let b = Backoff {
            base: Duration::from_secs(1),
            cap: Duration::from_secs(300),
        };
        for (failures, full) in [(1, 1), (2, 2), (3, 4), (9, 256), (10, 300), (40, 300)] {
            for _ in 0..20 {
                let d = b.after(failures);
                let full = Duration::from_secs(full);
                assert!(d >= full / 2 && d <= full, "{failures}: {d:?}");
            }
        }
    }

    #[test]
    fn a_digest_counts_what_it_cannot_list() {
        let r = AlertRef {
            finding_id: "f".repeat(16),
            episode: 1,
            transition: "new".into(),
            severity: "high".into(),
            rule: "r".into(),
            asset: "10.0.0.1".into(),
            asset_name: None,
            entity: "e\nx".into(),
            group: "g".into(),
        };
        let refs = vec![r; 500];
        let t = digest_text(500, 5, &refs);
        assert!(
            t.len() <= SYSLOG_MSG_MAX && !t.contains('\n'),
            "{}",
            t.len()
        );
        assert!(t.starts_with("alert digest: 500 alerts"));
        let listed = t.matches("finding=").count();
        assert!(listed > 10 && listed < 500);
        assert!(t.ends_with(&format!(" and {} more", 500 - listed)));
    }

    fn webhook_cfg(headers: Option<&str>, secret: Option<&[u8]>, tag: &str) -> AlertConfig {
        let dir = std::env::temp_dir().join(format!("cordon-auth-{}-{tag}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut cfg: AlertConfig = toml::from_str("webhook = \"http://127.0.0.1:9/hook\"").unwrap();
        if let Some(h) = headers {
            let p = dir.join("headers");
            std::fs::write(&p, h).unwrap();
            cfg.headers_file = Some(p);
        }
        if let Some(k) = secret {
            let p = dir.join("key");
            std::fs::write(&p, k).unwrap();
            cfg.secret_file = Some(p);
        }
        cfg
    }

    #[test]
    fn signatures_are_hmac_sha256_of_the_body() {
        // RFC 4231 test case 1: "Hi There" under twenty 0x0b bytes, a published tag.
        let cfg = webhook_cfg(None, Some(&[0x0b; 20]), "rfc4231");
        let auth = WebhookAuth::load(&cfg).unwrap();
        assert_eq!(
            auth.sign(b"Hi There").unwrap(),
            "sha256=b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"
        );
        // A trailing newline in the file is not part of the key.
        let mut nl = vec![0x0b; 20];
        nl.extend_from_slice(b"\r\n");
        let auth = WebhookAuth::load(&webhook_cfg(None, Some(&nl), "newline")).unwrap();
        assert!(auth
            .sign(b"Hi There")
            .unwrap()
            .starts_with("sha256=b0344c61"));
        // No secret file, no signature.
        let none = WebhookAuth::load(&webhook_cfg(None, None, "none")).unwrap();
        assert_eq!(none.sign(b"x"), None);
    }

    #[test]
    fn auth_files_are_checked_and_errors_name_the_line_not_the_value() {
        let ok = webhook_cfg(
            Some("# comment\n\nAuthorization: Bearer hunter2-token\nX-Tenant: ops\n"),
            None,
            "ok",
        );
        let auth = WebhookAuth::load(&ok).unwrap();
        assert_eq!(auth.headers.len(), 2);
        assert!(auth.headers.iter().all(|(_, v)| v.is_sensitive()));
        assert!(!format!("{:?}", auth.headers).contains("hunter2"));

        for (text, want) in [
            (
                "X-Ok: 1\nno colon here hunter2\n",
                ":2: expected `Name: value`",
            ),
            (
                "bad name: hunter2\n",
                ":1: \"bad name\" is not a header name",
            ),
            (
                "Content-Type: text/plain\n",
                ":1: cordon sets content-type itself",
            ),
            (
                "X-Cordon-Signature-256: sha256=hunter2\n",
                ":1: cordon sets x-cordon-signature-256 itself",
            ),
            (
                "X-A: hunter2\u{7f}\n",
                ":1: the value of x-a has characters",
            ),
        ] {
            let e = WebhookAuth::load(&webhook_cfg(Some(text), None, "bad"))
                .err()
                .unwrap_or_else(|| panic!("accepted {text:?}"));
            let e = format!("{e:#}");
            assert!(e.contains(want), "{text:?}: {e}");
            assert!(!e.contains("hunter2"), "an error shows a value: {e}");
        }
        let short = WebhookAuth::load(&webhook_cfg(None, Some(b"short\n"), "short"));
        let e = format!("{:#}", short.err().unwrap());
        assert!(e.contains("the secret is 5 bytes; give at least 16"), "{e}");
        let mut missing = webhook_cfg(None, None, "missing");
        missing.secret_file = Some("/nonexistent/cordon-key".into());
        let e = format!("{:#}", WebhookAuth::load(&missing).err().unwrap());
        assert!(
            e.contains("/nonexistent/cordon-key: cannot read the secret file"),
            "{e}"
        );
    }
}
