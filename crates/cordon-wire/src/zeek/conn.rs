//! The conn.log TSV fast path: the hot loop of `cordon scan` over Zeek logs.
//!
//! A [`Layout`] is computed once per `#fields` block: the column of every field a flow needs.
//! Each line is then split with one word-at-a-time pass that records where the separators
//! are, and only the columns a flow needs are parsed, with parsers specialised for the shapes
//! Zeek writes (`1700000000.123456`, dotted-quad IPv4). Anything off the common shape (IPv6,
//! odd timestamps) goes to the general parsers in `logtext`.
//!
//! **Guarantee: for every input, the observations, anomalies and stats are exactly those of
//! the general TSV path (`tsv_line`)**; the differential test in `zeek.rs` and the zeek fuzz
//! target check it. A header this path cannot match exactly (markers that parse as numbers
//! or addresses, needed columns past [`MAX_COLS`]) gets no layout and uses the general path.

use super::{emit_conn, Conn, Header, LogKind, Out, Role, NROLES};
use crate::logtext::{self, MAX_LINE};
use crate::obs::{AnomalyKind, DecodeStats, Mac, Micros, Sink};
use std::net::{IpAddr, Ipv4Addr};
use wide::u8x16;

/// Columns the fast path locates; a needed column past `MAX_COLS - 2` means no layout.
/// (The last slot absorbs the positions of the columns past the needed ones.)
const MAX_COLS: usize = 64;
/// Marks a role the log does not have.
const ABSENT: u8 = u8::MAX;

/// Where the fields of a flow are in a conn.log line.
#[derive(Clone, Debug)]
pub(super) struct Layout {
    /// Column of each role, or [`ABSENT`].
    cols: [u8; NROLES],
    /// Columns a line must have (`#fields`).
    nfields: usize,
    /// Scratch: the end of each column of the current line, kept across lines so that
    /// each line does not clear it (every column read is written by the line first).
    ends: [usize; MAX_COLS],
}

/// The roles a flow reads.
const CONN_ROLES: [Role; 17] = [
    Role::Ts,
    Role::Uid,
    Role::OrigH,
    Role::OrigP,
    Role::RespH,
    Role::RespP,
    Role::Proto,
    Role::IpProto,
    Role::Duration,
    Role::OrigBytes,
    Role::RespBytes,
    Role::OrigIpBytes,
    Role::RespIpBytes,
    Role::OrigPkts,
    Role::RespPkts,
    Role::OrigL2,
    Role::RespL2,
];

impl Layout {
    /// The layout of a conn.log header, or `None` when the general path must decode it.
    pub(super) fn new(h: &Header) -> Option<Layout> {
        if h.kind != LogKind::Conn || h.fields.is_empty() {
            return None;
        }
        // Numeric and address fields skip the unset/empty marker comparison: sound only
        // when the markers cannot parse as a value.
        for m in [&h.unset, &h.empty] {
            if logtext::parse_u64(m).is_some()
                || logtext::parse_secs_micros(m).is_some()
                || logtext::parse_ip(m).is_some()
            {
                return None;
            }
        }
        let mut cols = [ABSENT; NROLES];
        // Like the general path, a repeated field name takes its last column.
        for (i, r) in h.roles.iter().enumerate() {
            if let Some(r) = r {
                if CONN_ROLES.contains(r) {
                    if i > MAX_COLS - 2 {
                        return None;
                    }
                    cols[*r as usize] = i as u8;
                }
            }
        }
        Some(Layout {
            cols,
            nfields: h.fields.len(),
            ends: [0; MAX_COLS],
        })
    }
}

const LO: u64 = 0x0101_0101_0101_0101;
const HI7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
const ZEROS: u64 = 0x3030_3030_3030_3030;

/// The high bit of each byte of `w` that is zero, and no other bit (exact, no carries).
#[inline(always)]
fn zero_bytes(w: u64) -> u64 {
    !(((w & HI7).wrapping_add(HI7)) | w | HI7)
}

