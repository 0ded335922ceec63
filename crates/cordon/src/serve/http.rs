//! The HTTP side: the JSON API under `/api/v1/`, `/healthz`, `/metrics` (Prometheus text).
//!
//! Records are the wire format's (docs/wire-format.md): the API returns the stored
//! exposure, device and finding records, with the lifecycle fields (`status`, `episode`,
//! `first_observed`, `last_observed`, `acknowledged`) beside them.
//!
//! **Security.** Loopback by default; on any other address the configuration must name a
//! token file, and then every request but `/healthz` needs `Authorization: Bearer <token>`
//! (compared in constant time). Bodies are capped; each client address gets a token bucket
//! of `rate_limit` requests per second. Nothing here logs a token or a request body.

use super::engine::EngineStats;
use super::stats::{lock, now_ms, CollectorStats, DestinationStats};
use crate::snapshot::Current;
use axum::extract::{ConnectInfo, Path, Query, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use rusqlite::{params_from_iter, Connection, OptionalExtension};
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// What the handlers share.
pub struct App {
    pub db: std::path::PathBuf,
    /// Read connections, one per request at a time (opened on demand, kept for reuse).
    pub pool: Mutex<Vec<Connection>>,
    pub current: Arc<Current>,
    /// Rebuilds and swaps the snapshot: `Ok(generation)` or why the old one stays.
    pub reload: Box<dyn Fn() -> Result<u64, String> + Send + Sync>,
    pub collectors: Vec<Arc<CollectorStats>>,
    pub destinations: Vec<Arc<DestinationStats>>,
    pub engine: Arc<EngineStats>,
    pub started: Instant,
    pub started_ms: i64,
    pub token: Option<String>,
    pub rate_limit: u32,
    pub buckets: Mutex<HashMap<IpAddr, (f64, Instant)>>,
    pub reloads: Arc<Mutex<ReloadLog>>,
    /// The dashboard's sessions and rate samples.
    pub dash: super::dash::DashState,
}

#[derive(Default, Debug, Clone, serde::Serialize)]
pub struct ReloadLog {
    pub ok: u64,
    pub failed: u64,
    pub last_error: Option<String>,
    pub last_at: Option<String>,
    /// Milliseconds the last successful rebuild and swap took.
    pub last_ms: Option<u64>,
}

pub type Shared = Arc<App>;

/// An error answer: status and a JSON body `{"error": ...}`.
pub struct ApiError(pub StatusCode, pub String);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.0, Json(json!({ "error": self.1 }))).into_response()
    }
}

impl From<rusqlite::Error> for ApiError {
    fn from(e: rusqlite::Error) -> ApiError {
        tracing::error!(error = %e, "store query failed");
        ApiError(
            StatusCode::INTERNAL_SERVER_ERROR,
            "store query failed".into(),
        )
    }
}

fn bad(msg: impl Into<String>) -> ApiError {
    ApiError(StatusCode::BAD_REQUEST, msg.into())
}

pub fn router(app: Shared, body_limit: usize) -> Router {
    let api = Router::new()
        .route("/api/v1/status", get(status))
        .route("/api/v1/exposures", get(exposures))
        .route("/api/v1/devices", get(devices))
        .route("/api/v1/findings", get(findings))
        .route("/api/v1/findings/{id}", get(finding))
        .route("/api/v1/findings/{id}/ack", post(ack))
        .route("/api/v1/entities/{id}", get(entity))
        .route("/api/v1/trend", get(trend))
        .route("/api/v1/reload", post(reload))
        .route("/api/v1/openapi.json", get(openapi))
        .route("/metrics", get(metrics))
        .layer(axum::middleware::from_fn_with_state(app.clone(), guard));
    Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .merge(api)
        .merge(super::dash::routes(app.clone()))
        .layer(axum::extract::DefaultBodyLimit::max(body_limit))
        .with_state(app)
}

