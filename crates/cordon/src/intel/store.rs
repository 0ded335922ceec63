//! The imported full IP → AS table: parsing public datasets and keeping the result in the
//! data folder.
//!
//! `cordon intel import` reads one or more files (ip-location-db CSV, iptoasn TSV, MaxMind
//! GeoLite2-ASN mmdb), checks every row, and only then replaces `ip-asn.bin` in the data
//! folder, by writing a temporary file and renaming it: **a missing or corrupt dataset is
//! refused and the previous table stays in use.** The binary file carries a magic, a format
//! version and a checksum; a table that fails them is reported and not used.

use anyhow::{bail, Context, Result};
use cordon_index::{AsRange, Dataset};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

const MAGIC: &[u8; 8] = b"CORDONIP";
const VERSION: u32 = 1;
const TABLE: &str = "ip-asn.bin";
const INFO: &str = "ip-asn.json";
/// Organisation names longer than this are cut (they are display text).
const MAX_NAME: usize = 200;

/// About an imported table: shown by `intel status` and in explanations.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ImportInfo {
    /// Dataset name as detected (`ip-location-db`, `iptoasn`, `maxmind-geolite2-asn`).
    pub format: String,
    /// Files imported, as given.
    pub files: Vec<String>,
    /// Date of the dataset, given by the user or taken from the files' modification time.
    pub date: String,
    /// When the import ran (YYYY-MM-DD).
    pub imported: String,
    pub v4_ranges: usize,
    pub v6_ranges: usize,
    pub asns: usize,
}

impl ImportInfo {
    pub fn dataset_id(&self) -> String {
        format!("import:{}", self.format)
    }
    pub fn as_dataset(&self) -> Dataset {
        let (name, url, licence, credit) = match self.format.as_str() {
            "ip-location-db" => (
                "ip-location-db asn (imported full table)",
                "https://www.npmjs.com/package/@ip-location-db/asn",
                "CC BY 4.0",
                "RouteViews; NRO; DB-IP (https://db-ip.com)",
            ),
            "iptoasn" => (
                "iptoasn (imported full table)",
                "https://iptoasn.com",
                "PDDL",
                "iptoasn.com",
            ),
            _ => (
                "MaxMind GeoLite2 ASN (imported)",
                "https://www.maxmind.com",
                "GeoLite2 EULA",
                "MaxMind",
            ),
        };
        Dataset {
            id: self.dataset_id().into(),
            name: name.into(),
            version: self.files.join(" ").into(),
            date: self.date.as_str().into(),
            url: url.into(),
            licence: licence.into(),
            credit: credit.into(),
        }
    }
}

/// A parsed table, ready for the index builder.
#[derive(Default, Debug, PartialEq)]
pub struct Table {
    pub v4: Vec<AsRange<u32>>,
    pub v6: Vec<AsRange<u128>>,
    pub names: BTreeMap<u32, String>,
}

/// The folder where imported data lives: `$CORDON_DATA_DIR`, else `$XDG_DATA_HOME/cordon`,
/// else `~/.local/share/cordon`.
pub fn default_data_dir() -> Option<PathBuf> {
    if let Some(d) = std::env::var_os("CORDON_DATA_DIR") {
        return Some(PathBuf::from(d));
    }
    if let Some(d) = std::env::var_os("XDG_DATA_HOME") {
        return Some(PathBuf::from(d).join("cordon"));
    }
    std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share/cordon"))
}