/// The 8 bytes of `line` from `at` as a little-endian word (first byte lowest), zero-padded
/// past the end of the line.
#[inline(always)]
fn load8(line: &[u8], at: usize) -> u64 {
    match line.get(at..at + 8) {
        Some(b) => u64::from_le_bytes(<[u8; 8]>::try_from(b).unwrap_or([0; 8])),
        None => {
            // Near the end of the line: byte by byte (a copy would be a memcpy call).
            let mut w = 0u64;
            for (k, &c) in line.get(at..).unwrap_or(&[]).iter().take(8).enumerate() {
                w |= (c as u64) << (8 * k);
            }
            w
        }
    }
}

/// The value of the first `len` (1..=8) bytes of `w` as decimal digits, or `None` when one
/// is not a digit. Eight digits at a time, without a loop (the method of simdjson's
/// `parse_eight_digits_unrolled`).
#[inline(always)]
fn digits8(w: u64, len: usize) -> Option<u64> {
    let shift = (8 * (8 - len)) as u32 & 63;
    // Move the digits to the top and fill the bytes below with leading '0's.
    let x = (w << shift) | (ZEROS & !(u64::MAX << shift));
    let hi = 0xf0f0_f0f0_f0f0_f0f0;
    if (x & hi) | ((x.wrapping_add(0x0606_0606_0606_0606) & hi) >> 4) != 0x3333_3333_3333_3333 {
        return None;
    }
    let x = x - ZEROS;
    let x = x.wrapping_mul(10).wrapping_add(x >> 8);
    let m = 0x0000_00ff_0000_00ff;
    let x = (x & m)
        .wrapping_mul(100 + (1_000_000 << 32))
        .wrapping_add(((x >> 16) & m).wrapping_mul(1 + (10_000 << 32)));
    Some(x >> 32)
}

/// The value of `line[at..at + len]` as decimal digits, for `len` in 1..=16.
#[inline(always)]
fn digits16(line: &[u8], at: usize, len: usize) -> Option<u64> {
    if len <= 8 {
        digits8(load8(line, at), len)
    } else {
        let hi = digits8(load8(line, at), len - 8)?;
        Some(hi * 100_000_000 + digits8(load8(line, at + len - 8), 8)?)
    }
}

/// A count or port, exactly as [`logtext::parse_u64`] reads it.
#[inline(always)]
fn uint(line: &[u8], (start, end): (usize, usize)) -> Option<u64> {
    let len = end - start;
    if (1..=16).contains(&len) {
        digits16(line, start, len)
    } else {
        logtext::parse_u64(line.get(start..end)?)
    }
}

/// Decimal seconds as Zeek writes them (`1700000000.123456`), exactly as
/// [`logtext::parse_secs_micros`] reads them; other shapes go to it.
#[inline(always)]
fn secs_micros(line: &[u8], (start, end): (usize, usize)) -> Option<Micros> {
    const DOTS: u64 = LO * b'.' as u64;
    let len = end - start;
    // The dot, looked for in the first 16 bytes (which may run past the field).
    let m1 = zero_bytes(load8(line, start) ^ DOTS);
    let dot = if m1 != 0 {
        (m1.trailing_zeros() / 8) as usize
    } else {
        8 + (zero_bytes(load8(line, start + 8) ^ DOTS).trailing_zeros() / 8) as usize
    };
    // 1..=12 integer digits keep the value far from i64::MAX; 0..=6 decimals need no
    // truncation. Anything else, a sign or a bad digit included, is for the general parser.
    if (1..=12).contains(&dot) && dot < len && len - dot <= 7 {
        let flen = len - dot - 1;
        let frac = match flen {
            0 => Some(0),
            _ => digits8(load8(line, start + dot + 1), flen),
        };
        if let (Some(secs), Some(frac)) = (digits16(line, start, dot), frac) {
            let scale = [1, 100_000, 10_000, 1000, 100, 10, 1][flen];
            return Some(secs as i64 * 1_000_000 + frac as i64 * scale);
        }
    } else if dot >= len && (1..=12).contains(&len) {
        if let Some(secs) = digits16(line, start, len) {
            return Some(secs as i64 * 1_000_000);
        }
    }
    logtext::parse_secs_micros(line.get(start..end)?)
}

