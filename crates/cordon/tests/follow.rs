//! The log followers of `cordon serve` against files that grow, rotate and get truncated
//! under them: every line read once, none skipped, across crashes and rotations.
//!
//! Each record carries a sequence number in its source port, so a test can say exactly
//! which lines were read, and how many times.
#![cfg(feature = "serve")]

use cordon::serve::follow::{FollowState, Follower, Kind, Limits, PollStats};
use cordon_wire::{AnomalyKind, Observation, VecSink};
use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

const ZEEK_HEADER: &str = "#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n#path\tconn\n#open\t2024-01-01-00-00-00\n#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\tduration\torig_bytes\tresp_bytes\n#types\ttime\tstring\taddr\tport\taddr\tport\tenum\tinterval\tcount\tcount\n";

fn zeek_line(n: u16) -> String {
    format!("1700000000.000000\tC{n}\t10.0.0.1\t{n}\t192.0.2.7\t443\ttcp\t1.0\t100\t200\n")
}

fn eve_line(n: u16) -> String {
    format!(
        "{{\"timestamp\":\"2024-01-01T00:00:00.000000+0000\",\"event_type\":\"flow\",\"src_ip\":\"10.0.0.1\",\"src_port\":{n},\"dest_ip\":\"192.0.2.7\",\"dest_port\":443,\"proto\":\"TCP\",\"flow\":{{\"bytes_toserver\":1,\"bytes_toclient\":2}}}}\n"
    )
}

fn zeek_lines(r: std::ops::Range<u16>) -> String {
    r.map(zeek_line).collect()
}

fn eve_lines(r: std::ops::Range<u16>) -> String {
    r.map(eve_line).collect()
}

/// A fresh folder for one test.
fn dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("cordon-follow-{}-{name}", std::process::id()));
    let _ = fs::remove_dir_all(&d);
    fs::create_dir_all(&d).unwrap();
    d
}

fn append(p: &Path, s: &str) {
    let mut f = OpenOptions::new()
        .create(true)
        .append(true)
        .open(p)
        .unwrap();
    f.write_all(s.as_bytes()).unwrap();
}

/// The source ports of the flows seen, sorted: the sequence numbers of the lines read.
fn seqs(sink: &VecSink) -> Vec<u16> {
    let mut v: Vec<u16> = sink
        .observations
        .iter()
        .filter_map(|o| match o {
            Observation::Flow(f) => Some(f.sport),
            _ => None,
        })
        .collect();
    v.sort_unstable();
    v
}

fn range(r: std::ops::Range<u16>) -> Vec<u16> {
    r.collect()
}

/// Polls until a poll reads nothing and has nothing more to read, summing the stats.
fn drain(f: &mut Follower, sink: &mut VecSink) -> PollStats {
    let mut total = PollStats::default();
    for _ in 0..1000 {
        let st = f.poll(sink);
        total.lines += st.lines;
        total.bytes += st.bytes;
        total.rotations += st.rotations;
        total.truncations += st.truncations;
        total.lost += st.lost;
        total.files = st.files;
        total.ignored = st.ignored;
        total.over_cap += st.over_cap;
        total.decode.add(&st.decode);
        total.errors.extend(st.errors);
        if st.bytes == 0 && !st.more {
            // Rotated files are dropped after a few idle polls: let them go.
            for _ in 0..4 {
                let st = f.poll(sink);
                assert_eq!(st.bytes, 0, "an idle poll read something");
                total.files = st.files;
                total.errors.extend(st.errors);
            }
            return total;
        }
    }
    panic!("the follower never went idle");
}

