//! Suricata EVE, AWS and generic CSV/NDJSON decoders over fixtures and the shared corpus, and
//! format detection over every corpus file.

mod common;
mod logs_common;

use common::corpus;
use cordon_wire::detect::{compression, detect, Compression, Format};
use cordon_wire::{aws, csvlog, eve, AnomalyKind, DecodeStats, DnsData, Observation, Sink};
use logs_common::{counts, fixture, line_offset, run, Counts};

type Decode = fn(&[u8], &mut dyn Sink) -> DecodeStats;

fn c(
    records: u64,
    flows: usize,
    dns: usize,
    names: usize,
    dhcp: usize,
    anomalies: usize,
) -> Counts {
    Counts {
        records,
        flows,
        dns,
        names,
        dhcp,
        hosts: 0,
        anomalies,
    }
}

#[test]
fn fixture_counts() {
    let cases: &[(&str, Decode, Counts)] = &[
        ("eve-mixed.json", eve::decode, c(11, 1, 4, 2, 1, 2)),
        ("aws-route53.json", aws::decode, c(2, 0, 2, 0, 0, 0)),
        ("aws-vpc-custom.log", aws::decode, c(6, 2, 0, 0, 0, 3)),
        (
            "valid_vpc_flow_log_multi.log",
            aws::decode,
            c(2, 2, 0, 0, 0, 0),
        ),
        (
            "vpc_flow_log_too_few_fields.log",
            aws::decode,
            c(1, 0, 0, 0, 0, 1),
        ),
        ("valid_vpc_flow_cw.json", aws::decode, c(2, 2, 0, 0, 0, 0)),
        ("flows.csv", csvlog::decode, c(5, 3, 0, 0, 0, 2)),
        ("flows.ndjson", csvlog::decode, c(4, 2, 0, 0, 0, 2)),
    ];
    for (name, decode, want) in cases {
        let (sink, st) = run(*decode, &fixture(name));
        assert_eq!(counts(&sink, &st), *want, "{name}: {:#?}", sink.anomalies);
    }
}

fn dns_chain(o: &Observation) -> Option<(String, Vec<(String, String)>)> {
    let Observation::Dns(d) = o else { return None };
    let chain = d
        .answers
        .iter()
        .map(|r| {
            let data = match &r.data {
                DnsData::Addr(a) => a.to_string(),
                DnsData::Cname(n) => format!("cname {n}"),
            };
            (r.name.clone(), data)
        })
        .collect();
    Some((d.query.clone(), chain))
}

fn s(a: &str, b: &str) -> (String, String) {
    (a.to_string(), b.to_string())
}

#[test]
fn dns_chains() {
    let (eve_sink, _) = run(eve::decode, &fixture("eve-mixed.json"));
    let (r53_sink, _) = run(aws::decode, &fixture("aws-route53.json"));
    let eve_chains: Vec<_> = eve_sink.observations.iter().filter_map(dns_chain).collect();
    let r53_chains: Vec<_> = r53_sink.observations.iter().filter_map(dns_chain).collect();
    assert_eq!(
        eve_chains,
        vec![
            (
                "www.example.com".into(),
                vec![
                    s("www.example.com", "cname edge.example.net"),
                    s("edge.example.net", "93.184.216.34")
                ]
            ),
            (
                "a.example.org".into(),
                vec![
                    s("a.example.org", "cname b.example.org"),
                    s("b.example.org", "192.0.2.1")
                ]
            ),
            (
                "c.example.org".into(),
                vec![s("c.example.org", "2001:db8::5")]
            ),
            ("d.example.org".into(), vec![]),
        ]
    );
    assert_eq!(
        r53_chains,
        vec![
            (
                "mirror.example.com".into(),
                vec![
                    s("mirror.example.com", "cname mirror.cdn.example.net"),
                    s("mirror.cdn.example.net", "198.51.100.7")
                ]
            ),
            ("7.100.51.198.in-addr.arpa".into(), vec![]),
        ]
    );
    // EVE answers logged in packet direction: the client is the side not on port 53.
    let Observation::Dns(d) = &eve_sink.observations[1] else {
        panic!()
    };
    assert_eq!(
        (d.client, d.uid.as_deref()),
        (Some("10.0.0.1".parse().unwrap()), Some("1002"))
    );
    let Observation::Dns(d) = &r53_sink.observations[0] else {
        panic!()
    };
    assert_eq!(
        (d.ts, d.client),
        (1_639_202_004_000_000, Some("10.0.1.5".parse().unwrap()))
    );
}

