//! Attribution: from an address, a name or a MAC to the companies behind it, with the chain
//! of evidence and a confidence.
//!
//! `cordon explain` prints these facts for one target; `cordon scan` combines them for every
//! remote endpoint with what the telemetry adds (DNS names, TLS names, device MACs).
//!
//! **Every [`Match`] carries its whole chain, each step with its source**, so any output row
//! can be explained. Confidence is a number in `[0, 1]`: a rule's own confidence, lowered for
//! weaker kinds of evidence (an IPv6 range, whose dataset warns of errors), raised when
//! independent signals agree ([`agree`]).

use cordon_index::mac::MacMatch;
use cordon_index::{Confidence, EntityId, Intel, Relationship};
use cordon_wire::Mac;
use std::net::IpAddr;

/// One step of an evidence chain: `prefix 47.88.0.0/16 (ip-location-db, 2026-06-17)`.
#[derive(Clone, Debug, PartialEq)]
pub struct Step {
    /// `address`, `prefix`, `asn`, `organisation`, `name`, `suffix`, `mac`, `block`,
    /// `company`, `parent`, plus the scan's own kinds (`dns`, `tls`, `dhcp`, ...).
    pub kind: &'static str,
    pub value: String,
    /// A URL or dataset id, when the step rests on one.
    pub source: Option<String>,
    /// The date of the dataset or edition the step rests on.
    pub date: Option<String>,
}

impl Step {
    pub fn new(kind: &'static str, value: impl Into<String>) -> Step {
        Step {
            kind,
            value: value.into(),
            source: None,
            date: None,
        }
    }
    pub fn source(mut self, source: impl Into<String>) -> Step {
        let s: String = source.into();
        if !s.is_empty() {
            self.source = Some(s);
        }
        self
    }
    pub fn date(mut self, date: impl Into<String>) -> Step {
        let d: String = date.into();
        if !d.is_empty() {
            self.date = Some(d);
        }
        self
    }
}

/// A company behind a target.
#[derive(Clone, Debug, PartialEq)]
pub struct Match {
    pub entity: EntityId,
    pub relationship: Option<Relationship>,
    pub confidence: f32,
    /// The kind of service, when a domain rule says (`ai-model-api`, `cdn`, ...).
    pub service: Option<String>,
    pub chain: Vec<Step>,
}

/// Combines the confidences of independent signals that agree.
pub fn agree(a: f32, b: f32) -> f32 {
    1.0 - (1.0 - a) * (1.0 - b)
}

fn base(c: Confidence) -> f32 {
    match c {
        Confidence::High => 0.9,
        Confidence::Medium => 0.7,
        Confidence::Low => 0.5,
    }
}

/// How much less an ASN-level attribution is worth than a name rule of the same confidence:
/// an AS is announced for many services and, for clouds, many tenants.
const ASN_FACTOR: f32 = 0.9;
/// IPv6 ranges of the bundled dataset carry known errors (its README says so).
const V6_FACTOR: f32 = 0.85;

/// Appends `company` and `parent` steps for an entity and its owners.
pub fn company_steps(intel: &Intel, id: EntityId, chain: &mut Vec<Step>) {
    let owners = intel.ownership_chain(id);
    for (i, &e) in owners.iter().enumerate() {
        let ent = intel.entity(e);
        let mut value = format!("{} ({})", ent.name, ent.id);
        // A parent step says how the entity below it is held.
        if let Some(&below) = i.checked_sub(1).and_then(|j| owners.get(j)) {
            let child = intel.entity(below);
            let mut link = child.link.to_string();
            if let Some(p) = child.ownership {
                link = format!("{link}, {p}%");
            }
            if !link.is_empty() {
                value = format!("{value} [{link}]");
            }
        }
        let kind = if i == 0 { "company" } else { "parent" };
        chain.push(Step::new(kind, value).source(&*ent.source));
    }
}

/// What cordon knows about an address.
#[derive(Clone, Debug, Default)]
pub struct IpFacts {
    pub asn: Option<u32>,
    pub as_org: Option<String>,
    /// The range of the IP → AS dataset the address fell in.
    pub prefix: Option<String>,
    pub dataset: Option<String>,
    pub dataset_date: Option<String>,
    pub matches: Vec<Match>,
}

