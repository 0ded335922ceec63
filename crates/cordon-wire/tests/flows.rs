//! Corpus tests for the NetFlow/IPFIX decoders: every replay group of the shared corpus that
//! nfdump 1.7.1 decoded (`netflow/nfdump-decoded`, see the corpus' MANIFEST.md and PEERS.md)
//! is fed, in the same order, to ONE cordon `Collector`, and cordon's record count and octet
//! sum must equal nfdump's.

mod common;
mod flows_support;

use common::corpus;
use cordon_wire::netflow::{self, Collector};
use cordon_wire::obs::{DecodeStats, Flow, Observation, VecSink};
use flows_support::{nfdump_csv, udp_payloads, NfKey};
use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;

/// Replay groups of `netflow/akvorado`: answer-key name and pcaps in replay order.
const AKVORADO: &[(&str, &[&str])] = &[
    ("nfv5", &["nfv5.pcap"]),
    ("v9-template+data", &["template.pcap", "data.pcap"]),
    ("v9-data+templates-single", &["data+templates.pcap"]),
    (
        "v9-options+data",
        &[
            "options-template.pcap",
            "options-data.pcap",
            "template.pcap",
            "data.pcap",
        ],
    ),
    (
        "v9-samplingrate",
        &["samplingrate-template.pcap", "samplingrate-data.pcap"],
    ),
    (
        "v9-multisampling",
        &[
            "multiplesamplingrates-options-template.pcap",
            "multiplesamplingrates-options-data.pcap",
            "multiplesamplingrates-template.pcap",
            "multiplesamplingrates-data.pcap",
        ],
    ),
    ("v9-icmp", &["icmp-template.pcap", "icmp-data.pcap"]),
    ("v9-nat", &["nat.pcap"]),
    (
        "ipfixprobe",
        &["ipfixprobe-templates.pcap", "ipfixprobe-data.pcap"],
    ),
    ("ipfix-mpls", &["mpls.pcap"]),
    ("ipfix-physicalinterfaces", &["physicalinterfaces.pcap"]),
    (
        "ipfix-datalink",
        &["datalink-template.pcap", "datalink-data.pcap"],
    ),
    (
        "ipfix-eompls-cw",
        &[
            "ethernet-over-mpls-with-control-word-template.pcap",
            "ethernet-over-mpls-with-control-word-data.pcap",
        ],
    ),
    (
        "ipfix-srv6",
        &["ipfix-srv6-template.pcap", "ipfix-srv6-data.pcap"],
    ),
    (
        "ipfix-juniper-cpid",
        &["juniper-cpid-template.pcap", "juniper-cpid-data.pcap"],
    ),
];

/// Single-capture groups of `netflow/pmacct`.
const PMACCT: &[&str] = &[
    "100-IPFIXv10-CISCO_traffic-00",
    "101-NFv9-CISCO-cust_primitives_traffic-00",
    "102-NFv9-CISCO-f2rd-pretag-sampling-reload_traffic-00",
    "104-IPFIXv10-IPv6-CISCO-sampling_option_traffic-00",
    "106-IPFIXv10-HUAWEI-vrf_name_traffic-00",
    "111-IPFIXv10-NFv9-IPv6-IPv4-mix_sources_traffic-00",
    "111-IPFIXv10-NFv9-IPv6-IPv4-mix_sources_traffic-01",
    "112-IPFIXv10-CISCO-options-map-reassignment_traffic-00",
];

/// softflowd exports captured on loopback, with nfdump's decode next to each.
const SOFTFLOWD: &[&str] = &[
    "softflowd-v5_var-services-std-ports",
    "softflowd-v9_wikipedia",
    "softflowd-ipfix-milli_community-id-ipv6",
    "softflowd-ipfix-uptime_community-id-ipv6",
    "softflowd-v9_ja4-tls-quic-ipv6",
];