/// Token and rate limit, before any handler.
async fn guard(
    State(app): State<Shared>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    req: Request,
    next: Next,
) -> Response {
    if let Some(token) = &app.token {
        let given = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or("");
        if !constant_time_eq(given.as_bytes(), token.as_bytes()) {
            return (
                StatusCode::UNAUTHORIZED,
                [(header::WWW_AUTHENTICATE, "Bearer")],
                Json(json!({"error": "missing or wrong bearer token"})),
            )
                .into_response();
        }
    }
    if !take_token(&app, peer.ip()) {
        return ApiError(
            StatusCode::TOO_MANY_REQUESTS,
            "rate limit: slow down".into(),
        )
        .into_response();
    }
    if let Err(why) = same_origin(req.method(), req.headers()) {
        return ApiError(StatusCode::FORBIDDEN, why.into()).into_response();
    }
    next.run(req).await
}

/// A state-changing request that a browser says comes from another site is refused: without
/// a token (loopback) a page on any site could otherwise POST to the API through the
/// user's browser. Clients that are not browsers send neither header.
pub(super) fn same_origin(
    method: &axum::http::Method,
    headers: &axum::http::HeaderMap,
) -> Result<(), &'static str> {
    if method == axum::http::Method::GET || method == axum::http::Method::HEAD {
        return Ok(());
    }
    let site = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok());
    if matches!(site, Some("cross-site" | "same-site")) {
        return Err("cross-site request refused");
    }
    if let Some(origin) = headers.get(header::ORIGIN) {
        let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
        let origin = origin.to_str().unwrap_or("");
        let ok = host.is_some_and(|h| {
            origin.strip_prefix("http://") == Some(h) || origin.strip_prefix("https://") == Some(h)
        });
        if !ok {
            return Err("request from another origin refused");
        }
    }
    Ok(())
}

/// Compares in time that depends on the lengths only.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let mut diff = (a.len() ^ b.len()) as u8 | u8::from(a.len() != b.len());
    for i in 0..a.len().max(b.len()) {
        diff |= a.get(i).copied().unwrap_or(0) ^ b.get(i).copied().unwrap_or(0xff);
    }
    diff == 0
}

/// A token bucket per client address; the table is bounded (cleared when it grows past
/// 10,000 addresses).
pub(super) fn take_token(app: &App, ip: IpAddr) -> bool {
    let rate = f64::from(app.rate_limit.max(1));
    let mut b = lock(&app.buckets);
    if b.len() > 10_000 {
        b.clear();
    }
    let now = Instant::now();
    let (tokens, at) = b.entry(ip).or_insert((rate, now));
    *tokens = (*tokens + now.duration_since(*at).as_secs_f64() * rate).min(rate);
    *at = now;
    if *tokens >= 1.0 {
        *tokens -= 1.0;
        true
    } else {
        false
    }
}

/// Runs `f` with a read connection, off the async workers.
pub(super) async fn with_db<T: Send + 'static>(
    app: &Shared,
    f: impl FnOnce(&Connection) -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    let app = app.clone();
    tokio::task::spawn_blocking(move || {
        let conn = match lock(&app.pool).pop() {
            Some(c) => c,
            None => super::store::connect(&app.db).map_err(|e| {
                tracing::error!(error = %format!("{e:#}"), "cannot open the store");
                ApiError(StatusCode::SERVICE_UNAVAILABLE, "store unavailable".into())
            })?,
        };
        let out = f(&conn);
        let mut pool = lock(&app.pool);
        if pool.len() < 4 {
            pool.push(conn);
        }
        out
    })
    .await
    .map_err(|_| {
        ApiError(
            StatusCode::INTERNAL_SERVER_ERROR,
            "query task failed".into(),
        )
    })?
}

pub(super) fn rfc3339(ms: i64) -> String {
    crate::date::rfc3339_micros(ms * 1000)
}

