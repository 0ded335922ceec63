//! The dashboard end to end: the real `cordon serve`, filled by a real ingest, its pages
//! read over HTTP and in headless Chromium.
//!
//! - every page shows what the store holds (compared with the JSON API of the same daemon):
//!   the findings, their assets and companies, devices, datasets;
//! - acknowledging through a form needs the CSRF token of the browser's cookie, and a
//!   request another origin sends is refused; the acknowledgement shows on the page;
//! - with a token file, pages need a session from `/login` (HttpOnly, SameSite=Strict);
//! - in Chromium (Debian `chromium`), with the daemon fed by softflowd exporting
//!   `examples/office.pcap` over loopback: every page renders, its script runs under the
//!   Content-Security-Policy, no request leaves the origin (Chromium's own network log is
//!   read), and screenshots at 1280 and 390 pixels wide are neither blank nor error pages.
//!
//! The HTTP tests need nothing but the example Zeek logs; the browser test needs Chromium
//! and softflowd and says "skipping" without them, unless `CORDON_REQUIRE_PEERS` is set.

mod common;

use common::daemon::*;
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// The example Zeek logs, copied into `dir/zeek` (the follower keeps its own offsets).
fn zeek_copy(dir: &Path) -> (PathBuf, u64) {
    let logs = dir.join("zeek");
    std::fs::create_dir_all(&logs).unwrap();
    let mut conn_lines = 0;
    for f in ["conn.log", "dns.log", "ssl.log", "dhcp.log"] {
        let text = std::fs::read_to_string(examples().join("zeek").join(f)).unwrap();
        if f == "conn.log" {
            conn_lines = text.lines().filter(|l| !l.starts_with('#')).count() as u64;
        }
        std::fs::write(logs.join(f), text).unwrap();
    }
    (logs, conn_lines)
}

/// Waits (bounded) until the collector `kind` has read `n` flows and the engine committed
/// them.
fn wait_flows(d: &Daemon, kind: &str, n: u64) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let s = d.status();
        let c = s["collectors"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["kind"] == kind)
            .cloned()
            .unwrap();
        if c["flows_received"].as_u64() >= Some(n) && c["queue_depth"] == 0 {
            std::thread::sleep(Duration::from_millis(1500));
            return;
        }
        assert!(Instant::now() < deadline, "{kind}: {c} of {n}: {}", d.log());
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn zeek_daemon(tag: &str, extra: &str) -> (Daemon, PathBuf) {
    let dir = temp_dir(tag);
    let (logs, n) = zeek_copy(&dir);
    let d = Daemon::start(
        &dir,
        &format!(
            "[[collect.zeek]]\npath = \"{}\"\npoll_ms = 50\n{extra}",
            logs.display()
        ),
        64,
    );
    wait_flows(&d, "zeek", n);
    (d, dir)
}

/// HTML escaping as the pages do it, for looking up store values in a page.
fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

fn page(d: &Daemon, path: &str) -> Answer {
    let a = request(d.http, "GET", path, &[], "");
    assert_eq!(a.status, 200, "GET {path}: {}", a.body);
    assert!(
        a.header("content-security-policy")
            .is_some_and(|c| c.contains("default-src 'none'")),
        "GET {path}: no CSP"
    );
    assert_self_contained(path, &a.body);
    a
}

/// No element of the page loads anything from another origin.
fn assert_self_contained(path: &str, html: &str) {
    for bad in [
        "src=\"http",
        "src=\"//",
        "<link rel=\"stylesheet\" href=\"http",
        "@import",
    ] {
        assert!(!html.contains(bad), "{path} loads from outside: {bad}");
    }
}

fn open_findings(d: &Daemon) -> Vec<Value> {
    let v = get_json(
        d.http,
        "/api/v1/findings?status=new,ongoing,reopened&limit=1000",
    );
    v["findings"].as_array().unwrap().clone()
}