/// Splits `line` on `sep` a word at a time: `ends[i]` becomes the end of column `i` for the
/// first `MAX_COLS - 1` columns. Returns the number of columns.
#[inline]
fn split(line: &[u8], sep: u8, ends: &mut [usize; MAX_COLS]) -> usize {
    let pat = LO.wrapping_mul(sep as u64);
    let mut n = 0usize;
    let mut record = |mut mask: u64, base: usize| {
        while mask != 0 {
            ends[n.min(MAX_COLS - 1)] = base + (mask.trailing_zeros() / 8) as usize;
            n += 1;
            mask &= mask - 1;
        }
    };
    let mut chunks = line.chunks_exact(8);
    let mut base = 0usize;
    for c in &mut chunks {
        let w = u64::from_le_bytes(<[u8; 8]>::try_from(c).unwrap_or([0; 8]));
        record(zero_bytes(w ^ pat), base);
        base += 8;
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        let mut buf = [!sep; 8];
        buf[..rest.len()].copy_from_slice(rest);
        record(zero_bytes(u64::from_le_bytes(buf) ^ pat), base);
    }
    if n < MAX_COLS - 1 {
        ends[n] = line.len();
    }
    n + 1
}

/// A dotted-quad IPv4 address, exactly as [`logtext::parse_ip`] reads it; anything else
/// (IPv6, odd forms) goes to it.
///
/// Each octet is read as up to three digits at once, its length taken from which of them
/// are digits. (A branch-free version that classifies all 16 bytes first and places the
/// octets by the dots ran no faster and took more instructions.)
#[inline(always)]
fn ip(line: &[u8], (start, end): (usize, usize)) -> Option<IpAddr> {
    let len = end - start;
    let b = match line.get(start..start + 16) {
        Some(s) => <[u8; 16]>::try_from(s).unwrap_or([0; 16]),
        None => (load8(line, start) as u128 | (load8(line, start + 8) as u128) << 64).to_le_bytes(),
    };
    let mut addr = 0u32;
    let mut i = 0usize;
    let mut ok = (7..=15).contains(&len);
    for k in 0..4 {
        let d0 = b[i & 15].wrapping_sub(b'0') as u32;
        let d1 = b[(i + 1) & 15].wrapping_sub(b'0') as u32;
        let d2 = b[(i + 2) & 15].wrapping_sub(b'0') as u32;
        let two = d1 <= 9;
        let three = two && d2 <= 9;
        let v = if three {
            d0 * 100 + d1 * 10 + d2
        } else if two {
            d0 * 10 + d1
        } else {
            d0
        };
        ok &= d0 <= 9 && v <= 255;
        addr = addr << 8 | v;
        i += 1 + two as usize + three as usize;
        // Three dots inside the field, then its end: a fourth digit fails here too.
        if k < 3 {
            ok &= b[i & 15] == b'.';
            i += 1;
        }
    }
    if ok && i == len {
        return Some(IpAddr::V4(Ipv4Addr::from(addr)));
    }
    logtext::parse_ip(line.get(start..end)?)
}

/// Decodes one conn.log data line with layout `l`.
pub(super) fn tsv_line(l: &mut Layout, h: &Header, line: &[u8], out: &mut Out<'_, '_>) {
    let n = split(line, h.separator, &mut l.ends);
    fields(l, h, line, line, n, out);
}

/// Bytes the scanner classifies at once.
const BLOCK: usize = 64;

/// The separators and newlines among the [`BLOCK`] bytes of `data` from `at`, as bit masks
/// (bit `i` for byte `at + i`). Past the end of `data` nothing matches.
#[inline(always)]
fn classify(data: &[u8], at: usize, sep: u8) -> (u64, u64) {
    let block: [u8; BLOCK] = match data.get(at..at + BLOCK) {
        Some(b) => <[u8; BLOCK]>::try_from(b).unwrap_or([0; BLOCK]),
        None => {
            // The padding must match neither the separator nor a newline.
            let mut b = [if sep == 0 { 1 } else { 0 }; BLOCK];
            let rest = data.get(at..).unwrap_or(&[]);
            if let Some(head) = b.get_mut(..rest.len()) {
                head.copy_from_slice(rest);
            }
            b
        }
    };
    let (s, nl) = (u8x16::splat(sep), u8x16::splat(b'\n'));
    let (mut seps, mut nls) = (0u64, 0u64);
    for (k, lane) in block.chunks_exact(16).enumerate() {
        let v = u8x16::new(<[u8; 16]>::try_from(lane).unwrap_or([0; 16]));
        seps |= u64::from(v.simd_eq(s).to_bitmask()) << (16 * k);
        nls |= u64::from(v.simd_eq(nl).to_bitmask()) << (16 * k);
    }
    (seps, nls)
}

