//! Suricata EVE JSON (one event per line).
//!
//! `flow` events become [`Flow`]s, `dns` events [`Dns`] (EVE v1 one-answer-per-event, v2
//! `answers` / `grouped`, and Suricata 8's `queries`), `tls` SNIs and `http` hostnames
//! [`ServerName`]s, and `dhcp` events [`Dhcp`]. Other event types are counted as records.
//! The `flow_id` becomes the observations' `uid`, so a TLS name joins its flow.
//!
//! **Guarantees: never panics; a line that is not an EVE object becomes one [`Anomaly`] at
//! the line's byte offset, and decoding goes on with the next line.**

use crate::logtext::{self, anomaly, MAX_ANSWERS, MAX_LINE};
use crate::obs::{
    AnomalyKind, DecodeStats, Dhcp, Dns, DnsData, DnsRecord, Flow, IpProto, Mac, Micros,
    NameSource, Observation, ServerName, Sink,
};
use serde::Deserialize;
use std::net::IpAddr;

#[derive(Deserialize)]
#[serde(untagged)]
enum StrOrNum {
    Num(u64),
    Str(String),
}

#[derive(Deserialize, Default)]
struct Event {
    timestamp: Option<String>,
    event_type: Option<String>,
    flow_id: Option<u64>,
    src_ip: Option<String>,
    dest_ip: Option<String>,
    src_port: Option<u64>,
    dest_port: Option<u64>,
    proto: Option<StrOrNum>,
    flow: Option<EveFlow>,
    dns: Option<EveDns>,
    tls: Option<EveTls>,
    http: Option<EveHttp>,
    dhcp: Option<EveDhcp>,
}

#[derive(Deserialize, Default)]
struct EveFlow {
    pkts_toserver: Option<u64>,
    pkts_toclient: Option<u64>,
    bytes_toserver: Option<u64>,
    bytes_toclient: Option<u64>,
    start: Option<String>,
    end: Option<String>,
}

#[derive(Deserialize, Default)]
struct EveAnswer {
    rrname: Option<String>,
    rrtype: Option<String>,
    ttl: Option<u64>,
    rdata: Option<serde_json::Value>,
}

#[derive(Deserialize, Default)]
struct EveDns {
    #[serde(rename = "type")]
    kind: Option<String>,
    rrname: Option<String>,
    rrtype: Option<String>,
    ttl: Option<u64>,
    rdata: Option<serde_json::Value>,
    answers: Option<Vec<EveAnswer>>,
    grouped: Option<serde_json::Map<String, serde_json::Value>>,
    queries: Option<Vec<EveAnswer>>,
}

#[derive(Deserialize, Default)]
struct EveTls {
    sni: Option<String>,
}

#[derive(Deserialize, Default)]
struct EveHttp {
    hostname: Option<String>,
}

#[derive(Deserialize, Default)]
struct EveDhcp {
    client_mac: Option<String>,
    hostname: Option<String>,
    assigned_ip: Option<String>,
    client_ip: Option<String>,
    vendor_class_identifier: Option<String>,
}

fn ip(s: &Option<String>) -> Option<IpAddr> {
    s.as_deref().and_then(|s| logtext::parse_ip(s.as_bytes()))
}

/// Suricata's protocol names (and numbers, as text or number).
pub(crate) fn proto_from_name(s: &str) -> Option<IpProto> {
    Some(match s.to_ascii_uppercase().as_str() {
        "TCP" => IpProto::TCP,
        "UDP" => IpProto::UDP,
        "ICMP" => IpProto::ICMP,
        "IPV6-ICMP" | "ICMPV6" | "ICMP6" => IpProto::ICMPV6,
        "SCTP" => IpProto::SCTP,
        other => IpProto(other.parse::<u8>().ok()?),
    })
}

/// A DNS record from an EVE answer, when it is one cordon uses (A, AAAA, CNAME).
fn record(
    owner: &str,
    rrtype: &str,
    rdata: Option<&serde_json::Value>,
    ttl: u64,
) -> Option<DnsRecord> {
    let rdata = rdata?.as_str()?;
    let data = match rrtype {
        "A" | "AAAA" => DnsData::Addr(logtext::parse_ip(rdata.as_bytes())?),
        "CNAME" => DnsData::Cname(logtext::norm_name(rdata)?),
        _ => return None,
    };
    Some(DnsRecord {
        name: logtext::norm_name(owner)?,
        data,
        ttl: ttl.min(u32::MAX as u64) as u32,
    })
}

fn dns_answers(d: &EveDns, query: &str) -> Vec<DnsRecord> {
    if let Some(answers) = &d.answers {
        return answers
            .iter()
            .take(MAX_ANSWERS)
            .filter_map(|a| {
                let owner = a.rrname.as_deref().unwrap_or(query);
                record(
                    owner,
                    a.rrtype.as_deref()?,
                    a.rdata.as_ref(),
                    a.ttl.unwrap_or(0),
                )
            })
            .collect();
    }
    if let Some(g) = &d.grouped {
        // `grouped` loses the owners: rebuild the chain, CNAMEs first, then addresses.
        let mut flat: Vec<&str> = Vec::new();
        for key in ["CNAME", "A", "AAAA"] {
            if let Some(serde_json::Value::Array(v)) = g.get(key) {
                flat.extend(v.iter().filter_map(|x| x.as_str()));
            }
        }
        return logtext::chain_answers(query, flat.into_iter().map(|a| (a, 0)), true);
    }
    if d.kind.as_deref() == Some("answer") {
        let owner = d.rrname.as_deref().unwrap_or(query);
        if let Some(r) = d
            .rrtype
            .as_deref()
            .and_then(|t| record(owner, t, d.rdata.as_ref(), d.ttl.unwrap_or(0)))
        {
            return vec![r];
        }
    }
    Vec::new()
}

