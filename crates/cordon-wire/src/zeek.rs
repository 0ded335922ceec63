//! Zeek logs, TSV (the ASCII writer's format) and JSON (one object per line).
//!
//! conn.log lines become [`Flow`]s, dns.log lines [`Dns`] queries with their CNAME chains,
//! ssl/http/x509 lines [`ServerName`]s, dhcp.log lines [`Dhcp`] and known_devices lines
//! [`HostMac`]. Other logs are counted as records and otherwise ignored.
//!
//! The TSV path is built for speed: the column layout is computed once per `#fields` line,
//! and numbers and IPv4 addresses are parsed in place, so a conn.log line costs one
//! allocation (its uid). conn.log lines take a dedicated fast path (`zeek/conn.rs`: a
//! word-at-a-time split, eight-digits-at-once numbers) whose output is the general path's,
//! checked by a differential test and the fuzz target against [`decode_body_general`].
//! Callers can split a large file into chunks on line boundaries and decode them in
//! parallel with [`parse_header`] and [`decode_body`].
//!
//! **Guarantees: never panics; a bad line becomes one [`Anomaly`] at the byte offset of the
//! line start, and decoding goes on with the next line.** A record whose timestamp cannot be
//! read (Zeek's btest baselines replace them with `XXXXXXXXXX.XXXXXX`) is still emitted, with
//! timestamp 0, next to a `malformed` anomaly: its other fields stay useful.
//!
//! Not linked here: x509.log certificates to the connections that carried them (the link,
//! ssl.log's `cert_chain_fps`, usually lives in another file), so x509 names have no server.

use crate::logtext::{self, anomaly, MAX_LINE};
use crate::obs::{
    AnomalyKind, DecodeStats, Dhcp, Dns, Flow, HostMac, IpProto, Mac, Micros, NameSource,
    Observation, ServerName, Sink,
};
use serde::de::IgnoredAny;
use serde::Deserialize;
use std::borrow::Cow;
use std::net::IpAddr;

mod conn;

/// Most columns a `#fields` line may declare.
pub const MAX_FIELDS: usize = 1024;
/// Longest `#separator`-style header value kept (unset/empty markers).
const MAX_MARKER: usize = 64;

/// Which Zeek log a record comes from.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Default)]
pub enum LogKind {
    Conn,
    Dns,
    Ssl,
    X509,
    Http,
    Dhcp,
    KnownDevices,
    Software,
    #[default]
    Other,
}

impl LogKind {
    fn from_path(path: &str) -> Option<LogKind> {
        // Rotated or per-worker paths ("conn_red", "ssl1_2") keep the log name as a prefix.
        let table = [
            ("conn", LogKind::Conn),
            ("dns", LogKind::Dns),
            ("ssl", LogKind::Ssl),
            ("x509", LogKind::X509),
            ("http", LogKind::Http),
            ("dhcp", LogKind::Dhcp),
            ("known_devices", LogKind::KnownDevices),
            ("software", LogKind::Software),
        ];
        if path.is_empty() {
            return None;
        }
        for (name, kind) in table {
            if path == name {
                return Some(kind);
            }
        }
        for (name, kind) in table {
            if path.starts_with(name)
                && !path[name.len()..].starts_with(|c: char| c.is_alphabetic())
            {
                return Some(kind);
            }
        }
        Some(LogKind::Other)
    }

    /// Guesses the log from the names of its fields, for logs without `#path` or `_path`.
    fn infer(has: impl Fn(&str) -> bool) -> LogKind {
        if has("conn_state") || (has("orig_bytes") && has("duration")) {
            LogKind::Conn
        } else if has("query") && (has("qtype") || has("trans_id")) {
            LogKind::Dns
        } else if has("fingerprint") && has("certificate.subject") {
            LogKind::X509
        } else if has("server_name") || has("ssl_history") || has("cipher") {
            LogKind::Ssl
        } else if has("method") && has("host") {
            LogKind::Http
        } else if has("mac") && (has("msg_types") || has("assigned_addr")) {
            LogKind::Dhcp
        } else if has("mac") && has("dhcp_host_name") {
            LogKind::KnownDevices
        } else if has("software_type") {
            LogKind::Software
        } else {
            LogKind::Other
        }
    }
}

/// The fields cordon reads, whatever the log.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
#[repr(u8)]
enum Role {
    Ts,
    Uid,
    OrigH,
    OrigP,
    RespH,
    RespP,
    Proto,
    IpProto,
    Duration,
    OrigBytes,
    RespBytes,
    OrigIpBytes,
    RespIpBytes,
    OrigPkts,
    RespPkts,
    OrigL2,
    RespL2,
    Query,
    Qtype,
    Answers,
    Ttls,
    ServerName,
    Subject,
    SanDns,
    ClientCert,
    Host,
    Mac,
    HostName,
    ClientAddr,
    AssignedAddr,
    RequestedAddr,
    VendorClass,
    DhcpHostName,
}
const NROLES: usize = Role::DhcpHostName as usize + 1;