#[test]
fn every_page_shows_what_the_store_holds() {
    let (mut d, dir) = zeek_daemon("dash-pages", "");
    let findings = open_findings(&d);
    assert!(
        !findings.is_empty(),
        "the example logs raise findings: {}",
        d.log()
    );
    let ov = page(&d, "/");
    assert!(ov.body.contains("Exposure to companies of concern"));
    assert!(
        ov.body.contains("<svg id=\"exposure-chart\""),
        "{}",
        ov.body
    );
    let assets: BTreeSet<&str> = findings
        .iter()
        .map(|f| f["asset"].as_str().unwrap())
        .collect();
    if assets.len() <= 10 {
        for a in &assets {
            assert!(ov.body.contains(&esc(a)), "overview lacks top asset {a}");
        }
    }
    // The count of open findings on the page is the store's.
    assert!(
        ov.body
            .contains(&format!("{} open findings", findings.len())),
        "overview count"
    );
    let list = page(&d, "/findings");
    for f in &findings {
        for k in ["id", "asset", "entity", "rule"] {
            let v = f[k].as_str().unwrap();
            assert!(list.body.contains(&esc(v)), "/findings lacks {k} {v}");
        }
    }
    for f in &findings {
        let id = f["id"].as_str().unwrap();
        let p = page(&d, &format!("/findings/{id}"));
        for e in f["evidence"].as_array().unwrap() {
            let v = e["value"].as_str().unwrap();
            assert!(p.body.contains(&esc(v)), "finding {id} lacks evidence {v}");
        }
        for g in f["designations"].as_array().unwrap() {
            let src = g["source"].as_str().unwrap();
            assert!(
                p.body.contains(&format!("href=\"{}\"", esc(src))),
                "finding {id} lacks the official source {src}"
            );
        }
        assert!(p.body.contains(&esc(f["remediation"].as_str().unwrap())));
        assert!(p.body.contains("<svg id=\"traffic-chart\""));
        // Its history starts with its opening.
        assert!(p.body.contains("status-new"), "finding {id} history");
        let a = page(&d, &format!("/assets/{}", f["asset"].as_str().unwrap()));
        assert!(a.body.contains(&esc(id)), "asset page lacks {id}");
        let entity = f["entity"].as_str().unwrap();
        let c = page(&d, &format!("/companies/{entity}"));
        assert!(
            c.body.contains(&esc(f["asset"].as_str().unwrap())),
            "company {entity} lacks its asset"
        );
        assert!(c.body.contains("Network footprint"));
    }
    let devices = get_json(d.http, "/api/v1/devices?limit=1000");
    let devices = devices["devices"].as_array().unwrap();
    assert!(!devices.is_empty(), "the example DHCP log names devices");
    let dp = page(&d, "/devices");
    for dev in devices {
        assert!(
            dp.body.contains(dev["mac"].as_str().unwrap()),
            "devices page lacks {dev}"
        );
    }
    let covered = page(&d, "/devices?concern=1");
    assert!(
        covered.body.contains("hikvision"),
        "the camera's maker is covered"
    );
    assert!(
        !covered.body.contains("not of concern"),
        "only covered makers"
    );
    let status = d.status();
    let intel = page(&d, "/intel");
    for ds in status["snapshot"]["datasets"].as_array().unwrap() {
        let id = ds["id"].as_str().unwrap();
        assert!(
            intel.body.contains(&esc(id)),
            "intel page lacks dataset {id}"
        );
    }
    assert!(page(&d, "/indicators").body.contains("No matches."));
    // Filters, sorting and search narrow the table to what they say.
    let one = &findings[0];
    let by_asset = page(
        &d,
        &format!("/findings?asset={}", one["asset"].as_str().unwrap()),
    );
    for f in &findings {
        let shown = by_asset.body.contains(&esc(f["id"].as_str().unwrap()));
        assert_eq!(
            shown,
            f["asset"] == one["asset"],
            "asset filter: {}",
            f["id"]
        );
    }
    let q = page(&d, "/findings?q=no-such-text-anywhere");
    assert!(q.body.contains("No findings match."));
    page(&d, "/findings?sort=asset&dir=asc&status=all&severity=info");
    for (path, code) in [
        ("/findings?status=bogus", 400),
        ("/findings?sort=nothing", 400),
        ("/findings?severity=extreme", 400),
        ("/findings/0123456789abcdef", 404),
        ("/findings/not-an-id", 400),
        ("/companies/no-such-company", 404),
    ] {
        let a = request(d.http, "GET", path, &[], "");
        assert_eq!(a.status, code, "GET {path}");
        assert!(a.body.contains("<h1>"), "GET {path}: an error page");
    }
    let js = request(d.http, "GET", "/static/cordon.js", &[], "");
    assert_eq!(js.status, 200);
    assert!(js
        .header("content-type")
        .unwrap()
        .starts_with("text/javascript"));
    assert_eq!(d.stop(), 0);
    let _ = std::fs::remove_dir_all(&dir);
}

