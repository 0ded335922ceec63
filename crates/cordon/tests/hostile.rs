//! Hostile input at the command line: what a user, or anyone who can drop a file into a
//! scanned folder, can do to a run. Each case is built here from a reproducer of
//! `reliability.md` (scaled down); none may end the run with a panic, a signal or a hang,
//! and a `--fail-on` gate must never pass on data cordon could not read.

mod common;

use common::repo;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir()
        .join(format!("cordon-hostile-{}", std::process::id()))
        .join(name);
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Runs cordon through `sh -c` (for `ulimit`) with a deadline: a hang fails the test
/// instead of stalling the suite. Output is drained while it runs, so a large one cannot
/// block the child on a full pipe.
fn run_sh(script: &str, limit: Duration) -> Output {
    let child = Command::new("sh")
        .arg("-c")
        .arg(script)
        .env("CORDON_BIN", env!("CARGO_BIN_EXE_cordon"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(limit) {
        Ok(out) => out.unwrap(),
        Err(_) => {
            let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
            panic!("`{script}` still running after {limit:?}");
        }
    }
}

fn cordon(args: &[&str]) -> Output {
    let quoted: Vec<String> = args.iter().map(|a| format!("'{a}'")).collect();
    run_sh(
        &format!("exec \"$CORDON_BIN\" {}", quoted.join(" ")),
        Duration::from_secs(60),
    )
}

fn code(o: &Output) -> i32 {
    o.status
        .code()
        .unwrap_or_else(|| panic!("killed by a signal: {o:?}"))
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn conn_log() -> String {
    std::fs::read_to_string(repo().join("examples/zeek/conn.log")).unwrap()
}

const CONN_HEADER: &str = "#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n#path\tconn\n#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\tservice\tduration\torig_bytes\tresp_bytes\tconn_state\tlocal_orig\tlocal_resp\tmissed_bytes\thistory\torig_pkts\torig_ip_bytes\tresp_pkts\tresp_ip_bytes\ttunnel_parents\n#types\ttime\tstring\taddr\tport\taddr\tport\tenum\tstring\tinterval\tcount\tcount\tstring\tbool\tbool\tcount\tstring\tcount\tcount\tcount\tcount\tset[string]\n";

/// One flow from 10.20.1.7 to Alibaba Cloud, `n` times.
fn alibaba_lines(n: usize) -> String {
    (0..n)
        .map(|i| format!("{}.400000\tC{i:017}\t10.20.1.7\t51514\t47.88.1.2\t443\ttcp\tssl\t0.5\t600\t900\tSF\tT\tF\t0\tShADadFf\t5\t800\t5\t1100\t-\n", 1_795_683_600 + i))
        .collect()
}

fn benign_line() -> &'static str {
    "1795683600.400000\tCbenign00000000000\t10.20.1.8\t51514\t192.0.2.1\t443\ttcp\tssl\t0.5\t600\t900\tSF\tT\tF\t0\tShADadFf\t5\t800\t5\t1100\t-\n"
}

fn jsonl(o: &Output) -> Vec<serde_json::Value> {
    common::json_lines(&String::from_utf8_lossy(&o.stdout))
}

fn of_type<'a>(recs: &'a [serde_json::Value], t: &str) -> Vec<&'a serde_json::Value> {
    recs.iter().filter(|r| r["type"] == t).collect()
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(data).unwrap();
    gz.finish().unwrap()
}

