//! The pages: each handler reads the store in one blocking query task, then renders.

use super::{encode_path, encode_query, field, form, layout, t, Ctx, PageError};
use crate::model::{DesignationRef, Device, Evidence, Exposure, Finding, IndicatorMatch, Severity};
use crate::report::human_bytes;
use crate::report::svg::{self, Series};
use crate::serve::http::{acknowledge, check_id, rfc3339, with_db, Shared};
use crate::serve::stats::{lock, now_ms};
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Extension;
use maud::{html, Markup};
use rusqlite::{params, params_from_iter, Connection, OptionalExtension};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::sync::atomic::Ordering::Relaxed;

type Page = Result<Response, PageError>;

/// The statuses that count as open.
const OPEN: &str = "('new', 'ongoing', 'reopened')";
/// Days the overview's chart and a finding's traffic chart cover.
const CHART_DAYS: i64 = 30;
/// Rows per page of a table.
const PAGE_ROWS: i64 = 50;

// ---------------------------------------------------------------- small pieces

/// A time, shown in UTC here and turned into the viewer's zone by the script; UTC stays
/// in the tooltip.
fn when(iso: &str) -> Markup {
    let (Some(day), Some(hm)) = (iso.get(..10), iso.get(11..16)) else {
        return html! { (t(iso)) };
    };
    let utc = format!("{day} {hm} UTC");
    html! { time datetime=(iso) title=(utc) { (utc) } }
}

fn when_ms(ms: i64) -> Markup {
    when(&rfc3339(ms))
}

fn sev_badge(s: &str) -> Markup {
    let known = Severity::parse(s).map_or("unknown", Severity::as_str);
    html! { span class=(format!("sev sev-{known}")) { (t(s)) } }
}

fn status_badge(s: &str) -> Markup {
    let known = crate::serve::store::Status::parse(s).map_or("unknown", |x| x.as_str());
    html! { span class=(format!("status status-{known}")) { (t(s)) } }
}

fn asset_link(a: &str) -> Markup {
    html! { a href=(format!("/assets/{}", encode_path(a))) { code { (t(a)) } } }
}

fn company_link(id: &str) -> Markup {
    html! { a href=(format!("/companies/{}", encode_path(id))) { (t(id)) } }
}

/// An official source as a link (http and https only), else as text.
fn source(url: &str, text: &str) -> Markup {
    maud::PreEscaped(crate::report::escape::link(url, text))
}

fn evidence_list(ev: &[Evidence]) -> Markup {
    html! {
        ol.chain {
            @for e in ev {
                li {
                    span.kind { (t(&e.kind)) }
                    " " code { (t(&e.value)) }
                    @if let Some(s) = &e.source { " — " (source(s, s)) }
                    @if let Some(d) = &e.date { " (" (t(d)) ")" }
                }
            }
        }
    }
}

fn designations_table(ds: &[DesignationRef]) -> Markup {
    html! {
        @if ds.is_empty() {
            p.meta { "None on the lists cordon carries." }
        } @else {
            div.scroll { table {
                thead { tr { th { "List" } th { "Status" } th { "Since" } th { "Holder" } th { "Official source" } } }
                tbody {
                    @for d in ds {
                        tr {
                            td { b { (t(&d.list)) } }
                            td { (t(d.status.as_str())) }
                            td { (t(&d.date)) }
                            td { (company_link(&d.holder)) }
                            td { (source(&d.source, &d.source)) }
                        }
                    }
                }
            } }
        }
    }
}

fn pager(total: i64, page: i64, link: impl Fn(i64) -> String) -> Markup {
    let pages = ((total + PAGE_ROWS - 1) / PAGE_ROWS).max(1);
    html! {
        nav.pager aria-label="Pages" {
            @if page > 1 { a href=(link(page - 1)) rel="prev" { "← previous" } }
            span { "page " (page) " of " (pages) " · " (total) " rows" }
            @if page < pages { a href=(link(page + 1)) rel="next" { "next →" } }
        }
    }
}

