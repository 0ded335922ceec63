//! Indicator values and times: addresses, CIDRs, domain names and URLs to match keys;
//! STIX patterns to the keys that decide them; RFC 3339 times to microseconds.

use super::pattern::{Comparison, Expr, Op, Pattern, Value};
use super::report::clip;
use super::set::Target;
use cordon_index::domain::normalize;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// An address or a CIDR (host bits cleared; a /32 or /128 is an address).
pub fn parse_ip_or_cidr(s: &str) -> Option<Target> {
    let s = s.trim();
    match s.split_once('/') {
        None => s.parse::<IpAddr>().ok().map(Target::Addr),
        Some((a, len)) => {
            let a: IpAddr = a.parse().ok()?;
            if len.is_empty() || len.len() > 3 || !len.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            let len: u8 = len.parse().ok()?;
            match a {
                IpAddr::V4(v) => {
                    if len > 32 {
                        return None;
                    }
                    if len == 32 {
                        return Some(Target::Addr(a));
                    }
                    let mask = u32::MAX.checked_shl(32 - u32::from(len)).unwrap_or(0);
                    Some(Target::Net(
                        IpAddr::V4(Ipv4Addr::from(u32::from(v) & mask)),
                        len,
                    ))
                }
                IpAddr::V6(v) => {
                    if len > 128 {
                        return None;
                    }
                    if len == 128 {
                        return Some(Target::Addr(a));
                    }
                    let mask = u128::MAX.checked_shl(128 - u32::from(len)).unwrap_or(0);
                    Some(Target::Net(
                        IpAddr::V6(Ipv6Addr::from(u128::from(v) & mask)),
                        len,
                    ))
                }
            }
        }
    }
}

/// A domain name, normalised; `None` when it cannot be a host name (or is an address).
pub fn parse_domain(s: &str) -> Option<Target> {
    let n = normalize(s.trim())?;
    // No top-level domain is all digits: `999.1.1.1` is a bad address, not a name. A bare
    // label is allowed (a brand TLD).
    let tld = n.rsplit('.').next().unwrap_or("");
    if tld.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(Target::Name(n))
}

/// The host of a URL (with or without a scheme), as an address or a name.
pub fn url_host(url: &str) -> Option<Target> {
    let s = url.trim();
    let rest = match s.find("://") {
        Some(i) => &s[i + 3..],
        None => s,
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let auth = &rest[..end];
    let host_port = auth.rsplit_once('@').map_or(auth, |(_, h)| h);
    let host = if let Some(v6) = host_port.strip_prefix('[') {
        v6.split_once(']')?.0
    } else {
        match host_port.rsplit_once(':') {
            Some((h, p)) if p.bytes().all(|b| b.is_ascii_digit()) => h,
            _ => host_port,
        }
    };
    if let Ok(a) = host.parse::<IpAddr>() {
        return Some(Target::Addr(a));
    }
    parse_domain(host)
}

/// Undoes the usual defanging of shared indicators: `hxxp://`, `[.]`, `(.)`, `[:]`.
pub fn refang(s: &str) -> std::borrow::Cow<'_, str> {
    if !s.contains(['[', '(', 'x', 'X']) {
        return s.into();
    }
    let mut o = s
        .replace("[.]", ".")
        .replace("(.)", ".")
        .replace("[dot]", ".")
        .replace("[:]", ":");
    for (from, to) in [("hxxps://", "https://"), ("hxxp://", "http://")] {
        // `get`, not `[..]`: the value is untrusted text and a multi-byte character may
        // straddle byte 7 or 8 (the prefix is ASCII, so a match ends on a boundary).
        if o.get(..from.len())
            .is_some_and(|p| p.eq_ignore_ascii_case(from))
        {
            o = format!("{to}{}", &o[from.len()..]);
        }
    }
    o.into()
}

