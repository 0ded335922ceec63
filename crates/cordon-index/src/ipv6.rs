//! IPv6 longest-prefix match over flattened, sorted segments.
//!
//! IPv6 tables are smaller (about 100 k ranges for the full Internet) and looked up far less
//! often than IPv4 ones, so a binary search over disjoint segments is enough: about 17 steps
//! on the full table. **Built once, immutable afterwards.**

use crate::ranges::flatten;

pub struct Ipv6Table {
    starts: Vec<u128>,
    ends: Vec<u128>,
    values: Vec<u32>,
}

impl Ipv6Table {
    /// Builds the table from inclusive `(start, end, value)` ranges; nested ranges follow
    /// longest-prefix semantics.
    pub fn build(ranges: &[(u128, u128, u32)]) -> Ipv6Table {
        let segments = flatten(ranges);
        Ipv6Table {
            starts: segments.iter().map(|s| s.start).collect(),
            ends: segments.iter().map(|s| s.end).collect(),
            values: segments.iter().map(|s| s.value).collect(),
        }
    }

    /// The value of the most specific range holding `ip`, if any.
    pub fn lookup(&self, ip: u128) -> Option<u32> {
        // Index of the last segment starting at or before `ip`.
        let i = self.starts.partition_point(|&s| s <= ip).checked_sub(1)?;
        (ip <= self.ends[i]).then(|| self.values[i])
    }

    /// The segment holding `ip`: `(start, end)`, inclusive.
    pub fn range_of(&self, ip: u128) -> Option<(u128, u128)> {
        let i = self.starts.partition_point(|&s| s <= ip).checked_sub(1)?;
        (ip <= self.ends[i]).then(|| (self.starts[i], self.ends[i]))
    }

    pub fn segments(&self) -> usize {
        self.starts.len()
    }

    pub fn memory_bytes(&self) -> usize {
        self.starts.len() * (16 + 16 + 4)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> u128 {
        u128::from(s.parse::<std::net::Ipv6Addr>().unwrap())
    }

    #[test]
    fn lookups() {
        let t = Ipv6Table::build(&[
            (
                ip("2400:3200::"),
                ip("2400:3200:ffff:ffff:ffff:ffff:ffff:ffff"),
                1,
            ),
            (
                ip("2400:3200:1::"),
                ip("2400:3200:1:ffff:ffff:ffff:ffff:ffff"),
                2,
            ),
        ]);
        let cases = [
            ("2400:3200::1", Some(1)),
            ("2400:3200:1::1", Some(2)),
            ("2400:3200:2::", Some(1)),
            ("2400:3201::", None),
            ("2400:31ff:ffff:ffff:ffff:ffff:ffff:ffff", None),
            ("::", None),
            ("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", None),
        ];
        for (a, want) in cases {
            assert_eq!(t.lookup(ip(a)), want, "{a}");
        }
        assert_eq!(t.segments(), 3);
    }
}
