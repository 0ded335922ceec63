//! The frozen indicator index: what was loaded, in a compact form that is cheap to match.
//!
//! Every indicator is a 12-byte [`Meta`] (id, text, group); what indicators share — the
//! source file, the name, the validity window — is interned once in a [`Group`]. Strings
//! live in one arena and are referred to by `u32`. The match keys are flat sorted arrays:
//!
//! - single IPv4 / IPv6 addresses: `(address, ref)` sorted by address, duplicates allowed
//!   (two feeds may list the same address), with a two-bit Bloom filter in front so that the
//!   common case — an address on no list — costs two bit tests;
//! - CIDR ranges: flattened into disjoint segments by [`cordon_index::ranges::flatten`]
//!   (IPv6 through [`cordon_index::ipv6::Ipv6Table`]); a segment names its most specific
//!   range, and every range knows the range that encloses it, so **all** the indicators
//!   covering an address are found, not only the most specific one;
//! - names: `(hash, name, ref)` sorted by hash, with a Bloom filter in front.
//!
//! A `ref` is a [`Meta`] index, or — top bit set — an index into the few keys that carry an
//! extra condition (a port). **Built once by [`Builder`], then immutable: lookups take
//! `&self` and never allocate.**

use cordon_index::ipv6::Ipv6Table;
use cordon_index::ranges::{flatten, Segment};
use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

pub(crate) const NONE: u32 = u32::MAX;
const CONSTRAINED: u32 = 1 << 31;

/// The format of an indicator file, which decides what its ids and texts mean.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum SourceFormat {
    Stix,
    Misp,
    List,
}

impl SourceFormat {
    pub fn as_str(self) -> &'static str {
        match self {
            SourceFormat::Stix => "stix",
            SourceFormat::Misp => "misp",
            SourceFormat::List => "list",
        }
    }
}

/// One indicator. For lists `id` is the line number and `text` is [`NONE`]: the value is
/// the key that matched, printed back. For STIX `text` is the pattern, for MISP the value.
#[derive(Copy, Clone, Debug)]
pub(crate) struct Meta {
    pub id: u32,
    pub text: u32,
    pub group: u32,
}

/// What indicators of one file with one name and one validity window share.
#[derive(Copy, Clone, Debug)]
pub(crate) struct Group {
    pub source: u32,
    pub name: u32,
    /// Valid from (inclusive) and until (exclusive), Unix microseconds.
    pub from: i64,
    pub until: i64,
}

/// A key with a condition: the port on the matched side must be `port`.
#[derive(Copy, Clone, Debug)]
pub(crate) struct Constraint {
    pub meta: u32,
    pub port: u16,
}

/// What an indicator is matched on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    Addr(IpAddr),
    /// A network and its prefix length (host bits already cleared).
    Net(IpAddr, u8),
    /// A normalised domain name.
    Name(String),
}

/// A key that matched, as the matcher keeps it for the output.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Key {
    Addr(IpAddr),
    V4Net(u32),
    V6Net(u32),
    Name(u32),
}

struct Arena {
    buf: String,
    spans: Vec<(u32, u32)>,
}

impl Arena {
    fn push(&mut self, s: &str) -> Option<u32> {
        let off = u32::try_from(self.buf.len()).ok()?;
        let len = u32::try_from(s.len()).ok()?;
        off.checked_add(len)?;
        let id = u32::try_from(self.spans.len()).ok().filter(|&i| i < NONE)?;
        self.buf.push_str(s);
        self.spans.push((off, len));
        Some(id)
    }

    fn get(&self, id: u32) -> &str {
        match self.spans.get(id as usize) {
            Some(&(o, l)) => self.buf.get(o as usize..(o + l) as usize).unwrap_or(""),
            None => "",
        }
    }
}

/// A Bloom filter with two bits per key in one 64-bit word, sized at 16 bits per key
/// (about 2% false positives), so a miss costs one memory access.
struct Bloom {
    bits: Vec<u64>,
    shift: u32,
}

impl Bloom {
    fn new(keys: usize) -> Bloom {
        let want = (keys.max(4) * 16).next_power_of_two().max(64);
        Bloom {
            bits: vec![0; want / 64],
            shift: 64 - want.trailing_zeros(),
        }
    }

    /// The word and the two-bit mask of `h`: both bits in one word, so a test is one
    /// memory access (a "blocked" Bloom filter).
    #[inline]
    fn slot(&self, h: u64) -> (usize, u64) {
        let a = h.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        let word = ((a >> self.shift) as usize) / 64;
        let mask = (1u64 << (a & 63)) | (1u64 << ((a >> 6) & 63));
        (word, mask)
    }