/// Replay groups of `netflow/logstash-codec-netflow`: raw datagram files in replay order.
const LOGSTASH: &[(&str, &[&str])] = &[
    ("ipfix", &["ipfix.dat"]),
    (
        "ipfix_test_barracuda",
        &[
            "ipfix_test_barracuda_tpl.dat",
            "ipfix_test_barracuda_data256.dat",
        ],
    ),
    (
        "ipfix_test_barracuda_extended_uniflow",
        &[
            "ipfix_test_barracuda_extended_uniflow_tpl256.dat",
            "ipfix_test_barracuda_extended_uniflow_data256.dat",
        ],
    ),
    (
        "ipfix_test_ixia",
        &[
            "ipfix_test_ixia_tpldata256.dat",
            "ipfix_test_ixia_tpldata271.dat",
        ],
    ),
    (
        "ipfix_test_juniper_mx240_junos151r6s3",
        &[
            "ipfix_test_juniper_mx240_junos151r6s3_opttpl512.dat",
            "ipfix_test_juniper_mx240_junos151r6s3_data512.dat",
        ],
    ),
    (
        "ipfix_test_mikrotik",
        &[
            "ipfix_test_mikrotik_tpl.dat",
            "ipfix_test_mikrotik_data258.dat",
            "ipfix_test_mikrotik_data259.dat",
        ],
    ),
    (
        "ipfix_test_netscaler",
        &[
            "ipfix_test_netscaler_tpl.dat",
            "ipfix_test_netscaler_data.dat",
        ],
    ),
    (
        "ipfix_test_nokia_bras",
        &[
            "ipfix_test_nokia_bras_tpl.dat",
            "ipfix_test_nokia_bras_data256.dat",
        ],
    ),
    (
        "ipfix_test_openbsd_pflow",
        &[
            "ipfix_test_openbsd_pflow_tpl.dat",
            "ipfix_test_openbsd_pflow_data.dat",
        ],
    ),
    (
        "ipfix_test_procera",
        &[
            "ipfix_test_procera_tpl52935.dat",
            "ipfix_test_procera_data52935.dat",
        ],
    ),
    (
        "ipfix_test_viptela",
        &[
            "ipfix_test_viptela_tpl257.dat",
            "ipfix_test_viptela_data257.dat",
        ],
    ),
    (
        "ipfix_test_vmware_vds",
        &[
            "ipfix_test_vmware_vds_tpl.dat",
            "ipfix_test_vmware_vds_data264.dat",
            "ipfix_test_vmware_vds_data266.dat",
            "ipfix_test_vmware_vds_data266_267.dat",
        ],
    ),
    (
        "ipfix_test_yaf",
        &[
            "ipfix_test_yaf_tpls_option_tpl.dat",
            "ipfix_test_yaf_tpl45841.dat",
            "ipfix_test_yaf_data45841.dat",
            "ipfix_test_yaf_data45873.dat",
            "ipfix_test_yaf_data53248.dat",
        ],
    ),
    ("netflow5", &["netflow5.dat"]),
    ("netflow5_test_invalid01", &["netflow5_test_invalid01.dat"]),
    ("netflow5_test_invalid02", &["netflow5_test_invalid02.dat"]),
    (
        "netflow5_test_juniper_mx80",
        &["netflow5_test_juniper_mx80.dat"],
    ),
    ("netflow5_test_microtik", &["netflow5_test_microtik.dat"]),
    (
        "netflow9_cisco_asr1001x",
        &["netflow9_cisco_asr1001x_tpl259.dat"],
    ),
    (
        "netflow9_test_0length_fields",
        &["netflow9_test_0length_fields_tpl_data.dat"],
    ),
    (
        "netflow9_test_cisco_1941K9",
        &["netflow9_test_cisco_1941K9.dat"],
    ),
    (
        "netflow9_test_cisco_aci",
        &[
            "netflow9_test_cisco_aci_tpl256-258.dat",
            "netflow9_test_cisco_aci_data256.dat",
        ],
    ),
    (
        "netflow9_test_cisco_asa_1",
        &[
            "netflow9_test_cisco_asa_1_tpl.dat",
            "netflow9_test_cisco_asa_1_data.dat",
        ],
    ),
    (
        "netflow9_test_cisco_asa_2",
        &[
            "netflow9_test_cisco_asa_2_tpl_26x.dat",
            "netflow9_test_cisco_asa_2_tpl_27x.dat",
            "netflow9_test_cisco_asa_2_data.dat",
        ],
    ),
    (
        "netflow9_test_cisco_asr9k",
        &[
            "netflow9_test_cisco_asr9k_opttpl256.dat",
            "netflow9_test_cisco_asr9k_opttpl257.dat",
            "netflow9_test_cisco_asr9k_opttpl334.dat",
            "netflow9_test_cisco_asr9k_tpl260.dat",
            "netflow9_test_cisco_asr9k_tpl266.dat",
            "netflow9_test_cisco_asr9k_data256.dat",
            "netflow9_test_cisco_asr9k_data260.dat",
        ],
    ),
    (
        "netflow9_test_cisco_nbar",
        &[
            "netflow9_test_cisco_nbar_opttpl260.dat",
            "netflow9_test_cisco_nbar_tpl262.dat",
            "netflow9_test_cisco_nbar_data262.dat",
        ],
    ),
    (
        "netflow9_test_cisco_wlc_8510",
        &["netflow9_test_cisco_wlc_8510_tpl_262.dat"],
    ),
    (
        "netflow9_test_cisco_wlc",
        &[
            "netflow9_test_cisco_wlc_tpl.dat",
            "netflow9_test_cisco_wlc_data261.dat",
        ],
    ),
    (
        "netflow9_test_field_layer2segmentid",
        &[
            "netflow9_test_field_layer2segmentid_tpl.dat",
            "netflow9_test_field_layer2segmentid_data.dat",
        ],
    ),
    (
        "netflow9_test_fortigate_fortios_521",
        &[
            "netflow9_test_fortigate_fortios_521_tpl.dat",
            "netflow9_test_fortigate_fortios_521_data256.dat",
            "netflow9_test_fortigate_fortios_521_data257.dat",
        ],
    ),
    (
        "netflow9_test_fortigate_fortios_542_appid",
        &[
            "netflow9_test_fortigate_fortios_542_appid_tpl258-269.dat",
            "netflow9_test_fortigate_fortios_542_appid_data258_262.dat",
        ],
    ),
    (
        "netflow9_test_h3c",
        &[
            "netflow9_test_h3c_tpl3281.dat",
            "netflow9_test_h3c_data3281.dat",
        ],
    ),
    (
        "netflow9_test_h3c_netstream_varstring",
        &[
            "netflow9_test_h3c_netstream_varstring_tpl3281.dat",
            "netflow9_test_h3c_netstream_varstring_data3281.dat",
        ],
    ),
    (
        "netflow9_test_huawei_netstream",
        &[
            "netflow9_test_huawei_netstream_tpl.dat",
            "netflow9_test_huawei_netstream_data.dat",
        ],
    ),
    ("netflow9_test_invalid01", &["netflow9_test_invalid01.dat"]),
    (
        "netflow9_test_iptnetflow_reduced_size_encoding",
        &["netflow9_test_iptnetflow_reduced_size_encoding_tpldata260.dat"],
    ),
    (
        "netflow9_test_juniper_srx",
        &["netflow9_test_juniper_srx_tplopt.dat"],
    ),
    (
        "netflow9_test_macaddr",
        &[
            "netflow9_test_macaddr_tpl.dat",
            "netflow9_test_macaddr_data.dat",
        ],
    ),
    (
        "netflow9_test_nprobe",
        &[
            "netflow9_test_nprobe_tpl.dat",
            "netflow9_test_nprobe_data.dat",
        ],
    ),
    (
        "netflow9_test_nprobe_dpi",
        &["netflow9_test_nprobe_dpi.dat"],
    ),
    (
        "netflow9_test_paloalto_81",
        &[
            "netflow9_test_paloalto_81_tpl256-263.dat",
            "netflow9_test_paloalto_81_data257_1flowset_in_large_zerofilled_packet.dat",
        ],
    ),
    (
        "netflow9_test_paloalto_panos",
        &[
            "netflow9_test_paloalto_panos_tpl.dat",
            "netflow9_test_paloalto_panos_data.dat",
        ],
    ),
    (
        "netflow9_test_softflowd",
        &["netflow9_test_softflowd_tpl_data.dat"],
    ),
    (
        "netflow9_test_streamcore",
        &[
            "netflow9_test_streamcore_tpl_data256.dat",
            "netflow9_test_streamcore_tpl_data260.dat",
        ],
    ),
    (
        "netflow9_test_ubnt_edgerouter",
        &[
            "netflow9_test_ubnt_edgerouter_tpl.dat",
            "netflow9_test_ubnt_edgerouter_data1024.dat",
            "netflow9_test_ubnt_edgerouter_data1025.dat",
        ],
    ),
    (
        "netflow9_test_unknown",
        &["netflow9_test_unknown_tpl266_292_data.dat"],
    ),
    ("netflow9_test_valid01", &["netflow9_test_valid01.dat"]),
];

