//! The dashboard: server-rendered pages on the API's listener (`/`, `/findings`, ...).
//!
//! Pages are HTML from [`maud`] templates (escaping by default; every string from the store
//! also goes through [`esc`], which replaces control and bidi characters), with the
//! report's own inline SVG charts. The stylesheet and the one small script are compiled in
//! and served from `/static/`: a page loads nothing from anywhere else, and the
//! Content-Security-Policy on every answer says so (`default-src 'none'`, scripts, styles
//! and images from the origin only, forms post to the origin only).
//!
//! **Access** is the API's: on loopback without a token file, open; with a token file, a
//! visitor signs in at `/login` with the token and gets a session cookie (`HttpOnly`,
//! `SameSite=Strict`, 12 hours). **Every state-changing request** (acknowledge, reload,
//! sign in, sign out) carries a CSRF token that must equal the `cordon_csrf` cookie
//! (`SameSite=Strict`, so another site can neither read nor send it), and a browser request
//! that says it comes from another origin is refused before that.

mod pages;

use super::http::{constant_time_eq, same_origin, take_token, ApiError, Shared};
use super::stats::{lock, now_ms};
use crate::report::escape::esc;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, Query, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Extension, Router};
use maud::{html, Markup, PreEscaped, DOCTYPE};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Mutex;

/// How long a session lasts after sign-in.
const SESSION_MS: i64 = 12 * 3600 * 1000;
/// Sessions kept at most (the oldest go first).
const MAX_SESSIONS: usize = 1000;

pub const CSS: &str = include_str!("cordon.css");
pub const JS: &str = include_str!("cordon.js");

/// The header every dashboard answer carries.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// What the dashboard keeps between requests.
pub struct DashState {
    /// Session id → expiry (Unix ms).
    sessions: Mutex<HashMap<String, i64>>,
    /// Collector name → (sampled at ms, flows then, flows per second over the last interval).
    rates: Mutex<HashMap<String, (i64, u64, f64)>>,
    /// `[lifecycle] resolve_after_secs`, shown beside a finding's status.
    pub resolve_after_secs: u64,
}

impl DashState {
    pub fn new(resolve_after_secs: u64) -> DashState {
        DashState {
            sessions: Mutex::new(HashMap::new()),
            rates: Mutex::new(HashMap::new()),
            resolve_after_secs,
        }
    }

    /// Flows per second of a collector since the previous sample at least a second ago
    /// (since `since_ms` at the first).
    pub fn rate(&self, name: &str, flows: u64, now: i64, since_ms: i64) -> f64 {
        let mut r = lock(&self.rates);
        let e = r.entry(name.to_string()).or_insert((since_ms, 0, 0.0));
        if now - e.0 >= 1000 {
            let rate = flows.saturating_sub(e.1) as f64 * 1000.0 / (now - e.0) as f64;
            *e = (now, flows, rate);
        }
        e.2
    }
}

/// What a page needs to know about its request.
#[derive(Clone)]
pub struct Ctx {
    /// The CSRF token forms must carry (the `cordon_csrf` cookie's value).
    pub csrf: String,
    /// A token is configured: the page offers "sign out".
    pub signed_in: bool,
}

pub fn routes(app: Shared) -> Router<Shared> {
    Router::new()
        .route("/", get(pages::overview))
        .route("/findings", get(pages::findings))
        .route("/findings/ack", post(pages::ack_many))
        .route("/findings/{id}", get(pages::finding))
        .route("/findings/{id}/acknowledge", post(pages::ack_one))
        .route("/assets/{asset}", get(pages::asset))
        .route("/companies/{id}", get(pages::company))
        .route("/devices", get(pages::devices))
        .route("/indicators", get(pages::indicators))
        .route("/intel", get(pages::intel))
        .route("/intel/reload", post(pages::reload))
        .route("/login", get(login_page).post(login))
        .route("/logout", post(logout))
        .route(
            "/static/cordon.css",
            get(|| async { asset(CSS, "text/css; charset=utf-8") }),
        )
        .route(
            "/static/cordon.js",
            get(|| async { asset(JS, "text/javascript; charset=utf-8") }),
        )
        .layer(axum::middleware::from_fn_with_state(app, guard))
}

