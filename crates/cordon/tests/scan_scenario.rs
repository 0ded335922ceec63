//! End to end: the real `cordon` binary scans the project's example office (`examples/`,
//! see its README) from the capture, from the same traffic as Zeek logs, as a CSV flow table,
//! and as NetFlow v9 and IPFIX exports of the capture made by softflowd on loopback. Each
//! time the exposures (asset, company, relationship) and devices must be exactly the expected
//! ones: every expected one found, no benign asset flagged, the traps silent.
//!
//! The export tests need softflowd, nfcapd and nfdump (Debian: `apt-get install -y softflowd
//! nfdump`); without them they say "skipping: ..." on stderr and pass. All traffic stays on
//! 127.0.0.1. `CORDON_DATA_DIR` points at an empty folder so no imported table interferes.

use serde_json::Value;
mod common;

use std::collections::BTreeSet;
use std::net::UdpSocket;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// (asset, entity, group, relationship) expected from inputs that carry names.
const WITH_NAMES: &[(&str, &str, &str, &str)] = &[
    ("10.20.1.23", "alibaba-cloud", "alibaba", "hosted-on"),
    ("10.20.1.42", "alibaba-cloud", "alibaba", "operated-by"),
    ("10.20.5.17", "hikvision", "hikvision", "operated-by"),
    (
        "10.20.2.8",
        "china-telecom-corp",
        "china-telecom",
        "transit-via",
    ),
    (
        "fd00::2:8",
        "china-unicom-hk",
        "china-unicom",
        "transit-via",
    ),
];

/// Expected from addresses alone (flow tables and exports): the networks speak, names don't;
/// the camera's cloud is AWS, in no AS of concern.
const ADDRESSES_ONLY: &[(&str, &str, &str, &str)] = &[
    ("10.20.1.23", "taobao", "alibaba", "hosted-on"),
    ("10.20.1.42", "alibaba-cloud", "alibaba", "hosted-on"),
    (
        "10.20.2.8",
        "china-telecom-corp",
        "china-telecom",
        "transit-via",
    ),
    (
        "fd00::2:8",
        "china-unicom-hk",
        "china-unicom",
        "transit-via",
    ),
];

/// (MAC, group) of the devices of concern; the Honor phone (04:79:75:2b:9e:10) and the
/// randomised MAC (6a:3e:91:0c:55:12) must not be among them.
const DEVICES: &[(&str, &str)] = &[
    ("44:19:b6:3a:7c:01", "hikvision"),
    ("50:c7:bf:12:34:56", "tp-link"),
];

/// Assets whose traffic is benign or a trap: never an exposure.
const BENIGN: &[&str] = &[
    "10.20.3.33",
    "10.20.4.51",
    "10.20.4.52",
    "10.20.0.1",
    "10.20.0.2",
];

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples")
}