/// The CSRF cookie a first visit gets.
fn csrf_of(d: &Daemon) -> String {
    let a = request(d.http, "GET", "/findings", &[], "");
    a.cookie("cordon_csrf")
        .expect("a CSRF cookie on first visit")
}

#[test]
fn acknowledging_needs_the_forms_token_and_shows_on_the_page() {
    let (mut d, dir) = zeek_daemon("dash-ack", "");
    let findings = open_findings(&d);
    assert!(findings.len() >= 2, "two findings to acknowledge");
    let id = findings[0]["id"].as_str().unwrap().to_string();
    let csrf = csrf_of(&d);
    let cookie = format!("Cookie: cordon_csrf={csrf}");
    let form = "Content-Type: application/x-www-form-urlencoded".to_string();
    let path = format!("/findings/{id}/acknowledge");
    for (headers, body, why) in [
        (
            vec![form.clone()],
            format!("csrf={csrf}&note=x"),
            "no cookie",
        ),
        (
            vec![form.clone(), cookie.clone()],
            "note=x".to_string(),
            "no field",
        ),
        (
            vec![form.clone(), cookie.clone()],
            format!("csrf={}&note=x", "0".repeat(64)),
            "wrong field",
        ),
        (
            vec![
                form.clone(),
                cookie.clone(),
                "Origin: http://evil.example".into(),
            ],
            format!("csrf={csrf}&note=x"),
            "another origin",
        ),
        (
            vec![
                form.clone(),
                cookie.clone(),
                "Sec-Fetch-Site: cross-site".into(),
            ],
            format!("csrf={csrf}&note=x"),
            "cross-site",
        ),
    ] {
        let a = request(d.http, "POST", &path, &headers, &body);
        assert_eq!(a.status, 403, "{why}: {}", a.body);
    }
    let f = get_json(d.http, &format!("/api/v1/findings/{id}"));
    assert_eq!(f["acknowledged"], false, "refused requests changed nothing");
    let ok = request(
        d.http,
        "POST",
        &path,
        &[
            form.clone(),
            cookie.clone(),
            format!("Origin: http://127.0.0.1:{}", d.http),
        ],
        &format!("csrf={csrf}&note=checked+by+the+SOC+%3Cb%3E"),
    );
    assert_eq!(ok.status, 303, "{}", ok.body);
    assert_eq!(
        ok.header("location"),
        Some(format!("/findings/{id}").as_str())
    );
    let f = get_json(d.http, &format!("/api/v1/findings/{id}"));
    assert_eq!(f["acknowledged"], true);
    assert_eq!(f["ack_note"], "checked by the SOC <b>");
    let p = page(&d, &format!("/findings/{id}"));
    assert!(
        p.body.contains("checked by the SOC &lt;b&gt;"),
        "the note, escaped"
    );
    assert!(p.body.contains("status-unknown\">acknowledged") || p.body.contains(">acknowledged<"));
    // Bulk: the rest at once, back to the list they were chosen from.
    let rest: Vec<&str> = findings[1..]
        .iter()
        .map(|f| f["id"].as_str().unwrap())
        .collect();
    let mut body = format!("csrf={csrf}&note=bulk&back=%2Ffindings%3Fstatus%3Dall");
    for r in &rest {
        body.push_str(&format!("&id={r}"));
    }
    let bulk = request(
        d.http,
        "POST",
        "/findings/ack",
        &[form.clone(), cookie.clone()],
        &body,
    );
    assert_eq!(bulk.status, 303, "{}", bulk.body);
    assert_eq!(bulk.header("location"), Some("/findings?status=all"));
    for r in &rest {
        let f = get_json(d.http, &format!("/api/v1/findings/{r}"));
        assert_eq!(
            (f["acknowledged"].clone(), f["ack_note"].clone()),
            (Value::Bool(true), "bulk".into())
        );
    }
    let acked = page(&d, "/findings?status=acknowledged");
    for f in &findings {
        assert!(acked.body.contains(f["id"].as_str().unwrap()));
    }
    // The API's state-changing calls refuse another origin too.
    let a = request(
        d.http,
        "POST",
        "/api/v1/reload",
        &["Origin: http://evil.example".into()],
        "",
    );
    assert_eq!(a.status, 403, "{}", a.body);
    let a = request(d.http, "POST", "/api/v1/reload", &[], "");
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(d.stop(), 0);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_token_file_puts_the_pages_behind_a_session() {
    let dir = temp_dir("dash-token");
    let token = "dashboard-token-0123456789abcdef";
    std::fs::write(dir.join("token"), format!("{token}\n")).unwrap();
    let (logs, _) = zeek_copy(&dir);
    let mut d = Daemon::start(
        &dir,
        &format!(
            "[[collect.zeek]]\npath = \"{}\"\npoll_ms = 50\n",
            logs.display()
        ),
        64,
    );
    // The config names the token after the fact: restart with it.
    d.stop();
    let cfg = std::fs::read_to_string(&d.config).unwrap().replace(
        "[http]\n",
        &format!("[http]\ntoken_file = \"{}\"\n", dir.join("token").display()),
    );
    std::fs::write(&d.config, cfg).unwrap();
    d.spawn();
    let a = request(d.http, "GET", "/findings?status=all", &[], "");
    assert_eq!(a.status, 303);
    assert_eq!(
        a.header("location"),
        Some("/login?next=%2Ffindings%3Fstatus%3Dall")
    );
    let login = request(d.http, "GET", "/login", &[], "");
    assert_eq!(login.status, 200);
    let csrf = login.cookie("cordon_csrf").unwrap();
    let form = "Content-Type: application/x-www-form-urlencoded".to_string();
    let cookie = format!("Cookie: cordon_csrf={csrf}");
    let wrong = request(
        d.http,
        "POST",
        "/login",
        &[form.clone(), cookie.clone()],
        &format!("csrf={csrf}&token=guess&next=%2F"),
    );
    assert_eq!(wrong.status, 401);
    assert!(wrong.cookie("cordon_session").is_none());
    let right = request(
        d.http,
        "POST",
        "/login",
        &[form.clone(), cookie.clone()],
        &format!("csrf={csrf}&token={token}&next=%2Ffindings"),
    );
    assert_eq!(right.status, 303, "{}", right.body);
    assert_eq!(right.header("location"), Some("/findings"));
    let set = right
        .headers
        .iter()
        .find(|(k, v)| k == "set-cookie" && v.starts_with("cordon_session="))
        .map(|(_, v)| v.clone())
        .unwrap();
    assert!(
        set.contains("HttpOnly") && set.contains("SameSite=Strict"),
        "{set}"
    );
    let session = right.cookie("cordon_session").unwrap();
    let both = format!("Cookie: cordon_csrf={csrf}; cordon_session={session}");
    let p = request(d.http, "GET", "/findings", std::slice::from_ref(&both), "");
    assert_eq!(p.status, 200);
    assert!(p.body.contains("Sign out"));
    // The session opens pages, not the API: that still wants the bearer token.
    let api = request(
        d.http,
        "GET",
        "/api/v1/status",
        std::slice::from_ref(&both),
        "",
    );
    assert_eq!(api.status, 401);
    // A forged session id is no session.
    let forged = format!("Cookie: cordon_session={}", "a".repeat(64));
    assert_eq!(request(d.http, "GET", "/", &[forged], "").status, 303);
    let out = request(
        d.http,
        "POST",
        "/logout",
        &[form, both.clone()],
        &format!("csrf={csrf}"),
    );
    assert_eq!(out.status, 303);
    assert_eq!(
        request(d.http, "GET", "/", &[both], "").status,
        303,
        "signed out"
    );
    assert_eq!(d.stop(), 0);
    let _ = std::fs::remove_dir_all(&dir);
}

// ---------------------------------------------------------------- in a real browser

/// Headless Chromium with a fresh profile and a network log.
fn chromium_run(bin: &Path, dir: &Path, tag: &str, args: &[String]) -> (String, Vec<String>) {
    let profile = dir.join(format!("profile-{tag}"));
    let netlog = dir.join(format!("netlog-{tag}.json"));
    let out = Command::new(bin)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-default-apps",
            "--disable-extensions",
            "--no-first-run",
            "--no-default-browser-check",
            "--hide-scrollbars",
            "--virtual-time-budget=3000",
            // Chromium's own calls home (network time, hints), which are not the page's.
            "--disable-features=NetworkTimeServiceQuerying,OptimizationHints,MediaRouter,Translate,AutofillServerCommunication",
            "--disable-field-trial-config",
            "--metrics-recording-only",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(format!("--log-net-log={}", netlog.display()))
        .args(args)
        .output()
        .expect("run chromium");
    assert!(
        out.status.success(),
        "chromium {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let log = std::fs::read_to_string(&netlog).unwrap_or_default();
    let urls = urls_in(&log);
    let _ = std::fs::remove_dir_all(&profile);
    (String::from_utf8_lossy(&out.stdout).to_string(), urls)
}

/// The requests a page made, from Chromium's network log: `(url, initiator)` of every
/// request job whose initiator is an origin. The browser's own calls (update checks, network
/// time, the navigation typed in) have the initiator "not an origin" and are left out; a
/// page's subresource, fetch or beacon carries the page's origin.
fn urls_in(log: &str) -> Vec<String> {
    let Ok(v) = serde_json::from_str::<Value>(log) else {
        panic!(
            "Chromium's network log does not parse ({} bytes)",
            log.len()
        );
    };
    let Some(start) = v["constants"]["logEventTypes"]["URL_REQUEST_START_JOB"].as_u64() else {
        panic!("no URL_REQUEST_START_JOB event type in the network log");
    };
    v["events"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| e["type"].as_u64() == Some(start))
        .filter(|e| {
            e["params"]["initiator"]
                .as_str()
                .is_some_and(|i| i != "not an origin")
        })
        .filter_map(|e| e["params"]["url"].as_str().map(String::from))
        .collect()
}

/// A screenshot that is neither blank nor tiny: its width, and the share of pixels that
/// differ from the most common colour.
fn check_screenshot(path: &Path, width: u32) {
    let file = std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let decoder = png::Decoder::new(std::io::BufReader::new(file));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    assert_eq!(info.width, width, "{}", path.display());
    let px = info.color_type.samples();
    let mut counts = std::collections::HashMap::new();
    for p in buf[..info.buffer_size()].chunks(px) {
        *counts.entry(p[..3.min(px)].to_vec()).or_insert(0u64) += 1;
    }
    let total: u64 = counts.values().sum();
    let most = counts.values().copied().max().unwrap_or(0);
    let ink = 1.0 - most as f64 / total as f64;
    assert!(
        ink > 0.02 && counts.len() > 16,
        "{} looks blank: {:.1} % ink, {} colours",
        path.display(),
        ink * 100.0,
        counts.len()
    );
}

#[test]
fn the_dashboard_in_headless_chromium() {
    let Some(bin) = chromium() else {
        common::skip("skipping: chromium not installed (apt-get install -y chromium)");
        return;
    };
    let Some(datagrams) = softflowd_datagrams("9") else {
        return;
    };
    let dir = temp_dir("dash-browser");
    let (logs, n) = zeek_copy(&dir);
    let mut d = Daemon::start(
        &dir,
        &format!(
            "[[collect.zeek]]\npath = \"{}\"\npoll_ms = 50\n",
            logs.display()
        ),
        64,
    );
    d.send(&datagrams);
    wait_flows(&d, "zeek", n);
    wait_flows(&d, "netflow", 1);
    let s = d.status();
    let netflow = s["collectors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["kind"] == "netflow")
        .unwrap()
        .clone();
    assert!(
        netflow["flows_received"].as_u64() > Some(0),
        "softflowd's export arrived: {netflow}"
    );
    let findings = open_findings(&d);
    assert!(!findings.is_empty());
    // One finding acknowledged through the form, as a person would.
    let acked = findings[0]["id"].as_str().unwrap().to_string();
    let csrf = csrf_of(&d);
    let a = request(
        d.http,
        "POST",
        &format!("/findings/{acked}/acknowledge"),
        &[
            "Content-Type: application/x-www-form-urlencoded".into(),
            format!("Cookie: cordon_csrf={csrf}"),
        ],
        &format!("csrf={csrf}&note=owner+informed"),
    );
    assert_eq!(a.status, 303);
    let f0 = &findings[0];
    let origin = format!("http://127.0.0.1:{}", d.http);
    let pages: Vec<(String, Vec<String>)> = vec![
        (
            "/".into(),
            vec![
                "Exposure to companies of concern".into(),
                "exposure-chart".into(),
            ],
        ),
        (
            "/findings?status=all".into(),
            findings
                .iter()
                .map(|f| f["id"].as_str().unwrap().to_string())
                .collect(),
        ),
        (
            format!("/findings/{acked}"),
            vec!["owner informed".into(), "Why: the evidence chain".into()],
        ),
        (
            format!("/assets/{}", f0["asset"].as_str().unwrap()),
            vec![acked.clone()],
        ),
        (
            format!("/companies/{}", f0["entity"].as_str().unwrap()),
            vec!["Network footprint".into()],
        ),
        ("/devices".into(), vec!["hikvision".into()]),
        ("/indicators".into(), vec!["Indicator matches".into()]),
        ("/intel".into(), vec!["Datasets".into()]),
    ];
    let shots = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("dashboard-screens");
    std::fs::create_dir_all(&shots).unwrap();
    for (i, (path, wants)) in pages.iter().enumerate() {
        let url = format!("{origin}{path}");
        let (dom, urls) = chromium_run(
            &bin,
            &dir,
            &format!("dom{i}"),
            &["--dump-dom".into(), url.clone()],
        );
        assert!(dom.contains("</html>"), "{path}: no DOM");
        assert!(!dom.contains("Error · cordon"), "{path}: an error page");
        for w in wants {
            assert!(
                dom.contains(&esc(w)) || dom.contains(w),
                "{path}: the rendered DOM lacks {w}"
            );
        }
        // The script ran under the CSP: times were turned into the viewer's zone.
        if dom.contains("<time ") {
            assert!(
                dom.contains("data-local=\"1\""),
                "{path}: the page script did not run"
            );
        }
        assert!(
            urls.iter().any(|u| u.ends_with("/static/cordon.css")),
            "{path}: the network log shows the page loading its stylesheet: {urls:?}"
        );
        for u in &urls {
            assert!(
                u.starts_with(&format!("{origin}/")),
                "{path}: a request left the origin: {u}"
            );
        }
        for width in [1280u32, 390] {
            let stem: String = path
                .trim_start_matches('/')
                .chars()
                .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
                .collect();
            let name = format!(
                "{}-{width}.png",
                if stem.is_empty() { "overview" } else { &stem }
            );
            let png = shots.join(&name);
            let _ = std::fs::remove_file(&png);
            chromium_run(
                &bin,
                &dir,
                &format!("shot{i}-{width}"),
                &[
                    format!("--window-size={width},1400"),
                    format!("--screenshot={}", png.display()),
                    url.clone(),
                ],
            );
            check_screenshot(&png, width);
        }
    }
    // The acknowledged finding shows as such in the list the browser rendered.
    let (dom, _) = chromium_run(
        &bin,
        &dir,
        "acked",
        &[
            "--dump-dom".into(),
            format!("{origin}/findings?status=acknowledged"),
        ],
    );
    assert!(
        dom.contains(&acked),
        "the acknowledged finding is listed as acknowledged"
    );
    eprintln!("screenshots in {}", shots.display());
    assert_eq!(d.stop(), 0);
    let _ = std::fs::remove_dir_all(&dir);
}

/// The shared corpus, when it is there.
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

/// Acceptance on data the project's own tests never fed the daemon: Zeek logs of the
/// WRCCDC 2018 competition network (Brim's sample data, from the shared corpus), an
/// indicator list naming an address and a server name seen there, an inventory naming the
/// hosts that touch them. Every finding the API holds is on the findings page, each
/// finding's page names its indicator and inventory entry, and the asset page names both.
#[test]
fn acceptance_with_unseen_zeek_logs_indicators_and_inventory() {
    let Some(c) = corpus() else { return };
    let src = c.join("zeek-logs/wrccdc2018");
    let dir = temp_dir("dash-acceptance");
    let logs = dir.join("zeek");
    std::fs::create_dir_all(&logs).unwrap();
    let mut conn_lines = 0;
    for (from, to) in [
        ("wrccdc2018-conn.first100.log", "conn.log"),
        ("wrccdc2018-dns.every25th.log", "dns.log"),
        ("wrccdc2018-ssl.every25th.log", "ssl.log"),
    ] {
        let text = std::fs::read_to_string(src.join(from)).unwrap();
        if to == "conn.log" {
            conn_lines = text.lines().filter(|l| !l.starts_with('#')).count() as u64;
        }
        std::fs::write(logs.join(to), text).unwrap();
    }
    std::fs::create_dir_all(dir.join("advisories")).unwrap();
    std::fs::write(
        dir.join("advisories/red-team.txt"),
        "# addresses and names a red team used\n10.164.94.120\nise.wrccdc.org\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("assets.csv"),
        "cidr,ip,mac,name,owner,tags,data\n10.47.0.0/16,,,competition-lan,blue-team,,\n\
         ,10.47.3.200,,scoring-server,blue-team,ot,personal\n",
    )
    .unwrap();
    // The competition's LAN is internal; the red team's 10.164.94.120 is outside it.
    let config = dir.join("cordon.toml");
    let http = free_tcp_port();
    std::fs::write(
        &config,
        format!(
            "[store]\npath = \"var\"\n[http]\nlisten = \"127.0.0.1:{http}\"\n\
             [[collect.zeek]]\npath = \"{}\"\npoll_ms = 50\n\
             [judge]\ninternal = [\"10.47.0.0/16\"]\nassets = \"assets.csv\"\nindicators = [\"advisories\"]\n",
            logs.display()
        ),
    )
    .unwrap();
    let mut d = Daemon {
        child: None,
        dir: dir.clone(),
        http,
        netflow: 0,
        config,
    };
    d.spawn();
    wait_flows(&d, "zeek", conn_lines);
    let all = get_json(d.http, "/api/v1/findings?limit=1000");
    let findings = all["findings"].as_array().unwrap().clone();
    assert!(
        !findings.is_empty(),
        "the indicators raise findings: {}",
        d.log()
    );
    let matches = page(&d, "/indicators");
    assert!(
        matches.body.contains("10.164.94.120"),
        "indicator match listed"
    );
    let list = page(&d, "/findings?status=all");
    for f in &findings {
        let id = f["id"].as_str().unwrap();
        assert!(list.body.contains(id), "/findings lacks {id}");
        let p = page(&d, &format!("/findings/{id}"));
        for e in f["evidence"].as_array().unwrap() {
            let v = e["value"].as_str().unwrap();
            assert!(p.body.contains(&esc(v)), "finding {id} lacks evidence {v}");
        }
    }
    let scoring = page(&d, "/assets/10.47.3.200");
    assert!(
        scoring.body.contains("scoring-server"),
        "inventory entry on the asset page"
    );
    assert!(page(&d, "/")
        .body
        .contains("Exposure to companies of concern"));
    assert_eq!(d.stop(), 0);
    let _ = std::fs::remove_dir_all(&dir);
}

/// The network-log reading itself: a page's request to another site is found, the
/// browser's own calls are not.
#[test]
fn the_network_log_check_finds_a_page_request_to_another_site() {
    let log = r#"{"constants":{"logEventTypes":{"URL_REQUEST_START_JOB":7,"OTHER":8}},
      "events":[
        {"type":7,"params":{"url":"https://update.example/check","initiator":"not an origin"}},
        {"type":7,"params":{"url":"http://127.0.0.1:1/static/cordon.css","initiator":"http://127.0.0.1:1"}},
        {"type":7,"params":{"url":"https://cdn.example/lib.js","initiator":"http://127.0.0.1:1"}},
        {"type":8,"params":{"url":"https://elsewhere.example/","initiator":"http://127.0.0.1:1"}}]}"#;
    assert_eq!(
        urls_in(log),
        [
            "http://127.0.0.1:1/static/cordon.css",
            "https://cdn.example/lib.js"
        ]
    );
}