/// Decodes the conn.log data lines of `chunk` from offset `pos` with layout `l`, until a
/// line the general loop must see: a header or JSON line, an empty line, one starting with
/// `\r`, or one longer than [`MAX_LINE`]. Returns that line's offset, or `chunk.len()`.
///
/// One pass classifies the bytes [`BLOCK`] at a time (SIMD compares where the target has
/// them) and walks the bits: separators before a newline are the line's column ends, the
/// newline ends the line. The columns and stats are exactly those of [`split`] over the
/// lines `logtext::lines` cuts, which the differential tests check.
pub(super) fn run(
    l: &mut Layout,
    h: &Header,
    chunk: &[u8],
    pos: usize,
    base_offset: u64,
    sink: &mut dyn Sink,
    st: &mut DecodeStats,
) -> usize {
    let sep = h.separator;
    let starts_plain =
        |at: usize| !matches!(chunk.get(at), None | Some(b'#' | b'{' | b'\n' | b'\r'));
    if !starts_plain(pos) {
        return pos;
    }
    let mut line_start = pos;
    let mut block = pos;
    let (mut seps, mut nls) = classify(chunk, block, sep);
    // Separators recorded for the current line.
    let mut n = 0usize;
    loop {
        // The separators before the next newline of this block (all of them when none).
        let e = if nls == 0 {
            BLOCK
        } else {
            nls.trailing_zeros() as usize
        };
        let mut before = if e == BLOCK {
            seps
        } else {
            seps & ((1u64 << e) - 1)
        };
        while before != 0 {
            let at = block + before.trailing_zeros() as usize;
            l.ends[n.min(MAX_COLS - 1)] = at - line_start;
            n += 1;
            before &= before - 1;
        }
        let line_end = if e == BLOCK {
            block += BLOCK;
            if block < chunk.len() {
                (seps, nls) = classify(chunk, block, sep);
                continue;
            }
            // The last line of the chunk, without a newline.
            chunk.len()
        } else {
            seps &= !((2u64 << e).wrapping_sub(1));
            nls &= nls - 1;
            block + e
        };
        let mut line = chunk.get(line_start..line_end).unwrap_or(&[]);
        if let [head @ .., b'\r'] = line {
            line = head;
        }
        if line.len() > MAX_LINE {
            return line_start;
        }
        if n < MAX_COLS - 1 {
            l.ends[n] = line.len();
        }
        st.records += 1;
        let mut out = Out {
            sink: &mut *sink,
            stats: &mut *st,
            base: base_offset,
            off: line_start,
        };
        let wide = chunk.get(line_start..).unwrap_or(line);
        fields(l, h, line, wide, n + 1, &mut out);
        line_start = line_end + 1;
        n = 0;
        if !starts_plain(line_start) {
            return line_start.min(chunk.len());
        }
    }
}

