//! Loading the intel snapshot: the bundled text files (compiled into the binary) or a folder
//! of the same files, plus an imported full IP → AS table when one is installed.
//!
//! **A malformed row refuses the whole snapshot, naming file and line**; nothing is
//! half-loaded. The files' formats are specified in `docs/intel-format.md`.

use super::store;
use anyhow::{bail, Context, Result};
use cordon_index::{
    AsRange, AsnRule, Attribution, Confidence, Dataset, Designation, DomainRule, EntityRow, Intel,
    IntelBuilder, MacBlock, Relationship, Status,
};
use std::borrow::Cow;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

/// The bundled files, by their path relative to the repository root.
const BUNDLED: &[(&str, &str)] = &[
    (
        "intel/companies.csv",
        include_str!("../../../../intel/companies.csv"),
    ),
    (
        "intel/designations.csv",
        include_str!("../../../../intel/designations.csv"),
    ),
    ("intel/asn.csv", include_str!("../../../../intel/asn.csv")),
    (
        "intel/domains.csv",
        include_str!("../../../../intel/domains.csv"),
    ),
    (
        "intel/datasets.csv",
        include_str!("../../../../intel/datasets.csv"),
    ),
    (
        "intel/derived/prefixes-v4.csv",
        include_str!("../../../../intel/derived/prefixes-v4.csv"),
    ),
    (
        "intel/derived/prefixes-v6.csv",
        include_str!("../../../../intel/derived/prefixes-v6.csv"),
    ),
    (
        "intel/derived/oui.csv",
        include_str!("../../../../intel/derived/oui.csv"),
    ),
    (
        "intel/derived/ieee-makers.csv",
        include_str!("../../../../intel/derived/ieee-makers.csv"),
    ),
];

/// The id under which the bundled subset of the IP → AS dataset is known.
pub const BUNDLED_IP_DATASET: &str = "ip-location-db-asn";

/// Where the text files come from.
#[derive(Clone, Debug)]
pub enum Source {
    /// Compiled into the binary.
    Bundled,
    /// A folder laid out like the repository: `DIR/intel/companies.csv`, ...
    Dir(PathBuf),
}

impl Source {
    fn read(&self, name: &str) -> Result<(String, Cow<'static, str>)> {
        match self {
            Source::Bundled => {
                let text = BUNDLED
                    .iter()
                    .find(|(n, _)| *n == name)
                    .map(|(_, t)| *t)
                    .with_context(|| format!("{name}: not bundled"))?;
                Ok((name.to_string(), Cow::Borrowed(text)))
            }
            Source::Dir(dir) => {
                let path = dir.join(name);
                let text = std::fs::read_to_string(&path)
                    .with_context(|| format!("{}: cannot read", path.display()))?;
                Ok((path.display().to_string(), Cow::Owned(text)))
            }
        }
    }
}

/// What was loaded, for `intel status` and for explanations.
pub struct Loaded {
    pub intel: Intel,
    /// The imported full IP → AS table in use, if any.
    pub import: Option<store::ImportInfo>,
    /// A problem with the imported table that made cordon fall back to the bundled one.
    pub import_error: Option<String>,
}

/// Loads the snapshot: text files from `source`, and the imported IP → AS table from
/// `data_dir` when present and valid (otherwise the bundled subset, with the reason kept).
pub fn load(source: &Source, data_dir: Option<&Path>) -> Result<Loaded> {
    let mut b = IntelBuilder::new();
    read_text(source, &mut b)?;
    let (mut import, mut import_error) = (None, None);
    if let Some(dir) = data_dir {
        match store::read(dir) {
            Ok(Some((info, table))) => {
                for (asn, name) in &table.names {
                    b.as_name(*asn, name);
                }
                b.ip_ranges(&info.dataset_id(), table.v4, table.v6);
                b.dataset(info.as_dataset());
                import = Some(info);
            }
            Ok(None) => {}
            Err(e) => import_error = Some(format!("{e:#}")),
        }
    }
    let intel = b.freeze().map_err(anyhow::Error::new)?;
    Ok(Loaded {
        intel,
        import,
        import_error,
    })
}

/// Where a row is: formatted as `file:line` only when needed (an error, a row that keeps its
/// origin for the builder's checks).
#[derive(Copy, Clone)]
struct At<'a> {
    path: &'a str,
    line: u64,
}

impl std::fmt::Display for At<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.path, self.line)
    }
}