async fn status(State(app): State<Shared>) -> Result<Json<Value>, ApiError> {
    let snap = app.current.get();
    let now = now_ms();
    let collectors: Vec<Value> = app
        .collectors
        .iter()
        .map(|c| {
            json!({
                "name": c.name,
                "kind": c.kind,
                "flows_received": c.flows_received.load(Relaxed),
                "units_received": c.units_received.load(Relaxed),
                "flows_ingested": c.flows_ingested.load(Relaxed),
                "dropped": c.drops().into_iter().map(|(r, n)| (r.to_string(), n)).collect::<HashMap<_, _>>(),
                "anomalies": c.anomaly_counts().into_iter().map(|(r, n)| (r.to_string(), n)).collect::<HashMap<_, _>>(),
                "queue_depth": c.queue_depth.load(Relaxed),
                "lag_seconds": c.lag_seconds(now),
                "last_received": match c.last_received_ms.load(Relaxed) { 0 => None, ms => Some(rfc3339(ms)) },
                "bytes_read": (c.kind == "zeek" || c.kind == "eve").then(|| c.offset.load(Relaxed)),
                "datagrams_dropped_kernel": (c.kind == "netflow" || c.kind == "sflow").then(|| c.kernel_drops.load(Relaxed)),
            })
        })
        .collect();
    let e = &app.engine;
    let datasets: Vec<Value> = snap
        .intel
        .datasets
        .iter()
        .map(|d| json!({"id": d.id, "date": d.date}))
        .collect();
    let mut counts = with_db(&app, |c| {
        let mut by = serde_json::Map::new();
        let mut st = c.prepare("SELECT status, COUNT(*) FROM finding GROUP BY status")?;
        let rows = st.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?;
        for r in rows {
            let (s, n) = r?;
            by.insert(s, json!(n));
        }
        let exposures: i64 = c.query_row("SELECT COUNT(*) FROM exposure", [], |r| r.get(0))?;
        let outbox = super::alert::summary(c)?;
        Ok(json!({"findings": by, "exposures": exposures, "outbox": outbox}))
    })
    .await?;
    Ok(Json(json!({
        "version": env!("CARGO_PKG_VERSION"),
        "started": rfc3339(app.started_ms),
        "uptime_seconds": app.started.elapsed().as_secs(),
        "snapshot": {
            "generation": snap.generation,
            "datasets": datasets,
            "indicators": snap.indicators.as_ref().map(|s| s.len()),
            "reloads": lock(&app.reloads).clone(),
        },
        "engine": {
            "ticks": e.ticks.load(Relaxed),
            "observations": e.observations.load(Relaxed),
            "flows": e.flows.load(Relaxed),
            "store_errors": e.store_errors.load(Relaxed),
            "last_tick_ms": e.last_tick_ms.load(Relaxed),
            "names_reset": e.names_reset.load(Relaxed),
        },
        "collectors": collectors,
        "alerts": app.destinations.iter().map(|d| {
            // The outbox's delivery state for this destination, when it has rows.
            let outbox = counts["outbox"]
                .as_array()
                .and_then(|o| o.iter().find(|x| x["destination"] == d.name.as_str()))
                .cloned();
            json!({
                "destination": d.name,
                "sent": d.sent.load(Relaxed),
                "failed": d.failed.load(Relaxed),
                "digested": d.digested.load(Relaxed),
                "pending": outbox.as_ref().map_or(json!(0), |o| o["pending"].clone()),
                "last_error": outbox.as_ref().map_or(Value::Null, |o| o["last_error"].clone()),
            })
        }).collect::<Vec<_>>(),
        "store": { "findings": counts["findings"].take(), "exposures": counts["exposures"].take() },
    })))
}

/// Paging of every list: `limit` (default 100, at most 1,000) and `offset`.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    status: Option<String>,
    severity: Option<String>,
    group: Option<String>,
    asset: Option<String>,
    entity: Option<String>,
    since: Option<String>,
    limit: Option<u32>,
    offset: Option<u32>,
}

impl ListQuery {
    fn page(&self) -> Result<(i64, i64), ApiError> {
        let limit = self.limit.unwrap_or(100);
        if limit == 0 || limit > 1000 {
            return Err(bad("limit must be 1 to 1000"));
        }
        Ok((i64::from(limit), i64::from(self.offset.unwrap_or(0))))
    }
}

