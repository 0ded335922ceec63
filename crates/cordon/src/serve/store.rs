//! The daemon's store: one SQLite database in WAL mode (`<store.path>/cordon.db`).
//!
//! It keeps what a security team asks about, never raw flows:
//!
//! | table | one row per | holds |
//! |---|---|---|
//! | `exposure` | (asset, entity, relationship) | totals, first/last seen, the latest record |
//! | `exposure_hour` | the same, per hour of ingest | flows and bytes, for trends; retention deletes old hours |
//! | `exposure_day`, `exposure_day_count` | (day, group, asset); (day, group) | which assets touched a company group each day, and how many: the dashboard's exposure chart, read in 30 rows a group |
//! | `device` | MAC address | the latest device record |
//! | `indicator_match` | (asset, remote, indicator) | the latest match record, its count summed |
//! | `finding` | finding id | status (`new`, `ongoing`, `resolved`, `reopened`, `waived`), episode, acknowledgement, the latest record |
//! | `finding_day` | (day, finding id) | that the finding had traffic that day (trend per severity and company) |
//! | `finding_event` | change of a finding | its lifecycle history: each status it entered, each acknowledgement with its note |
//! | `collector_state` | collector | NetFlow templates, follower offsets |
//! | `alert` | (destination, finding id, episode) | the outbox ([`super::alert`]) |
//!
//! **One transaction a tick.** The engine applies a second's worth of judged records, the
//! collectors' state that goes with them (so a follower's stored offset never runs ahead of
//! or behind the data it produced) and the alerts their transitions raise, in one
//! transaction. WAL with `synchronous = NORMAL` makes each commit survive a killed process
//! (only a power loss can take the last commits), so `kill -9` loses at most the tick in
//! flight.

use super::alert::{self, Transition};
use super::config::AlertConfig;
use crate::model::{Device, Exposure, Finding, IndicatorMatch};
use anyhow::{Context, Result};
use rusqlite::{params, Connection, OptionalExtension};
use std::path::{Path, PathBuf};