    fn insert(&mut self, h: u64) {
        let (w, m) = self.slot(h);
        self.bits[w] |= m;
    }

    #[inline]
    fn may_contain(&self, h: u64) -> bool {
        let (w, m) = self.slot(h);
        self.bits[w] & m == m
    }
}

/// FNV-1a: names are short, and a dependency-free hash keeps the arrays reproducible.
#[inline]
fn hash_name(s: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in s.as_bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h ^ (h >> 29)
}

#[inline]
fn hash_v6(a: u128) -> u64 {
    (a as u64) ^ ((a >> 64) as u64).rotate_left(17)
}

/// For a sorted array of IPv4 keys: where the keys whose top 16 bits are `h` start
/// (`starts[h]`) and end (`starts[h + 1]`). Narrows a binary search over a million keys to
/// a few, with the 256 KiB index itself mostly in cache.
struct Buckets {
    starts: Vec<u32>,
}

impl Buckets {
    fn build(n: usize, key: impl Fn(usize) -> u32) -> Buckets {
        if n == 0 {
            return Buckets { starts: Vec::new() };
        }
        let mut starts = vec![0u32; (1 << 16) + 1];
        for i in 0..n {
            starts[(key(i) >> 16) as usize + 1] += 1;
        }
        for h in 1..starts.len() {
            starts[h] += starts[h - 1];
        }
        Buckets { starts }
    }

    #[inline]
    fn range(&self, a: u32) -> (usize, usize) {
        let h = (a >> 16) as usize;
        match (self.starts.get(h), self.starts.get(h + 1)) {
            (Some(&lo), Some(&hi)) => (lo as usize, hi as usize),
            _ => (0, 0),
        }
    }
}

#[derive(Copy, Clone)]
struct NameEntry {
    hash: u32,
    /// Offset of the length-prefixed name in `names`.
    off: u32,
    r: u32,
}

#[derive(Copy, Clone)]
struct Cidr<A> {
    start: A,
    end: A,
    r: u32,
    /// The range enclosing this one (or an equal one given earlier), or [`NONE`].
    parent: u32,
}

/// Collects indicators; [`Builder::freeze`] makes the [`IndicatorSet`].
pub struct Builder {
    sources: Vec<(String, SourceFormat)>,
    strings: Arena,
    names: Vec<u8>,
    name_ix: HashMap<Box<str>, u32>,
    groups: Vec<Group>,
    group_ix: HashMap<(u32, u32, i64, i64), u32>,
    metas: Vec<Meta>,
    constraints: Vec<Constraint>,
    v4: Vec<(u32, u32)>,
    v6: Vec<(u128, u32)>,
    v4n: Vec<Cidr<u32>>,
    v6n: Vec<Cidr<u128>>,
    dom: Vec<NameEntry>,
}

impl Default for Builder {
    fn default() -> Self {
        Builder {
            sources: Vec::new(),
            strings: Arena {
                buf: String::new(),
                spans: Vec::new(),
            },
            names: Vec::new(),
            name_ix: HashMap::new(),
            groups: Vec::new(),
            group_ix: HashMap::new(),
            metas: Vec::new(),
            constraints: Vec::new(),
            v4: Vec::new(),
            v6: Vec::new(),
            v4n: Vec::new(),
            v6n: Vec::new(),
            dom: Vec::new(),
        }
    }
}

/// The index is full (more than 2^31 keys or 4 GiB of text).
#[derive(Debug)]
pub struct Full;

impl Builder {
    pub fn source(&mut self, path: &str, format: SourceFormat) -> u32 {
        self.sources.push((path.to_string(), format));
        (self.sources.len() - 1) as u32
    }

    /// The group for (source, name, window), interned.
    pub(crate) fn group(
        &mut self,
        source: u32,
        name: Option<&str>,
        from: i64,
        until: i64,
    ) -> Result<u32, Full> {
        let name = match name {
            Some(n) if !n.is_empty() => match self.name_ix.get(n) {
                Some(&id) => id,
                None => {
                    let id = self.strings.push(n).ok_or(Full)?;
                    self.name_ix.insert(n.into(), id);
                    id
                }
            },
            _ => NONE,
        };
        let k = (source, name, from, until);
        if let Some(&g) = self.group_ix.get(&k) {
            return Ok(g);
        }
        let g = u32::try_from(self.groups.len()).map_err(|_| Full)?;
        self.groups.push(Group {
            source,
            name,
            from,
            until,
        });
        self.group_ix.insert(k, g);
        Ok(g)
    }

