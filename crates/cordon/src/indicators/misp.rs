//! MISP events (`{"Event": {..., "Attribute": [...], "Object": [{"Attribute": [...]}]}}`,
//! also wrapped as `{"response": [...]}` or a bare list) and MISP feed folders
//! (`manifest.json` naming `<uuid>.json` events).
//!
//! **Only attributes with `to_ids` true are used** (the others are counted); deleted
//! attributes are counted as revoked. Attribute types that network telemetry cannot decide
//! (hashes, file names, registry keys, JA3 without JA3 telemetry, ...) are counted by type.

use super::report::{clip, FileReport, Reason};
use super::set::{Builder, IdRef, Target};
use super::values::{parse_domain, parse_ip_or_cidr, url_host};
use serde_json::Value;

/// Loads one MISP event file.
pub(crate) fn load(bytes: &[u8], source: u32, b: &mut Builder, r: &mut FileReport) {
    let v: Value = match serde_json::from_slice(bytes) {
        Ok(v) => v,
        Err(e) => {
            r.error = Some(format!("event is not valid json: {e}"));
            return;
        }
    };
    let events: Vec<&Value> = match &v {
        Value::Object(o) if o.contains_key("Event") => vec![&o["Event"]],
        Value::Object(o) => match o.get("response") {
            Some(Value::Array(a)) => a.iter().map(|e| e.get("Event").unwrap_or(e)).collect(),
            _ => {
                r.error = Some("json object without an Event".into());
                return;
            }
        },
        Value::Array(a) => a.iter().map(|e| e.get("Event").unwrap_or(e)).collect(),
        _ => {
            r.error = Some("json is not a misp event".into());
            return;
        }
    };
    for (i, e) in events.into_iter().enumerate() {
        if event(e, i, source, b, r).is_err() {
            r.error = Some("indicator index is full (2^31 keys or 4 GiB of text)".into());
            return;
        }
    }
}

fn event(
    e: &Value,
    index: usize,
    source: u32,
    b: &mut Builder,
    r: &mut FileReport,
) -> Result<(), super::set::Full> {
    let Some(e) = e.as_object() else {
        r.note(
            Reason::Error,
            format!("event[{index}]"),
            "event is not an object",
            None,
        );
        return Ok(());
    };
    let uuid = e.get("uuid").and_then(Value::as_str).unwrap_or("");
    let epos = if uuid.is_empty() {
        format!("event[{index}]")
    } else {
        format!("event {uuid}")
    };
    let info = e.get("info").and_then(Value::as_str);
    let group = b.group(source, info, i64::MIN, i64::MAX)?;
    let mut attrs: Vec<(String, &Value)> = Vec::new();
    match e.get("Attribute") {
        None => {}
        Some(Value::Array(a)) => attrs.extend(
            a.iter()
                .enumerate()
                .map(|(i, v)| (format!("Attribute[{i}]"), v)),
        ),
        Some(_) => r.note(Reason::Error, epos.clone(), "Attribute is not a list", None),
    }
    match e.get("Object") {
        None => {}
        Some(Value::Array(objs)) => {
            for (oi, o) in objs.iter().enumerate() {
                if o.get("deleted").and_then(as_bool) == Some(true) {
                    continue;
                }
                match o.get("Attribute") {
                    None => {}
                    Some(Value::Array(a)) => attrs.extend(
                        a.iter()
                            .enumerate()
                            .map(|(i, v)| (format!("Object[{oi}].Attribute[{i}]"), v)),
                    ),
                    Some(_) => r.note(
                        Reason::Error,
                        format!("{epos} Object[{oi}]"),
                        "Attribute is not a list",
                        None,
                    ),
                }
            }
        }
        Some(_) => r.note(Reason::Error, epos.clone(), "Object is not a list", None),
    }
    for (where_, a) in attrs {
        attribute(a, &format!("{epos} {where_}"), group, b, r)?;
    }
    Ok(())
}

fn as_bool(v: &Value) -> Option<bool> {
    match v {
        Value::Bool(b) => Some(*b),
        Value::String(s) => match s.as_str() {
            "1" | "true" | "True" => Some(true),
            "0" | "false" | "False" => Some(false),
            _ => None,
        },
        Value::Number(n) => n.as_u64().map(|n| n != 0),
        _ => None,
    }
}

