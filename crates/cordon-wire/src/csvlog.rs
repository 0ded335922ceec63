//! Generic flow tables: CSV (or TSV / semicolon / pipe separated) with a header row, and
//! NDJSON objects, whose column names say which field is which (`src`, `dst_ip`, `dport`,
//! `proto`, `bytes`, `ts`, nfdump's `sa`/`da`/`ibyt`, ...).
//!
//! Times may be Unix seconds, milliseconds or microseconds (told apart by magnitude), decimal
//! seconds, or RFC 3339. A header without a recognisable source and destination address is
//! one [`AnomalyKind::Unsupported`] anomaly and nothing else is read. nfdump's CSV trailer (a
//! `Summary` line and what follows) ends the table.
//!
//! **Guarantees: never panics; a bad row becomes one [`Anomaly`] at the row's byte offset,
//! and decoding goes on with the next row.**

use crate::eve::proto_from_name;
use crate::logtext::{self, anomaly, MAX_LINE};
use crate::obs::{AnomalyKind, DecodeStats, Flow, IpProto, Micros, Observation, Sink};

/// Most columns a header may have.
pub const MAX_COLUMNS: usize = 1024;

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum Col {
    Src,
    Dst,
    Sport,
    Dport,
    Proto,
    BytesOut,
    BytesIn,
    PacketsOut,
    PacketsIn,
    Start,
    End,
}
const NCOLS: usize = Col::End as usize + 1;

/// Column names (lowercase) and what they hold.
const ALIASES: &[(&str, Col)] = &[
    ("src", Col::Src),
    ("source", Col::Src),
    ("src_ip", Col::Src),
    ("srcip", Col::Src),
    ("src_addr", Col::Src),
    ("srcaddr", Col::Src),
    ("saddr", Col::Src),
    ("source_ip", Col::Src),
    ("sa", Col::Src),
    ("ipv4_src_addr", Col::Src),
    ("dst", Col::Dst),
    ("dest", Col::Dst),
    ("destination", Col::Dst),
    ("dst_ip", Col::Dst),
    ("dest_ip", Col::Dst),
    ("dstip", Col::Dst),
    ("dst_addr", Col::Dst),
    ("dstaddr", Col::Dst),
    ("daddr", Col::Dst),
    ("destination_ip", Col::Dst),
    ("da", Col::Dst),
    ("ipv4_dst_addr", Col::Dst),
    ("sport", Col::Sport),
    ("src_port", Col::Sport),
    ("srcport", Col::Sport),
    ("source_port", Col::Sport),
    ("sp", Col::Sport),
    ("l4_src_port", Col::Sport),
    ("dport", Col::Dport),
    ("dst_port", Col::Dport),
    ("dest_port", Col::Dport),
    ("dstport", Col::Dport),
    ("destination_port", Col::Dport),
    ("dp", Col::Dport),
    ("l4_dst_port", Col::Dport),
    ("proto", Col::Proto),
    ("protocol", Col::Proto),
    ("ip_proto", Col::Proto),
    ("pr", Col::Proto),
    ("bytes", Col::BytesOut),
    ("bytes_out", Col::BytesOut),
    ("in_bytes", Col::BytesOut),
    ("octets", Col::BytesOut),
    ("ibyt", Col::BytesOut),
    ("bytes_in", Col::BytesIn),
    ("packets", Col::PacketsOut),
    ("pkts", Col::PacketsOut),
    ("packets_out", Col::PacketsOut),
    ("in_pkts", Col::PacketsOut),
    ("ipkt", Col::PacketsOut),
    ("packets_in", Col::PacketsIn),
    ("ts", Col::Start),
    ("time", Col::Start),
    ("timestamp", Col::Start),
    ("start", Col::Start),
    ("start_time", Col::Start),
    ("first", Col::Start),
    ("first_switched", Col::Start),
    ("end", Col::End),
    ("end_time", Col::End),
    ("te", Col::End),
    ("last", Col::End),
    ("last_switched", Col::End),
];

fn col_of(name: &str) -> Option<Col> {
    let name = name.trim().trim_matches('"').to_ascii_lowercase();
    ALIASES.iter().find(|(a, _)| *a == name).map(|(_, c)| *c)
}