#[test]
fn partial_lines_wait_for_their_end() {
    for kind in [Kind::Zeek, Kind::Eve] {
        let d = dir(&format!("partial-{kind:?}"));
        let p = d.join("log.log");
        let line = |n| match kind {
            Kind::Zeek => zeek_line(n),
            Kind::Eve => eve_line(n),
        };
        let mut f = match kind {
            Kind::Zeek => {
                append(&p, ZEEK_HEADER);
                Follower::new(&d, kind, None)
            }
            Kind::Eve => Follower::new(&p, kind, None),
        };
        let mut sink = VecSink::default();
        let (l0, l1, l2) = (line(0), line(1), line(2));
        append(&p, &l0);
        append(&p, &l1[..10]);
        f.poll(&mut sink);
        assert_eq!(seqs(&sink), [0], "{kind:?}");
        let after_l0 = f.state().files[0].offset;
        assert_eq!(after_l0, fs::metadata(&p).unwrap().len() - 10, "{kind:?}");
        // The rest of the line, and half of the next one.
        append(&p, &l1[10..]);
        append(&p, &l2[..l2.len() - 1]);
        f.poll(&mut sink);
        assert_eq!(seqs(&sink), [0, 1], "{kind:?}");
        // Nothing new: the partial line is still not read.
        let st = f.poll(&mut sink);
        assert_eq!((st.lines, st.bytes), (0, 0), "{kind:?}");
        append(&p, "\n");
        f.poll(&mut sink);
        assert_eq!(seqs(&sink), [0, 1, 2], "{kind:?}");
        assert!(sink.anomalies.is_empty(), "{kind:?}: {:?}", sink.anomalies);
    }
}

#[test]
fn rotation_by_rename_reads_both_files_once() {
    let d = dir("rotate-eve");
    let p = d.join("eve.json");
    append(&p, &eve_lines(0..5));
    let mut f = Follower::new(&p, Kind::Eve, None);
    let mut sink = VecSink::default();
    f.poll(&mut sink);
    // Lines the follower has not seen yet when the file is rotated, then some written to
    // the old file through the writer's still-open handle, and a new file.
    append(&p, &eve_lines(5..8));
    let mut writer = OpenOptions::new().append(true).open(&p).unwrap();
    fs::rename(&p, d.join("eve.json.1")).unwrap();
    writer.write_all(eve_lines(8..10).as_bytes()).unwrap();
    append(&p, &eve_lines(10..14));
    let st = drain(&mut f, &mut sink);
    assert_eq!(st.rotations, 1);
    writer.write_all(eve_lines(20..21).as_bytes()).unwrap();
    f.poll(&mut sink);
    assert_eq!(seqs(&sink), range(0..14));
    assert_eq!(st.files, 1, "the rotated file is dropped once idle");
    append(&p, &eve_lines(14..16));
    f.poll(&mut sink);
    assert_eq!(seqs(&sink), range(0..16));
}

#[test]
fn zeek_rotation_inside_the_folder_is_not_read_again() {
    // Zeek renames conn.log to conn.<date>.log in the same folder, then opens a new
    // conn.log: both are *.log files of the folder.
    let d = dir("rotate-zeek");
    let p = d.join("conn.log");
    append(&p, &format!("{ZEEK_HEADER}{}", zeek_lines(0..4)));
    let mut f = Follower::new(&d, Kind::Zeek, None);
    let mut sink = VecSink::default();
    f.poll(&mut sink);
    append(&p, &zeek_lines(4..6));
    fs::rename(&p, d.join("conn.2024-01-01-00-00-00.log")).unwrap();
    append(&p, &format!("{ZEEK_HEADER}{}", zeek_lines(6..9)));
    let st = drain(&mut f, &mut sink);
    assert_eq!(seqs(&sink), range(0..9));
    assert_eq!(st.rotations, 1);
    assert_eq!(st.files, 2, "the renamed file is still followed");
    // The archiver moves the old file out; the new one goes on.
    fs::rename(
        d.join("conn.2024-01-01-00-00-00.log"),
        std::env::temp_dir().join(format!("cordon-follow-{}-moved.log", std::process::id())),
    )
    .unwrap();
    append(&p, &zeek_lines(9..10));
    let st = drain(&mut f, &mut sink);
    assert_eq!(seqs(&sink), range(0..10));
    assert_eq!(st.files, 1);
    assert!(sink.anomalies.is_empty(), "{:?}", sink.anomalies);
}

