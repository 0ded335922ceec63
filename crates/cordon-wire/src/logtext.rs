//! Shared helpers for the text-log decoders: line splitting, allocation-free number, address
//! and timestamp parsing, and name normalisation.
//!
//! Everything here borrows its input, never panics and never allocates on the hot paths
//! (numbers, IPv4 addresses, decimal timestamps).

use crate::obs::{Anomaly, AnomalyKind, DnsData, DnsRecord, Micros, Sink};
use std::net::{IpAddr, Ipv4Addr};

/// Longest line any text-log decoder accepts; longer lines are reported as
/// [`AnomalyKind::Limit`] and skipped.
pub const MAX_LINE: usize = 1 << 20;

/// Most answers kept from one DNS record: a cap on what one log line can make us allocate.
pub const MAX_ANSWERS: usize = 256;

/// Iterates over the lines of `input` as `(offset of line start, line without "\n" or "\r\n")`.
/// A final line without a newline is included; an empty input yields nothing.
pub fn lines(input: &[u8]) -> impl Iterator<Item = (usize, &[u8])> {
    let mut pos = 0usize;
    std::iter::from_fn(move || {
        if pos >= input.len() {
            return None;
        }
        let start = pos;
        let rest = &input[start..];
        let end = match memchr::memchr(b'\n', rest) {
            Some(i) => {
                pos = start + i + 1;
                start + i
            }
            None => {
                pos = input.len();
                input.len()
            }
        };
        let mut line = &input[start..end];
        if let [head @ .., b'\r'] = line {
            line = head;
        }
        Some((start, line))
    })
}

/// Reports an anomaly at `base + offset`.
pub fn anomaly(
    sink: &mut dyn Sink,
    base: u64,
    offset: usize,
    kind: AnomalyKind,
    detail: impl Into<String>,
) {
    sink.anomaly(Anomaly {
        offset: base.saturating_add(offset as u64),
        kind,
        detail: detail.into(),
    });
}

/// Trims ASCII whitespace from both ends.
pub fn trim(mut s: &[u8]) -> &[u8] {
    while let [first, rest @ ..] = s {
        if first.is_ascii_whitespace() {
            s = rest;
        } else {
            break;
        }
    }
    while let [rest @ .., last] = s {
        if last.is_ascii_whitespace() {
            s = rest;
        } else {
            break;
        }
    }
    s
}

/// Parses a decimal unsigned integer of at most 19 digits.
pub fn parse_u64(s: &[u8]) -> Option<u64> {
    if s.is_empty() || s.len() > 19 {
        return None;
    }
    let mut v = 0u64;
    for &c in s {
        let d = c.wrapping_sub(b'0');
        if d > 9 {
            return None;
        }
        v = v * 10 + d as u64;
    }
    Some(v)
}

/// Parses a port number.
pub fn parse_u16(s: &[u8]) -> Option<u16> {
    parse_u64(s).and_then(|v| u16::try_from(v).ok())
}

/// Parses a dotted-quad IPv4 address without allocating.
pub fn parse_ipv4(s: &[u8]) -> Option<Ipv4Addr> {
    let mut out = [0u8; 4];
    let mut i = 0usize;
    let mut cur: u32 = 0;
    let mut digits = 0usize;
    for &c in s {
        if c == b'.' {
            if digits == 0 || i == 3 {
                return None;
            }
            out[i] = cur as u8;
            i += 1;
            cur = 0;
            digits = 0;
        } else {
            let d = c.wrapping_sub(b'0');
            if d > 9 || digits == 3 {
                return None;
            }
            cur = cur * 10 + d as u32;
            if cur > 255 {
                return None;
            }
            digits += 1;
        }
    }
    if i != 3 || digits == 0 {
        return None;
    }
    out[3] = cur as u8;
    Some(Ipv4Addr::from(out))
}

/// Parses an IPv4 or IPv6 address (IPv6 possibly with a `%zone`, which is dropped).
pub fn parse_ip(s: &[u8]) -> Option<IpAddr> {
    if let Some(v4) = parse_ipv4(s) {
        return Some(IpAddr::V4(v4));
    }
    if s.len() > 64 || !s.contains(&b':') {
        return None;
    }
    let s = match memchr::memchr(b'%', s) {
        Some(i) => &s[..i],
        None => s,
    };
    std::str::from_utf8(s).ok()?.parse::<IpAddr>().ok()
}

/// Parses decimal seconds (`1521911720.865716`, `12`, `-3.5`) into microseconds, without
/// floating point: digits past the sixth decimal are truncated.
pub fn parse_secs_micros(s: &[u8]) -> Option<Micros> {
    let (neg, s) = match s {
        [b'-', rest @ ..] => (true, rest),
        _ => (false, s),
    };
    let (int, frac) = match memchr::memchr(b'.', s) {
        Some(i) => (&s[..i], &s[i + 1..]),
        None => (s, &b""[..]),
    };
    if int.is_empty() && frac.is_empty() {
        return None;
    }
    let secs = if int.is_empty() { 0 } else { parse_u64(int)? };
    if secs > (i64::MAX as u64) / 1_000_000 - 1 {
        return None;
    }
    let mut us = 0i64;
    let mut n = 0;
    for &c in frac {
        let d = c.wrapping_sub(b'0');
        if d > 9 {
            return None;
        }
        if n < 6 {
            us = us * 10 + d as i64;
            n += 1;
        }
    }
    while n < 6 {
        us *= 10;
        n += 1;
    }
    let v = secs as i64 * 1_000_000 + us;
    Some(if neg { -v } else { v })
}

