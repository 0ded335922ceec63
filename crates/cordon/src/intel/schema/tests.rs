//! The two readers of the curated files are one: a malformed row is refused by `--intel-dir`
//! (`load`) and by `cordon intel build` (`build`) with the same `file:line: message`.

use crate::intel::build::{build, BuildInputs};
use crate::intel::load::tests::{fixture, tempdir};
use crate::intel::load::{load, Source};
use std::fs;
use std::path::{Path, PathBuf};

/// A folder both paths can read: the load fixture (curated and derived files), the curated
/// files only the build reads, and the raw datasets it derives from.
fn both_fixture() -> (PathBuf, BuildInputs) {
    let root = tempdir();
    fixture(&root);
    let intel = root.join("intel");
    fs::write(
        intel.join("oui-rules.csv"),
        "pattern,entity,source,note\nalibaba cloud computing,alibaba-cloud,ieee-registry,\n",
    )
    .unwrap();
    fs::write(
        intel.join("oui-exclusions.csv"),
        "prefix,pattern,reason\n,honor device,divested\n",
    )
    .unwrap();
    let raw = root.join("raw");
    fs::create_dir_all(&raw).unwrap();
    fs::write(
        raw.join("asn-ipv4.csv"),
        "47.88.0.0,47.88.255.255,45102,Alibaba\n",
    )
    .unwrap();
    fs::write(
        raw.join("asn-ipv6.csv"),
        "2400:3200::,2400:3200::ffff,45102,Alibaba\n",
    )
    .unwrap();
    let ieee = "Registry,Assignment,Organization Name,Organization Address\n\
                MA-L,188219,Alibaba Cloud Computing Ltd.,Hangzhou CN\n";
    for name in ["oui.csv", "mam.csv", "oui36.csv"] {
        fs::write(raw.join(name), ieee).unwrap();
    }
    let inputs = BuildInputs {
        intel_dir: intel,
        asn_v4_csv: raw.join("asn-ipv4.csv"),
        asn_v6_csv: raw.join("asn-ipv6.csv"),
        ieee_dir: raw,
    };
    (root, inputs)
}

const COMPANIES: &str = "id,name,aliases,country,parent,link,ownership,source\n\
    alibaba,Alibaba Group Holding Limited,Alibaba,CN,,,,https://x\n\
    alibaba-cloud,Alibaba Cloud,Aliyun,CN,alibaba,subsidiary,100,https://y\n";
const DESIGNATIONS: &str = "entity,list,edition,date_added,status,source,note\n";
const ASNS: &str = "asn,as_org,entity,relationship,confidence,source,note\n\
    45102,Alibaba,alibaba-cloud,hosted-on,high,ip-location-db-asn,\n";
const DOMAINS: &str = "suffix,entity,relationship,service,confidence,source\n\
    aliyuncs.com,alibaba-cloud,hosted-on,cloud,high,https://z\n";
const DATASETS: &str = "id,name,version,date,url,licence,credit\n";

#[test]
fn the_fixture_is_accepted_by_both() {
    let (root, inputs) = both_fixture();
    load(&Source::Dir(root.clone()), None).unwrap();
    build(&inputs).unwrap();
    // And what the build wrote loads again.
    load(&Source::Dir(root.clone()), None).unwrap();
    let _ = fs::remove_dir_all(&root);
}