fn role_of(field: &str) -> Option<Role> {
    Some(match field {
        "ts" => Role::Ts,
        "uid" => Role::Uid,
        "id.orig_h" => Role::OrigH,
        "id.orig_p" => Role::OrigP,
        "id.resp_h" => Role::RespH,
        "id.resp_p" => Role::RespP,
        "proto" => Role::Proto,
        "ip_proto" => Role::IpProto,
        "duration" => Role::Duration,
        "orig_bytes" => Role::OrigBytes,
        "resp_bytes" => Role::RespBytes,
        "orig_ip_bytes" => Role::OrigIpBytes,
        "resp_ip_bytes" => Role::RespIpBytes,
        "orig_pkts" => Role::OrigPkts,
        "resp_pkts" => Role::RespPkts,
        "orig_l2_addr" => Role::OrigL2,
        "resp_l2_addr" => Role::RespL2,
        "query" => Role::Query,
        "qtype" => Role::Qtype,
        "answers" => Role::Answers,
        "TTLs" => Role::Ttls,
        "server_name" => Role::ServerName,
        "certificate.subject" => Role::Subject,
        "san.dns" => Role::SanDns,
        "client_cert" => Role::ClientCert,
        "host" => Role::Host,
        "mac" => Role::Mac,
        "host_name" => Role::HostName,
        "client_addr" => Role::ClientAddr,
        "assigned_addr" => Role::AssignedAddr,
        "requested_addr" => Role::RequestedAddr,
        "vendor_class" | "client_software" => Role::VendorClass,
        "dhcp_host_name" => Role::DhcpHostName,
        _ => return None,
    })
}

/// A TSV header block: separators, markers and the column layout.
#[derive(Clone, Debug)]
pub struct Header {
    /// Field separator (Zeek's `#separator`, a tab by default).
    pub separator: u8,
    /// Separator of set and vector elements (`#set_separator`).
    pub set_separator: u8,
    /// Marker of an unset field (`#unset_field`, `-` by default).
    pub unset: Vec<u8>,
    /// Marker of an empty set or string (`#empty_field`, `(empty)` by default).
    pub empty: Vec<u8>,
    /// The log's `#path`.
    pub path: String,
    /// Which log this is, from `#path` or, failing that, from the field names.
    pub kind: LogKind,
    /// Column names from `#fields`.
    pub fields: Vec<String>,
    /// Role of each column.
    roles: Vec<Option<Role>>,
    /// Offset of the first byte after the first header block in the input given to
    /// [`parse_header`]: where the caller starts splitting the body into chunks.
    pub body_start: usize,
    /// Whether conn records carry their uid. A caller with nothing to join uids with (no
    /// ssl/http/dns logs in the input set) sets it false and saves an allocation a line.
    pub keep_uid: bool,
}

impl Default for Header {
    fn default() -> Header {
        Header {
            separator: b'\t',
            set_separator: b',',
            unset: b"-".to_vec(),
            empty: b"(empty)".to_vec(),
            path: String::new(),
            kind: LogKind::Other,
            fields: Vec::new(),
            roles: Vec::new(),
            body_start: 0,
            keep_uid: true,
        }
    }
}

/// Decodes Zeek's escaped header value (`\x09`) into one byte.
fn unescape_marker(v: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < v.len() && out.len() < MAX_MARKER {
        if v[i] == b'\\' && v.get(i + 1) == Some(&b'x') {
            if let Some(b) = hex2(v.get(i + 2..i + 4)) {
                out.push(b);
                i += 4;
                continue;
            }
        }
        out.push(v[i]);
        i += 1;
    }
    out
}

fn hex2(s: Option<&[u8]>) -> Option<u8> {
    let s = s?;
    let h = (s[0] as char).to_digit(16)?;
    let l = (s[1] as char).to_digit(16)?;
    Some((h * 16 + l) as u8)
}

/// Undoes the ASCII writer's escaping of a string field: `\xNN` and `\\`.
fn tsv_str(v: &[u8]) -> Cow<'_, str> {
    if !v.contains(&b'\\') {
        return String::from_utf8_lossy(v);
    }
    let mut out = Vec::with_capacity(v.len());
    let mut i = 0;
    while i < v.len() {
        if v[i] == b'\\' {
            if v.get(i + 1) == Some(&b'\\') {
                out.push(b'\\');
                i += 2;
                continue;
            }
            if v.get(i + 1) == Some(&b'x') {
                if let Some(b) = hex2(v.get(i + 2..i + 4)) {
                    out.push(b);
                    i += 4;
                    continue;
                }
            }
        }
        out.push(v[i]);
        i += 1;
    }
    Cow::Owned(String::from_utf8_lossy(&out).into_owned())
}