/// One CSV file: checks the header and hands each row to `f` with its place.
fn rows(
    source: &Source,
    name: &str,
    header: &[&str],
    f: impl FnMut(At<'_>, &csv::StringRecord) -> Result<()>,
) -> Result<()> {
    let (path, text) = source.read(name)?;
    rows_in(&path, &text, header, f)
}

/// [`rows`] of a file already read.
fn rows_in(
    path: &str,
    text: &str,
    header: &[&str],
    mut f: impl FnMut(At<'_>, &csv::StringRecord) -> Result<()>,
) -> Result<()> {
    let mut r = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_reader(text.as_bytes());
    let got = r
        .headers()
        .with_context(|| format!("{path}:1: unreadable header"))?
        .clone();
    if got.iter().collect::<Vec<_>>() != header {
        bail!(
            "{path}:1: expected header {:?}, found {:?}",
            header.join(","),
            got.iter().collect::<Vec<_>>().join(",")
        );
    }
    let mut rec = csv::StringRecord::new();
    loop {
        match r.read_record(&mut rec) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line());
                bail!("{path}:{line}: {e}");
            }
        }
        let at = At {
            path,
            line: rec.position().map_or(0, |p| p.line()),
        };
        f(at, &rec).with_context(|| at.to_string())?;
    }
    Ok(())
}

fn field(rec: &csv::StringRecord, i: usize) -> &str {
    rec.get(i).unwrap_or("").trim()
}

fn required<'r>(rec: &'r csv::StringRecord, i: usize, what: &str) -> Result<&'r str> {
    match field(rec, i) {
        "" => bail!("{what} is empty"),
        v => Ok(v),
    }
}

fn relationship(s: &str) -> Result<Relationship> {
    Relationship::parse(s).with_context(|| {
        let all: Vec<_> = Relationship::ALL.iter().map(|r| r.as_str()).collect();
        format!("relationship {s:?} is not one of {}", all.join(", "))
    })
}

fn confidence(s: &str) -> Result<Confidence> {
    Confidence::parse(s)
        .with_context(|| format!("confidence {s:?} is not one of high, medium, low"))
}

fn split_list(s: &str) -> Vec<String> {
    s.split(';')
        .map(str::trim)
        .filter(|a| !a.is_empty())
        .map(String::from)
        .collect()
}