#[test]
fn malformed_rows_are_refused_by_both_with_one_message() {
    let cases: &[(&str, String, &str)] = &[
        (
            "designations.csv",
            format!("{DESIGNATIONS}alibaba,dod-1260h,2026-02-30,,designated,https://x,\n"),
            "intel/designations.csv:2: edition \"2026-02-30\" is not a yyyy-mm-dd date",
        ),
        (
            "designations.csv",
            format!("{DESIGNATIONS}alibaba,dod-1260h,2026-6-08,,designated,https://x,\n"),
            "intel/designations.csv:2: edition \"2026-6-08\" is not a yyyy-mm-dd date",
        ),
        (
            "datasets.csv",
            format!("{DATASETS}ieee,IEEE,1,2026-13-01,https://x,public,\n"),
            "intel/datasets.csv:2: date \"2026-13-01\" is not a yyyy-mm-dd date",
        ),
        (
            "companies.csv",
            format!("{COMPANIES}China_Telecom,China Telecom,,CN,,,,https://x\n"),
            "intel/companies.csv:4: id \"China_Telecom\" is not a lowercase slug [a-z0-9-]",
        ),
        (
            "datasets.csv",
            format!("{DATASETS}IP-DB,IP,1,,https://x,public,\n"),
            "intel/datasets.csv:2: id \"IP-DB\" is not a lowercase slug [a-z0-9-]",
        ),
        (
            "domains.csv",
            format!("{DOMAINS}com.cn,alibaba-cloud,operated-by,web,high,x\n"),
            "intel/domains.csv:3: suffix \"com.cn\" is a public suffix",
        ),
        (
            "domains.csv",
            format!("{DOMAINS}hik-connect.com,alibaba-cloud,operated-by,p2p,high,x\n"),
            "intel/domains.csv:3: service \"p2p\" is not one of ai-model-api, cloud, cdn, \
             payment, telemetry, device-cloud, firmware-update, dns, web, mail, messaging, \
             video, app, ads, other",
        ),
        (
            "asn.csv",
            format!("{ASNS}37963,Aliyun,alibaba-cloud,made-by,high,x,\n"),
            "intel/asn.csv:3: relationship \"made-by\" is not one of operated-by, hosted-on, \
             transit-via",
        ),
        (
            "domains.csv",
            format!("{DOMAINS}alicdn.com,alibaba-cloud,supplied-by,cdn,high,x\n"),
            "intel/domains.csv:3: relationship \"supplied-by\" is not one of operated-by, \
             hosted-on, transit-via",
        ),
        (
            "asn.csv",
            "asn,as_org,entity,relationship,confidence,source,note,extra\n".into(),
            "intel/asn.csv:1: unknown column \"extra\"; expected header \
             \"asn,as_org,entity,relationship,confidence,source,note\"",
        ),
        (
            "domains.csv",
            "suffix,entity,relationship,service,confidence\n".into(),
            "intel/domains.csv:1: missing column \"source\"; expected header \
             \"suffix,entity,relationship,service,confidence,source\"",
        ),
        (
            "asn.csv",
            format!("{ASNS}37963,Aliyun,alibaba-cloud,hosted-on,high,x\n"),
            "intel/asn.csv:3: 6 fields, expected 7",
        ),
        // Once accepted by `--intel-dir` only.
        (
            "asn.csv",
            format!("{ASNS}AS37963,Aliyun,alibaba-cloud,hosted-on,high,x,\n"),
            "intel/asn.csv:3: asn \"AS37963\" is not a number",
        ),
        (
            "companies.csv",
            format!("{COMPANIES}aliyun,Aliyun,,CN,alibaba,subsidiary,51%,x\n"),
            "intel/companies.csv:4: ownership \"51%\" is not a percent from 0 to 100",
        ),
        (
            "datasets.csv",
            format!("{DATASETS}ieee,IEEE,1,,,public,\n"),
            "intel/datasets.csv:2: url is empty",
        ),
        (
            "companies.csv",
            format!("{COMPANIES}aliyun,Aliyun,,China,,,,x\n"),
            "intel/companies.csv:4: country \"China\" is not a two-letter code",
        ),
        // Once refused by both, in different words.
        (
            "designations.csv",
            format!("{DESIGNATIONS}nobody,dod-1260h,2026-06-08,,designated,https://x,\n"),
            "intel/designations.csv:2: entity \"nobody\" is not an id in companies.csv",
        ),
        (
            "asn.csv",
            format!("{ASNS}45102,Alibaba,alibaba-cloud,hosted-on,high,x,\n"),
            "intel/asn.csv:3: asn 45102 is listed twice",
        ),
    ];
    for (file, text, want) in cases {
        let (root, inputs) = both_fixture();
        fs::write(inputs.intel_dir.join(file), text).unwrap();
        let strip = |m: String| m.replace(&format!("{}/", root.display()), "");
        let by_load = load(&Source::Dir(root.clone()), None)
            .err()
            .map(|e| strip(format!("{e:#}")));
        let by_build = build(&inputs).err().map(|e| strip(e.to_string()));
        assert_eq!(by_load.as_deref(), Some(*want), "--intel-dir, {file}");
        assert_eq!(by_build.as_deref(), Some(*want), "intel build, {file}");
        let _ = fs::remove_dir_all(&root);
    }
}

/// The bundled files pass the same checks as any other folder.
#[test]
fn the_repository_intel_loads_as_a_folder() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    load(&Source::Dir(repo), None).unwrap();
}