/// `since`: an RFC 3339 time or a date, as Unix milliseconds.
fn since_ms(s: &str) -> Result<i64, ApiError> {
    crate::report::parse_time(s)
        .or_else(|| {
            (s.len() == 10)
                .then(|| crate::date::parse_days(s))
                .flatten()
                .map(|d| d * 86_400)
        })
        .map(|secs| secs * 1000)
        .ok_or_else(|| bad(format!("since={s:?}: not an RFC 3339 time or a date")))
}

/// Rows of `(record, extra fields)` into records with the extras merged in.
fn records(rows: Vec<(String, Value)>) -> Vec<Value> {
    rows.into_iter()
        .filter_map(|(r, extra)| {
            let mut v: Value = serde_json::from_str(&r).ok()?;
            if let (Some(o), Value::Object(e)) = (v.as_object_mut(), extra) {
                o.extend(e);
            }
            Some(v)
        })
        .collect()
}

async fn exposures(
    State(app): State<Shared>,
    Query(q): Query<ListQuery>,
) -> Result<Json<Value>, ApiError> {
    let (limit, offset) = q.page()?;
    let mut sql = String::from("SELECT record, seen_ms FROM exposure WHERE 1=1");
    let mut args: Vec<String> = Vec::new();
    for (col, v) in [
        ("asset", &q.asset),
        ("grp", &q.group),
        ("entity", &q.entity),
    ] {
        if let Some(v) = v {
            args.push(v.clone());
            sql.push_str(&format!(" AND {col} = ?{}", args.len()));
        }
    }
    if let Some(s) = &q.since {
        args.push(since_ms(s)?.to_string());
        sql.push_str(&format!(" AND seen_ms >= CAST(?{} AS INTEGER)", args.len()));
    }
    if q.status.is_some() || q.severity.is_some() {
        return Err(bad(
            "exposures take asset, group, entity, since, limit, offset",
        ));
    }
    sql.push_str(&format!(
        " ORDER BY bytes_out + bytes_in DESC, asset, entity LIMIT {limit} OFFSET {offset}"
    ));
    let rows = with_db(&app, move |c| {
        let mut st = c.prepare(&sql)?;
        let rows = st.query_map(params_from_iter(args.iter()), |r| {
            Ok((
                r.get::<_, String>(0)?,
                json!({"last_observed": rfc3339(r.get(1)?)}),
            ))
        })?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    })
    .await?;
    Ok(Json(
        json!({"exposures": records(rows), "limit": limit, "offset": offset}),
    ))
}

async fn devices(
    State(app): State<Shared>,
    Query(q): Query<ListQuery>,
) -> Result<Json<Value>, ApiError> {
    let (limit, offset) = q.page()?;
    let rows = with_db(&app, move |c| {
        let mut st = c.prepare(&format!(
            "SELECT record, seen_ms FROM device ORDER BY seen_ms DESC, mac LIMIT {limit} OFFSET {offset}"
        ))?;
        let rows = st.query_map([], |r| {
            Ok((r.get::<_, String>(0)?, json!({"last_observed": rfc3339(r.get(1)?)})))
        })?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    })
    .await?;
    Ok(Json(
        json!({"devices": records(rows), "limit": limit, "offset": offset}),
    ))
}

const FINDING_COLUMNS: &str =
    "record, status, episode, first_ms, last_ms, changed_ms, acked_ms, ack_note";

fn finding_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<(String, Value)> {
    let acked: Option<i64> = r.get(6)?;
    Ok((
        r.get(0)?,
        json!({
            "status": r.get::<_, String>(1)?,
            "episode": r.get::<_, i64>(2)?,
            "first_observed": rfc3339(r.get(3)?),
            "last_observed": rfc3339(r.get(4)?),
            "status_changed": rfc3339(r.get(5)?),
            "acknowledged": acked.is_some(),
            "acknowledged_at": acked.map(rfc3339),
            "ack_note": r.get::<_, Option<String>>(7)?,
        }),
    ))
}

