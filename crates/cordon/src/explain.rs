//! `cordon explain TARGET...`: the evidence chain for an address, host name, MAC or company.
//!
//! Each target is parsed on its own; **an unparsable target gets a one-line error naming it
//! and the others are still answered.** Text output is for people (colour only on a
//! terminal); `--format json` writes one JSON object per target, one per line.

use crate::attribute::{self, Match, Step};
use crate::output::{paint, Safe, Style};
use cordon_index::{EntityId, Intel};
use cordon_wire::Mac;
use serde_json::{json, Value};
use std::io::Write;
use std::net::IpAddr;

/// What a target turned out to be.
#[derive(Clone, Debug, PartialEq)]
pub enum Target {
    Ip(IpAddr),
    Name(String),
    Mac(Mac),
    Company(Vec<EntityId>),
}

/// Decides what a target is. Order: IP address, MAC address, known company, host name.
pub fn parse_target(intel: &Intel, raw: &str) -> Result<Target, String> {
    let t = raw.trim();
    if t.is_empty() {
        return Err("empty target".into());
    }
    if let Ok(ip) = t.parse::<IpAddr>() {
        return Ok(Target::Ip(ip));
    }
    if let Some(ip) = t.strip_prefix('[').and_then(|s| s.strip_suffix(']')) {
        if let Ok(ip) = ip.parse::<IpAddr>() {
            return Ok(Target::Ip(ip));
        }
    }
    let hexish = t
        .bytes()
        .all(|b| b.is_ascii_hexdigit() || matches!(b, b':' | b'-' | b'.'));
    if hexish
        && (t.contains(':') || t.contains('-') || t.len() == 12 || t.matches('.').count() == 2)
    {
        if let Some(m) = Mac::parse(t) {
            return Ok(Target::Mac(m));
        }
        if t.contains(':') || t.contains('-') {
            return Err(format!("{raw:?}: not a valid IP or MAC address"));
        }
    }
    // Something shaped like a dotted-quad that did not parse as an address is an error,
    // not a host name.
    if t.split('.')
        .all(|l| !l.is_empty() && l.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(format!("{raw:?}: not a valid IP address"));
    }
    let companies = attribute::company(intel, t);
    if !companies.is_empty() && (!t.contains('.') || t.contains(' ')) {
        return Ok(Target::Company(companies));
    }
    if let Some(n) = cordon_index::domain::normalize(t) {
        return Ok(Target::Name(n));
    }
    if !companies.is_empty() {
        return Ok(Target::Company(companies));
    }
    // Text that reads like a company name is a question about a company, answered even when
    // no company of concern has that name ("Alibaba Travel Company" has no match).
    let name_like = t.chars().any(char::is_alphabetic)
        && t.chars()
            .all(|c| c.is_alphanumeric() || " .,&'()-/+".contains(c));
    if name_like {
        return Ok(Target::Company(Vec::new()));
    }
    let hints = attribute::similar_companies(intel, t, 3);
    let mut msg =
        format!("{raw:?}: not an IP address, MAC address, host name or known company name");
    if !hints.is_empty() {
        let names: Vec<String> = hints
            .iter()
            .map(|&i| intel.entity(i).id.to_string())
            .collect();
        msg.push_str(&format!(
            " (similar companies, not matched: {})",
            names.join(", ")
        ));
    }
    Err(msg)
}