#[test]
fn copytruncate_restarts_at_zero_and_is_counted() {
    let d = dir("truncate");
    let p = d.join("eve.json");
    append(&p, &eve_lines(0..6));
    let mut f = Follower::new(&p, Kind::Eve, None);
    let mut sink = VecSink::default();
    f.poll(&mut sink);
    // Truncated to less than the offset.
    OpenOptions::new()
        .write(true)
        .open(&p)
        .unwrap()
        .set_len(0)
        .unwrap();
    append(&p, &eve_lines(10..12));
    let st = f.poll(&mut sink);
    assert_eq!(st.truncations, 1);
    assert_eq!(st.rotations, 0);
    assert_eq!(seqs(&sink), [0, 1, 2, 3, 4, 5, 10, 11]);
    // Truncated, then rewritten past the old offset before the next poll: the first
    // bytes tell.
    OpenOptions::new()
        .write(true)
        .open(&p)
        .unwrap()
        .set_len(0)
        .unwrap();
    append(&p, &eve_lines(100..110));
    let st = f.poll(&mut sink);
    assert_eq!(st.truncations, 1);
    let want: Vec<u16> = [0, 1, 2, 3, 4, 5, 10, 11]
        .into_iter()
        .chain(100..110)
        .collect();
    assert_eq!(seqs(&sink), want);
}

#[test]
fn resume_after_a_crash_reads_nothing_twice_and_skips_nothing() {
    for kind in [Kind::Zeek, Kind::Eve] {
        let d = dir(&format!("resume-{kind:?}"));
        let (p, root, lines): (PathBuf, PathBuf, fn(std::ops::Range<u16>) -> String) = match kind {
            Kind::Zeek => (d.join("conn.log"), d.clone(), zeek_lines),
            Kind::Eve => (d.join("eve.json"), d.join("eve.json"), eve_lines),
        };
        if kind == Kind::Zeek {
            append(&p, ZEEK_HEADER);
        }
        append(&p, &lines(0..5));
        let partial = lines(5..6);
        append(&p, &partial[..7]);
        let mut sink = VecSink::default();
        let mut f = Follower::new(&root, kind, None);
        f.poll(&mut sink);
        let state = f.state();
        // Persisted as the daemon would, then kill -9.
        let state: FollowState =
            serde_json::from_str(&serde_json::to_string(&state).unwrap()).unwrap();
        drop(f);
        // Lines written while it was down (the partial one completed).
        append(&p, &partial[7..]);
        append(&p, &lines(6..9));
        let mut f = Follower::new(&root, kind, Some(state.clone()));
        assert_eq!(
            f.state(),
            state,
            "before its first poll, the state is the one given"
        );
        let st = drain(&mut f, &mut sink);
        assert_eq!(st.lost, 0, "{kind:?}");
        assert_eq!(seqs(&sink), range(0..9), "{kind:?}");
        assert!(sink.anomalies.is_empty(), "{kind:?}: {:?}", sink.anomalies);
    }
}