fn temp_dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("cordon-scenario-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

struct Scan {
    status: i32,
    records: Vec<Value>,
    stderr: String,
}

impl Scan {
    fn of(&self, ty: &str) -> Vec<&Value> {
        self.records.iter().filter(|r| r["type"] == ty).collect()
    }
    fn summary(&self) -> &Value {
        let s = self.of("summary");
        assert_eq!(s.len(), 1, "one summary");
        s[0]
    }
    fn exposure(&self, asset: &str, entity: &str) -> &Value {
        self.of("exposure")
            .into_iter()
            .find(|e| e["asset"] == asset && e["entity"] == entity)
            .unwrap_or_else(|| panic!("no exposure {asset} → {entity}"))
    }
}

fn scan(tag: &str, paths: &[&Path]) -> Scan {
    let data = temp_dir(&format!("{tag}-data"));
    let out = Command::new(env!("CARGO_BIN_EXE_cordon"))
        .env("CORDON_DATA_DIR", &data)
        .args(["scan", "--format", "jsonl"])
        .args(paths)
        .output()
        .expect("run cordon");
    let _ = std::fs::remove_dir_all(&data);
    let stdout = String::from_utf8(out.stdout).expect("utf-8 output");
    let records = stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON record per line"))
        .collect();
    Scan {
        status: out.status.code().unwrap_or(-1),
        records,
        stderr: String::from_utf8_lossy(&out.stderr).into(),
    }
}

/// Every expected exposure and device is there, and nothing else.
fn check(s: &Scan, exposures: &[(&str, &str, &str, &str)], devices: &[(&str, &str)]) {
    assert_eq!(s.status, 0, "stderr: {}", s.stderr);
    let got: BTreeSet<(String, String, String, String)> = s
        .of("exposure")
        .iter()
        .map(|e| {
            let f = |k: &str| e[k].as_str().unwrap_or_default().to_string();
            (f("asset"), f("entity"), f("group"), f("relationship"))
        })
        .collect();
    let want: BTreeSet<(String, String, String, String)> = exposures
        .iter()
        .map(|(a, e, g, r)| (a.to_string(), e.to_string(), g.to_string(), r.to_string()))
        .collect();
    let missing: Vec<_> = want.difference(&got).collect();
    let extra: Vec<_> = got.difference(&want).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "missing {missing:?}, unexpected {extra:?}"
    );
    for e in s.of("exposure") {
        assert!(
            !BENIGN.contains(&e["asset"].as_str().unwrap_or_default()),
            "benign asset flagged: {e}"
        );
        assert!(
            e["flows"].as_u64().unwrap_or(0) > 0
                && !e["designations"].as_array().unwrap().is_empty(),
            "{e}"
        );
        assert!(
            e["first_seen"]
                .as_str()
                .unwrap_or_default()
                .starts_with("2026-11-26T09:0"),
            "{e}"
        );
    }
    let got: BTreeSet<(String, String)> = s
        .of("device")
        .iter()
        .map(|d| {
            (
                d["mac"].as_str().unwrap_or_default().into(),
                d["group"].as_str().unwrap_or_default().into(),
            )
        })
        .collect();
    let want: BTreeSet<(String, String)> = devices
        .iter()
        .map(|(m, g)| (m.to_string(), g.to_string()))
        .collect();
    assert_eq!(got, want);
    assert_eq!(s.summary()["anomalies"], 0, "{}", s.summary());
}