/// What cordon decoded from one group.
struct Run {
    stats: DecodeStats,
    flows: Vec<Flow>,
    anomalies: Vec<String>,
}

fn run_pcaps(corpus_dir: &Path, dir: &str, files: &[&str]) -> Run {
    let root = corpus_dir.join("netflow").join(dir);
    let mut c = Collector::new();
    let mut sink = VecSink::default();
    let mut stats = DecodeStats::default();
    for f in files {
        let bytes = std::fs::read(root.join(f)).unwrap_or_else(|e| panic!("{f}: {e}"));
        for d in udp_payloads(&bytes) {
            stats.add(&c.datagram(d.src, &d.payload, d.offset, &mut sink));
        }
    }
    finish(stats, sink)
}

fn run_dats(corpus_dir: &Path, files: &[&str]) -> Run {
    let root = corpus_dir.join("netflow/logstash-codec-netflow");
    let mut c = Collector::new();
    let mut sink = VecSink::default();
    let mut stats = DecodeStats::default();
    for f in files {
        let bytes = std::fs::read(root.join(f)).unwrap_or_else(|e| panic!("{f}: {e}"));
        let exporter = IpAddr::V4(Ipv4Addr::LOCALHOST);
        stats.add(&c.datagram(exporter, &bytes, 0, &mut sink));
    }
    finish(stats, sink)
}