/// A form value, or `None` when empty.
fn val(o: &Option<String>) -> Option<&str> {
    o.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

/// Escapes `%`, `_` and `\` for a `LIKE … ESCAPE '\'` pattern.
fn like(s: &str) -> String {
    let mut o = String::from("%");
    for c in s.chars() {
        if matches!(c, '%' | '_' | '\\') {
            o.push('\\');
        }
        o.push(c);
    }
    o.push('%');
    o
}

/// A company's display name from the running intel, else its id.
fn company_name(app: &Shared, id: &str) -> String {
    let snap = app.current.get();
    snap.intel
        .entity_by_id(id)
        .map_or_else(|| id.to_string(), |e| snap.intel.entity(e).name.to_string())
}

// ---------------------------------------------------------------- overview

struct OverviewData {
    open_by_sev: BTreeMap<i64, i64>,
    by_status: Vec<(String, i64)>,
    days: Vec<(i64, String, i64)>,
    assets_today: i64,
    assets_yesterday: i64,
    recent: Vec<(String, String, i64, String, String, String, String)>,
    recent_n: i64,
    top_assets: Vec<(String, i64, String, i64)>,
    makers: Vec<(String, i64, i64)>,
    exposures: i64,
}

fn overview_data(c: &Connection, now: i64) -> rusqlite::Result<OverviewData> {
    let mut open_by_sev = BTreeMap::new();
    // Counted on the index alone.
    let mut st = c.prepare_cached(&format!(
        "SELECT sev, COUNT(*) FROM finding WHERE status IN {OPEN} GROUP BY sev"
    ))?;
    for r in st.query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?)))? {
        let (k, n) = r?;
        open_by_sev.insert(k, n);
    }
    let by_status = c
        .prepare_cached("SELECT status, COUNT(*) FROM finding GROUP BY status ORDER BY status")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<Vec<_>, _>>()?;
    let today = now.div_euclid(86_400_000);
    let days = c
        .prepare_cached(
            "SELECT day, grp, assets FROM exposure_day_count WHERE day > ?1 ORDER BY day, grp",
        )?
        .query_map([today - CHART_DAYS], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    let distinct = |d: i64| -> rusqlite::Result<i64> {
        c.query_row(
            "SELECT COUNT(DISTINCT asset) FROM exposure_day WHERE day = ?1",
            [d],
            |r| r.get(0),
        )
    };
    let (assets_today, assets_yesterday) = (distinct(today)?, distinct(today - 1)?);
    let since = now - 86_400_000;
    let recent = c
        .prepare_cached(
            "SELECT f.id, e.status, e.at_ms, f.severity, f.asset, f.entity, f.rule
             FROM finding_event e JOIN finding f ON f.id = e.id
             WHERE e.at_ms >= ?1 AND e.status IN ('new', 'reopened')
             ORDER BY f.sev DESC, e.at_ms DESC LIMIT 15",
        )?
        .query_map([since], |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
                r.get(6)?,
            ))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    let recent_n = c.query_row(
        "SELECT COUNT(*) FROM finding_event WHERE at_ms >= ?1 AND status IN ('new', 'reopened')",
        [since],
        |r| r.get(0),
    )?;
    let top_assets = c
        .prepare_cached(&format!(
            "SELECT asset, COUNT(*), MAX(sev), COUNT(DISTINCT grp) FROM finding
             WHERE status IN {OPEN} GROUP BY asset ORDER BY MAX(sev) DESC, COUNT(*) DESC, asset LIMIT 10"
        ))?
        .query_map([], |r| {
            let sev: i64 = r.get(2)?;
            let name = Severity::ALL
                .get(sev as usize)
                .map_or("unknown", |s| s.as_str())
                .to_string();
            Ok((r.get(0)?, r.get(1)?, name, r.get(3)?))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    let makers = c
        .prepare_cached(
            "SELECT COALESCE(json_extract(record, '$.maker'), 'unknown maker'), COUNT(*),
                    SUM(entity IS NOT NULL)
             FROM device GROUP BY 1 ORDER BY 3 DESC, 2 DESC LIMIT 12",
        )?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<Result<Vec<_>, _>>()?;
    let exposures = c.query_row("SELECT COUNT(*) FROM exposure", [], |r| r.get(0))?;
    Ok(OverviewData {
        open_by_sev,
        by_status,
        days,
        assets_today,
        assets_yesterday,
        recent,
        recent_n,
        top_assets,
        makers,
        exposures,
    })
}

/// The stacked chart of assets per company group per day, with the trend of the totals.
fn exposure_chart(app: &Shared, days: &[(i64, String, i64)], today: i64) -> (String, f64) {
    let first = today - CHART_DAYS + 1;
    let cols: Vec<String> = (first..=today).map(crate::date::format_days).collect();
    let mut by_group: BTreeMap<&str, Vec<f64>> = BTreeMap::new();
    for (d, g, n) in days {
        let i = (d - first) as usize;
        if i < cols.len() {
            by_group.entry(g).or_insert_with(|| vec![0.0; cols.len()])[i] += *n as f64;
        }
    }
    // The largest groups get their own colour; the rest are summed as "other".
    let mut groups: Vec<(&str, Vec<f64>)> = by_group.into_iter().collect();
    groups.sort_by(|a, b| b.1.iter().sum::<f64>().total_cmp(&a.1.iter().sum::<f64>()));
    let mut series: Vec<Series> = Vec::new();
    for (i, (g, v)) in groups.into_iter().enumerate() {
        if i < 7 {
            series.push(Series {
                label: company_name(app, g),
                values: v,
            });
        } else if let Some(other) = series.get_mut(7) {
            for (a, b) in other.values.iter_mut().zip(&v) {
                *a += b;
            }
        } else {
            series.push(Series {
                label: "other companies".into(),
                values: v,
            });
        }
    }
    let totals: Vec<f64> = (0..cols.len())
        .map(|i| series.iter().map(|s| s.values[i]).sum())
        .collect();
    let (slope, _) = svg::least_squares(&totals);
    (
        svg::stacked(
            "exposure-chart",
            "Assets exposed per company group, per day (UTC)",
            "assets",
            &cols,
            &series,
            true,
        ),
        slope,
    )
}

pub async fn overview(State(app): State<Shared>, Extension(ctx): Extension<Ctx>) -> Page {
    let now = now_ms();
    let d = with_db(&app, move |c| Ok(overview_data(c, now)?)).await?;
    let today = now.div_euclid(86_400_000);
    let (chart, slope) = exposure_chart(&app, &d.days, today);
    let snap = app.current.get();
    let stale: Vec<(String, i64)> = snap
        .intel
        .datasets
        .iter()
        .filter_map(|ds| {
            let (age, stale) = crate::intel_cmd::dataset_age(ds, crate::date::today());
            stale.then(|| (ds.id.to_string(), age.unwrap_or(0)))
        })
        .collect();
    let open_total: i64 = d.open_by_sev.values().sum();
    let delta = d.assets_today - d.assets_yesterday;
    let body = html! {
        h1 { "Exposure to companies of concern" }
        p.meta {
            (d.exposures) " exposures (asset × company) in the store; "
            (open_total) " open findings; snapshot generation " (snap.generation) "."
        }
        @if !stale.is_empty() {
            p.warn role="alert" {
                "Intel is stale: "
                @for (i, (id, age)) in stale.iter().enumerate() {
                    @if i > 0 { ", " }
                    b { (t(id)) } " (" (age) " days old)"
                }
                ". Newer data: " a href="/intel" { "Intel" } "."
            }
        }
        h2 { "Open findings by severity" }
        div.cards {
            @for s in Severity::ALL.iter().rev() {
                @let n = d.open_by_sev.get(&(*s as i64)).copied().unwrap_or(0);
                a.card href=(format!("/findings?severity={}", s.as_str())) {
                    b { (n) } (sev_badge(s.as_str()))
                }
            }
            a.card href="/findings?status=all" {
                b { (d.by_status.iter().map(|x| x.1).sum::<i64>()) } "all statuses"
            }
        }
        p.meta {
            @for (i, (s, n)) in d.by_status.iter().enumerate() {
                @if i > 0 { " · " }
                a href=(format!("/findings?status={}", encode_query(s))) { (t(s)) } " " (n)
            }
        }
        div.grid {
            section {
                h2 { "Exposure over time" }
                p {
                    b { (d.assets_today) } " assets touched a company of concern today (UTC), "
                    (d.assets_yesterday) " yesterday ("
                    @if delta < 0 { span.ok { (delta) } } @else if delta > 0 { span.bad { "+" (delta) } } @else { "no change" }
                    "). Trend over " (CHART_DAYS) " days: "
                    @if slope < -0.01 { span.ok { (format!("{slope:.1}")) " assets a day (shrinking)" } }
                    @else if slope > 0.01 { span.bad { (format!("+{slope:.1}")) " assets a day (growing)" } }
                    @else { "flat" }
                    "."
                }
                (maud::PreEscaped(chart))
            }
            section {
                h2 { "New and reopened in the last 24 hours" }
                @if d.recent.is_empty() {
                    p.meta { "Nothing new since yesterday." }
                } @else {
                    p.meta { (d.recent_n) " openings; the most severe:" }
                    div.scroll { table {
                        thead { tr { th { "Severity" } th { "What" } th { "Asset" } th { "Company" } th { "When" } } }
                        tbody {
                            @for (id, st, at, sev, asset, entity, rule) in &d.recent {
                                tr {
                                    td { (sev_badge(sev)) }
                                    td { (status_badge(st)) " " a href=(format!("/findings/{}", encode_path(id))) { (t(rule)) } }
                                    td { (asset_link(asset)) }
                                    td { (company_link(entity)) }
                                    td { (when_ms(*at)) }
                                }
                            }
                        }
                    } }
                }
            }
            section {
                h2 { "Top assets" }
                @if d.top_assets.is_empty() {
                    p.meta { "No open findings." }
                } @else {
                    div.scroll { table {
                        thead { tr { th { "Asset" } th { "Worst" } th.num { "Open findings" } th.num { "Company groups" } } }
                        tbody {
                            @for (a, n, worst, groups) in &d.top_assets {
                                tr { td { (asset_link(a)) } td { (sev_badge(worst)) } td.num { (n) } td.num { (groups) } }
                            }
                        }
                    } }
                }
            }
            section {
                h2 { "Devices by maker" }
                @if d.makers.is_empty() {
                    p.meta { "No devices seen (devices come from DHCP and MAC addresses in the telemetry)." }
                } @else {
                    div.scroll { table {
                        thead { tr { th { "Maker" } th.num { "Devices" } th.num { "Of concern" } } }
                        tbody {
                            @for (m, n, concern) in &d.makers {
                                tr {
                                    td { (t(m)) }
                                    td.num { (n) }
                                    td.num { @if *concern > 0 { span.bad { (concern) } } @else { "0" } }
                                }
                            }
                        }
                    } }
                    p { a href="/devices?concern=1" { "Devices made by covered manufacturers →" } }
                }
            }
        }
        h2 { "Collectors" }
        (collectors(&app, now))
        h2 { "Intel" }
        p {
            (snap.intel.datasets.len()) " datasets; "
            @if stale.is_empty() { span.ok { "all current" } } @else { span.bad { (stale.len()) " stale" } }
            "; last reload: "
            @match lock(&app.reloads).last_at.clone() {
                Some(at) => { (when(&at)) },
                None => { "none since start" },
            }
            ". " a href="/intel" { "Details →" }
        }
    };
    Ok(layout(&ctx, "Overview", "/", body))
}

fn collectors(app: &Shared, now: i64) -> Markup {
    html! {
        @if app.collectors.is_empty() {
            p.meta { "No collectors configured." }
        } @else {
            div.scroll { table {
                thead { tr {
                    th { "Collector" } th { "Kind" } th.num { "Flows/s" } th.num { "Flows received" }
                    th.num { "Dropped" } th.num { "Queue" } th.num { "Lag s" } th { "Last data" } th { "Health" }
                } }
                tbody {
                    @for c in &app.collectors {
                        @let flows = c.flows_received.load(Relaxed);
                        @let rate = app.dash.rate(&c.name, flows, now, app.started_ms);
                        @let dropped = c.dropped_total() + c.kernel_drops.load(Relaxed);
                        @let lag = c.lag_seconds(now);
                        @let last = c.last_received_ms.load(Relaxed);
                        tr {
                            td { (t(&c.name)) }
                            td { (c.kind) }
                            td.num { (format!("{rate:.0}")) }
                            td.num { (flows) }
                            td.num { @if dropped > 0 { span.bad { (dropped) } } @else { "0" } }
                            td.num { (c.queue_depth.load(Relaxed)) }
                            td.num { (format!("{lag:.1}")) }
                            td { @if last > 0 { (when_ms(last)) } @else { "none yet" } }
                            td {
                                @if dropped > 0 { span.bad { "dropping" } }
                                @else if lag > 60.0 { span.bad { "lagging" } }
                                @else if last == 0 { span.meta { "waiting for data" } }
                                @else { span.ok { "ok" } }
                            }
                        }
                    }
                }
            } }
        }
    }
}

// ---------------------------------------------------------------- findings

#[derive(Deserialize, Default)]
pub struct FindingsQuery {
    severity: Option<String>,
    status: Option<String>,
    company: Option<String>,
    asset: Option<String>,
    rule: Option<String>,
    q: Option<String>,
    sort: Option<String>,
    dir: Option<String>,
    page: Option<i64>,
}

/// Sortable columns: (name in the URL, SQL).
const SORTS: [(&str, &str); 7] = [
    ("severity", "sev"),
    ("last", "last_ms"),
    ("first", "first_ms"),
    ("asset", "asset"),
    ("company", "entity"),
    ("status", "status"),
    ("rule", "rule"),
];

struct FindingRow {
    status: String,
    acked: bool,
    first_ms: i64,
    last_ms: i64,
    f: Finding,
}

fn finding_rows(c: &Connection, sql: &str, args: &[String]) -> rusqlite::Result<Vec<FindingRow>> {
    let mut st = c.prepare(sql)?;
    let rows = st.query_map(params_from_iter(args.iter()), |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, Option<i64>>(2)?,
            r.get::<_, i64>(3)?,
            r.get::<_, i64>(4)?,
        ))
    })?;
    let mut out = Vec::new();
    for r in rows {
        let (rec, status, acked, first_ms, last_ms) = r?;
        if let Ok(f) = serde_json::from_str::<Finding>(&rec) {
            out.push(FindingRow {
                status,
                acked: acked.is_some(),
                first_ms,
                last_ms,
                f,
            });
        }
    }
    Ok(out)
}