impl Header {
    fn set_fields(&mut self, fields: Vec<String>) {
        self.roles = fields.iter().map(|f| role_of(f)).collect();
        self.fields = fields;
        self.update_kind();
    }

    fn update_kind(&mut self) {
        self.kind = match LogKind::from_path(&self.path) {
            Some(k) => k,
            None => LogKind::infer(|n| self.fields.iter().any(|f| f == n)),
        };
    }

    /// Applies one `#` line. Returns an anomaly detail when the line is unusable.
    fn apply(&mut self, line: &[u8]) -> Result<(), &'static str> {
        let body = &line[1..];
        // The keyword ends at the separator, or at a space for `#separator` itself.
        let end = body
            .iter()
            .position(|&c| c == self.separator || c == b' ' || c == b'\t')
            .unwrap_or(body.len());
        let key = &body[..end];
        let value = body.get(end + 1..).unwrap_or(b"");
        match key {
            b"separator" => {
                let v = unescape_marker(logtext::trim(value));
                if v.len() != 1 {
                    return Err("unsupported multi-byte separator");
                }
                // A new block starts: forget the old layout's path.
                *self = Header {
                    separator: v[0],
                    ..Header::default()
                };
            }
            b"set_separator" => {
                let v = unescape_marker(value);
                if v.len() != 1 {
                    return Err("unsupported multi-byte set separator");
                }
                self.set_separator = v[0];
            }
            b"unset_field" => self.unset = unescape_marker(value),
            b"empty_field" => self.empty = unescape_marker(value),
            b"path" => {
                self.path = String::from_utf8_lossy(value).into_owned();
                self.update_kind();
            }
            b"fields" => {
                let n = value.split(|&c| c == self.separator).count();
                if n > MAX_FIELDS {
                    return Err("more fields than the cap");
                }
                let fields = value
                    .split(|&c| c == self.separator)
                    .map(|f| String::from_utf8_lossy(f).into_owned())
                    .collect();
                self.set_fields(fields);
            }
            _ => {}
        }
        Ok(())
    }
}

/// Reads the first header block of a Zeek TSV log. Returns `None` when the input does not
/// start with a header that has a `#fields` line.
pub fn parse_header(input: &[u8]) -> Option<Header> {
    let mut h = Header::default();
    let mut body_start = input.len();
    for (off, line) in logtext::lines(input) {
        if line.first() != Some(&b'#') {
            body_start = off;
            break;
        }
        if line.len() > MAX_LINE {
            return None;
        }
        let _ = h.apply(line);
    }
    if h.fields.is_empty() {
        return None;
    }
    h.body_start = body_start;
    Some(h)
}

/// Decodes a whole Zeek log, TSV or JSON (told apart by the first non-blank byte).
pub fn decode(input: &[u8], sink: &mut dyn Sink) -> DecodeStats {
    match parse_header(input) {
        Some(h) => {
            let start = h.body_start.min(input.len());
            decode_body(&h, &input[start..], start as u64, sink)
        }
        None => decode_body(&Header::default(), input, 0, sink),
    }
}

/// Decodes the complete lines of `chunk`, a piece of a log body cut on line boundaries, with
/// the layout `header`. `#` lines inside the chunk update a chunk-local copy of the header;
/// lines starting with `{` are read as Zeek JSON. Anomaly offsets are `base_offset` plus the
/// line's position in the chunk.
pub fn decode_body(
    header: &Header,
    chunk: &[u8],
    base_offset: u64,
    sink: &mut dyn Sink,
) -> DecodeStats {
    decode_body_with(header, chunk, base_offset, sink, true)
}

/// [`decode_body`] without the conn.log fast path: every TSV line goes through the general
/// field splitter. This is the reference the fast path must agree with, exposed for the
/// differential tests and the fuzz target; its output is identical, only slower.
#[doc(hidden)]
pub fn decode_body_general(
    header: &Header,
    chunk: &[u8],
    base_offset: u64,
    sink: &mut dyn Sink,
) -> DecodeStats {
    decode_body_with(header, chunk, base_offset, sink, false)
}

