//! The asset inventory (`--assets FILE`): names, owners, tags and data categories for the
//! internal addresses and devices that telemetry shows.
//!
//! CSV (header with `cidr`, `ip` or `mac`, then `name`, `owner`, `tags`, `data`; lists are
//! `;`-separated) or JSON (an array of objects with the same keys). **The most specific entry
//! wins**: the longest matching prefix for an address, and for a device a MAC entry beats any
//! address entry. A malformed file is refused as a whole, with file, line and what was expected.

use crate::error::FileError;
use cordon_wire::Mac;
use ipnet::IpNet;
use serde::Deserialize;
use std::collections::HashMap;
use std::net::IpAddr;
use std::path::Path;

/// What the inventory says about one asset.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Asset {
    /// The inventory key as written: `10.1.2.0/24`, `10.1.2.3` or `aa:bb:cc:dd:ee:ff`.
    pub key: String,
    pub name: String,
    pub owner: String,
    /// Lowercase: `ot`, `pci`, `cctv`, `wifi`, ...
    pub tags: Vec<String>,
    /// Lowercase data categories: `payment`, `personal`, `geolocation`, `health`, ...
    pub data: Vec<String>,
    /// `FILE:LINE` of the entry, for evidence.
    pub at: String,
}

impl Asset {
    pub fn has_tag(&self, t: &str) -> bool {
        self.tags.iter().any(|x| x == t)
    }
    pub fn has_data(&self, d: &str) -> bool {
        self.data.iter().any(|x| x == d)
    }
}

/// A loaded inventory; lookups take `&self`.
///
/// **An address lookup costs one hash probe per distinct prefix length in the file**, not
/// one comparison per row: a million `/32` rows judge thousands of exposures in
/// milliseconds.
#[derive(Clone, Debug, Default)]
pub struct Inventory {
    /// In file order.
    nets: Vec<(IpNet, Asset)>,
    /// For each prefix length present, longest first (IPv6 and IPv4 apart): the entries by
    /// network address, as indexes into `nets`.
    by_len: Vec<(u8, bool, HashMap<IpAddr, u32>)>,
    macs: HashMap<Mac, Asset>,
}

/// One entry as written in JSON (CSV rows are read into the same shape).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    #[serde(default)]
    cidr: Option<String>,
    #[serde(default)]
    ip: Option<String>,
    #[serde(default)]
    mac: Option<String>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    owner: Option<String>,
    #[serde(default)]
    tags: ListField,
    #[serde(default)]
    data: ListField,
}

/// A list given either as a JSON array or as a `;`-separated string.
#[derive(Debug, Default, Deserialize)]
#[serde(untagged)]
enum ListField {
    #[default]
    Missing,
    List(Vec<String>),
    Text(String),
}

impl ListField {
    fn items(&self) -> Vec<String> {
        let raw: Vec<&str> = match self {
            ListField::Missing => vec![],
            ListField::List(v) => v.iter().map(String::as_str).collect(),
            ListField::Text(s) => s.split(';').collect(),
        };
        let mut out: Vec<String> = raw
            .iter()
            .map(|s| s.trim().to_ascii_lowercase())
            .filter(|s| !s.is_empty())
            .collect();
        out.sort();
        out.dedup();
        out
    }
}

impl Inventory {
    pub fn is_empty(&self) -> bool {
        self.nets.is_empty() && self.macs.is_empty()
    }

    pub fn len(&self) -> usize {
        self.nets.len() + self.macs.len()
    }

    /// Reads a CSV or JSON inventory (JSON when the first non-blank byte is `[`).
    pub fn load(path: &Path) -> Result<Inventory, FileError> {
        let text = FileError::read(path)?;
        Self::parse(path, &text)
    }

    /// Parses inventory text; `path` is only used in messages and evidence.
    pub fn parse(path: &Path, text: &str) -> Result<Inventory, FileError> {
        let entries = if text.trim_start().starts_with('[') {
            parse_json(path, text)?
        } else {
            parse_csv(path, text)?
        };
        let mut inv = Inventory::default();
        for (line, e) in entries {
            inv.add(path, line, e)?;
        }
        // Longest prefix first.
        inv.by_len
            .sort_by_key(|(len, v6, _)| (std::cmp::Reverse(*len), *v6));
        Ok(inv)
    }

