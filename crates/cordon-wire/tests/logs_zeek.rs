//! Zeek TSV and JSON logs: fixtures with known contents, chunked-vs-whole agreement, and the
//! shared corpus (WRCCDC TSV vs JSON of the same records; Zeek's own btest baselines).

mod common;
mod logs_common;

use common::corpus;
use cordon_wire::{
    zeek, AnomalyKind, DnsData, Flow, IpProto, Mac, NameSource, Observation, Sink, VecSink,
};
use logs_common::{counts, fixture, line_offset, run, Counts};

fn c(
    records: u64,
    flows: usize,
    dns: usize,
    names: usize,
    dhcp: usize,
    hosts: usize,
    anomalies: usize,
) -> Counts {
    Counts {
        records,
        flows,
        dns,
        names,
        dhcp,
        hosts,
        anomalies,
    }
}

#[test]
fn fixture_counts() {
    let cases = [
        ("zeek-conn-two-blocks.log", c(7, 5, 0, 0, 0, 0, 3)),
        ("zeek-mixed.json", c(11, 1, 2, 2, 1, 1, 2)),
        ("zeek-btest-dhcp.log", c(3, 0, 0, 0, 3, 0, 3)),
        ("zeek-btest-gre-dns.log", c(2, 0, 2, 0, 0, 0, 2)),
        ("zeek-btest-x509.log", c(2, 0, 0, 3, 0, 0, 2)),
    ];
    for (name, want) in cases {
        let input = fixture(name);
        let (sink, st) = run(zeek::decode, &input);
        assert_eq!(counts(&sink, &st), want, "{name}: {:#?}", sink.anomalies);
    }
}

#[test]
fn conn_fields() {
    let input = fixture("zeek-conn-two-blocks.log");
    let (sink, st) = run(zeek::decode, &input);
    let flows: Vec<&Flow> = sink
        .observations
        .iter()
        .filter_map(|o| match o {
            Observation::Flow(f) => Some(f),
            _ => None,
        })
        .collect();
    assert_eq!(
        *flows[0],
        Flow {
            first: 1_700_000_000_000_001,
            last: 1_700_000_001_500_001,
            src: "10.0.0.1".parse().unwrap(),
            dst: "47.246.1.1".parse().unwrap(),
            sport: 50000,
            dport: 443,
            proto: IpProto::TCP,
            bytes_out: 360,
            packets_out: 5,
            bytes_in: 2320,
            packets_in: 6,
            src_mac: Mac::parse("00:0c:29:aa:bb:cc"),
            dst_mac: Mac::parse("28:6f:b9:00:00:01"),
            uid: Some("CAAAAAAAAAAAAAAAA1".into()),
            sampling: 1,
        }
    );
    // Unset duration and counters: last == first, zero counters, no MACs.
    assert_eq!(flows[1].first, 1_700_000_001_500_000);
    assert_eq!(flows[1].last, flows[1].first);
    assert_eq!((flows[1].bytes_out, flows[1].src_mac), (80, None));
    assert_eq!(flows[2].proto, IpProto::ICMP);
    // Second block: '|' separator, reordered columns, ip_proto wins over proto, and
    // orig_bytes is used when orig_ip_bytes is absent.
    assert_eq!(
        flows[3].src,
        "192.168.1.9".parse::<std::net::IpAddr>().unwrap()
    );
    assert_eq!(
        (
            flows[3].dport,
            flows[3].proto,
            flows[3].bytes_out,
            flows[3].bytes_in
        ),
        (53, IpProto::UDP, 40, 120)
    );
    assert_eq!((flows[4].first, flows[4].proto), (0, IpProto::SCTP));
    let want_bytes: u64 = flows.iter().map(|f| f.bytes_out + f.bytes_in).sum();
    assert_eq!(st.bytes, want_bytes);
    // Anomalies point at the start of the bad lines.
    let offs: Vec<(u64, AnomalyKind)> = sink.anomalies.iter().map(|a| (a.offset, a.kind)).collect();
    assert_eq!(
        offs,
        vec![
            (
                line_offset(&input, "CAAAAAAAAAAAAAAAA4"),
                AnomalyKind::Malformed
            ),
            (
                line_offset(&input, "CAAAAAAAAAAAAAAAA5"),
                AnomalyKind::Malformed
            ),
            (
                line_offset(&input, "CBBBBBBBBBBBBBBBB2"),
                AnomalyKind::Malformed
            ),
        ]
    );
}