/// Parses the given dataset files into one table. Every file must parse completely.
pub fn parse_files(files: &[PathBuf]) -> Result<(Table, String)> {
    let mut table = Table::default();
    let mut format: Option<&'static str> = None;
    for path in files {
        let bytes =
            std::fs::read(path).with_context(|| format!("{}: cannot read", path.display()))?;
        if bytes.is_empty() {
            bail!("{}: file is empty", path.display());
        }
        let f = if bytes.starts_with(b"\x1f\x8b") {
            bail!(
                "{}: gzip-compressed; decompress it first (gunzip)",
                path.display()
            );
        } else if find(&bytes, b"\xab\xcd\xefMaxMind.com").is_some() {
            bail!(
                "{}: MaxMind mmdb import is not supported yet; export it to CSV or use ip-location-db / iptoasn",
                path.display()
            );
        } else {
            parse_text(path, &bytes, &mut table)?
        };
        if format.is_some_and(|g| g != f) {
            bail!(
                "{}: is {f}, but earlier files were {}",
                path.display(),
                format.unwrap_or("")
            );
        }
        format = Some(f);
    }
    if table.v4.is_empty() && table.v6.is_empty() {
        bail!(
            "no ranges found in {}",
            files
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    Ok((table, format.unwrap_or("unknown").to_string()))
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// ip-location-db CSV (`start,end,asn,org`, addresses as text or as integers) or iptoasn TSV
/// (`start\tend\tasn\tcountry\torg`).
fn parse_text(path: &Path, bytes: &[u8], table: &mut Table) -> Result<&'static str> {
    let text = std::str::from_utf8(bytes).map_err(|e| {
        anyhow::anyhow!(
            "{}: byte {}: not UTF-8 text",
            path.display(),
            e.valid_up_to()
        )
    })?;
    let first = text.lines().next().unwrap_or("");
    let tsv = first.contains('\t');
    let format = if tsv { "iptoasn" } else { "ip-location-db" };
    let mut offset = 0usize;
    for (i, line) in text.split_inclusive('\n').enumerate() {
        let at = offset;
        offset += line.len();
        let line = line.trim_end_matches(['\n', '\r']);
        if line.is_empty() {
            continue;
        }
        let ctx = || format!("{}:{} (byte {at})", path.display(), i + 1);
        let (s, e, asn, name) = if tsv {
            let mut f = line.split('\t');
            let (s, e, a) = (f.next(), f.next(), f.next());
            let _country = f.next();
            (s, e, a, f.next().unwrap_or(""))
        } else {
            let mut f = line.splitn(4, ',');
            let (s, e, a) = (f.next(), f.next(), f.next());
            (s, e, a, f.next().unwrap_or("").trim_matches('"'))
        };
        let (Some(s), Some(e), Some(asn)) = (s, e, asn) else {
            bail!("{}: expected start, end and AS number", ctx());
        };
        let asn: u32 = match asn.trim().parse() {
            Ok(a) => a,
            Err(_) if i == 0 => continue, // a header row
            Err(_) => bail!("{}: AS number {asn:?} is not a number", ctx()),
        };
        if asn == 0 {
            continue; // iptoasn's "not routed"
        }
        let (s, e) = match (parse_addr(s), parse_addr(e)) {
            (Some(s), Some(e)) => (s, e),
            _ if i == 0 => continue,
            _ => bail!("{}: {s:?} - {e:?} is not an address range", ctx()),
        };
        match (s, e) {
            (Addr::V4(s), Addr::V4(e)) if s <= e => table.v4.push(AsRange {
                start: s,
                end: e,
                asn,
            }),
            (Addr::V6(s), Addr::V6(e)) if s <= e => table.v6.push(AsRange {
                start: s,
                end: e,
                asn,
            }),
            _ => bail!(
                "{}: range start is after its end, or mixes IPv4 and IPv6",
                ctx()
            ),
        }
        if !name.is_empty() {
            let mut n = name.to_string();
            n.truncate(n.floor_char_boundary(MAX_NAME));
            table.names.entry(asn).or_insert(n);
        }
    }
    Ok(format)
}

#[derive(Copy, Clone)]
enum Addr {
    V4(u32),
    V6(u128),
}

fn parse_addr(s: &str) -> Option<Addr> {
    let s = s.trim();
    if let Ok(ip) = s.parse::<IpAddr>() {
        return Some(match ip {
            IpAddr::V4(a) => Addr::V4(a.into()),
            IpAddr::V6(a) => Addr::V6(a.into()),
        });
    }
    // ip-location-db's "-num" files: integers. Values above 2^32 - 1 are IPv6.
    let n: u128 = s.parse().ok()?;
    Some(match u32::try_from(n) {
        Ok(v) => Addr::V4(v),
        Err(_) => Addr::V6(n),
    })
}

/// FNV-1a, 64-bit: detects truncation and bit rot in the stored table.
fn checksum(data: &[u8]) -> u64 {
    data.iter().fold(0xcbf29ce484222325u64, |h, &b| {
        (h ^ b as u64).wrapping_mul(0x100000001b3)
    })
}

fn encode(table: &Table) -> Vec<u8> {
    let mut body = Vec::with_capacity(table.v4.len() * 12 + table.v6.len() * 36 + 64);
    body.extend_from_slice(&(table.v4.len() as u64).to_le_bytes());
    body.extend_from_slice(&(table.v6.len() as u64).to_le_bytes());
    body.extend_from_slice(&(table.names.len() as u64).to_le_bytes());
    for r in &table.v4 {
        body.extend_from_slice(&r.start.to_le_bytes());
        body.extend_from_slice(&r.end.to_le_bytes());
        body.extend_from_slice(&r.asn.to_le_bytes());
    }
    for r in &table.v6 {
        body.extend_from_slice(&r.start.to_le_bytes());
        body.extend_from_slice(&r.end.to_le_bytes());
        body.extend_from_slice(&r.asn.to_le_bytes());
    }
    for (asn, name) in &table.names {
        body.extend_from_slice(&asn.to_le_bytes());
        body.extend_from_slice(&(name.len() as u16).to_le_bytes());
        body.extend_from_slice(name.as_bytes());
    }
    let mut out = Vec::with_capacity(body.len() + 20);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&VERSION.to_le_bytes());
    out.extend_from_slice(&checksum(&body).to_le_bytes());
    out.extend_from_slice(&body);
    out
}

/// A little reader that refuses to read past the end.
struct Cursor<'a> {
    data: &'a [u8],
    at: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let end = self.at.checked_add(n).filter(|&e| e <= self.data.len());
        let Some(end) = end else {
            bail!("truncated at byte {}", self.at)
        };
        let s = &self.data[self.at..end];
        self.at = end;
        Ok(s)
    }
    fn u16(&mut self) -> Result<u16> {
        Ok(u16::from_le_bytes(self.take(2)?.try_into()?))
    }
    fn u32(&mut self) -> Result<u32> {
        Ok(u32::from_le_bytes(self.take(4)?.try_into()?))
    }
    fn u64(&mut self) -> Result<u64> {
        Ok(u64::from_le_bytes(self.take(8)?.try_into()?))
    }
    fn u128(&mut self) -> Result<u128> {
        Ok(u128::from_le_bytes(self.take(16)?.try_into()?))
    }
}