    fn add(&mut self, path: &Path, line: usize, e: Entry) -> Result<(), FileError> {
        let err = |msg: String| FileError::new(path, Some(line), msg);
        let keys: Vec<(&str, &str)> = [("cidr", &e.cidr), ("ip", &e.ip), ("mac", &e.mac)]
            .into_iter()
            .filter_map(|(k, v)| {
                v.as_deref()
                    .map(str::trim)
                    .filter(|v| !v.is_empty())
                    .map(|v| (k, v))
            })
            .collect();
        let (kind, key) = match keys.as_slice() {
            [one] => *one,
            [] => {
                return Err(err(
                    "expected one of `cidr`, `ip` or `mac`, found none".into()
                ))
            }
            _ => {
                return Err(err(format!(
                    "expected exactly one of `cidr`, `ip` or `mac`, found {}",
                    keys.iter().map(|k| k.0).collect::<Vec<_>>().join(" and ")
                )))
            }
        };
        let asset = Asset {
            key: key.to_string(),
            name: e.name.unwrap_or_default().trim().to_string(),
            owner: e.owner.unwrap_or_default().trim().to_string(),
            tags: e.tags.items(),
            data: e.data.items(),
            at: format!("{}:{line}", path.display()),
        };
        match kind {
            "mac" => {
                let mac = Mac::parse(key).ok_or_else(|| {
                    err(format!(
                        "`mac` {key:?}: expected a MAC address like aa:bb:cc:dd:ee:ff"
                    ))
                })?;
                if self.macs.insert(mac, asset).is_some() {
                    return Err(err(format!("`mac` {key:?} is listed twice")));
                }
            }
            "ip" => {
                let ip: IpAddr = key
                    .parse()
                    .map_err(|_| err(format!("`ip` {key:?}: expected an IPv4 or IPv6 address")))?;
                self.add_net(IpNet::from(ip), asset, &err)?;
            }
            _ => {
                let net: IpNet = key.parse().map_err(|_| {
                    err(format!(
                        "`cidr` {key:?}: expected a prefix like 10.0.0.0/8 or 2001:db8::/32"
                    ))
                })?;
                self.add_net(net.trunc(), asset, &err)?;
            }
        }
        Ok(())
    }

    /// Files an address entry in the index; a network listed twice is an error, as a MAC
    /// listed twice is (which of the two would the reader have meant?).
    fn add_net(
        &mut self,
        net: IpNet,
        asset: Asset,
        err: &dyn Fn(String) -> FileError,
    ) -> Result<(), FileError> {
        let (len, v6) = (net.prefix_len(), matches!(net, IpNet::V6(_)));
        let slot = match self
            .by_len
            .iter()
            .position(|(l, s, _)| (*l, *s) == (len, v6))
        {
            Some(i) => i,
            None => {
                self.by_len.push((len, v6, HashMap::new()));
                self.by_len.len() - 1
            }
        };
        let index = u32::try_from(self.nets.len())
            .map_err(|_| err("more than 4 billion entries".into()))?;
        match self.by_len[slot].2.entry(net.network()) {
            std::collections::hash_map::Entry::Occupied(o) => {
                let first = &self.nets[*o.get() as usize].1;
                return Err(err(format!(
                    "{net} is listed twice (first at {})",
                    first.at
                )));
            }
            std::collections::hash_map::Entry::Vacant(v) => {
                v.insert(index);
            }
        }
        self.nets.push((net, asset));
        Ok(())
    }

    /// The most specific entry covering an address (longest prefix).
    pub fn lookup_ip(&self, ip: &str) -> Option<&Asset> {
        self.lookup_addr(ip.parse().ok()?)
    }

