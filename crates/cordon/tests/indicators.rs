//! Threat indicators end to end: files in `tests/data/indicators` (and the shared samples
//! when present) loaded, then matched against observations built here.

use cordon::indicators::{load, FileReport, IndicatorSet, LoadReport, Loader, Matcher};
use cordon::model::{IndicatorMatch, Record};
use cordon_wire::obs::{
    Dns, DnsData, DnsRecord, Flow, IpProto, NameSource, Observation, ServerName,
};
use std::collections::BTreeSet;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/indicators")
        .join(name)
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// 2026-03-01T12:00:00Z and 2020-06-01T12:00:00Z in microseconds.
const T2026: i64 = 1_772_366_400_000_000;
const T2020: i64 = 1_591_012_800_000_000;

fn flow(t: i64, src: &str, sport: u16, dst: &str, dport: u16) -> Observation {
    Observation::Flow(Flow {
        first: t,
        last: t + 1_000_000,
        src: ip(src),
        dst: ip(dst),
        sport,
        dport,
        proto: IpProto::TCP,
        bytes_out: 100,
        packets_out: 1,
        bytes_in: 100,
        packets_in: 1,
        src_mac: None,
        dst_mac: None,
        uid: None,
        sampling: 1,
    })
}

fn dns(t: i64, client: &str, query: &str, answers: &[(&str, &str)]) -> Observation {
    Observation::Dns(Dns {
        ts: t,
        client: Some(ip(client)),
        server: Some(ip("10.0.0.53")),
        query: query.into(),
        answers: answers
            .iter()
            .map(|(owner, data)| DnsRecord {
                name: (*owner).into(),
                data: match data.parse::<IpAddr>() {
                    Ok(a) => DnsData::Addr(a),
                    Err(_) => DnsData::Cname((*data).into()),
                },
                ttl: 60,
            })
            .collect(),
        uid: None,
    })
}

fn sni(t: i64, client: &str, server: &str, name: &str) -> Observation {
    Observation::Name(ServerName {
        ts: t,
        client: Some(ip(client)),
        server: Some(ip(server)),
        server_port: 443,
        name: name.into(),
        source: NameSource::Tls,
        uid: None,
    })
}

fn internal(a: IpAddr) -> bool {
    match a {
        IpAddr::V4(v) => v.is_private(),
        IpAddr::V6(v) => (v.segments()[0] & 0xfe00) == 0xfc00,
    }
}

fn run(set: Arc<IndicatorSet>, subdomains: bool, obs: &[Observation]) -> Vec<IndicatorMatch> {
    let mut m = Matcher::new(set, subdomains);
    for o in obs {
        m.observe(o, &internal);
    }
    m.finish()
}

/// The (asset, indicator id) pairs of the matches.
fn pairs(ms: &[IndicatorMatch]) -> BTreeSet<(String, String)> {
    ms.iter()
        .map(|m| (m.asset.clone(), m.indicator.id.clone()))
        .collect()
}

fn want(p: &[(&str, &str)]) -> BTreeSet<(String, String)> {
    p.iter()
        .map(|(a, i)| (a.to_string(), i.to_string()))
        .collect()
}

/// Per-file counts: (loaded, partial, revoked, not_to_ids, undecidable, unsupported, errors).
fn counts(f: &FileReport) -> [u64; 7] {
    [
        f.loaded,
        f.partial,
        f.revoked,
        f.not_to_ids,
        f.undecidable,
        f.unsupported,
        f.errors,
    ]
}

fn file<'r>(r: &'r LoadReport, suffix: &str) -> &'r FileReport {
    r.files
        .iter()
        .find(|f| f.path.ends_with(suffix))
        .unwrap_or_else(|| panic!("no report for {suffix}: {r:#?}"))
}

fn item<'r>(f: &'r FileReport, position: &str) -> (&'r str, &'r str) {
    let it = f
        .items
        .iter()
        .find(|i| i.position == position)
        .unwrap_or_else(|| panic!("no item at {position}: {:#?}", f.items));
    (it.reason.as_str(), it.detail.as_str())
}

const C: &str = "indicator--00000000-0000-4000-8000-0000000000c";