fn decode_body_with(
    header: &Header,
    chunk: &[u8],
    base_offset: u64,
    sink: &mut dyn Sink,
    fast: bool,
) -> DecodeStats {
    let mut h: Cow<'_, Header> = Cow::Borrowed(header);
    // The conn fast path's layout for the current header, when it applies.
    let layout = |h: &Header| if fast { conn::Layout::new(h) } else { None };
    let mut conn_layout = layout(&h);
    let mut st = DecodeStats::default();
    let mut pos = 0;
    while pos < chunk.len() {
        if let Some(l) = &mut conn_layout {
            // Plain data lines in one pass; the general loop takes the line it stops at.
            pos = conn::run(l, &h, chunk, pos, base_offset, sink, &mut st);
        }
        let Some(rest) = chunk.get(pos..).filter(|r| !r.is_empty()) else {
            break;
        };
        let off = pos;
        let end = memchr::memchr(b'\n', rest).map_or(chunk.len(), |i| off + i);
        pos = end + 1;
        let mut line = &chunk[off..end];
        if let [head @ .., b'\r'] = line {
            line = head;
        }
        if line.is_empty() {
            continue;
        }
        if line.len() > MAX_LINE {
            st.anomalies += 1;
            anomaly(
                sink,
                base_offset,
                off,
                AnomalyKind::Limit,
                "line longer than the cap",
            );
            continue;
        }
        if line[0] == b'#' {
            if let Err(detail) = h.to_mut().apply(line) {
                st.anomalies += 1;
                anomaly(sink, base_offset, off, AnomalyKind::Unsupported, detail);
            }
            conn_layout = layout(&h);
            continue;
        }
        st.records += 1;
        let mut out = Out {
            sink,
            stats: &mut st,
            base: base_offset,
            off,
        };
        if line[0] == b'{' {
            json_line(line, &mut out);
        } else if let Some(l) = &mut conn_layout {
            conn::tsv_line(l, &h, line, &mut out);
        } else {
            tsv_line(&h, line, &mut out);
        }
    }
    st
}

/// Where one line's results go.
struct Out<'s, 'k> {
    sink: &'s mut dyn Sink,
    stats: &'k mut DecodeStats,
    base: u64,
    off: usize,
}

impl Out<'_, '_> {
    fn bad(&mut self, kind: AnomalyKind, detail: impl Into<String>) {
        self.stats.anomalies += 1;
        anomaly(self.sink, self.base, self.off, kind, detail);
    }
    fn emit(&mut self, obs: Observation) {
        if let Observation::Flow(f) = &obs {
            self.stats.bytes = self
                .stats
                .bytes
                .saturating_add(f.bytes_out)
                .saturating_add(f.bytes_in);
        }
        self.sink.observe(obs);
    }
    /// A timestamp, or 0 and an anomaly when it is unreadable.
    fn ts(&mut self, ts: Option<Micros>) -> Micros {
        match ts {
            Some(t) => t,
            None => {
                self.bad(AnomalyKind::Malformed, "unreadable timestamp");
                0
            }
        }
    }
}

/// The values of one record, from TSV or JSON, in the form the emitters need.
#[derive(Default)]
struct Conn<'a> {
    ts: Option<Micros>,
    duration: Option<Micros>,
    uid: Option<&'a str>,
    orig_h: Option<IpAddr>,
    resp_h: Option<IpAddr>,
    orig_p: Option<u16>,
    resp_p: Option<u16>,
    proto: Option<&'a str>,
    ip_proto: Option<u8>,
    orig_bytes: Option<u64>,
    resp_bytes: Option<u64>,
    orig_ip_bytes: Option<u64>,
    resp_ip_bytes: Option<u64>,
    orig_pkts: Option<u64>,
    resp_pkts: Option<u64>,
    orig_l2: Option<Mac>,
    resp_l2: Option<Mac>,
}

#[inline(always)]
fn emit_conn(c: Conn<'_>, out: &mut Out<'_, '_>) {
    let (Some(src), Some(dst)) = (c.orig_h, c.resp_h) else {
        out.bad(AnomalyKind::Malformed, "conn record without both addresses");
        return;
    };
    let first = out.ts(c.ts);
    let proto = match (c.ip_proto, c.proto) {
        (Some(p), _) => IpProto(p),
        (None, Some("tcp")) => IpProto::TCP,
        (None, Some("udp")) => IpProto::UDP,
        (None, Some("icmp")) if src.is_ipv6() => IpProto::ICMPV6,
        (None, Some("icmp")) => IpProto::ICMP,
        _ => IpProto(0),
    };
    let flow = Flow {
        first,
        last: first.saturating_add(c.duration.unwrap_or(0).max(0)),
        src,
        dst,
        sport: c.orig_p.unwrap_or(0),
        dport: c.resp_p.unwrap_or(0),
        proto,
        bytes_out: c.orig_ip_bytes.or(c.orig_bytes).unwrap_or(0),
        packets_out: c.orig_pkts.unwrap_or(0),
        bytes_in: c.resp_ip_bytes.or(c.resp_bytes).unwrap_or(0),
        packets_in: c.resp_pkts.unwrap_or(0),
        src_mac: c.orig_l2,
        dst_mac: c.resp_l2,
        uid: c.uid.map(Box::from),
        sampling: 1,
    };
    out.emit(Observation::Flow(flow));
}