/// RFC 3339 (`2023-08-01T00:00:00Z`, fractions, offsets) or a bare date, to Unix micros.
pub fn parse_time(s: &str) -> Option<i64> {
    let s = s.trim();
    let b = s.as_bytes();
    if b.len() < 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let t = s.get(r)?;
        if t.bytes().all(|c| c.is_ascii_digit()) {
            t.parse().ok()
        } else {
            None
        }
    };
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) {
        return None;
    }
    let days = crate::date::days_from_civil(y, mo as u32, d as u32);
    let mut secs = days * 86_400;
    let mut micros = 0i64;
    if b.len() > 10 {
        if !matches!(b[10], b'T' | b't' | b' ') || b.len() < 19 || b[13] != b':' || b[16] != b':' {
            return None;
        }
        let (h, mi, se) = (num(11..13)?, num(14..16)?, num(17..19)?);
        if h > 23 || mi > 59 || se > 60 {
            return None;
        }
        secs += h * 3600 + mi * 60 + se;
        let mut i = 19;
        if b.get(i) == Some(&b'.') {
            i += 1;
            let start = i;
            while i < b.len() && b[i].is_ascii_digit() {
                if i - start < 6 {
                    micros = micros * 10 + i64::from(b[i] - b'0');
                }
                i += 1;
            }
            if i == start {
                return None;
            }
            for _ in (i - start)..6 {
                micros *= 10;
            }
        }
        match b.get(i) {
            None => {}
            Some(b'Z' | b'z') if i + 1 == b.len() => {}
            Some(&sign @ (b'+' | b'-')) if b.len() == i + 6 && b[i + 3] == b':' => {
                let off = num(i + 1..i + 3)? * 3600 + num(i + 4..i + 6)? * 60;
                secs -= if sign == b'+' { off } else { -off };
            }
            _ => return None,
        }
    }
    secs.checked_mul(1_000_000)?.checked_add(micros)
}

/// What a STIX pattern comes to for network telemetry.
#[derive(Debug, PartialEq)]
pub enum Compiled {
    /// Keys to match, each with an optional destination-port condition; `partial` names
    /// the alternatives that could not be used.
    Keys {
        keys: Vec<(Target, Option<u16>)>,
        partial: Option<String>,
    },
    /// Only kinds that network telemetry cannot decide (the kinds, joined by `, `).
    Undecidable(String),
    /// A construct the matcher does not evaluate.
    Unsupported(String),
    /// A value that is not what its property requires.
    Invalid(String),
}

/// Conjunctions allowed once a pattern is put into disjunctive normal form.
pub const MAX_ALTERNATIVES: usize = 1024;

/// Object types that describe hosts, files and mail, never seen in network telemetry.
const HOST_OBJECTS: &[&str] = &[
    "file",
    "x509-certificate",
    "windows-registry-key",
    "process",
    "mutex",
    "artifact",
    "email-message",
    "email-addr",
    "user-account",
    "software",
    "directory",
];

fn dnf(e: &Expr) -> Result<Vec<Vec<&Comparison>>, String> {
    match e {
        Expr::Cmp(c) => Ok(vec![vec![c]]),
        Expr::Or(items) => {
            let mut out = Vec::new();
            for i in items {
                out.extend(dnf(i)?);
                if out.len() > MAX_ALTERNATIVES {
                    return Err(format!("more than {MAX_ALTERNATIVES} alternatives"));
                }
            }
            Ok(out)
        }
        Expr::And(items) => {
            let mut acc: Vec<Vec<&Comparison>> = vec![Vec::new()];
            for i in items {
                let alts = dnf(i)?;
                if acc.len().saturating_mul(alts.len()) > MAX_ALTERNATIVES {
                    return Err(format!("more than {MAX_ALTERNATIVES} alternatives"));
                }
                let mut next = Vec::with_capacity(acc.len() * alts.len());
                for a in &acc {
                    for b in &alts {
                        let mut c = a.clone();
                        c.extend(b.iter().copied());
                        next.push(c);
                    }
                }
                acc = next;
            }
            Ok(acc)
        }
    }
}

enum Conj {
    Keys(Vec<(Target, Option<u16>)>),
    Undecidable(String),
    Unsupported(String),
    Invalid(String),
}