    /// [`Inventory::lookup_ip`] for a parsed address.
    pub fn lookup_addr(&self, ip: IpAddr) -> Option<&Asset> {
        let v6 = ip.is_ipv6();
        self.by_len
            .iter()
            .filter(|(_, s, _)| *s == v6)
            .find_map(|(len, _, map)| {
                let net = IpNet::new(ip, *len).ok()?.trunc();
                map.get(&net.network())
            })
            .map(|&i| &self.nets[i as usize].1)
    }

    /// A device's entry: its MAC entry if there is one, else the entry of its address.
    pub fn lookup_device(&self, mac: &str, ip: Option<&str>) -> Option<&Asset> {
        Mac::parse(mac)
            .and_then(|m| self.macs.get(&m))
            .or_else(|| ip.and_then(|ip| self.lookup_ip(ip)))
    }
}

fn parse_csv(path: &Path, text: &str) -> Result<Vec<(usize, Entry)>, FileError> {
    let mut rdr = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .comment(Some(b'#'))
        .flexible(false)
        .from_reader(text.as_bytes());
    let headers = rdr
        .headers()
        .map_err(|e| FileError::new(path, Some(1), format!("expected a CSV header: {e}")))?
        .clone();
    const KNOWN: [&str; 7] = ["cidr", "ip", "mac", "name", "owner", "tags", "data"];
    let mut cols = Vec::new();
    for h in headers.iter() {
        let h = h.to_ascii_lowercase();
        if !KNOWN.contains(&h.as_str()) {
            return Err(FileError::new(
                path,
                Some(1),
                format!("unknown column {h:?}: expected cidr, ip, mac, name, owner, tags, data"),
            ));
        }
        cols.push(h);
    }
    if !cols
        .iter()
        .any(|c| matches!(c.as_str(), "cidr" | "ip" | "mac"))
    {
        return Err(FileError::new(
            path,
            Some(1),
            "expected a `cidr`, `ip` or `mac` column in the header".into(),
        ));
    }
    let mut out = Vec::new();
    for rec in rdr.records() {
        let rec = rec.map_err(|e| {
            let line = e.position().map(|p| p.line() as usize);
            FileError::new(path, line, format!("expected {} fields: {e}", cols.len()))
        })?;
        let line = rec.position().map_or(0, |p| p.line() as usize);
        let mut e = Entry::default();
        for (c, v) in cols.iter().zip(rec.iter()) {
            let v = v.to_string();
            match c.as_str() {
                "cidr" => e.cidr = Some(v),
                "ip" => e.ip = Some(v),
                "mac" => e.mac = Some(v),
                "name" => e.name = Some(v),
                "owner" => e.owner = Some(v),
                "tags" => e.tags = ListField::Text(v),
                _ => e.data = ListField::Text(v),
            }
        }
        out.push((line, e));
    }
    Ok(out)
}

fn parse_json(path: &Path, text: &str) -> Result<Vec<(usize, Entry)>, FileError> {
    // Parse to values first to know each object's line, then type each one.
    let values: Vec<serde_json::Value> = serde_json::from_str(text).map_err(|e| {
        FileError::new(
            path,
            Some(e.line()),
            format!("expected a JSON array of asset objects: {e}"),
        )
    })?;
    let lines = object_lines(text);
    values
        .into_iter()
        .enumerate()
        .map(|(i, v)| {
            let line = lines.get(i).copied().unwrap_or(1);
            serde_json::from_value::<Entry>(v)
                .map(|e| (line, e))
                .map_err(|e| {
                    FileError::new(
                        path,
                        Some(line),
                        format!(
                            "asset #{}: {e} (expected keys cidr|ip|mac, name, owner, tags, data)",
                            i + 1
                        ),
                    )
                })
        })
        .collect()
}