/// Ids and timestamp shared by dns/ssl/http records.
struct Conn4<'a> {
    ts: Option<Micros>,
    uid: Option<&'a str>,
    orig_h: Option<IpAddr>,
    resp_h: Option<IpAddr>,
    resp_p: Option<u16>,
}

/// DNS query types whose non-address answers are CNAME targets (A, CNAME, AAAA, ANY,
/// HTTPS-less address lookups); other types (PTR, MX, TXT...) carry other names.
fn qtype_has_cnames(qtype: Option<u64>) -> bool {
    matches!(qtype, None | Some(1) | Some(5) | Some(28) | Some(255))
}

fn emit_dns<'a>(
    c: Conn4<'_>,
    query: Option<&str>,
    qtype: Option<u64>,
    answers: impl Iterator<Item = (&'a str, u32)>,
    out: &mut Out<'_, '_>,
) {
    let ts = out.ts(c.ts);
    let Some(query) = query.and_then(logtext::norm_name) else {
        return;
    };
    let answers = logtext::chain_answers(&query, answers, qtype_has_cnames(qtype));
    out.emit(Observation::Dns(Dns {
        ts,
        client: c.orig_h,
        server: c.resp_h,
        query,
        answers,
        uid: c.uid.map(Box::from),
    }));
}

fn emit_name(c: Conn4<'_>, name: Option<&str>, source: NameSource, out: &mut Out<'_, '_>) {
    let ts = out.ts(c.ts);
    let name = match source {
        NameSource::Http => name.and_then(logtext::norm_host),
        _ => name.and_then(logtext::norm_name),
    };
    let Some(name) = name else { return };
    out.emit(Observation::Name(ServerName {
        ts,
        client: c.orig_h,
        server: c.resp_h,
        server_port: c.resp_p.unwrap_or(0),
        name,
        source,
        uid: c.uid.map(Box::from),
    }));
}

/// The CN of an X.500 subject like `CN=www.example.com,O=Example\, Inc,C=US`.
fn subject_cn(subject: &str) -> Option<&str> {
    let b = subject.as_bytes();
    let mut start = 0;
    let mut i = 0;
    while i <= b.len() {
        let at_end = i == b.len();
        if at_end || (b[i] == b',' && (i == 0 || b[i - 1] != b'\\')) {
            let part = subject.get(start..i)?.trim();
            if let Some(cn) = part.strip_prefix("CN=") {
                return Some(cn);
            }
            start = i + 1;
        }
        i += 1;
    }
    None
}

fn emit_x509<'a>(
    ts: Option<Micros>,
    subject: Option<&'a str>,
    sans: impl Iterator<Item = &'a str>,
    out: &mut Out<'_, '_>,
) {
    let ts = out.ts(ts);
    let mut names: Vec<String> = Vec::new();
    let cn = subject
        .and_then(subject_cn)
        .filter(|n| logtext::is_hostname(n));
    for n in cn.into_iter().chain(sans).take(logtext::MAX_ANSWERS) {
        if let Some(n) = logtext::norm_name(n) {
            if !names.contains(&n) {
                names.push(n);
            }
        }
    }
    for name in names {
        out.emit(Observation::Name(ServerName {
            ts,
            client: None,
            server: None,
            server_port: 0,
            name,
            source: NameSource::X509,
            uid: None,
        }));
    }
}

struct DhcpRec<'a> {
    ts: Option<Micros>,
    mac: Option<&'a str>,
    host_name: Option<&'a str>,
    vendor_class: Option<&'a str>,
    ip: Option<IpAddr>,
}

fn emit_dhcp(d: DhcpRec<'_>, out: &mut Out<'_, '_>) {
    let ts = out.ts(d.ts);
    let Some(mac) = d.mac else { return };
    let Some(mac) = Mac::parse(mac) else {
        out.bad(AnomalyKind::Malformed, "unreadable mac address");
        return;
    };
    out.emit(Observation::Dhcp(Dhcp {
        ts,
        mac,
        ip: d.ip,
        host_name: d.host_name.filter(|s| !s.is_empty()).map(str::to_string),
        vendor_class: d.vendor_class.filter(|s| !s.is_empty()).map(str::to_string),
    }));
}

fn emit_device(ts: Option<Micros>, mac: Option<&str>, out: &mut Out<'_, '_>) {
    let ts = out.ts(ts);
    let Some(mac) = mac else { return };
    match Mac::parse(mac) {
        Some(mac) => out.emit(Observation::Host(HostMac { ts, mac, ip: None })),
        None => out.bad(AnomalyKind::Malformed, "unreadable mac address"),
    }
}

// ---- TSV ----

/// One TSV line split into the fields cordon reads.
struct Fields<'a> {
    vals: [&'a [u8]; NROLES],
    set: u64,
    h: &'a Header,
}