#[test]
fn heldout_stix_bundle_against_built_traffic() {
    let (set, report) = load(&[data("heldout.stix.json")]);
    let f = file(&report, "heldout.stix.json");
    assert_eq!(f.error, None);
    // c1 c2 c3 c4 c6 cc loaded (cc partly: its certificate hash alternative is undecidable);
    // c5 undecidable; c7 revoked; c8, cb unsupported; c9, ca, "not an object", cd malformed.
    assert_eq!(counts(f), [6, 1, 1, 0, 1, 2, 4], "{f:#?}");
    let reasons = [
        (
            "indicator--00000000-0000-4000-8000-0000000000c5",
            "undecidable",
            "file:hashes",
        ),
        (
            "indicator--00000000-0000-4000-8000-0000000000c8",
            "unsupported",
            "qualifier REPEATS",
        ),
        (
            "indicator--00000000-0000-4000-8000-0000000000c9",
            "error",
            "pattern: unbalanced brackets at byte 29",
        ),
        (
            "indicator--00000000-0000-4000-8000-0000000000ca",
            "error",
            "indicator without a string pattern",
        ),
        (
            "indicator--00000000-0000-4000-8000-0000000000cb",
            "unsupported",
            "pattern_type snort",
        ),
        (
            "indicator--00000000-0000-4000-8000-0000000000cc",
            "partial",
            "x509-certificate:hashes",
        ),
        ("objects[13]", "error", "object is not a json object"),
        (
            "indicator--00000000-0000-4000-8000-0000000000cd",
            "error",
            "bad valid_from 'last tuesday'",
        ),
    ];
    for (pos, reason, detail) in reasons {
        assert_eq!(item(f, pos), (reason, detail), "{pos}");
    }
    // The unsupported pattern is listed with its text.
    let c8 = f.items.iter().find(|i| i.position.ends_with("c8")).unwrap();
    assert_eq!(
        c8.text.as_deref(),
        Some("[ipv4-addr:value = '10.0.0.2'] REPEATS 5 TIMES")
    );

    let set = Arc::new(set);
    let obs = vec![
        // CIDR, outbound and inbound (the asset is the internal end either way).
        flow(T2026, "10.0.0.1", 50000, "203.0.113.9", 443),
        flow(T2026, "203.0.113.50", 40000, "10.0.0.8", 22),
        // The OR pattern, through each of its alternatives.
        dns(T2026, "10.0.0.2", "c2.example.net", &[]),
        flow(T2026, "10.0.0.3", 50000, "198.51.100.7", 80),
        dns(
            T2026,
            "10.0.0.10",
            "foo.example",
            &[("foo.example", "198.51.100.7")],
        ),
        // The exact domain: by SNI, and as a CNAME target; a subdomain does not match.
        sni(T2026, "10.0.0.4", "192.0.2.4", "update.badcdn.example"),
        sni(T2026, "10.0.0.5", "192.0.2.4", "www.update.badcdn.example"),
        // Inbound TLS to an internal server: the server is the asset, the client the remote.
        sni(
            T2026,
            "198.51.100.200",
            "10.0.0.19",
            "update.badcdn.example",
        ),
        dns(
            T2026,
            "10.0.0.9",
            "www.innocent.example",
            &[
                ("www.innocent.example", "update.badcdn.example"),
                ("update.badcdn.example", "192.0.2.99"),
            ],
        ),
        // The 2020-only indicator: in 2020 yes, in 2026 no.
        flow(T2020, "10.0.0.7", 50000, "192.0.2.66", 443),
        flow(T2026, "10.0.0.6", 50000, "192.0.2.66", 443),
        // Address and port: only the port named.
        flow(T2026, "10.0.0.11", 50000, "198.51.100.80", 8443),
        flow(T2026, "10.0.0.12", 50000, "198.51.100.80", 443),
        // The URL's host, from the partly decidable pattern.
        sni(T2026, "10.0.0.13", "192.0.2.5", "files.badcdn.example"),
        // Near misses.
        flow(T2026, "10.0.0.14", 50000, "203.0.114.1", 443),
        sni(T2026, "10.0.0.15", "192.0.2.4", "notbadcdn.example"),
        dns(T2026, "10.0.0.16", "c2.example.net.evil", &[]),
        // Revoked and unsupported indicators' addresses.
        flow(T2026, "10.0.0.17", 50000, "10.0.0.1", 443),
        flow(T2026, "10.0.0.18", 50000, "10.0.0.2", 443),
    ];
    let got = run(set.clone(), false, &obs);
    let expected = want(&[
        ("10.0.0.1", &format!("{C}1")),
        ("10.0.0.8", &format!("{C}1")),
        ("10.0.0.2", &format!("{C}2")),
        ("10.0.0.3", &format!("{C}2")),
        ("10.0.0.10", &format!("{C}2")),
        ("10.0.0.4", &format!("{C}3")),
        ("10.0.0.9", &format!("{C}3")),
        ("10.0.0.19", &format!("{C}3")),
        ("10.0.0.7", &format!("{C}4")),
        ("10.0.0.11", &format!("{C}6")),
        ("10.0.0.13", &format!("{C}c")),
    ]);
    assert_eq!(pairs(&got), expected, "{got:#?}");

    // With subdomains, the www. name matches the domain indicator too.
    let got = run(set.clone(), true, &obs);
    let mut expected_sub = expected.clone();
    expected_sub.insert(("10.0.0.5".into(), format!("{C}3")));
    assert_eq!(pairs(&got), expected_sub);

    // What one match says.
    let m = got
        .iter()
        .find(|m| m.asset == "10.0.0.9")
        .expect("cname match");
    assert_eq!(
        m.indicator.pattern.as_deref(),
        Some("[domain-name:value = 'update.badcdn.example']")
    );
    assert_eq!(m.indicator.value, None);
    assert_eq!(m.indicator.name.as_deref(), Some("Exact domain"));
    assert!(m.indicator.source.ends_with("heldout.stix.json"));
    assert_eq!(m.count, 1);
    assert_eq!(m.first_seen, "2026-03-01T12:00:00.000Z");
    assert_eq!(m.evidence.len(), 1);
    assert_eq!(
        (m.evidence[0].kind.as_str(), m.evidence[0].value.as_str()),
        ("cname", "update.badcdn.example")
    );
    let inbound = got.iter().find(|m| m.asset == "10.0.0.8").unwrap();
    assert_eq!(inbound.remote, "203.0.113.50");
    let inbound_tls = got.iter().find(|m| m.asset == "10.0.0.19").unwrap();
    assert_eq!(inbound_tls.remote, "198.51.100.200");
    assert_eq!(inbound_tls.evidence[0].kind, "tls");
}

