//! Threat indicator files (STIX 2.1 bundles, MISP events, plain lists; the format is judged
//! from the content) through `indicators::Loader`, and the text as a STIX pattern.
//!
//! Oracles: no panic; loading never fails as a whole (one file report per input, totals
//! agree with it, the frozen set holds what the report says was loaded); the pattern fast
//! path (`parse_simple`), when it answers, agrees with the full parser; compiling a parsed
//! pattern never panics; the matcher takes observations against the loaded set.
#![no_main]

use cordon::indicators::{pattern, values, Loader, Matcher};
use cordon_wire::obs::{Flow, IpProto, NameSource, Observation, ServerName};
use libfuzzer_sys::fuzz_target;
use std::net::IpAddr;
use std::sync::Arc;

fuzz_target!(|data: &[u8]| {
    let mut l = Loader::default();
    l.load_bytes("fuzz", data);
    let (set, report) = l.finish();
    assert_eq!(report.files.len(), 1, "{report:?}");
    let f = &report.files[0];
    assert_eq!(report.loaded, f.loaded);
    assert_eq!(report.not_loaded, f.not_loaded());
    assert_eq!(set.len() as u64, f.loaded, "{report:?}");
    assert!(f.items.len() <= cordon::indicators::report::MAX_ITEMS);

    if !set.is_empty() {
        let m = Matcher::new(Arc::new(set), true);
        observe(m);
    }

    if let Ok(s) = std::str::from_utf8(data) {
        let full = pattern::parse(s);
        if let Some(fast) = pattern::parse_simple(s) {
            assert_eq!(
                full.as_ref().ok(),
                Some(&fast),
                "parse_simple disagrees on {s:?}"
            );
        }
        if let Ok(p) = &full {
            let _ = values::compile(p);
        }
        // The value parsers every input family shares.
        let v = values::refang(s);
        let _ = values::parse_ip_or_cidr(&v);
        let _ = values::parse_domain(&v);
        let _ = values::url_host(&v);
        let _ = values::parse_time(s);
    }
});

fn observe(mut m: Matcher) {
    let ip = |s: &str| s.parse::<IpAddr>().unwrap();
    let internal = |a: IpAddr| matches!(a, IpAddr::V4(v) if v.is_private());
    let t = 1_772_366_400_000_000;
    let flow = Observation::Flow(Flow {
        first: t,
        last: t + 1_000_000,
        src: ip("10.0.0.1"),
        dst: ip("192.0.2.1"),
        sport: 50000,
        dport: 443,
        proto: IpProto::TCP,
        bytes_out: 100,
        packets_out: 1,
        bytes_in: 100,
        packets_in: 1,
        src_mac: None,
        dst_mac: None,
        uid: None,
        sampling: 1,
    });
    m.observe(&flow, &internal);
    let name = Observation::Name(ServerName {
        ts: t,
        client: Some(ip("10.0.0.1")),
        server: Some(ip("192.0.2.1")),
        server_port: 443,
        name: "a.evil.example".into(),
        source: NameSource::Tls,
        uid: None,
    });
    m.observe(&name, &internal);
    let _ = m.finish();
}