fn asset(body: &'static str, kind: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, kind),
            (header::CACHE_CONTROL, "max-age=3600"),
        ],
        body,
    )
        .into_response()
}

/// A random token: 32 bytes from the system's generator, in hex.
fn random_token() -> String {
    use ring::rand::SecureRandom;
    let mut b = [0u8; 32];
    // The system generator does not fail on the platforms cordon runs on; a zero token
    // would still only be a token no session has.
    let _ = ring::rand::SystemRandom::new().fill(&mut b);
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// The value of cookie `name`.
fn cookie<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

fn is_token_shape(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

fn has_session(app: &super::http::App, headers: &HeaderMap) -> bool {
    let Some(id) = cookie(headers, "cordon_session").filter(|s| is_token_shape(s)) else {
        return false;
    };
    let now = now_ms();
    lock(&app.dash.sessions)
        .get(id)
        .is_some_and(|&exp| exp > now)
}

/// True when the request may see the dashboard: no token configured, a valid session, or
/// the bearer token itself.
fn authorised(app: &super::http::App, headers: &HeaderMap) -> bool {
    let Some(token) = &app.token else {
        return true;
    };
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    if bearer.is_some_and(|b| constant_time_eq(b.as_bytes(), token.as_bytes())) {
        return true;
    }
    has_session(app, headers)
}

/// Rate limit, sign-in, the CSRF cookie and the security headers, around every page.
async fn guard(
    State(app): State<Shared>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    mut req: Request,
    next: Next,
) -> Response {
    if !take_token(&app, peer.ip()) {
        return error_page(
            StatusCode::TOO_MANY_REQUESTS,
            "Too many requests: slow down.",
        );
    }
    if let Err(why) = same_origin(req.method(), req.headers()) {
        return error_page(StatusCode::FORBIDDEN, why);
    }
    let path = req.uri().path().to_string();
    let open = path == "/login" || path.starts_with("/static/");
    if !open && !authorised(&app, req.headers()) {
        if req.method() == Method::GET || req.method() == Method::HEAD {
            let back = req
                .uri()
                .path_and_query()
                .map_or("/".to_string(), |p| p.as_str().to_string());
            let to = format!("/login?next={}", encode_query(&back));
            return Redirect::to(&to).into_response();
        }
        return error_page(StatusCode::UNAUTHORIZED, "Sign in first.");
    }
    let (csrf, fresh) = match cookie(req.headers(), "cordon_csrf").filter(|s| is_token_shape(s)) {
        Some(c) => (c.to_string(), false),
        None => (random_token(), true),
    };
    req.extensions_mut().insert(Ctx {
        csrf: csrf.clone(),
        signed_in: app.token.is_some(),
    });
    let t0 = std::time::Instant::now();
    let mut res = next.run(req).await;
    let took = t0.elapsed().as_secs_f64() * 1000.0;
    let h = res.headers_mut();
    // Server time of the page (shown by browsers' developer tools; read by bench/dashboard).
    if let Ok(v) = HeaderValue::from_str(&format!("app;dur={took:.2}")) {
        h.insert("server-timing", v);
    }
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    if !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    if fresh {
        if let Ok(v) = HeaderValue::from_str(&format!(
            "cordon_csrf={csrf}; Path=/; HttpOnly; SameSite=Strict"
        )) {
            h.append(header::SET_COOKIE, v);
        }
    }
    res
}

/// The fields of a form body, after its CSRF token was checked against the cookie.
pub(crate) fn form(ctx: &Ctx, body: &Bytes) -> Result<Vec<(String, String)>, PageError> {
    let fields: Vec<(String, String)> = form_urlencoded::parse(body)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let given = fields
        .iter()
        .find(|(k, _)| k == "csrf")
        .map_or("", |(_, v)| v.as_str());
    if !constant_time_eq(given.as_bytes(), ctx.csrf.as_bytes()) {
        return Err(PageError(
            StatusCode::FORBIDDEN,
            "The form's CSRF token does not match this browser's: reload the page and try again."
                .into(),
        ));
    }
    Ok(fields)
}

/// The first value of field `name`.
pub(crate) fn field<'f>(fields: &'f [(String, String)], name: &str) -> Option<&'f str> {
    fields
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

#[derive(serde::Deserialize, Default)]
struct LoginQuery {
    next: Option<String>,
}

/// Where to go after sign-in: a path on this origin only.
fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n) if n.starts_with('/') && !n.starts_with("//") && !n.contains('\\') => n.into(),
        _ => "/".into(),
    }
}