/// Decodes one conn.log data line whose `n` column ends are in `l.ends`. `wide` is the
/// line followed by whatever bytes come after it in the buffer (at least the line): the
/// parsers read whole words that may run past a field, and past the line (which otherwise
/// means a byte-by-byte load), and never let those bytes change a value.
#[inline(always)]
fn fields(l: &mut Layout, h: &Header, line: &[u8], wide: &[u8], n: usize, out: &mut Out<'_, '_>) {
    if n != l.nfields {
        out.bad(
            AnomalyKind::Malformed,
            format!("{n} fields where #fields declares {}", l.nfields),
        );
        return;
    }
    let l = &*l;
    // Every located column is complete: `n` reaches past the last needed one.
    let span = |r: Role| -> Option<(usize, usize)> {
        let c = l.cols[r as usize];
        if c == ABSENT {
            return None;
        }
        let c = c as usize;
        let start = if c == 0 { 0 } else { l.ends[c - 1] + 1 };
        Some((start, l.ends[c]))
    };
    let raw = |r: Role| span(r).and_then(|(a, b)| line.get(a..b));
    let is_marker = |v: &[u8]| v == h.unset.as_slice() || v == h.empty.as_slice();
    let text = |r: Role| raw(r).filter(|v| !is_marker(v));
    let u64_of = |r: Role| span(r).and_then(|s| uint(wide, s));
    let uid = if h.keep_uid {
        text(Role::Uid).and_then(|v| std::str::from_utf8(v).ok())
    } else {
        None
    };
    let orig_h = span(Role::OrigH).and_then(|s| ip(wide, s));
    let resp_h = span(Role::RespH).and_then(|s| ip(wide, s));
    // Ports, packets and protocol only for the flows the sink asks them for.
    let detail = match (orig_h, resp_h) {
        (Some(a), Some(b)) => out.sink.wants_detail(a, b),
        _ => true,
    };
    let mut c = Conn {
        ts: span(Role::Ts).and_then(|s| secs_micros(wide, s)),
        duration: span(Role::Duration).and_then(|s| secs_micros(wide, s)),
        uid,
        orig_h,
        resp_h,
        ..Conn::default()
    };
    if detail {
        c.orig_p = u64_of(Role::OrigP).and_then(|v| u16::try_from(v).ok());
        c.resp_p = u64_of(Role::RespP).and_then(|v| u16::try_from(v).ok());
        c.ip_proto = u64_of(Role::IpProto).and_then(|v| u8::try_from(v).ok());
        c.orig_pkts = u64_of(Role::OrigPkts);
        c.resp_pkts = u64_of(Role::RespPkts);
        c.proto = match text(Role::Proto) {
            Some(b"tcp") => Some("tcp"),
            Some(b"udp") => Some("udp"),
            Some(b"icmp") => Some("icmp"),
            // Any other protocol name maps to IpProto(0), like an absent one.
            _ => None,
        };
    }
    // A flow takes the IP-level byte counts when present, the payload ones otherwise:
    // skip parsing what would not be used.
    c.orig_ip_bytes = u64_of(Role::OrigIpBytes);
    c.resp_ip_bytes = u64_of(Role::RespIpBytes);
    if c.orig_ip_bytes.is_none() {
        c.orig_bytes = u64_of(Role::OrigBytes);
    }
    if c.resp_ip_bytes.is_none() {
        c.resp_bytes = u64_of(Role::RespBytes);
    }
    // Most conn logs have no L2 columns: skip the two lookups and closures then.
    if l.cols[Role::OrigL2 as usize] != ABSENT || l.cols[Role::RespL2 as usize] != ABSENT {
        let mac = |r: Role| {
            text(r)
                .and_then(|v| std::str::from_utf8(v).ok())
                .and_then(Mac::parse)
        };
        c.orig_l2 = mac(Role::OrigL2);
        c.resp_l2 = mac(Role::RespL2);
    }
    emit_conn(c, out);
}

#[cfg(test)]
mod tests {
    //! Differential tests: the fast path against the general one, on generated conn logs.

    use super::super::{decode_body, decode_body_general, parse_header};
    use super::*;
    use crate::obs::VecSink;