#[test]
fn eve_fields() {
    let (sink, st) = run(eve::decode, &fixture("eve-mixed.json"));
    let Observation::Flow(f) = &sink.observations[0] else {
        panic!()
    };
    assert_eq!(
        (
            f.first,
            f.last,
            f.sport,
            f.dport,
            f.proto.0,
            f.bytes_out,
            f.bytes_in,
            f.packets_out,
            f.packets_in
        ),
        (
            1_485_532_990_000_000,
            1_485_532_998_000_000,
            51000,
            443,
            6,
            600,
            3000,
            5,
            4
        )
    );
    assert_eq!(st.bytes, 3600);
    let names: Vec<(String, u16, Option<String>)> = sink
        .observations
        .iter()
        .filter_map(|o| match o {
            Observation::Name(n) => Some((
                n.name.clone(),
                n.server_port,
                n.uid.as_deref().map(String::from),
            )),
            _ => None,
        })
        .collect();
    assert_eq!(
        names,
        vec![
            ("oss.aliyuncs.com".into(), 443, Some("1001".into())),
            ("www.example.cn".into(), 80, Some("1006".into()))
        ]
    );
    let dhcp = sink.observations.iter().find_map(|o| match o {
        Observation::Dhcp(d) => Some(d.clone()),
        _ => None,
    });
    let dhcp = dhcp.unwrap();
    assert_eq!(
        (
            dhcp.mac.to_string(),
            dhcp.ip,
            dhcp.host_name.as_deref(),
            dhcp.vendor_class.as_deref()
        ),
        (
            "28:cf:da:00:00:01".to_string(),
            Some("192.168.1.20".parse().unwrap()),
            Some("NicksMacBook"),
            Some("MSFT 5.0")
        )
    );
}

#[test]
fn flow_table_fields() {
    let (sink, _) = run(csvlog::decode, &fixture("flows.csv"));
    let got: Vec<(i64, String, u16, u8, u64)> = sink
        .observations
        .iter()
        .filter_map(|o| match o {
            Observation::Flow(f) => {
                Some((f.first, f.dst.to_string(), f.dport, f.proto.0, f.bytes_out))
            }
            _ => None,
        })
        .collect();
    assert_eq!(
        got,
        vec![
            (1_704_067_200_000_000, "47.246.1.1".into(), 443, 6, 1000),
            (1_704_067_201_000_000, "47.246.1.2".into(), 53, 17, 200),
            (1_704_067_203_500_000, "2001:db8::1".into(), 2, 6, 3),
        ]
    );
    let (sink, _) = run(csvlog::decode, &fixture("flows.ndjson"));
    let Observation::Flow(f) = &sink.observations[0] else {
        panic!()
    };
    assert_eq!(
        (f.first, f.dport, f.proto.0, f.bytes_out, f.bytes_in),
        (1_704_067_200_000_000, 443, 6, 1000, 5000)
    );
    let Observation::Flow(f) = &sink.observations[1] else {
        panic!()
    };
    assert_eq!((f.first, f.proto.0), (1_704_067_201_000_000, 17));
    // An unrecognised header is one Unsupported anomaly and nothing else.
    let (sink, st) = run(csvlog::decode, b"a,b,c\n1,2,3\n");
    assert_eq!(
        (sink.anomalies.len(), sink.anomalies[0].kind, st.records),
        (1, AnomalyKind::Unsupported, 0)
    );
}

#[test]
fn aws_anomaly_offsets() {
    let input = fixture("aws-vpc-custom.log");
    let (sink, _) = run(aws::decode, &input);
    let offs: Vec<u64> = sink.anomalies.iter().map(|a| a.offset).collect();
    let starts: Vec<u64> = std::iter::once(0)
        .chain(
            input
                .iter()
                .enumerate()
                .filter(|(_, &c)| c == b'\n')
                .map(|(i, _)| i as u64 + 1),
        )
        .collect();
    assert_eq!(offs, vec![starts[3], starts[4], starts[7]]);
    let input = fixture("vpc_flow_log_too_few_fields.log");
    let (sink, _) = run(aws::decode, &input);
    assert_eq!(
        sink.anomalies[0].offset,
        line_offset(&input, "2 12345678910")
    );
}