/// Splits one CSV row, honouring double quotes (a quoted field's quotes are dropped;
/// doubled quotes inside are kept as they are: no field cordon reads contains one).
fn split_row(line: &[u8], delim: u8) -> impl Iterator<Item = &[u8]> {
    let mut pos = 0usize;
    let mut done = false;
    std::iter::from_fn(move || {
        if done {
            return None;
        }
        let rest = &line[pos..];
        if let [b'"', inner @ ..] = rest {
            // Find the closing quote not followed by another quote.
            let mut i = 0;
            while i < inner.len() {
                if inner[i] == b'"' {
                    if inner.get(i + 1) == Some(&b'"') {
                        i += 2;
                        continue;
                    }
                    break;
                }
                i += 1;
            }
            let field = &inner[..i.min(inner.len())];
            let after = pos + 1 + i + 1; // past the closing quote
            match line.get(after..).and_then(|r| memchr::memchr(delim, r)) {
                Some(j) => pos = after + j + 1,
                None => done = true,
            }
            return Some(field);
        }
        match memchr::memchr(delim, rest) {
            Some(j) => {
                pos += j + 1;
                Some(&rest[..j])
            }
            None => {
                done = true;
                Some(rest)
            }
        }
    })
}

/// Values of one row, by column role.
struct Row<'a>([Option<&'a [u8]>; NCOLS]);

fn value_u64(v: &[u8]) -> Option<u64> {
    let v = logtext::trim(v);
    logtext::parse_u64(v).or_else(|| {
        // "1.5e3" or "12.0": accept whole-number decimals.
        let s = std::str::from_utf8(v).ok()?;
        let f: f64 = s.parse().ok()?;
        (f.is_finite() && (0.0..1.8e19).contains(&f)).then_some(f as u64)
    })
}

fn emit_row(row: &Row<'_>, off: usize, sink: &mut dyn Sink, st: &mut DecodeStats) {
    let get = |c: Col| {
        row.0[c as usize]
            .map(logtext::trim)
            .filter(|v| !v.is_empty() && *v != b"-")
    };
    let bad = |sink: &mut dyn Sink, st: &mut DecodeStats, detail: &str| {
        st.anomalies += 1;
        anomaly(sink, 0, off, AnomalyKind::Malformed, detail);
    };
    let src = get(Col::Src).and_then(logtext::parse_ip);
    let dst = get(Col::Dst).and_then(logtext::parse_ip);
    let (Some(src), Some(dst)) = (src, dst) else {
        bad(sink, st, "row without both addresses");
        return;
    };
    let time = |c: Col| -> Result<Option<Micros>, ()> {
        match get(c) {
            None => Ok(None),
            Some(v) => logtext::parse_time_any(v).map(Some).ok_or(()),
        }
    };
    let (Ok(first), Ok(last)) = (time(Col::Start), time(Col::End)) else {
        bad(sink, st, "unreadable time");
        return;
    };
    let first = first.unwrap_or(0);
    let proto = get(Col::Proto)
        .and_then(|v| std::str::from_utf8(v).ok())
        .and_then(proto_from_name)
        .unwrap_or(IpProto(0));
    let n = |c: Col| get(c).and_then(value_u64).unwrap_or(0);
    let port = |c: Col| get(c).and_then(logtext::parse_u16).unwrap_or(0);
    let flow = Flow {
        first,
        last: last.unwrap_or(first),
        src,
        dst,
        sport: port(Col::Sport),
        dport: port(Col::Dport),
        proto,
        bytes_out: n(Col::BytesOut),
        packets_out: n(Col::PacketsOut),
        bytes_in: n(Col::BytesIn),
        packets_in: n(Col::PacketsIn),
        src_mac: None,
        dst_mac: None,
        uid: None,
        sampling: 1,
    };
    st.bytes = st
        .bytes
        .saturating_add(flow.bytes_out)
        .saturating_add(flow.bytes_in);
    sink.observe(Observation::Flow(flow));
}

