//! Plain indicator lists: one indicator a line, as CSV, TSV or bare values.
//!
//! A line holds a value (address, CIDR, domain name or URL, detected when no type is given,
//! defanged forms such as `hxxp://` and `[.]` accepted) and optionally a type, a comment
//! (the indicator's name) and validity dates. A header row (`indicator_type,value,context`,
//! `type,value,comment,valid_from,valid_until`, ...) names the columns; without one, the
//! type is the first field when it is a known type word, dates are the fields that parse
//! as dates, and the comment is the first other field. `#` starts a comment line (and an
//! inline comment after whitespace on lines without delimiters). **A bad line is reported with its
//! number and skipped.**

use super::report::{clip, FileReport, Reason};
use super::set::{Builder, IdRef, Target};
use super::values::{parse_domain, parse_ip_or_cidr, parse_time, refang, url_host};
use std::borrow::Cow;

/// Longest line read; longer lines are reported and skipped.
pub const MAX_LINE: usize = 16 * 1024;

#[derive(Copy, Clone, PartialEq, Eq, Debug)]
enum Kind {
    Ip,
    Domain,
    Url,
    /// A kind network telemetry cannot decide (the type as written).
    Undecidable,
}

fn kind_of(word: &str) -> Option<Kind> {
    let w = word.trim().to_ascii_lowercase();
    Some(match w.as_str() {
        "ip" | "ipv4" | "ipv6" | "ip-dst" | "ip-src" | "ipv4-addr" | "ipv6-addr" | "cidr"
        | "netblock" | "ip-address" | "ipaddress" | "address" | "ip_address" => Kind::Ip,
        "domain" | "hostname" | "fqdn" | "domain-name" | "host" | "domain_name" => Kind::Domain,
        "url" | "uri" => Kind::Url,
        "md5"
        | "sha1"
        | "sha256"
        | "sha512"
        | "hash"
        | "filehash"
        | "file_hash"
        | "filename"
        | "file"
        | "user_agent"
        | "user-agent"
        | "useragent"
        | "ja3"
        | "ja3-fingerprint-md5"
        | "email"
        | "email-addr"
        | "registry"
        | "regkey"
        | "mutex" => Kind::Undecidable,
        _ => return None,
    })
}

#[derive(Default, Debug)]
struct Columns {
    ty: Option<usize>,
    value: Option<usize>,
    comment: Option<usize>,
    from: Option<usize>,
    until: Option<usize>,
}

fn header(fields: &[Cow<'_, str>]) -> Option<Columns> {
    let mut c = Columns::default();
    for (i, f) in fields.iter().enumerate() {
        let f = f.trim().to_ascii_lowercase();
        let slot = match f.as_str() {
            "type" | "indicator_type" | "indicator type" | "ioc_type" | "kind" => &mut c.ty,
            "value" | "indicator" | "ioc" | "observable" | "ioc_value" => &mut c.value,
            "comment" | "context" | "description" | "name" | "note" | "notes" => &mut c.comment,
            "valid_from" | "start" | "from" | "added" | "date" => &mut c.from,
            "valid_until" | "expires" | "until" | "end" | "expiry" => &mut c.until,
            _ => continue,
        };
        if slot.is_none() {
            *slot = Some(i);
        }
    }
    c.value.is_some().then_some(c)
}

/// Splits a delimited line; double quotes group a field and `""` is a quote inside one.
fn split(line: &str, delim: u8) -> Vec<Cow<'_, str>> {
    let b = line.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    loop {
        if b.get(i) == Some(&b'"') {
            let mut s = String::new();
            let mut j = i + 1;
            let mut run = j;
            loop {
                match b.get(j) {
                    Some(b'"') if b.get(j + 1) == Some(&b'"') => {
                        s.push_str(&line[run..=j]);
                        j += 2;
                        run = j;
                    }
                    Some(b'"') | None => {
                        s.push_str(&line[run..j.min(b.len())]);
                        j += 1;
                        break;
                    }
                    Some(_) => j += 1,
                }
            }
            out.push(Cow::Owned(s));
            // Skip to the next delimiter (text after a closing quote is ignored).
            while j < b.len() && b[j] != delim {
                j += 1;
            }
            if j >= b.len() {
                return out;
            }
            i = j + 1;
        } else {
            match b[i.min(b.len())..].iter().position(|&c| c == delim) {
                Some(k) => {
                    out.push(Cow::Borrowed(line[i..i + k].trim()));
                    i += k + 1;
                }
                None => {
                    out.push(Cow::Borrowed(line[i.min(b.len())..].trim()));
                    return out;
                }
            }
        }
    }
}