async fn login_page(
    State(app): State<Shared>,
    Extension(ctx): Extension<Ctx>,
    Query(q): Query<LoginQuery>,
) -> Response {
    if app.token.is_none() {
        return Redirect::to("/").into_response();
    }
    login_form(&ctx, &safe_next(q.next.as_deref()), None, StatusCode::OK)
}

fn login_form(ctx: &Ctx, next: &str, error: Option<&str>, status: StatusCode) -> Response {
    let body = html! {
        h1 { "Sign in" }
        p.meta { "This cordon asks for its API token (the file named by " code { "[http] token_file" } ")." }
        @if let Some(e) = error { p.warn role="alert" { (e) } }
        form.login method="post" action="/login" {
            input type="hidden" name="csrf" value=(ctx.csrf);
            input type="hidden" name="next" value=(next);
            label for="token" { "Token" }
            input #token type="password" name="token" autocomplete="current-password" required autofocus;
            button type="submit" { "Sign in" }
        }
    };
    let mut r = layout(
        &Ctx {
            csrf: ctx.csrf.clone(),
            signed_in: false,
        },
        "Sign in",
        "",
        body,
    );
    *r.status_mut() = status;
    r
}

async fn login(
    State(app): State<Shared>,
    Extension(ctx): Extension<Ctx>,
    body: Bytes,
) -> Result<Response, PageError> {
    let fields = form(&ctx, &body)?;
    let next = safe_next(field(&fields, "next"));
    let Some(token) = &app.token else {
        return Ok(Redirect::to(&next).into_response());
    };
    let given = field(&fields, "token").unwrap_or("");
    if !constant_time_eq(given.as_bytes(), token.as_bytes()) {
        tracing::warn!("dashboard sign-in with a wrong token");
        return Ok(login_form(
            &ctx,
            &next,
            Some("That is not the token."),
            StatusCode::UNAUTHORIZED,
        ));
    }
    let id = random_token();
    {
        let now = now_ms();
        let mut s = lock(&app.dash.sessions);
        s.retain(|_, exp| *exp > now);
        while s.len() >= MAX_SESSIONS {
            let Some(oldest) = s.iter().min_by_key(|(_, e)| **e).map(|(k, _)| k.clone()) else {
                break;
            };
            s.remove(&oldest);
        }
        s.insert(id.clone(), now + SESSION_MS);
    }
    let mut r = Redirect::to(&next).into_response();
    if let Ok(v) = HeaderValue::from_str(&format!(
        "cordon_session={id}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}",
        SESSION_MS / 1000
    )) {
        r.headers_mut().append(header::SET_COOKIE, v);
    }
    Ok(r)
}