/// Converts floating-point seconds to microseconds, rounding to the nearest microsecond.
pub fn f64_secs_micros(v: f64) -> Option<Micros> {
    if !v.is_finite() || v.abs() > 9.0e12 {
        return None;
    }
    Some((v * 1e6).round() as i64)
}

/// Days from 1970-01-01 to the given proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m as i64 + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146097 + doe - 719468
}

fn digits(s: &[u8], n: usize) -> Option<u32> {
    let part = s.get(..n)?;
    parse_u64(part).map(|v| v as u32)
}

/// Parses an RFC 3339 / ISO 8601 timestamp: `2018-03-24T17:15:20.865716Z`, with `T` or a
/// space, an optional fraction, and `Z`, `+hh:mm`, `+hhmm` or no zone (taken as UTC).
pub fn parse_rfc3339(s: &[u8]) -> Option<Micros> {
    let s = trim(s);
    if s.len() < 19 {
        return None;
    }
    let y = digits(s, 4)? as i64;
    if s[4] != b'-' || s[7] != b'-' || !matches!(s[10], b'T' | b't' | b' ') {
        return None;
    }
    let mo = digits(&s[5..], 2)?;
    let d = digits(&s[8..], 2)?;
    if s[13] != b':' || s[16] != b':' {
        return None;
    }
    let h = digits(&s[11..], 2)?;
    let mi = digits(&s[14..], 2)?;
    let se = digits(&s[17..], 2)?;
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || se > 60 {
        return None;
    }
    let mut rest = &s[19..];
    let mut us = 0i64;
    if let [b'.', tail @ ..] = rest {
        let n = tail.iter().take_while(|c| c.is_ascii_digit()).count();
        if n == 0 {
            return None;
        }
        let mut scale = 0;
        for &c in &tail[..n] {
            if scale < 6 {
                us = us * 10 + (c - b'0') as i64;
                scale += 1;
            }
        }
        while scale < 6 {
            us *= 10;
            scale += 1;
        }
        rest = &tail[n..];
    }
    let offset_secs: i64 = match rest {
        [] | [b'Z'] | [b'z'] => 0,
        [sign @ (b'+' | b'-'), tz @ ..] => {
            let (hh, mm) = match tz.len() {
                5 if tz[2] == b':' => (digits(tz, 2)?, digits(&tz[3..], 2)?),
                4 => (digits(tz, 2)?, digits(&tz[2..], 2)?),
                2 => (digits(tz, 2)?, 0),
                _ => return None,
            };
            let v = (hh as i64) * 3600 + (mm as i64) * 60;
            if *sign == b'+' {
                v
            } else {
                -v
            }
        }
        _ => return None,
    };
    let days = days_from_civil(y, mo, d);
    let secs = days * 86400 + (h as i64) * 3600 + (mi as i64) * 60 + se as i64 - offset_secs;
    Some(secs * 1_000_000 + us)
}

/// Parses a time given as Unix seconds, milliseconds or microseconds (by magnitude), as
/// decimal seconds, or as RFC 3339.
pub fn parse_time_any(s: &[u8]) -> Option<Micros> {
    let s = trim(s);
    if s.len() >= 19 && s.get(4) == Some(&b'-') {
        return parse_rfc3339(s);
    }
    if s.contains(&b'.') {
        return parse_secs_micros(s);
    }
    let v = parse_u64(s)? as i64;
    Some(scale_epoch(v))
}

/// Scales an integer epoch value to microseconds by its magnitude: below 10^11 it is
/// seconds, below 10^14 milliseconds, otherwise microseconds.
pub fn scale_epoch(v: i64) -> Micros {
    if v.abs() < 100_000_000_000 {
        v.saturating_mul(1_000_000)
    } else if v.abs() < 100_000_000_000_000 {
        v.saturating_mul(1_000)
    } else {
        v
    }
}

/// Normalises a DNS or server name: lowercase, no trailing dot, no surrounding whitespace.
/// Returns `None` for an empty name.
pub fn norm_name(s: &str) -> Option<String> {
    let s = s.trim();
    let s = s.strip_suffix('.').unwrap_or(s);
    if s.is_empty() {
        return None;
    }
    Some(s.to_ascii_lowercase())
}

/// Normalises an HTTP Host value: drops a `:port` (and the brackets of an IPv6 literal).
pub fn norm_host(s: &str) -> Option<String> {
    let s = s.trim();
    let host = if let Some(rest) = s.strip_prefix('[') {
        rest.split(']').next().unwrap_or(rest)
    } else if s.matches(':').count() == 1 {
        s.split(':').next().unwrap_or(s)
    } else {
        s
    };
    norm_name(host)
}