/// The schema version this build writes; an older database is migrated, a newer refused.
pub const SCHEMA_VERSION: i64 = 1;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS exposure (
    asset TEXT NOT NULL, entity TEXT NOT NULL, relationship TEXT NOT NULL,
    grp TEXT NOT NULL, flows INTEGER NOT NULL, bytes_out INTEGER NOT NULL,
    bytes_in INTEGER NOT NULL, first_seen TEXT NOT NULL, last_seen TEXT NOT NULL,
    seen_ms INTEGER NOT NULL, record TEXT NOT NULL,
    PRIMARY KEY (asset, entity, relationship)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS exposure_hour (
    hour INTEGER NOT NULL, asset TEXT NOT NULL, entity TEXT NOT NULL,
    relationship TEXT NOT NULL, grp TEXT NOT NULL, flows INTEGER NOT NULL,
    bytes_out INTEGER NOT NULL, bytes_in INTEGER NOT NULL,
    PRIMARY KEY (hour, asset, entity, relationship)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS exposure_day (
    day INTEGER NOT NULL, grp TEXT NOT NULL, asset TEXT NOT NULL,
    PRIMARY KEY (day, grp, asset)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS exposure_day_count (
    day INTEGER NOT NULL, grp TEXT NOT NULL, assets INTEGER NOT NULL,
    PRIMARY KEY (day, grp)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS device (
    mac TEXT PRIMARY KEY, ip TEXT, entity TEXT, grp TEXT, seen_ms INTEGER NOT NULL,
    record TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS indicator_match (
    asset TEXT NOT NULL, remote TEXT NOT NULL, indicator TEXT NOT NULL,
    count INTEGER NOT NULL, seen_ms INTEGER NOT NULL, record TEXT NOT NULL,
    PRIMARY KEY (asset, remote, indicator)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS finding (
    id TEXT PRIMARY KEY, rule TEXT NOT NULL, severity TEXT NOT NULL, sev INTEGER NOT NULL,
    asset TEXT NOT NULL, entity TEXT NOT NULL, grp TEXT NOT NULL,
    relationship TEXT NOT NULL, status TEXT NOT NULL, waived INTEGER NOT NULL,
    episode INTEGER NOT NULL, first_ms INTEGER NOT NULL, last_ms INTEGER NOT NULL,
    changed_ms INTEGER NOT NULL, acked_ms INTEGER, ack_note TEXT, record TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS finding_status ON finding (status, sev);
CREATE INDEX IF NOT EXISTS finding_last ON finding (last_ms);
CREATE TABLE IF NOT EXISTS finding_day (
    day TEXT NOT NULL, id TEXT NOT NULL, severity TEXT NOT NULL, grp TEXT NOT NULL,
    PRIMARY KEY (day, id)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS finding_open ON finding (status, sev DESC, last_ms DESC);
CREATE INDEX IF NOT EXISTS finding_asset ON finding (asset);
-- The dashboard's top assets, counted on the index alone.
CREATE INDEX IF NOT EXISTS finding_top ON finding (status, asset, sev, grp);
CREATE INDEX IF NOT EXISTS finding_entity ON finding (entity);
CREATE TABLE IF NOT EXISTS finding_event (
    id TEXT NOT NULL, at_ms INTEGER NOT NULL, status TEXT NOT NULL, episode INTEGER NOT NULL,
    note TEXT);
CREATE INDEX IF NOT EXISTS finding_event_id ON finding_event (id, at_ms);
CREATE INDEX IF NOT EXISTS finding_event_at ON finding_event (at_ms);
CREATE TABLE IF NOT EXISTS collector_state (
    name TEXT PRIMARY KEY, state BLOB NOT NULL, updated_ms INTEGER NOT NULL);
";

/// A finding's place in its lifecycle.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Status {
    New,
    Ongoing,
    Resolved,
    Reopened,
    Waived,
}

impl Status {
    pub const ALL: [Status; 5] = [
        Status::New,
        Status::Ongoing,
        Status::Resolved,
        Status::Reopened,
        Status::Waived,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::New => "new",
            Status::Ongoing => "ongoing",
            Status::Resolved => "resolved",
            Status::Reopened => "reopened",
            Status::Waived => "waived",
        }
    }

    pub fn parse(s: &str) -> Option<Status> {
        Status::ALL.into_iter().find(|x| x.as_str() == s)
    }
}

/// A second's worth of judged records and the collector state that goes with them.
#[derive(Default)]
pub struct Tick {
    /// Wall-clock time of the tick, Unix milliseconds: what "seen" and the lifecycle go by
    /// (a replayed capture's flows carry old times of their own).
    pub now_ms: i64,
    pub exposures: Vec<Exposure>,
    pub devices: Vec<Device>,
    pub matches: Vec<IndicatorMatch>,
    pub findings: Vec<Finding>,
    /// (collector name, state blob) to store with this tick.
    pub states: Vec<(String, Vec<u8>)>,
}

/// What a tick changed.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Applied {
    pub new: u64,
    pub reopened: u64,
    pub alerts: u64,
}

pub struct Store {
    conn: Connection,
    path: PathBuf,
}

/// Opens a connection with the daemon's settings (also used by the alerter and the API).
pub fn connect(path: &Path) -> Result<Connection> {
    let open = || -> rusqlite::Result<Connection> {
        let conn = Connection::open(path)?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        Ok(conn)
    };
    open().with_context(|| {
        format!(
            "{}: cannot open the store (move a damaged file aside to start afresh)",
            path.display()
        )
    })
}

impl Store {
    /// Opens (creating) the database in the folder `dir`.
    pub fn open(dir: &Path) -> Result<Store> {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("{}: cannot create the store folder", dir.display()))?;
        let path = dir.join("cordon.db");
        let conn = connect(&path)?;
        // A database a crash left behind is checked before it is trusted.
        let check: String = conn
            .query_row("PRAGMA quick_check", [], |r| r.get(0))
            .with_context(|| format!("{}: cannot check the database", path.display()))?;
        if check != "ok" {
            anyhow::bail!(
                "{}: the database is damaged ({check}); move it aside to start afresh",
                path.display()
            );
        }
        conn.execute_batch(SCHEMA)?;
        conn.execute_batch(alert::SCHEMA)?;
        let version: Option<String> = conn
            .query_row("SELECT value FROM meta WHERE key = 'schema'", [], |r| {
                r.get(0)
            })
            .optional()?;
        match version.as_deref().map(str::parse::<i64>) {
            None => {
                conn.execute(
                    "INSERT INTO meta (key, value) VALUES ('schema', ?1)",
                    [SCHEMA_VERSION.to_string()],
                )?;
            }
            Some(Ok(v)) if v == SCHEMA_VERSION => {}
            Some(v) => anyhow::bail!(
                "{}: store schema {v:?} was written by another cordon version (this one writes {SCHEMA_VERSION})",
                path.display()
            ),
        }
        // A store from before the daily rollup gets it from its hourly buckets, once.
        let empty: bool =
            conn.query_row("SELECT NOT EXISTS (SELECT 1 FROM exposure_day)", [], |r| {
                r.get(0)
            })?;
        if empty {
            conn.execute_batch(
                "INSERT OR IGNORE INTO exposure_day (day, grp, asset)
                   SELECT DISTINCT hour / 86400, grp, asset FROM exposure_hour;
                 INSERT OR REPLACE INTO exposure_day_count (day, grp, assets)
                   SELECT day, grp, COUNT(*) FROM exposure_day GROUP BY day, grp;",
            )?;
        }
        Ok(Store { conn, path })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn conn(&self) -> &Connection {
        &self.conn
    }

    /// The state a collector stored last.
    pub fn collector_state(&self, name: &str) -> Result<Option<Vec<u8>>> {
        Ok(self
            .conn
            .query_row(
                "SELECT state FROM collector_state WHERE name = ?1",
                [name],
                |r| r.get(0),
            )
            .optional()?)
    }

    /// Applies one tick in one transaction; the findings' transitions enqueue their alerts
    /// in the same transaction.
    pub fn apply(&mut self, t: &Tick, dests: &[AlertConfig]) -> Result<Applied> {
        let tx = self.conn.transaction()?;
        let mut applied = Applied::default();
        let hour = t.now_ms.div_euclid(3_600_000) * 3600;
        {
            let mut get = tx.prepare_cached(
                "SELECT record FROM exposure WHERE asset = ?1 AND entity = ?2 AND relationship = ?3",
            )?;
            let mut put = tx.prepare_cached(
                "INSERT OR REPLACE INTO exposure (asset, entity, relationship, grp, flows, bytes_out, bytes_in, first_seen, last_seen, seen_ms, record)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
            )?;
            let mut hourly = tx.prepare_cached(
                "INSERT INTO exposure_hour (hour, asset, entity, relationship, grp, flows, bytes_out, bytes_in)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
                 ON CONFLICT (hour, asset, entity, relationship) DO UPDATE SET
                   flows = flows + excluded.flows, bytes_out = bytes_out + excluded.bytes_out,
                   bytes_in = bytes_in + excluded.bytes_in",
            )?;
            let mut daily = tx.prepare_cached(
                "INSERT OR IGNORE INTO exposure_day (day, grp, asset) VALUES (?1, ?2, ?3)",
            )?;
            let mut daily_count = tx.prepare_cached(
                "INSERT INTO exposure_day_count (day, grp, assets) VALUES (?1, ?2, 1)
                 ON CONFLICT (day, grp) DO UPDATE SET assets = assets + 1",
            )?;
            let day = t.now_ms.div_euclid(86_400_000);
            for e in &t.exposures {
                if daily.execute(params![day, e.group, e.asset])? == 1 {
                    daily_count.execute(params![day, e.group])?;
                }
                let rel = e.relationship.as_str();
                let old: Option<String> = get
                    .query_row(params![e.asset, e.entity, rel], |r| r.get(0))
                    .optional()?;
                let merged = match old.as_deref().map(serde_json::from_str::<Exposure>) {
                    Some(Ok(o)) => merge_exposure(o, e),
                    _ => e.clone(),
                };
                put.execute(params![
                    merged.asset,
                    merged.entity,
                    rel,
                    merged.group,
                    merged.flows as i64,
                    merged.bytes_out as i64,
                    merged.bytes_in as i64,
                    merged.first_seen,
                    merged.last_seen,
                    t.now_ms,
                    serde_json::to_string(&merged)?,
                ])?;
                hourly.execute(params![
                    hour,
                    e.asset,
                    e.entity,
                    rel,
                    e.group,
                    e.flows as i64,
                    e.bytes_out as i64,
                    e.bytes_in as i64
                ])?;
            }
        }
        {
            let mut get = tx.prepare_cached("SELECT record FROM device WHERE mac = ?1")?;
            let mut put = tx.prepare_cached(
                "INSERT OR REPLACE INTO device (mac, ip, entity, grp, seen_ms, record) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?;
            for d in &t.devices {
                let old: Option<String> = get.query_row([&d.mac], |r| r.get(0)).optional()?;
                let mut d = d.clone();
                if let Some(Ok(o)) = old.as_deref().map(serde_json::from_str::<Device>) {
                    d.first_seen = min_str(&o.first_seen, &d.first_seen);
                    d.last_seen = max_str(&o.last_seen, &d.last_seen);
                    d.ip = d.ip.or(o.ip);
                    d.host_name = d.host_name.or(o.host_name);
                    d.vendor_class = d.vendor_class.or(o.vendor_class);
                }
                put.execute(params![
                    d.mac,
                    d.ip,
                    d.entity,
                    d.group,
                    t.now_ms,
                    serde_json::to_string(&d)?
                ])?;
            }
        }
        {
            let mut get = tx.prepare_cached(
                "SELECT record FROM indicator_match WHERE asset = ?1 AND remote = ?2 AND indicator = ?3",
            )?;
            let mut put = tx.prepare_cached(
                "INSERT OR REPLACE INTO indicator_match (asset, remote, indicator, count, seen_ms, record) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?;
            for m in &t.matches {
                let key = m.indicator.id.clone();
                let old: Option<String> = get
                    .query_row(params![m.asset, m.remote, key], |r| r.get(0))
                    .optional()?;
                let mut m = m.clone();
                if let Some(Ok(o)) = old.as_deref().map(serde_json::from_str::<IndicatorMatch>) {
                    m.count += o.count;
                    m.first_seen = min_str(&o.first_seen, &m.first_seen);
                    m.last_seen = max_str(&o.last_seen, &m.last_seen);
                }
                put.execute(params![
                    m.asset,
                    m.remote,
                    key,
                    m.count as i64,
                    t.now_ms,
                    serde_json::to_string(&m)?
                ])?;
            }
        }
        {
            let day = crate::date::format_days(t.now_ms.div_euclid(86_400_000));
            let mut get =
                tx.prepare_cached("SELECT status, episode, record FROM finding WHERE id = ?1")?;
            let mut insert = tx.prepare_cached(
                "INSERT INTO finding (id, rule, severity, sev, asset, entity, grp, relationship, status, waived, episode, first_ms, last_ms, changed_ms, record)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?12, ?12, ?13)",
            )?;
            let mut update = tx.prepare_cached(
                "UPDATE finding SET rule = ?2, severity = ?3, sev = ?4, status = ?5, waived = ?6,
                   episode = ?7, last_ms = ?8,
                   changed_ms = CASE WHEN status = ?5 THEN changed_ms ELSE ?8 END,
                   acked_ms = CASE WHEN ?9 THEN NULL ELSE acked_ms END,
                   ack_note = CASE WHEN ?9 THEN NULL ELSE ack_note END,
                   record = ?10
                 WHERE id = ?1",
            )?;
            let mut seen_day = tx.prepare_cached(
                "INSERT OR IGNORE INTO finding_day (day, id, severity, grp) VALUES (?1, ?2, ?3, ?4)",
            )?;
            let mut event = tx.prepare_cached(
                "INSERT INTO finding_event (id, at_ms, status, episode) VALUES (?1, ?2, ?3, ?4)",
            )?;
            for f in &t.findings {
                let sev = f.severity.known().map_or(0, |s| s as i64);
                let old: Option<(String, u32, String)> = get
                    .query_row([&f.id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                    .optional()?;
                // The record keeps the traffic behind the finding since it was first seen.
                let mut merged = f.clone();
                if let Some(Ok(o)) = old.as_ref().map(|o| serde_json::from_str::<Finding>(&o.2)) {
                    merged.flows += o.flows;
                    merged.bytes_out += o.bytes_out;
                    merged.first_seen = match (o.first_seen, merged.first_seen) {
                        (Some(a), Some(b)) => Some(min_str(&a, &b)),
                        (a, b) => a.or(b),
                    };
                    merged.last_seen = match (o.last_seen, merged.last_seen) {
                        (Some(a), Some(b)) => Some(max_str(&a, &b)),
                        (a, b) => a.or(b),
                    };
                }
                let record = serde_json::to_string(&merged)?;
                let raise = |tx: &Connection, tr: Transition, ep: u32| {
                    alert::enqueue(tx, dests, f, tr, ep, t.now_ms)
                };
                match old {
                    None => {
                        let (status, episode) = if f.waived {
                            (Status::Waived, 0)
                        } else {
                            (Status::New, 1)
                        };
                        insert.execute(params![
                            f.id,
                            f.rule,
                            f.severity.as_str(),
                            sev,
                            f.asset,
                            f.entity,
                            f.group,
                            f.relationship.as_str(),
                            status.as_str(),
                            f.waived,
                            episode,
                            t.now_ms,
                            record
                        ])?;
                        event.execute(params![f.id, t.now_ms, status.as_str(), episode])?;
                        if status == Status::New {
                            applied.new += 1;
                            applied.alerts += raise(&tx, Transition::New, 1)? as u64;
                        }
                    }
                    Some((status, episode, _)) => {
                        let status = Status::parse(&status).unwrap_or(Status::Ongoing);
                        // The next status, the episode, and the alert a change raises.
                        let (next, ep, tr) = match (f.waived, status) {
                            (true, _) => (Status::Waived, episode, None),
                            // Waived from its first sighting, now not: it was never
                            // alerted, so it is new now.
                            (false, Status::Waived) if episode == 0 => {
                                (Status::New, 1, Some(Transition::New))
                            }
                            (false, Status::Waived) => (Status::Ongoing, episode, None),
                            (false, Status::Resolved) => {
                                (Status::Reopened, episode + 1, Some(Transition::Reopened))
                            }
                            (false, Status::New | Status::Reopened | Status::Ongoing) => {
                                (Status::Ongoing, episode, None)
                            }
                        };
                        update.execute(params![
                            f.id,
                            f.rule,
                            f.severity.as_str(),
                            sev,
                            next.as_str(),
                            f.waived,
                            ep,
                            t.now_ms,
                            tr.is_some(),
                            record
                        ])?;
                        if next != status {
                            event.execute(params![f.id, t.now_ms, next.as_str(), ep])?;
                        }
                        match tr {
                            Some(Transition::New) => applied.new += 1,
                            Some(Transition::Reopened) => applied.reopened += 1,
                            None => {}
                        }
                        if let Some(tr) = tr {
                            applied.alerts += raise(&tx, tr, ep)? as u64;
                        }
                    }
                }
                seen_day.execute(params![day, f.id, f.severity.as_str(), f.group])?;
            }
        }
        {
            let mut put = tx.prepare_cached(
                "INSERT OR REPLACE INTO collector_state (name, state, updated_ms) VALUES (?1, ?2, ?3)",
            )?;
            for (name, state) in &t.states {
                put.execute(params![name, state, t.now_ms])?;
            }
        }
        tx.commit()?;
        Ok(applied)
    }

    /// Findings with no traffic since `now_ms - after_ms` become `resolved`. Returns how
    /// many.
    pub fn resolve_quiet(&mut self, now_ms: i64, after_ms: i64) -> Result<usize> {
        let tx = self.conn.transaction()?;
        tx.execute(
            "INSERT INTO finding_event (id, at_ms, status, episode)
             SELECT id, ?1, 'resolved', episode FROM finding
             WHERE status IN ('new', 'ongoing', 'reopened') AND last_ms < ?2",
            params![now_ms, now_ms - after_ms],
        )?;
        let n = tx.execute(
            "UPDATE finding SET status = 'resolved', changed_ms = ?1
             WHERE status IN ('new', 'ongoing', 'reopened') AND last_ms < ?2",
            params![now_ms, now_ms - after_ms],
        )?;
        tx.commit()?;
        Ok(n)
    }

    /// Deletes hourly buckets and finding days older than the retention.
    pub fn retain(&mut self, now_ms: i64, days: u32) -> Result<u64> {
        let cutoff_ms = now_ms - i64::from(days) * 86_400_000;
        let cutoff_day = crate::date::format_days(cutoff_ms.div_euclid(86_400_000));
        let tx = self.conn.transaction()?;
        let mut n = tx.execute(
            "DELETE FROM exposure_hour WHERE hour < ?1",
            [cutoff_ms / 1000],
        )?;
        n += tx.execute("DELETE FROM finding_day WHERE day < ?1", [cutoff_day])?;
        n += tx.execute("DELETE FROM finding_event WHERE at_ms < ?1", [cutoff_ms])?;
        let cutoff_days = cutoff_ms.div_euclid(86_400_000);
        n += tx.execute("DELETE FROM exposure_day WHERE day < ?1", [cutoff_days])?;
        tx.execute(
            "DELETE FROM exposure_day_count WHERE day < ?1",
            [cutoff_days],
        )?;
        tx.commit()?;
        Ok(n as u64)
    }
}

/// The stored total and a tick's delta of one exposure: counts add, times widen, the
/// lists keep their caps (names 20, remotes 10, ports 20), and the evidence of the stronger
/// attribution is kept.
pub fn merge_exposure(mut old: Exposure, new: &Exposure) -> Exposure {
    old.flows += new.flows;
    old.bytes_out += new.bytes_out;
    old.bytes_in += new.bytes_in;
    old.first_seen = min_str(&old.first_seen, &new.first_seen);
    old.last_seen = max_str(&old.last_seen, &new.last_seen);
    union(&mut old.names, &new.names, 20);
    union(&mut old.remotes, &new.remotes, 10);
    union(&mut old.ports, &new.ports, 20);
    union(&mut old.services, &new.services, usize::MAX);
    if new.confidence >= old.confidence {
        old.confidence = new.confidence;
        old.evidence = new.evidence.clone();
    }
    old.designations = new.designations.clone();
    old.group = new.group.clone();
    old
}

fn union<T: PartialEq + Clone>(into: &mut Vec<T>, from: &[T], cap: usize) {
    for x in from {
        if into.len() >= cap {
            break;
        }
        if !into.contains(x) {
            into.push(x.clone());
        }
    }
}

/// RFC 3339 UTC strings of one shape compare as their times do.
fn min_str(a: &str, b: &str) -> String {
    if a.is_empty() || (!b.is_empty() && b < a) {
        b.to_string()
    } else {
        a.to_string()
    }
}

fn max_str(a: &str, b: &str) -> String {
    if b > a {
        b.to_string()
    } else {
        a.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finding(id: &str, severity: &str, waived: bool, flows: u64) -> Finding {
        serde_json::from_value(serde_json::json!({
            "id": id, "rule": "designated-company", "severity": severity,
            "asset": "10.0.0.5", "asset_name": null, "entity": "alibaba-cloud",
            "group": "alibaba", "relationship": "hosted-on", "designations": [],
            "regulations": [], "evidence": [], "remediation": "stop", "waived": waived,
            "flows": flows, "bytes_out": 10 * flows,
            "first_seen": "2026-12-01T00:00:00.000Z", "last_seen": "2026-12-01T00:00:01.000Z"
        }))
        .unwrap()
    }

    fn dest() -> Vec<AlertConfig> {
        let c: super::super::config::Config = toml::from_str(
            "[[alert]]\nfile = \"/nonexistent/alerts.jsonl\"\nmin_severity = \"low\"\n",
        )
        .unwrap();
        c.alert
    }

    fn temp(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("cordon-store-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        d
    }

    fn status(s: &Store, id: &str) -> (String, u32, bool) {
        s.conn()
            .query_row(
                "SELECT status, episode, acked_ms IS NOT NULL FROM finding WHERE id = ?1",
                [id],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .unwrap()
    }

    fn tick(now_ms: i64, findings: Vec<Finding>) -> Tick {
        Tick {
            now_ms,
            findings,
            ..Tick::default()
        }
    }

    #[test]
    fn a_finding_goes_new_ongoing_resolved_reopened_and_alerts_on_each_opening() {
        let dir = temp("life");
        let mut s = Store::open(&dir).unwrap();
        let d = dest();
        let id = "00000000000000aa";
        let a = s
            .apply(&tick(1_000, vec![finding(id, "high", false, 2)]), &d)
            .unwrap();
        assert_eq!((a.new, a.alerts), (1, 1));
        assert_eq!(status(&s, id), ("new".into(), 1, false));
        // Seen again: ongoing, no alert; the traffic adds up.
        let a = s
            .apply(&tick(2_000, vec![finding(id, "high", false, 3)]), &d)
            .unwrap();
        assert_eq!(a, Applied::default());
        assert_eq!(status(&s, id).0, "ongoing");
        let rec: String = s
            .conn()
            .query_row("SELECT record FROM finding WHERE id = ?1", [id], |r| {
                r.get(0)
            })
            .unwrap();
        let rec: Finding = serde_json::from_str(&rec).unwrap();
        assert_eq!((rec.flows, rec.bytes_out), (5, 50));
        // Acknowledged, then quiet past the resolve time: resolved.
        s.conn()
            .execute(
                "UPDATE finding SET acked_ms = 2500, ack_note = 'known' WHERE id = ?1",
                [id],
            )
            .unwrap();
        assert_eq!(s.resolve_quiet(10_000, 5_000).unwrap(), 1);
        assert_eq!(status(&s, id), ("resolved".into(), 1, true));
        // Back: reopened, a second episode with its own alert, the acknowledgement cleared.
        let a = s
            .apply(&tick(11_000, vec![finding(id, "high", false, 1)]), &d)
            .unwrap();
        assert_eq!((a.reopened, a.alerts), (1, 1));
        assert_eq!(status(&s, id), ("reopened".into(), 2, false));
        let alerts: i64 = s
            .conn()
            .query_row("SELECT COUNT(*) FROM alert", [], |r| r.get(0))
            .unwrap();
        assert_eq!(alerts, 2, "one alert per episode");
        // The history has each status it entered, in order.
        let events: Vec<(String, u32)> = s
            .conn()
            .prepare(
                "SELECT status, episode FROM finding_event WHERE id = ?1 ORDER BY at_ms, rowid",
            )
            .unwrap()
            .query_map([id], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        let want: Vec<(String, u32)> =
            [("new", 1), ("ongoing", 1), ("resolved", 1), ("reopened", 2)]
                .iter()
                .map(|(s, e)| (s.to_string(), *e))
                .collect();
        assert_eq!(events, want);
        drop(s);
        // Reopened from disk: the same state (the schema check passes).
        let s = Store::open(&dir).unwrap();
        assert_eq!(status(&s, id), ("reopened".into(), 2, false));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_waived_finding_is_not_alerted_until_its_waiver_ends() {
        let dir = temp("waived");
        let mut s = Store::open(&dir).unwrap();
        let d = dest();
        let id = "00000000000000bb";
        let a = s
            .apply(&tick(1_000, vec![finding(id, "critical", true, 1)]), &d)
            .unwrap();
        assert_eq!(a.alerts, 0);
        assert_eq!(status(&s, id), ("waived".into(), 0, false));
        // The waiver expired: it is new now, and alerted once.
        let a = s
            .apply(&tick(2_000, vec![finding(id, "critical", false, 1)]), &d)
            .unwrap();
        assert_eq!((a.new, a.alerts), (1, 1));
        assert_eq!(status(&s, id), ("new".into(), 1, false));
        // Below the destination's min_severity: recorded, not alerted.
        let a = s
            .apply(
                &tick(3_000, vec![finding("00000000000000cc", "info", false, 1)]),
                &d,
            )
            .unwrap();
        assert_eq!((a.new, a.alerts), (1, 0));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn exposures_add_up_per_key_and_per_hour_and_retention_deletes_old_hours() {
        let dir = temp("exp");
        let mut s = Store::open(&dir).unwrap();
        let e: Exposure = serde_json::from_value(serde_json::json!({
            "asset": "10.0.0.5", "entity": "alibaba-cloud", "group": "alibaba",
            "relationship": "hosted-on", "confidence": 0.9, "flows": 2, "bytes_out": 100,
            "bytes_in": 50, "first_seen": "2026-12-01T00:00:05.000Z",
            "last_seen": "2026-12-01T00:00:09.000Z", "names": ["a.example"],
            "remotes": ["47.88.1.2"], "ports": [443], "services": [], "evidence": [],
            "designations": []
        }))
        .unwrap();
        let mut later = e.clone();
        later.first_seen = "2026-12-01T00:00:01.000Z".into();
        later.names = vec!["b.example".into()];
        let hour = 3_600_000;
        for (at, x) in [(0, &e), (10, &later), (2 * hour, &e)] {
            let t = Tick {
                now_ms: at,
                exposures: vec![x.clone()],
                ..Tick::default()
            };
            s.apply(&t, &[]).unwrap();
        }
        let rec: String = s
            .conn()
            .query_row("SELECT record FROM exposure", [], |r| r.get(0))
            .unwrap();
        let total: Exposure = serde_json::from_str(&rec).unwrap();
        assert_eq!(
            (total.flows, total.bytes_out, total.bytes_in),
            (6, 300, 150)
        );
        assert_eq!(total.first_seen, "2026-12-01T00:00:01.000Z");
        assert_eq!(total.names, ["a.example", "b.example"]);
        let hours: Vec<(i64, i64)> = s
            .conn()
            .prepare("SELECT hour, flows FROM exposure_hour ORDER BY hour")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!(hours, [(0, 4), (7200, 2)]);
        // One asset touched the group on day 0, however many ticks saw it.
        let days: Vec<(i64, String, i64)> = s
            .conn()
            .prepare("SELECT day, grp, assets FROM exposure_day_count")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!(days, [(0, "alibaba".to_string(), 1)]);
        // Three days later with a two-day retention, both hours are gone; totals stay.
        s.retain(3 * 86_400_000, 2).unwrap();
        let n: i64 = s
            .conn()
            .query_row("SELECT COUNT(*) FROM exposure_hour", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 0);
        let n: i64 = s
            .conn()
            .query_row("SELECT COUNT(*) FROM exposure_day_count", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 0, "the daily rollup is retained like the hours");
        let n: i64 = s
            .conn()
            .query_row("SELECT COUNT(*) FROM exposure", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 1);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_store_without_the_daily_rollup_gets_it_from_its_hours() {
        let dir = temp("rollup");
        let s = Store::open(&dir).unwrap();
        s.conn()
            .execute_batch(
                "INSERT INTO exposure_hour VALUES (0, '10.0.0.1', 'alibaba-cloud', 'hosted-on', 'alibaba', 1, 1, 1);
                 INSERT INTO exposure_hour VALUES (3600, '10.0.0.1', 'taobao', 'hosted-on', 'alibaba', 1, 1, 1);
                 INSERT INTO exposure_hour VALUES (3600, '10.0.0.2', 'alibaba-cloud', 'hosted-on', 'alibaba', 1, 1, 1);
                 INSERT INTO exposure_hour VALUES (86400, '10.0.0.2', 'hikvision', 'made-by', 'hikvision', 1, 1, 1);",
            )
            .unwrap();
        drop(s);
        let s = Store::open(&dir).unwrap();
        let days: Vec<(i64, String, i64)> = s
            .conn()
            .prepare("SELECT day, grp, assets FROM exposure_day_count ORDER BY day, grp")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!(
            days,
            [
                (0, "alibaba".to_string(), 2),
                (1, "hikvision".to_string(), 1)
            ]
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_store_from_another_schema_is_refused_by_name() {
        let dir = temp("schema");
        let s = Store::open(&dir).unwrap();
        s.conn()
            .execute("UPDATE meta SET value = '99' WHERE key = 'schema'", [])
            .unwrap();
        drop(s);
        let e = Store::open(&dir).err().expect("refused");
        assert!(format!("{e:#}").contains("schema"), "{e:#}");
        std::fs::write(
            dir.join("cordon.db"),
            b"not a database at all, not even close......",
        )
        .unwrap();
        let _ = std::fs::remove_file(dir.join("cordon.db-wal"));
        let _ = std::fs::remove_file(dir.join("cordon.db-shm"));
        let e = Store::open(&dir).err().expect("refused");
        assert!(format!("{e:#}").contains("cordon.db"), "{e:#}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