    /// Adds an indicator; its keys follow with [`Builder::key`]. `id` is a line number for
    /// lists, otherwise stored as text.
    pub(crate) fn indicator(
        &mut self,
        group: u32,
        id: IdRef<'_>,
        text: Option<&str>,
    ) -> Result<u32, Full> {
        let id = match id {
            IdRef::Line(n) => n,
            IdRef::Text(s) => self.strings.push(s).ok_or(Full)?,
        };
        let text = match text {
            Some(t) => self.strings.push(t).ok_or(Full)?,
            None => NONE,
        };
        let m = u32::try_from(self.metas.len())
            .ok()
            .filter(|&m| m < CONSTRAINED)
            .ok_or(Full)?;
        self.metas.push(Meta { id, text, group });
        Ok(m)
    }

    /// Adds a key of indicator `meta`, optionally with a port condition.
    pub(crate) fn key(
        &mut self,
        meta: u32,
        target: &Target,
        port: Option<u16>,
    ) -> Result<(), Full> {
        let r = match port {
            None => meta,
            Some(port) => {
                let c = u32::try_from(self.constraints.len())
                    .ok()
                    .filter(|&c| c < CONSTRAINED)
                    .ok_or(Full)?;
                self.constraints.push(Constraint { meta, port });
                CONSTRAINED | c
            }
        };
        match target {
            Target::Addr(IpAddr::V4(a)) => self.v4.push((u32::from(*a), r)),
            Target::Addr(IpAddr::V6(a)) => self.v6.push((u128::from(*a), r)),
            Target::Net(IpAddr::V4(a), len) => {
                let start = u32::from(*a);
                let span = u32::MAX.checked_shr(u32::from(*len)).unwrap_or(0);
                self.v4n.push(Cidr {
                    start,
                    end: start | span,
                    r,
                    parent: NONE,
                });
            }
            Target::Net(IpAddr::V6(a), len) => {
                let start = u128::from(*a);
                let span = u128::MAX.checked_shr(u32::from(*len)).unwrap_or(0);
                self.v6n.push(Cidr {
                    start,
                    end: start | span,
                    r,
                    parent: NONE,
                });
            }
            Target::Name(n) => {
                let len = u8::try_from(n.len()).map_err(|_| Full)?;
                let off = u32::try_from(self.names.len()).map_err(|_| Full)?;
                self.names.push(len);
                self.names.extend_from_slice(n.as_bytes());
                self.dom.push(NameEntry {
                    hash: (hash_name(n) >> 32) as u32,
                    off,
                    r,
                });
            }
        }
        Ok(())
    }

    pub fn indicators(&self) -> usize {
        self.metas.len()
    }

    /// Sorts and links the keys; the result is immutable.
    pub fn freeze(self) -> IndicatorSet {
        let Builder {
            sources,
            mut strings,
            mut names,
            groups,
            mut metas,
            mut constraints,
            mut v4,
            mut v6,
            mut v4n,
            mut v6n,
            mut dom,
            ..
        } = self;
        v4.sort_unstable();
        v6.sort_unstable();
        let mut v4_bloom = Bloom::new(v4.len());
        for &(a, _) in &v4 {
            v4_bloom.insert(u64::from(a));
        }
        let mut v6_bloom = Bloom::new(v6.len());
        for &(a, _) in &v6 {
            v6_bloom.insert(hash_v6(a));
        }
        // Names: same full hash for the Bloom filter as at lookup.
        let mut dom_bloom = Bloom::new(dom.len());
        for e in &dom {
            let n = name_at(&names, e.off);
            dom_bloom.insert(hash_name(n));
        }
        dom.sort_unstable_by_key(|e| (e.hash, e.off));
        let v4_segments = link(&mut v4n);
        let v4_buckets = Buckets::build(v4.len(), |i| v4[i].0);
        let seg_buckets = Buckets::build(v4_segments.len(), |i| v4_segments[i].start);
        let v6_segments = link(&mut v6n);
        let v6_table = Ipv6Table::build(
            &v6_segments
                .iter()
                .map(|s| (s.start, s.end, s.value))
                .collect::<Vec<_>>(),
        );
        strings.buf.shrink_to_fit();
        strings.spans.shrink_to_fit();
        names.shrink_to_fit();
        metas.shrink_to_fit();
        constraints.shrink_to_fit();
        v4.shrink_to_fit();
        v6.shrink_to_fit();
        dom.shrink_to_fit();
        IndicatorSet {
            sources,
            strings,
            names,
            groups,
            metas,
            constraints,
            v4,
            v4_bloom,
            v4_buckets,
            v6,
            v6_bloom,
            v4n,
            v4_segments,
            seg_buckets,
            v6n,
            v6_table,
            dom,
            dom_bloom,
        }
    }
}