#[test]
fn never_panic_on_junk() {
    let junk: &[&[u8]] = &[
        b"",
        b"\n\n",
        b"{",
        b"{}",
        b"[]",
        b"\xff\xfe",
        b"{\"logEvents\":[{\"message\":null}]}",
        b"{\"message\":\"version srcaddr\"}\n{\"message\":\"1\"}",
        b"\"",
        b",,,\n,,,",
    ];
    for input in junk {
        for decode in [
            eve::decode as Decode,
            aws::decode,
            csvlog::decode,
            cordon_wire::zeek::decode,
        ] {
            let (sink, st) = run(decode, input);
            assert_eq!(st.anomalies as usize, sink.anomalies.len());
        }
        let _ = detect(input);
    }
}

#[test]
fn corpus_aws() {
    let Some(root) = corpus() else { return };
    let dir = root.join("aws/vpc-flow/otel-contrib");
    let cases = [
        ("valid_tgw_flow_log.log", c(1, 1, 0, 0, 0, 0), 1000u64),
        ("valid_vpc_flow_cw.json", c(2, 2, 0, 0, 0, 0), 8498),
        ("valid_vpc_flow_cw_custom.json", c(2, 0, 0, 0, 0, 2), 0),
        ("valid_vpc_flow_log.log", c(1, 0, 0, 0, 0, 0), 0),
        ("valid_vpc_flow_log_ecs.log", c(1, 1, 0, 0, 0, 0), 3500),
        ("valid_vpc_flow_log_multi.log", c(2, 2, 0, 0, 0, 0), 8498),
        ("vpc_flow_log_too_few_fields.log", c(1, 0, 0, 0, 0, 1), 0),
        ("vpc_flow_log_too_many_fields.log", c(1, 0, 0, 0, 0, 1), 0),
    ];
    for (name, want, bytes) in cases {
        let input = std::fs::read(dir.join(name)).unwrap();
        let (sink, st) = run(aws::decode, &input);
        assert_eq!(counts(&sink, &st), want, "{name}: {:?}", sink.anomalies);
        assert_eq!(st.bytes, bytes, "{name}");
        for a in sink.anomalies.iter().filter(|_| name.ends_with(".log")) {
            // Bad-input cases point at the record line, not the header.
            assert!(a.offset > 0, "{name}: {a:?}");
        }
    }
}

/// The format each corpus file must be detected as, by folder and extension.
fn expected(rel: &str) -> Option<Format> {
    let ext = rel.rsplit('.').next().unwrap_or("");
    let top = rel.split('/').next().unwrap_or("");
    Some(match (top, ext) {
        (_, "md") => return None,
        (_, "gz") => return None, // checked as compressed below
        ("pcap" | "netflow", "pcap" | "cap") => Format::Pcap,
        ("pcap", "pcapng") => Format::Pcapng,
        ("netflow", "dat") => Format::NetflowDatagrams,
        ("netflow", "csv") => Format::Csv,
        ("zeek-logs", "log") => Format::ZeekTsv,
        ("zeek-logs", "json") => Format::ZeekJson,
        ("aws", "log") => Format::AwsVpcFlow,
        ("aws", "json") if rel.contains("route53") => Format::Route53,
        ("aws", "json") => Format::AwsVpcFlowCloudWatch,
        _ => panic!("no expectation for {rel}"),
    })
}

#[test]
fn corpus_detection() {
    let Some(root) = corpus() else { return };
    let mut checked = 0;
    let mut wrong = Vec::new();
    let mut stack = vec![root.clone()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
                continue;
            }
            let rel = p
                .strip_prefix(&root)
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/");
            if !["pcap/", "netflow/", "zeek-logs/", "aws/"]
                .iter()
                .any(|d| rel.starts_with(d))
            {
                continue;
            }
            let head: Vec<u8> = std::fs::read(&p).unwrap().into_iter().take(8192).collect();
            if rel.ends_with(".gz") {
                assert_eq!(compression(&head), Some(Compression::Gzip), "{rel}");
                checked += 1;
                continue;
            }
            assert_eq!(compression(&head), None, "{rel}");
            let Some(want) = expected(&rel) else { continue };
            let got = detect(&head);
            if got != want {
                wrong.push(format!(
                    "{rel}: got {}, want {}",
                    got.as_str(),
                    want.as_str()
                ));
            }
            checked += 1;
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    assert!(checked > 300, "only {checked} corpus files checked");
}
