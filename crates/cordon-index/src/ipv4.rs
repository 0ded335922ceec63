//! IPv4 longest-prefix match as a DIR-24-8 table.
//!
//! The first 24 bits of an address index `tbl24` directly; a /24 block that is split between
//! several values points instead to a group of 256 entries in `tbl8`. A lookup is one or two
//! memory reads, with no branches that depend on the table's shape beyond one flag test.
//!
//! `tbl24` is stored as 256 pages of 2^16 entries, one per /8, allocated only when a range
//! touches that /8: the bundled snapshot (a few thousand ranges) then costs a few MiB, not
//! 64 MiB, while the page directory (4 KiB) stays in the fastest cache.
//!
//! **Entries are `value + 1`, so 0 means "no range covers this address".** The top bit of a
//! `tbl24` entry marks a pointer to a `tbl8` group; values are therefore below `2^31 - 1`.
//! The table is built once from disjoint segments ([`crate::ranges::flatten`]) and is
//! immutable afterwards.

use crate::ranges::{flatten, Segment};

const EXT: u32 = 1 << 31;
/// The largest value a range may carry.
pub const MAX_VALUE: u32 = EXT - 2;

type Page = Box<[u32; 1 << 16]>;

pub struct Ipv4Table {
    /// By the first octet: the entries of the /24 blocks in that /8, if any range touches it.
    tbl24: Vec<Option<Page>>,
    tbl8: Vec<u32>,
    /// The disjoint segments, kept to say which range an address fell in (for explanations;
    /// not used by [`Ipv4Table::lookup`]).
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
        let mut t = Ipv4Table {
            tbl24: (0..256).map(|_| None).collect(),
            tbl8: Vec::new(),
            segments: Vec::new(),
        };
        for s in &segments {
            t.paint(s);
        }
        t.segments = segments;
        Ok(t)
    }

    fn paint(&mut self, s: &Segment<u32>) {
        let v = s.value + 1;
        let (sb, eb) = (s.start >> 8, s.end >> 8);
        let (lo, hi) = (s.start & 0xff, s.end & 0xff);
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

    /// The `tbl24` entry of a /24 block, allocating its page.
    fn entry(&mut self, block: u32) -> &mut u32 {
        let page = self.tbl24[(block >> 16) as usize].get_or_insert_with(|| {
            vec![0u32; 1 << 16]
                .into_boxed_slice()
                .try_into()
                .expect("page of 2^16 entries")
        });
        &mut page[(block & 0xffff) as usize]
    }

    fn full(&mut self, block: u32, v: u32) {
        let e = *self.entry(block);
        if e & EXT != 0 {
            let g = ((e & !EXT) as usize) << 8;
            self.tbl8[g..g + 256].fill(v);
        } else {
            *self.entry(block) = v;
        }
    }

    fn partial(&mut self, block: u32, lo: u32, hi: u32, v: u32) {
        if lo == 0 && hi == 0xff {
            return self.full(block, v);
        }
        let e = *self.entry(block);
        let g = if e & EXT != 0 {
            (e & !EXT) as usize
        } else {
            let g = self.tbl8.len() >> 8;
            self.tbl8.extend(std::iter::repeat_n(e, 256));
            *self.entry(block) = EXT | g as u32;
            g
        };
        let base = g << 8;
        self.tbl8[base + lo as usize..=base + hi as usize].fill(v);
    }

    /// The value of the most specific range holding `ip`, if any.
    #[inline]
    pub fn lookup(&self, ip: u32) -> Option<u32> {
        let Some(page) = &self.tbl24[(ip >> 24) as usize] else {
            return None;
        };
        let e = page[((ip >> 8) & 0xffff) as usize];
        let e = if e & EXT == 0 {
            e
        } else {
            self.tbl8[(((e & !EXT) as usize) << 8) | (ip & 0xff) as usize]
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

    /// Number of /24 blocks split into a second-level group.
    pub fn groups(&self) -> usize {
        self.tbl8.len() >> 8
    }

    /// Bytes held by the two tables.
    pub fn memory_bytes(&self) -> usize {
        let pages = self.tbl24.iter().filter(|p| p.is_some()).count();
        (pages << 16) * 4 + self.tbl8.len() * 4 + self.segments.len() * 12
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
        assert_eq!(t.groups(), 4);
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
