//! Flattening of address ranges into disjoint segments with longest-prefix semantics.
//!
//! Inputs are `(start, end, value)` ranges, inclusive, that may nest (a curated /24 inside
//! an ASN's /16) or even overlap partially (range datasets are not always CIDR-aligned).
//! **The more specific (smaller) range wins where two cover the same address**; between two
//! ranges of equal size the one given later wins, so a caller can order overlays last.

use std::collections::BTreeMap;

/// An unsigned address type: `u32` for IPv4, `u128` for IPv6.
pub trait Addr: Copy + Ord + std::fmt::Debug {
    const ZERO: Self;
    const MAX: Self;
    fn inc(self) -> Self;
    fn dec(self) -> Self;
    /// `end - start` as u128, for ordering by size.
    fn span(start: Self, end: Self) -> u128;
}

impl Addr for u32 {
    const ZERO: u32 = 0;
    const MAX: u32 = u32::MAX;
    fn inc(self) -> u32 {
        self.wrapping_add(1)
    }
    fn dec(self) -> u32 {
        self.wrapping_sub(1)
    }
    fn span(start: u32, end: u32) -> u128 {
        (end - start) as u128
    }
}

impl Addr for u128 {
    const ZERO: u128 = 0;
    const MAX: u128 = u128::MAX;
    fn inc(self) -> u128 {
        self.wrapping_add(1)
    }
    fn dec(self) -> u128 {
        self.wrapping_sub(1)
    }
    fn span(start: u128, end: u128) -> u128 {
        end - start
    }
}

/// One disjoint segment of the flattened map.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Segment<A> {
    pub start: A,
    pub end: A,
    pub value: u32,
}

/// Flattens ranges into sorted, disjoint segments. Ranges with `start > end` are ignored
/// (callers validate before this point and report them).
pub fn flatten<A: Addr>(ranges: &[(A, A, u32)]) -> Vec<Segment<A>> {
    let mut sorted: Vec<(A, A, u32)> = ranges.iter().copied().filter(|r| r.0 <= r.1).collect();
    // Fast path: sorted and disjoint already, as range datasets usually are.
    sorted.sort_by_key(|r| r.0);
    if sorted.windows(2).all(|w| w[0].1 < w[1].0) {
        return sorted
            .into_iter()
            .map(|(start, end, value)| Segment { start, end, value })
            .collect();
    }
    // Paint from the largest range to the smallest: smaller ones overwrite.
    let mut order: Vec<usize> = (0..ranges.len())
        .filter(|&i| ranges[i].0 <= ranges[i].1)
        .collect();
    order.sort_by(|&a, &b| {
        let (ra, rb) = (ranges[a], ranges[b]);
        A::span(rb.0, rb.1)
            .cmp(&A::span(ra.0, ra.1))
            .then(a.cmp(&b))
    });
    let mut map: BTreeMap<A, (A, u32)> = BTreeMap::new();
    for i in order {
        let (s, e, v) = ranges[i];
        paint(&mut map, s, e, v);
    }
    map.into_iter()
        .map(|(start, (end, value))| Segment { start, end, value })
        .collect()
}

fn paint<A: Addr>(map: &mut BTreeMap<A, (A, u32)>, s: A, e: A, v: u32) {
    // A segment that starts before `s` and reaches into it is cut in two or three.
    if let Some((&ps, &(pe, pv))) = map.range(..s).next_back() {
        if pe >= s {
            map.insert(ps, (s.dec(), pv));
            if pe > e {
                map.insert(e.inc(), (pe, pv));
            }
        }
    }
    // Segments starting inside [s, e] are removed; a tail sticking out past `e` is kept.
    let inside: Vec<A> = map.range(s..=e).map(|(&k, _)| k).collect();
    for k in inside {
        if let Some((ke, kv)) = map.remove(&k) {
            if ke > e {
                map.insert(e.inc(), (ke, kv));
            }
        }
    }
    map.insert(s, (e, v));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seg(start: u32, end: u32, value: u32) -> Segment<u32> {
        Segment { start, end, value }
    }

    #[test]
    fn disjoint_input_is_kept() {
        let out = flatten(&[(10u32, 19, 2), (0, 9, 1)]);
        assert_eq!(out, vec![seg(0, 9, 1), seg(10, 19, 2)]);
    }

    #[test]
    fn nested_range_wins_inside_only() {
        let out = flatten(&[(0u32, 99, 1), (40, 49, 2)]);
        assert_eq!(out, vec![seg(0, 39, 1), seg(40, 49, 2), seg(50, 99, 1)]);
    }

    #[test]
    fn nested_at_edges_and_max() {
        let out = flatten(&[(0u32, u32::MAX, 1), (0, 0, 2), (u32::MAX, u32::MAX, 3)]);
        assert_eq!(
            out,
            vec![
                seg(0, 0, 2),
                seg(1, u32::MAX - 1, 1),
                seg(u32::MAX, u32::MAX, 3)
            ]
        );
    }

    #[test]
    fn partial_overlap_smaller_wins() {
        let out = flatten(&[(0u32, 99, 1), (90, 109, 2)]);
        assert_eq!(out, vec![seg(0, 89, 1), seg(90, 109, 2)]);
    }

    #[test]
    fn equal_size_later_wins() {
        let out = flatten(&[(0u32, 9, 1), (0, 9, 2)]);
        assert_eq!(out, vec![seg(0, 9, 2)]);
    }

    #[test]
    fn inverted_ranges_are_ignored() {
        assert_eq!(flatten(&[(9u32, 0, 1)]), vec![]);
    }
}