#[test]
fn cisa_sample_loads_and_matches() {
    let (set, report) = load(&[data("cisa_stix21_format_sample.json")]);
    let f = &report.files[0];
    assert_eq!(f.format, "stix");
    assert_eq!(counts(f), [3, 0, 0, 0, 1, 0, 0], "{f:#?}");
    assert_eq!(f.undecidable_kinds.get("file:hashes"), Some(&1));
    let obs = [
        flow(T2026, "10.1.1.1", 50000, "45.129.137.233", 443),
        flow(T2026, "141.98.9.137", 50000, "10.1.1.2", 3389),
        dns(T2026, "10.1.1.3", "adobe-us-updatefiles.digital", &[]),
        // Valid from 2023-08-01: traffic before that does not match.
        flow(T2020, "10.1.1.4", 50000, "45.129.137.233", 443),
    ];
    let got = run(Arc::new(set), false, &obs);
    assert_eq!(
        pairs(&got),
        want(&[
            (
                "10.1.1.1",
                "indicator--5aa0baa2-f618-44e9-9e83-08f705200c73"
            ),
            (
                "10.1.1.2",
                "indicator--a3d8042e-509f-44eb-84f2-6a68ca7f0904"
            ),
            (
                "10.1.1.3",
                "indicator--585b42fc-876e-45be-8426-e64268068026"
            ),
        ])
    );
}