/// reliability.md #1: every input used to be opened before any was decoded, so a folder
/// with more files than the descriptor limit lost the rest, and the gate passed. 1,100
/// benign logs sort before the one that matters, under a limit of 256 descriptors.
#[test]
fn more_files_than_descriptors_are_all_read_and_the_gate_holds() {
    let d = tmp("many");
    for i in 0..1100 {
        std::fs::write(
            d.join(format!("a-{i:04}.log")),
            format!("{CONN_HEADER}{}", benign_line()),
        )
        .unwrap();
    }
    std::fs::write(
        d.join("z-real-conn.log"),
        format!("{CONN_HEADER}{}", alibaba_lines(1)),
    )
    .unwrap();
    let out = run_sh(
        &format!(
            "ulimit -n 256 && exec \"$CORDON_BIN\" scan '{}' --fail-on medium --format jsonl",
            d.display()
        ),
        Duration::from_secs(120),
    );
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let recs = jsonl(&out);
    let summary = of_type(&recs, "summary");
    let inputs = summary[0]["inputs"].as_array().unwrap();
    assert_eq!(inputs.len(), 1101);
    assert!(inputs.iter().all(|i| i["error"].is_null()), "{inputs:?}");
    assert_eq!(of_type(&recs, "exposure").len(), 1);
}

/// A gate never passes on data cordon could not read: a damaged input fails it with exit
/// 2, and the records before the damage still count.
#[test]
fn a_damaged_input_fails_the_gate_and_keeps_its_records() {
    let d = tmp("damaged");
    let text = format!("{CONN_HEADER}{}", alibaba_lines(20_000));
    let gz = gzip(text.as_bytes());
    // The stream cut at nine tenths: the end of the data and the trailer are missing.
    std::fs::write(d.join("cut.log.gz"), &gz[..gz.len() * 9 / 10]).unwrap();
    let path = d.join("cut.log.gz");
    let p = path.to_str().unwrap();
    let open = cordon(&["scan", p, "--format", "jsonl"]);
    assert_eq!(code(&open), 0, "{}", stderr(&open));
    let recs = jsonl(&open);
    let input = &of_type(&recs, "summary")[0]["inputs"][0];
    let records = input["records"].as_u64().unwrap();
    assert!(records > 10_000 && records < 20_000, "{input}");
    assert!(
        input["error"]
            .as_str()
            .unwrap()
            .contains("damaged at decompressed offset"),
        "{input}"
    );
    let anomalies = of_type(&recs, "anomaly");
    assert!(
        anomalies.iter().any(
            |a| a["kind"] == "truncated" && a["detail"].as_str().unwrap().contains("were kept")
        ),
        "{anomalies:?}"
    );
    assert_eq!(of_type(&recs, "exposure").len(), 1);
    // The same input with a gate: exit 2 and a message, not a pass.
    let gated = cordon(&["scan", p, "--fail-on", "critical"]);
    assert_eq!(code(&gated), 2, "{}", stderr(&gated));
    assert!(stderr(&gated).contains("could not be read in full"));
    // Zero padding after the last member is what `gzip -d` accepts: no damage.
    std::fs::write(&path, [&gz[..], &[0u8; 512][..]].concat()).unwrap();
    let padded = cordon(&["scan", p, "--format", "jsonl", "--fail-on", "critical"]);
    let recs = jsonl(&padded);
    let input = &of_type(&recs, "summary")[0]["inputs"][0];
    assert_eq!(input["records"], 20_000, "{input}");
    assert!(input["error"].is_null(), "{input}");
}

/// reliability.md #3: a link back to the folder counted every file 33 times; two sent the
/// walk through 2^33 paths until it was killed.
#[test]
fn symlink_loops_scan_each_file_once() {
    let d = tmp("loop");
    std::fs::write(d.join("conn.log"), conn_log()).unwrap();
    std::os::unix::fs::symlink(".", d.join("a")).unwrap();
    std::os::unix::fs::symlink(".", d.join("b")).unwrap();
    let looped = cordon(&["scan", d.to_str().unwrap(), "--format", "jsonl"]);
    assert_eq!(code(&looped), 0, "{}", stderr(&looped));
    let alone = cordon(&[
        "scan",
        d.join("conn.log").to_str().unwrap(),
        "--format",
        "jsonl",
    ]);
    let flows = |o: &Output| {
        let r = jsonl(o);
        (
            of_type(&r, "summary")[0]["inputs"]
                .as_array()
                .unwrap()
                .len(),
            of_type(&r, "summary")[0]["flows"].clone(),
        )
    };
    assert_eq!(flows(&looped), flows(&alone));
    assert_eq!(flows(&looped).0, 1);
}