fn finish(stats: DecodeStats, sink: VecSink) -> Run {
    let flows = sink
        .observations
        .into_iter()
        .filter_map(|o| match o {
            Observation::Flow(f) => Some(f),
            _ => None,
        })
        .collect();
    let anomalies = sink
        .anomalies
        .iter()
        .map(|a| format!("{}@{}: {}", a.kind.as_str(), a.offset, a.detail))
        .collect();
    Run {
        stats,
        flows,
        anomalies,
    }
}

fn key(corpus_dir: &Path, name: &str) -> NfKey {
    let p = corpus_dir
        .join("netflow/nfdump-decoded")
        .join(format!("{name}.nfdump.csv"));
    nfdump_csv(&std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display())))
}

/// How nfdump's byte total relates to cordon's `export_bytes` for one group.
#[derive(Clone, Copy)]
enum Bytes {
    /// nfdump reports the octet counters as exported: totals must be equal.
    Raw,
    /// nfdump multiplies by the sampling rate it learnt (v5 header, v9 options data): the sum
    /// of `bytes_out * sampling` over cordon's flows must equal nfdump's total.
    Scaled,
    /// nfdump 1.7.1 scales by sampler 1's rate but leaves the flows of the given bytes that
    /// belong to sampler 2 unscaled; cordon gives those flows sampler 2's rate (4000), as
    /// Akvorado's own test expects.
    ScaledExceptSampler2 { unscaled_bytes: u64, rate: u64 },
}