pub(crate) fn load(bytes: &[u8], source: u32, b: &mut Builder, r: &mut FileReport) {
    let bytes = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
    let mut cols: Option<Columns> = None;
    let mut first = true;
    for (n, raw) in bytes.split(|&c| c == b'\n').enumerate() {
        let lineno = n as u64 + 1;
        let pos = || format!("line {lineno}");
        if raw.len() > MAX_LINE {
            r.note(
                Reason::Error,
                pos(),
                &format!("line longer than {MAX_LINE} bytes"),
                None,
            );
            continue;
        }
        let Ok(line) = std::str::from_utf8(raw) else {
            r.note(Reason::Error, pos(), "line is not utf-8", None);
            continue;
        };
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with("//") {
            continue;
        }
        // The delimiter is judged per line, so a bare list may carry typed CSV lines.
        let d = if line.contains(',') {
            Some(b',')
        } else if line.contains('\t') {
            Some(b'\t')
        } else {
            None
        };
        let fields: Vec<Cow<'_, str>> = match d {
            Some(d) => split(line, d),
            None => {
                // Bare values: the first token, and the rest of the line as a comment.
                let (v, rest) = line
                    .split_once(char::is_whitespace)
                    .map_or((line, ""), |(v, rest)| (v, rest.trim()));
                let rest = rest.trim_start_matches('#').trim();
                vec![Cow::Borrowed(v), Cow::Borrowed(rest)]
            }
        };
        if first {
            first = false;
            // A header row names the columns; it is recognised only as the first data line.
            if let Some(c) = d.and_then(|_| header(&fields)) {
                let v = c
                    .value
                    .and_then(|i| fields.get(i))
                    .map_or("", |v| v.as_ref());
                if auto(v).is_none() {
                    cols = Some(c);
                    continue;
                }
            }
        }
        if line_indicator(&fields, cols.as_ref(), lineno, source, b, r).is_err() {
            r.error = Some("indicator index is full (2^31 keys or 4 GiB of text)".into());
            return;
        }
    }
}

/// Detects the kind of an untyped value. A name needs a dot here: a bare word in a list is
/// far more often a header or a stray token than a top-level domain (a typed line may still
/// give one).
fn auto(v: &str) -> Option<(Target, Kind)> {
    if let Some(t) = parse_ip_or_cidr(v) {
        return Some((t, Kind::Ip));
    }
    if v.contains("://") {
        return url_host(v).map(|t| (t, Kind::Url));
    }
    if !v.trim().trim_end_matches('.').contains('.') {
        return None;
    }
    parse_domain(v).map(|t| (t, Kind::Domain))
}

