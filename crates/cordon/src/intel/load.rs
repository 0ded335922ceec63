//! Loading the intel snapshot: the bundled text files (compiled into the binary) or a folder
//! of the same files, plus an imported full IP → AS table when one is installed.
//!
//! **A malformed row refuses the whole snapshot, naming file and line**; nothing is
//! half-loaded. The files' formats are specified in `docs/intel-format.md`.

use super::schema::{self, Text};
use super::store;
use crate::error::FileError;
use anyhow::Result;
use cordon_index::{Intel, IntelBuilder, MacBlock};
use std::borrow::Cow;
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
    /// A file by its path inside the intel folder (`companies.csv`, `derived/oui.csv`).
    fn read(&self, name: &str) -> Result<Text, FileError> {
        match self {
            Source::Bundled => {
                let path = format!("intel/{name}");
                match BUNDLED.iter().find(|(n, _)| *n == path) {
                    Some((_, text)) => Ok(Text {
                        path: path.into(),
                        text: Cow::Borrowed(text),
                    }),
                    None => Err(FileError::new(Path::new(&path), None, "not bundled".into())),
                }
            }
            Source::Dir(dir) => Text::read(dir.join("intel").join(name)),
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
    read_text(source, &mut b).map_err(anyhow::Error::new)?;
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

/// The text files, through the one reader of them ([`schema`]), into the builder.
fn read_text(source: &Source, b: &mut IntelBuilder) -> Result<(), FileError> {
    schema::Curated::read(|name| source.read(name))?.add_to(b);
    // Makers first, then the blocks of concern, which replace them for the same block.
    // Tens of thousands of rows: room for them first, not a copy at each doubling.
    let makers = source.read(schema::IEEE_MAKERS)?;
    b.reserve_mac_blocks(memchr::memchr_iter(b'\n', makers.text.as_bytes()).count());
    for (file, with_entity) in [(makers, false), (source.read(schema::OUI)?, true)] {
        schema::read_mac_blocks(&file, with_entity, |line, r| {
            let block = MacBlock {
                prefix: r.prefix,
                bits: r.bits,
                registry: r.registry.into(),
                organization: r.organization.into(),
                entity: None,
                source: if with_entity {
                    r.source
                } else {
                    "ieee-registry"
                }
                .into(),
            };
            if with_entity {
                b.mac_block(&file.origin(line), r.entity, block);
            } else {
                b.mac_block("", "", block);
            }
        })?;
    }
    let (mut v4, mut v6) = (Vec::new(), Vec::new());
    for (name, want_v6) in [(schema::PREFIXES_V4, false), (schema::PREFIXES_V6, true)] {
        schema::read_prefixes(&source.read(name)?, want_v6, &mut v4, &mut v6)?;
    }
    b.ip_ranges(BUNDLED_IP_DATASET, v4, v6);
    Ok(())
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
            ("intel/asn.csv", "asn,as_org,entity,relationship,confidence,source,note\n1,x,alibaba-cloud,hosted-on,high,s,\nAS12x,x,alibaba-cloud,hosted-on,high,s,\n", "intel/asn.csv:3", "asn \"AS12x\" is not a number"),
            ("intel/designations.csv", "entity,list,edition,date_added,status,source,note\nalibaba,dod-1260,2026-06-08,,designated,s,\n", "intel/designations.csv:2", "list \"dod-1260\" is not one of"),
            ("intel/designations.csv", "entity,list,edition,date_added,status,source,note\nnobody,dod-1260h,2026-06-08,,designated,s,\n", "intel/designations.csv:2", "entity \"nobody\" is not an id in companies.csv"),
            ("intel/domains.csv", "suffix,entity,relationship,service,confidence\n", "intel/domains.csv:1", "missing column \"source\""),
            ("intel/derived/prefixes-v4.csv", "start,end,asn\n47.88.0.0,47.87.0.0,45102\n", "prefixes-v4.csv:2", "after its end"),
            ("intel/derived/oui.csv", "prefix,registry,organization,entity,source\n18821,MA-L,x,alibaba-cloud,s\n", "oui.csv:2", "not 6, 7 or 9 hex digits"),
            ("intel/companies.csv", "id,name,aliases,country,parent,link,ownership,source\nalibaba,A,,CN,,,,s\nalibaba-cloud,B,,CN,alibaba,subsidiary,150,s\n", "companies.csv:3", "is not a percent from 0 to 100"),
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