const ROW_COLUMNS: &str = "record, status, acked_ms, first_ms, last_ms";

/// The findings table (with the bulk-acknowledge boxes when `select` is set).
fn findings_table(rows: &[FindingRow], select: bool, head: Markup) -> Markup {
    html! {
        div.scroll { table #findings {
            thead { (head) }
            tbody {
                @for r in rows {
                    tr.waived[r.f.waived] {
                        @if select {
                            td { input type="checkbox" name="id" value=(r.f.id) aria-label=(format!("select {}", r.f.id)); }
                        }
                        td { (sev_badge(r.f.severity.as_str())) }
                        td { (status_badge(&r.status)) @if r.acked { " " span.status title="acknowledged" { "ack" } } }
                        td {
                            (asset_link(&r.f.asset))
                            @if let Some(n) = &r.f.asset_name { br; span.meta { (t(n)) } }
                        }
                        td { (company_link(&r.f.entity)) br; span.meta { (t(&r.f.group)) } }
                        td { a href=(format!("/findings/{}", encode_path(&r.f.id))) { (t(&r.f.rule)) } br; span.meta { (t(r.f.relationship.as_str())) } }
                        td.hide-narrow { (when_ms(r.first_ms)) }
                        td { (when_ms(r.last_ms)) }
                        td.num.hide-narrow { (human_bytes(r.f.bytes_out)) }
                    }
                }
            }
        } }
    }
}