#[test]
fn json_fields() {
    let input = fixture("zeek-mixed.json");
    let (sink, _) = run(zeek::decode, &input);
    let mut dns = sink.observations.iter().filter_map(|o| match o {
        Observation::Dns(d) => Some(d),
        _ => None,
    });
    let d = dns.next().unwrap();
    assert_eq!(d.query, "www.example.com");
    let chain: Vec<(&str, String, u32)> = d
        .answers
        .iter()
        .map(|r| {
            let data = match &r.data {
                DnsData::Addr(a) => a.to_string(),
                DnsData::Cname(n) => format!("cname {n}"),
            };
            (r.name.as_str(), data, r.ttl)
        })
        .collect();
    assert_eq!(
        chain,
        vec![
            (
                "www.example.com",
                "cname www.example.com.cdn.example.net".to_string(),
                60
            ),
            (
                "www.example.com.cdn.example.net",
                "cname edge.example.net".to_string(),
                30
            ),
            ("edge.example.net", "93.184.216.34".to_string(), 20),
            ("edge.example.net", "2606:2800:220:1::1".to_string(), 10),
        ]
    );
    // A PTR answer is a name but not a CNAME target.
    let ptr = dns.next().unwrap();
    assert_eq!(
        (ptr.query.as_str(), ptr.answers.len()),
        ("4.3.2.1.in-addr.arpa", 0)
    );
    let names: Vec<(&str, NameSource, u16, Option<&str>)> = sink
        .observations
        .iter()
        .filter_map(|o| match o {
            Observation::Name(n) => {
                Some((n.name.as_str(), n.source, n.server_port, n.uid.as_deref()))
            }
            _ => None,
        })
        .collect();
    assert_eq!(
        names,
        vec![
            (
                "oss-cn-hangzhou.aliyuncs.com",
                NameSource::Tls,
                443,
                Some("CJ4")
            ),
            ("example.org", NameSource::Http, 8080, Some("CJ5")),
        ]
    );
    let tls_ts = sink.observations.iter().find_map(|o| match o {
        Observation::Name(n) if n.source == NameSource::Tls => Some(n.ts),
        _ => None,
    });
    assert_eq!(tls_ts, Some(1_700_000_002_000_000));
    let dhcp = sink.observations.iter().find_map(|o| match o {
        Observation::Dhcp(d) => Some(d),
        _ => None,
    });
    let dhcp = dhcp.unwrap();
    assert_eq!(
        (
            dhcp.mac,
            dhcp.ip,
            dhcp.host_name.as_deref(),
            dhcp.vendor_class.as_deref()
        ),
        (
            Mac::parse("bc:ad:28:01:02:03").unwrap(),
            Some("10.1.1.7".parse().unwrap()),
            Some("ipc-cam"),
            Some("udhcp 1.2")
        )
    );
}

#[test]
fn btest_dhcp_values() {
    let (sink, _) = run(zeek::decode, &fixture("zeek-btest-dhcp.log"));
    let got: Vec<(String, Option<String>, Option<String>)> = sink
        .observations
        .iter()
        .filter_map(|o| match o {
            Observation::Dhcp(d) => Some((
                d.mac.to_string(),
                d.ip.map(|i| i.to_string()),
                d.host_name.clone(),
            )),
            _ => None,
        })
        .collect();
    let mac = "90:b1:1c:99:49:29".to_string();
    assert_eq!(
        got,
        vec![
            (
                mac.clone(),
                Some("128.2.6.189".into()),
                Some("btest.is.cool".into())
            ),
            (mac.clone(), None, None),
            (
                mac,
                Some("128.2.6.189".into()),
                Some("btest.is.cool".into())
            ),
        ]
    );
}