#[test]
fn epa_volt_typhoon_csv() {
    // The shared folder beside the repository (CI puts a copy there), or CORDON_SHARED.
    let shared = std::env::var_os("CORDON_SHARED")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared"));
    let p = &shared.join("intel/indicators/volt_typhoon_recon_iocs_epa_2023.csv");
    if !p.exists() {
        eprintln!(
            "skipping: shared intel not found at {} (set CORDON_SHARED)",
            p.display()
        );
        return;
    }
    let (set, report) = load(&[p.to_path_buf()]);
    let f = &report.files[0];
    assert_eq!(f.format, "list");
    // 13 addresses (one "as printed in bulletin"), and the User-Agent with its typos, which
    // flow telemetry cannot decide.
    assert_eq!(counts(f), [13, 0, 0, 0, 1, 0, 0], "{f:#?}");
    assert_eq!(item(f, "line 15"), ("undecidable", "user_agent"));
    assert!(f.items[0]
        .text
        .as_deref()
        .unwrap()
        .contains("AppleWebKit/5/37.36"));
    let got = run(
        Arc::new(set),
        false,
        &[flow(T2026, "10.2.0.1", 50000, "43.11.3.120", 443)],
    );
    assert_eq!(got.len(), 1);
    let m = &got[0];
    assert_eq!(m.indicator.id, "volt_typhoon_recon_iocs_epa_2023.csv:2");
    assert_eq!(m.indicator.value.as_deref(), Some("43.11.3.120"));
    assert_eq!(
        m.indicator.name.as_deref(),
        Some("Volt Typhoon reconnaissance (as printed in bulletin)")
    );
}

#[test]
fn misp_event() {
    let (set, report) = load(&[data("misp-event.json")]);
    let f = &report.files[0];
    assert_eq!(f.format, "misp");
    // Loaded: ip-dst, ip-src CIDR, ip-dst|port, domain, hostname, domain|ip, url, and the
    // object's domain and ip-dst. Undecidable: ja3, sha256, md5. Not for detection: 3.
    assert_eq!(counts(f), [9, 0, 1, 3, 3, 1, 1], "{f:#?}");
    for k in ["ja3-fingerprint-md5", "sha256", "md5"] {
        assert_eq!(f.undecidable_kinds.get(k), Some(&1), "{k}");
    }
    let obs = [
        flow(T2026, "10.3.0.1", 50000, "198.51.100.20", 443),
        flow(T2026, "203.0.113.200", 50000, "10.3.0.2", 445),
        flow(T2026, "10.3.0.3", 50000, "198.51.100.21", 4444),
        flow(T2026, "10.3.0.4", 50000, "198.51.100.21", 443),
        dns(T2026, "10.3.0.5", "evil.example.org", &[]),
        sni(T2026, "10.3.0.6", "192.0.2.7", "beacon.evil.example.org"),
        flow(T2026, "fd00::7", 50000, "2001:db8::66", 443),
        sni(T2026, "10.3.0.8", "192.0.2.7", "stage.example.org"),
        dns(
            T2026,
            "10.3.0.9",
            "x.example",
            &[("x.example", "obj.example.org")],
        ),
        flow(T2026, "10.3.0.10", 50000, "192.0.2.200", 443),
        // to_ids false, deleted.
        flow(T2026, "10.3.0.11", 50000, "198.51.100.99", 443),
        flow(T2026, "10.3.0.12", 50000, "198.51.100.98", 443),
    ];
    let got = run(Arc::new(set), false, &obs);
    let a = "a0000000-0000-4000-8000-00000000000";
    let b = "b0000000-0000-4000-8000-00000000000";
    assert_eq!(
        pairs(&got),
        want(&[
            ("10.3.0.1", &format!("{a}1")),
            ("10.3.0.2", &format!("{a}2")),
            ("10.3.0.3", &format!("{a}3")),
            ("10.3.0.5", &format!("{a}4")),
            ("10.3.0.6", &format!("{a}5")),
            ("fd00::7", &format!("{a}6")),
            ("10.3.0.8", &format!("{a}7")),
            ("10.3.0.9", &format!("{b}1")),
            ("10.3.0.10", &format!("{b}2")),
        ])
    );
    let m = got.iter().find(|m| m.asset == "10.3.0.3").unwrap();
    assert_eq!(m.indicator.value.as_deref(), Some("198.51.100.21|4444"));
    assert_eq!(
        m.indicator.name.as_deref(),
        Some("Test event: infrastructure of a test actor")
    );
}