/// Groups where nfdump's total is not the raw octet sum (everything else is `Bytes::Raw`).
fn bytes_rule(group: &str) -> Bytes {
    match group {
        "akvorado-v9-options+data" | "logstash-netflow5_test_juniper_mx80" => Bytes::Scaled,
        "akvorado-v9-multisampling" => Bytes::ScaledExceptSampler2 {
            unscaled_bytes: 1348,
            rate: 4000,
        },
        _ => Bytes::Raw,
    }
}

fn check(group: &str, run: &Run, k: &NfKey) -> Result<(), String> {
    let st = &run.stats;
    if st.export_records != k.flows {
        return Err(format!(
            "records: cordon {} nfdump {}",
            st.export_records, k.flows
        ));
    }
    let scaled: u64 = run
        .flows
        .iter()
        .map(|f| f.bytes_out * f.sampling as u64)
        .sum();
    let (ours, what) = match bytes_rule(group) {
        Bytes::Raw => (st.export_bytes, "export_bytes"),
        Bytes::Scaled => (scaled, "sum of bytes_out * sampling"),
        Bytes::ScaledExceptSampler2 {
            unscaled_bytes,
            rate,
        } => (
            scaled - unscaled_bytes * (rate - 1),
            "scaled sum, sampler 2 flow unscaled",
        ),
    };
    if ours != k.bytes {
        return Err(format!("bytes: cordon {what} {ours}, nfdump {}", k.bytes));
    }
    // Every flow nfdump lists with addresses is among cordon's flows (as a multiset). nfdump
    // prints ICMP type/code in the port columns, so ICMP rows are matched on addresses only.
    let mut have: HashMap<(IpAddr, IpAddr, u16, u16), usize> = HashMap::new();
    let mut have_addrs: HashMap<(IpAddr, IpAddr), usize> = HashMap::new();
    for f in &run.flows {
        *have.entry((f.src, f.dst, f.sport, f.dport)).or_default() += 1;
        *have_addrs.entry((f.src, f.dst)).or_default() += 1;
    }
    for r in &k.rows {
        if r.sa.is_unspecified() && r.da.is_unspecified() {
            continue;
        }
        let icmp = r.pr.starts_with("ICMP");
        let n = if icmp {
            have_addrs.entry((r.sa, r.da)).or_default()
        } else {
            have.entry((r.sa, r.da, r.sp, r.dp)).or_default()
        };
        if *n == 0 {
            return Err(format!(
                "nfdump flow {} {}:{} -> {}:{} not decoded",
                r.pr, r.sa, r.sp, r.da, r.dp
            ));
        }
        *n -= 1;
    }
    Ok(())
}

fn report(results: Vec<(String, Result<(), String>)>) {
    let bad: Vec<_> = results.iter().filter(|(_, r)| r.is_err()).collect();
    for (g, r) in &bad {
        eprintln!("{g}: {}", r.as_ref().unwrap_err());
    }
    assert!(
        bad.is_empty(),
        "{} of {} groups differ from nfdump",
        bad.len(),
        results.len()
    );
}

#[test]
fn akvorado_groups_match_nfdump() {
    let Some(c) = corpus() else { return };
    let mut out = Vec::new();
    for (g, files) in AKVORADO {
        let name = format!("akvorado-{g}");
        out.push((
            name.clone(),
            check(&name, &run_pcaps(&c, "akvorado", files), &key(&c, &name)),
        ));
    }
    assert_eq!(out.len(), 15);
    report(out);
}

