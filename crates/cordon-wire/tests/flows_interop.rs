//! Live interop with real peers on loopback: softflowd 1.1.0 turns a corpus pcap into a
//! NetFlow v9 / IPFIX export sent to a UDP socket this test binds on 127.0.0.1; cordon
//! decodes each datagram, the test forwards the same datagrams to nfcapd (nfdump 1.7.1) on
//! 127.0.0.1, and cordon's record and octet totals must equal nfdump's summary.
//!
//! Loopback only. When softflowd, nfcapd or nfdump is not installed the test prints
//! "skipping: ..." and returns (Debian: `apt-get install -y softflowd nfdump`).

mod common;
mod flows_support;

use common::corpus;
use cordon_wire::netflow::Collector;
use cordon_wire::obs::{DecodeStats, VecSink};
use flows_support::nfdump_csv;
use std::net::UdpSocket;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn installed(tool: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn free_udp_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Runs softflowd on `pcap` (in `dir`) with `args`, returns cordon's stats and nfdump's.
fn export_and_compare(c: &Path, dir: &str, pcap: &str, args: &[&str]) -> (DecodeStats, u64, u64) {
    let work = std::env::temp_dir().join(format!(
        "cordon-interop-{}-{}",
        std::process::id(),
        free_udp_port()
    ));
    let store = work.join("nfcapd");
    std::fs::create_dir_all(&store).unwrap();

    // Our socket first, so the port picked for nfcapd cannot be the one we listen on.
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let port = sock.local_addr().unwrap().port();
    let nf_port = loop {
        let p = free_udp_port();
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
        .current_dir(c.join(dir))
        .args(["-r", pcap, "-n", &format!("127.0.0.1:{port}")])
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start softflowd");

    let mut c = Collector::new();
    let mut sink = VecSink::default();
    let mut stats = DecodeStats::default();
    let mut buf = vec![0u8; 65_536];
    let mut offset = 0u64;
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut exited = false;
    while Instant::now() < deadline {
        match sock.recv_from(&mut buf) {
            Ok((n, from)) => {
                assert!(from.ip().is_loopback());
                assert_ne!(from.port(), nf_port, "datagram from nfcapd's port");
                stats.add(&c.datagram(from.ip(), &buf[..n], offset, &mut sink));
                offset += n as u64;
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
    let key = nfdump_csv(&String::from_utf8_lossy(&out.stdout));
    let _ = std::fs::remove_dir_all(&work);
    assert!(sink.anomalies.is_empty(), "{:?}", sink.anomalies);
    (stats, key.flows, key.bytes)
}

#[test]
fn softflowd_exports_decode_like_nfdump() {
    for tool in ["softflowd", "nfcapd", "nfdump"] {
        if !installed(tool) {
            common::skip(&format!("skipping: {tool} not installed"));
            return;
        }
    }
    let Some(c) = corpus() else { return };
    let runs: &[(&str, &str, &[&str])] = &[
        ("pcap/zeek", "wikipedia.pcap", &["-v", "9", "-a", "-6"]),
        (
            "pcap/zeek",
            "var-services-std-ports.pcap",
            &["-v", "5", "-a"],
        ),
        (
            "pcap/suricata-verify",
            "community-id-ipv6.pcap",
            &["-v", "10", "-a", "-6", "-A", "milli"],
        ),
    ];
    for (dir, pcap, args) in runs {
        let (st, flows, bytes) = export_and_compare(&c, dir, pcap, args);
        println!(
            "{pcap} {args:?}: cordon {} records {} bytes, nfdump {flows} flows {bytes} bytes",
            st.export_records, st.export_bytes
        );
        assert!(st.export_records > 0, "{pcap}: nothing exported");
        assert_eq!(
            (st.export_records, st.export_bytes),
            (flows, bytes),
            "{pcap} {args:?}"
        );
    }
}