async fn logout(
    State(app): State<Shared>,
    Extension(ctx): Extension<Ctx>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, PageError> {
    form(&ctx, &body)?;
    if let Some(id) = cookie(&headers, "cordon_session") {
        lock(&app.dash.sessions).remove(id);
    }
    let mut r = Redirect::to("/login").into_response();
    r.headers_mut().append(
        header::SET_COOKIE,
        HeaderValue::from_static("cordon_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0"),
    );
    Ok(r)
}

/// An error as a page.
pub struct PageError(pub StatusCode, pub String);

impl From<ApiError> for PageError {
    fn from(e: ApiError) -> PageError {
        PageError(e.0, e.1)
    }
}

impl From<rusqlite::Error> for PageError {
    fn from(e: rusqlite::Error) -> PageError {
        ApiError::from(e).into()
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        error_page(self.0, &self.1)
    }
}

fn error_page(status: StatusCode, msg: &str) -> Response {
    let body = html! {
        h1 { (status.as_u16()) " " (status.canonical_reason().unwrap_or("")) }
        p.warn role="alert" { (msg) }
        p { a href="/" { "Back to the overview" } }
    };
    let ctx = Ctx {
        csrf: String::new(),
        signed_in: false,
    };
    let mut r = layout(&ctx, "Error", "", body);
    *r.status_mut() = status;
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    r
}

/// Text from the store or the intel: escaped, control and bidi characters replaced.
pub fn t(s: &str) -> PreEscaped<String> {
    PreEscaped(esc(s))
}

/// The navigation: (path, label).
const NAV: [(&str, &str); 5] = [
    ("/", "Overview"),
    ("/findings", "Findings"),
    ("/devices", "Devices"),
    ("/indicators", "Indicator matches"),
    ("/intel", "Intel"),
];

/// The page around `body`.
pub fn layout(ctx: &Ctx, title: &str, active: &str, body: Markup) -> Response {
    let page = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="referrer" content="no-referrer";
                title { (title) " · cordon" }
                link rel="stylesheet" href="/static/cordon.css";
                script src="/static/cordon.js" defer {}
            }
            body {
                a.skip href="#main" { "Skip to content" }
                header.top {
                    a.brand href="/" { "cordon" }
                    nav aria-label="Main" {
                        ul {
                            @for (href, label) in NAV {
                                li {
                                    a href=(href) aria-current=[(href == active).then_some("page")] { (label) }
                                }
                            }
                        }
                    }
                    @if ctx.signed_in {
                        form.signout method="post" action="/logout" {
                            input type="hidden" name="csrf" value=(ctx.csrf);
                            button type="submit" { "Sign out" }
                        }
                    }
                }
                main #main tabindex="-1" { (body) }
                footer {
                    "cordon " (env!("CARGO_PKG_VERSION"))
                    " · times in your time zone (" span #tz { "UTC" } "); hover a time for UTC"
                    " · " a href="/api/v1/openapi.json" { "API" }
                    " · " a href="/metrics" { "metrics" }
                }
            }
        }
    };
    (
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        page.into_string(),
    )
        .into_response()
}

/// Percent-encodes a path segment (asset addresses, company ids).
pub fn encode_path(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~:".contains(&b) {
            o.push(b as char);
        } else {
            o.push_str(&format!("%{b:02X}"));
        }
    }
    o
}

/// Percent-encodes a query value.
pub fn encode_query(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_paths_of_this_origin_are_followed_after_sign_in() {
        assert_eq!(
            safe_next(Some("/findings?status=open")),
            "/findings?status=open"
        );
        for bad in [
            "//evil.example/",
            "https://evil.example/",
            "/\\evil",
            "",
            "x",
        ] {
            assert_eq!(safe_next(Some(bad)), "/", "{bad}");
        }
        assert_eq!(safe_next(None), "/");
    }

    #[test]
    fn cookies_are_found_by_exact_name_and_segments_are_encoded() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("xcordon_csrf=1; cordon_csrf=abc; other=2"),
        );
        assert_eq!(cookie(&h, "cordon_csrf"), Some("abc"));
        assert_eq!(cookie(&h, "missing"), None);
        assert_eq!(encode_path("2001:db8::1"), "2001:db8::1");
        assert_eq!(encode_path("a b/c?"), "a%20b%2Fc%3F");
        assert_eq!(encode_query("/f?a=1&b"), "%2Ff%3Fa%3D1%26b");
        let tok = random_token();
        assert!(is_token_shape(&tok) && tok != random_token());
    }
}