impl<'a> Fields<'a> {
    /// The raw value of a role, `None` when absent, unset or empty.
    #[inline]
    fn get(&self, r: Role) -> Option<&'a [u8]> {
        if self.set & (1 << r as u8) == 0 {
            return None;
        }
        let v = self.vals[r as usize];
        if v == self.h.unset.as_slice() || v == self.h.empty.as_slice() {
            return None;
        }
        Some(v)
    }
    fn ip(&self, r: Role) -> Option<IpAddr> {
        self.get(r).and_then(logtext::parse_ip)
    }
    fn u64(&self, r: Role) -> Option<u64> {
        self.get(r).and_then(logtext::parse_u64)
    }
    fn u16(&self, r: Role) -> Option<u16> {
        self.get(r).and_then(logtext::parse_u16)
    }
    fn str(&self, r: Role) -> Option<&'a str> {
        self.get(r).and_then(|v| std::str::from_utf8(v).ok())
    }
    fn string(&self, r: Role) -> Option<Cow<'a, str>> {
        self.get(r).map(tsv_str)
    }
    fn ts(&self) -> Option<Micros> {
        self.get(Role::Ts).and_then(logtext::parse_secs_micros)
    }
    fn conn4(&self) -> Conn4<'a> {
        Conn4 {
            ts: self.ts(),
            uid: self.str(Role::Uid),
            orig_h: self.ip(Role::OrigH),
            resp_h: self.ip(Role::RespH),
            resp_p: self.u16(Role::RespP),
        }
    }
    fn set_items(&self, r: Role) -> impl Iterator<Item = &'a [u8]> {
        let sep = self.h.set_separator;
        self.get(r)
            .into_iter()
            .flat_map(move |v| v.split(move |&c| c == sep))
    }
}

fn tsv_line(h: &Header, line: &[u8], out: &mut Out<'_, '_>) {
    if h.fields.is_empty() {
        out.bad(AnomalyKind::Missing, "data line before a #fields header");
        return;
    }
    let mut f = Fields {
        vals: [&[][..]; NROLES],
        set: 0,
        h,
    };
    let mut n = 0usize;
    let mut start = 0usize;
    // Fields are short (a few bytes on average), so a plain byte loop beats a memchr call
    // per field here.
    let sep = h.separator;
    let mut assign = |n: usize, start: usize, end: usize| {
        if let Some(Some(r)) = h.roles.get(n) {
            f.vals[*r as usize] = &line[start..end];
            f.set |= 1 << *r as u8;
        }
    };
    for (i, &c) in line.iter().enumerate() {
        if c == sep {
            assign(n, start, i);
            n += 1;
            start = i + 1;
        }
    }
    assign(n, start, line.len());
    n += 1;
    if n != h.fields.len() {
        out.bad(
            AnomalyKind::Malformed,
            format!("{n} fields where #fields declares {}", h.fields.len()),
        );
        return;
    }
    match h.kind {
        LogKind::Conn => emit_conn(
            Conn {
                ts: f.ts(),
                duration: f.get(Role::Duration).and_then(logtext::parse_secs_micros),
                uid: f.str(Role::Uid).filter(|_| h.keep_uid),
                orig_h: f.ip(Role::OrigH),
                resp_h: f.ip(Role::RespH),
                orig_p: f.u16(Role::OrigP),
                resp_p: f.u16(Role::RespP),
                proto: f.str(Role::Proto),
                ip_proto: f.u64(Role::IpProto).and_then(|v| u8::try_from(v).ok()),
                orig_bytes: f.u64(Role::OrigBytes),
                resp_bytes: f.u64(Role::RespBytes),
                orig_ip_bytes: f.u64(Role::OrigIpBytes),
                resp_ip_bytes: f.u64(Role::RespIpBytes),
                orig_pkts: f.u64(Role::OrigPkts),
                resp_pkts: f.u64(Role::RespPkts),
                orig_l2: f.str(Role::OrigL2).and_then(Mac::parse),
                resp_l2: f.str(Role::RespL2).and_then(Mac::parse),
            },
            out,
        ),
        LogKind::Dns => {
            let query = f.string(Role::Query);
            let ttls: Vec<u32> = f.set_items(Role::Ttls).map(logtext::parse_ttl).collect();
            let answers: Vec<Cow<'_, str>> = f.set_items(Role::Answers).map(tsv_str).collect();
            emit_dns(
                f.conn4(),
                query.as_deref(),
                f.u64(Role::Qtype),
                answers
                    .iter()
                    .enumerate()
                    .map(|(i, a)| (a.as_ref(), ttls.get(i).copied().unwrap_or(0))),
                out,
            );
        }
        LogKind::Ssl => {
            let name = f.string(Role::ServerName);
            emit_name(f.conn4(), name.as_deref(), NameSource::Tls, out);
        }
        LogKind::Http => {
            let name = f.string(Role::Host);
            emit_name(f.conn4(), name.as_deref(), NameSource::Http, out);
        }
        LogKind::X509 => {
            if f.get(Role::ClientCert) == Some(b"T") {
                return;
            }
            let subject = f.string(Role::Subject);
            let sans: Vec<Cow<'_, str>> = f.set_items(Role::SanDns).map(tsv_str).collect();
            emit_x509(
                f.ts(),
                subject.as_deref(),
                sans.iter().map(|s| s.as_ref()),
                out,
            );
        }
        LogKind::Dhcp => {
            let host_name = f.string(Role::HostName);
            let vendor = f.string(Role::VendorClass);
            emit_dhcp(
                DhcpRec {
                    ts: f.ts(),
                    mac: f.str(Role::Mac),
                    host_name: host_name.as_deref(),
                    vendor_class: vendor.as_deref(),
                    ip: f
                        .ip(Role::AssignedAddr)
                        .or(f.ip(Role::ClientAddr))
                        .or(f.ip(Role::RequestedAddr)),
                },
                out,
            )
        }
        LogKind::KnownDevices => emit_device(f.ts(), f.str(Role::Mac), out),
        LogKind::Software | LogKind::Other => {}
    }
}