#[test]
fn pmacct_captures_match_nfdump() {
    let Some(c) = corpus() else { return };
    let mut out = Vec::new();
    for p in PMACCT {
        let name = format!("pmacct-{p}");
        let run = run_pcaps(&c, "pmacct", &[&format!("{p}.pcap")]);
        out.push((name.clone(), check(&name, &run, &key(&c, &name))));
    }
    assert_eq!(out.len(), 8);
    report(out);
}

#[test]
fn softflowd_exports_match_nfdump() {
    let Some(c) = corpus() else { return };
    let mut out = Vec::new();
    for g in SOFTFLOWD {
        let csv = c.join(format!("netflow/softflowd-generated/{g}.nfdump.csv"));
        let k = nfdump_csv(&std::fs::read_to_string(csv).unwrap());
        let run = run_pcaps(&c, "softflowd-generated", &[&format!("{g}.pcap")]);
        assert!(run.anomalies.is_empty(), "{g}: {:?}", run.anomalies);
        out.push((g.to_string(), check(g, &run, &k)));
    }
    report(out);
}

#[test]
fn logstash_datagrams_match_nfdump() {
    let Some(c) = corpus() else { return };
    let mut out = Vec::new();
    for (g, files) in LOGSTASH {
        let name = format!("logstash-{g}");
        out.push((
            name.clone(),
            check(&name, &run_dats(&c, files), &key(&c, &name)),
        ));
    }
    assert_eq!(out.len(), 47);
    report(out);
}

/// Differential oracle: a group's files concatenated into one raw file and read by
/// `decode_file` (which frames datagrams from their headers) decode exactly like the files
/// fed one by one to a `Collector`, except where a file itself holds several IPFIX messages
/// back to back (`ipfix.dat`: 3 messages): as one UDP datagram nfdump and `Collector::datagram`
/// read only the first message (6 flows), `decode_file` reads all three (12 flows).
#[test]
fn decode_file_frames_concatenated_datagrams_like_separate_ones() {
    let Some(c) = corpus() else { return };
    let root = c.join("netflow/logstash-codec-netflow");
    for (g, files) in LOGSTASH {
        let mut cat = Vec::new();
        for f in *files {
            cat.extend(std::fs::read(root.join(f)).unwrap());
        }
        let mut sink = VecSink::default();
        let st = netflow::decode_file(&cat, &mut sink);
        let one_by_one = run_dats(&c, files);
        let want = if *g == "ipfix" {
            12
        } else {
            one_by_one.stats.export_records
        };
        assert_eq!(st.export_records, want, "{g}");
        if *g != "ipfix" {
            assert_eq!(st.export_bytes, one_by_one.stats.export_bytes, "{g}");
        }
    }
}