/// Builds DNS answer records from a query name and answers in order, where each answer is
/// either an address or a CNAME target: CNAMEs chain from the query (query → cname1 →
/// cname2), and addresses belong to the last name of the chain.
pub fn chain_answers<'a>(
    query: &str,
    answers: impl Iterator<Item = (&'a str, u32)>,
    cname_ok: bool,
) -> Vec<DnsRecord> {
    let mut out = Vec::new();
    let mut owner = query.to_string();
    for (a, ttl) in answers.take(MAX_ANSWERS) {
        let a = a.trim();
        if let Some(ip) = parse_ip(a.as_bytes()) {
            out.push(DnsRecord {
                name: owner.clone(),
                data: DnsData::Addr(ip),
                ttl,
            });
        } else if cname_ok && is_hostname(a) {
            let Some(target) = norm_name(a) else { continue };
            out.push(DnsRecord {
                name: owner.clone(),
                data: DnsData::Cname(target.clone()),
                ttl,
            });
            owner = target;
        }
    }
    out
}

/// True when `s` looks like a host name (no spaces or control characters), so a free-form
/// answer such as a TXT string is not taken for a CNAME target.
pub fn is_hostname(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 255
        && s.bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'-' | b'_' | b'*'))
}

/// Parses a TTL given as decimal seconds (`2230.000000`), truncated, saturating at u32::MAX.
pub fn parse_ttl(s: &[u8]) -> u32 {
    parse_secs_micros(s)
        .map(|us| (us / 1_000_000).clamp(0, u32::MAX as i64) as u32)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times() {
        let cases: &[(&str, Option<Micros>)] = &[
            ("2018-03-24T17:15:20.865716Z", Some(1521911720865716)),
            ("2018-03-24T17:15:20Z", Some(1521911720000000)),
            ("2018-03-24 17:15:20", Some(1521911720000000)),
            ("2018-03-24T19:15:20.5+02:00", Some(1521911720500000)),
            ("2017-01-27T16:03:18.123456+0000", Some(1485532998123456)),
            ("1970-01-01T00:00:00Z", Some(0)),
            ("2018-13-24T17:15:20Z", None),
            ("2018-03-24T17:15", None),
            ("2018-03-24T17:15:20.Z", None),
        ];
        for (s, want) in cases {
            assert_eq!(parse_rfc3339(s.as_bytes()), *want, "{s}");
        }
        let secs: &[(&str, Option<Micros>)] = &[
            ("1521911720.865716", Some(1521911720865716)),
            ("1521911720.8657169", Some(1521911720865716)),
            ("12", Some(12_000_000)),
            ("0.5", Some(500_000)),
            ("XXXXXXXXXX.XXXXXX", None),
            ("", None),
            (".", None),
            ("99999999999999999999", None),
        ];
        for (s, want) in secs {
            assert_eq!(parse_secs_micros(s.as_bytes()), *want, "{s}");
        }
        assert_eq!(parse_time_any(b"1418530010"), Some(1_418_530_010_000_000));
        assert_eq!(
            parse_time_any(b"1418530010123"),
            Some(1_418_530_010_123_000)
        );
    }

    #[test]
    fn addresses() {
        let cases: &[(&str, Option<&str>)] = &[
            ("10.0.0.1", Some("10.0.0.1")),
            ("255.255.255.255", Some("255.255.255.255")),
            ("256.0.0.1", None),
            ("1.2.3", None),
            ("1.2.3.4.5", None),
            ("1..3.4", None),
            ("0001.2.3.4", None),
            ("2001:db8::1", Some("2001:db8::1")),
            ("fe80::1%eth0", Some("fe80::1")),
            ("-", None),
            ("example.com", None),
        ];
        for (s, want) in cases {
            let got = parse_ip(s.as_bytes()).map(|a| a.to_string());
            assert_eq!(got.as_deref(), *want, "{s}");
        }
    }

    #[test]
    fn chains() {
        let got = chain_answers(
            "www.apple.com",
            [
                ("www.apple.com.edgekey.net.", 10),
                ("E6858.dsce9.akamaiedge.net", 20),
                ("1.2.3.4", 30),
            ]
            .into_iter(),
            true,
        );
        assert_eq!(got.len(), 3);
        assert_eq!(got[0].name, "www.apple.com");
        assert_eq!(
            got[0].data,
            DnsData::Cname("www.apple.com.edgekey.net".into())
        );
        assert_eq!(got[1].name, "www.apple.com.edgekey.net");
        assert_eq!(got[2].name, "e6858.dsce9.akamaiedge.net");
        assert_eq!(got[2].ttl, 30);
        let txt = chain_answers("x", [("TXT 12 v=spf1 -all", 1)].into_iter(), true);
        assert!(txt.is_empty());
    }

    #[test]
    fn hosts() {
        for (s, want) in [
            ("Example.COM:8080", Some("example.com")),
            ("[2001:db8::1]:443", Some("2001:db8::1")),
            ("2001:db8::1", Some("2001:db8::1")),
            ("www.x.org.", Some("www.x.org")),
            ("", None),
        ] {
            assert_eq!(norm_host(s).as_deref(), want, "{s}");
        }
    }
}