// ---- JSON ----

/// A Zeek timestamp in JSON: epoch seconds (Zeek's default) or ISO 8601 (`json-streaming-logs`,
/// `LogAscii::json_timestamps`).
#[derive(Deserialize)]
#[serde(untagged)]
enum JTime {
    Num(f64),
    Str(String),
}

impl JTime {
    fn micros(&self) -> Option<Micros> {
        match self {
            JTime::Num(v) => logtext::f64_secs_micros(*v),
            JTime::Str(s) => logtext::parse_rfc3339(s.as_bytes())
                .or_else(|| logtext::parse_secs_micros(s.as_bytes())),
        }
    }
}

/// The keys cordon reads from any Zeek JSON record; the rest are skipped.
#[derive(Deserialize, Default)]
struct ZJson {
    #[serde(rename = "_path")]
    path: Option<String>,
    ts: Option<JTime>,
    uid: Option<String>,
    #[serde(rename = "id.orig_h")]
    orig_h: Option<String>,
    #[serde(rename = "id.orig_p")]
    orig_p: Option<u64>,
    #[serde(rename = "id.resp_h")]
    resp_h: Option<String>,
    #[serde(rename = "id.resp_p")]
    resp_p: Option<u64>,
    proto: Option<String>,
    ip_proto: Option<u64>,
    duration: Option<f64>,
    orig_bytes: Option<u64>,
    resp_bytes: Option<u64>,
    orig_ip_bytes: Option<u64>,
    resp_ip_bytes: Option<u64>,
    orig_pkts: Option<u64>,
    resp_pkts: Option<u64>,
    orig_l2_addr: Option<String>,
    resp_l2_addr: Option<String>,
    conn_state: Option<IgnoredAny>,
    query: Option<String>,
    qtype: Option<u64>,
    trans_id: Option<IgnoredAny>,
    answers: Option<Vec<String>>,
    #[serde(rename = "TTLs")]
    ttls: Option<Vec<f64>>,
    server_name: Option<String>,
    ssl_history: Option<IgnoredAny>,
    cipher: Option<IgnoredAny>,
    fingerprint: Option<IgnoredAny>,
    #[serde(rename = "certificate.subject")]
    subject: Option<String>,
    #[serde(rename = "san.dns")]
    san_dns: Option<Vec<String>>,
    client_cert: Option<bool>,
    method: Option<IgnoredAny>,
    host: Option<String>,
    mac: Option<String>,
    host_name: Option<String>,
    client_addr: Option<String>,
    assigned_addr: Option<String>,
    requested_addr: Option<String>,
    msg_types: Option<IgnoredAny>,
    vendor_class: Option<String>,
    client_software: Option<String>,
    dhcp_host_name: Option<String>,
    software_type: Option<IgnoredAny>,
}

fn jip(s: &Option<String>) -> Option<IpAddr> {
    s.as_deref().and_then(|s| logtext::parse_ip(s.as_bytes()))
}

impl ZJson {
    fn kind(&self) -> LogKind {
        if let Some(k) = self.path.as_deref().and_then(LogKind::from_path) {
            return k;
        }
        LogKind::infer(|n| match n {
            "conn_state" => self.conn_state.is_some(),
            "orig_bytes" => self.orig_bytes.is_some(),
            "duration" => self.duration.is_some(),
            "query" => self.query.is_some(),
            "qtype" => self.qtype.is_some(),
            "trans_id" => self.trans_id.is_some(),
            "fingerprint" => self.fingerprint.is_some(),
            "certificate.subject" => self.subject.is_some(),
            "server_name" => self.server_name.is_some(),
            "ssl_history" => self.ssl_history.is_some(),
            "cipher" => self.cipher.is_some(),
            "method" => self.method.is_some(),
            "host" => self.host.is_some(),
            "mac" => self.mac.is_some(),
            "msg_types" => self.msg_types.is_some(),
            "assigned_addr" => self.assigned_addr.is_some(),
            "dhcp_host_name" => self.dhcp_host_name.is_some(),
            "software_type" => self.software_type.is_some(),
            _ => false,
        })
    }
    fn conn4(&self) -> Conn4<'_> {
        Conn4 {
            ts: self.ts.as_ref().and_then(JTime::micros),
            uid: self.uid.as_deref(),
            orig_h: jip(&self.orig_h),
            resp_h: jip(&self.resp_h),
            resp_p: self.resp_p.and_then(|p| u16::try_from(p).ok()),
        }
    }
}