/// Decodes an EVE JSON file.
pub fn decode(input: &[u8], sink: &mut dyn Sink) -> DecodeStats {
    let mut st = DecodeStats::default();
    for (off, line) in logtext::lines(input) {
        let line = logtext::trim(line);
        if line.is_empty() {
            continue;
        }
        st.records += 1;
        let mut bad = |sink: &mut dyn Sink, kind, detail: String| {
            st.anomalies += 1;
            anomaly(sink, 0, off, kind, detail);
        };
        if line.len() > MAX_LINE {
            bad(sink, AnomalyKind::Limit, "line longer than the cap".into());
            continue;
        }
        let ev: Event = match serde_json::from_slice(line) {
            Ok(ev) => ev,
            Err(e) => {
                bad(sink, AnomalyKind::Malformed, format!("bad json: {e}"));
                continue;
            }
        };
        let Some(kind) = ev.event_type.as_deref() else {
            bad(
                sink,
                AnomalyKind::Malformed,
                "event without event_type".into(),
            );
            continue;
        };
        let ts: Option<Micros> = ev
            .timestamp
            .as_deref()
            .and_then(|t| logtext::parse_rfc3339(t.as_bytes()));
        let uid = ev.flow_id.map(|id| Box::<str>::from(id.to_string()));
        let (src, dst) = (ip(&ev.src_ip), ip(&ev.dest_ip));
        let sport = ev.src_port.and_then(|p| u16::try_from(p).ok()).unwrap_or(0);
        let dport = ev
            .dest_port
            .and_then(|p| u16::try_from(p).ok())
            .unwrap_or(0);
        let needs_ts = matches!(kind, "flow" | "dns" | "tls" | "http" | "dhcp");
        if needs_ts && ts.is_none() {
            bad(
                sink,
                AnomalyKind::Malformed,
                "missing or unreadable timestamp".into(),
            );
        }
        let ts = ts.unwrap_or(0);
        match kind {
            "flow" | "netflow" => {
                let (Some(src), Some(dst)) = (src, dst) else {
                    bad(
                        sink,
                        AnomalyKind::Malformed,
                        "flow event without both addresses".into(),
                    );
                    continue;
                };
                let f = ev.flow.unwrap_or_default();
                let first = f
                    .start
                    .as_deref()
                    .and_then(|t| logtext::parse_rfc3339(t.as_bytes()))
                    .unwrap_or(ts);
                let last = f
                    .end
                    .as_deref()
                    .and_then(|t| logtext::parse_rfc3339(t.as_bytes()))
                    .unwrap_or(first);
                let proto = match &ev.proto {
                    Some(StrOrNum::Num(n)) => u8::try_from(*n).ok().map(IpProto),
                    Some(StrOrNum::Str(s)) => proto_from_name(s),
                    None => None,
                }
                .unwrap_or(IpProto(0));
                let flow = Flow {
                    first,
                    last,
                    src,
                    dst,
                    sport,
                    dport,
                    proto,
                    bytes_out: f.bytes_toserver.unwrap_or(0),
                    packets_out: f.pkts_toserver.unwrap_or(0),
                    bytes_in: f.bytes_toclient.unwrap_or(0),
                    packets_in: f.pkts_toclient.unwrap_or(0),
                    src_mac: None,
                    dst_mac: None,
                    uid,
                    sampling: 1,
                };
                st.bytes = st
                    .bytes
                    .saturating_add(flow.bytes_out)
                    .saturating_add(flow.bytes_in);
                sink.observe(Observation::Flow(flow));
            }
            "dns" => {
                let Some(d) = ev.dns else { continue };
                let query = d
                    .rrname
                    .as_deref()
                    .or_else(|| d.queries.as_ref()?.first()?.rrname.as_deref())
                    .and_then(logtext::norm_name);
                let Some(query) = query else { continue };
                let answers = dns_answers(&d, &query);
                // Responses may be logged in packet direction: the client is the side not
                // on port 53.
                let (client, server) = if sport == 53 && dport != 53 {
                    (dst, src)
                } else {
                    (src, dst)
                };
                sink.observe(Observation::Dns(Dns {
                    ts,
                    client,
                    server,
                    query,
                    answers,
                    uid,
                }));
            }
            "tls" | "http" => {
                let (name, source) = if kind == "tls" {
                    let n = ev
                        .tls
                        .and_then(|t| t.sni)
                        .and_then(|n| logtext::norm_name(&n));
                    (n, NameSource::Tls)
                } else {
                    let n = ev
                        .http
                        .and_then(|h| h.hostname)
                        .and_then(|n| logtext::norm_host(&n));
                    (n, NameSource::Http)
                };
                let Some(name) = name else { continue };
                sink.observe(Observation::Name(ServerName {
                    ts,
                    client: src,
                    server: dst,
                    server_port: dport,
                    name,
                    source,
                    uid,
                }));
            }
            "dhcp" => {
                let Some(d) = ev.dhcp else { continue };
                let Some(mac) = d.client_mac.as_deref() else {
                    continue;
                };
                let Some(mac) = Mac::parse(mac) else {
                    bad(sink, AnomalyKind::Malformed, "unreadable client_mac".into());
                    continue;
                };
                let unspecified = |a: &IpAddr| !a.is_unspecified();
                sink.observe(Observation::Dhcp(Dhcp {
                    ts,
                    mac,
                    ip: ip(&d.assigned_ip)
                        .filter(unspecified)
                        .or(ip(&d.client_ip).filter(unspecified)),
                    host_name: d.hostname.filter(|s| !s.is_empty()),
                    vendor_class: d.vendor_class_identifier.filter(|s| !s.is_empty()),
                }));
            }
            _ => {}
        }
    }
    st
}