fn plain_head(select: bool) -> Markup {
    html! {
        tr {
            @if select { th { input #select-all type="checkbox" aria-label="select all"; } }
            th { "Severity" } th { "Status" } th { "Asset" } th { "Company" } th { "Rule" }
            th.hide-narrow { "First seen" } th { "Last seen" } th.num.hide-narrow { "Sent" }
        }
    }
}

pub async fn findings(
    State(app): State<Shared>,
    Extension(ctx): Extension<Ctx>,
    Query(q): Query<FindingsQuery>,
) -> Page {
    let mut wh = String::from(" WHERE 1=1");
    let mut args: Vec<String> = Vec::new();
    let arg = |v: String, args: &mut Vec<String>| {
        args.push(v);
        format!("?{}", args.len())
    };
    let status = val(&q.status).unwrap_or("open").to_string();
    match status.as_str() {
        "open" => wh += &format!(" AND status IN {OPEN}"),
        "all" => {}
        "acknowledged" => wh += " AND acked_ms IS NOT NULL",
        s if crate::serve::store::Status::parse(s).is_some() => {
            wh += &format!(" AND status = {}", arg(s.to_string(), &mut args));
        }
        s => return Err(PageError(StatusCode::BAD_REQUEST, format!("status {s:?} is not one of open, all, acknowledged, new, ongoing, reopened, resolved, waived"))),
    }
    let min_sev = match val(&q.severity) {
        None => None,
        Some(s) => Some(Severity::parse(s).ok_or_else(|| {
            PageError(
                StatusCode::BAD_REQUEST,
                format!("severity {s:?} is not one of info, low, medium, high, critical"),
            )
        })?),
    };
    if let Some(s) = min_sev {
        wh += &format!(" AND sev >= {}", s as i64);
    }
    if let Some(c) = val(&q.company) {
        let m = arg(c.to_string(), &mut args);
        wh += &format!(" AND (entity = {m} OR grp = {m})");
    }
    if let Some(a) = val(&q.asset) {
        wh += &format!(" AND asset = {}", arg(a.to_string(), &mut args));
    }
    if let Some(r) = val(&q.rule) {
        wh += &format!(" AND rule = {}", arg(r.to_string(), &mut args));
    }
    if let Some(s) = val(&q.q) {
        let m = arg(like(s), &mut args);
        wh += &format!(
            " AND (id LIKE {m} ESCAPE '\\' OR asset LIKE {m} ESCAPE '\\' OR entity LIKE {m} ESCAPE '\\' OR grp LIKE {m} ESCAPE '\\' OR rule LIKE {m} ESCAPE '\\')"
        );
    }
    let sort = val(&q.sort).unwrap_or("severity").to_string();
    let Some(&(_, col)) = SORTS.iter().find(|(n, _)| *n == sort) else {
        return Err(PageError(
            StatusCode::BAD_REQUEST,
            format!("sort {sort:?} is not a column"),
        ));
    };
    let asc = val(&q.dir) == Some("asc");
    let dir = if asc { "ASC" } else { "DESC" };
    let page = q.page.unwrap_or(1).max(1);
    let offset = (page - 1) * PAGE_ROWS;
    // The page's rows are chosen on the indexed columns and the row id alone (no record is
    // read to sort), then only those rows' records are read.
    let order = format!("{col} {dir}, sev DESC, last_ms DESC, rowid");
    let sql = format!(
        "SELECT {ROW_COLUMNS} FROM finding WHERE rowid IN
           (SELECT rowid FROM finding{wh} ORDER BY {order} LIMIT {PAGE_ROWS} OFFSET {offset})
         ORDER BY {order}"
    );
    let count_sql = format!("SELECT COUNT(*) FROM finding{wh}");
    let (rows, total) = with_db(&app, move |c| {
        let total: i64 = c.query_row(&count_sql, params_from_iter(args.iter()), |r| r.get(0))?;
        Ok((finding_rows(c, &sql, &args)?, total))
    })
    .await?;
    // The query string of this view with one parameter changed.
    let base: Vec<(&str, String)> = [
        ("status", Some(status.clone())),
        ("severity", val(&q.severity).map(String::from)),
        ("company", val(&q.company).map(String::from)),
        ("asset", val(&q.asset).map(String::from)),
        ("rule", val(&q.rule).map(String::from)),
        ("q", val(&q.q).map(String::from)),
        ("sort", Some(sort.clone())),
        ("dir", Some(if asc { "asc" } else { "desc" }.to_string())),
    ]
    .into_iter()
    .filter_map(|(k, v)| v.map(|v| (k, v)))
    .collect();
    let url = |changes: &[(&str, String)]| -> String {
        let mut s = form_urlencoded::Serializer::new(String::new());
        for (k, v) in &base {
            if !changes.iter().any(|(c, _)| c == k) {
                s.append_pair(k, v);
            }
        }
        for (k, v) in changes {
            s.append_pair(k, v);
        }
        format!("/findings?{}", s.finish())
    };
    let here = url(&[("page", page.to_string())]);
    let head = html! {
        tr {
            th { input #select-all type="checkbox" aria-label="select all"; }
            @for (name, label, cls) in [("severity", "Severity", ""), ("status", "Status", ""), ("asset", "Asset", ""), ("company", "Company", ""), ("rule", "Rule", ""), ("first", "First seen", "hide-narrow"), ("last", "Last seen", "")] {
                @let on = sort == name;
                @let next_dir = if on && !asc { "asc" } else { "desc" };
                th class=(cls) aria-sort=[on.then_some(if asc { "ascending" } else { "descending" })] {
                    a href=(url(&[("sort", name.to_string()), ("dir", next_dir.to_string())])) { (label) }
                }
            }
            th.num.hide-narrow { "Sent" }
        }
    };
    let body = html! {
        h1 { "Findings" }
        form.filters method="get" action="/findings" role="search" {
            label { "Status"
                select name="status" {
                    @for s in ["open", "all", "new", "ongoing", "reopened", "resolved", "waived", "acknowledged"] {
                        option value=(s) selected[status == s] { (s) }
                    }
                }
            }
            label { "Severity at least"
                select name="severity" {
                    option value="" { "any" }
                    @for s in Severity::ALL.iter().rev() {
                        option value=(s.as_str()) selected[min_sev == Some(*s)] { (s.as_str()) }
                    }
                }
            }
            label { "Company" input type="text" name="company" value=(val(&q.company).unwrap_or("")) placeholder="id or group"; }
            label { "Asset" input type="text" name="asset" value=(val(&q.asset).unwrap_or("")) placeholder="10.0.0.5"; }
            label { "Rule" input type="text" name="rule" value=(val(&q.rule).unwrap_or("")); }
            label { "Search" input type="search" name="q" value=(val(&q.q).unwrap_or("")) placeholder="id, asset, company, rule"; }
            input type="hidden" name="sort" value=(sort);
            input type="hidden" name="dir" value=(if asc { "asc" } else { "desc" });
            button type="submit" { "Filter" }
            a href="/findings" { "reset" }
        }
        @if rows.is_empty() {
            p.meta { "No findings match." }
        } @else {
            form.ack method="post" action="/findings/ack" {
                input type="hidden" name="csrf" value=(ctx.csrf);
                input type="hidden" name="back" value=(here);
                (findings_table(&rows, true, head))
                label for="bulk-note" { "Note" }
                input #bulk-note type="text" name="note" maxlength="4096" placeholder="why (required)" required;
                button type="submit" { "Acknowledge selected" }
            }
            (pager(total, page, |p| url(&[("page", p.to_string())])))
        }
    };
    Ok(layout(&ctx, "Findings", "/findings", body))
}

pub async fn ack_many(
    State(app): State<Shared>,
    Extension(ctx): Extension<Ctx>,
    body: Bytes,
) -> Page {
    let fields = form(&ctx, &body)?;
    let note = field(&fields, "note").unwrap_or("").trim().to_string();
    if note.is_empty() || note.len() > 4096 {
        return Err(PageError(
            StatusCode::BAD_REQUEST,
            "An acknowledgement needs a note (at most 4096 bytes).".into(),
        ));
    }
    let ids: Vec<String> = fields
        .iter()
        .filter(|(k, _)| k == "id")
        .map(|(_, v)| v.clone())
        .collect();
    if ids.is_empty() {
        return Err(PageError(
            StatusCode::BAD_REQUEST,
            "Select at least one finding.".into(),
        ));
    }
    if ids.len() > 1000 {
        return Err(PageError(
            StatusCode::BAD_REQUEST,
            "At most 1000 findings at once.".into(),
        ));
    }
    for id in &ids {
        check_id(id)?;
    }
    let now = now_ms();
    with_db(&app, move |c| {
        for id in &ids {
            acknowledge(c, id, now, &note)?;
        }
        Ok(())
    })
    .await?;
    let back = field(&fields, "back")
        .filter(|b| b.starts_with("/findings"))
        .unwrap_or("/findings");
    Ok(Redirect::to(back).into_response())
}

pub async fn ack_one(
    State(app): State<Shared>,
    Extension(ctx): Extension<Ctx>,
    Path(id): Path<String>,
    body: Bytes,
) -> Page {
    check_id(&id)?;
    let fields = form(&ctx, &body)?;
    let note = field(&fields, "note").unwrap_or("").trim().to_string();
    if note.is_empty() || note.len() > 4096 {
        return Err(PageError(
            StatusCode::BAD_REQUEST,
            "An acknowledgement needs a note (at most 4096 bytes).".into(),
        ));
    }
    let now = now_ms();
    let key = id.clone();
    let n = with_db(&app, move |c| Ok(acknowledge(c, &key, now, &note)?)).await?;
    if n == 0 {
        return Err(PageError(
            StatusCode::NOT_FOUND,
            format!("No finding {id}."),
        ));
    }
    Ok(Redirect::to(&format!("/findings/{id}")).into_response())
}

// ---------------------------------------------------------------- one finding

struct FindingDetail {
    f: Finding,
    status: String,
    episode: i64,
    first_ms: i64,
    last_ms: i64,
    changed_ms: i64,
    acked_ms: Option<i64>,
    ack_note: Option<String>,
    events: Vec<(i64, String, i64, Option<String>)>,
    exposure: Option<Exposure>,
    daily: Vec<(i64, i64, i64)>,
}

fn finding_detail(c: &Connection, id: &str, now: i64) -> rusqlite::Result<Option<FindingDetail>> {
    let row = c
        .query_row(
            "SELECT record, status, episode, first_ms, last_ms, changed_ms, acked_ms, ack_note FROM finding WHERE id = ?1",
            [id],
            |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, i64>(2)?,
                    r.get::<_, i64>(3)?,
                    r.get::<_, i64>(4)?,
                    r.get::<_, i64>(5)?,
                    r.get::<_, Option<i64>>(6)?,
                    r.get::<_, Option<String>>(7)?,
                ))
            },
        )
        .optional()?;
    let Some((rec, status, episode, first_ms, last_ms, changed_ms, acked_ms, ack_note)) = row
    else {
        return Ok(None);
    };
    let Ok(f) = serde_json::from_str::<Finding>(&rec) else {
        return Ok(None);
    };
    let events = c
        .prepare_cached("SELECT at_ms, status, episode, note FROM finding_event WHERE id = ?1 ORDER BY at_ms, rowid")?
        .query_map([id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?
        .collect::<Result<Vec<_>, _>>()?;
    let rel = f.relationship.as_str().to_string();
    let exposure: Option<String> = c
        .query_row(
            "SELECT record FROM exposure WHERE asset = ?1 AND entity = ?2 AND relationship = ?3",
            params![f.asset, f.entity, rel],
            |r| r.get(0),
        )
        .optional()?;
    let exposure = exposure.and_then(|e| serde_json::from_str::<Exposure>(&e).ok());
    // The hourly buckets of this exposure: one primary-key probe per hour of the window.
    let to = (now / 1000).div_euclid(3600) * 3600;
    let from = to - (CHART_DAYS * 24 - 1) * 3600;
    let daily = c
        .prepare_cached(
            "WITH RECURSIVE h(x) AS (SELECT ?1 UNION ALL SELECT x + 3600 FROM h WHERE x < ?2)
             SELECT e.hour / 86400, SUM(e.flows), SUM(e.bytes_out + e.bytes_in)
             FROM h JOIN exposure_hour e ON e.hour = h.x AND e.asset = ?3 AND e.entity = ?4 AND e.relationship = ?5
             GROUP BY 1 ORDER BY 1",
        )?
        .query_map(params![from, to, f.asset, f.entity, rel], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Some(FindingDetail {
        f,
        status,
        episode,
        first_ms,
        last_ms,
        changed_ms,
        acked_ms,
        ack_note,
        events,
        exposure,
        daily,
    }))
}

pub async fn finding(
    State(app): State<Shared>,
    Extension(ctx): Extension<Ctx>,
    Path(id): Path<String>,
) -> Page {
    check_id(&id)?;
    let now = now_ms();
    let key = id.clone();
    let d = with_db(&app, move |c| Ok(finding_detail(c, &key, now)?))
        .await?
        .ok_or_else(|| {
            PageError(
                StatusCode::NOT_FOUND,
                format!("No finding {id} in the store."),
            )
        })?;
    let f = &d.f;
    let snap = app.current.get();
    let inventory = snap.judge.inventory.lookup_ip(&f.asset);
    let today = now.div_euclid(86_400_000);
    let cols: Vec<(String, f64)> = (today - CHART_DAYS + 1..=today)
        .map(|day| {
            let v = d.daily.iter().find(|x| x.0 == day).map_or(0, |x| x.2);
            (crate::date::format_days(day), v as f64)
        })
        .collect();
    let chart = svg::columns(
        "traffic-chart",
        "Traffic with this company, per day (UTC)",
        "bytes",
        &cols,
    );
    let resolve_h = app.dash.resolve_after_secs as f64 / 3600.0;
    let body = html! {
        p.meta { a href="/findings" { "Findings" } " › " code { (t(&f.id)) } }
        h1 { (sev_badge(f.severity.as_str())) " " (t(&f.rule)) ": " (t(&f.asset)) " → " (t(&company_name(&app, &f.entity))) }
        p {
            (status_badge(&d.status)) " since " (when_ms(d.changed_ms)) ", episode " (d.episode)
            @if d.acked_ms.is_some() { " · " span.status { "acknowledged" } }
            " · resolves after " (format!("{resolve_h:.0}")) " h without traffic"
        }
        dl.facts {
            dt { "Finding id" } dd { code { (t(&f.id)) } }
            dt { "Asset" } dd { (asset_link(&f.asset)) @if let Some(n) = &f.asset_name { " " (t(n)) } }
            @if let Some(o) = &f.owner { dt { "Owner" } dd { (t(o)) } }
            dt { "Company" } dd { (company_link(&f.entity)) " (" (t(&company_name(&app, &f.entity))) "), group " (company_link(&f.group)) }
            dt { "Relationship" } dd { (t(f.relationship.as_str())) }
            dt { "First seen" } dd { (when_ms(d.first_ms)) }
            dt { "Last seen" } dd { (when_ms(d.last_ms)) }
            dt { "Traffic" } dd { (f.flows) " flows, " (human_bytes(f.bytes_out)) " sent" }
        }
        h2 { "Remediation" }
        p { (t(&f.remediation)) }
        h2 { "Why: the evidence chain" }
        (evidence_list(&f.evidence))
        h2 { "Designations" }
        (designations_table(&f.designations))
        h2 { "Regulations" }
        @if f.regulations.is_empty() { p.meta { "None named by the policy." } }
        ul.plain {
            @for r in &f.regulations {
                li { b { (t(&r.title)) } " (" (t(&r.citation)) "), " (t(&r.date)) ": " (t(&r.note)) " — " (source(&r.source, "source")) }
            }
        }
        h2 { "Traffic" }
        (maud::PreEscaped(chart))
        @if let Some(e) = &d.exposure {
            dl.facts {
                dt { "Totals" } dd { (e.flows) " flows, " (human_bytes(e.bytes_out)) " out, " (human_bytes(e.bytes_in)) " in" }
                dt { "Names" } dd { @if e.names.is_empty() { "none seen" } @for (i, n) in e.names.iter().enumerate() { @if i > 0 { ", " } code { (t(n)) } } }
                dt { "Remote addresses" } dd { @for (i, n) in e.remotes.iter().enumerate() { @if i > 0 { ", " } code { (t(n)) } } }
                dt { "Ports" } dd { (e.ports.iter().map(|p| p.to_string()).collect::<Vec<_>>().join(", ")) }
                @if !e.services.is_empty() { dt { "Services" } dd { (t(&e.services.join(", "))) } }
                dt { "Confidence" } dd { (format!("{:.2}", e.confidence)) }
            }
        } @else {
            p.meta { "No exposure record for this finding (device and indicator findings have none)." }
        }
        h2 { "The asset in the inventory" }
        @match inventory {
            Some(a) => {
                dl.facts {
                    dt { "Entry" } dd { code { (t(&a.key)) } " (" (t(&a.at)) ")" }
                    dt { "Name" } dd { (t(&a.name)) }
                    dt { "Owner" } dd { (t(&a.owner)) }
                    dt { "Tags" } dd { (t(&a.tags.join(", "))) }
                    dt { "Data" } dd { (t(&a.data.join(", "))) }
                }
            },
            None => { p.meta { "Not in the inventory (" code { "[judge] assets" } ")." } },
        }
        h2 { "Waiver" }
        @match &f.waiver {
            Some(w) => { p { (t(w)) } },
            None => { p.meta { "None: no waiver covers this finding." } },
        }
        h2 { "History" }
        @if d.events.is_empty() {
            p.meta { "No recorded changes (the history starts with this version of cordon's store)." }
        } @else {
            div.scroll { table {
                thead { tr { th { "When" } th { "Became" } th.num { "Episode" } th { "Note" } } }
                tbody {
                    @for (at, st, ep, note) in &d.events {
                        tr { td { (when_ms(*at)) } td { (status_badge(st)) } td.num { (ep) } td { (t(note.as_deref().unwrap_or(""))) } }
                    }
                }
            } }
        }
        h2 { "Acknowledge" }
        @if let (Some(at), Some(note)) = (d.acked_ms, &d.ack_note) {
            p { "Acknowledged " (when_ms(at)) ": " (t(note)) }
        }
        form.ack method="post" action=(format!("/findings/{}/acknowledge", encode_path(&f.id))) {
            input type="hidden" name="csrf" value=(ctx.csrf);
            label for="note" { "Note" }
            input #note type="text" name="note" maxlength="4096" required placeholder="who looked, what was decided";
            button type="submit" { @if d.acked_ms.is_some() { "Update acknowledgement" } @else { "Acknowledge" } }
        }
        p.meta { "JSON: " a href=(format!("/api/v1/findings/{}", encode_path(&f.id))) { "/api/v1/findings/" (t(&f.id)) } }
    };
    Ok(layout(&ctx, &format!("Finding {id}"), "/findings", body))
}

// ---------------------------------------------------------------- one asset

pub async fn asset(
    State(app): State<Shared>,
    Extension(ctx): Extension<Ctx>,
    Path(asset): Path<String>,
) -> Page {
    if asset.len() > 128 {
        return Err(PageError(
            StatusCode::BAD_REQUEST,
            "An asset is an address or a MAC address.".into(),
        ));
    }
    let key = asset.clone();
    let (rows, exposures, devices, matches) = with_db(&app, move |c| {
        let rows = finding_rows(
            c,
            &format!("SELECT {ROW_COLUMNS} FROM finding WHERE asset = ?1 ORDER BY sev DESC, last_ms DESC LIMIT 500"),
            std::slice::from_ref(&key),
        )?;
        let exposures = c
            .prepare_cached("SELECT record FROM exposure WHERE asset = ?1 ORDER BY bytes_out + bytes_in DESC LIMIT 500")?
            .query_map([&key], |r| r.get::<_, String>(0))?
            .filter_map(|r| r.ok().and_then(|s| serde_json::from_str::<Exposure>(&s).ok()))
            .collect::<Vec<_>>();
        let devices = c
            .prepare_cached("SELECT record FROM device WHERE ip = ?1 OR mac = ?1 LIMIT 100")?
            .query_map([&key], |r| r.get::<_, String>(0))?
            .filter_map(|r| r.ok().and_then(|s| serde_json::from_str::<Device>(&s).ok()))
            .collect::<Vec<_>>();
        let matches = c
            .prepare_cached("SELECT record FROM indicator_match WHERE asset = ?1 ORDER BY seen_ms DESC LIMIT 200")?
            .query_map([&key], |r| r.get::<_, String>(0))?
            .filter_map(|r| r.ok().and_then(|s| serde_json::from_str::<IndicatorMatch>(&s).ok()))
            .collect::<Vec<_>>();
        Ok((rows, exposures, devices, matches))
    })
    .await?;
    let snap = app.current.get();
    let inventory = snap
        .judge
        .inventory
        .lookup_ip(&asset)
        .or_else(|| snap.judge.inventory.lookup_device(&asset, None));
    let body = html! {
        h1 { "Asset " code { (t(&asset)) } }
        @match inventory {
            Some(a) => {
                dl.facts {
                    dt { "Inventory entry" } dd { code { (t(&a.key)) } " (" (t(&a.at)) ")" }
                    dt { "Name" } dd { (t(&a.name)) }
                    dt { "Owner" } dd { (t(&a.owner)) }
                    dt { "Tags" } dd { (t(&a.tags.join(", "))) }
                    dt { "Data" } dd { (t(&a.data.join(", "))) }
                }
            },
            None => { p.meta { "Not in the inventory." } },
        }
        h2 { "Findings (" (rows.len()) ")" }
        @if rows.is_empty() { p.meta { "None." } } @else { (findings_table(&rows, false, plain_head(false))) }
        h2 { "Exposures (" (exposures.len()) ")" }
        (exposure_table(&exposures, false))
        h2 { "Devices at this address" }
        @if devices.is_empty() { p.meta { "None seen." } } @else { (device_table(&devices)) }
        h2 { "Indicator matches" }
        @if matches.is_empty() { p.meta { "None." } } @else { (match_table(&matches)) }
    };
    Ok(layout(&ctx, &format!("Asset {asset}"), "", body))
}

fn exposure_table(es: &[Exposure], show_asset: bool) -> Markup {
    html! {
        @if es.is_empty() {
            p.meta { "None." }
        } @else {
            div.scroll { table {
                thead { tr {
                    @if show_asset { th { "Asset" } } @else { th { "Company" } }
                    th { "Relationship" } th.num { "Flows" } th.num { "Out" } th.num { "In" }
                    th.hide-narrow { "Names" } th.hide-narrow { "Ports" } th { "Last seen" }
                } }
                tbody {
                    @for e in es {
                        tr {
                            @if show_asset { td { (asset_link(&e.asset)) } } @else { td { (company_link(&e.entity)) } }
                            td { (t(e.relationship.as_str())) }
                            td.num { (e.flows) }
                            td.num { (human_bytes(e.bytes_out)) }
                            td.num { (human_bytes(e.bytes_in)) }
                            td.hide-narrow { @for (i, n) in e.names.iter().take(5).enumerate() { @if i > 0 { ", " } code { (t(n)) } } }
                            td.hide-narrow { (e.ports.iter().take(8).map(|p| p.to_string()).collect::<Vec<_>>().join(", ")) }
                            td { (when(&e.last_seen)) }
                        }
                    }
                }
            } }
        }
    }
}

fn device_table(ds: &[Device]) -> Markup {
    html! {
        div.scroll { table {
            thead { tr { th { "MAC" } th { "Address" } th { "Maker" } th { "Company" } th.hide-narrow { "Host name" } th.hide-narrow { "First seen" } th { "Last seen" } } }
            tbody {
                @for d in ds {
                    tr {
                        td { code { (t(&d.mac)) } }
                        td { @if let Some(ip) = &d.ip { (asset_link(ip)) } }
                        td { (t(d.maker.as_deref().unwrap_or(""))) }
                        td { @if let Some(e) = &d.entity { span.bad { (company_link(e)) } } @else { span.meta { "not of concern" } } }
                        td.hide-narrow { (t(d.host_name.as_deref().unwrap_or(""))) }
                        td.hide-narrow { (when(&d.first_seen)) }
                        td { (when(&d.last_seen)) }
                    }
                }
            }
        } }
    }
}

fn match_table(ms: &[IndicatorMatch]) -> Markup {
    html! {
        div.scroll { table {
            thead { tr { th { "Asset" } th { "Remote" } th { "Indicator" } th { "Source" } th.num { "Count" } th { "Last seen" } } }
            tbody {
                @for m in ms {
                    tr {
                        td { (asset_link(&m.asset)) }
                        td { code { (t(&m.remote)) } }
                        td {
                            code { (t(&m.indicator.id)) }
                            @if let Some(n) = &m.indicator.name { br; (t(n)) }
                            @if let Some(v) = m.indicator.value.as_ref().or(m.indicator.pattern.as_ref()) { br; code.meta { (t(v)) } }
                        }
                        td { (source(&m.indicator.source, &m.indicator.source)) }
                        td.num { (m.count) }
                        td { (when(&m.last_seen)) }
                    }
                }
            }
        } }
    }
}

// ---------------------------------------------------------------- one company

pub async fn company(
    State(app): State<Shared>,
    Extension(ctx): Extension<Ctx>,
    Path(id): Path<String>,
) -> Page {
    let snap = app.current.get();
    let intel = &snap.intel;
    let Some(eid) = intel.entity_by_id(&id) else {
        return Err(PageError(
            StatusCode::NOT_FOUND,
            format!("No company {id:?} in the running intel."),
        ));
    };
    let key = id.clone();
    let (exposures, counts, rows) = with_db(&app, move |c| {
        let exposures = c
            .prepare_cached("SELECT record FROM exposure WHERE entity = ?1 OR grp = ?1 ORDER BY bytes_out + bytes_in DESC LIMIT 300")?
            .query_map([&key], |r| r.get::<_, String>(0))?
            .filter_map(|r| r.ok().and_then(|s| serde_json::from_str::<Exposure>(&s).ok()))
            .collect::<Vec<_>>();
        let counts = c
            .prepare_cached(&format!("SELECT severity, COUNT(*) FROM finding WHERE (entity = ?1 OR grp = ?1) AND status IN {OPEN} GROUP BY sev, severity ORDER BY sev DESC"))?
            .query_map([&key], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?
            .collect::<Result<Vec<_>, _>>()?;
        let rows = finding_rows(
            c,
            &format!("SELECT {ROW_COLUMNS} FROM finding WHERE entity = ?1 OR grp = ?1 ORDER BY sev DESC, last_ms DESC LIMIT 200"),
            std::slice::from_ref(&key),
        )?;
        Ok((exposures, counts, rows))
    })
    .await?;
    let e = intel.entity(eid);
    let chain = intel.ownership_chain(eid);
    let subsidiaries: Vec<&cordon_index::intel::Entity> = intel
        .entities
        .iter()
        .filter(|x| x.parent == Some(eid))
        .collect();
    let designations = intel.designations(eid);
    let asns: Vec<_> = intel
        .asn_rules
        .iter()
        .filter(|r| r.attribution.entity == eid)
        .collect();
    let domains: Vec<_> = intel
        .domain_rules
        .iter()
        .filter(|r| r.attribution.entity == eid)
        .collect();
    let macs = intel
        .mac_blocks
        .iter()
        .filter(|b| b.entity == Some(eid))
        .count();
    // Prefixes: the ones our own traffic was attributed through.
    let mut prefixes: Vec<&str> = exposures
        .iter()
        .flat_map(|x| x.evidence.iter())
        .filter(|ev| ev.kind == "prefix" && !ev.value.is_empty())
        .map(|ev| ev.value.as_str())
        .collect();
    prefixes.sort_unstable();
    prefixes.dedup();
    let mut assets: Vec<&str> = exposures
        .iter()
        .map(|x| x.asset.as_str())
        .chain(rows.iter().map(|r| r.f.asset.as_str()))
        .collect();
    assets.sort_unstable();
    assets.dedup();
    let body = html! {
        h1 { (t(&e.name)) " " span.meta { code { (t(&e.id)) } } }
        dl.facts {
            dt { "Country" } dd { (t(&e.country)) }
            @if !e.aliases.is_empty() { dt { "Also known as" } dd { (t(&e.aliases.iter().map(|a| a.to_string()).collect::<Vec<_>>().join(", "))) } }
            dt { "Owned by" } dd {
                @if chain.len() < 2 { "no parent in the intel" }
                @for (i, p) in chain.iter().skip(1).enumerate() {
                    @if i > 0 { " → " }
                    (company_link(&intel.entity(*p).id)) " " (t(&intel.entity(*p).name))
                }
                @if let Some(own) = e.ownership { " (" (format!("{own:.0}")) " % held)" }
                @if !e.link.is_empty() { " — " (t(&e.link)) }
            }
            dt { "Source" } dd { (source(&e.source, &e.source)) }
        }
        h2 { "Subsidiaries and brands" }
        @if subsidiaries.is_empty() { p.meta { "None in the intel." } }
        ul.plain { @for s in &subsidiaries { li { (company_link(&s.id)) " " (t(&s.name)) " (" (t(&s.link)) ")" } } }
        h2 { "Designations" }
        @if designations.is_empty() { p.meta { "None on the lists cordon carries, here or up the ownership chain." } } @else {
            div.scroll { table {
                thead { tr { th { "List" } th { "Status" } th { "Added" } th { "Edition" } th { "Held by" } th { "Official source" } } }
                tbody {
                    @for d in &designations {
                        @let x = d.designation;
                        tr {
                            td { b { (t(&x.list)) } @if !x.note.is_empty() { br; span.meta { (t(&x.note)) } } }
                            td { (t(x.status.as_str())) }
                            td { (t(&x.date_added)) }
                            td { (t(&x.edition)) }
                            td { (company_link(&intel.entity(d.holder).id)) }
                            td { (source(&x.source, &x.source)) }
                        }
                    }
                }
            } }
        }
        h2 { "Network footprint" }
        h3 { "Autonomous systems (" (asns.len()) ")" }
        @if asns.is_empty() { p.meta { "None." } } @else {
            div.scroll { table {
                thead { tr { th { "AS" } th { "Organisation" } th { "Relationship" } th { "Confidence" } th { "Source" } } }
                tbody { @for r in &asns { tr {
                    td { "AS" (r.asn) } td { (t(&r.as_org)) } td { (r.attribution.relationship.as_str()) }
                    td { (r.attribution.confidence.as_str()) } td { (source(&r.attribution.source, &r.attribution.source)) }
                } } }
            } }
        }
        h3 { "Domains (" (domains.len()) ")" }
        @if domains.is_empty() { p.meta { "None." } } @else {
            p { @for (i, d) in domains.iter().enumerate() { @if i > 0 { ", " } code { (t(&d.suffix)) } @if !d.service.is_empty() { " (" (t(&d.service)) ")" } } }
        }
        h3 { "Prefixes our traffic was attributed through (" (prefixes.len()) ")" }
        @if prefixes.is_empty() { p.meta { "None seen." } } @else {
            p { @for (i, p) in prefixes.iter().enumerate() { @if i > 0 { ", " } code { (t(p)) } } }
        }
        p.meta { (macs) " MAC address blocks (IEEE registry) belong to this company." }
        h2 { "Our assets that touch it (" (assets.len()) ")" }
        p {
            @if counts.is_empty() { "No open findings. " }
            @for (s, n) in &counts { (sev_badge(s)) " " (n) " " }
            a href=(format!("/findings?company={}", encode_query(&id))) { "Findings for this company →" }
        }
        h3 { "Findings (" (rows.len()) @if rows.len() == 200 { ", the 200 most severe" } ")" }
        @if rows.is_empty() { p.meta { "None." } } @else { (findings_table(&rows, false, plain_head(false))) }
        h3 { "Exposures (" (exposures.len()) ")" }
        (exposure_table(&exposures, true))
    };
    Ok(layout(&ctx, &e.name, "", body))
}

// ---------------------------------------------------------------- lists

#[derive(Deserialize, Default)]
pub struct ListQuery {
    concern: Option<String>,
    page: Option<i64>,
}

pub async fn devices(
    State(app): State<Shared>,
    Extension(ctx): Extension<Ctx>,
    Query(q): Query<ListQuery>,
) -> Page {
    let concern = val(&q.concern).is_some();
    let page = q.page.unwrap_or(1).max(1);
    let wh = if concern {
        " WHERE entity IS NOT NULL"
    } else {
        ""
    };
    let (rows, total) = with_db(&app, move |c| {
        let total: i64 = c.query_row(&format!("SELECT COUNT(*) FROM device{wh}"), [], |r| r.get(0))?;
        let rows = c
            .prepare(&format!(
                "SELECT record FROM device{wh} ORDER BY entity IS NULL, seen_ms DESC, mac LIMIT {PAGE_ROWS} OFFSET {}",
                (page - 1) * PAGE_ROWS
            ))?
            .query_map([], |r| r.get::<_, String>(0))?
            .filter_map(|r| r.ok().and_then(|s| serde_json::from_str::<Device>(&s).ok()))
            .collect::<Vec<_>>();
        Ok((rows, total))
    })
    .await?;
    let body = html! {
        h1 { "Devices" }
        p.meta { "Devices seen by MAC address (DHCP, ARP and link-layer telemetry), made by covered manufacturers first." }
        form.filters method="get" action="/devices" {
            label { "Only covered makers" input type="checkbox" name="concern" value="1" checked[concern]; }
            button type="submit" { "Show" }
        }
        @if rows.is_empty() { p.meta { "No devices." } } @else { (device_table(&rows)) }
        (pager(total, page, |p| format!("/devices?{}page={p}", if concern { "concern=1&" } else { "" })))
    };
    Ok(layout(&ctx, "Devices", "/devices", body))
}

pub async fn indicators(
    State(app): State<Shared>,
    Extension(ctx): Extension<Ctx>,
    Query(q): Query<ListQuery>,
) -> Page {
    let page = q.page.unwrap_or(1).max(1);
    let (rows, total) = with_db(&app, move |c| {
        let total: i64 = c.query_row("SELECT COUNT(*) FROM indicator_match", [], |r| r.get(0))?;
        let rows = c
            .prepare(&format!(
                "SELECT record FROM indicator_match ORDER BY seen_ms DESC, asset LIMIT {PAGE_ROWS} OFFSET {}",
                (page - 1) * PAGE_ROWS
            ))?
            .query_map([], |r| r.get::<_, String>(0))?
            .filter_map(|r| r.ok().and_then(|s| serde_json::from_str::<IndicatorMatch>(&s).ok()))
            .collect::<Vec<_>>();
        Ok((rows, total))
    })
    .await?;
    let snap = app.current.get();
    let body = html! {
        h1 { "Indicator matches" }
        p.meta {
            @match snap.indicators.as_ref() {
                Some(s) => { (s.len()) " indicators loaded from " code { "[judge] indicators" } "." },
                None => { "No indicator files configured (" code { "[judge] indicators" } ")." },
            }
        }
        @if rows.is_empty() { p.meta { "No matches." } } @else { (match_table(&rows)) }
        (pager(total, page, |p| format!("/indicators?page={p}")))
    };
    Ok(layout(&ctx, "Indicator matches", "/indicators", body))
}

pub async fn intel(State(app): State<Shared>, Extension(ctx): Extension<Ctx>) -> Page {
    let snap = app.current.get();
    let today = crate::date::today();
    let s = snap.intel.stats();
    let log = lock(&app.reloads).clone();
    let body = html! {
        h1 { "Intel" }
        p {
            "Snapshot generation " (snap.generation) "; reloads: " (log.ok) " applied, " (log.failed) " refused"
            @if let Some(at) = &log.last_at { "; last " (when(at)) }
            @if let Some(ms) = log.last_ms { " (" (ms) " ms)" }
            "."
        }
        @if let Some(e) = &log.last_error { p.warn role="alert" { "The last reload was refused and the running snapshot kept: " (t(e)) } }
        @if let Some(e) = &snap.import_error { p.warn role="alert" { "Imported IP table set aside: " (t(e)) } }
        form.ack method="post" action="/intel/reload" {
            input type="hidden" name="csrf" value=(ctx.csrf);
            button.quiet type="submit" { "Reload intel, indicators, inventory, policy and waivers" }
        }
        h2 { "Datasets" }
        div.scroll { table {
            thead { tr { th { "Dataset" } th { "Version" } th { "Date" } th.num { "Age (days)" } th { "Source" } th.hide-narrow { "Licence and credit" } } }
            tbody {
                @for d in &snap.intel.datasets {
                    @let (age, stale) = crate::intel_cmd::dataset_age(d, today);
                    tr {
                        td { b { (t(&d.id)) } br; span.meta { (t(&d.name)) } }
                        td { (t(&d.version)) }
                        td { (t(&d.date)) }
                        td.num { @match age { Some(a) => { (a) }, None => { "?" } } @if stale { " " span.bad { "stale" } } }
                        td { (source(&d.url, &d.url)) }
                        td.hide-narrow { (t(&d.licence)) @if !d.credit.is_empty() { br; span.meta { (t(&d.credit)) } } }
                    }
                }
            }
        } }
        h2 { "Contents" }
        dl.facts {
            dt { "Companies" } dd { (s.entities) " (" (s.designations) " designations)" }
            dt { "Rules" } dd { (s.asn_rules) " ASNs, " (s.domain_rules) " domain suffixes, " (s.mac_blocks_of_concern) " MAC blocks of concern" }
            dt { "IP table" } dd {
                (s.v4_segments) " IPv4 and " (s.v6_segments) " IPv6 ranges over " (s.asns) " ASes; "
                @match &snap.import { Some(i) => { "imported " (t(&i.format)) " dated " (t(&i.date)) }, None => { "bundled subset" } }
            }
            dt { "Indicators" } dd { @match snap.indicators.as_ref() { Some(x) => { (x.len()) }, None => { "none configured" } } }
        }
    };
    Ok(layout(&ctx, "Intel", "/intel", body))
}

pub async fn reload(
    State(app): State<Shared>,
    Extension(ctx): Extension<Ctx>,
    body: Bytes,
) -> Page {
    form(&ctx, &body)?;
    let a = app.clone();
    // The outcome lands in the reload log, which the intel page shows.
    let _ = tokio::task::spawn_blocking(move || (a.reload)()).await;
    Ok(Redirect::to("/intel").into_response())
}