fn decode(data: &[u8]) -> Result<Table> {
    if data.len() < 20 || &data[..8] != MAGIC {
        bail!("not a cordon IP table (bad magic)");
    }
    let version = u32::from_le_bytes(data[8..12].try_into()?);
    if version != VERSION {
        bail!("format version {version}, this cordon reads {VERSION}: import the dataset again");
    }
    let sum = u64::from_le_bytes(data[12..20].try_into()?);
    let body = &data[20..];
    if checksum(body) != sum {
        bail!("checksum mismatch: the file is corrupt or truncated");
    }
    let mut c = Cursor { data: body, at: 0 };
    let (n4, n6, nn) = (c.u64()? as usize, c.u64()? as usize, c.u64()? as usize);
    // Counts are checked against the bytes actually present before anything is allocated.
    let need = n4
        .checked_mul(12)
        .and_then(|a| n6.checked_mul(36).and_then(|b| a.checked_add(b)));
    if need.is_none_or(|n| n > body.len()) {
        bail!("range counts exceed the file size");
    }
    let mut t = Table {
        v4: Vec::with_capacity(n4),
        v6: Vec::with_capacity(n6),
        names: BTreeMap::new(),
    };
    for _ in 0..n4 {
        t.v4.push(AsRange {
            start: c.u32()?,
            end: c.u32()?,
            asn: c.u32()?,
        });
    }
    for _ in 0..n6 {
        t.v6.push(AsRange {
            start: c.u128()?,
            end: c.u128()?,
            asn: c.u32()?,
        });
    }
    for _ in 0..nn {
        let asn = c.u32()?;
        let len = c.u16()? as usize;
        let name = std::str::from_utf8(c.take(len)?).context("organisation name is not UTF-8")?;
        t.names.insert(asn, name.to_string());
    }
    if c.at != body.len() {
        bail!("{} bytes of trailing data", body.len() - c.at);
    }
    Ok(t)
}

/// Reads the imported table, if one is installed. `Ok(None)`: nothing imported.
pub fn read(dir: &Path) -> Result<Option<(ImportInfo, Table)>> {
    let (tp, ip) = (dir.join(TABLE), dir.join(INFO));
    if !tp.exists() {
        return Ok(None);
    }
    let data = std::fs::read(&tp).with_context(|| format!("{}: cannot read", tp.display()))?;
    let table = decode(&data).with_context(|| format!("{}", tp.display()))?;
    let info: ImportInfo = serde_json::from_slice(
        &std::fs::read(&ip).with_context(|| format!("{}: cannot read", ip.display()))?,
    )
    .with_context(|| format!("{}: not valid import metadata", ip.display()))?;
    Ok(Some((info, table)))
}

