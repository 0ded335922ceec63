//! AWS logs: VPC (and Transit Gateway) flow logs, their CloudWatch Logs export forms, and
//! Route 53 Resolver query logs.
//!
//! VPC flow log lines are read with the field order of the last header line seen (`version
//! account-id ... log-status`, v2 to v6 fields in any custom order); without a header the
//! default v2 format is assumed. NODATA and SKIPDATA rows are counted as records and give no
//! flow and no anomaly. JSON lines are CloudWatch exports (`message`, or a subscription
//! envelope with `logEvents[].message`) whose messages are flow log lines, or Route 53
//! Resolver query log records, which become [`Dns`] observations.
//!
//! **Guarantees: never panics; a bad line (or bad message inside a JSON line) becomes one
//! [`Anomaly`] at the line's byte offset, and decoding goes on with the next line.**

use crate::logtext::{self, anomaly, MAX_ANSWERS, MAX_LINE};
use crate::obs::{
    AnomalyKind, DecodeStats, Dns, DnsData, DnsRecord, Flow, IpProto, Observation, Sink,
};
use serde::Deserialize;

/// Most fields a header line may declare.
pub const MAX_FIELDS: usize = 256;

/// VPC flow log fields cordon reads.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum Field {
    SrcAddr,
    DstAddr,
    SrcPort,
    DstPort,
    Protocol,
    Packets,
    Bytes,
    Start,
    End,
    LogStatus,
}

fn field_of(name: &str) -> Option<Field> {
    Some(match name {
        "srcaddr" => Field::SrcAddr,
        "dstaddr" => Field::DstAddr,
        "srcport" => Field::SrcPort,
        "dstport" => Field::DstPort,
        "protocol" => Field::Protocol,
        "packets" => Field::Packets,
        "bytes" => Field::Bytes,
        "start" => Field::Start,
        "end" => Field::End,
        "log-status" => Field::LogStatus,
        _ => return None,
    })
}

/// The default (v2) format, used until a header line says otherwise.
const DEFAULT_FORMAT: &str =
    "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status";

/// A flow log layout: the role of each space-separated column.
#[derive(Clone, Debug)]
struct Layout {
    cols: Vec<Option<Field>>,
}

impl Layout {
    fn parse(header: &[u8]) -> Option<Layout> {
        let cols: Vec<Option<Field>> = tokens(header)
            .map(|t| std::str::from_utf8(t).ok().and_then(field_of))
            .collect();
        if cols.len() > MAX_FIELDS {
            return None;
        }
        Some(Layout { cols })
    }
}

fn tokens(line: &[u8]) -> impl Iterator<Item = &[u8]> {
    line.split(|c| *c == b' ' || *c == b'\t')
        .filter(|t| !t.is_empty())
}

/// True for a header line: field names only, including `srcaddr` or `version`.
fn is_header(line: &[u8]) -> bool {
    let mut has_key = false;
    for t in tokens(line) {
        if !t
            .iter()
            .all(|c| c.is_ascii_lowercase() || *c == b'-' || c.is_ascii_digit())
        {
            return false;
        }
        if t == b"srcaddr" || t == b"version" || t == b"log-status" {
            has_key = true;
        }
    }
    has_key
}

#[derive(Deserialize)]
struct LogEvent {
    message: Option<String>,
}

#[derive(Deserialize)]
struct R53Answer {
    #[serde(rename = "Rdata")]
    rdata: Option<String>,
    #[serde(rename = "Type")]
    kind: Option<String>,
}

/// Keys of any AWS JSON line cordon reads.
#[derive(Deserialize)]
struct AwsJson {
    message: Option<String>,
    #[serde(rename = "logEvents")]
    log_events: Option<Vec<LogEvent>>,
    query_name: Option<String>,
    query_timestamp: Option<String>,
    srcaddr: Option<String>,
    answers: Option<Vec<R53Answer>>,
}

struct Decoder<'s> {
    sink: &'s mut dyn Sink,
    st: DecodeStats,
    layout: Layout,
}