/// Decodes `input` with parse_header + decode_body over chunks cut at every newline after
/// the header, and checks it agrees with the whole-input decoder.
fn check_chunked(name: &str, input: &[u8]) {
    let (whole, wst) = run(zeek::decode, input);
    let Some(h) = zeek::parse_header(input) else {
        return;
    };
    let body = &input[h.body_start..];
    if body
        .iter()
        .enumerate()
        .any(|(i, &c)| c == b'#' && (i == 0 || body[i - 1] == b'\n'))
    {
        return; // A second header block in chunk 1 would not reach chunk 2.
    }
    for cut in body
        .iter()
        .enumerate()
        .filter(|(_, &c)| c == b'\n')
        .map(|(i, _)| i + 1)
    {
        let mut sink = VecSink::default();
        let mut st = zeek::decode_body(&h, &body[..cut], h.body_start as u64, &mut sink);
        st.add(&zeek::decode_body(
            &h,
            &body[cut..],
            (h.body_start + cut) as u64,
            &mut sink,
        ));
        assert_eq!(st, wst, "{name} cut at {cut}");
        assert_eq!(sink.observations, whole.observations, "{name} cut at {cut}");
        assert_eq!(sink.anomalies, whole.anomalies, "{name} cut at {cut}");
    }
}

#[test]
fn chunked_matches_whole() {
    for name in [
        "zeek-btest-dhcp.log",
        "zeek-btest-gre-dns.log",
        "zeek-btest-x509.log",
    ] {
        check_chunked(name, &fixture(name));
    }
    // A header-less JSON file has no header: decode_body with a default header must agree.
    let input = fixture("zeek-mixed.json");
    let (whole, _) = run(zeek::decode, &input);
    let mut sink = VecSink::default();
    zeek::decode_body(&zeek::Header::default(), &input, 0, &mut sink);
    assert_eq!(sink.observations, whole.observations);
}

#[test]
fn bad_input_is_reported() {
    let header = "#separator \\x09\n#fields\tts\tuid\tid.orig_h\tid.resp_h\n#path\tconn\n";
    let long = format!(
        "{header}1\tC\t10.0.0.1\t{}\n2\tC\t10.0.0.1\t10.0.0.2\n",
        "9".repeat(zeek_max_line() + 1)
    );
    let cases: &[(&str, Vec<u8>, Vec<AnomalyKind>, usize)] = &[
        (
            "no header",
            b"1\t2\t3\n".to_vec(),
            vec![AnomalyKind::Missing],
            0,
        ),
        (
            "multi-byte separator",
            b"#separator ab\n".to_vec(),
            vec![AnomalyKind::Unsupported],
            0,
        ),
        ("long line", long.into_bytes(), vec![AnomalyKind::Limit], 1),
        (
            "binary",
            vec![0xff, 0x00, b'\n', b'{', 0xfe, b'\n'],
            vec![AnomalyKind::Missing, AnomalyKind::Malformed],
            0,
        ),
        ("empty", Vec::new(), vec![], 0),
    ];
    for (what, input, kinds, obs) in cases {
        let (sink, _) = run(zeek::decode, input);
        let got: Vec<AnomalyKind> = sink.anomalies.iter().map(|a| a.kind).collect();
        assert_eq!(&got, kinds, "{what}");
        assert_eq!(sink.observations.len(), *obs, "{what}");
    }
}

fn zeek_max_line() -> usize {
    1 << 20
}

// ---- shared corpus ----

fn observations(input: &[u8]) -> (Vec<Observation>, usize, u64) {
    let (sink, st) = run(zeek::decode, input);
    (sink.observations, sink.anomalies.len(), st.records)
}