#[test]
fn misp_feed_folder() {
    let (set, report) = load(&[data("misp-feed")]);
    let paths: Vec<&str> = report.files.iter().map(|f| f.format.as_str()).collect();
    // The manifest, then its two listed events; the unlisted file is not read.
    assert_eq!(paths, ["misp-feed", "misp", "misp"]);
    let manifest = file(&report, "manifest.json");
    assert_eq!(
        item(manifest, "event 5f000000-0000-4000-8000-0000000000f3"),
        ("error", "event listed in the manifest has no file")
    );
    assert_eq!(report.loaded, 3);
    assert_eq!(file(&report, "f2.json").not_to_ids, 1);
    let got = run(
        Arc::new(set),
        false,
        &[
            flow(T2026, "10.4.0.1", 50000, "192.0.2.10", 443),
            flow(T2026, "2001:db8:bad:1::9", 50000, "fd00::4", 443),
            dns(T2026, "10.4.0.3", "feed1.example.com", &[]),
            flow(T2026, "10.4.0.4", 50000, "192.0.2.12", 443),
        ],
    );
    assert_eq!(
        pairs(&got),
        want(&[
            ("10.4.0.1", "c0000000-0000-4000-8000-000000000001"),
            ("fd00::4", "c0000000-0000-4000-8000-000000000003"),
            ("10.4.0.3", "c0000000-0000-4000-8000-000000000002"),
        ])
    );
}

#[test]
fn plain_list() {
    let (set, report) = load(&[data("list.txt")]);
    let f = &report.files[0];
    assert_eq!(counts(f), [7, 0, 0, 0, 1, 0, 4], "{f:#?}");
    let lines = [
        (
            "line 7",
            "error",
            "'not_a_value' is not an address, cidr, domain name or url",
        ),
        ("line 11", "undecidable", "sha256"),
        (
            "line 12",
            "error",
            "'example.com' is not an address or cidr",
        ),
        ("line 13", "error", "valid_until is not after valid_from"),
        (
            "line 14",
            "error",
            "'weird' is not an address, cidr, domain name or url",
        ),
    ];
    for (pos, reason, detail) in lines {
        assert_eq!(item(f, pos), (reason, detail), "{pos}");
    }
    let got = run(
        Arc::new(set),
        false,
        &[
            flow(T2026, "10.5.0.1", 50000, "192.0.2.1", 443),
            flow(T2026, "10.5.0.2", 50000, "192.0.2.9", 443),
            sni(T2026, "10.5.0.3", "192.0.2.100", "bad.example.com"),
            dns(T2026, "10.5.0.4", "mixed.case.example", &[]),
            flow(T2026, "10.5.0.5", 50000, "192.0.2.50", 443),
            dns(T2026, "10.5.0.6", "dated.example", &[]),
        ],
    );
    // 10.5.0.1 hits both the address (line 2) and the /28 (line 3).
    assert_eq!(
        pairs(&got),
        want(&[
            ("10.5.0.1", "list.txt:2"),
            ("10.5.0.1", "list.txt:3"),
            ("10.5.0.2", "list.txt:3"),
            ("10.5.0.3", "list.txt:4"),
            ("10.5.0.4", "list.txt:5"),
            ("10.5.0.5", "list.txt:9"),
        ])
    );
    let url = got.iter().find(|m| m.asset == "10.5.0.3").unwrap();
    assert_eq!(
        url.indicator.value.as_deref(),
        Some("http://bad.example.com/payload")
    );
    let cidr = got.iter().find(|m| m.asset == "10.5.0.2").unwrap();
    assert_eq!(cidr.indicator.value.as_deref(), Some("192.0.2.0/28"));
    assert_eq!(cidr.indicator.name.as_deref(), Some("a small range"));
}