#[test]
fn resume_after_rotation_while_down() {
    let d = dir("resume-rotated");
    let p = d.join("eve.json");
    append(&p, &eve_lines(0..4));
    let mut sink = VecSink::default();
    let mut f = Follower::new(&p, Kind::Eve, None);
    f.poll(&mut sink);
    let state = f.state();
    drop(f);
    // Rotated away while down, with a tail never read; a new file at the path.
    append(&p, &eve_lines(4..6));
    fs::rename(&p, d.join("eve.json.1")).unwrap();
    append(&p, &eve_lines(10..13));
    let mut f = Follower::new(&p, Kind::Eve, Some(state));
    let st = drain(&mut f, &mut sink);
    assert_eq!(st.lost, 1);
    assert_eq!(st.errors.len(), 1, "{:?}", st.errors);
    assert!(st.errors[0].path.ends_with("eve.json"));
    assert!(st.errors[0].offset > 0);
    assert!(
        st.errors[0].message.contains("rotated away"),
        "{}",
        st.errors[0]
    );
    assert_eq!(seqs(&sink), [0, 1, 2, 3, 10, 11, 12]);

    // In a Zeek folder, a log renamed in place while down is still found: nothing lost.
    let d = dir("resume-renamed");
    let p = d.join("conn.log");
    append(&p, &format!("{ZEEK_HEADER}{}", zeek_lines(0..3)));
    let mut sink = VecSink::default();
    let mut f = Follower::new(&d, Kind::Zeek, None);
    f.poll(&mut sink);
    let state = f.state();
    drop(f);
    append(&p, &zeek_lines(3..5));
    fs::rename(&p, d.join("conn.2024-01-01-00-00-00.log")).unwrap();
    append(&p, &format!("{ZEEK_HEADER}{}", zeek_lines(5..7)));
    let mut f = Follower::new(&d, Kind::Zeek, Some(state));
    let st = drain(&mut f, &mut sink);
    assert_eq!(st.lost, 0);
    assert_eq!(seqs(&sink), range(0..7));
    assert!(sink.anomalies.is_empty(), "{:?}", sink.anomalies);
}

#[test]
fn zeek_header_survives_a_resume() {
    // A second header block with other columns (a concatenated log) then a resume: the
    // body after it must be read with the second layout, not the first nor none.
    let d = dir("header");
    let p = d.join("conn.log");
    append(&p, &format!("{ZEEK_HEADER}{}", zeek_lines(0..2)));
    let second = "#close\t2024-01-01-01-00-00\n#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n#path\tconn\n#fields\tid.resp_p\tid.orig_h\tid.orig_p\tid.resp_h\tts\tproto\n#types\tport\taddr\tport\taddr\ttime\tenum\n";
    append(&p, second);
    append(&p, "443\t10.0.0.1\t2\t192.0.2.7\t1700000000.0\ttcp\n");
    let mut sink = VecSink::default();
    let mut f = Follower::new(&d, Kind::Zeek, None);
    f.poll(&mut sink);
    let state = f.state();
    assert!(!state.files[0].header.is_empty());
    drop(f);
    append(&p, "443\t10.0.0.1\t3\t192.0.2.7\t1700000000.0\ttcp\n");
    let mut f = Follower::new(&d, Kind::Zeek, Some(state));
    drain(&mut f, &mut sink);
    assert_eq!(seqs(&sink), range(0..4));
    assert!(sink.anomalies.is_empty(), "{:?}", sink.anomalies);

    // And across polls of one follower: the header comes in one poll, the body in the next.
    let d = dir("header-polls");
    let p = d.join("conn.log");
    append(&p, ZEEK_HEADER);
    let mut sink = VecSink::default();
    let mut f = Follower::new(&d, Kind::Zeek, None);
    f.poll(&mut sink);
    append(&p, &zeek_lines(0..3));
    f.poll(&mut sink);
    assert_eq!(seqs(&sink), range(0..3));
    assert!(sink.anomalies.is_empty(), "{:?}", sink.anomalies);
}