/// The answer for one target, ready to print.
pub struct Answer {
    pub query: String,
    pub kind: &'static str,
    pub matches: Vec<Match>,
    /// What was found instead of (or besides) a match: AS, registrable domain, maker.
    pub found: Vec<(&'static str, String)>,
}

pub fn answer(intel: &Intel, query: &str, target: &Target) -> Answer {
    let mut a = Answer {
        query: query.to_string(),
        kind: "",
        matches: Vec::new(),
        found: Vec::new(),
    };
    match target {
        Target::Ip(ip) => {
            a.kind = "ip";
            let f = attribute::ip(intel, *ip);
            if let Some(asn) = f.asn {
                a.found.push(("asn", format!("AS{asn}")));
            }
            if let Some(o) = f.as_org {
                a.found.push(("organisation", o));
            }
            if let Some(p) = f.prefix {
                a.found.push(("prefix", p));
            }
            if let Some(d) = f.dataset {
                a.found.push((
                    "dataset",
                    format!("{d} ({})", f.dataset_date.unwrap_or_default()),
                ));
            }
            if f.asn.is_none() {
                let why = if ip.is_loopback() || is_private(*ip) {
                    "a private, loopback or link-local address: no company is behind it"
                } else if intel.ip_dataset.starts_with("import:") {
                    "no AS announces this address in the imported table"
                } else {
                    "not in the bundled table, which holds only the ranges of ASNs of concern; \
                     `cordon intel import` a full IP-to-AS table to see every address's AS"
                };
                a.found.push(("note", why.to_string()));
            }
            a.matches = f.matches;
        }
        Target::Name(n) => {
            a.kind = "name";
            let f = attribute::name(intel, n);
            if let Some(r) = f.registrable {
                a.found.push(("registrable_domain", r));
            }
            a.matches = f.matches;
        }
        Target::Mac(m) => {
            a.kind = "mac";
            let f = attribute::mac(intel, *m);
            match f.kind {
                "local" => a.found.push((
                    "note",
                    "locally administered address (randomised or set locally): it names no maker"
                        .into(),
                )),
                "multicast" => a.found.push((
                    "note",
                    "group (multicast) address: it names no maker".into(),
                )),
                "unknown" => a
                    .found
                    .push(("note", "no IEEE registry block holds this address".into())),
                _ => {}
            }
            if let Some(b) = f.block {
                a.found.push(("block", b));
            }
            if let Some(mk) = f.maker {
                a.found.push(("maker", mk));
            }
            a.matches = f.matches;
        }
        Target::Company(ids) => {
            a.kind = "company";
            if ids.is_empty() {
                a.found
                    .push(("note", "no company of concern has this name".to_string()));
                let hints = attribute::similar_companies(intel, query, 3);
                if !hints.is_empty() {
                    let names: Vec<String> = hints
                        .iter()
                        .map(|&i| intel.entity(i).id.to_string())
                        .collect();
                    a.found
                        .push(("similar_names_not_matched", names.join(", ")));
                }
            }
            for &id in ids {
                let mut chain = Vec::new();
                attribute::company_steps(intel, id, &mut chain);
                a.matches.push(Match {
                    entity: id,
                    relationship: None,
                    confidence: 1.0,
                    service: None,
                    chain,
                });
                let e = intel.entity(id);
                let asns = intel
                    .asn_rules
                    .iter()
                    .filter(|r| r.attribution.entity == id)
                    .count();
                let doms = intel
                    .domain_rules
                    .iter()
                    .filter(|r| r.attribution.entity == id)
                    .count();
                let macs = intel
                    .mac_blocks
                    .iter()
                    .filter(|b| b.entity == Some(id))
                    .count();
                a.found.push((
                    "footprint",
                    format!(
                        "{}: {asns} ASNs, {doms} domain rules, {macs} MAC blocks",
                        e.id
                    ),
                ));
            }
        }
    }
    a
}

fn is_private(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(a) => {
            a.is_private()
                || a.is_link_local()
                || a.is_unspecified()
                || a.is_broadcast()
                || (a.octets()[0] == 100 && (a.octets()[1] & 0xc0) == 64)
        }
        IpAddr::V6(a) => {
            (a.segments()[0] & 0xfe00) == 0xfc00
                || (a.segments()[0] & 0xffc0) == 0xfe80
                || a.is_unspecified()
        }
    }
}

fn designations_json(intel: &Intel, id: EntityId) -> Vec<Value> {
    intel
        .designations(id)
        .iter()
        .map(|d| {
            let x = d.designation;
            let date = if x.date_added.is_empty() {
                &x.edition
            } else {
                &x.date_added
            };
            json!({
                "list": &*x.list,
                "date": &**date,
                "edition": &*x.edition,
                "status": x.status.as_str(),
                "source": &*x.source,
                "holder": &*intel.entity(d.holder).id,
            })
        })
        .collect()
}