async fn findings(
    State(app): State<Shared>,
    Query(q): Query<ListQuery>,
) -> Result<Json<Value>, ApiError> {
    let (limit, offset) = q.page()?;
    let mut sql = format!("SELECT {FINDING_COLUMNS} FROM finding WHERE 1=1");
    let mut args: Vec<String> = Vec::new();
    let mut any_of = |col: &str, list: &str, check: &dyn Fn(&str) -> bool, sql: &mut String| {
        let items: Vec<&str> = list.split(',').map(str::trim).collect();
        if let Some(badv) = items.iter().find(|i| !check(i)) {
            return Err(bad(format!("{col}={badv:?} is not a known value")));
        }
        let marks: Vec<String> = items
            .iter()
            .map(|i| {
                args.push(i.to_string());
                format!("?{}", args.len())
            })
            .collect();
        sql.push_str(&format!(" AND {col} IN ({})", marks.join(", ")));
        Ok(())
    };
    if let Some(s) = &q.status {
        any_of(
            "status",
            s,
            &|v| super::store::Status::parse(v).is_some(),
            &mut sql,
        )?;
    }
    if let Some(s) = &q.severity {
        any_of(
            "severity",
            s,
            &|v| v.parse::<crate::model::Severity>().is_ok(),
            &mut sql,
        )?;
    }
    for (col, v) in [
        ("asset", &q.asset),
        ("grp", &q.group),
        ("entity", &q.entity),
    ] {
        if let Some(v) = v {
            args.push(v.clone());
            sql.push_str(&format!(" AND {col} = ?{}", args.len()));
        }
    }
    if let Some(s) = &q.since {
        args.push(since_ms(s)?.to_string());
        sql.push_str(&format!(" AND last_ms >= CAST(?{} AS INTEGER)", args.len()));
    }
    sql.push_str(&format!(
        " ORDER BY sev DESC, last_ms DESC, id LIMIT {limit} OFFSET {offset}"
    ));
    let rows = with_db(&app, move |c| {
        let mut st = c.prepare(&sql)?;
        let rows = st.query_map(params_from_iter(args.iter()), finding_row)?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    })
    .await?;
    Ok(Json(
        json!({"findings": records(rows), "limit": limit, "offset": offset}),
    ))
}

pub(super) fn check_id(id: &str) -> Result<(), ApiError> {
    if id.len() != 16 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(bad("a finding id is 16 hex digits"));
    }
    Ok(())
}