/// Links every range to its enclosing range and flattens them into segments whose value is
/// the most specific range. CIDR ranges nest or are disjoint, so the chain from the most
/// specific range up through its parents is every range that covers an address.
fn link<A: cordon_index::ranges::Addr>(cidrs: &mut [Cidr<A>]) -> Vec<Segment<A>> {
    // Given order decides ties between equal ranges: the later one is "more specific", as
    // in `flatten`, and its parent is the earlier one.
    let mut order: Vec<u32> = (0..cidrs.len() as u32).collect();
    order.sort_by(|&a, &b| {
        let (x, y) = (&cidrs[a as usize], &cidrs[b as usize]);
        x.start
            .cmp(&y.start)
            .then(y.end.cmp(&x.end))
            .then(a.cmp(&b))
    });
    let mut stack: Vec<u32> = Vec::new();
    for &i in &order {
        let c = cidrs[i as usize];
        while let Some(&top) = stack.last() {
            if cidrs[top as usize].end < c.start {
                stack.pop();
            } else {
                break;
            }
        }
        if let Some(&top) = stack.last() {
            if cidrs[top as usize].end >= c.end {
                cidrs[i as usize].parent = top;
            }
        }
        stack.push(i);
    }
    let ranges: Vec<(A, A, u32)> = cidrs
        .iter()
        .enumerate()
        .map(|(i, c)| (c.start, c.end, i as u32))
        .collect();
    flatten(&ranges)
}

fn name_at(names: &[u8], off: u32) -> &str {
    let off = off as usize;
    let len = names.get(off).copied().unwrap_or(0) as usize;
    names
        .get(off + 1..off + 1 + len)
        .and_then(|b| std::str::from_utf8(b).ok())
        .unwrap_or("")
}

/// How an indicator is identified: a line of a list, or an id string.
pub(crate) enum IdRef<'a> {
    Line(u32),
    Text(&'a str),
}

/// The loaded indicators, frozen. Share it behind an `Arc`; build a new one to reload.
pub struct IndicatorSet {
    sources: Vec<(String, SourceFormat)>,
    strings: Arena,
    names: Vec<u8>,
    groups: Vec<Group>,
    metas: Vec<Meta>,
    constraints: Vec<Constraint>,
    v4: Vec<(u32, u32)>,
    v4_bloom: Bloom,
    v4_buckets: Buckets,
    v6: Vec<(u128, u32)>,
    v6_bloom: Bloom,
    v4n: Vec<Cidr<u32>>,
    v4_segments: Vec<Segment<u32>>,
    seg_buckets: Buckets,
    v6n: Vec<Cidr<u128>>,
    v6_table: Ipv6Table,
    dom: Vec<NameEntry>,
    dom_bloom: Bloom,
}

impl Default for IndicatorSet {
    fn default() -> Self {
        Builder::default().freeze()
    }
}

impl IndicatorSet {
    /// Number of indicators loaded.
    pub fn len(&self) -> usize {
        self.metas.len()
    }

    pub fn is_empty(&self) -> bool {
        self.metas.is_empty()
    }

    /// True when there are name keys (DNS, TLS and HTTP names need looking at).
    pub fn has_names(&self) -> bool {
        !self.dom.is_empty()
    }

    /// Bytes held by the index (the arrays' capacities; allocator overhead not included).
    pub fn memory_bytes(&self) -> usize {
        use std::mem::size_of;
        self.strings.buf.capacity()
            + self.strings.spans.capacity() * 8
            + self.names.capacity()
            + self.groups.capacity() * size_of::<Group>()
            + self.metas.capacity() * size_of::<Meta>()
            + self.constraints.capacity() * size_of::<Constraint>()
            + self.v4.capacity() * 8
            + self.v6.capacity() * size_of::<(u128, u32)>()
            + (self.v4_bloom.bits.len() + self.v6_bloom.bits.len() + self.dom_bloom.bits.len()) * 8
            + self.v4n.capacity() * size_of::<Cidr<u32>>()
            + self.v4_segments.capacity() * size_of::<Segment<u32>>()
            + self.v6n.capacity() * size_of::<Cidr<u128>>()
            + self.v6_table.memory_bytes()
            + self.dom.capacity() * size_of::<NameEntry>()
    }