#[test]
fn eve_events_decode_with_file_offsets() {
    let d = dir("eve");
    let p = d.join("eve.json");
    let dns = "{\"timestamp\":\"2024-01-01T00:00:00.000000+0000\",\"event_type\":\"dns\",\"src_ip\":\"10.0.0.1\",\"dest_ip\":\"10.0.0.53\",\"dns\":{\"type\":\"answer\",\"rrname\":\"example.com\",\"rrtype\":\"A\",\"rdata\":\"192.0.2.7\",\"ttl\":60}}\n";
    let tls = "{\"timestamp\":\"2024-01-01T00:00:00.000000+0000\",\"event_type\":\"tls\",\"src_ip\":\"10.0.0.1\",\"src_port\":5000,\"dest_ip\":\"192.0.2.7\",\"dest_port\":443,\"tls\":{\"sni\":\"example.com\"}}\n";
    append(&p, &eve_line(0));
    append(&p, dns);
    append(&p, tls);
    let mut f = Follower::new(&p, Kind::Eve, None);
    let mut sink = VecSink::default();
    f.poll(&mut sink);
    let kinds: Vec<&str> = sink
        .observations
        .iter()
        .map(|o| match o {
            Observation::Flow(_) => "flow",
            Observation::Dns(_) => "dns",
            Observation::Name(_) => "name",
            _ => "other",
        })
        .collect();
    assert_eq!(kinds, ["flow", "dns", "name"]);
    // A bad line in a later poll: its anomaly names its offset in the file.
    let at = fs::metadata(&p).unwrap().len();
    append(&p, "{\"not eve\n");
    let st = f.poll(&mut sink);
    assert_eq!(st.decode.anomalies, 1);
    assert_eq!(sink.anomalies.len(), 1);
    assert_eq!(sink.anomalies[0].offset, at);
}

#[test]
fn garbage_and_overlong_lines_are_anomalies_and_reading_goes_on() {
    for kind in [Kind::Zeek, Kind::Eve] {
        let d = dir(&format!("garbage-{kind:?}"));
        let (p, root, line): (PathBuf, PathBuf, fn(u16) -> String) = match kind {
            Kind::Zeek => (d.join("conn.log"), d.clone(), zeek_line),
            Kind::Eve => (d.join("eve.json"), d.join("eve.json"), eve_line),
        };
        if kind == Kind::Zeek {
            append(&p, ZEEK_HEADER);
        }
        append(&p, &line(0));
        let garbage_at = fs::metadata(&p).unwrap().len();
        let mut f = OpenOptions::new().append(true).open(&p).unwrap();
        f.write_all(b"\x00\xff\xfe\x01\x02 binary \xc3\x28\n")
            .unwrap();
        drop(f);
        append(&p, &line(1));
        let long_at = fs::metadata(&p).unwrap().len();
        append(&p, &format!("{}\n", "x".repeat(5000)));
        append(&p, &line(2));
        let limits = Limits {
            max_line: 1000,
            ..Limits::default()
        };
        let mut f = Follower::new(&root, kind, None).with_limits(limits);
        let mut sink = VecSink::default();
        let st = drain(&mut f, &mut sink);
        assert_eq!(seqs(&sink), [0, 1, 2], "{kind:?}");
        let offsets: Vec<(u64, AnomalyKind)> =
            sink.anomalies.iter().map(|a| (a.offset, a.kind)).collect();
        assert_eq!(
            offsets,
            [
                (garbage_at, AnomalyKind::Malformed),
                (long_at, AnomalyKind::Limit)
            ],
            "{kind:?}: {:?}",
            sink.anomalies
        );
        assert_eq!(st.decode.anomalies, 2, "{kind:?}");
    }
}

