//! Tests for the intel build: tiny fixtures in a temporary directory, plus a check of the
//! real curated files in the repository's `intel/`.

use super::*;
use std::sync::atomic::{AtomicUsize, Ordering};

static NEXT: AtomicUsize = AtomicUsize::new(0);

/// A fresh, empty directory under the system temp dir, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> TempDir {
        let n = NEXT.fetch_add(1, Ordering::SeqCst);
        let dir =
            std::env::temp_dir().join(format!("cordon-intel-build-{}-{n}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

const COMPANIES: &str = "id,name,aliases,country,parent,link,ownership,source
huawei,Huawei Investment & Holding Co. Ltd.,Huawei,CN,,,,https://example.invalid/1260h
huawei-device,Huawei Device Co. Ltd.,,CN,huawei,subsidiary,100,ieee-registry
hikvision,Hangzhou Hikvision Digital Technology Co. Ltd.,Hikvision,CN,,,,https://example.invalid/fcc
alibaba-cloud,Alibaba Cloud,Aliyun,CN,,,,https://example.invalid/aliyun
";
const DESIGNATIONS: &str = "entity,list,edition,date_added,status,source,note
huawei,dod-1260h,2026-06-08,2021-06-03,designated,https://example.invalid/1260h,
hikvision,state-ban-tx,,,reported,https://example.invalid/tx,
";
const ASNS: &str = "asn,as_org,entity,relationship,confidence,source,note
45102,Alibaba (US) Technology Co. Ltd.,alibaba-cloud,hosted-on,high,ip-location-db-asn,
";
const DOMAINS: &str = "suffix,entity,relationship,service,confidence,source
aliyuncs.com,alibaba-cloud,hosted-on,cloud,high,v2fly-domain-list-community data/aliyun
dashscope.aliyuncs.com,alibaba-cloud,operated-by,ai-model-api,high,https://example.invalid/dashscope
alibaba,alibaba-cloud,operated-by,web,high,v2fly-domain-list-community data/alibaba
";
const OUI_RULES: &str = "pattern,entity,source,note
huawei device,huawei-device,ieee-registry,
hangzhou hikvision,hikvision,ieee-registry,
";
const OUI_EXCLUSIONS: &str = "prefix,pattern,reason
,honor device,divested by huawei in 2020
8C1F64ABC,,false friend fixture
";
const DATASETS: &str = "id,name,version,date,url,licence,credit
ieee-registry,IEEE registry,20220827,2022-08-27,https://standards-oui.ieee.org/,public,IEEE
";
const ASN_V4: &str = "1.0.0.0,1.0.0.255,13335,\"Cloudflare, Inc.\"
47.88.0.0,47.88.255.255,45102,\"Alibaba (US) Technology Co., Ltd.\"
8.208.0.0,8.208.255.255,45102,\"Alibaba (US) Technology Co., Ltd.\"
";
const ASN_V6: &str = "2001::,2001::ffff,6939,Hurricane Electric LLC
2400:3200::,2400:3200:ffff:ffff:ffff:ffff:ffff:ffff,45102,Alibaba
";
const OUI: &str = "Registry,Assignment,Organization Name,Organization Address
MA-L,04F352,\"Huawei Device Co., Ltd.\",Dongguan CN
MA-L,047975,\"Honor Device Co., Ltd.\",Shenzhen CN
MA-L,00BC60,\"Hangzhou Hikvision  Digital Technology Co.,Ltd.\",Hangzhou CN
MA-L,002272,American Micro-Fuel Device Corp.,Ferndale US
";
const MAM: &str = "Registry,Assignment,Organization Name,Organization Address
MA-M,741AE09,\"Hangzhou Hikvision Digital Technology Co.,Ltd.\",Hangzhou CN
";
const OUI36: &str = "Registry,Assignment,Organization Name,Organization Address
MA-S,70B3D5F2F,\"Huawei Device Co., Ltd.\",Dongguan CN
MA-S,8C1F64ABC,\"Huawei Device Co., Ltd.\",Dongguan CN
";

/// Writes a complete, valid fixture; `replace` swaps one curated file's content.
fn fixture(replace: &[(&str, &str)]) -> (TempDir, BuildInputs) {
    let tmp = TempDir::new();
    let intel = tmp.0.join("intel");
    let ieee = tmp.0.join("ieee");
    fs::create_dir_all(&intel).unwrap();
    fs::create_dir_all(&ieee).unwrap();
    let curated = [
        ("companies.csv", COMPANIES),
        ("designations.csv", DESIGNATIONS),
        ("asn.csv", ASNS),
        ("domains.csv", DOMAINS),
        ("oui-rules.csv", OUI_RULES),
        ("oui-exclusions.csv", OUI_EXCLUSIONS),
        ("datasets.csv", DATASETS),
    ];
    for (name, content) in curated {
        let content = replace
            .iter()
            .find(|(n, _)| *n == name)
            .map_or(content, |(_, c)| *c);
        fs::write(intel.join(name), content).unwrap();
    }
    fs::write(tmp.0.join("asn-ipv4.csv"), ASN_V4).unwrap();
    fs::write(tmp.0.join("asn-ipv6.csv"), ASN_V6).unwrap();
    fs::write(ieee.join("oui.csv"), OUI).unwrap();
    fs::write(ieee.join("mam.csv"), MAM).unwrap();
    fs::write(ieee.join("oui36.csv"), OUI36).unwrap();
    let inputs = BuildInputs {
        intel_dir: intel,
        asn_v4_csv: tmp.0.join("asn-ipv4.csv"),
        asn_v6_csv: tmp.0.join("asn-ipv6.csv"),
        ieee_dir: ieee,
    };
    (tmp, inputs)
}

fn read(inputs: &BuildInputs, name: &str) -> String {
    fs::read_to_string(inputs.intel_dir.join("derived").join(name)).unwrap()
}

/// Builds with one curated file replaced and checks the error message, minus the directory.
fn check_error(file: &str, content: &str, expected: &str) {
    let (_tmp, inputs) = fixture(&[(file, content)]);
    let err = build(&inputs).expect_err("a malformed row must fail the build");
    let message = err.to_string();
    let dir = format!("{}/", inputs.intel_dir.parent().unwrap().display());
    assert_eq!(message.replace(&dir, ""), expected);
    assert!(
        !inputs.intel_dir.join("derived").exists(),
        "a failed build must not write derived files"
    );
}

#[test]
fn valid_fixture_builds() {
    let (_tmp, inputs) = fixture(&[]);
    let report = build(&inputs).unwrap();
    assert_eq!(report.curated_rows["companies.csv"], 4);
    assert_eq!(report.derived_rows["derived/prefixes-v4.csv"], 2);
    assert_eq!(report.derived_rows["derived/prefixes-v6.csv"], 1);
    assert_eq!(report.derived_rows["derived/ieee-makers.csv"], 7);
    assert_eq!(
        read(&inputs, "prefixes-v4.csv"),
        "start,end,asn\n8.208.0.0,8.208.255.255,45102\n47.88.0.0,47.88.255.255,45102\n"
    );
    assert_eq!(
        read(&inputs, "prefixes-v6.csv"),
        "start,end,asn\n2400:3200::,2400:3200:ffff:ffff:ffff:ffff:ffff:ffff,45102\n"
    );
}

#[test]
fn oui_rules_cover_all_registries_and_exclusions_win() {
    let (_tmp, inputs) = fixture(&[]);
    build(&inputs).unwrap();
    let oui = read(&inputs, "oui.csv");
    let rows: Vec<(&str, &str)> = oui
        .lines()
        .skip(1)
        .map(|l| {
            let mut f = l.split(',');
            (f.next().unwrap(), f.next_back().unwrap())
        })
        .collect();
    let prefixes: Vec<&str> = rows.iter().map(|r| r.0).collect();
    // MA-L, MA-M and MA-S rows all match; whitespace in registry names is normalised.
    assert_eq!(prefixes, ["00BC60", "04F352", "70B3D5F2F", "741AE09"]);
    assert!(
        oui.contains("00BC60,MA-L,\"Hangzhou Hikvision Digital Technology Co.,Ltd.\",hikvision,")
    );
    assert!(oui.contains("741AE09,MA-M,"));
    assert!(oui.contains("70B3D5F2F,MA-S,\"Huawei Device Co., Ltd.\",huawei-device,"));
    // Honor (pattern exclusion) and 8C1F64ABC (prefix exclusion) are never attributed.
    assert!(!oui.contains("047975"));
    assert!(!oui.contains("8C1F64ABC"));
    // The whole registry is still listed as makers, Honor included.
    let makers = read(&inputs, "ieee-makers.csv");
    assert!(makers.contains("047975,MA-L,\"Honor Device Co., Ltd.\""));
    assert!(makers.contains("002272,MA-L,American Micro-Fuel Device Corp."));
}

#[test]
fn rebuilding_is_byte_identical() {
    let (_tmp, inputs) = fixture(&[]);
    build(&inputs).unwrap();
    let names = [
        "prefixes-v4.csv",
        "prefixes-v6.csv",
        "oui.csv",
        "ieee-makers.csv",
    ];
    let first: Vec<String> = names.iter().map(|n| read(&inputs, n)).collect();
    build(&inputs).unwrap();
    let second: Vec<String> = names.iter().map(|n| read(&inputs, n)).collect();
    assert_eq!(first, second);
    let leftovers: Vec<_> = fs::read_dir(inputs.intel_dir.join("derived"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
}

#[test]
fn malformed_rows_name_file_and_line() {
    let asn_bad = format!("{ASNS}45090,Tencent,alibaba-cloud,hosted,high,ip-location-db-asn,\n");
    check_error(
        "asn.csv",
        &asn_bad,
        "intel/asn.csv:3: relationship \"hosted\" is not one of operated-by, hosted-on, transit-via",
    );
    let unknown = format!(
        "{DESIGNATIONS}tencent,dod-1260h,2026-06-08,,designated,https://example.invalid,\n"
    );
    check_error(
        "designations.csv",
        &unknown,
        "intel/designations.csv:4: entity \"tencent\" is not an id in companies.csv",
    );
    let list =
        format!("{DESIGNATIONS}huawei,state-ban-texas,,,reported,https://example.invalid,\n");
    check_error(
        "designations.csv",
        &list,
        "intel/designations.csv:4: list \"state-ban-texas\" is not one of dod-1260h, fcc-covered, ndaa-889, ndaa-5949, ndaa-154, ofac-ns-cmic, bis-entity-list, reported, state-ban-<xx>",
    );
    let slug = format!("{COMPANIES}China_Telecom,China Telecom,,CN,,,,https://example.invalid\n");
    check_error(
        "companies.csv",
        &slug,
        "intel/companies.csv:6: id \"China_Telecom\" is not a lowercase slug [a-z0-9-]",
    );
    let parent = format!("{COMPANIES}ezviz,EZVIZ,,CN,hik,subsidiary,,ieee-registry\n");
    check_error(
        "companies.csv",
        &parent,
        "intel/companies.csv:6: parent \"hik\" is not an id in companies.csv",
    );
    let no_source = format!("{DOMAINS}hik-connect.com,hikvision,operated-by,device-cloud,high,\n");
    check_error(
        "domains.csv",
        &no_source,
        "intel/domains.csv:5: source is empty",
    );
    let service = format!("{DOMAINS}hik-connect.com,hikvision,operated-by,p2p,high,x\n");
    check_error(
        "domains.csv",
        &service,
        "intel/domains.csv:5: service \"p2p\" is not one of ai-model-api, cloud, cdn, payment, telemetry, device-cloud, firmware-update, dns, web, mail, messaging, video, app, ads, other",
    );
    let psl = format!("{DOMAINS}com.cn,hikvision,operated-by,web,high,x\n");
    check_error(
        "domains.csv",
        &psl,
        "intel/domains.csv:5: suffix \"com.cn\" is a public suffix",
    );
    check_error(
        "oui-rules.csv",
        "pattern,entity\n",
        "intel/oui-rules.csv:1: missing column \"source\"; expected header \"pattern,entity,source,note\"",
    );
    let fields = format!("{OUI_EXCLUSIONS}ABCDEF,x\n");
    check_error(
        "oui-exclusions.csv",
        &fields,
        "intel/oui-exclusions.csv:4: 2 fields, expected 3",
    );
    let both = format!("{OUI_EXCLUSIONS}ABCDEF,huawei,both set\n");
    check_error(
        "oui-exclusions.csv",
        &both,
        "intel/oui-exclusions.csv:4: exactly one of prefix and pattern must be set",
    );
    let cycle = "id,name,aliases,country,parent,link,ownership,source
huawei,Huawei,,CN,huawei-device,subsidiary,,x
huawei-device,Huawei Device,,CN,huawei,subsidiary,,x
hikvision,Hikvision,,CN,,,,x
alibaba-cloud,Alibaba Cloud,,CN,,,,x
";
    let (_tmp, inputs) = fixture(&[("companies.csv", cycle)]);
    let message = build(&inputs).unwrap_err().to_string();
    assert!(message.contains("has a cycle"), "{message}");
}

#[test]
fn dataset_rows_are_checked_too() {
    let (tmp, inputs) = fixture(&[]);
    fs::write(
        tmp.0.join("asn-ipv4.csv"),
        "47.88.0.0,47.87.0.0,45102,Alibaba\n",
    )
    .unwrap();
    let message = build(&inputs).unwrap_err().to_string();
    assert!(
        message.ends_with(
            "asn-ipv4.csv:1: range 47.88.0.0-47.87.0.0 is not an ordered range of one family"
        ),
        "{message}"
    );
}

/// The curated files shipped in the repository must validate: ids resolve, slugs are
/// well formed, every enumerated field is from its allowed set and every row has a source.
#[test]
fn repository_intel_is_valid() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../intel");
    let rows = validate(&dir).unwrap_or_else(|e| panic!("{e}"));
    for required in [
        "companies.csv",
        "designations.csv",
        "asn.csv",
        "domains.csv",
        "oui-rules.csv",
        "oui-exclusions.csv",
        "datasets.csv",
    ] {
        assert!(rows[required] > 0, "{required} is empty");
    }
    let companies = fs::read_to_string(dir.join("companies.csv")).unwrap();
    let ids: HashSet<&str> = companies
        .lines()
        .skip(1)
        .filter_map(|l| l.split(',').next())
        .collect();
    for id in [
        "alibaba",
        "alibaba-cloud",
        "ant-group",
        "tencent",
        "huawei",
        "zte",
        "china-telecom",
        "china-unicom",
        "china-mobile",
        "baidu",
        "hikvision",
        "dahua",
        "hytera",
        "dji",
        "quectel",
        "tp-link",
    ] {
        assert!(ids.contains(id), "stable company id {id} is missing");
    }
    assert!(!ids.contains("honor"), "honor is not huawei since 2020");
}