#[test]
fn hostile_input_is_reported_not_fatal() {
    let mut l = Loader::default();
    let deep = format!(
        "{{\"type\":\"bundle\",\"objects\":[{}1{}]}}",
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    l.load_bytes("deep.json", deep.as_bytes());
    let deep_misp = format!(
        "{{\"Event\":{}{}}}",
        "{\"a\":".repeat(50_000),
        "}".repeat(50_000)
    );
    l.load_bytes("deep-misp.json", deep_misp.as_bytes());
    let huge = format!(
        "{{\"type\":\"bundle\",\"objects\":[{{\"type\":\"indicator\",\"id\":\"indicator--h\",\"pattern\":\"[domain-name:value = '{}']\"}}]}}",
        "a".repeat(10_000_000)
    );
    l.load_bytes("huge.json", huge.as_bytes());
    // Cut short after one good indicator: that one stays loaded.
    let cut = r#"{"type":"bundle","objects":[{"type":"indicator","id":"indicator--ok","pattern":"[ipv4-addr:value = '192.0.2.77']"},{"type":"indic"#;
    l.load_bytes("cut.json", cut.as_bytes());
    let mut garbage: Vec<u8> = (0..=255u8).cycle().take(100_000).collect();
    garbage.extend_from_slice(b"\n192.0.2.78\n");
    l.load_bytes("garbage.txt", &garbage);
    l.load_bytes("long-line.txt", "x".repeat(1_000_000).as_bytes());
    l.load_file(Path::new("/nonexistent/indicators.json"));
    let (set, report) = l.finish();

    // serde_json skips ignored values without recursing: the nested list is one bad object.
    let f = file(&report, "deep.json");
    assert_eq!(
        item(f, "objects[0]"),
        ("error", "object is not a json object")
    );
    let f = file(&report, "deep-misp.json");
    assert!(
        f.error.as_deref().unwrap().contains("recursion limit"),
        "{f:#?}"
    );
    let f = file(&report, "huge.json");
    assert_eq!(item(f, "indicator--h").0, "error");
    assert_eq!(
        item(f, "indicator--h").1,
        "pattern: pattern longer than 65536 bytes at byte 0"
    );
    let f = file(&report, "cut.json");
    assert_eq!(f.loaded, 1);
    assert!(
        f.error.as_deref().unwrap().contains("line 1 column"),
        "{f:#?}"
    );
    let f = file(&report, "garbage.txt");
    assert_eq!(f.loaded, 1, "{f:#?}");
    assert!(f.errors > 0);
    assert_eq!(
        item(file(&report, "long-line.txt"), "line 1").1,
        "line longer than 16384 bytes"
    );
    assert!(file(&report, "indicators.json")
        .error
        .as_deref()
        .unwrap()
        .starts_with("cannot read"));
    assert!(report.has_errors());
    // What did load still matches.
    let got = run(
        Arc::new(set),
        false,
        &[
            flow(T2026, "10.6.0.1", 50000, "192.0.2.77", 443),
            flow(T2026, "10.6.0.2", 50000, "192.0.2.78", 443),
        ],
    );
    assert_eq!(got.len(), 2);
}

#[test]
fn match_record_on_the_wire() {
    let (set, _) = load(&[data("heldout.stix.json")]);
    let got = run(
        Arc::new(set),
        false,
        &[
            flow(T2026, "10.0.0.1", 50000, "203.0.113.9", 443),
            flow(T2026 + 5_000_000, "10.0.0.1", 50001, "203.0.113.10", 443),
        ],
    );
    assert_eq!(got.len(), 1);
    let line = serde_json::to_string(&Record::IndicatorMatch(got[0].clone())).unwrap();
    let v: serde_json::Value = serde_json::from_str(&line).unwrap();
    assert_eq!(v["type"], "indicator-match");
    assert_eq!(v["asset"], "10.0.0.1");
    assert_eq!(v["remote"], "203.0.113.9");
    assert_eq!(v["count"], 2);
    assert_eq!(v["indicator"]["id"], format!("{C}1"));
    assert_eq!(
        v["indicator"]["pattern"],
        "[ipv4-addr:value = '203.0.113.0/24']"
    );
    assert!(v["indicator"].get("value").is_none());
    assert_eq!(v["first_seen"], "2026-03-01T12:00:00.000Z");
    assert_eq!(v["last_seen"], "2026-03-01T12:00:06.000Z");
    assert_eq!(v["evidence"][1]["value"], "203.0.113.10");
    let back: Record = serde_json::from_str(&line).unwrap();
    assert_eq!(back, Record::IndicatorMatch(got[0].clone()));
}

#[test]
fn check_command_exit_status() {
    let bin = env!("CARGO_BIN_EXE_cordon");
    let ok = std::process::Command::new(bin)
        .args(["indicators", "check"])
        .arg(data("cisa_stix21_format_sample.json"))
        .output()
        .unwrap();
    assert_eq!(ok.status.code(), Some(0));
    let out = String::from_utf8_lossy(&ok.stdout);
    assert!(
        out.contains("3 loaded, 1 not decidable from network telemetry"),
        "{out}"
    );
    let bad = std::process::Command::new(bin)
        .args(["indicators", "check", "--format", "json"])
        .arg(data("heldout.stix.json"))
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    let r: LoadReport = serde_json::from_slice(&bad.stdout).unwrap();
    assert_eq!(r.loaded, 6);
}

/// A fresh folder under the target's scratch space.
fn scratch(name: &str) -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("indicators-{name}"));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Loads `paths` on another thread, failing the test instead of hanging when a read blocks.
fn load_within(paths: Vec<PathBuf>, secs: u64) -> (IndicatorSet, LoadReport) {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(load(&paths));
    });
    rx.recv_timeout(std::time::Duration::from_secs(secs))
        .expect("loading did not finish: a read blocked")
}