/// Spot values checked by hand against the nfdump CSVs: fields, times, MACs, sampling.
#[test]
fn field_mapping_spot_checks() {
    let Some(c) = corpus() else { return };
    // NetFlow v5 (akvorado nfv5.pcap), first record as nfdump prints it.
    let run = run_pcaps(&c, "akvorado", &["nfv5.pcap"]);
    let f = &run.flows[0];
    assert_eq!(
        (f.src, f.dst),
        (
            "161.202.212.212".parse().unwrap(),
            "202.152.70.24".parse().unwrap()
        )
    );
    assert_eq!(
        (f.sport, f.dport, f.proto.0, f.bytes_out, f.packets_out),
        (30104, 11963, 6, 133, 1)
    );
    assert_eq!((f.bytes_in, f.packets_in, f.sampling), (0, 0, 1));
    // 2023-04-04 16:44:24 UTC
    assert_eq!(f.first / 1_000_000, 1_680_626_664);

    // v9 options: the sampling rate announced by options data reaches the flows.
    let (_, files) = AKVORADO
        .iter()
        .find(|(g, _)| *g == "v9-options+data")
        .unwrap();
    let run = run_pcaps(&c, "akvorado", files);
    assert!(
        run.flows.iter().all(|f| f.sampling == 30_000),
        "{:?}",
        run.flows[0]
    );

    // Several samplers: the record's sampler id picks the rate.
    let (_, files) = AKVORADO
        .iter()
        .find(|(g, _)| *g == "v9-multisampling")
        .unwrap();
    let run = run_pcaps(&c, "akvorado", files);
    let rates: Vec<u32> = run.flows.iter().map(|f| f.sampling).collect();
    assert_eq!(rates[0], 4000);
    assert!(rates[1..].iter().all(|&r| r == 2000));

    // v5 header sampling interval.
    let run = run_dats(&c, &["netflow5_test_juniper_mx80.dat"]);
    assert!(run.flows.iter().all(|f| f.sampling == 1000));

    // MAC addresses (v9 fields 56/80/57/81).
    let run = run_dats(
        &c,
        &[
            "netflow9_test_macaddr_tpl.dat",
            "netflow9_test_macaddr_data.dat",
        ],
    );
    assert!(run
        .flows
        .iter()
        .any(|f| f.src_mac.is_some() && f.dst_mac.is_some()));

    // IPFIX flowStart/EndMilliseconds (softflowd -A milli): times in 2023-08-23.
    let run = run_pcaps(
        &c,
        "softflowd-generated",
        &["softflowd-ipfix-milli_community-id-ipv6.pcap"],
    );
    for f in &run.flows {
        assert!(
            f.first >= 1_692_748_800_000_000 && f.first <= f.last,
            "{f:?}"
        );
        assert!(f.src.is_ipv6());
    }
    // softflowd's sysUpTime-relative IPFIX times resolve through systemInitTimeMilliseconds
    // to the same day (nfdump 1.7.1 gets the duration wrong here; see PEERS.md).
    let run = run_pcaps(
        &c,
        "softflowd-generated",
        &["softflowd-ipfix-uptime_community-id-ipv6.pcap"],
    );
    for f in &run.flows {
        assert!(
            f.first >= 1_692_748_800_000_000 && f.first <= f.last,
            "{f:?}"
        );
    }

    // Biflow (YAF, RFC 5103 reverse elements): reverse octets land in bytes_in.
    let files = LOGSTASH
        .iter()
        .find(|(g, _)| *g == "ipfix_test_yaf")
        .unwrap()
        .1;
    let run = run_dats(&c, files);
    assert!(run.flows.iter().any(|f| f.bytes_in > 0), "{:?}", run.flows);

    // IPFIX dataLinkFrameSection (IE 315): the sampled frame supplies the flow keys.
    let (_, files) = AKVORADO
        .iter()
        .find(|(g, _)| *g == "ipfix-datalink")
        .unwrap();
    let run = run_pcaps(&c, "akvorado", files);
    assert_eq!(run.flows.len(), 1);
    assert!(!run.flows[0].src.is_unspecified());
}

/// Templates are scoped by exporter: the same template id from another exporter address is
/// unknown, so its data is reported missing instead of being decoded with the wrong layout.
#[test]
fn templates_do_not_leak_between_exporters() {
    let Some(c) = corpus() else { return };
    let root = c.join("netflow/akvorado");
    let tpl = udp_payloads(&std::fs::read(root.join("template.pcap")).unwrap());
    let data = udp_payloads(&std::fs::read(root.join("data.pcap")).unwrap());
    let mut c = Collector::new();
    let mut sink = VecSink::default();
    c.datagram(tpl[0].src, &tpl[0].payload, 0, &mut sink);
    let other = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 99));
    let st = c.datagram(other, &data[0].payload, 1000, &mut sink);
    assert_eq!(st.export_records, 0);
    assert_eq!(sink.anomalies.len(), 1);
    assert_eq!(sink.anomalies[0].kind.as_str(), "missing");
    assert!(sink.anomalies[0].offset >= 1000);
    let st = c.datagram(data[0].src, &data[0].payload, 2000, &mut sink);
    assert_eq!(st.export_records, 4);
}