#[test]
fn wrccdc_tsv_and_json_agree() {
    let Some(root) = corpus() else { return };
    let dir = root.join("zeek-logs/wrccdc2018");
    // (log, records, observations) — the JSON twin must give the same observations.
    let cases = [
        ("wrccdc2018-dns.every25th", 2145u64, 2145usize),
        ("wrccdc2018-ssl.every25th", 1979, 590),
        ("wrccdc2018-x509", 348, 3507),
    ];
    for (stem, records, nobs) in cases {
        let tsv = std::fs::read(dir.join(format!("{stem}.log"))).unwrap();
        let json = std::fs::read(dir.join(format!("{stem}.json"))).unwrap();
        let (a, an_a, rec_a) = observations(&tsv);
        let (b, an_b, rec_b) = observations(&json);
        assert_eq!(
            (rec_a, rec_b, an_a, an_b),
            (records, records, 0, 0),
            "{stem}"
        );
        {
            assert_eq!(a.len(), nobs, "{stem}");
        }
        assert_eq!(a.len(), b.len(), "{stem}");
        for (i, (x, y)) in a.iter().zip(&b).enumerate() {
            assert_eq!(x, y, "{stem}: observation {i}");
        }
    }
}

#[test]
fn wrccdc_conn_counts_match_columns() {
    let Some(root) = corpus() else { return };
    let input =
        std::fs::read(root.join("zeek-logs/wrccdc2018/wrccdc2018-conn.first100.log")).unwrap();
    let (sink, st) = run(zeek::decode, &input);
    // Independent oracle: sum the orig_ip_bytes and resp_ip_bytes columns by hand.
    let text = String::from_utf8(input.clone()).unwrap();
    let fields: Vec<&str> = text
        .lines()
        .find(|l| l.starts_with("#fields"))
        .unwrap()
        .split('\t')
        .skip(1)
        .collect();
    let oi = fields.iter().position(|f| *f == "orig_ip_bytes").unwrap();
    let ri = fields.iter().position(|f| *f == "resp_ip_bytes").unwrap();
    let mut bytes = 0u64;
    let mut lines = 0;
    for l in text.lines().filter(|l| !l.starts_with('#')) {
        let v: Vec<&str> = l.split('\t').collect();
        bytes += v[oi].parse::<u64>().unwrap() + v[ri].parse::<u64>().unwrap();
        lines += 1;
    }
    assert_eq!(
        counts(&sink, &st),
        Counts {
            records: lines,
            flows: lines as usize,
            ..Counts::default()
        }
    );
    assert_eq!(st.bytes, bytes);
}

#[test]
fn btest_baselines() {
    let Some(root) = corpus() else { return };
    let dir = root.join("zeek-logs/zeek-btest-canonified");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let input = std::fs::read(&path).unwrap();
        let data_lines = input
            .split(|&c| c == b'\n')
            .filter(|l| !l.is_empty() && l[0] != b'#')
            .count();
        let (sink, st) = run(zeek::decode, &input);
        let cnt = counts(&sink, &st);
        assert_eq!(cnt.records as usize, data_lines, "{name}");
        // Every timestamp is canonified to XXXXXXXXXX.XXXXXX: one anomaly per record.
        assert_eq!(cnt.anomalies, data_lines, "{name}: {:?}", sink.anomalies);
        let log = name.rsplit("--").next().unwrap();
        let expected = match log {
            l if l.starts_with("conn") => cnt.flows,
            l if l.starts_with("dns") => cnt.dns,
            l if l.starts_with("dhcp") => cnt.dhcp,
            l if l.starts_with("ssl") || l.starts_with("x509") => cnt.names.max(1).min(data_lines),
            _ => panic!("unexpected log {name}"),
        };
        assert_eq!(expected, data_lines, "{name}: {cnt:?}");
        check_chunked(&name, &input);
        n += 1;
    }
    assert_eq!(n, 24);
}

#[test]
fn sink_is_object_safe() {
    // decode_body accepts any Sink, including a counting one that keeps nothing.
    struct Count(usize);
    impl Sink for Count {
        fn observe(&mut self, _: Observation) {
            self.0 += 1;
        }
        fn anomaly(&mut self, _: cordon_wire::Anomaly) {}
    }
    let input = fixture("zeek-conn-two-blocks.log");
    let mut s = Count(0);
    zeek::decode(&input, &mut s);
    assert_eq!(s.0, 5);
}