/// What the names add: the CDN name, the model API service, the camera's evidence chain,
/// and the devices' DHCP identity.
fn check_names(s: &Scan) {
    let shop = s.exposure("10.20.1.23", "alibaba-cloud");
    assert!(
        shop["names"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n == "shop-example.com.w.alikunlun.com"),
        "{shop}"
    );
    assert_eq!(shop["remotes"].as_array().unwrap().len(), 2, "{shop}");
    let qwen = s.exposure("10.20.1.42", "alibaba-cloud");
    assert_eq!(
        qwen["services"],
        serde_json::json!(["ai-model-api"]),
        "{qwen}"
    );
    assert_eq!(
        qwen["names"],
        serde_json::json!(["dashscope-intl.aliyuncs.com"]),
        "{qwen}"
    );
    assert!(qwen["bytes_out"].as_u64().unwrap() > 4000, "{qwen}");
    let cam = s.exposure("10.20.5.17", "hikvision");
    let ev: Vec<(&str, &str)> = cam["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["kind"].as_str().unwrap(), e["value"].as_str().unwrap()))
        .collect();
    assert!(
        ev.iter()
            .any(|(k, v)| *k == "suffix" && v.starts_with("hik-connect.com")),
        "{ev:?}"
    );
    assert!(
        ev.iter()
            .any(|(k, v)| *k == "dns" && v.contains("elb.amazonaws.com")),
        "{ev:?}"
    );
    assert!(
        ev.iter()
            .any(|(k, v)| *k == "hosted-on" && v.contains("amazonaws.com")),
        "{ev:?}"
    );
    assert_eq!(cam["flows"], 2, "{cam}");
    let devices = s.of("device");
    let camera = devices.iter().find(|d| d["group"] == "hikvision").unwrap();
    assert_eq!(camera["ip"], "10.20.5.17");
    assert_eq!(camera["host_name"], "DS-2CD2143G2-IS");
    assert_eq!(camera["vendor_class"], "udhcp 1.20.2");
    let ap = devices.iter().find(|d| d["group"] == "tp-link").unwrap();
    assert_eq!(
        (ap["ip"].as_str(), ap["vendor_class"].as_str()),
        (Some("10.20.0.2"), Some("TP-LINK"))
    );
}

#[test]
fn capture() {
    let s = scan("pcap", &[&examples().join("office.pcap")]);
    check(&s, WITH_NAMES, DEVICES);
    check_names(&s);
    let sum = s.summary();
    assert_eq!(sum["inputs"][0]["format"], "pcap");
    assert_eq!(sum["records"], 265, "packets");
}

#[test]
fn zeek_logs() {
    let s = scan("zeek", &[&examples().join("zeek")]);
    check(&s, WITH_NAMES, DEVICES);
    check_names(&s);
    assert_eq!(s.summary()["inputs"].as_array().unwrap().len(), 4);
}

#[test]
fn capture_and_logs_agree_on_volumes() {
    let p = scan("agree-pcap", &[&examples().join("office.pcap")]);
    let z = scan("agree-zeek", &[&examples().join("zeek")]);
    let c = scan("agree-csv", &[&examples().join("flows.csv")]);
    let vol = |s: &Scan, entity: &str, asset: &str| {
        let e = s.exposure(asset, entity);
        (
            e["flows"].as_u64().unwrap(),
            e["bytes_out"].as_u64().unwrap(),
            e["bytes_in"].as_u64().unwrap(),
        )
    };
    for (asset, entity) in [
        ("10.20.1.42", "alibaba-cloud"),
        ("10.20.2.8", "china-telecom-corp"),
        ("fd00::2:8", "china-unicom-hk"),
    ] {
        assert_eq!(
            vol(&p, entity, asset),
            vol(&z, entity, asset),
            "{asset} {entity}: pcap vs zeek"
        );
        assert_eq!(
            vol(&p, entity, asset),
            vol(&c, entity, asset),
            "{asset} {entity}: pcap vs csv"
        );
    }
}

#[test]
fn flow_table() {
    let s = scan("csv", &[&examples().join("flows.csv")]);
    check(&s, ADDRESSES_ONLY, &[]);
}

// ---------------------------------------------------------------------------------------
// NetFlow v9 and IPFIX exports of office.pcap, made by softflowd on loopback

/// nfdump's totals (flows, bytes) from the `Summary` trailer of `nfdump -o csv`.
fn nfdump_totals(csv: &str) -> (u64, u64) {
    let mut lines = csv.lines().skip_while(|l| *l != "Summary").skip(2);
    let totals: Vec<u64> = lines
        .next()
        .unwrap_or_else(|| panic!("no nfdump summary in:\n{csv}"))
        .split(',')
        .map(|x| x.trim().parse().expect("a total"))
        .collect();
    (totals[0], totals[1])
}

/// A classic pcap (raw IPv4 link type) of the export datagrams as sent to `port` on
/// 127.0.0.1, one UDP packet each, with a correct IPv4 header checksum.
fn export_pcap(datagrams: &[Vec<u8>], port: u16) -> Vec<u8> {
    let mut p = Vec::new();
    p.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
    p.extend_from_slice(&[2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    p.extend_from_slice(&65_535u32.to_le_bytes());
    p.extend_from_slice(&101u32.to_le_bytes()); // raw IP
    for (i, d) in datagrams.iter().enumerate() {
        let mut ip = vec![
            0x45, 0, 0, 0, 0, 0, 0x40, 0, 64, 17, 0, 0, 127, 0, 0, 1, 127, 0, 0, 1,
        ];
        ip[2..4].copy_from_slice(&((28 + d.len()) as u16).to_be_bytes());
        ip[4..6].copy_from_slice(&(i as u16).to_be_bytes());
        let mut sum: u32 = ip
            .chunks(2)
            .map(|c| u32::from(u16::from_be_bytes([c[0], c[1]])))
            .sum();
        while sum > 0xffff {
            sum = (sum & 0xffff) + (sum >> 16);
        }
        ip[10..12].copy_from_slice(&(!(sum as u16)).to_be_bytes());
        ip.extend_from_slice(&40_000u16.to_be_bytes());
        ip.extend_from_slice(&port.to_be_bytes());
        ip.extend_from_slice(&((8 + d.len()) as u16).to_be_bytes());
        ip.extend_from_slice(&[0, 0]); // no UDP checksum (allowed over IPv4)
        ip.extend_from_slice(d);
        p.extend_from_slice(&(1_795_683_700 + i as u32).to_le_bytes());
        p.extend_from_slice(&0u32.to_le_bytes());
        p.extend_from_slice(&(ip.len() as u32).to_le_bytes());
        p.extend_from_slice(&(ip.len() as u32).to_le_bytes());
        p.extend_from_slice(&ip);
    }
    p
}

/// softflowd reads office.pcap and exports to a socket this test binds on 127.0.0.1; each
/// datagram is kept and forwarded to nfcapd on 127.0.0.1. Returns the datagrams and
/// nfdump's (flows, bytes).
fn softflowd_export(version: &str) -> (Vec<Vec<u8>>, (u64, u64)) {
    let work = temp_dir(&format!("export-{version}"));
    let store = work.join("nfcapd");
    std::fs::create_dir_all(&store).unwrap();
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let port = sock.local_addr().unwrap().port();
    let nf_port = loop {
        let p = common::free_udp_port();
        if p != port {
            break p;
        }
    };
    let mut nfcapd = Command::new("nfcapd")
        .args(["-b", "127.0.0.1", "-p", &nf_port.to_string(), "-w"])
        .arg(&store)
        .args(["-I", "cordon"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start nfcapd");
    std::thread::sleep(Duration::from_millis(800)); // let nfcapd bind
    let mut softflowd = Command::new("softflowd")
        .arg("-r")
        .arg(examples().join("office.pcap"))
        .args([
            "-n",
            &format!("127.0.0.1:{port}"),
            "-v",
            version,
            "-a",
            "-6",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start softflowd");
    let mut datagrams = Vec::new();
    let mut buf = vec![0u8; 65_536];
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut exited = false;
    while Instant::now() < deadline {
        match sock.recv_from(&mut buf) {
            Ok((n, from)) => {
                assert!(from.ip().is_loopback());
                datagrams.push(buf[..n].to_vec());
                sock.send_to(&buf[..n], ("127.0.0.1", nf_port)).unwrap();
            }
            Err(_) if exited => break,
            Err(_) => exited = softflowd.try_wait().unwrap().is_some(),
        }
    }
    let _ = softflowd.kill();
    let _ = softflowd.wait();
    std::thread::sleep(Duration::from_millis(300));
    // SIGTERM makes nfcapd close and rename its file.
    let _ = Command::new("kill")
        .args(["-TERM", &nfcapd.id().to_string()])
        .status();
    let _ = nfcapd.wait();
    let out = Command::new("nfdump")
        .env("TZ", "UTC")
        .arg("-R")
        .arg(&store)
        .args(["-o", "csv"])
        .output()
        .expect("nfdump");
    let _ = std::fs::remove_dir_all(&work);
    (
        datagrams,
        nfdump_totals(&String::from_utf8_lossy(&out.stdout)),
    )
}

fn exports(version: &str, port: u16) {
    for tool in ["softflowd", "nfcapd", "nfdump"] {
        if !common::installed(tool) {
            common::skip(&format!(
                "skipping: {tool} not installed (apt-get install -y softflowd nfdump)"
            ));
            return;
        }
    }
    let (datagrams, (nf_flows, nf_bytes)) = softflowd_export(version);
    assert!(!datagrams.is_empty(), "softflowd sent nothing");
    assert!(nf_flows > 40, "nfdump saw {nf_flows} flows");
    let dir = temp_dir(&format!("files-{version}"));
    // As a raw datagram file (back to back) and as a capture of the export traffic.
    let raw = dir.join(format!("office-v{version}.dat"));
    std::fs::write(&raw, datagrams.concat()).unwrap();
    let cap = dir.join(format!("office-v{version}-export.pcap"));
    std::fs::write(&cap, export_pcap(&datagrams, port)).unwrap();
    for (path, format) in [(&raw, "netflow-datagrams"), (&cap, "pcap (flow export)")] {
        let s = scan(&format!("v{version}"), &[path]);
        check(&s, ADDRESSES_ONLY, &[]);
        let sum = s.summary();
        assert_eq!(sum["inputs"][0]["format"], format, "{sum}");
        assert_eq!(
            (sum["records"].as_u64(), sum["bytes"].as_u64()),
            (Some(nf_flows), Some(nf_bytes)),
            "{format}: cordon vs nfdump"
        );
        // Exports are unidirectional: each direction is its own flow record.
        let telecom = s.exposure("10.20.2.8", "china-telecom-corp");
        assert_eq!(telecom["flows"], 2, "{telecom}");
        assert!(
            telecom["bytes_out"].as_u64() > Some(0) && telecom["bytes_in"].as_u64() > Some(0),
            "{telecom}"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn netflow_v9_export() {
    exports("9", 2055);
}

#[test]
fn ipfix_export() {
    exports("10", 4739);
}

// ---------------------------------------------------------------------------------------
// Bad input

/// Byte offset of the `n`th packet record of a classic little-endian pcap.
fn record_offset(pcap: &[u8], n: usize) -> usize {
    let mut pos = 24;
    for _ in 0..n {
        let caplen = u32::from_le_bytes(pcap[pos + 8..pos + 12].try_into().unwrap()) as usize;
        pos += 16 + caplen;
    }
    pos
}

#[test]
fn bad_files_are_reported_and_the_good_one_scanned() {
    let dir = temp_dir("bad");
    let mut pcap = std::fs::read(examples().join("office.pcap")).unwrap();
    // Record 40 claims more bytes than libpcap's largest snap length.
    let at = record_offset(&pcap, 40);
    pcap[at + 8..at + 12].copy_from_slice(&0x7fff_fff0u32.to_le_bytes());
    std::fs::write(dir.join("corrupt.pcap"), &pcap).unwrap();
    std::fs::write(dir.join("notes.txt"), "meeting at ten, bring the badge\n").unwrap();
    std::fs::copy(examples().join("flows.csv"), dir.join("flows.csv")).unwrap();

    let s = scan("bad", &[&dir]);
    assert_eq!(s.status, 0, "per-file problems are not fatal: {}", s.stderr);
    let sum = s.summary();
    let inputs = sum["inputs"].as_array().unwrap();
    let input = |name: &str| {
        inputs
            .iter()
            .find(|i| i["path"].as_str().unwrap().ends_with(name))
            .unwrap_or_else(|| panic!("{name} not in {sum}"))
    };
    let corrupt = dir.join("corrupt.pcap").display().to_string();
    assert!(
        input("corrupt.pcap")["anomalies"].as_u64().unwrap() >= 1,
        "{sum}"
    );
    assert!(
        s.of("anomaly")
            .iter()
            .any(|a| a["path"] == corrupt.as_str() && a["offset"] == at as u64),
        "no anomaly at {corrupt}:{at}: {:?}",
        s.of("anomaly")
    );
    let notes = input("notes.txt");
    assert!(
        notes["error"]
            .as_str()
            .unwrap_or_default()
            .contains("unknown format"),
        "{notes}"
    );
    assert!(
        s.stderr.contains("notes.txt") && s.stderr.contains("unknown format"),
        "{}",
        s.stderr
    );
    assert_eq!(input("flows.csv")["records"], 30);
    assert!(input("flows.csv")["error"].is_null());
    // The good file (and the packets before the corrupt record) still count.
    s.exposure("10.20.1.42", "alibaba-cloud");
    s.exposure("10.20.2.8", "china-telecom-corp");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn nothing_readable_exits_2() {
    let dir = temp_dir("unreadable");
    std::fs::write(dir.join("notes.txt"), "not telemetry\n").unwrap();
    let s = scan(
        "unreadable",
        &[&dir.join("notes.txt"), &dir.join("missing.pcap")],
    );
    assert_eq!(s.status, 2, "{}", s.stderr);
    assert!(
        s.stderr.contains("missing.pcap") && s.stderr.contains("notes.txt"),
        "{}",
        s.stderr
    );
    assert!(s.stderr.contains("no input could be read"), "{}", s.stderr);
    let _ = std::fs::remove_dir_all(&dir);
}
