//! The imported full IP → AS table: parsing public datasets and keeping the result in the
//! data folder.
//!
//! `cordon intel import` reads one or more files (ip-location-db CSV, iptoasn TSV, MaxMind
//! GeoLite2-ASN mmdb), checks every row, and only then replaces `ip-asn.bin` in the data
//! folder: **a missing or corrupt dataset is refused and the previous table stays in use.**
//!
//! `ip-asn.bin` is one file holding the table and its metadata (dataset, files, date,
//! counts) under a magic, a format version and a checksum; a table that fails them is
//! reported and not used. An import writes it to a temporary file of its own, syncs it to
//! the disk, renames it over the old one and syncs the folder, all while holding the data
//! folder's lock (`.lock`), which `intel reset` takes too: a crash leaves the old table or
//! the new one, whole, and two imports cannot interleave. Tables written before the
//! metadata moved into the file (format version 1, metadata in `ip-asn.json`) still load.

use anyhow::{bail, Context, Result};
use cordon_index::{AsRange, Dataset};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

const MAGIC: &[u8; 8] = b"CORDONIP";
/// Format version 2: the import metadata inside the checksummed file.
const VERSION: u32 = 2;
/// Format version 1: the table alone, its metadata in `INFO` beside it. Still read.
const LEGACY_VERSION: u32 = 1;
const TABLE: &str = "ip-asn.bin";
/// Version 1's metadata file; removed when a version 2 table is installed.
const INFO: &str = "ip-asn.json";
/// The data folder's lock file (see [`lock`]).
const LOCK: &str = ".lock";
/// Temporary files of an import: `.ip-asn.bin.<pid>-<nonce>-<n>.tmp`.
const TEMP_PREFIX: &str = ".ip-asn.bin.";
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

/// Parses the given dataset files into one table, sorted and disjoint. Every file must parse
/// completely.
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
        } else if find(&bytes, MMDB_MARKER).is_some() {
            parse_mmdb(path, bytes, &mut table)?
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
    table.v4 = disjoint(&table.v4);
    table.v6 = disjoint(&table.v6);
    Ok((table, format.unwrap_or("unknown").to_string()))
}

/// The ranges sorted and disjoint, as the index sees them (where two overlap the smaller
/// wins; `cordon_index::ranges::flatten`): the form the store keeps and a load checks.
/// Datasets are usually in this form already.
fn disjoint<A: cordon_index::ranges::Addr>(ranges: &[AsRange<A>]) -> Vec<AsRange<A>> {
    let rows: Vec<(A, A, u32)> = ranges.iter().map(|r| (r.start, r.end, r.asn)).collect();
    cordon_index::ranges::flatten(&rows)
        .into_iter()
        .map(|s| AsRange {
            start: s.start,
            end: s.end,
            asn: s.value,
        })
        .collect()
}

/// Starts the metadata section of every MaxMind DB file.
const MMDB_MARKER: &[u8] = b"\xab\xcd\xefMaxMind.com";

/// IPv6 prefixes that IPv6 MaxMind databases point at their IPv4 subtree: IPv4-mapped
/// (`::ffff:0:0/96`), Teredo (`2001::/32`) and 6to4 (`2002::/16`). The reader already skips
/// true aliases; a network inside them that carries its own record is skipped too, so no
/// IPv4 data is imported twice under IPv6 names.
const MMDB_V4_ALIASES: [(u128, u8); 3] = [
    (0xffff_0000_0000, 96),
    (0x2001_0000 << 96, 32),
    (0x2002 << 112, 16),
];