fn json_line(line: &[u8], out: &mut Out<'_, '_>) {
    let z: ZJson = match serde_json::from_slice(line) {
        Ok(z) => z,
        Err(e) => {
            out.bad(AnomalyKind::Malformed, format!("bad json: {e}"));
            return;
        }
    };
    let ts = z.ts.as_ref().and_then(JTime::micros);
    match z.kind() {
        LogKind::Conn => emit_conn(
            Conn {
                ts,
                duration: z.duration.and_then(logtext::f64_secs_micros),
                uid: z.uid.as_deref(),
                orig_h: jip(&z.orig_h),
                resp_h: jip(&z.resp_h),
                orig_p: z.orig_p.and_then(|p| u16::try_from(p).ok()),
                resp_p: z.resp_p.and_then(|p| u16::try_from(p).ok()),
                proto: z.proto.as_deref(),
                ip_proto: z.ip_proto.and_then(|v| u8::try_from(v).ok()),
                orig_bytes: z.orig_bytes,
                resp_bytes: z.resp_bytes,
                orig_ip_bytes: z.orig_ip_bytes,
                resp_ip_bytes: z.resp_ip_bytes,
                orig_pkts: z.orig_pkts,
                resp_pkts: z.resp_pkts,
                orig_l2: z.orig_l2_addr.as_deref().and_then(Mac::parse),
                resp_l2: z.resp_l2_addr.as_deref().and_then(Mac::parse),
            },
            out,
        ),
        LogKind::Dns => {
            let ttls = z.ttls.as_deref().unwrap_or(&[]);
            let answers = z.answers.as_deref().unwrap_or(&[]);
            emit_dns(
                z.conn4(),
                z.query.as_deref(),
                z.qtype,
                answers.iter().enumerate().map(|(i, a)| {
                    let ttl = ttls.get(i).copied().unwrap_or(0.0);
                    (a.as_str(), ttl.clamp(0.0, u32::MAX as f64) as u32)
                }),
                out,
            );
        }
        LogKind::Ssl => emit_name(z.conn4(), z.server_name.as_deref(), NameSource::Tls, out),
        LogKind::Http => emit_name(z.conn4(), z.host.as_deref(), NameSource::Http, out),
        LogKind::X509 => {
            if z.client_cert == Some(true) {
                return;
            }
            let sans = z.san_dns.as_deref().unwrap_or(&[]);
            emit_x509(
                ts,
                z.subject.as_deref(),
                sans.iter().map(String::as_str),
                out,
            );
        }
        LogKind::Dhcp => emit_dhcp(
            DhcpRec {
                ts,
                mac: z.mac.as_deref(),
                host_name: z.host_name.as_deref(),
                vendor_class: z.vendor_class.as_deref().or(z.client_software.as_deref()),
                ip: jip(&z.assigned_addr)
                    .or(jip(&z.client_addr))
                    .or(jip(&z.requested_addr)),
            },
            out,
        ),
        LogKind::KnownDevices => emit_device(ts, z.mac.as_deref(), out),
        LogKind::Software | LogKind::Other => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cn_of_subjects() {
        for (s, want) in [
            (
                "CN=www.example.com,O=Example\\, Inc,C=US",
                Some("www.example.com"),
            ),
            ("O=x,CN=a.b", Some("a.b")),
            (
                "unstructuredName=1\\,2,CN=localhost.localdomain,OU=x",
                Some("localhost.localdomain"),
            ),
            ("O=VMware Installer", None),
            ("", None),
        ] {
            assert_eq!(subject_cn(s), want, "{s}");
        }
    }

    #[test]
    fn paths() {
        for (p, want) in [
            ("conn", Some(LogKind::Conn)),
            ("ssl1_2", Some(LogKind::Ssl)),
            ("x5091_2", Some(LogKind::X509)),
            ("conn_red", Some(LogKind::Conn)),
            ("dnsx", Some(LogKind::Other)),
            ("weird", Some(LogKind::Other)),
            ("", None),
        ] {
            assert_eq!(LogKind::from_path(p), want, "{p}");
        }
    }
}