/// The line of each top-level object's `{` in a JSON array (strings skipped).
fn object_lines(text: &str) -> Vec<usize> {
    let (mut depth, mut line, mut in_str, mut esc) = (0usize, 1usize, false, false);
    let mut out = Vec::new();
    for c in text.chars() {
        if c == '\n' {
            line += 1;
        }
        if in_str {
            match (esc, c) {
                (true, _) => esc = false,
                (false, '\\') => esc = true,
                (false, '"') => in_str = false,
                _ => {}
            }
            continue;
        }
        match c {
            '"' => in_str = true,
            '[' | '{' => {
                if c == '{' && depth == 1 {
                    out.push(line);
                }
                depth += 1;
            }
            ']' | '}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const CSV: &str = "\
cidr,ip,mac,name,owner,tags,data
10.0.0.0/8,,,corp,it,,
10.20.0.0/16,,,stores,retail,pci,payment
,10.20.1.5,,till-5,retail,pci;pos,payment;personal
,,28-6F-B9-00-00-01,lobby-cam,facilities,ot;cctv,biometric
";

    fn inv() -> Inventory {
        Inventory::parse(Path::new("assets.csv"), CSV).unwrap()
    }

    #[test]
    fn most_specific_wins() {
        let inv = inv();
        for (ip, name) in [
            ("10.20.1.5", Some("till-5")),
            ("10.20.1.6", Some("stores")),
            ("10.9.9.9", Some("corp")),
            ("192.168.1.1", None),
            ("not an ip", None),
        ] {
            assert_eq!(inv.lookup_ip(ip).map(|a| a.name.as_str()), name, "{ip}");
        }
        let till = inv.lookup_ip("10.20.1.5").unwrap();
        assert_eq!(till.tags, ["pci", "pos"]);
        assert_eq!(till.data, ["payment", "personal"]);
        assert_eq!(till.at, "assets.csv:4");
    }

    /// The index answers as a scan of every row for the longest prefix would, for random
    /// inventories of nested IPv4 and IPv6 prefixes and random addresses.
    #[test]
    fn index_equals_longest_prefix_over_all_rows() {
        let mut x = 0x853c_49e6_748f_ea9bu64;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let mut csv = String::from("cidr,name\n");
        let mut nets: Vec<IpNet> = Vec::new();
        while nets.len() < 2000 {
            let r = next();
            let net: IpNet = if r % 5 == 0 {
                let a =
                    std::net::Ipv6Addr::from((0x2001_0db8u128 << 96) | u128::from(r >> 16) << 40);
                IpNet::new(a.into(), 32 + (r % 97) as u8).unwrap().trunc()
            } else {
                // Few distinct high bits, so that prefixes nest.
                let a = std::net::Ipv4Addr::from(0x0a00_0000 | (r as u32 & 0x00ff_0f0f));
                IpNet::new(a.into(), 8 + (r % 25) as u8).unwrap().trunc()
            };
            if !nets.contains(&net) {
                csv.push_str(&format!("{net},n{}\n", nets.len()));
                nets.push(net);
            }
        }
        let inv = Inventory::parse(Path::new("a.csv"), &csv).unwrap();
        for _ in 0..20_000 {
            let r = next();
            let ip: IpAddr = if r % 5 == 0 {
                std::net::Ipv6Addr::from(
                    (0x2001_0db8u128 << 96) | u128::from(r >> 16) << 40 | u128::from(r & 0xff),
                )
                .into()
            } else {
                std::net::Ipv4Addr::from(0x0a00_0000 | (r as u32 & 0x00ff_0fff)).into()
            };
            let want = nets
                .iter()
                .enumerate()
                .filter(|(_, n)| n.contains(&ip))
                .max_by_key(|(_, n)| n.prefix_len())
                .map(|(i, _)| format!("n{i}"));
            assert_eq!(inv.lookup_addr(ip).map(|a| a.name.clone()), want, "{ip}");
        }
    }

    #[test]
    fn a_network_listed_twice_is_refused() {
        for text in [
            "cidr,name\n10.1.0.0/16,a\n10.1.0.0/16,b\n",
            "cidr,ip,name\n10.1.2.3/32,,a\n,10.1.2.3,b\n",
            // Host bits are cleared: the same network.
            "cidr,name\n10.1.0.0/16,a\n10.1.9.9/16,b\n",
        ] {
            let e = Inventory::parse(Path::new("a.csv"), text).unwrap_err();
            assert!(e.to_string().starts_with("a.csv:3: 10.1."), "{e}");
            assert!(
                e.to_string().contains("listed twice (first at a.csv:2)"),
                "{e}"
            );
        }
    }

    #[test]
    fn mac_beats_ip_for_devices() {
        let inv = inv();
        let cam = inv
            .lookup_device("28:6f:b9:00:00:01", Some("10.20.1.5"))
            .unwrap();
        assert_eq!(cam.name, "lobby-cam");
        let other = inv
            .lookup_device("28:6f:b9:00:00:02", Some("10.20.1.5"))
            .unwrap();
        assert_eq!(other.name, "till-5");
        assert!(inv.lookup_device("28:6f:b9:00:00:02", None).is_none());
    }

    /// `AA-BB-CC-DD-EE-FF`, `aabb.ccdd.eeff` and `aabbccddeeff` are one key, in the file and
    /// in lookups.
    #[test]
    fn mac_spellings_are_one_key() {
        for key in ["AA-BB-CC-DD-EE-FF", "aabb.ccdd.eeff", "AABBCCDDEEFF"] {
            let inv =
                Inventory::parse(Path::new("a.csv"), &format!("mac,name\n{key},x\n")).unwrap();
            for spelling in [
                "aa:bb:cc:dd:ee:ff",
                "aa-bb-cc-dd-ee-ff",
                "aabb.ccdd.eeff",
                "aabbccddeeff",
            ] {
                assert_eq!(
                    inv.lookup_device(spelling, None).map(|a| a.name.as_str()),
                    Some("x"),
                    "{key} {spelling}"
                );
            }
            let twice = format!("mac,name\n{key},x\naa:bb:cc:dd:ee:ff,y\n");
            let e = Inventory::parse(Path::new("a.csv"), &twice)
                .unwrap_err()
                .to_string();
            assert!(
                e.starts_with("a.csv:3: `mac` \"aa:bb:cc:dd:ee:ff\" is listed twice"),
                "{e}"
            );
        }
    }

    #[test]
    fn json_inventory() {
        let text = r#"[
  {"cidr": "192.168.0.0/24", "name": "lab", "tags": ["ot"]},
  {"ip": "192.168.0.7", "name": "plc", "data": "geolocation;health"}
]"#;
        let inv = Inventory::parse(Path::new("a.json"), text).unwrap();
        assert_eq!(inv.len(), 2);
        let plc = inv.lookup_ip("192.168.0.7").unwrap();
        assert_eq!((plc.name.as_str(), plc.at.as_str()), ("plc", "a.json:3"));
        assert_eq!(plc.data, ["geolocation", "health"]);
    }

    /// Malformed inventories: (text, expected message prefix with file and line).
    #[test]
    fn malformed() {
        for (text, want) in [
            ("name,owner\nx,y\n", "a.csv:1: expected a `cidr`"),
            ("cidr,name,colour\n", "a.csv:1: unknown column \"colour\""),
            (
                "cidr,name\n10.0.0.0/33,x\n",
                "a.csv:2: `cidr` \"10.0.0.0/33\"",
            ),
            ("ip,name\n10.0.0.1,x\nnope,y\n", "a.csv:3: `ip` \"nope\""),
            (
                "ip,mac,name\n10.0.0.1,aa:bb:cc:dd:ee:ff,x\n",
                "a.csv:2: expected exactly one",
            ),
            ("ip,mac,name\n,,x\n", "a.csv:2: expected one of"),
            ("mac,name\nzz:bb:cc:dd:ee:ff,x\n", "a.csv:2: `mac`"),
            (
                "cidr,name\n10.0.0.0/8,x,extra\n",
                "a.csv:2: expected 2 fields",
            ),
            (
                "[\n {\"ip\": \"10.0.0.1\"},\n {\"ipaddr\": \"x\"}\n]",
                "a.csv:3: asset #2: unknown field",
            ),
            (
                "[\n {\"ip\": \"10.0.0.1\"},\n",
                "a.csv:3: expected a JSON array",
            ),
        ] {
            let e = Inventory::parse(Path::new("a.csv"), text)
                .unwrap_err()
                .to_string();
            assert!(e.starts_with(want), "{text:?}: got {e:?}, want {want:?}");
        }
    }
}