/// A MaxMind GeoLite2-ASN (or GeoIP2-ISP) database: every network with an
/// `autonomous_system_number`, the IPv4 subtree once and then IPv6.
fn parse_mmdb(path: &Path, bytes: Vec<u8>, table: &mut Table) -> Result<&'static str> {
    use maxminddb::{geoip2, Reader, WithinOptions};
    let bad = |e: maxminddb::MaxMindDbError| {
        anyhow::anyhow!("{}: not a valid MaxMind database: {e}", path.display())
    };
    let reader = Reader::from_source(bytes).map_err(bad)?;
    let kind = reader.metadata().database_type.clone();
    let (v4_before, v6_before) = (table.v4.len(), table.v6.len());
    for item in reader.networks(WithinOptions::default()).map_err(bad)? {
        let item = item.map_err(bad)?;
        let net = item.network().map_err(bad)?;
        let Some(asn) = item.decode::<geoip2::Asn>().map_err(|e| {
            anyhow::anyhow!(
                "{}: network {net}: record is not an AS record: {e}",
                path.display()
            )
        })?
        else {
            continue;
        };
        let Some(number) = asn.autonomous_system_number.filter(|&n| n != 0) else {
            continue;
        };
        let prefix = u32::from(net.prefix());
        match net.ip() {
            IpAddr::V4(a) => {
                let start = u32::from(a);
                let end = start | u32::MAX.checked_shr(prefix).unwrap_or(0);
                push_merged(&mut table.v4, start, end, number, |e: u32| e.checked_add(1));
            }
            IpAddr::V6(a) => {
                let start = u128::from(a);
                let end = start | u128::MAX.checked_shr(prefix).unwrap_or(0);
                let aliased = MMDB_V4_ALIASES.iter().any(|&(base, len)| {
                    prefix >= u32::from(len) && start >> (128 - len) == base >> (128 - len)
                });
                if aliased {
                    continue;
                }
                push_merged(&mut table.v6, start, end, number, |e: u128| {
                    e.checked_add(1)
                });
            }
        }
        if let Some(org) = asn.autonomous_system_organization.filter(|o| !o.is_empty()) {
            table
                .names
                .entry(number)
                .or_insert_with(|| org[..org.floor_char_boundary(MAX_NAME)].to_string());
        }
    }
    if table.v4.len() == v4_before && table.v6.len() == v6_before {
        bail!(
            "{}: no network in this {kind:?} database has an autonomous_system_number; expected GeoLite2-ASN",
            path.display()
        );
    }
    Ok("maxmind-geolite2-asn")
}

/// Appends a range, joining it to the previous one when they touch and share the AS (the
/// reader yields networks in address order, and mmdb trees split ranges into many CIDRs).
fn push_merged<T: Copy + PartialEq>(
    ranges: &mut Vec<AsRange<T>>,
    start: T,
    end: T,
    asn: u32,
    next: fn(T) -> Option<T>,
) {
    if let Some(last) = ranges.last_mut() {
        if last.asn == asn && next(last.end) == Some(start) {
            last.end = end;
            return;
        }
    }
    ranges.push(AsRange { start, end, asn });
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

/// The ranges and names, as both format versions lay them out.
fn encode_table(table: &Table, body: &mut Vec<u8>) {
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
}

/// Magic, version, checksum of the body, body.
fn frame(version: u32, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len() + 20);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&version.to_le_bytes());
    out.extend_from_slice(&checksum(body).to_le_bytes());
    out.extend_from_slice(body);
    out
}