fn read_text(source: &Source, b: &mut IntelBuilder) -> Result<()> {
    rows(
        source,
        "intel/companies.csv",
        &[
            "id",
            "name",
            "aliases",
            "country",
            "parent",
            "link",
            "ownership",
            "source",
        ],
        |at, r| {
            let ownership = match field(r, 6) {
                "" => None,
                v => Some(
                    v.trim_end_matches('%')
                        .parse::<f32>()
                        .ok()
                        .filter(|p| (0.0..=100.0).contains(p))
                        .with_context(|| format!("ownership {v:?} is not a percentage"))?,
                ),
            };
            b.entity(
                &at.to_string(),
                EntityRow {
                    id: required(r, 0, "id")?.into(),
                    name: required(r, 1, "name")?.into(),
                    aliases: split_list(field(r, 2)),
                    country: field(r, 3).into(),
                    parent: field(r, 4).into(),
                    link: field(r, 5).into(),
                    ownership,
                    source: required(r, 7, "source")?.into(),
                },
            );
            Ok(())
        },
    )?;
    rows(
        source,
        "intel/designations.csv",
        &[
            "entity",
            "list",
            "edition",
            "date_added",
            "status",
            "source",
            "note",
        ],
        |at, r| {
            let list = required(r, 1, "list")?;
            if !cordon_index::is_list_id(list) {
                bail!("list {list:?} is not a known list id");
            }
            let status = Status::parse(field(r, 4)).with_context(|| {
                format!("status {:?} is not designated or reported", field(r, 4))
            })?;
            b.designation(
                &at.to_string(),
                required(r, 0, "entity")?,
                Designation {
                    entity: 0,
                    list: list.into(),
                    edition: check_date(field(r, 2))?.into(),
                    date_added: check_date(field(r, 3))?.into(),
                    status,
                    source: required(r, 5, "source")?.into(),
                    note: field(r, 6).into(),
                },
            );
            Ok(())
        },
    )?;
    rows(
        source,
        "intel/asn.csv",
        &[
            "asn",
            "as_org",
            "entity",
            "relationship",
            "confidence",
            "source",
            "note",
        ],
        |at, r| {
            let asn = parse_asn(required(r, 0, "asn")?)?;
            b.asn_rule(
                &at.to_string(),
                required(r, 2, "entity")?,
                AsnRule {
                    asn,
                    as_org: field(r, 1).into(),
                    attribution: Attribution {
                        entity: 0,
                        relationship: relationship(field(r, 3))?,
                        confidence: confidence(field(r, 4))?,
                        source: required(r, 5, "source")?.into(),
                    },
                    note: field(r, 6).into(),
                },
            );
            Ok(())
        },
    )?;
    rows(
        source,
        "intel/domains.csv",
        &[
            "suffix",
            "entity",
            "relationship",
            "service",
            "confidence",
            "source",
        ],
        |at, r| {
            b.domain_rule(
                &at.to_string(),
                required(r, 1, "entity")?,
                DomainRule {
                    suffix: required(r, 0, "suffix")?.into(),
                    service: required(r, 3, "service")?.into(),
                    attribution: Attribution {
                        entity: 0,
                        relationship: relationship(field(r, 2))?,
                        confidence: confidence(field(r, 4))?,
                        source: required(r, 5, "source")?.into(),
                    },
                },
            );
            Ok(())
        },
    )?;
    rows(
        source,
        "intel/datasets.csv",
        &["id", "name", "version", "date", "url", "licence", "credit"],
        |_, r| {
            b.dataset(Dataset {
                id: required(r, 0, "id")?.into(),
                name: field(r, 1).into(),
                version: field(r, 2).into(),
                date: check_date(field(r, 3))?.into(),
                url: field(r, 4).into(),
                licence: field(r, 5).into(),
                credit: field(r, 6).into(),
            });
            Ok(())
        },
    )?;
    // Makers first, then the blocks of concern, which replace them for the same block.
    // Tens of thousands of rows: room for them first, not a copy at each doubling.
    let (path, text) = source.read("intel/derived/ieee-makers.csv")?;
    b.reserve_mac_blocks(memchr::memchr_iter(b'\n', text.as_bytes()).count());
    rows_in(
        &path,
        &text,
        &["prefix", "registry", "organization"],
        |_, r| {
            let (prefix, bits) = mac_prefix(field(r, 0))?;
            b.mac_block(
                "",
                "",
                MacBlock {
                    prefix,
                    bits,
                    registry: field(r, 1).into(),
                    organization: field(r, 2).into(),
                    entity: None,
                    source: "ieee-registry".into(),
                },
            );
            Ok(())
        },
    )?;
    rows(
        source,
        "intel/derived/oui.csv",
        &["prefix", "registry", "organization", "entity", "source"],
        |at, r| {
            let (prefix, bits) = mac_prefix(field(r, 0))?;
            b.mac_block(
                &at.to_string(),
                required(r, 3, "entity")?,
                MacBlock {
                    prefix,
                    bits,
                    registry: field(r, 1).into(),
                    organization: field(r, 2).into(),
                    entity: None,
                    source: required(r, 4, "source")?.into(),
                },
            );
            Ok(())
        },
    )?;
    let (mut v4, mut v6) = (Vec::new(), Vec::new());
    for (file, want_v6) in [
        ("intel/derived/prefixes-v4.csv", false),
        ("intel/derived/prefixes-v6.csv", true),
    ] {
        rows(source, file, &["start", "end", "asn"], |_, r| {
            let asn = parse_asn(field(r, 2))?;
            match ip_pair(field(r, 0), field(r, 1))? {
                (IpAddr::V4(s), IpAddr::V4(e)) if !want_v6 => v4.push(AsRange {
                    start: u32::from(s),
                    end: u32::from(e),
                    asn,
                }),
                (IpAddr::V6(s), IpAddr::V6(e)) if want_v6 => v6.push(AsRange {
                    start: u128::from(s),
                    end: u128::from(e),
                    asn,
                }),
                _ => bail!("not an IPv{} range", if want_v6 { 6 } else { 4 }),
            }
            Ok(())
        })?;
    }
    b.ip_ranges(BUNDLED_IP_DATASET, v4, v6);
    Ok(())
}

/// Accepts empty or `YYYY-MM-DD`.
fn check_date(s: &str) -> Result<&str> {
    let b = s.as_bytes();
    let ok = s.is_empty()
        || (b.len() == 10
            && b[4] == b'-'
            && b[7] == b'-'
            && b.iter()
                .enumerate()
                .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit()));
    if !ok {
        bail!("date {s:?} is not YYYY-MM-DD");
    }
    Ok(s)
}