fn line_indicator(
    f: &[Cow<'_, str>],
    cols: Option<&Columns>,
    lineno: u64,
    source: u32,
    b: &mut Builder,
    r: &mut FileReport,
) -> Result<(), super::set::Full> {
    let pos = || format!("line {lineno}");
    let get = |i: Option<usize>| {
        i.and_then(|i| f.get(i))
            .map(|s| s.trim())
            .filter(|s| !s.is_empty())
    };
    let (ty, value, comment, from, until) = match cols {
        Some(c) => (
            get(c.ty),
            get(c.value),
            get(c.comment),
            get(c.from),
            get(c.until),
        ),
        None => {
            let typed = f.len() >= 2 && kind_of(&f[0]).is_some();
            let (ty, vi) = if typed {
                (Some(f[0].trim()), 1)
            } else {
                (None, 0)
            };
            let mut dates = Vec::new();
            let mut comment = None;
            for s in f.iter().skip(vi + 1) {
                let s = s.trim();
                if s.is_empty() {
                    continue;
                }
                if dates.len() < 2 && parse_time(s).is_some() {
                    dates.push(s);
                } else if comment.is_none() {
                    comment = Some(s);
                }
            }
            (
                ty,
                get(Some(vi)),
                comment,
                dates.first().copied(),
                dates.get(1).copied(),
            )
        }
    };
    let Some(value) = value else {
        r.note(Reason::Error, pos(), "line without a value", None);
        return Ok(());
    };
    let value = refang(value);
    let value = value.as_ref();
    let want = match ty {
        None => None,
        Some(t) => match kind_of(t) {
            Some(Kind::Undecidable) => {
                r.note(
                    Reason::Undecidable,
                    pos(),
                    &t.to_ascii_lowercase(),
                    Some(value),
                );
                return Ok(());
            }
            Some(k) => Some(k),
            None => {
                let d = format!("indicator type {}", clip(t, 40));
                r.note(Reason::Unsupported, pos(), &d, Some(value));
                return Ok(());
            }
        },
    };
    let target = match want {
        None => auto(value),
        Some(Kind::Ip) => parse_ip_or_cidr(value).map(|t| (t, Kind::Ip)),
        Some(Kind::Domain) => parse_domain(value).map(|t| (t, Kind::Domain)),
        Some(Kind::Url) => url_host(value).map(|t| (t, Kind::Url)),
        Some(Kind::Undecidable) => None,
    };
    let Some((target, kind)) = target else {
        let what = match want {
            Some(Kind::Ip) => "an address or cidr",
            Some(Kind::Domain) => "a domain name",
            Some(Kind::Url) => "a url with a host",
            _ => "an address, cidr, domain name or url",
        };
        let d = format!("'{}' is not {what}", clip(value, 80));
        r.note(Reason::Error, pos(), &d, Some(value));
        return Ok(());
    };
    let time = |s: Option<&str>, default: i64| match s {
        None => Some(default),
        Some(s) => parse_time(s),
    };
    let (Some(from), Some(until)) = (time(from, i64::MIN), time(until, i64::MAX)) else {
        r.note(Reason::Error, pos(), "bad validity date", Some(value));
        return Ok(());
    };
    if until <= from {
        r.note(
            Reason::Error,
            pos(),
            "valid_until is not after valid_from",
            Some(value),
        );
        return Ok(());
    }
    let g = b.group(source, comment, from, until)?;
    let line = u32::try_from(lineno).unwrap_or(u32::MAX);
    // Addresses and names print back from the key; a URL keeps its text.
    let text = (kind == Kind::Url).then_some(value);
    let m = b.indicator(g, IdRef::Line(line), text)?;
    b.key(m, &target, None)?;
    r.loaded += 1;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitting() {
        let cases: &[(&str, &[&str])] = &[
            ("a,b,c", &["a", "b", "c"]),
            ("a, b ,", &["a", "b", ""]),
            (r#"x,"a, ""q"" b",c"#, &["x", r#"a, "q" b"#, "c"]),
            (r#""unterminated"#, &["unterminated"]),
            (r#""a"junk,b"#, &["a", "b"]),
            ("", &[""]),
        ];
        for (line, want) in cases {
            let got: Vec<String> = split(line, b',')
                .into_iter()
                .map(|c| c.into_owned())
                .collect();
            assert_eq!(got, *want, "{line}");
        }
    }
}