fn step_json(s: &Step) -> Value {
    json!({"kind": s.kind, "value": s.value, "source": s.source, "date": s.date})
}

/// Confidence rounded to two decimals, as printed.
pub fn round2(x: f32) -> f64 {
    (x as f64 * 100.0).round() / 100.0
}

pub fn to_json(intel: &Intel, a: &Answer) -> Value {
    let matches: Vec<Value> = a
        .matches
        .iter()
        .map(|m| {
            let e = intel.entity(m.entity);
            json!({
                "entity": &*e.id,
                "group": &*intel.entity(intel.group(m.entity)).id,
                "name": &*e.name,
                "relationship": m.relationship.map(|r| r.as_str()),
                "confidence": round2(m.confidence),
                "service": m.service,
                "chain": m.chain.iter().map(step_json).collect::<Vec<_>>(),
                "designations": designations_json(intel, m.entity),
            })
        })
        .collect();
    let mut found = serde_json::Map::new();
    for (k, v) in &a.found {
        match found.get_mut(*k) {
            Some(Value::Array(arr)) => arr.push(json!(v)),
            Some(old) => *old = json!([old.clone(), v]),
            None => {
                found.insert((*k).to_string(), json!(v));
            }
        }
    }
    json!({"query": a.query, "kind": a.kind, "matches": matches, "found": found})
}

pub fn print_text(intel: &Intel, a: &Answer, out: &mut dyn Write) -> std::io::Result<()> {
    writeln!(
        out,
        "{}  {}",
        paint(Style::Bold, &a.query),
        paint(Style::Dim, a.kind)
    )?;
    if a.matches.is_empty() {
        writeln!(out, "  {}", paint(Style::Good, "no company of concern"))?;
    }
    for m in &a.matches {
        let e = intel.entity(m.entity);
        let g = intel.entity(intel.group(m.entity));
        let rel = m
            .relationship
            .map_or("named".to_string(), |r| r.as_str().to_string());
        let svc = m
            .service
            .as_deref()
            .map(|s| format!(", {s}"))
            .unwrap_or_default();
        writeln!(
            out,
            "  {} {} ({}) — {}{}, confidence {:.2}, group {}",
            paint(Style::Alert, "▸"),
            paint(Style::Bold, &e.name),
            Safe(&e.id),
            paint(Style::Alert, &rel),
            Safe(&svc),
            m.confidence,
            Safe(&g.id)
        )?;
        for s in &m.chain {
            let mut line = format!("    {:<13} {}", Safe(s.kind), Safe(&s.value));
            if let Some(src) = &s.source {
                line.push_str(&format!("  {}", paint(Style::Dim, &format!("[{src}]"))));
            }
            if let Some(d) = &s.date {
                line.push_str(&format!(" {}", paint(Style::Dim, d)));
            }
            writeln!(out, "{line}")?;
        }
        let ds = intel.designations(m.entity);
        if ds.is_empty() {
            writeln!(
                out,
                "    {:<13} none on the lists cordon carries",
                "designations"
            )?;
        }
        for d in ds {
            let x = d.designation;
            let held = if d.holder != m.entity {
                format!(" (held by {})", Safe(&intel.entity(d.holder).id))
            } else {
                String::new()
            };
            let date = if x.date_added.is_empty() {
                &x.edition
            } else {
                &x.date_added
            };
            writeln!(
                out,
                "    {:<13} {} {}{}{held}  {}",
                "designation",
                paint(Style::Alert, &x.list),
                x.status.as_str(),
                if date.is_empty() {
                    String::new()
                } else {
                    format!(" since {}", Safe(date))
                },
                paint(Style::Dim, &format!("[{}]", x.source))
            )?;
        }
    }
    for (k, v) in &a.found {
        writeln!(
            out,
            "  {} {}",
            paint(Style::Dim, &format!("{k:<18}")),
            Safe(v)
        )?;
    }
    Ok(())
}