    /// Calls `f(ref, key)` for every key covering `ip`: exact addresses, then ranges.
    #[inline]
    /// Touches the filter words of a batch of IPv4 addresses back to back, so their memory
    /// accesses overlap; the `addr_hits` calls that follow find them in cache.
    pub fn warm(&self, ips: impl Iterator<Item = IpAddr>) {
        if self.v4.is_empty() {
            return;
        }
        let mut acc = false;
        for ip in ips {
            if let IpAddr::V4(a) = ip {
                acc ^= self.v4_bloom.may_contain(u64::from(u32::from(a)));
            }
        }
        std::hint::black_box(acc);
    }

    pub(crate) fn addr_hits(&self, ip: IpAddr, mut f: impl FnMut(u32, Key)) {
        match ip {
            IpAddr::V4(a) => {
                let a = u32::from(a);
                if !self.v4.is_empty() && self.v4_bloom.may_contain(u64::from(a)) {
                    let (lo, hi) = self.v4_buckets.range(a);
                    let bucket = self.v4.get(lo..hi).unwrap_or(&[]);
                    let i = bucket.partition_point(|e| e.0 < a);
                    for e in bucket[i..].iter().take_while(|e| e.0 == a) {
                        f(e.1, Key::Addr(ip));
                    }
                }
                if !self.v4_segments.is_empty() {
                    // Segments before the bucket start below it; the one holding `a` is
                    // the last one starting at or before `a`, possibly in an earlier bucket.
                    let (lo, hi) = self.seg_buckets.range(a);
                    let bucket = self.v4_segments.get(lo..hi).unwrap_or(&[]);
                    let i = lo + bucket.partition_point(|s| s.start <= a);
                    if let Some(s) = i.checked_sub(1).map(|i| self.v4_segments[i]) {
                        if a <= s.end {
                            let mut c = s.value;
                            while let Some(cidr) = self.v4n.get(c as usize) {
                                f(cidr.r, Key::V4Net(c));
                                c = cidr.parent;
                            }
                        }
                    }
                }
            }
            IpAddr::V6(a6) => {
                let a = u128::from(a6);
                // IPv4-mapped addresses are matched as IPv4: one canonical form.
                if let Some(v4) = a6.to_ipv4_mapped() {
                    return self.addr_hits(IpAddr::V4(v4), f);
                }
                if !self.v6.is_empty() && self.v6_bloom.may_contain(hash_v6(a)) {
                    let i = self.v6.partition_point(|e| e.0 < a);
                    for e in self.v6[i..].iter().take_while(|e| e.0 == a) {
                        f(e.1, Key::Addr(ip));
                    }
                }
                if !self.v6n.is_empty() {
                    if let Some(mut c) = self.v6_table.lookup(a) {
                        while let Some(cidr) = self.v6n.get(c as usize) {
                            f(cidr.r, Key::V6Net(c));
                            c = cidr.parent;
                        }
                    }
                }
            }
        }
    }

    /// Calls `f(ref, key)` for every name key equal to `name` (already lowercase, no
    /// trailing dot).
    #[inline]
    pub(crate) fn name_hits(&self, name: &str, mut f: impl FnMut(u32, Key)) {
        if self.dom.is_empty() {
            return;
        }
        let h = hash_name(name);
        if !self.dom_bloom.may_contain(h) {
            return;
        }
        let hi = (h >> 32) as u32;
        let i = self.dom.partition_point(|e| e.hash < hi);
        for e in self.dom[i..].iter().take_while(|e| e.hash == hi) {
            if name_at(&self.names, e.off) == name {
                f(e.r, Key::Name(e.off));
            }
        }
    }

    /// Resolves a key reference: the indicator and its port condition.
    #[inline]
    pub(crate) fn resolve(&self, r: u32) -> (u32, Option<u16>) {
        if r & CONSTRAINED == 0 {
            (r, None)
        } else {
            match self.constraints.get((r & !CONSTRAINED) as usize) {
                Some(c) => (c.meta, Some(c.port)),
                None => (NONE, None),
            }
        }
    }