/// The stored form (format version 2): the metadata as JSON, length first, then the table,
/// all under one checksum.
fn encode(info: &ImportInfo, table: &Table) -> Vec<u8> {
    let json = serde_json::to_vec(info).expect("import metadata serialises");
    let mut body =
        Vec::with_capacity(4 + json.len() + table.v4.len() * 12 + table.v6.len() * 36 + 64);
    body.extend_from_slice(&(json.len() as u32).to_le_bytes());
    body.extend_from_slice(&json);
    encode_table(table, &mut body);
    frame(VERSION, &body)
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

/// Decodes a stored table. Format version 2 carries its metadata (`Some`); version 1, written
/// by cordon before the metadata moved into the file, has it in `ip-asn.json` beside it.
fn decode(data: &[u8]) -> Result<(Option<ImportInfo>, Table)> {
    if data.len() < 20 || &data[..8] != MAGIC {
        bail!("not a cordon IP table (bad magic)");
    }
    let version = u32::from_le_bytes(data[8..12].try_into()?);
    if version != VERSION && version != LEGACY_VERSION {
        bail!("format version {version}, this cordon reads {LEGACY_VERSION} and {VERSION}: import the dataset again");
    }
    let sum = u64::from_le_bytes(data[12..20].try_into()?);
    let body = &data[20..];
    if checksum(body) != sum {
        bail!("checksum mismatch: the file is corrupt or truncated");
    }
    decode_body(version, body).context("table damaged")
}

/// The body of a table whose checksum is right: its structure, then the checks the
/// importer made, since a checksum proves only that the file is what was written.
fn decode_body(version: u32, body: &[u8]) -> Result<(Option<ImportInfo>, Table)> {
    let mut c = Cursor { data: body, at: 0 };
    let info = if version == LEGACY_VERSION {
        None
    } else {
        let len = c.u32()? as usize;
        let info: ImportInfo =
            serde_json::from_slice(c.take(len)?).context("its import metadata is not valid")?;
        Some(info)
    };
    let (n4, n6, nn) = (c.u64()? as usize, c.u64()? as usize, c.u64()? as usize);
    // Counts are checked against the bytes actually present before anything is allocated.
    let need = n4
        .checked_mul(12)
        .and_then(|a| n6.checked_mul(36).and_then(|b| a.checked_add(b)));
    if need.is_none_or(|n| n > body.len() - c.at) {
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
    let mut last = None;
    for _ in 0..nn {
        let asn = c.u32()?;
        let len = c.u16()? as usize;
        let name = std::str::from_utf8(c.take(len)?).context("organisation name is not UTF-8")?;
        // The importer writes names in AS order, one each, none empty, none over MAX_NAME.
        if last.is_some_and(|l| l >= asn) {
            bail!("organisation names out of order or repeated at AS{asn}");
        }
        last = Some(asn);
        if name.is_empty() || len > MAX_NAME {
            bail!(
                "organisation name of AS{asn} is {len} bytes (the importer keeps 1 to {MAX_NAME})"
            );
        }
        t.names.insert(asn, name.to_string());
    }
    if c.at != body.len() {
        bail!("{} bytes of trailing data", body.len() - c.at);
    }
    // Version 1 kept ranges as the datasets gave them; version 2 keeps them sorted and
    // disjoint (see `disjoint`).
    let ordered = version != LEGACY_VERSION;
    check_ranges(&t.v4, "IPv4", ordered, |a| {
        std::net::Ipv4Addr::from(a).to_string()
    })?;
    check_ranges(&t.v6, "IPv6", ordered, |a| {
        std::net::Ipv6Addr::from(a).to_string()
    })?;
    if let Some(i) = &info {
        if (i.v4_ranges, i.v6_ranges, i.asns) != (t.v4.len(), t.v6.len(), t.names.len()) {
            bail!(
                "its metadata counts {} IPv4 ranges, {} IPv6 ranges and {} AS names; it holds {}, {} and {}",
                i.v4_ranges, i.v6_ranges, i.asns, t.v4.len(), t.v6.len(), t.names.len()
            );
        }
        for (what, d) in [("date", &i.date), ("import date", &i.imported)] {
            if crate::date::parse_exact(d).is_none() {
                bail!("its {what} {d:?} is not YYYY-MM-DD");
            }
        }
    }
    Ok((info, t))
}

/// What the importer guarantees of every range: start not after end, an AS number other
/// than 0; and, when `ordered`, each range after the one before it, not overlapping it.
fn check_ranges<A: Copy + Ord>(
    ranges: &[AsRange<A>],
    family: &str,
    ordered: bool,
    show: impl Fn(A) -> String,
) -> Result<()> {
    for (i, r) in ranges.iter().enumerate() {
        if r.start > r.end {
            bail!(
                "{family} range {} ({} - {}) starts after its end",
                i + 1,
                show(r.start),
                show(r.end)
            );
        }
        if r.asn == 0 {
            bail!(
                "{family} range {} ({}) has AS number 0",
                i + 1,
                show(r.start)
            );
        }
        if ordered && i > 0 && ranges[i - 1].end >= r.start {
            bail!(
                "{family} ranges {} and {} ({} and {}) overlap or are out of order",
                i,
                i + 1,
                show(ranges[i - 1].start),
                show(r.start)
            );
        }
    }
    Ok(())
}

/// Reads the imported table, if one is installed. `Ok(None)`: nothing imported.
///
/// Needs no lock: the table file is only ever replaced whole, by a rename.
pub fn read(dir: &Path) -> Result<Option<(ImportInfo, Table)>> {
    let (tp, ip) = (dir.join(TABLE), dir.join(INFO));
    // Twice at most: an import may replace a version-1 table (and remove its metadata file)
    // between reading the one and the other.
    for attempt in 0..2 {
        let data = match std::fs::read(&tp) {
            Ok(d) => d,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e).with_context(|| format!("{}: cannot read", tp.display())),
        };
        let (info, table) = decode(&data).with_context(|| format!("{}", tp.display()))?;
        if let Some(info) = info {
            return Ok(Some((info, table)));
        }
        let json = match std::fs::read(&ip) {
            Ok(j) => j,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && attempt == 0 => continue,
            Err(e) => return Err(e).with_context(|| format!("{}: cannot read", ip.display())),
        };
        let info: ImportInfo = serde_json::from_slice(&json)
            .with_context(|| format!("{}: not valid import metadata", ip.display()))?;
        return Ok(Some((info, table)));
    }
    unreachable!("the second attempt returns")
}

/// The data folder's advisory lock (`flock` on `.lock` in it), held by an import or a reset
/// from start to end; released when dropped. Readers do not need it.
pub struct Lock {
    dir: PathBuf,
    _file: std::fs::File,
}

/// Takes the data folder's lock, creating the folder if needed. Fails at once, saying why,
/// when another cordon holds it.
pub fn lock(dir: &Path) -> Result<Lock> {
    std::fs::create_dir_all(dir).with_context(|| format!("{}: cannot create", dir.display()))?;
    let path = dir.join(LOCK);
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .with_context(|| format!("{}: cannot open", path.display()))?;
    match file.try_lock() {
        Ok(()) => Ok(Lock {
            dir: dir.to_path_buf(),
            _file: file,
        }),
        Err(std::fs::TryLockError::WouldBlock) => bail!(
            "{}: another cordon is importing into or resetting this data folder (it holds {LOCK}); try again when it has finished",
            dir.display()
        ),
        Err(std::fs::TryLockError::Error(e)) => {
            Err(e).with_context(|| format!("{}: cannot lock", path.display()))
        }
    }
}

/// Flushes the folder's entries (a rename, a removal) to the disk.
fn sync_dir(dir: &Path) -> Result<()> {
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .with_context(|| format!("{}: cannot sync", dir.display()))
}

/// Whether `name` is a temporary file of an import (this version's unique names, or the
/// fixed names of version-1 imports).
fn is_temp(name: &str) -> bool {
    name == ".ip-asn.bin.tmp"
        || name == ".ip-asn.json.tmp"
        || (name.starts_with(TEMP_PREFIX) && name.ends_with(".tmp"))
}

/// Removes what killed imports left behind. Only under the lock: no import is running.
fn remove_temps(lock: &Lock) {
    let Ok(entries) = std::fs::read_dir(&lock.dir) else {
        return;
    };
    for e in entries.flatten() {
        if e.file_name().to_str().is_some_and(is_temp) {
            let _ = std::fs::remove_file(e.path());
        }
    }
}

/// Replaces the installed table, atomically and durably: table and metadata go into one
/// temporary file under a name no other process uses, which is synced to the disk and then
/// renamed over the table; then the folder is synced. A crash leaves the old table or the
/// new one, whole. The table must have been fully parsed.
pub fn write(lock: &Lock, info: &ImportInfo, table: &Table) -> Result<()> {
    use std::io::Write;
    let dir = &lock.dir;
    remove_temps(lock);
    let bytes = encode(info, table);
    let nonce = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let mut n = 0u32;
    let (tmp, mut file) = loop {
        let p = dir.join(format!(
            "{TEMP_PREFIX}{}-{nonce:x}-{n}.tmp",
            std::process::id()
        ));
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&p)
        {
            Ok(f) => break (p, f),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && n < 100 => n += 1,
            Err(e) => return Err(e).with_context(|| format!("{}: cannot create", p.display())),
        }
    };
    let installed = (|| -> Result<()> {
        file.write_all(&bytes)
            .and_then(|()| file.sync_all())
            .with_context(|| format!("{}: cannot write", tmp.display()))?;
        drop(file);
        std::fs::rename(&tmp, dir.join(TABLE))
            .with_context(|| format!("{}: cannot replace", dir.join(TABLE).display()))
    })();
    if installed.is_err() {
        let _ = std::fs::remove_file(&tmp);
        return installed;
    }
    // A version-1 table's metadata, now out of date (the new table ignores it).
    let _ = std::fs::remove_file(dir.join(INFO));
    sync_dir(dir)
}