/// reliability.md #14: a FIFO given as inventory, policy or waivers blocked forever.
#[test]
fn fifos_as_configuration_are_refused_at_once() {
    let d = tmp("fifo");
    let fifo = d.join("pipe.toml");
    let made = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(made.success());
    let conn = repo().join("examples/zeek/conn.log");
    for flag in ["--assets", "--policy", "--waivers"] {
        let out = cordon(&["scan", conn.to_str().unwrap(), flag, fifo.to_str().unwrap()]);
        assert_eq!(code(&out), 2, "{flag}: {}", stderr(&out));
        assert!(
            stderr(&out).contains("not a regular file"),
            "{flag}: {}",
            stderr(&out)
        );
    }
    // A FIFO given as an indicator file: refused in the indicator report, the scan goes on.
    let out = cordon(&[
        "scan",
        conn.to_str().unwrap(),
        "--indicators",
        fifo.to_str().unwrap(),
        "--format",
        "jsonl",
    ]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let recs = jsonl(&out);
    let ind = &of_type(&recs, "summary")[0]["indicators"]["files"][0];
    assert_eq!(ind["error"], "not a regular file (a fifo)", "{ind}");
    // A FIFO among the inputs is skipped with a message; the rest is scanned.
    let inputs = tmp("fifo-input");
    Command::new("mkfifo")
        .arg(inputs.join("pipe.log"))
        .status()
        .unwrap();
    std::fs::write(inputs.join("conn.log"), conn_log()).unwrap();
    let out = cordon(&["scan", inputs.to_str().unwrap(), "--format", "jsonl"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(!of_type(&jsonl(&out), "exposure").is_empty());
}

/// reliability.md #7: names from telemetry (a DHCP host name and vendor class any device
/// on the LAN chooses) reached the terminal raw: escape sequences that clear the screen,
/// retitle the window or plant a link, and bidi overrides. They are shown escaped.
#[test]
fn hostile_names_never_reach_the_terminal_raw() {
    let d = tmp("names");
    let dhcp = std::fs::read_to_string(repo().join("examples/zeek/dhcp.log")).unwrap();
    let evil = "cam\x1b[2J\x1b]0;pwned\x07\x1b]8;;https://evil.example/\x07\u{202e}gpj";
    let dhcp = dhcp
        .replace("DS-2CD2143G2-IS", evil)
        .replace("udhcp 1.20.2", "\x1b[5mblink\u{9b}31m");
    std::fs::write(d.join("dhcp.log"), dhcp).unwrap();
    let out = cordon(&["scan", d.to_str().unwrap()]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("host cam\\u{1b}[2J\\u{1b}]0;pwned\\u{7}"),
        "{text}"
    );
    assert!(text.contains("\\u{202e}gpj"), "{text}");
    assert!(text.contains("class \\u{1b}[5mblink\\u{9b}31m"), "{text}");
    for bad in ['\x1b', '\x07', '\u{9b}', '\u{202e}'] {
        assert!(!text.contains(bad), "{bad:?} reached the output: {text}");
    }
    // File names are telemetry too (stderr, for an unreadable input).
    let odd = d.join("x\x1b]0;t\x07.log");
    std::fs::write(&odd, b"not telemetry at all").unwrap();
    let out = cordon(&["scan", odd.to_str().unwrap()]);
    assert!(!stderr(&out).contains('\x1b'), "{}", stderr(&out));
}

/// reliability.md #13: `cordon … | head -1` must end quietly, and a full disk is an error
/// with a message, never a panic.
#[test]
fn closed_pipes_and_full_disks_end_cleanly() {
    let conn = repo().join("examples/zeek/conn.log");
    let c = conn.to_str().unwrap();
    for args in [
        format!("scan '{c}' --format jsonl"),
        format!("scan '{c}'"),
        "explain 47.88.1.2 api.hik-connect.com 'China Telecom'".to_string(),
    ] {
        let out = run_sh(
            &format!(
                "\"$CORDON_BIN\" {args} | head -c 1 >/dev/null; echo \"exit ${{PIPESTATUS:-0}}\""
            ),
            Duration::from_secs(60),
        );
        assert!(
            !stderr(&out).contains("panicked"),
            "{args}: {}",
            stderr(&out)
        );
        if Path::new("/dev/full").exists() {
            let full = run_sh(
                &format!("exec \"$CORDON_BIN\" {args} >/dev/full"),
                Duration::from_secs(60),
            );
            assert_eq!(code(&full), 2, "{args}: {}", stderr(&full));
            assert!(
                !stderr(&full).contains("panicked"),
                "{args}: {}",
                stderr(&full)
            );
        }
    }
}

/// reliability.md #2: a name-carrying log held every flow until the end (a 1 GiB EVE file
/// kept 430 MiB of flows). Past a hold limit its flows are dropped and streamed again in
/// a second pass; the answer must be the one holding them all gives.
#[test]
fn eve_flows_past_the_hold_limit_give_the_same_answer() {
    let d = tmp("eve-hold");
    let mut eve = String::new();
    for i in 0..3000u32 {
        let (a, b) = (i % 200, i % 7);
        let ts = format!(
            "2026-11-26T09:{:02}:{:02}.400000+0000",
            (i / 60) % 60,
            i % 60
        );
        // A TLS name for some remotes (Alibaba Cloud's AI API), plain flows for the others.
        if i % 3 == 0 {
            eve.push_str(&format!(
                r#"{{"timestamp":"{ts}","flow_id":{i},"event_type":"tls","src_ip":"10.20.{b}.{a}","src_port":51514,"dest_ip":"47.88.{b}.{a}","dest_port":443,"proto":"TCP","tls":{{"sni":"dashscope-intl.aliyuncs.com","version":"TLS 1.3"}}}}"#
            ));
            eve.push('\n');
        }
        eve.push_str(&format!(
            r#"{{"timestamp":"{ts}","flow_id":{i},"event_type":"flow","src_ip":"10.20.{b}.{a}","src_port":51514,"dest_ip":"47.88.{b}.{a}","dest_port":443,"proto":"TCP","flow":{{"pkts_toserver":5,"pkts_toclient":5,"bytes_toserver":{},"bytes_toclient":1100,"start":"{ts}","end":"{ts}"}}}}"#,
            800 + i
        ));
        eve.push('\n');
    }
    let path = d.join("eve.json");
    std::fs::write(&path, eve).unwrap();
    let indicators = d.join("ind.txt");
    std::fs::write(&indicators, "47.88.1.3\ndashscope-intl.aliyuncs.com\n").unwrap();
    let scan = |hold: &str| {
        let out = run_sh(
            &format!(
                "CORDON_HOLD_FLOWS={hold} exec \"$CORDON_BIN\" scan '{}' --indicators '{}' --format jsonl",
                path.display(),
                indicators.display()
            ),
            Duration::from_secs(60),
        );
        assert_eq!(code(&out), 0, "{}", stderr(&out));
        let mut recs: Vec<String> = jsonl(&out)
            .into_iter()
            .filter(|r| r["type"] != "summary")
            .map(|r| r.to_string())
            .collect();
        recs.sort();
        let summary = jsonl(&out)
            .into_iter()
            .find(|r| r["type"] == "summary")
            .unwrap();
        (recs, summary["flows"].clone(), summary["records"].clone())
    };
    let all = scan("100000000");
    let spilled = scan("50");
    assert!(all.0.iter().any(|r| r.contains(r#""type":"exposure""#)));
    assert!(
        all.0.iter().any(|r| r.contains("dashscope")),
        "names attach to flows"
    );
    assert!(all
        .0
        .iter()
        .any(|r| r.contains(r#""type":"indicator-match""#)));
    assert_eq!(all, spilled);
}