#[test]
fn an_overlong_line_is_skipped_without_being_held_across_polls() {
    let d = dir("long-polls");
    let p = d.join("eve.json");
    append(&p, &eve_line(0));
    let long_at = fs::metadata(&p).unwrap().len();
    append(&p, &"y".repeat(3000));
    let limits = Limits {
        max_line: 1000,
        poll_bytes: 400,
        ..Limits::default()
    };
    let mut f = Follower::new(&p, Kind::Eve, None).with_limits(limits);
    let mut sink = VecSink::default();
    drain(&mut f, &mut sink);
    // Reported once, as soon as it is longer than the cap, though it has no end yet.
    assert_eq!(sink.anomalies.len(), 1);
    assert_eq!(sink.anomalies[0].offset, long_at);
    assert!(f.state().files[0].skipping);
    // The state moved past what was skipped: a resumed follower does not report it again.
    let state = f.state();
    assert_eq!(state.files[0].offset, long_at + 3000);
    append(&p, &"y".repeat(500));
    append(&p, &format!("\n{}", eve_line(1)));
    let mut f = Follower::new(&p, Kind::Eve, Some(state)).with_limits(limits);
    drain(&mut f, &mut sink);
    assert_eq!(seqs(&sink), [0, 1]);
    assert_eq!(sink.anomalies.len(), 1);
    assert!(!f.state().files[0].skipping);
}

#[test]
fn reading_is_bounded_per_poll_and_shared_between_files() {
    let d = dir("bounded");
    append(
        &d.join("a.log"),
        &format!("{ZEEK_HEADER}{}", zeek_lines(0..50)),
    );
    append(
        &d.join("b.log"),
        &format!("{ZEEK_HEADER}{}", zeek_lines(100..150)),
    );
    let limits = Limits {
        poll_bytes: 300,
        ..Limits::default()
    };
    let mut f = Follower::new(&d, Kind::Zeek, None).with_limits(limits);
    let mut sink = VecSink::default();
    let st = f.poll(&mut sink);
    assert!(st.more);
    assert!(st.bytes <= 2 * 300, "{} bytes in one poll", st.bytes);
    // Both files moved: one cannot starve the other.
    let state = f.state();
    assert_eq!(state.files.len(), 2);
    assert!(state.files.iter().all(|s| s.offset > 0 && s.offset <= 300));
    let st = drain(&mut f, &mut sink);
    assert!(!st.more);
    let want: Vec<u16> = (0..50).chain(100..150).collect();
    assert_eq!(seqs(&sink), want);
    assert!(sink.anomalies.is_empty(), "{:?}", sink.anomalies);
}

#[test]
fn folder_rules_caps_non_logs_and_fifos() {
    let d = dir("folder");
    append(
        &d.join("conn.log"),
        &format!("{ZEEK_HEADER}{}", zeek_lines(0..2)),
    );
    // zeekctl's stderr.log, a compressed archive and a file of another extension.
    append(&d.join("stderr.log"), "listening on eth0\n\n");
    append(&d.join("conn.00:00:00-01:00:00.log.gz"), "not read");
    append(&d.join("notes.txt"), &zeek_lines(10..11));
    let fifo = d.join("fifo.log");
    assert!(std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    let mut f = Follower::new(&d, Kind::Zeek, None);
    let mut sink = VecSink::default();
    let st = f.poll(&mut sink);
    assert_eq!(seqs(&sink), [0, 1]);
    assert!(sink.anomalies.is_empty(), "{:?}", sink.anomalies);
    assert_eq!(st.ignored, 1);
    assert_eq!(st.files, 2);
    assert_eq!(st.errors.len(), 1, "{:?}", st.errors);
    assert!(st.errors[0].path.ends_with("fifo.log"));
    assert!(st.errors[0].message.contains("not a regular file"));
    // Reported once while it lasts.
    let st = f.poll(&mut sink);
    assert!(st.errors.is_empty(), "{:?}", st.errors);

    // More files than the cap: the rest wait, counted.
    let d = dir("cap");
    for name in ["a.log", "b.log", "c.log"] {
        append(&d.join(name), &format!("{ZEEK_HEADER}{}", zeek_lines(0..1)));
    }
    let limits = Limits {
        max_files: 2,
        ..Limits::default()
    };
    let mut f = Follower::new(&d, Kind::Zeek, None).with_limits(limits);
    let mut sink = VecSink::default();
    let st = f.poll(&mut sink);
    assert_eq!((st.files, st.over_cap), (2, 1));
    assert_eq!(sink.observations.len(), 2);
}