impl Decoder<'_> {
    fn bad(&mut self, off: usize, kind: AnomalyKind, detail: impl Into<String>) {
        self.st.anomalies += 1;
        anomaly(self.sink, 0, off, kind, detail);
    }

    /// One flow log line (not a header).
    fn flow_line(&mut self, off: usize, line: &[u8]) {
        self.st.records += 1;
        let n = tokens(line).count();
        if n != self.layout.cols.len() {
            let want = self.layout.cols.len();
            self.bad(
                off,
                AnomalyKind::Malformed,
                format!("{n} fields where the header declares {want}"),
            );
            return;
        }
        let mut v: [Option<&[u8]>; 10] = [None; 10];
        for (t, col) in tokens(line).zip(&self.layout.cols) {
            if let Some(f) = col {
                v[*f as usize] = if t == b"-" { None } else { Some(t) };
            }
        }
        let get = |f: Field| v[f as usize];
        if let Some(status) = get(Field::LogStatus) {
            if status == b"NODATA" || status == b"SKIPDATA" {
                return;
            }
        }
        let src = get(Field::SrcAddr).and_then(logtext::parse_ip);
        let dst = get(Field::DstAddr).and_then(logtext::parse_ip);
        let (Some(src), Some(dst)) = (src, dst) else {
            self.bad(
                off,
                AnomalyKind::Malformed,
                "flow record without both addresses",
            );
            return;
        };
        let num = |f: Field| get(f).and_then(logtext::parse_u64);
        let port = |f: Field| get(f).and_then(logtext::parse_u16).unwrap_or(0);
        let secs = |f: Field| num(f).map(|s| (s as i64).saturating_mul(1_000_000));
        let first = secs(Field::Start).unwrap_or(0);
        let flow = Flow {
            first,
            last: secs(Field::End).unwrap_or(first),
            src,
            dst,
            sport: port(Field::SrcPort),
            dport: port(Field::DstPort),
            proto: IpProto(
                num(Field::Protocol)
                    .and_then(|p| u8::try_from(p).ok())
                    .unwrap_or(0),
            ),
            bytes_out: num(Field::Bytes).unwrap_or(0),
            packets_out: num(Field::Packets).unwrap_or(0),
            bytes_in: 0,
            packets_in: 0,
            src_mac: None,
            dst_mac: None,
            uid: None,
            sampling: 1,
        };
        self.st.bytes = self.st.bytes.saturating_add(flow.bytes_out);
        self.sink.observe(Observation::Flow(flow));
    }

    /// A text line: header or flow record.
    fn text_line(&mut self, off: usize, line: &[u8]) {
        if is_header(line) {
            match Layout::parse(line) {
                Some(l) => self.layout = l,
                None => self.bad(off, AnomalyKind::Limit, "more header fields than the cap"),
            }
            return;
        }
        self.flow_line(off, line);
    }

    fn json_line(&mut self, off: usize, line: &[u8]) {
        let j: AwsJson = match serde_json::from_slice(line) {
            Ok(j) => j,
            Err(e) => {
                self.st.records += 1;
                self.bad(off, AnomalyKind::Malformed, format!("bad json: {e}"));
                return;
            }
        };
        if let Some(query) = j.query_name.as_deref() {
            self.st.records += 1;
            self.route53(off, query, &j);
            return;
        }
        let messages: Vec<&str> = match (&j.message, &j.log_events) {
            (Some(m), _) => vec![m.as_str()],
            (None, Some(evs)) => evs.iter().filter_map(|e| e.message.as_deref()).collect(),
            (None, None) => {
                self.st.records += 1;
                self.bad(
                    off,
                    AnomalyKind::Unsupported,
                    "json line is neither a flow log export nor a resolver query",
                );
                return;
            }
        };
        for m in messages {
            let m = logtext::trim(m.as_bytes());
            if !m.is_empty() {
                self.text_line(off, m);
            }
        }
    }

    fn route53(&mut self, off: usize, query: &str, j: &AwsJson) {
        let Some(query) = logtext::norm_name(query) else {
            self.bad(off, AnomalyKind::Malformed, "empty query_name");
            return;
        };
        let ts = j
            .query_timestamp
            .as_deref()
            .and_then(|t| logtext::parse_rfc3339(t.as_bytes()));
        if ts.is_none() {
            self.bad(
                off,
                AnomalyKind::Malformed,
                "missing or unreadable query_timestamp",
            );
        }
        let mut owner = query.clone();
        let mut answers = Vec::new();
        for a in j.answers.iter().flatten().take(MAX_ANSWERS) {
            let (Some(rdata), Some(kind)) = (a.rdata.as_deref(), a.kind.as_deref()) else {
                continue;
            };
            match kind {
                "A" | "AAAA" => {
                    if let Some(ip) = logtext::parse_ip(rdata.as_bytes()) {
                        answers.push(DnsRecord {
                            name: owner.clone(),
                            data: DnsData::Addr(ip),
                            ttl: 0,
                        });
                    }
                }
                "CNAME" => {
                    if let Some(target) = logtext::norm_name(rdata) {
                        answers.push(DnsRecord {
                            name: owner.clone(),
                            data: DnsData::Cname(target.clone()),
                            ttl: 0,
                        });
                        owner = target;
                    }
                }
                _ => {}
            }
        }
        self.sink.observe(Observation::Dns(Dns {
            ts: ts.unwrap_or(0),
            client: j
                .srcaddr
                .as_deref()
                .and_then(|s| logtext::parse_ip(s.as_bytes())),
            server: None,
            query,
            answers,
            uid: None,
        }));
    }
}

/// Decodes AWS VPC flow logs (plain or CloudWatch JSON) and Route 53 Resolver query logs.
pub fn decode(input: &[u8], sink: &mut dyn Sink) -> DecodeStats {
    let mut d = Decoder {
        sink,
        st: DecodeStats::default(),
        layout: Layout::parse(DEFAULT_FORMAT.as_bytes()).unwrap_or(Layout { cols: Vec::new() }),
    };
    for (off, line) in logtext::lines(input) {
        let line = logtext::trim(line);
        if line.is_empty() {
            continue;
        }
        if line.len() > MAX_LINE {
            d.st.records += 1;
            d.bad(off, AnomalyKind::Limit, "line longer than the cap");
            continue;
        }
        if line[0] == b'{' {
            d.json_line(off, line);
        } else {
            d.text_line(off, line);
        }
    }
    d.st
}
