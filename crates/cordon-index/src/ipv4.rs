//! IPv4 longest-prefix match as a DIR-24-8 table.
//!
//! The first 24 bits of an address index `tbl24` directly; a /24 block that is split between
//! several values points instead to a group of 256 entries in `tbl8`. A lookup is one or two
//! memory reads, with no branches that depend on the table's shape beyond one flag test.
//!
//! `tbl24` is stored as 256 pages of 2^16 entries, one per /8, each with its own `tbl8`
//! groups. **A page is built the first time a lookup reaches its /8**, from the segments
//! that fall in it: loading the snapshot then costs no page at all (tens of megabytes of
//! fresh memory for a full table, which was most of cordon's start-up), a scan builds only
//! the pages its addresses reach, on the cores that reach them, and the page directory
//! (256 slots) stays in the fastest cache.
//!
//! **Entries are `value + 1`, so 0 means "no range covers this address".** The top bit of a
//! `tbl24` entry marks a pointer to a `tbl8` group; values are therefore below `2^31 - 1`.
//! The table is built from disjoint segments ([`crate::ranges::flatten`]); what a lookup
//! returns never changes (a page is a cache of the segments, filled once).

use crate::ranges::{flatten, Segment};
use std::sync::OnceLock;

const EXT: u32 = 1 << 31;
/// The largest value a range may carry.
pub const MAX_VALUE: u32 = EXT - 2;

/// The /24 blocks of one /8, and the 256-entry groups of the blocks that are split.
struct Page {
    tbl24: Box<[u32; 1 << 16]>,
    tbl8: Vec<u32>,
}

impl Page {
    /// The page of /8 `octet` from the segments that overlap it (clipped to it).
    fn build(octet: u32, segments: &[Segment<u32>]) -> Page {
        let mut p = Page {
            tbl24: vec![0u32; 1 << 16]
                .into_boxed_slice()
                .try_into()
                .expect("page of 2^16 entries"),
            tbl8: Vec::new(),
        };
        let (lo, hi) = (octet << 24, octet << 24 | 0x00ff_ffff);
        let first = segments.partition_point(|s| s.end < lo);
        for s in segments[first..].iter().take_while(|s| s.start <= hi) {
            p.paint(s.start.max(lo), s.end.min(hi), s.value + 1);
        }
        p
    }

    fn paint(&mut self, start: u32, end: u32, v: u32) {
        let (sb, eb) = (start >> 8 & 0xffff, end >> 8 & 0xffff);
        let (lo, hi) = (start & 0xff, end & 0xff);
        if sb == eb {
            self.partial(sb, lo, hi, v);
            return;
        }
        self.partial(sb, lo, 0xff, v);
        for b in sb + 1..eb {
            self.full(b, v);
        }
        self.partial(eb, 0, hi, v);
    }

    fn full(&mut self, block: u32, v: u32) {
        let e = self.tbl24[block as usize];
        if e & EXT != 0 {
            let g = ((e & !EXT) as usize) << 8;
            self.tbl8[g..g + 256].fill(v);
        } else {
            self.tbl24[block as usize] = v;
        }
    }

    fn partial(&mut self, block: u32, lo: u32, hi: u32, v: u32) {
        if lo == 0 && hi == 0xff {
            return self.full(block, v);
        }
        let e = self.tbl24[block as usize];
        let g = if e & EXT != 0 {
            (e & !EXT) as usize
        } else {
            let g = self.tbl8.len() >> 8;
            self.tbl8.extend(std::iter::repeat_n(e, 256));
            self.tbl24[block as usize] = EXT | g as u32;
            g
        };
        let base = g << 8;
        self.tbl8[base + lo as usize..=base + hi as usize].fill(v);
    }
}

pub struct Ipv4Table {
    /// By the first octet: the page of that /8 once a lookup has reached it.
    pages: Vec<OnceLock<Page>>,
    /// Which /8s any segment touches (the others have no page to build).
    touched: [bool; 256],
    /// The disjoint segments: the source of the pages, and which range an address fell in
    /// (for explanations).
    segments: Vec<Segment<u32>>,
}

impl Ipv4Table {
    /// Builds the table from inclusive `(start, end, value)` ranges; nested ranges follow
    /// longest-prefix semantics. Values above [`MAX_VALUE`] are rejected.
    pub fn build(ranges: &[(u32, u32, u32)]) -> Result<Ipv4Table, String> {
        if let Some(r) = ranges.iter().find(|r| r.2 > MAX_VALUE) {
            return Err(format!("range value {} exceeds {}", r.2, MAX_VALUE));
        }
        let segments = flatten(ranges);
        let mut touched = [false; 256];
        for s in &segments {
            for o in s.start >> 24..=s.end >> 24 {
                touched[o as usize] = true;
            }
        }
        Ok(Ipv4Table {
            pages: (0..256).map(|_| OnceLock::new()).collect(),
            touched,
            segments,
        })
    }

    fn page(&self, octet: u32) -> Option<&Page> {
        if !self.touched[octet as usize] {
            return None;
        }
        Some(self.pages[octet as usize].get_or_init(|| Page::build(octet, &self.segments)))
    }