/// Removes the installed table, going back to the bundled subset.
pub fn remove(lock: &Lock) -> Result<bool> {
    let dir = &lock.dir;
    remove_temps(lock);
    let tp = dir.join(TABLE);
    let removed = match std::fs::remove_file(&tp) {
        Ok(()) => true,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => false,
        Err(e) => return Err(e).with_context(|| format!("{}: cannot remove", tp.display())),
    };
    let _ = std::fs::remove_file(dir.join(INFO));
    sync_dir(dir)?;
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::intel::load::tests::tempdir;

    fn info_of(t: &Table) -> ImportInfo {
        ImportInfo {
            format: "ip-location-db".into(),
            files: vec!["asn-ipv4.csv".into()],
            date: "2026-06-17".into(),
            imported: "2026-06-18".into(),
            v4_ranges: t.v4.len(),
            v6_ranges: t.v6.len(),
            asns: t.names.len(),
        }
    }

    fn small_table(asn: u32) -> Table {
        Table {
            v4: vec![AsRange {
                start: 0x0808_0800,
                end: 0x0808_08ff,
                asn,
            }],
            v6: vec![],
            names: [(asn, format!("AS {asn}"))].into(),
        }
    }

    fn names_in(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn one_file_holds_table_and_metadata() {
        let dir = tempdir();
        // What killed imports of this and the previous version leave behind.
        for stale in [
            ".ip-asn.bin.tmp",
            ".ip-asn.json.tmp",
            ".ip-asn.bin.7-1f-0.tmp",
        ] {
            std::fs::write(dir.join(stale), b"partial").unwrap();
        }
        let (a, b) = (small_table(1), small_table(2));
        let mut info_b = info_of(&b);
        info_b.date = "2026-07-01".into();
        {
            let lock = lock(&dir).unwrap();
            write(&lock, &info_of(&a), &a).unwrap();
            assert_eq!(names_in(&dir), [".lock", "ip-asn.bin"]);
            let saved_a = std::fs::read(dir.join(TABLE)).unwrap();
            write(&lock, &info_b, &b).unwrap();
            assert_eq!(read(&dir).unwrap(), Some((info_b.clone(), b)));
            // Whichever table file is in place, its metadata comes with it.
            std::fs::write(dir.join(TABLE), saved_a).unwrap();
            assert_eq!(read(&dir).unwrap(), Some((info_of(&a), a)));
            assert!(remove(&lock).unwrap());
            assert!(!remove(&lock).unwrap());
        }
        assert_eq!(read(&dir).unwrap(), None);
        assert_eq!(names_in(&dir), [".lock"]);
    }

    #[test]
    fn the_lock_admits_one_import_at_a_time() {
        let dir = tempdir().join("not-yet-created");
        let first = lock(&dir).unwrap();
        let e = format!("{:#}", lock(&dir).err().expect("second lock"));
        assert!(e.contains("another cordon"), "{e}");
        drop(first);
        let again = lock(&dir).unwrap();
        write(&again, &info_of(&small_table(3)), &small_table(3)).unwrap();
    }

    #[test]
    fn version_1_tables_still_load_and_are_migrated() {
        let dir = tempdir();
        let t = small_table(4);
        let mut body = Vec::new();
        encode_table(&t, &mut body);
        std::fs::write(dir.join(TABLE), frame(LEGACY_VERSION, &body)).unwrap();
        let info = info_of(&t);
        std::fs::write(dir.join(INFO), serde_json::to_vec_pretty(&info).unwrap()).unwrap();
        assert_eq!(read(&dir).unwrap(), Some((info.clone(), t)));
        // Its metadata file is needed: without it the table is reported, not used blind.
        std::fs::remove_file(dir.join(INFO)).unwrap();
        let e = format!("{:#}", read(&dir).unwrap_err());
        assert!(e.contains("ip-asn.json: cannot read"), "{e}");
        // The next import writes version 2 and removes the old metadata file.
        std::fs::write(dir.join(INFO), serde_json::to_vec_pretty(&info).unwrap()).unwrap();
        let t5 = small_table(5);
        write(&lock(&dir).unwrap(), &info_of(&t5), &t5).unwrap();
        assert_eq!(names_in(&dir), [".lock", "ip-asn.bin"]);
        assert_eq!(read(&dir).unwrap(), Some((info_of(&t5), t5)));
    }

    /// A table file holding exactly `t` (checksum right, nothing else checked).
    fn stored(version: u32, info: &ImportInfo, t: &Table) -> Vec<u8> {
        let mut body = Vec::new();
        if version == VERSION {
            let json = serde_json::to_vec(info).unwrap();
            body.extend_from_slice(&(json.len() as u32).to_le_bytes());
            body.extend_from_slice(&json);
        }
        encode_table(t, &mut body);
        frame(version, &body)
    }

    #[test]
    fn damaged_tables_with_a_valid_checksum_are_refused() {
        let r = |start: u32, end: u32, asn: u32| AsRange { start, end, asn };
        let names = |n: &[(u32, &str)]| -> BTreeMap<u32, String> {
            n.iter().map(|&(a, s)| (a, s.to_string())).collect()
        };
        let table = |v4: Vec<AsRange<u32>>, n: BTreeMap<u32, String>| Table {
            v4,
            v6: vec![],
            names: n,
        };
        let long = "x".repeat(MAX_NAME + 1);
        // (what, table, refused in version 1 too, error)
        let cases = [
            (
                "inverted",
                table(vec![r(0x2f59_ffff, 0x2f58_0000, 45102)], names(&[])),
                true,
                "IPv4 range 1 (47.89.255.255 - 47.88.0.0) starts after its end",
            ),
            (
                "as 0",
                table(vec![r(1, 2, 0)], names(&[])),
                true,
                "has AS number 0",
            ),
            (
                "long name",
                table(vec![r(1, 2, 3)], names(&[(3, &long)])),
                true,
                "organisation name of AS3 is 201 bytes",
            ),
            (
                "empty name",
                table(vec![r(1, 2, 3)], names(&[(3, "")])),
                true,
                "organisation name of AS3 is 0 bytes",
            ),
            (
                "unsorted",
                table(vec![r(10, 20, 1), r(1, 5, 2)], names(&[])),
                false,
                "IPv4 ranges 1 and 2 (0.0.0.10 and 0.0.0.1) overlap or are out of order",
            ),
            (
                "overlapping",
                table(vec![r(1, 10, 1), r(10, 20, 2)], names(&[])),
                false,
                "overlap or are out of order",
            ),
        ];
        for (what, t, v1_too, want) in cases {
            let e = format!(
                "{:#}",
                decode(&stored(VERSION, &info_of(&t), &t)).unwrap_err()
            );
            assert!(
                e.starts_with("table damaged: ") && e.contains(want),
                "{what}: {e}"
            );
            let v1 = decode(&stored(LEGACY_VERSION, &info_of(&t), &t));
            assert_eq!(v1.is_err(), v1_too, "{what} in version 1: {v1:?}");
        }
        // The metadata must describe the table it travels with.
        let t = small_table(1);
        let mut info = info_of(&t);
        info.v4_ranges = 2;
        let e = format!("{:#}", decode(&stored(VERSION, &info, &t)).unwrap_err());
        assert!(e.contains("metadata counts 2 IPv4 ranges"), "{e}");
        let mut info = info_of(&t);
        info.date = "2026-02-31".into();
        let e = format!("{:#}", decode(&stored(VERSION, &info, &t)).unwrap_err());
        assert!(e.contains("date \"2026-02-31\" is not YYYY-MM-DD"), "{e}");
        // Names repeated (two rows for one AS) or out of order.
        let mut body = Vec::new();
        encode_table(
            &table(vec![r(1, 2, 3)], names(&[(3, "a"), (4, "b")])),
            &mut body,
        );
        let n = body.len();
        body[n - 7..n - 3].copy_from_slice(&3u32.to_le_bytes());
        let e = format!("{:#}", decode(&frame(LEGACY_VERSION, &body)).unwrap_err());
        assert!(e.contains("out of order or repeated at AS3"), "{e}");
    }

    #[test]
    fn imported_ranges_are_stored_sorted_and_disjoint() {
        let dir = tempdir();
        let csv = dir.join("nested.csv");
        // Out of order, and a /24 inside a /16 of another AS.
        std::fs::write(
            &csv,
            "47.88.0.0,47.88.255.255,45102,Alibaba\n8.8.8.0,8.8.8.255,15169,Google\n47.88.1.0,47.88.1.255,64512,Inside\n",
        )
        .unwrap();
        let (t, _) = parse_files(&[csv]).unwrap();
        assert_eq!(
            t.v4,
            [
                range(v4("8.8.8.0"), v4("8.8.8.255"), 15169),
                range(v4("47.88.0.0"), v4("47.88.0.255"), 45102),
                range(v4("47.88.1.0"), v4("47.88.1.255"), 64512),
                range(v4("47.88.2.0"), v4("47.88.255.255"), 45102),
            ]
        );
        let info = info_of(&t);
        assert_eq!(decode(&encode(&info, &t)).unwrap(), (Some(info), t));
        // The same rows as version 1 stored them, unsorted, still load.
        let raw = Table {
            v4: vec![
                range(v4("47.88.0.0"), v4("47.88.255.255"), 45102),
                range(v4("8.8.8.0"), v4("8.8.8.255"), 15169),
            ],
            v6: vec![],
            names: BTreeMap::new(),
        };
        assert!(decode(&stored(LEGACY_VERSION, &info_of(&raw), &raw)).is_ok());
    }

    #[test]
    fn csv_and_tsv_parse_and_round_trip() {
        let dir = tempdir();
        let csv = dir.join("asn-ipv4.csv");
        std::fs::write(&csv, "1.0.0.0,1.0.0.255,13335,\"Cloudflare, Inc.\"\n47.88.0.0,47.88.255.255,45102,\"Alibaba (US) Technology Co., Ltd.\"\n2400:3200::,2400:3200:ffff:ffff:ffff:ffff:ffff:ffff,37963,Hangzhou Alibaba Advertising Co.\n").unwrap();
        let (t, f) = parse_files(&[csv]).unwrap();
        assert_eq!(f, "ip-location-db");
        assert_eq!((t.v4.len(), t.v6.len()), (2, 1));
        assert_eq!(t.names[&13335], "Cloudflare, Inc.");
        let info = info_of(&t);
        let back = decode(&encode(&info, &t)).unwrap();
        assert_eq!(back, (Some(info), t));

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

    /// A GeoLite2-ASN-shaped database from `(network, asn, organisation)` rows.
    fn mmdb(v4_only: bool, rows: &[(&str, Option<u32>, &str)]) -> Vec<u8> {
        use mmdb_writer::{IpVersion, Value, Writer};
        let version = if v4_only {
            IpVersion::V4
        } else {
            IpVersion::V6
        };
        let mut w = Writer::builder("GeoLite2-ASN").ip_version(version).build();
        for (net, asn, org) in rows {
            let mut rec = vec![(
                "autonomous_system_organization",
                Value::String(org.to_string()),
            )];
            if let Some(a) = asn {
                rec.push(("autonomous_system_number", Value::U32(*a)));
            }
            let net: ipnet::IpNet = net.parse().unwrap();
            w.insert_value(net, Value::map(rec)).unwrap();
        }
        w.to_bytes().unwrap()
    }

    const MMDB_ROWS: &[(&str, Option<u32>, &str)] = &[
        ("8.8.8.0/24", Some(15169), "GOOGLE"),
        (
            "47.88.0.0/15",
            Some(45102),
            "Alibaba US Technology Co., Ltd.",
        ),
        (
            "47.90.0.0/16",
            Some(45102),
            "Alibaba US Technology Co., Ltd.",
        ),
        ("192.0.2.0/24", None, "no number: skipped"),
        ("2001:4860::/32", Some(15169), "GOOGLE"),
        (
            "2400:3200::/32",
            Some(37963),
            "Hangzhou Alibaba Advertising Co.,Ltd.",
        ),
    ];

    fn range<A>(start: A, end: A, asn: u32) -> AsRange<A> {
        AsRange { start, end, asn }
    }

    fn v4(a: &str) -> u32 {
        a.parse::<std::net::Ipv4Addr>().unwrap().into()
    }

    fn v6(a: &str) -> u128 {
        a.parse::<std::net::Ipv6Addr>().unwrap().into()
    }

    #[test]
    fn mmdb_imports_every_network_once() {
        let dir = tempdir();
        let p = dir.join("GeoLite2-ASN.mmdb");
        std::fs::write(&p, mmdb(false, MMDB_ROWS)).unwrap();
        let (t, f) = parse_files(std::slice::from_ref(&p)).unwrap();
        assert_eq!(f, "maxmind-geolite2-asn");
        // The IPv4 subtree once (not again under ::ffff:0:0/96, 2001::/32 or 2002::/16), with
        // the adjacent Alibaba networks joined into one range.
        assert_eq!(
            t.v4,
            [
                range(v4("8.8.8.0"), v4("8.8.8.255"), 15169),
                range(v4("47.88.0.0"), v4("47.90.255.255"), 45102),
            ]
        );
        assert_eq!(
            t.v6,
            [
                range(
                    v6("2001:4860::"),
                    v6("2001:4860:ffff:ffff:ffff:ffff:ffff:ffff"),
                    15169
                ),
                range(
                    v6("2400:3200::"),
                    v6("2400:3200:ffff:ffff:ffff:ffff:ffff:ffff"),
                    37963
                ),
            ]
        );
        assert_eq!(t.names[&45102], "Alibaba US Technology Co., Ltd.");
        assert_eq!(t.names.len(), 3);

        // A database that stores records of its own under the alias prefixes (instead of
        // pointing them at the IPv4 subtree) still gives IPv4 data once.
        use mmdb_writer::{Ipv4Aliasing, Value, Writer};
        let mut w = Writer::builder("GeoLite2-ASN")
            .ipv4_aliasing(Ipv4Aliasing::Disabled)
            .build();
        let rec = || Value::map([("autonomous_system_number", Value::U32(15169))]);
        for net in [
            "8.8.8.0/24",
            "::ffff:8.8.8.0/120",
            "2001:0:808:800::/56",
            "2002:808:800::/40",
            "2001:4860::/32",
        ] {
            let net: ipnet::IpNet = net.parse().unwrap();
            w.insert_value(net, rec()).unwrap();
        }
        let pa = dir.join("own-aliases.mmdb");
        std::fs::write(&pa, w.to_bytes().unwrap()).unwrap();
        let (ta, _) = parse_files(&[pa]).unwrap();
        assert_eq!((ta.v4.len(), ta.v6.len()), (1, 1), "{ta:?}");

        // An IPv4-only database gives the same IPv4 table.
        let p4 = dir.join("v4.mmdb");
        std::fs::write(&p4, mmdb(true, &MMDB_ROWS[..4])).unwrap();
        assert_eq!(parse_files(&[p4]).unwrap().0.v4, t.v4);
    }

    #[test]
    fn bad_mmdb_is_refused_with_reason() {
        let dir = tempdir();
        let good = mmdb(false, MMDB_ROWS);
        let marker = find(&good, MMDB_MARKER).unwrap();
        let mut tree_garbled = good.clone();
        tree_garbled[..64].fill(0xff);
        let mut truncated_meta = good[..marker + MMDB_MARKER.len() + 8].to_vec();
        truncated_meta.extend_from_slice(b"\xe0");
        let city = mmdb(false, &[("8.8.8.0/24", None, "just a name")]);
        let cases: [(&str, Vec<u8>, &str); 4] = [
            ("tree.mmdb", tree_garbled, "not a valid MaxMind database"),
            ("meta.mmdb", truncated_meta, "not a valid MaxMind database"),
            (
                "marker-only.mmdb",
                MMDB_MARKER.to_vec(),
                "not a valid MaxMind database",
            ),
            (
                "city.mmdb",
                city,
                "no network in this \"GeoLite2-ASN\" database",
            ),
        ];
        for (name, bytes, want) in cases {
            let p = dir.join(name);
            std::fs::write(&p, bytes).unwrap();
            let e = format!("{:#}", parse_files(&[p]).expect_err(name));
            assert!(e.contains(name) && e.contains(want), "{name}: {e}");
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
        let good = encode(&info_of(&t), &t);
        assert!(decode(&good).is_ok());
        let mut flipped = good.clone();
        let n = flipped.len();
        flipped[n - 1] ^= 1;
        assert!(format!("{:#}", decode(&flipped).unwrap_err()).contains("checksum"));
        assert!(decode(&good[..good.len() - 3]).is_err());
        assert!(format!("{:#}", decode(b"NOTCORDONxxxxxxxxxxxx").unwrap_err()).contains("magic"));
    }
}