/// Replaces the installed table, atomically. The table must have been fully parsed.
pub fn write(dir: &Path, info: &ImportInfo, table: &Table) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("{}: cannot create", dir.display()))?;
    let put = |name: &str, bytes: &[u8]| -> Result<()> {
        let tmp = dir.join(format!(".{name}.tmp"));
        std::fs::write(&tmp, bytes).with_context(|| format!("{}: cannot write", tmp.display()))?;
        std::fs::rename(&tmp, dir.join(name))
            .with_context(|| format!("{}: cannot replace", dir.join(name).display()))
    };
    // Metadata first: a crash between the two renames leaves a table whose metadata already
    // describes it, or the old pair if the first rename did not happen.
    put(INFO, &serde_json::to_vec_pretty(info)?)?;
    put(TABLE, &encode(table))
}

/// Removes the installed table, going back to the bundled subset.
pub fn remove(dir: &Path) -> Result<bool> {
    let tp = dir.join(TABLE);
    if !tp.exists() {
        return Ok(false);
    }
    std::fs::remove_file(&tp).with_context(|| format!("{}: cannot remove", tp.display()))?;
    let _ = std::fs::remove_file(dir.join(INFO));
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::intel::load::tests::tempdir;

    #[test]
    fn csv_and_tsv_parse_and_round_trip() {
        let dir = tempdir();
        let csv = dir.join("asn-ipv4.csv");
        std::fs::write(&csv, "1.0.0.0,1.0.0.255,13335,\"Cloudflare, Inc.\"\n47.88.0.0,47.88.255.255,45102,\"Alibaba (US) Technology Co., Ltd.\"\n2400:3200::,2400:3200:ffff:ffff:ffff:ffff:ffff:ffff,37963,Hangzhou Alibaba Advertising Co.\n").unwrap();
        let (t, f) = parse_files(&[csv]).unwrap();
        assert_eq!(f, "ip-location-db");
        assert_eq!((t.v4.len(), t.v6.len()), (2, 1));
        assert_eq!(t.names[&13335], "Cloudflare, Inc.");
        let back = decode(&encode(&t)).unwrap();
        assert_eq!(back, t);

        let tsv = dir.join("ip2asn-v4.tsv");
        std::fs::write(&tsv, "1.0.0.0\t1.0.0.255\t13335\tUS\tCLOUDFLARENET\n1.0.1.0\t1.0.3.255\t0\tNone\tNot routed\n").unwrap();
        let (t, f) = parse_files(&[tsv]).unwrap();
        assert_eq!((f.as_str(), t.v4.len()), ("iptoasn", 1));
    }

    #[test]
    fn bad_datasets_are_refused_with_place() {
        let dir = tempdir();
        let cases: [(&str, &[u8], &str); 5] = [
            ("empty.csv", b"", "file is empty"),
            (
                "bad-asn.csv",
                b"1.0.0.0,1.0.0.255,13335,x\n1.0.1.0,1.0.1.255,AS1x,y\n",
                "bad-asn.csv:2 (byte 26): AS number",
            ),
            (
                "bad-range.csv",
                b"1.0.0.0,1.0.0.255,1,x\n1.0.1.9,1.0.1.0,2,y\n",
                "bad-range.csv:2",
            ),
            ("gz.csv", b"\x1f\x8b\x08\x00", "gzip"),
            ("header-only.csv", b"start,end,asn,org\n", "no ranges found"),
        ];
        for (name, bytes, want) in cases {
            let p = dir.join(name);
            std::fs::write(&p, bytes).unwrap();
            let e = format!("{:#}", parse_files(&[p]).expect_err(name));
            assert!(e.contains(want), "{name}: {e}");
        }
    }

    #[test]
    fn corrupt_store_is_detected() {
        let t = Table {
            v4: vec![AsRange {
                start: 1,
                end: 2,
                asn: 3,
            }],
            v6: vec![],
            names: [(3, "x".to_string())].into(),
        };
        let good = encode(&t);
        assert!(decode(&good).is_ok());
        let mut flipped = good.clone();
        let n = flipped.len();
        flipped[n - 1] ^= 1;
        assert!(format!("{:#}", decode(&flipped).unwrap_err()).contains("checksum"));
        assert!(decode(&good[..good.len() - 3]).is_err());
        assert!(format!("{:#}", decode(b"NOTCORDONxxxxxxxxxxxx").unwrap_err()).contains("magic"));
    }
}