    /// The validity window of indicator `meta`.
    #[inline]
    pub(crate) fn window(&self, meta: u32) -> (i64, i64) {
        match self
            .metas
            .get(meta as usize)
            .and_then(|m| self.groups.get(m.group as usize))
        {
            Some(g) => (g.from, g.until),
            None => (i64::MIN, i64::MIN),
        }
    }

    /// The indicator as the output describes it.
    pub(crate) fn describe(&self, meta: u32, key: Key) -> Described {
        let m = self.metas.get(meta as usize).copied().unwrap_or(Meta {
            id: NONE,
            text: NONE,
            group: NONE,
        });
        let g = self.groups.get(m.group as usize).copied();
        let (source, format) = g
            .and_then(|g| self.sources.get(g.source as usize))
            .map_or(("", SourceFormat::List), |(p, f)| (p.as_str(), *f));
        let id = match format {
            SourceFormat::List => {
                let base = std::path::Path::new(source)
                    .file_name()
                    .map_or(source.into(), |b| b.to_string_lossy());
                format!("{base}:{}", m.id)
            }
            _ => self.strings.get(m.id).to_string(),
        };
        let text = if m.text == NONE {
            self.key_text(key)
        } else {
            self.strings.get(m.text).to_string()
        };
        let name = g
            .filter(|g| g.name != NONE)
            .map(|g| self.strings.get(g.name).to_string());
        Described {
            id,
            text,
            is_pattern: format == SourceFormat::Stix,
            name,
            source: source.to_string(),
        }
    }

    /// A matched key, printed.
    pub(crate) fn key_text(&self, key: Key) -> String {
        match key {
            Key::Addr(a) => a.to_string(),
            Key::V4Net(c) => self.v4n.get(c as usize).map_or(String::new(), |c| {
                let len = (c.end - c.start).count_ones().abs_diff(32);
                format!("{}/{len}", Ipv4Addr::from(c.start))
            }),
            Key::V6Net(c) => self.v6n.get(c as usize).map_or(String::new(), |c| {
                let len = (c.end - c.start).count_ones().abs_diff(128);
                format!("{}/{len}", Ipv6Addr::from(c.start))
            }),
            Key::Name(off) => name_at(&self.names, off).to_string(),
        }
    }
}

/// An indicator as the output describes it.
pub(crate) struct Described {
    pub id: String,
    pub text: String,
    pub is_pattern: bool,
    pub name: Option<String>,
    pub source: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every key covering an address is found: exact addresses, nested and equal CIDRs,
    /// across bucket boundaries, against a linear scan.
    #[test]
    fn addr_hits_agree_with_a_linear_scan() {
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let mut b = Builder::default();
        let src = b.source("t", SourceFormat::List);
        let g = b.group(src, None, i64::MIN, i64::MAX).unwrap();
        let mut keys: Vec<(u32, u32, u32)> = Vec::new(); // (start, end, meta)
        for i in 0..3000u32 {
            // Dense in 10.0.0.0/14 so that ranges nest, repeat and cross /16 buckets.
            let a = 0x0a00_0000 | (next() as u32 & 0x0003_ffff);
            let len = [32u8, 32, 32, 30, 24, 20, 16, 15][(next() % 8) as usize];
            let m = b.indicator(g, IdRef::Line(i), None).unwrap();
            let t = match super::super::values::parse_ip_or_cidr(&format!(
                "{}/{len}",
                Ipv4Addr::from(a)
            ))
            .unwrap()
            {
                Target::Net(IpAddr::V4(n), l) => {
                    let s = u32::from(n);
                    keys.push((s, s | (u32::MAX >> l), m));
                    Target::Net(IpAddr::V4(n), l)
                }
                t @ Target::Addr(IpAddr::V4(n)) => {
                    keys.push((u32::from(n), u32::from(n), m));
                    t
                }
                t => panic!("{t:?}"),
            };
            b.key(m, &t, None).unwrap();
        }
        let set = b.freeze();
        for _ in 0..20_000 {
            let a = 0x0a00_0000 | (next() as u32 & 0x0007_ffff);
            let mut got = Vec::new();
            set.addr_hits(IpAddr::V4(Ipv4Addr::from(a)), |r, _| got.push(r));
            got.sort();
            let mut want: Vec<u32> = keys
                .iter()
                .filter(|k| k.0 <= a && a <= k.1)
                .map(|k| k.2)
                .collect();
            want.sort();
            assert_eq!(got, want, "{}", Ipv4Addr::from(a));
        }
    }
}