pub fn ip(intel: &Intel, addr: IpAddr) -> IpFacts {
    let mut f = IpFacts::default();
    let Some(m) = intel.lookup_ip(addr) else {
        return f;
    };
    let ds = intel.dataset(m.dataset);
    f.asn = Some(m.asn.asn);
    f.as_org = (!m.asn.org.is_empty()).then(|| m.asn.org.to_string());
    f.prefix = Some(range_text(m.range.0, m.range.1));
    f.dataset = Some(ds.map_or(m.dataset.to_string(), |d| {
        format!("{} {}", d.name, d.version)
    }));
    f.dataset_date = ds.map(|d| d.date.to_string());
    if let Some(r) = m.asn.rule {
        let rule = &intel.asn_rules[r as usize];
        let a = &rule.attribution;
        let mut conf = base(a.confidence) * ASN_FACTOR;
        if addr.is_ipv6() && addr.to_canonical().is_ipv6() {
            conf *= V6_FACTOR;
        }
        let date = f.dataset_date.clone().unwrap_or_default();
        let src = f.dataset.clone().unwrap_or_default();
        let mut chain = vec![
            Step::new("address", addr.to_string()),
            Step::new("prefix", f.prefix.clone().unwrap_or_default())
                .source(&src)
                .date(&date),
            Step::new("asn", format!("AS{}", m.asn.asn))
                .source(&src)
                .date(&date),
            Step::new("organisation", m.asn.org.to_string())
                .source(&src)
                .date(&date),
        ];
        let mut rule_text = format!(
            "AS{} → {} ({})",
            rule.asn,
            intel.entity(a.entity).id,
            a.relationship
        );
        if !rule.note.is_empty() {
            rule_text = format!("{rule_text}: {}", rule.note);
        }
        chain.push(Step::new("rule", rule_text).source(&*a.source));
        company_steps(intel, a.entity, &mut chain);
        f.matches.push(Match {
            entity: a.entity,
            relationship: Some(a.relationship),
            confidence: conf,
            service: None,
            chain,
        });
    }
    f
}

/// `a.b.c.d/n` when the range is one CIDR block, else `start-end`.
pub fn range_text(s: IpAddr, e: IpAddr) -> String {
    let (s_bits, e_bits, width) = match (s, e) {
        (IpAddr::V4(s), IpAddr::V4(e)) => (u32::from(s) as u128, u32::from(e) as u128, 32u32),
        (IpAddr::V6(s), IpAddr::V6(e)) => (u128::from(s), u128::from(e), 128u32),
        _ => return format!("{s}-{e}"),
    };
    let size = e_bits.wrapping_sub(s_bits).wrapping_add(1);
    if size == 0 && s_bits == 0 {
        return format!("{s}/0");
    }
    if size.is_power_of_two() && s_bits % size == 0 {
        return format!("{s}/{}", width - size.trailing_zeros());
    }
    format!("{s}-{e}")
}

/// What cordon knows about a host name.
#[derive(Clone, Debug, Default)]
pub struct NameFacts {
    /// The registrable domain by the public suffix list (`example.co.uk`).
    pub registrable: Option<String>,
    pub matches: Vec<Match>,
}

/// `name` must be normalised ([`cordon_index::domain::normalize`]).
pub fn name(intel: &Intel, name: &str) -> NameFacts {
    let registrable = psl::domain_str(name).map(str::to_string);
    let mut f = NameFacts {
        registrable,
        matches: Vec::new(),
    };
    if let Some((suffix, rule)) = intel.lookup_domain(name) {
        let a = &rule.attribution;
        let mut chain = vec![
            Step::new("name", name),
            Step::new(
                "suffix",
                format!("{suffix} ({}, {})", rule.service, a.relationship),
            )
            .source(&*a.source),
        ];
        company_steps(intel, a.entity, &mut chain);
        f.matches.push(Match {
            entity: a.entity,
            relationship: Some(a.relationship),
            confidence: base(a.confidence),
            service: Some(rule.service.to_string()),
            chain,
        });
    }
    f
}

/// What cordon knows about a MAC address.
#[derive(Clone, Debug, Default)]
pub struct MacFacts {
    /// `block`, `local`, `multicast` or `unknown`.
    pub kind: &'static str,
    pub maker: Option<String>,
    pub block: Option<String>,
    pub matches: Vec<Match>,
}

pub fn mac(intel: &Intel, mac: Mac) -> MacFacts {
    let (m, block) = intel.lookup_mac(mac.0);
    let mut f = MacFacts {
        kind: match m {
            MacMatch::Block { .. } => "block",
            MacMatch::Local => "local",
            MacMatch::Multicast => "multicast",
            MacMatch::Unknown => "unknown",
        },
        ..Default::default()
    };
    let Some(b) = block else {
        return f;
    };
    let ieee = intel.dataset("ieee-registry");
    let date = ieee.map(|d| d.date.to_string()).unwrap_or_default();
    let block_text = format!(
        "{} ({}, {} bits)",
        block_prefix(b.prefix, b.bits),
        b.registry,
        b.bits
    );
    f.maker = Some(b.organization.to_string());
    f.block = Some(block_text.clone());
    if let Some(e) = b.entity {
        let mut chain = vec![
            Step::new("mac", mac.to_string()),
            Step::new("block", block_text)
                .source("ieee-registry")
                .date(&date),
            Step::new("organisation", b.organization.to_string())
                .source("ieee-registry")
                .date(&date),
            Step::new("rule", format!("registry name → {}", intel.entity(e).id)).source(&*b.source),
        ];
        company_steps(intel, e, &mut chain);
        f.matches.push(Match {
            entity: e,
            relationship: Some(Relationship::MadeBy),
            confidence: 0.9,
            service: None,
            chain,
        });
    }
    f
}