/// Turns a parsed pattern into match keys.
pub fn compile(p: &Pattern) -> Compiled {
    let mut keys = Vec::new();
    let mut undecidable: Vec<String> = Vec::new();
    let mut unsupported: Vec<String> = Vec::new();
    for o in &p.observations {
        let conjs = match dnf(o) {
            Ok(c) => c,
            Err(e) => return Compiled::Unsupported(e),
        };
        for c in conjs {
            match conjunction(&c) {
                Conj::Keys(k) => keys.extend(k),
                Conj::Undecidable(k) => {
                    if !undecidable.contains(&k) {
                        undecidable.push(k)
                    }
                }
                Conj::Unsupported(u) => {
                    if !unsupported.contains(&u) {
                        unsupported.push(u)
                    }
                }
                Conj::Invalid(e) => return Compiled::Invalid(e),
            }
        }
    }
    if !keys.is_empty() {
        let mut rest = undecidable;
        rest.extend(unsupported);
        return Compiled::Keys {
            keys,
            partial: (!rest.is_empty()).then(|| rest.join(", ")),
        };
    }
    if !unsupported.is_empty() {
        return Compiled::Unsupported(unsupported.join(", "));
    }
    Compiled::Undecidable(undecidable.join(", "))
}

fn conjunction(c: &[&Comparison]) -> Conj {
    let mut anchor: Option<&Comparison> = None;
    let mut ports: Option<Vec<u16>> = None;
    // One comparison on a host object makes the whole conjunction undecidable; it is named
    // by its hash comparison when it has one (`file:hashes.'SHA-256'` as `file:hashes`).
    let host = c
        .iter()
        .filter(|c| HOST_OBJECTS.contains(&c.object.as_str()))
        .min_by_key(|c| !c.path.starts_with("hashes"));
    if let Some(cmp) = host {
        let first = cmp.path.split(['.', '[']).next().unwrap_or("");
        return Conj::Undecidable(format!("{}:{first}", cmp.object));
    }
    for cmp in c {
        match (cmp.object.as_str(), cmp.path.as_str()) {
            ("ipv4-addr" | "ipv6-addr" | "domain-name" | "url", "value")
            | ("network-traffic", "dst_ref.value" | "src_ref.value") => {
                if anchor.is_some() {
                    return Conj::Unsupported(
                        "two value comparisons within one observation".into(),
                    );
                }
                anchor = Some(cmp);
            }
            ("network-traffic", "dst_port") => {
                if ports.is_some() {
                    return Conj::Unsupported("two port comparisons within one observation".into());
                }
                let mut v = Vec::new();
                for val in &cmp.values {
                    match val {
                        Value::Int(n) => match u16::try_from(*n) {
                            Ok(p) => v.push(p),
                            Err(_) => return Conj::Invalid(format!("port {n} out of range")),
                        },
                        _ => return Conj::Invalid("port is not an integer".into()),
                    }
                }
                if cmp.op == Op::IsSubset {
                    return Conj::Unsupported("ISSUBSET on a port".into());
                }
                ports = Some(v);
            }
            (o, p) => return Conj::Unsupported(format!("property {o}:{p}")),
        }
    }
    let Some(a) = anchor else {
        return Conj::Unsupported("observation without an address or name".into());
    };
    let mut targets = Vec::new();
    for v in &a.values {
        let Value::Str(s) = v else {
            return Conj::Invalid(format!(
                "{}:{} compared with a non-string",
                a.object, a.path
            ));
        };
        let t = match (a.object.as_str(), a.op) {
            (_, Op::IsSubset) => match parse_ip_or_cidr(s) {
                Some(t) if a.object != "domain-name" && a.object != "url" => t,
                _ => return Conj::Invalid(format!("ISSUBSET needs a CIDR, got '{}'", clip(s, 80))),
            },
            ("ipv4-addr", _) => match parse_ip_or_cidr(s) {
                Some(t @ (Target::Addr(IpAddr::V4(_)) | Target::Net(IpAddr::V4(_), _))) => t,
                _ => {
                    return Conj::Invalid(format!(
                        "'{}' is not an IPv4 address or CIDR",
                        clip(s, 80)
                    ))
                }
            },
            ("ipv6-addr", _) => match parse_ip_or_cidr(s) {
                Some(t @ (Target::Addr(IpAddr::V6(_)) | Target::Net(IpAddr::V6(_), _))) => t,
                _ => {
                    return Conj::Invalid(format!(
                        "'{}' is not an IPv6 address or CIDR",
                        clip(s, 80)
                    ))
                }
            },
            ("domain-name", _) => match parse_domain(s) {
                Some(t) => t,
                None => return Conj::Invalid(format!("'{}' is not a domain name", clip(s, 80))),
            },
            ("url", _) => match url_host(s) {
                Some(t) => t,
                None => return Conj::Invalid(format!("no host in url '{}'", clip(s, 80))),
            },
            _ => match parse_ip_or_cidr(s).or_else(|| parse_domain(s)) {
                Some(t) => t,
                None => {
                    return Conj::Invalid(format!("'{}' is not an address or name", clip(s, 80)))
                }
            },
        };
        targets.push(t);
    }
    let mut keys = Vec::new();
    for t in targets {
        match &ports {
            None => keys.push((t, None)),
            Some(ps) => keys.extend(ps.iter().map(|&p| (t.clone(), Some(p)))),
        }
    }
    Conj::Keys(keys)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::indicators::pattern::parse;

    #[test]
    fn times() {
        let cases = [
            ("1970-01-01T00:00:00Z", Some(0)),
            ("2023-08-01T00:00:00Z", Some(1_690_848_000_000_000)),
            ("2023-11-21T18:57:25.000Z", Some(1_700_593_045_000_000)),
            ("2023-11-21T18:57:25.5Z", Some(1_700_593_045_500_000)),
            ("2023-11-21T20:57:25+02:00", Some(1_700_593_045_000_000)),
            ("2023-08-01", Some(1_690_848_000_000_000)),
            ("2023-13-01", None),
            ("2023-08-01T25:00:00Z", None),
            ("2023-08-01T00:00:00", Some(1_690_848_000_000_000)),
            ("2023-08-01T00:00:00Q", None),
            ("2023-08-01T00:00:00.Z", None),
            ("yesterday", None),
            ("", None),
        ];
        for (s, want) in cases {
            assert_eq!(parse_time(s), want, "{s}");
        }
    }

    #[test]
    fn values() {
        let v4 = |s: &str| IpAddr::V4(s.parse().unwrap());
        let cases: &[(&str, Option<Target>)] = &[
            ("1.2.3.4", Some(Target::Addr(v4("1.2.3.4")))),
            ("1.2.3.4/24", Some(Target::Net(v4("1.2.3.0"), 24))),
            ("1.2.3.4/32", Some(Target::Addr(v4("1.2.3.4")))),
            ("0.0.0.0/0", Some(Target::Net(v4("0.0.0.0"), 0))),
            ("1.2.3.4/33", None),
            ("1.2.3.4/", None),
            (
                "2001:db8::1/32",
                Some(Target::Net("2001:db8::".parse().unwrap(), 32)),
            ),
            ("Evil.Example.", Some(Target::Name("evil.example".into()))),
            (
                "http://user@Evil.Example:8080/x?y",
                Some(Target::Name("evil.example".into())),
            ),
            (
                "https://[2001:db8::1]:443/",
                Some(Target::Addr("2001:db8::1".parse().unwrap())),
            ),
            ("http://10.1.2.3/x", Some(Target::Addr(v4("10.1.2.3")))),
            ("not a domain", None),
            ("999.1.1.1", None),
        ];
        for (s, want) in cases {
            let got = if s.contains("://") {
                url_host(s)
            } else {
                parse_ip_or_cidr(s).or_else(|| parse_domain(s))
            };
            assert_eq!(&got, want, "{s}");
        }
        assert_eq!(refang("hxxp://evil[.]example/x"), "http://evil.example/x");
        assert_eq!(refang("1.2.3[.]4"), "1.2.3.4");
    }

    /// Reliability review finding 0: a multi-byte character across byte 7 or 8 (the length of
    /// `hxxp://` / `hxxps://`) made the prefix check slice inside it and panic.
    #[test]
    fn refang_multibyte_across_prefix_length() {
        for s in [
            "xxxxxx\u{e9}",       // the reproducer: 'é' at bytes 6..8
            "xxxxxxx\u{e9}",      // 'é' at bytes 7..9
            "hxxp:/\u{20ac}",     // '€' at bytes 6..9
            "hxxps:/\u{1f600}x",  // a four-byte character at 7..11
            "HXXP://\u{e9}x[.]y", // the prefix itself, then a multi-byte character
        ] {
            let _ = refang(s);
        }
        assert_eq!(refang("xxxxxx\u{e9}"), "xxxxxx\u{e9}");
        assert_eq!(refang("HXXP://\u{e9}x[.]y"), "http://\u{e9}x.y");
        assert_eq!(refang("hXXps://a(.)b"), "https://a.b");
    }

    #[test]
    fn compile_table() {
        let v4 = |s: &str| IpAddr::V4(s.parse().unwrap());
        let keys = |k: Vec<(Target, Option<u16>)>, partial: Option<&str>| Compiled::Keys {
            keys: k,
            partial: partial.map(String::from),
        };
        let cases = vec![
            (
                "[ipv4-addr:value = '1.2.3.4']",
                keys(vec![(Target::Addr(v4("1.2.3.4")), None)], None),
            ),
            (
                "[ipv4-addr:value ISSUBSET '10.0.0.0/8'] OR [domain-name:value = 'a.example']",
                keys(
                    vec![
                        (Target::Net(v4("10.0.0.0"), 8), None),
                        (Target::Name("a.example".into()), None),
                    ],
                    None,
                ),
            ),
            (
                "[network-traffic:dst_ref.value = '1.2.3.4' AND network-traffic:dst_port IN (443, 8443)]",
                keys(
                    vec![
                        (Target::Addr(v4("1.2.3.4")), Some(443)),
                        (Target::Addr(v4("1.2.3.4")), Some(8443)),
                    ],
                    None,
                ),
            ),
            (
                "[ipv4-addr:value = '1.2.3.4'] OR [file:hashes.MD5 = 'aa']",
                keys(vec![(Target::Addr(v4("1.2.3.4")), None)], Some("file:hashes")),
            ),
            (
                "[(file:name = '123.ps1') AND file:hashes.'SHA-256' = 'ED5D']",
                Compiled::Undecidable("file:hashes".into()),
            ),
            (
                "[x509-certificate:hashes.'SHA-1' = 'aa']",
                Compiled::Undecidable("x509-certificate:hashes".into()),
            ),
            (
                "[ipv4-addr:value = '1.2.3.4' AND domain-name:value = 'a.example']",
                Compiled::Unsupported("two value comparisons within one observation".into()),
            ),
            (
                "[network-traffic:dst_port = 443]",
                Compiled::Unsupported("observation without an address or name".into()),
            ),
            (
                "[network-traffic:protocols[*] = 'tcp' AND network-traffic:dst_ref.value = '1.2.3.4']",
                Compiled::Unsupported("property network-traffic:protocols[*]".into()),
            ),
            (
                "[ipv4-addr:value = 'example.com']",
                Compiled::Invalid("'example.com' is not an IPv4 address or CIDR".into()),
            ),
            (
                "[network-traffic:dst_ref.value = '1.2.3.4' AND network-traffic:dst_port = 70000]",
                Compiled::Invalid("port 70000 out of range".into()),
            ),
        ];
        for (p, want) in cases {
            assert_eq!(compile(&parse(p).unwrap()), want, "{p}");
        }
    }

    #[test]
    fn alternatives_are_capped() {
        // (a OR b) AND (a OR b) AND ... doubles the alternatives each time.
        let one = "(ipv4-addr:value = '1.1.1.1' OR ipv4-addr:value = '2.2.2.2')";
        let p = format!("[{}]", [one; 12].join(" AND "));
        assert_eq!(
            compile(&parse(&p).unwrap()),
            Compiled::Unsupported("more than 1024 alternatives".into())
        );
    }
}