async fn finding(
    State(app): State<Shared>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    check_id(&id)?;
    let row = with_db(&app, move |c| {
        Ok(c.query_row(
            &format!("SELECT {FINDING_COLUMNS} FROM finding WHERE id = ?1"),
            [&id],
            finding_row,
        )
        .optional()?)
    })
    .await?;
    match row {
        Some(r) => Ok(Json(records(vec![r]).pop().unwrap_or(Value::Null))),
        None => Err(ApiError(StatusCode::NOT_FOUND, "no such finding".into())),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AckBody {
    note: String,
}

async fn ack(
    State(app): State<Shared>,
    Path(id): Path<String>,
    body: Result<Json<AckBody>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    check_id(&id)?;
    let Json(body) = body.map_err(|e| {
        ApiError(
            e.status(),
            format!("body must be {{\"note\": \"...\"}} within the body limit: {e}"),
        )
    })?;
    if body.note.len() > 4096 {
        return Err(bad("note longer than 4096 bytes"));
    }
    let now = now_ms();
    let n = with_db(&app, move |c| Ok(acknowledge(c, &id, now, &body.note)?)).await?;
    if n == 0 {
        return Err(ApiError(StatusCode::NOT_FOUND, "no such finding".into()));
    }
    Ok(Json(
        json!({"acknowledged": true, "acknowledged_at": rfc3339(now)}),
    ))
}

/// Acknowledges a finding with a note and records it in the finding's history; 0 when
/// there is no such finding.
pub(super) fn acknowledge(
    c: &Connection,
    id: &str,
    now: i64,
    note: &str,
) -> rusqlite::Result<usize> {
    let tx = c.unchecked_transaction()?;
    let n = tx.execute(
        "UPDATE finding SET acked_ms = ?2, ack_note = ?3 WHERE id = ?1",
        rusqlite::params![id, now, note],
    )?;
    tx.execute(
        "INSERT INTO finding_event (id, at_ms, status, episode, note)
         SELECT id, ?2, 'acknowledged', episode, ?3 FROM finding WHERE id = ?1",
        rusqlite::params![id, now, note],
    )?;
    tx.commit()?;
    Ok(n)
}

async fn entity(
    State(app): State<Shared>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let snap = app.current.get();
    let intel = &snap.intel;
    let Some(e) = intel.entity_by_id(&id) else {
        return Err(ApiError(
            StatusCode::NOT_FOUND,
            format!("no entity {id:?} in the intel"),
        ));
    };
    let target = crate::explain::Target::Company(vec![e]);
    let answer = crate::explain::answer(intel, &id, &target);
    Ok(Json(crate::explain::to_json(intel, &answer)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TrendQuery {
    days: Option<u32>,
}

async fn trend(
    State(app): State<Shared>,
    Query(q): Query<TrendQuery>,
) -> Result<Json<Value>, ApiError> {
    let days = q.days.unwrap_or(30);
    if days == 0 || days > 3660 {
        return Err(bad("days must be 1 to 3660"));
    }
    let from = crate::date::format_days(now_ms().div_euclid(86_400_000) - i64::from(days) + 1);
    let rows = with_db(&app, move |c| {
        let mut st = c.prepare(
            "SELECT day, severity, grp, COUNT(*) FROM finding_day WHERE day >= ?1
             GROUP BY day, severity, grp ORDER BY day, severity, grp",
        )?;
        let rows = st.query_map([&from], |r| {
            Ok(json!({
                "day": r.get::<_, String>(0)?,
                "severity": r.get::<_, String>(1)?,
                "group": r.get::<_, String>(2)?,
                "findings": r.get::<_, i64>(3)?,
            }))
        })?;
        let out = rows.collect::<Result<Vec<_>, _>>()?;
        let mut st = c.prepare(
            "SELECT hour / 86400, grp, SUM(flows), SUM(bytes_out), SUM(bytes_in) FROM exposure_hour
             WHERE hour >= ?1 GROUP BY hour / 86400, grp ORDER BY 1, 2",
        )?;
        let start = (now_ms() / 1000).div_euclid(86_400) - i64::from(days) + 1;
        let traffic = st
            .query_map([start * 86_400], |r| {
                Ok(json!({
                    "day": crate::date::format_days(r.get(0)?),
                    "group": r.get::<_, String>(1)?,
                    "flows": r.get::<_, i64>(2)?,
                    "bytes_out": r.get::<_, i64>(3)?,
                    "bytes_in": r.get::<_, i64>(4)?,
                }))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(json!({"findings": out, "traffic": traffic}))
    })
    .await?;
    Ok(Json(rows))
}

async fn reload(State(app): State<Shared>) -> Result<Json<Value>, ApiError> {
    let a = app.clone();
    let r = tokio::task::spawn_blocking(move || (a.reload)())
        .await
        .map_err(|_| {
            ApiError(
                StatusCode::INTERNAL_SERVER_ERROR,
                "reload task failed".into(),
            )
        })?;
    let log = lock(&app.reloads).clone();
    match r {
        Ok(g) => Ok(Json(
            json!({"reloaded": true, "generation": g, "took_ms": log.last_ms}),
        )),
        Err(e) => Err(ApiError(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("reload refused, the running snapshot stays: {e}"),
        )),
    }
}

async fn openapi() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "application/json")],
        include_str!("openapi.json"),
    )
}

async fn metrics(State(app): State<Shared>) -> Result<Response, ApiError> {
    let counts = with_db(&app, |c| {
        let mut st = c.prepare("SELECT severity, status, COUNT(*) FROM finding GROUP BY 1, 2")?;
        let rows = st
            .query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, i64>(2)?,
                ))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        let exposures: i64 = c.query_row("SELECT COUNT(*) FROM exposure", [], |r| r.get(0))?;
        Ok((rows, exposures))
    })
    .await?;
    let text = super::metrics::render(&app, &counts.0, counts.1);
    Ok((
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        text,
    )
        .into_response())
}