fn parse_asn(s: &str) -> Result<u32> {
    let t = s
        .strip_prefix("AS")
        .or_else(|| s.strip_prefix("as"))
        .unwrap_or(s);
    t.parse::<u32>()
        .with_context(|| format!("AS number {s:?} is not a number"))
}

fn ip_pair(s: &str, e: &str) -> Result<(IpAddr, IpAddr)> {
    let a: IpAddr = s
        .parse()
        .with_context(|| format!("{s:?} is not an IP address"))?;
    let b: IpAddr = e
        .parse()
        .with_context(|| format!("{e:?} is not an IP address"))?;
    if a > b {
        bail!("range start {a} is after its end {b}");
    }
    Ok((a, b))
}

fn mac_prefix(s: &str) -> Result<(u64, u8)> {
    cordon_index::mac::parse_prefix(s)
        .with_context(|| format!("MAC prefix {s:?} is not 6, 7 or 9 hex digits"))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) {
        let p = dir.join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }

    /// A complete, valid, tiny intel folder.
    pub(crate) fn fixture(dir: &Path) {
        write(dir, "intel/companies.csv", "id,name,aliases,country,parent,link,ownership,source\nalibaba,Alibaba Group Holding Limited,Alibaba,CN,,,,https://x\nalibaba-cloud,Alibaba Cloud,Aliyun,CN,alibaba,subsidiary,100,https://y\n");
        write(dir, "intel/designations.csv", "entity,list,edition,date_added,status,source,note\nalibaba,dod-1260h,2026-06-08,2026-06-08,designated,https://media.defense.gov/x.pdf,\n");
        write(dir, "intel/asn.csv", "asn,as_org,entity,relationship,confidence,source,note\n45102,\"Alibaba (US) Technology Co., Ltd.\",alibaba-cloud,hosted-on,high,ip-location-db-asn,\n");
        write(dir, "intel/domains.csv", "suffix,entity,relationship,service,confidence,source\naliyuncs.com,alibaba-cloud,hosted-on,cloud,high,https://z\ndashscope.aliyuncs.com,alibaba-cloud,operated-by,ai-model-api,high,https://w\n");
        write(dir, "intel/datasets.csv", "id,name,version,date,url,licence,credit\nip-location-db-asn,ip-location-db asn,2.3.2026061719,2026-06-17,https://www.npmjs.com/package/@ip-location-db/asn,CC BY 4.0,RouteViews; NRO; DB-IP (https://db-ip.com)\n");
        write(
            dir,
            "intel/derived/prefixes-v4.csv",
            "start,end,asn\n47.88.0.0,47.88.255.255,45102\n",
        );
        write(
            dir,
            "intel/derived/prefixes-v6.csv",
            "start,end,asn\n2400:3200::,2400:3200:ffff:ffff:ffff:ffff:ffff:ffff,45102\n",
        );
        write(dir, "intel/derived/oui.csv", "prefix,registry,organization,entity,source\n188219,MA-L,Alibaba Cloud Computing Ltd.,alibaba-cloud,ieee-registry\n");
        write(dir, "intel/derived/ieee-makers.csv", "prefix,registry,organization\n188219,MA-L,Alibaba Cloud Computing Ltd.\n000C29,MA-L,\"VMware, Inc.\"\n");
    }

    #[test]
    fn a_valid_folder_loads() {
        let dir = tempdir();
        fixture(&dir);
        let l = load(&Source::Dir(dir.clone()), None).unwrap();
        let m = l.intel.lookup_ip("47.88.1.2".parse().unwrap()).unwrap();
        assert_eq!(m.asn.asn, 45102);
        assert!(m.asn.rule.is_some());
        let (suffix, rule) = l.intel.lookup_domain("dashscope.aliyuncs.com").unwrap();
        assert_eq!(
            (suffix, &*rule.service),
            ("dashscope.aliyuncs.com", "ai-model-api")
        );
        let (_, block) = l.intel.lookup_mac([0x00, 0x0c, 0x29, 1, 2, 3]);
        assert_eq!(&*block.unwrap().organization, "VMware, Inc.");
        let (_, block) = l.intel.lookup_mac([0x18, 0x82, 0x19, 1, 2, 3]);
        assert!(block.unwrap().entity.is_some());
    }

    #[test]
    fn malformed_rows_name_file_and_line() {
        let cases = [
            ("intel/asn.csv", "asn,as_org,entity,relationship,confidence,source,note\n45102,x,alibaba-cloud,hosted,high,s,\n", "intel/asn.csv:2", "relationship \"hosted\" is not one of"),
            ("intel/asn.csv", "asn,as_org,entity,relationship,confidence,source,note\n1,x,alibaba-cloud,hosted-on,high,s,\nAS12x,x,alibaba-cloud,hosted-on,high,s,\n", "intel/asn.csv:3", "AS number \"AS12x\" is not a number"),
            ("intel/designations.csv", "entity,list,edition,date_added,status,source,note\nalibaba,dod-1260,2026-06-08,,designated,s,\n", "intel/designations.csv:2", "list \"dod-1260\" is not a known list id"),
            ("intel/designations.csv", "entity,list,edition,date_added,status,source,note\nnobody,dod-1260h,2026-06-08,,designated,s,\n", "intel/designations.csv:2", "unknown company id \"nobody\""),
            ("intel/domains.csv", "suffix,entity,relationship,service,confidence\n", "intel/domains.csv:1", "expected header"),
            ("intel/derived/prefixes-v4.csv", "start,end,asn\n47.88.0.0,47.87.0.0,45102\n", "prefixes-v4.csv:2", "after its end"),
            ("intel/derived/oui.csv", "prefix,registry,organization,entity,source\n18821,MA-L,x,alibaba-cloud,s\n", "oui.csv:2", "not 6, 7 or 9 hex digits"),
            ("intel/companies.csv", "id,name,aliases,country,parent,link,ownership,source\nalibaba,A,,CN,,,,s\nalibaba-cloud,B,,CN,alibaba,subsidiary,150,s\n", "companies.csv:3", "not a percentage"),
        ];
        for (file, text, want_origin, want_msg) in cases {
            let dir = tempdir();
            fixture(&dir);
            write(&dir, file, text);
            let e = format!(
                "{:#}",
                load(&Source::Dir(dir.clone()), None).err().expect(file)
            );
            assert!(e.contains(want_origin), "{file}: {e}");
            assert!(e.contains(want_msg), "{file}: {e}");
        }
    }

    #[test]
    fn the_bundled_snapshot_loads() {
        let l = load(&Source::Bundled, None).unwrap();
        assert!(l.import.is_none());
    }

    pub(crate) fn tempdir() -> PathBuf {
        use std::sync::atomic::{AtomicU32, Ordering};
        static N: AtomicU32 = AtomicU32::new(0);
        let d = std::env::temp_dir().join(format!(
            "cordon-test-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    /// The /24 filter scans rely on never clears an address that an AS of concern holds:
    /// random addresses and both ends of every bundled range are checked against the table.
    #[test]
    fn the_concern_filter_never_hides_an_as_of_concern() {
        let intel = load(&Source::Bundled, None).unwrap().intel;
        let of_concern = |a: u32| {
            intel
                .lookup_v4(a)
                .is_some_and(|i| intel.asns[i as usize].rule.is_some())
        };
        let mut x = 0x9e37_79b9_u32;
        let (mut cleared, mut cleared16) = (0, 0);
        for _ in 0..2_000_000 {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            if !intel.may_be_of_concern_v4(x) {
                cleared += 1;
                assert!(!of_concern(x), "{}", std::net::Ipv4Addr::from(x));
            }
            if !intel.may_be_of_concern_v4_16(x) {
                cleared16 += 1;
                assert!(!of_concern(x), "{}", std::net::Ipv4Addr::from(x));
            }
        }
        assert!(
            cleared > 1_000_000 && cleared16 > 1_000_000 && cleared >= cleared16,
            "the filter clears most of the space: {cleared}, {cleared16} by the /16 level"
        );
        let text = std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../intel/derived/prefixes-v4.csv"),
        )
        .unwrap();
        let mut checked = 0;
        for line in text.lines().skip(1) {
            for f in line.split(',').take(2) {
                let a: std::net::Ipv4Addr = f.parse().unwrap();
                let a = u32::from(a);
                assert!(!of_concern(a) || intel.may_be_of_concern_v4(a), "{f}");
                assert!(!of_concern(a) || intel.may_be_of_concern_v4_16(a), "{f}");
                checked += 1;
            }
        }
        assert!(checked > 20_000);
        assert!(intel.may_be_of_concern_v4(u32::from(std::net::Ipv4Addr::new(47, 88, 1, 2))));
    }
}