/// `18:82:19` / `00:1b:c5:0` style text for a registry block.
pub fn block_prefix(prefix: u64, bits: u8) -> String {
    let hex = format!("{:012x}", prefix);
    let digits = (bits / 4) as usize;
    let mut out = String::new();
    for (i, c) in hex[..digits].chars().enumerate() {
        if i > 0 && i % 2 == 0 {
            out.push(':');
        }
        out.push(c);
    }
    out
}

/// Company names compared loosely: lowercase, punctuation dropped, legal-form words removed.
pub fn company_key(s: &str) -> String {
    const FORMS: &[&str] = &[
        "co",
        "company",
        "corp",
        "corporation",
        "inc",
        "incorporated",
        "ltd",
        "limited",
        "llc",
        "plc",
        "holding",
        "holdings",
        "group",
        "sa",
        "ag",
        "gmbh",
        "the",
    ];
    let cleaned: String = s
        .to_lowercase()
        .chars()
        .map(|c| if c.is_alphanumeric() { c } else { ' ' })
        .collect();
    let words: Vec<&str> = cleaned
        .split_whitespace()
        .filter(|w| !FORMS.contains(w))
        .collect();
    words.join(" ")
}

/// Companies whose id, name or an alias equals the query once legal forms and punctuation
/// are set aside. Never a fuzzy match: a similar name is a different company until a source
/// says otherwise.
pub fn company(intel: &Intel, query: &str) -> Vec<EntityId> {
    let q = company_key(query);
    if q.is_empty() {
        return Vec::new();
    }
    let mut out: Vec<EntityId> = Vec::new();
    if let Some(id) = intel.entity_by_id(&query.to_lowercase()) {
        out.push(id);
    }
    for (i, e) in intel.entities.iter().enumerate() {
        let i = i as EntityId;
        let hit = company_key(&e.name) == q
            || company_key(&e.id.replace('-', " ")) == q
            || e.aliases.iter().any(|a| company_key(a) == q);
        if hit && !out.contains(&i) {
            out.push(i);
        }
    }
    out
}

/// Up to `n` companies with names close to the query, for "did you mean" hints only.
pub fn similar_companies(intel: &Intel, query: &str, n: usize) -> Vec<EntityId> {
    let q = company_key(query);
    let mut scored: Vec<(f64, EntityId)> = intel
        .entities
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let s = std::iter::once(&e.name)
                .chain(e.aliases.iter())
                .map(|a| strsim::jaro_winkler(&q, &company_key(a)))
                .fold(0.0, f64::max);
            (s, i as EntityId)
        })
        .filter(|(s, _)| *s > 0.85)
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0));
    scored.into_iter().take(n).map(|(_, i)| i).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_as_cidr_when_aligned() {
        let p = |s: &str| s.parse::<IpAddr>().unwrap();
        assert_eq!(
            range_text(p("47.88.0.0"), p("47.88.255.255")),
            "47.88.0.0/16"
        );
        assert_eq!(range_text(p("1.2.3.4"), p("1.2.3.4")), "1.2.3.4/32");
        assert_eq!(
            range_text(p("1.2.3.0"), p("1.2.4.255")),
            "1.2.3.0-1.2.4.255"
        );
        assert_eq!(range_text(p("0.0.0.0"), p("255.255.255.255")), "0.0.0.0/0");
        assert_eq!(
            range_text(
                p("2400:3200::"),
                p("2400:3200:ffff:ffff:ffff:ffff:ffff:ffff")
            ),
            "2400:3200::/32"
        );
        assert_eq!(
            range_text(p("::"), p("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff")),
            "::/0"
        );
    }

    #[test]
    fn company_keys() {
        assert_eq!(
            company_key("Huawei Technologies Co., Ltd."),
            "huawei technologies"
        );
        assert_eq!(company_key("Alibaba Group Holding Limited"), "alibaba");
        assert_eq!(company_key("Alibaba Travel Company"), "alibaba travel");
        assert_eq!(block_prefix(0x188219 << 24, 24), "18:82:19");
        assert_eq!(block_prefix(0x0011223 << 20, 28), "00:11:22:3");
    }

    #[test]
    fn agreement_raises_confidence() {
        assert!(agree(0.8, 0.9) > 0.9);
        assert!(agree(0.0, 0.5) == 0.5);
    }
}
