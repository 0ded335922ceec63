//! `cordon intel import|status|reset` through the binary: a full table gives every address
//! its AS; a bad or corrupt dataset is refused and the table in use stays.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn tempdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("cordon-intel-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn cordon(data: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cordon"))
        .env("CORDON_DATA_DIR", data)
        .env_remove("CORDON_INTEL_DIR")
        .args(args)
        .output()
        .unwrap()
}

fn explain_found(data: &Path, target: &str) -> Value {
    let out = cordon(data, &["explain", "--format", "json", target]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice::<Value>(&out.stdout).unwrap()
}

#[test]
fn import_status_and_reset() {
    let dir = tempdir("import");
    let data = dir.join("data");
    let v4 = dir.join("asn-ipv4.csv");
    std::fs::write(
        &v4,
        "8.8.8.0,8.8.8.255,15169,Google LLC\n47.88.0.0,47.89.63.255,45102,\"Alibaba (US) Technology Co., Ltd.\"\n",
    )
    .unwrap();
    let v6 = dir.join("asn-ipv6.csv");
    std::fs::write(
        &v6,
        "2001:4860::,2001:4860:ffff:ffff:ffff:ffff:ffff:ffff,15169,Google LLC\n",
    )
    .unwrap();

    // Before: the bundled subset does not know Google.
    assert!(explain_found(&data, "8.8.8.8")["found"]["asn"].is_null());

    let out = cordon(
        &data,
        &[
            "intel",
            "import",
            v4.to_str().unwrap(),
            v6.to_str().unwrap(),
            "--date",
            "2026-06-17",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let j = explain_found(&data, "8.8.8.8");
    assert_eq!(j["found"]["asn"], "AS15169");
    assert_eq!(j["found"]["organisation"], "Google LLC");
    assert!(j["matches"].as_array().unwrap().is_empty());
    assert_eq!(
        explain_found(&data, "2001:4860::8888")["found"]["asn"],
        "AS15169"
    );
    // Attribution of concern still works through the imported table.
    assert_eq!(
        explain_found(&data, "47.88.1.2")["matches"][0]["entity"],
        "alibaba-cloud"
    );

    let st = cordon(&data, &["intel", "status", "--format", "json"]);
    let st: Value = serde_json::from_slice(&st.stdout).unwrap();
    assert_eq!(st["counts"]["ipv4_ranges"], 2);
    assert!(
        st["ip_table"].as_str().unwrap().contains("2026-06-17"),
        "{st}"
    );

    // A malformed dataset is refused, naming file and line; the import in use stays.
    let bad = dir.join("bad.csv");
    std::fs::write(&bad, "1.0.0.0,1.0.0.255,13335,x\n1.0.1.0,1.0.1.255,ASX,y\n").unwrap();
    let out = cordon(&data, &["intel", "import", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("bad.csv:2") && err.contains("unchanged"),
        "{err}"
    );
    assert_eq!(explain_found(&data, "8.8.8.8")["found"]["asn"], "AS15169");

    // A missing dataset likewise.
    let out = cordon(
        &data,
        &["intel", "import", dir.join("nope.csv").to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(explain_found(&data, "8.8.8.8")["found"]["asn"], "AS15169");

    // A corrupted store is detected on load: cordon warns and falls back to the bundled table.
    let table = data.join("ip-asn.bin");
    let mut bytes = std::fs::read(&table).unwrap();
    let n = bytes.len();
    bytes[n / 2] ^= 0xff;
    std::fs::write(&table, &bytes).unwrap();
    let out = cordon(&data, &["explain", "--format", "json", "47.88.1.2"]);
    assert!(out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("checksum"), "{err}");
    let j: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(j["matches"][0]["entity"], "alibaba-cloud");

    let out = cordon(&data, &["intel", "reset"]);
    assert!(out.status.success());
    assert!(!table.exists());
}

/// A GeoLite2-ASN-shaped database, written the way MaxMind's own writer lays it out (IPv6
/// tree, IPv4 subtree aliased from ::ffff:0:0/96, 2001::/32 and 2002::/16).
fn geolite2_asn(rows: &[(&str, u32, &str)]) -> Vec<u8> {
    use mmdb_writer::{Value, Writer};
    let mut w = Writer::new("GeoLite2-ASN");
    for (net, asn, org) in rows {
        let rec = Value::map([
            ("autonomous_system_number", Value::U32(*asn)),
            (
                "autonomous_system_organization",
                Value::String(org.to_string()),
            ),
        ]);
        w.insert_value(net.parse::<ipnet::IpNet>().unwrap(), rec)
            .unwrap();
    }
    w.to_bytes().unwrap()
}

#[test]
fn import_maxmind_mmdb() {
    let dir = tempdir("mmdb");
    let data = dir.join("data");
    let db = dir.join("GeoLite2-ASN.mmdb");
    std::fs::write(
        &db,
        geolite2_asn(&[
            ("8.8.8.0/24", 15169, "GOOGLE"),
            ("47.88.0.0/15", 45102, "Alibaba US Technology Co., Ltd."),
            ("2001:4860::/32", 15169, "GOOGLE"),
        ]),
    )
    .unwrap();
    let out = cordon(&data, &["intel", "import", db.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let j = explain_found(&data, "8.8.8.8");
    assert_eq!(j["found"]["asn"], "AS15169");
    assert_eq!(j["found"]["organisation"], "GOOGLE");
    assert_eq!(
        explain_found(&data, "2001:4860::8888")["found"]["asn"],
        "AS15169"
    );
    assert_eq!(
        explain_found(&data, "47.88.1.2")["matches"][0]["entity"],
        "alibaba-cloud"
    );
    let st = cordon(&data, &["intel", "status", "--format", "json"]);
    let st: Value = serde_json::from_slice(&st.stdout).unwrap();
    assert_eq!(st["counts"]["ipv4_ranges"], 2, "{st}");

    // A corrupt database is refused with the reason; the imported table stays.
    let mut bytes = std::fs::read(&db).unwrap();
    bytes[..64].fill(0xff);
    let bad = dir.join("corrupt.mmdb");
    std::fs::write(&bad, &bytes).unwrap();
    let out = cordon(&data, &["intel", "import", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("corrupt.mmdb: not a valid MaxMind database") && err.contains("unchanged"),
        "{err}"
    );
    assert_eq!(explain_found(&data, "8.8.8.8")["found"]["asn"], "AS15169");
}

fn import(data: &Path, csv: &Path, date: &str) -> Output {
    cordon(
        data,
        &["intel", "import", csv.to_str().unwrap(), "--date", date],
    )
}

fn status_json(data: &Path) -> Value {
    let st = cordon(data, &["intel", "status", "--format", "json"]);
    assert!(st.status.success(), "{st:?}");
    serde_json::from_slice(&st.stdout).unwrap()
}

/// `--date` must be a real calendar date written as YYYY-MM-DD, nothing more.
#[test]
fn import_date_must_be_a_calendar_date() {
    let dir = tempdir("date");
    let data = dir.join("data");
    let csv = dir.join("a.csv");
    std::fs::write(&csv, "8.8.8.0,8.8.8.255,15169,Google LLC\n").unwrap();
    for bad in [
        "2026-02-31",
        "2026-04-31",
        "2025-02-29",
        "2026-13-01",
        "2026-00-10",
        "2026-06-17<script>",
        "2026-06-17\u{1b}]0;x\u{7}",
        "2026-06-17 ",
        " 2026-06-17",
        "2026-6-17",
        "+2026-06-1",
        "20260617",
        "",
    ] {
        let out = import(&data, &csv, bad);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{bad:?}: {err}");
        assert!(
            err.contains("--date") && err.contains("YYYY-MM-DD"),
            "{bad:?}: {err}"
        );
        assert!(!data.join("ip-asn.bin").exists(), "{bad:?}");
    }
    let out = import(&data, &csv, "2024-02-29");
    assert!(out.status.success(), "{out:?}");
    assert!(status_json(&data)["ip_table"]
        .as_str()
        .unwrap()
        .contains("2024-02-29"));
}

/// A table file in the layout cordon wrote up to format version 1 (`ip-asn.bin` holding the
/// ranges, with a valid checksum; the metadata beside it in `ip-asn.json`), holding exactly
/// the given rows, valid or not.
fn write_v1_store(data: &Path, v4: &[(u32, u32, u32)], names: &[(u32, &str)]) {
    let mut body = Vec::new();
    for n in [v4.len(), 0, names.len()] {
        body.extend_from_slice(&(n as u64).to_le_bytes());
    }
    for &(s, e, a) in v4 {
        for x in [s, e, a] {
            body.extend_from_slice(&x.to_le_bytes());
        }
    }
    for &(a, n) in names {
        body.extend_from_slice(&a.to_le_bytes());
        body.extend_from_slice(&(n.len() as u16).to_le_bytes());
        body.extend_from_slice(n.as_bytes());
    }
    let sum = body.iter().fold(0xcbf29ce484222325u64, |h, &b| {
        (h ^ b as u64).wrapping_mul(0x100000001b3)
    });
    let mut file = b"CORDONIP".to_vec();
    file.extend_from_slice(&1u32.to_le_bytes());
    file.extend_from_slice(&sum.to_le_bytes());
    file.extend_from_slice(&body);
    std::fs::create_dir_all(data).unwrap();
    std::fs::write(data.join("ip-asn.bin"), file).unwrap();
    let info = serde_json::json!({
        "format": "ip-location-db", "files": ["old.csv"], "date": "2026-01-01",
        "imported": "2026-01-02", "v4_ranges": v4.len(), "v6_ranges": 0, "asns": names.len(),
    });
    std::fs::write(data.join("ip-asn.json"), info.to_string()).unwrap();
}

const ALIBABA_V4: (u32, u32, u32) = (0x2F58_0000, 0x2F59_FFFF, 45102);
const GOOGLE_V4: (u32, u32, u32) = (0x0808_0800, 0x0808_08FF, 15169);

/// A table installed by an earlier cordon (two files) still loads, with its metadata, and
/// `intel reset` removes both files.
#[test]
fn table_in_the_old_two_file_layout_still_loads() {
    let data = tempdir("v1").join("data");
    write_v1_store(
        &data,
        &[GOOGLE_V4, ALIBABA_V4],
        &[(15169, "Google LLC"), (45102, "Alibaba")],
    );
    let out = cordon(&data, &["explain", "--format", "json", "8.8.8.8"]);
    assert!(out.stderr.is_empty(), "{out:?}");
    let j: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(j["found"]["organisation"], "Google LLC");
    let st = status_json(&data);
    assert!(st["import_error"].is_null(), "{st}");
    assert!(
        st["ip_table"].as_str().unwrap().contains("2026-01-01"),
        "{st}"
    );
    assert!(cordon(&data, &["intel", "reset"]).status.success());
    assert!(!data.join("ip-asn.bin").exists() && !data.join("ip-asn.json").exists());
}

/// The installed table file carries its own metadata: whatever table is in place, the
/// dataset, date and counts shown are that table's (an import killed half-way, or a table
/// file restored from a backup, cannot pair one import's table with another's metadata).
#[test]
fn table_and_metadata_are_installed_together() {
    let dir = tempdir("together");
    let (da, db) = (dir.join("a"), dir.join("b"));
    let a = dir.join("a.csv");
    std::fs::write(&a, "47.88.0.0,47.89.255.255,45102,OLD-ALIBABA\n").unwrap();
    let b = dir.join("b.csv");
    std::fs::write(
        &b,
        "8.8.8.0,8.8.8.255,15169,Google LLC\n47.88.0.0,47.89.255.255,45102,NEW-ALIBABA\n",
    )
    .unwrap();
    assert!(import(&da, &a, "2026-01-01").status.success());
    assert!(import(&db, &b, "2026-06-01").status.success());
    // B's folder, with A's table file in place of B's.
    std::fs::copy(da.join("ip-asn.bin"), db.join("ip-asn.bin")).unwrap();
    let st = status_json(&db);
    assert!(st["import_error"].is_null(), "{st}");
    let shown = st["ip_table"].as_str().unwrap();
    assert!(shown.contains("2026-01-01"), "{st}");
    let j = explain_found(&db, "47.88.1.2");
    assert_eq!(j["found"]["organisation"], "OLD-ALIBABA");
    let ds = j.to_string();
    assert!(ds.contains("a.csv") && !ds.contains("b.csv"), "{ds}");
    // Nothing but the table (and the lock) is left in the folder: no temporary files.
    let mut names: Vec<String> = std::fs::read_dir(&db)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, [".lock", "ip-asn.bin"]);
}

/// An import or reset does not start while another holds the data folder's lock: it fails
/// clearly and leaves the table in use.
#[test]
fn import_and_reset_refuse_while_the_folder_is_locked() {
    let dir = tempdir("lock");
    let data = dir.join("data");
    let a = dir.join("a.csv");
    std::fs::write(&a, "8.8.8.0,8.8.8.255,15169,Google LLC\n").unwrap();
    let b = dir.join("b.csv");
    std::fs::write(&b, "8.8.8.0,8.8.8.255,64512,Someone Else\n").unwrap();
    assert!(import(&data, &a, "2026-01-01").status.success());

    // Another import in progress, as far as the lock tells.
    let held = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(data.join(".lock"))
        .unwrap();
    held.try_lock().unwrap();
    for args in [
        vec![
            "intel",
            "import",
            b.to_str().unwrap(),
            "--date",
            "2026-06-01",
        ],
        vec!["intel", "reset"],
    ] {
        let out = cordon(&data, &args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains("another cordon"), "{args:?}: {err}");
    }
    assert_eq!(explain_found(&data, "8.8.8.8")["found"]["asn"], "AS15169");

    drop(held);
    assert!(import(&data, &b, "2026-06-01").status.success());
    assert_eq!(explain_found(&data, "8.8.8.8")["found"]["asn"], "AS64512");
}

/// A stored table whose checksum is right but whose content the importer would never have
/// written is set aside with a warning, like a corrupt one; the bundled subset is used.
#[test]
fn stored_table_with_impossible_rows_is_refused() {
    let dir = tempdir("damaged");
    let long = "x".repeat(5000);
    type Rows<'a> = (Vec<(u32, u32, u32)>, Vec<(u32, &'a str)>);
    let cases: [(&str, Rows); 2] = [
        (
            "inverted",
            (
                vec![(ALIBABA_V4.1, ALIBABA_V4.0, 45102)],
                vec![(45102, "X")],
            ),
        ),
        ("long name", (vec![ALIBABA_V4], vec![(45102, &long)])),
    ];
    for (what, (v4, names)) in cases {
        let data = dir.join(what.replace(' ', "-"));
        write_v1_store(&data, &v4, &names);
        let out = cordon(&data, &["explain", "--format", "json", "47.88.1.2"]);
        assert!(out.status.success(), "{what}: {out:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("table damaged") && err.contains("bundled subset"),
            "{what}: {err}"
        );
        let j: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(j["matches"][0]["entity"], "alibaba-cloud", "{what}");
        let st = status_json(&data);
        assert!(
            st["import_error"]
                .as_str()
                .is_some_and(|e| e.contains("table damaged")),
            "{what}: {st}"
        );
    }
}