    /// The value of the most specific range holding `ip`, if any.
    #[inline]
    pub fn lookup(&self, ip: u32) -> Option<u32> {
        let page = self.page(ip >> 24)?;
        let e = page.tbl24[((ip >> 8) & 0xffff) as usize];
        let e = if e & EXT == 0 {
            e
        } else {
            page.tbl8[(((e & !EXT) as usize) << 8) | (ip & 0xff) as usize]
        };
        e.checked_sub(1)
    }

    /// Number of disjoint segments the table was built from.
    pub fn segments(&self) -> usize {
        self.segments.len()
    }

    /// The segment holding `ip`: `(start, end)`, inclusive.
    pub fn range_of(&self, ip: u32) -> Option<(u32, u32)> {
        let i = self
            .segments
            .partition_point(|s| s.start <= ip)
            .checked_sub(1)?;
        let s = self.segments[i];
        (ip <= s.end).then_some((s.start, s.end))
    }

    /// Number of /24 blocks split into a second-level group, in the pages built so far.
    pub fn groups(&self) -> usize {
        self.pages
            .iter()
            .filter_map(OnceLock::get)
            .map(|p| p.tbl8.len() >> 8)
            .sum()
    }

    /// Bytes the table holds once every page is built (pages of the /8s the segments
    /// touch, their groups, the segments).
    pub fn memory_bytes(&self) -> usize {
        let pages = self.touched.iter().filter(|&&t| t).count();
        let split_blocks = self
            .segments
            .iter()
            .flat_map(|s| [s.start, s.end.wrapping_add(1)])
            .filter(|b| b & 0xff != 0)
            .map(|b| b >> 8)
            .collect::<std::collections::BTreeSet<_>>()
            .len();
        (pages << 16) * 4 + split_blocks * 256 * 4 + self.segments.len() * 12
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> u32 {
        u32::from(s.parse::<std::net::Ipv4Addr>().unwrap())
    }

    #[test]
    fn lookups_follow_longest_prefix() {
        let t = Ipv4Table::build(&[
            (ip("47.88.0.0"), ip("47.88.255.255"), 7),
            (ip("47.88.1.0"), ip("47.88.1.127"), 8),
            (ip("10.0.0.5"), ip("10.0.0.5"), 9),
            (ip("1.2.3.200"), ip("1.2.5.10"), 10),
        ])
        .unwrap();
        let cases = [
            ("47.88.1.2", Some(8)),
            ("47.88.1.128", Some(7)),
            ("47.88.0.0", Some(7)),
            ("47.88.255.255", Some(7)),
            ("47.89.0.0", None),
            ("47.87.255.255", None),
            ("10.0.0.5", Some(9)),
            ("10.0.0.4", None),
            ("10.0.0.6", None),
            ("1.2.3.199", None),
            ("1.2.3.200", Some(10)),
            ("1.2.4.0", Some(10)),
            ("1.2.5.10", Some(10)),
            ("1.2.5.11", None),
            ("0.0.0.0", None),
            ("255.255.255.255", None),
        ];
        for (a, want) in cases {
            assert_eq!(t.lookup(ip(a)), want, "{a}");
        }
        assert_eq!(t.groups(), 4, "pages built by the lookups above");
        assert_eq!(
            t.range_of(ip("47.88.1.2")),
            Some((ip("47.88.1.0"), ip("47.88.1.127")))
        );
        assert_eq!(
            t.range_of(ip("47.88.2.2")),
            Some((ip("47.88.1.128"), ip("47.88.255.255")))
        );
        assert_eq!(t.range_of(ip("47.89.0.0")), None);
    }

    #[test]
    fn whole_space_and_value_zero() {
        let t = Ipv4Table::build(&[(0, u32::MAX, 0)]).unwrap();
        assert_eq!(t.lookup(0), Some(0));
        assert_eq!(t.lookup(u32::MAX), Some(0));
        assert!(Ipv4Table::build(&[(0, 1, MAX_VALUE + 1)]).is_err());
    }

    #[test]
    fn agrees_with_linear_scan_on_random_ranges() {
        // A small deterministic generator: no external crates needed.
        let mut x: u64 = 0x9e3779b97f4a7c15;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let mut ranges = Vec::new();
        for v in 0..300u32 {
            let start = (next() as u32) & 0x00ff_ffff; // keep them dense in 0.0.0.0/8
            let len = (next() % 5000) as u32;
            ranges.push((start, start.saturating_add(len), v));
        }
        let t = Ipv4Table::build(&ranges).unwrap();
        for _ in 0..20000 {
            let a = (next() as u32) & 0x00ff_ffff;
            // Reference: smallest covering range; among equals, the later one.
            let mut best: Option<(u32, usize)> = None;
            for (i, r) in ranges.iter().enumerate() {
                if r.0 <= a && a <= r.1 {
                    let span = r.1 - r.0;
                    match best {
                        Some((bs, _)) if bs < span => {}
                        _ => best = Some((span, i)),
                    }
                }
            }
            assert_eq!(t.lookup(a), best.map(|(_, i)| ranges[i].2), "address {a}");
        }
    }
}