/// Reliability review finding 0: the plain-list reproducer (`xxxxxx` then 'é' across byte
/// 7) panicked in `refang`. Now the line is reported and the rest loads.
#[test]
fn multibyte_list_line_is_reported_not_fatal() {
    let mut l = Loader::default();
    l.load_bytes("refang-panic.txt", b"47.88.1.3\nxxxxxx\xc3\xa9\n");
    l.load_bytes(
        "more.txt",
        "hxxps:/\u{e9}\nhxxp://evil[.]example/caf\u{e9}\nxxxxxxx\u{1f600}\n".as_bytes(),
    );
    let (_, report) = l.finish();
    let f = file(&report, "refang-panic.txt");
    assert_eq!(f.loaded, 1, "{f:#?}");
    assert_eq!(f.errors, 1, "{f:#?}");
    assert_eq!(item(f, "line 2").0, "error");
    let f = file(&report, "more.txt");
    assert_eq!(f.loaded, 1, "{f:#?}");
    assert_eq!(f.errors, 2, "{f:#?}");
}

/// Reliability review finding 14: a FIFO in an indicator folder hung the loader and a link
/// to /dev/zero read until memory ran out. Both are refused for that entry; the rest loads.
#[test]
fn fifo_and_device_in_folder_are_refused() {
    let d = scratch("fifo");
    std::fs::write(d.join("good.txt"), "192.0.2.90\n").unwrap();
    let st = std::process::Command::new("mkfifo")
        .arg(d.join("feed.txt"))
        .status()
        .expect("mkfifo");
    assert!(st.success());
    std::os::unix::fs::symlink("/dev/zero", d.join("zero.txt")).unwrap();
    // A sparse regular file over the cap: refused by its length, never read.
    let big = std::fs::File::create(d.join("big.txt")).unwrap();
    big.set_len(cordon::indicators::MAX_FILE_MIB * 1024 * 1024 + 1)
        .unwrap();
    drop(big);

    let (set, report) = load_within(vec![d.clone()], 20);
    assert_eq!(report.loaded, 1, "{report:#?}");
    let err = |s: &str| file(&report, s).error.clone().unwrap_or_default();
    assert_eq!(err("feed.txt"), "not a regular file (a fifo)");
    assert_eq!(err("zero.txt"), "not a regular file (a character device)");
    assert_eq!(err("big.txt"), "larger than 256 MiB");
    assert!(file(&report, "good.txt").error.is_none());
    let got = run(
        Arc::new(set),
        false,
        &[flow(T2026, "10.6.0.1", 50000, "192.0.2.90", 443)],
    );
    assert_eq!(got.len(), 1);
    std::fs::remove_dir_all(&d).unwrap();
}

/// Reliability review finding 3, in the indicator walk: `loop -> .` made every file load
/// once per level (17 times); two such links made the walk exponential. Each file and
/// folder is now visited once, as is a file reached through a second name.
#[test]
fn symlink_loop_loads_each_file_once() {
    let d = scratch("loop");
    std::fs::write(d.join("a.txt"), "192.0.2.91\n").unwrap();
    std::os::unix::fs::symlink(".", d.join("loop")).unwrap();
    std::os::unix::fs::symlink(".", d.join("loop2")).unwrap();
    std::fs::create_dir(d.join("sub")).unwrap();
    std::os::unix::fs::symlink("..", d.join("sub/up")).unwrap();
    std::os::unix::fs::symlink("../a.txt", d.join("sub/again.txt")).unwrap();

    let (_, report) = load_within(vec![d.clone(), d.join("a.txt")], 20);
    assert_eq!(report.files.len(), 1, "{report:#?}");
    assert_eq!(report.loaded, 1);
    assert!(report.files[0].path.ends_with("a.txt"));
    assert!(!report.has_errors(), "{report:#?}");
    std::fs::remove_dir_all(&d).unwrap();
}