/// MISP attribute types that describe hosts, files or mail, not network traffic.
fn undecidable_type(t: &str) -> bool {
    const PREFIXES: &[&str] = &[
        "md5",
        "sha",
        "ssdeep",
        "imphash",
        "tlsh",
        "authentihash",
        "impfuzzy",
        "filename",
        "regkey",
        "mutex",
        "email",
        "user-agent",
        "ja3",
        "jarm",
        "hassh",
        "x509",
        "pdb",
        "yara",
        "sigma",
        "snort",
        "pattern-in",
        "malware-sample",
        "attachment",
        "windows-",
        "named pipe",
        "vulnerability",
        "cookie",
        "mime-type",
    ];
    PREFIXES.iter().any(|p| t.starts_with(p))
}

fn attribute(
    a: &Value,
    pos: &str,
    group: u32,
    b: &mut Builder,
    r: &mut FileReport,
) -> Result<(), super::set::Full> {
    let Some(a) = a.as_object() else {
        r.note(
            Reason::Error,
            pos.into(),
            "attribute is not an object",
            None,
        );
        return Ok(());
    };
    let (Some(ty), Some(value)) = (
        a.get("type").and_then(Value::as_str),
        a.get("value").and_then(Value::as_str),
    ) else {
        r.note(
            Reason::Error,
            pos.into(),
            "attribute without a string type and value",
            None,
        );
        return Ok(());
    };
    let pos = match a.get("uuid").and_then(Value::as_str) {
        Some(u) => format!("{pos} {u}"),
        None => pos.to_string(),
    };
    if a.get("deleted").and_then(as_bool) == Some(true) {
        r.revoked += 1;
        return Ok(());
    }
    if a.get("to_ids").and_then(as_bool) != Some(true) {
        r.not_to_ids += 1;
        return Ok(());
    }
    let bad = |r: &mut FileReport, what: &str| {
        let d = format!("'{}' is not {what}", clip(value, 80));
        r.note(Reason::Error, pos.clone(), &d, Some(value));
        Ok(())
    };
    let mut keys: Vec<(Target, Option<u16>)> = Vec::new();
    let mut text = Some(value);
    match ty {
        "ip-dst" | "ip-src" => match parse_ip_or_cidr(value) {
            Some(t) => {
                keys.push((t, None));
                // The value printed back from the key is the same; keep no copy.
                text = None;
            }
            None => return bad(r, "an address"),
        },
        "ip-dst|port" | "ip-src|port" | "hostname|port" => {
            let Some((host, port)) = value.rsplit_once(['|', ':']) else {
                return bad(r, "host|port");
            };
            let t = if ty.starts_with("ip") {
                parse_ip_or_cidr(host)
            } else {
                parse_domain(host)
            };
            match (t, port.trim().parse::<u16>()) {
                (Some(t), Ok(p)) => keys.push((t, Some(p))),
                _ => return bad(r, "host|port"),
            }
        }
        "domain" | "hostname" => match parse_domain(value) {
            Some(t) => {
                keys.push((t, None));
                text = None;
            }
            None => return bad(r, "a domain name"),
        },
        "domain|ip" => {
            let Some((d, ip)) = value.split_once('|') else {
                return bad(r, "domain|ip");
            };
            match (parse_domain(d), parse_ip_or_cidr(ip)) {
                (Some(d), Some(ip)) => {
                    keys.push((d, None));
                    keys.push((ip, None));
                }
                _ => return bad(r, "domain|ip"),
            }
        }
        "url" => match url_host(value) {
            Some(t) => keys.push((t, None)),
            None => return bad(r, "a url with a host"),
        },
        t if undecidable_type(t) => {
            r.note(Reason::Undecidable, pos, t, Some(value));
            return Ok(());
        }
        t => {
            r.note(
                Reason::Unsupported,
                pos,
                &format!("attribute type {}", clip(t, 40)),
                Some(value),
            );
            return Ok(());
        }
    }
    let id = a.get("uuid").and_then(Value::as_str).unwrap_or(&pos);
    let m = b.indicator(group, IdRef::Text(id), text)?;
    for (t, port) in &keys {
        b.key(m, t, *port)?;
    }
    r.loaded += 1;
    Ok(())
}

/// Reads a feed's `manifest.json`: the event uuids it lists, sorted, and the number of keys
/// that are not uuids (which could name files outside the folder, so are not followed).
pub(crate) fn manifest_uuids(bytes: &[u8]) -> Result<(Vec<String>, usize), String> {
    let v: Value =
        serde_json::from_slice(bytes).map_err(|e| format!("manifest is not valid json: {e}"))?;
    let o = v.as_object().ok_or("manifest is not a json object")?;
    let mut out: Vec<String> = o
        .keys()
        .filter(|k| {
            !k.is_empty() && k.len() <= 64 && k.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-')
        })
        .cloned()
        .collect();
    out.sort();
    let bad = o.len() - out.len();
    Ok((out, bad))
}