/// Decodes a CSV flow table or an NDJSON flow file.
pub fn decode(input: &[u8], sink: &mut dyn Sink) -> DecodeStats {
    let mut st = DecodeStats::default();
    let mut lines = logtext::lines(input).filter(|(_, l)| !logtext::trim(l).is_empty());
    let Some((hoff, header)) = lines.next() else {
        return st;
    };
    let header = logtext::trim(header);
    if header.first() == Some(&b'{') {
        return decode_ndjson(input, sink);
    }
    if header.len() > MAX_LINE {
        st.anomalies += 1;
        anomaly(
            sink,
            0,
            hoff,
            AnomalyKind::Limit,
            "header longer than the cap",
        );
        return st;
    }
    let delim = [b',', b'\t', b';', b'|']
        .into_iter()
        .max_by_key(|d| header.iter().filter(|c| *c == d).count())
        .unwrap_or(b',');
    let cols: Vec<Option<Col>> = split_row(header, delim)
        .take(MAX_COLUMNS + 1)
        .map(|h| std::str::from_utf8(h).ok().and_then(col_of))
        .collect();
    let has = |c: Col| cols.contains(&Some(c));
    if cols.len() > MAX_COLUMNS || !has(Col::Src) || !has(Col::Dst) {
        st.anomalies += 1;
        anomaly(
            sink,
            0,
            hoff,
            AnomalyKind::Unsupported,
            "header names no source and destination address columns",
        );
        return st;
    }
    for (off, line) in lines {
        let line = logtext::trim(line);
        if line == b"Summary" {
            break; // nfdump's trailer
        }
        st.records += 1;
        if line.len() > MAX_LINE {
            st.anomalies += 1;
            anomaly(sink, 0, off, AnomalyKind::Limit, "line longer than the cap");
            continue;
        }
        let mut row = Row([None; NCOLS]);
        let mut n = 0;
        for (v, col) in split_row(line, delim).zip(cols.iter().chain(std::iter::repeat(&None))) {
            if let Some(c) = col {
                row.0[*c as usize] = Some(v);
            }
            n += 1;
        }
        if n != cols.len() {
            st.anomalies += 1;
            anomaly(
                sink,
                0,
                off,
                AnomalyKind::Malformed,
                format!("{n} fields where the header has {}", cols.len()),
            );
            continue;
        }
        emit_row(&row, off, sink, &mut st);
    }
    st
}

/// Decodes NDJSON flow objects with the same key names as CSV headers.
pub fn decode_ndjson(input: &[u8], sink: &mut dyn Sink) -> DecodeStats {
    let mut st = DecodeStats::default();
    for (off, line) in logtext::lines(input) {
        let line = logtext::trim(line);
        if line.is_empty() {
            continue;
        }
        st.records += 1;
        if line.len() > MAX_LINE {
            st.anomalies += 1;
            anomaly(sink, 0, off, AnomalyKind::Limit, "line longer than the cap");
            continue;
        }
        let obj: serde_json::Map<String, serde_json::Value> = match serde_json::from_slice(line) {
            Ok(o) => o,
            Err(e) => {
                st.anomalies += 1;
                anomaly(
                    sink,
                    0,
                    off,
                    AnomalyKind::Malformed,
                    format!("bad json: {e}"),
                );
                continue;
            }
        };
        // Render each recognised value as text, then read it like a CSV field.
        let mut texts: Vec<(Col, String)> = Vec::new();
        for (k, v) in &obj {
            let Some(c) = col_of(k) else { continue };
            let t = match v {
                serde_json::Value::String(s) => s.clone(),
                serde_json::Value::Number(n) => n.to_string(),
                _ => continue,
            };
            texts.push((c, t));
        }
        let mut row = Row([None; NCOLS]);
        for (c, t) in &texts {
            row.0[*c as usize] = Some(t.as_bytes());
        }
        emit_row(&row, off, sink, &mut st);
    }
    st
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_split() {
        let cases: &[(&str, &[&str])] = &[
            ("a,b,c", &["a", "b", "c"]),
            ("a,,c", &["a", "", "c"]),
            ("\"a,b\",c", &["a,b", "c"]),
            ("\"a\"\"b\",c", &["a\"\"b", "c"]),
            ("\"unterminated,c", &["unterminated,c"]),
            ("a,", &["a", ""]),
            ("", &[""]),
        ];
        for (line, want) in cases {
            let got: Vec<&[u8]> = split_row(line.as_bytes(), b',').collect();
            let want: Vec<&[u8]> = want.iter().map(|s| s.as_bytes()).collect();
            assert_eq!(got, want, "{line}");
        }
    }
}