    /// A small deterministic generator (SplitMix64), so failures reproduce.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^ (z >> 31)
        }
        fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }
        fn pick<'a>(&mut self, xs: &[&'a str]) -> &'a str {
            xs[self.below(xs.len() as u64) as usize]
        }
    }

    /// Values off the common shape, shared by all columns: markers, junk, non-UTF-8.
    const ODD: &[&str] = &["-", "(empty)", "", "NONE", "0", "x", "\u{fc}", "-1", " 1"];

    fn time(r: &mut Rng) -> String {
        match r.below(10) {
            0..=4 => format!(
                "{}.{:06}",
                1_600_000_000 + r.below(1 << 30),
                r.below(1_000_000)
            ),
            5 => format!("{}.{}", r.below(100), r.below(1_000_000)),
            6 => format!("{}", r.below(1 << 40)),
            _ => r
                .pick(&[
                    "XXXXXXXXXX.XXXXXX",
                    "-3.5",
                    ".5",
                    "5.",
                    ".",
                    "1.2.3",
                    "123456789012.5",
                    "9223372036854.775807",
                    "12345678901.1234567",
                    "99999999999999999999",
                    "1700000000.00000x",
                    "0.000001",
                ])
                .to_string(),
        }
    }

    fn addr(r: &mut Rng) -> String {
        match r.below(10) {
            0..=5 => format!(
                "{}.{}.{}.{}",
                r.below(256),
                r.below(256),
                r.below(256),
                r.below(256)
            ),
            6 => format!("2001:db8::{:x}", r.below(1 << 16)),
            _ => r
                .pick(&[
                    "fe80::1%eth0",
                    "::ffff:1.2.3.4",
                    "::",
                    "256.1.1.1",
                    "1.2.3",
                    "1.2.3.4.",
                    "01.02.03.004",
                    "0001.2.3.4",
                    "1..2.3",
                    "1.2.3.4x",
                    "255.255.255.255",
                    "0.0.0.0",
                ])
                .to_string(),
        }
    }

    fn count(r: &mut Rng) -> String {
        match r.below(10) {
            0..=5 => {
                let bits = r.below(40) + 1;
                r.below(1 << bits).to_string()
            }
            6 => r.below(70_000).to_string(),
            _ => r
                .pick(&[
                    "18446744073709551615",
                    "9999999999999999999",
                    "99999999999999999999",
                    "1234567890123456789",
                    "00080",
                    "+1",
                    "1e5",
                    "65535",
                    "65536",
                    "255",
                    "256",
                ])
                .to_string(),
        }
    }

    fn value(r: &mut Rng, field: &str) -> String {
        if r.below(12) == 0 {
            return r.pick(ODD).to_string();
        }
        match field {
            "ts" | "duration" => time(r),
            "uid" => format!("C{:x}", r.next()),
            "id.orig_h" | "id.resp_h" => addr(r),
            "proto" => r
                .pick(&["tcp", "udp", "icmp", "unknown_transport", "TCP", "sctp"])
                .to_string(),
            "orig_l2_addr" | "resp_l2_addr" => r
                .pick(&[
                    "00:11:22:33:44:55",
                    "0011.2233.4455",
                    "00:11:22:33:44",
                    "zz",
                ])
                .to_string(),
            "service" | "conn_state" | "history" => r.pick(&["ssl", "dns", "SF", "ShAD"]).into(),
            "tunnel_parents" => r.pick(&["-", "(empty)", "CaaS,CbbS"]).to_string(),
            _ => count(r),
        }
    }

    const CONN: &str = "ts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\tservice\t\
        duration\torig_bytes\tresp_bytes\tconn_state\tlocal_orig\tlocal_resp\tmissed_bytes\t\
        history\torig_pkts\torig_ip_bytes\tresp_pkts\tresp_ip_bytes\ttunnel_parents";

    /// Header variants: Zeek's default, extra columns (ip_proto, L2 addresses) in another
    /// order, another separator, no `#path`, custom markers (one numeric, which the fast
    /// path must refuse).
    fn headers() -> Vec<String> {
        let mut out = vec![format!("#separator \\x09\n#path\tconn\n#fields\t{CONN}\n")];
        let shuffled = "uid\tproto\tip_proto\tid.resp_p\tid.resp_h\tresp_l2_addr\tts\t\
            orig_l2_addr\tid.orig_h\tid.orig_p\tduration\torig_pkts\tresp_pkts\torig_bytes\t\
            resp_bytes\tconn_state";
        out.push(format!(
            "#separator \\x09\n#path\tconn\n#fields\t{shuffled}\n"
        ));
        out.push(format!(
            "#separator \\x7c\n#path|conn_red\n#fields|{}\n",
            CONN.replace('\t', "|")
        ));
        out.push(format!("#separator \\x09\n#fields\t{CONN}\n"));
        out.push(format!(
            "#separator \\x09\n#unset_field\tNONE\n#empty_field\tx\n#path\tconn\n#fields\t{CONN}\n"
        ));
        out.push(format!(
            "#separator \\x09\n#unset_field\t0\n#path\tconn\n#fields\t{CONN}\n"
        ));
        // Repeated columns: the last one wins on both paths.
        out.push(
            "#separator \\x09\n#path\tconn\n#fields\tts\tid.orig_h\tid.resp_h\tts\tid.resp_h\n"
                .into(),
        );
        out
    }

    /// A generated log: `header`, then `n` lines, some of them broken; with `changes`, some
    /// lines change the layout for a while.
    fn log(r: &mut Rng, header: &str, n: usize, changes: bool) -> Vec<u8> {
        let h = parse_header(header.as_bytes()).expect("header");
        let sep = (h.separator as char).to_string();
        let mut out = header.as_bytes().to_vec();
        for _ in 0..n {
            let mut vals: Vec<String> = h.fields.iter().map(|f| value(r, f)).collect();
            match r.below(40) {
                0 => {
                    vals.pop();
                }
                1 => vals.push("extra".into()),
                2 => vals.clear(),
                3 => vals = vec!["{\"_path\":\"conn\"".into()],
                4 if changes => {
                    // A short-lived layout change inside the body, then the original one.
                    let fields = header.lines().find(|l| l.starts_with("#fields"));
                    let short = ["#fields", "ts", "id.orig_h", "id.resp_h"].join(&sep);
                    let data = [time(r), addr(r), addr(r)].join(&sep);
                    out.extend_from_slice(format!("{short}\n{data}\n").as_bytes());
                    vals = vec![fields.unwrap_or_default().to_string()];
                }
                5 => {
                    // Over the line cap, separators included.
                    let long = format!("1{sep}").repeat(crate::logtext::MAX_LINE / 2 + 8);
                    vals = vec![long];
                }
                6 => vals.extend((0..MAX_COLS + 6).map(|i| i.to_string())),
                _ => {}
            }
            out.extend_from_slice(vals.join(&sep).as_bytes());
            if r.below(20) == 0 {
                out.push(b'\r');
            }
            if r.below(50) == 0 {
                out.extend_from_slice(&[0xff, 0xfe]);
            }
            out.push(b'\n');
        }
        out
    }

    #[test]
    fn fast_path_matches_general() {
        let mut r = Rng(7);
        let mut fast_used = 0;
        for header in headers() {
            let input = log(&mut r, &header, 3000, true);
            let h = parse_header(&input).expect("header");
            fast_used += Layout::new(&h).is_some() as usize;
            let body = &input[h.body_start..];
            let (mut fast, mut general) = (VecSink::default(), VecSink::default());
            let fst = decode_body(&h, body, h.body_start as u64, &mut fast);
            let gst = decode_body_general(&h, body, h.body_start as u64, &mut general);
            assert_eq!(fst, gst, "{header}");
            assert!(
                fst.records > 2500 && fast.observations.len() > 1000,
                "{fst:?}"
            );
            // The last line without its newline, and the body cut into pieces anywhere
            // between lines, decode alike. (A layout change inside the body holds for its
            // chunk only, so these logs have none.)
            let steady = log(&mut r, &header, 3000, false);
            let body = &steady[h.body_start..];
            let cut = body.strip_suffix(b"\n").unwrap_or(body);
            let (mut whole, mut piecewise) = (VecSink::default(), VecSink::default());
            let wst = decode_body(&h, cut, 0, &mut whole);
            let mut pst = DecodeStats::default();
            let mut at = 0;
            while at < cut.len() {
                let want = (at + 1 + r.below(5000) as usize).min(cut.len());
                let end = memchr::memchr(b'\n', &cut[want..]).map_or(cut.len(), |i| want + i + 1);
                pst.add(&decode_body(&h, &cut[at..end], at as u64, &mut piecewise));
                at = end;
            }
            assert_eq!(wst, pst, "{header}");
            assert_eq!(whole.observations, piecewise.observations, "{header}");
            assert_eq!(whole.anomalies, piecewise.anomalies, "{header}");
            let mut general_cut = VecSink::default();
            let gcst = decode_body_general(&h, cut, 0, &mut general_cut);
            assert_eq!(wst, gcst, "{header}");
            assert_eq!(whole.observations, general_cut.observations, "{header}");
            for (i, (a, b)) in fast
                .observations
                .iter()
                .zip(&general.observations)
                .enumerate()
            {
                assert_eq!(a, b, "{header} observation {i}");
            }
            assert_eq!(fast.observations.len(), general.observations.len());
            assert_eq!(fast.anomalies, general.anomalies, "{header}");
        }
        assert_eq!(
            fast_used, 6,
            "all headers but the numeric marker take the fast path"
        );
    }

    /// A sink that declines the detail of some flows (by their addresses).
    #[derive(Default)]
    struct Frugal(VecSink);

    impl crate::obs::Sink for Frugal {
        fn observe(&mut self, obs: crate::obs::Observation) {
            self.0.observe(obs)
        }
        fn anomaly(&mut self, a: crate::obs::Anomaly) {
            self.0.anomaly(a)
        }
        fn wants_detail(&mut self, src: IpAddr, dst: IpAddr) -> bool {
            (src.is_ipv4() as u8 + dst.is_ipv4() as u8) % 2 == 1 || src.to_string().ends_with('7')
        }
    }

    /// Declining the detail of a flow changes its ports, packets and protocol only.
    #[test]
    fn declined_detail_changes_nothing_else() {
        use crate::obs::Observation;
        let mut r = Rng(23);
        let (mut declined, mut kept) = (0, 0);
        for header in headers() {
            let input = log(&mut r, &header, 2000, true);
            let h = parse_header(&input).expect("header");
            let body = &input[h.body_start..];
            // The general path parses everything; the fast path may skip.
            let fast = Layout::new(&h).is_some();
            let (mut all, mut frugal) = (VecSink::default(), Frugal::default());
            let ast = decode_body(&h, body, 0, &mut all);
            let fst = decode_body(&h, body, 0, &mut frugal);
            assert_eq!(ast, fst, "{header}");
            assert_eq!(all.anomalies, frugal.0.anomalies, "{header}");
            assert_eq!(all.observations.len(), frugal.0.observations.len());
            for (a, f) in all.observations.iter().zip(&frugal.0.observations) {
                let (Observation::Flow(a), Observation::Flow(f)) = (a, f) else {
                    assert_eq!(a, f);
                    continue;
                };
                let mut want = a.clone();
                if !fast || Frugal::default().wants_detail(a.src, a.dst) {
                    kept += 1;
                } else {
                    declined += 1;
                    (want.sport, want.dport, want.proto) = (0, 0, crate::obs::IpProto(0));
                    (want.packets_out, want.packets_in) = (0, 0);
                }
                assert_eq!(&want, f, "{header}");
            }
        }
        assert!(declined > 1000 && kept > 1000, "{declined} {kept}");
    }

    #[test]
    fn parsers_match_general() {
        let mut r = Rng(11);
        for _ in 0..20_000 {
            // The fast parsers read past the field: put another one after it.
            let t = time(&mut r);
            let line = format!("{t}\t{}.{}", time(&mut r), count(&mut r));
            let fast = secs_micros(line.as_bytes(), (0, t.len()));
            assert_eq!(fast, logtext::parse_secs_micros(t.as_bytes()), "{line}");
            let c = count(&mut r);
            let line = format!("{c}\t{}", count(&mut r));
            let fast = uint(line.as_bytes(), (0, c.len()));
            assert_eq!(fast, logtext::parse_u64(c.as_bytes()), "{line}");
            let a = addr(&mut r);
            for next in ["", "\t1", "1", ".1.2"] {
                let line = format!("{a}{next}");
                let fast = ip(line.as_bytes(), (0, a.len()));
                assert_eq!(fast, logtext::parse_ip(a.as_bytes()), "{line}");
            }
        }
    }
}
