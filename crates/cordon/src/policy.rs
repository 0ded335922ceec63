//! Policy: how bad an exposure or a device is, which rule says so, and the regulations that
//! give it context. The built-in policy is documented in `docs/policy.md`; a user policy file
//! (TOML, `--policy FILE`) overrides severities by rule id and adds rules.
//!
//! **The policy only ranks and explains; it never hides an exposure.** Every exposure and
//! every device of concern becomes exactly one finding. A policy file is checked completely
//! (unknown keys, unknown rule ids, bad severities) before anything uses it, and every error
//! names the file and line.

use crate::assets::Asset;
use crate::error::{line_of, FileError};
use crate::model::{DesignationRef, Open, Regulation, Relationship, Severity, Status};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::Path;
use toml::Spanned;

/// The severity of a level, clamped: 0 info … 4 critical ([`Severity::level`]).
fn severity_of_level(n: i32) -> Severity {
    Severity::ALL[n.clamp(0, 4) as usize]
}

/// The built-in rules, with the remediation each one suggests.
pub const BUILTIN_RULES: [(&str, &str); 9] = [
    ("ai-model-api", "Stop sending prompts, code or data to this company's AI model API; move the workload to an approved provider and rotate any API keys and secrets that were sent."),
    ("sensitive-data", "Stop the flow of sensitive data to this company's infrastructure; confirm what was sent and how many US persons it concerns (DOJ bulk thresholds), and move the service to an approved provider."),
    ("critical-infrastructure", "Block this traffic from the operational network at its boundary; replace the dependency or isolate the asset."),
    ("exposure-operated-by", "Identify the application talking to this company's own service; remove or replace it, or block the names and addresses in the evidence."),
    ("exposure-hosted-on", "Find the tenant service hosted on this company's cloud or CDN and decide whether it is acceptable; prefer providers that are not designated."),
    ("exposure-transit-via", "Traffic crosses this carrier's network; prefer routes and providers that avoid it, and make sure the traffic is encrypted end to end."),
    ("covered-device", "Covered equipment: plan its removal and replacement (FCC Covered List / NDAA §889); until then isolate it on its own segment with no internet access."),
    ("device-of-concern", "Equipment from a designated or reported maker: inventory it, isolate it from sensitive segments and block its vendor cloud."),
    ("threat-indicator", "Traffic matched a published threat indicator: investigate the host, isolate it if the traffic is unexplained, then block the indicator."),
];

/// Data categories that make an exposure a `sensitive-data` finding by default.
pub const SENSITIVE_DATA: [&str; 8] = [
    "payment",
    "personal",
    "geolocation",
    "health",
    "biometric",
    "genomic",
    "government",
    "source-code",
];

/// Asset tags that mark operational or regulated networks by default.
pub const CRITICAL_TAGS: [&str; 6] = ["ot", "ics", "scada", "pci", "cctv", "safety"];

/// Lists whose designation makes a device "covered" equipment.
const COVERED_EQUIPMENT_LISTS: [&str; 2] = ["fcc-covered", "ndaa-889"];

/// A user policy file. Every key is optional; unknown keys are errors.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyFile {
    /// Severity per rule id (built-in or defined below), replacing the computed one.
    #[serde(default)]
    pub severity: BTreeMap<String, Spanned<Severity>>,
    /// Data categories that count as sensitive (replaces the built-in list).
    #[serde(default)]
    pub sensitive_data: Option<Vec<String>>,
    /// Asset tags that mark operational or regulated networks (replaces the built-in list).
    #[serde(default)]
    pub critical_tags: Option<Vec<String>>,
    /// Extra rules, tried in order before the built-in ones; the first that matches names
    /// the finding's rule, severity and remediation.
    #[serde(default)]
    pub rule: Vec<Spanned<RuleFile>>,
}

/// One user rule: every condition given must hold; a list condition holds when any of its
/// values matches.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleFile {
    /// Rule id written in findings (lowercase letters, digits and `-`).
    pub id: String,
    /// Severity of the findings this rule names.
    pub severity: Severity,
    /// What to do about it.
    #[serde(default)]
    pub remediation: Option<String>,
    /// Company group ids (`alibaba`, `tencent`, ...).
    #[serde(default)]
    pub group: Vec<String>,
    /// Most specific company ids (`alibaba-cloud`, ...).
    #[serde(default)]
    pub entity: Vec<String>,
    /// `operated-by`, `hosted-on`, `transit-via`, `made-by`.
    #[serde(default)]
    pub relationship: Vec<String>,
    /// Designation list ids (`dod-1260h`, `fcc-covered`, `state-ban-tx`, `reported`, ...).
    #[serde(default)]
    pub list: Vec<String>,
    /// Inventory tags of the asset.
    #[serde(default)]
    pub tag: Vec<String>,
    /// Inventory data categories of the asset.
    #[serde(default)]
    pub data: Vec<String>,
    /// Service kinds of the exposure (`ai-model-api`, `cdn`, ...).
    #[serde(default)]
    pub service: Vec<String>,
    /// Asset addresses, MACs or inventory names.
    #[serde(default)]
    pub asset: Vec<String>,
}

/// A checked, ready policy.
#[derive(Clone, Debug)]
pub struct Policy {
    overrides: BTreeMap<String, Severity>,
    sensitive_data: Vec<String>,
    critical_tags: Vec<String>,
    rules: Vec<Rule>,
}

/// A checked user rule: the file's rule, with its relationships read.
#[derive(Clone, Debug)]
struct Rule {
    file: RuleFile,
    relationship: Vec<Relationship>,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            overrides: BTreeMap::new(),
            sensitive_data: SENSITIVE_DATA.iter().map(|s| s.to_string()).collect(),
            critical_tags: CRITICAL_TAGS.iter().map(|s| s.to_string()).collect(),
            rules: vec![],
        }
    }
}

/// What the policy decides about one record.
#[derive(Clone, Debug, PartialEq)]
pub struct Decision {
    pub rule: String,
    pub severity: Severity,
    pub remediation: String,
    /// Why: sentences for the evidence chain.
    pub reasons: Vec<String>,
}

/// The facts about one exposure or device that the policy looks at.
pub struct Subject<'a> {
    pub asset: &'a str,
    pub inventory: Option<&'a Asset>,
    pub entity: &'a str,
    pub group: &'a str,
    pub relationship: &'a Open<Relationship>,
    pub services: &'a [String],
    pub designations: &'a [DesignationRef],
    pub is_device: bool,
}

impl Policy {
    pub fn load(path: &Path) -> Result<Policy, FileError> {
        let text = FileError::read(path)?;
        Self::parse(path, &text)
    }

    pub fn parse(path: &Path, text: &str) -> Result<Policy, FileError> {
        let file: PolicyFile = toml::from_str(text).map_err(|e| {
            let line = e.span().map(|s| line_of(text, s.start));
            FileError::new(path, line, e.message().trim().to_string())
        })?;
        let mut p = Policy::default();
        let mut ids: Vec<String> = BUILTIN_RULES.iter().map(|r| r.0.to_string()).collect();
        for r in &file.rule {
            let line = line_of(text, r.span().start);
            let rule = r.get_ref();
            if rule.id.is_empty()
                || !rule
                    .id
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            {
                return Err(FileError::new(
                    path,
                    Some(line),
                    format!(
                        "rule id {:?}: expected lowercase letters, digits and `-`",
                        rule.id
                    ),
                ));
            }
            if ids.contains(&rule.id) {
                return Err(FileError::new(
                    path,
                    Some(line),
                    format!("rule id {:?} is already defined", rule.id),
                ));
            }
            let conditions = rule.group.len()
                + rule.entity.len()
                + rule.relationship.len()
                + rule.list.len()
                + rule.tag.len()
                + rule.data.len()
                + rule.service.len()
                + rule.asset.len();
            if conditions == 0 {
                return Err(FileError::new(
                    path,
                    Some(line),
                    format!(
                        "rule {:?} has no condition: expected at least one of group, entity, relationship, list, tag, data, service, asset",
                        rule.id
                    ),
                ));
            }
            let mut relationship = Vec::with_capacity(rule.relationship.len());
            for rel in &rule.relationship {
                match Relationship::parse(rel).filter(|r| Relationship::JUDGED.contains(r)) {
                    Some(r) => relationship.push(r),
                    None => {
                        let all: Vec<&str> =
                            Relationship::JUDGED.iter().map(|r| r.as_str()).collect();
                        let (last, rest) = all.split_last().expect("JUDGED is not empty");
                        return Err(FileError::new(
                            path,
                            Some(line),
                            format!(
                                "rule {:?}: relationship {rel:?}: expected {} or {last}",
                                rule.id,
                                rest.join(", ")
                            ),
                        ));
                    }
                }
            }
            ids.push(rule.id.clone());
            p.rules.push(Rule {
                file: rule.clone(),
                relationship,
            });
        }
        for (id, sev) in &file.severity {
            if !ids.contains(id) {
                return Err(FileError::new(
                    path,
                    Some(line_of(text, sev.span().start)),
                    format!(
                        "unknown rule id {id:?} in [severity]: expected one of {}",
                        ids.join(", ")
                    ),
                ));
            }
            p.overrides.insert(id.clone(), *sev.get_ref());
        }
        if let Some(v) = file.sensitive_data {
            p.sensitive_data = v.iter().map(|s| s.to_ascii_lowercase()).collect();
        }
        if let Some(v) = file.critical_tags {
            p.critical_tags = v.iter().map(|s| s.to_ascii_lowercase()).collect();
        }
        Ok(p)
    }

    /// Number of user rules (for `cordon policy check`).
    /// Whether a user rule selects by asset: then a decision depends on the asset address
    /// itself, not only on its inventory entry, company, relationship and services.
    pub fn reads_asset(&self) -> bool {
        self.rules.iter().any(|r| !r.file.asset.is_empty())
    }

    pub fn user_rules(&self) -> usize {
        self.rules.len()
    }

    /// The severity of a rule: the policy file's override when it has one, else `default`.
    pub fn severity_of(&self, rule: &str, default: Severity) -> Severity {
        self.overrides.get(rule).copied().unwrap_or(default)
    }

    /// Number of severity overrides.
    pub fn overrides(&self) -> usize {
        self.overrides.len()
    }

    /// Decides the rule and severity for one exposure or device.
    pub fn decide(&self, s: &Subject) -> Decision {
        let d = self.user_rule(s).unwrap_or_else(|| self.builtin(s));
        match self.overrides.get(&d.rule) {
            Some(&sev) if sev != d.severity => {
                let mut d = d;
                d.reasons.push(format!(
                    "severity set to {sev} by the policy file (was {})",
                    d.severity
                ));
                d.severity = sev;
                d
            }
            _ => d,
        }
    }

    fn user_rule(&self, s: &Subject) -> Option<Decision> {
        fn any<'x>(want: &[String], have: impl IntoIterator<Item = &'x str>) -> bool {
            want.is_empty() || have.into_iter().any(|h| want.iter().any(|w| w == h))
        }
        let inv = s.inventory;
        let r = self.rules.iter().find(|rule| {
            let r = &rule.file;
            any(&r.group, std::iter::once(s.group))
                && any(&r.entity, std::iter::once(s.entity))
                && (rule.relationship.is_empty()
                    || (s.relationship.known()).is_some_and(|x| rule.relationship.contains(&x)))
                && any(&r.list, s.designations.iter().map(|d| d.list.as_str()))
                && any(
                    &r.tag,
                    inv.iter().flat_map(|a| a.tags.iter().map(String::as_str)),
                )
                && any(
                    &r.data,
                    inv.iter().flat_map(|a| a.data.iter().map(String::as_str)),
                )
                && any(&r.service, s.services.iter().map(String::as_str))
                && any(
                    &r.asset,
                    std::iter::once(s.asset).chain(inv.map(|a| a.name.as_str())),
                )
        })?;
        let r = &r.file;
        Some(Decision {
            rule: r.id.clone(),
            severity: r.severity,
            remediation: r.remediation.clone().unwrap_or_else(|| {
                "Follow the remediation your policy owner set for this rule.".into()
            }),
            reasons: vec![format!("matched rule {:?} of the policy file", r.id)],
        })
    }

    fn builtin(&self, s: &Subject) -> Decision {
        let designated: Vec<&str> = s
            .designations
            .iter()
            .filter(|d| d.status == Status::Designated)
            .map(|d| d.list.as_str())
            .collect();
        let reported = s
            .designations
            .iter()
            .any(|d| d.status != Status::Designated);
        let mut reasons = Vec::new();
        // Designated beats reported: a legal act outranks credible reporting.
        let status_level = if !designated.is_empty() {
            let mut l: Vec<&str> = designated.clone();
            l.sort();
            l.dedup();
            reasons.push(format!("{} is designated ({})", s.group, l.join(", ")));
            1
        } else if reported {
            reasons.push(format!(
                "{} is named in credible reporting, not designated",
                s.group
            ));
            0
        } else {
            reasons.push(format!("{} is on no list", s.group));
            -1
        };
        let sensitive: Vec<&str> = s
            .inventory
            .iter()
            .flat_map(|a| a.data.iter())
            .filter(|d| self.sensitive_data.contains(d))
            .map(String::as_str)
            .collect();
        let critical: Vec<&str> = s
            .inventory
            .iter()
            .flat_map(|a| a.tags.iter())
            .filter(|t| self.critical_tags.contains(t))
            .map(String::as_str)
            .collect();
        let mut level;
        let rule;
        if s.is_device {
            let covered = designated
                .iter()
                .any(|l| COVERED_EQUIPMENT_LISTS.contains(l));
            // Covered equipment: high; other designation: medium; reported: low.
            level = if covered { 3 } else { 1 + status_level };
            rule = if covered {
                "covered-device"
            } else {
                "device-of-concern"
            };
            if covered {
                reasons.push(
                    "made by a company whose equipment is covered (FCC Covered List / NDAA §889)"
                        .into(),
                );
            }
        } else {
            // operated-by > hosted-on > transit-via.
            let rel = match s.relationship.known() {
                Some(Relationship::OperatedBy) => 2,
                Some(Relationship::HostedOn) => 1,
                _ => 0,
            };
            level = rel + status_level;
            let ai = s.services.iter().any(|x| x == "ai-model-api");
            rule = if ai {
                reasons.push(
                    "the asset uses the company's AI model API (prompts and data go to it)".into(),
                );
                level = level.max(2 + status_level);
                "ai-model-api"
            } else if !sensitive.is_empty() {
                "sensitive-data"
            } else if !critical.is_empty() {
                "critical-infrastructure"
            } else {
                match s.relationship.known() {
                    Some(Relationship::OperatedBy) => "exposure-operated-by",
                    Some(Relationship::HostedOn) => "exposure-hosted-on",
                    _ => "exposure-transit-via",
                }
            };
        }
        if !sensitive.is_empty() {
            reasons.push(format!("the asset holds {} data", sensitive.join(", ")));
            level += 1;
        }
        if !critical.is_empty() {
            reasons.push(format!("the asset is tagged {}", critical.join(", ")));
            level += 1;
        }
        let remediation = BUILTIN_RULES
            .iter()
            .find(|r| r.0 == rule)
            .map_or("", |r| r.1)
            .to_string();
        Decision {
            rule: rule.to_string(),
            severity: severity_of_level(level),
            remediation,
            reasons,
        }
    }

    /// The regulations that give a finding its context, with the dates that matter.
    pub fn regulations(&self, s: &Subject) -> Vec<Regulation> {
        let mut out: Vec<Regulation> = Vec::new();
        let earliest = |list: &str| {
            s.designations
                .iter()
                .filter(|d| d.list == list)
                .min_by(|a, b| a.date.cmp(&b.date))
        };
        let mut lists: Vec<&str> = s.designations.iter().map(|d| d.list.as_str()).collect();
        lists.sort();
        lists.dedup();
        for list in lists {
            let d = earliest(list).expect("list comes from the designations");
            let holder = &d.holder;
            match list {
                "fcc-covered" => out.push(Regulation {
                    id: "fcc-covered-list".into(),
                    title: "FCC Covered List (Secure and Trusted Communications Networks Act of 2019)".into(),
                    citation: "47 CFR 1.50002".into(),
                    date: d.date.clone(),
                    note: format!("{holder}'s equipment or services are on the Covered List (added {}): deemed an unacceptable national-security risk; no new FCC equipment authorization (47 CFR 2.903) and no Universal Service Fund money for it.", d.date),
                    source: "https://www.fcc.gov/supplychain/coveredlist".into(),
                }),
                "ndaa-889" => out.push(Regulation {
                    id: "ndaa-889".into(),
                    title: "NDAA FY2019 §889 (Pub. L. 115-232)".into(),
                    citation: "FAR 52.204-25".into(),
                    date: "2019-08-13".into(),
                    note: format!("Federal agencies may not buy {holder}'s covered telecommunications or video surveillance equipment or services (§889(a)(1)(A), from 2019-08-13) nor contract with an entity that uses them (§889(a)(1)(B), from 2020-08-13)."),
                    source: "https://www.acquisition.gov/far/52.204-25".into(),
                }),
                "dod-1260h" => {
                    out.push(Regulation {
                        id: "dod-1260h".into(),
                        title: "DoD Section 1260H list of Chinese military companies".into(),
                        citation: "NDAA FY2021 §1260H (Pub. L. 116-283)".into(),
                        date: d.date.clone(),
                        note: format!("{holder} is identified as a Chinese military company (on the list since {}).", d.date),
                        source: d.source.clone(),
                    });
                    out.push(Regulation {
                        id: "ndaa-fy24-805".into(),
                        title: "NDAA FY2024 §805 contracting bars (Pub. L. 118-31)".into(),
                        citation: "Pub. L. 118-31 §805; 10 U.S.C. 4651 note".into(),
                        date: "2026-06-30".into(),
                        note: "DoD may not contract directly with a 1260H company from 2026-06-30, nor indirectly (goods or services sourced from one) from 2027-06-30.".into(),
                        source: "https://www.congress.gov/118/plaws/publ31/PLAW-118publ31.pdf".into(),
                    });
                }
                "ofac-ns-cmic" => out.push(Regulation {
                    id: "ofac-ns-cmic".into(),
                    title: "OFAC Non-SDN Chinese Military-Industrial Complex Companies List".into(),
                    citation: "E.O. 13959 as amended by E.O. 14032; 31 CFR part 586".into(),
                    date: d.date.clone(),
                    note: format!("US persons may not buy or sell publicly traded securities of {holder}; context for procurement and investment decisions, not a bar on traffic."),
                    source: "https://ofac.treasury.gov/sanctions-programs-and-country-information/chinese-military-companies-sanctions".into(),
                }),
                l if l.starts_with("state-ban-") => {
                    let st = l.trim_start_matches("state-ban-").to_ascii_uppercase();
                    out.push(Regulation {
                        id: l.to_string(),
                        title: format!("{st} state ban on covered technology"),
                        citation: format!("{st} state prohibited-technology list"),
                        date: d.date.clone(),
                        note: format!("{holder}'s products or services may not be used on {st} state-owned devices and networks (as published {}); applies to state agencies and, often, contractors.", if d.date.is_empty() { "undated" } else { &d.date }),
                        source: d.source.clone(),
                    });
                }
                "reported" => {}
                other => out.push(Regulation {
                    id: other.to_string(),
                    title: other.to_string(),
                    citation: other.to_string(),
                    date: d.date.clone(),
                    note: format!("{holder} is on {other}."),
                    source: d.source.clone(),
                }),
            }
        }
        // DOJ Data Security Program: the curated companies of concern are PRC companies, so
        // they are covered persons (28 CFR 202.211) of a country of concern (202.601).
        if !s.is_device && *s.relationship != Relationship::TransitVia && !s.designations.is_empty()
        {
            if let Some(a) = s.inventory {
                for cat in &a.data {
                    if let Some((kind, threshold)) = dsp_threshold(cat) {
                        out.push(Regulation {
                            id: "doj-dsp".into(),
                            title: "DOJ Data Security Program (E.O. 14117)".into(),
                            citation: "28 CFR part 202 (§202.205 bulk thresholds)".into(),
                            date: "2025-04-08".into(),
                            note: format!("{cat} data is {kind}; giving a covered person of a country of concern (China, incl. Hong Kong and Macau, 28 CFR 202.601) access to it is prohibited or restricted once it exceeds {threshold} in 12 months. cordon sees traffic, not records: confirm the volume."),
                            source: "https://www.ecfr.gov/current/title-28/chapter-I/part-202".into(),
                        });
                    }
                }
            }
        }
        out
    }
}

/// 28 CFR 202.205: the bulk threshold per data category (the inventory's names).
pub fn dsp_threshold(category: &str) -> Option<(&'static str, &'static str)> {
    Some(match category {
        "personal" => ("covered personal identifiers", "100,000 US persons"),
        "payment" | "financial" => ("personal financial data", "10,000 US persons"),
        "health" => ("personal health data", "10,000 US persons"),
        "geolocation" => ("precise geolocation data", "1,000 US devices"),
        "biometric" => ("biometric identifiers", "1,000 US persons"),
        "genomic" => (
            "human genomic data",
            "100 US persons (1,000 for other 'omic data)",
        ),
        "government" => (
            "government-related data (28 CFR 202.222)",
            "any volume (no bulk threshold)",
        ),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn des(list: &str, status: &str) -> DesignationRef {
        DesignationRef {
            list: list.into(),
            date: "2026-06-08".into(),
            status: Open::read(status),
            source: "https://example.gov/list".into(),
            holder: "x".into(),
        }
    }

    fn asset(tags: &[&str], data: &[&str]) -> Asset {
        Asset {
            key: "10.0.0.1".into(),
            name: "a".into(),
            tags: tags.iter().map(|s| s.to_string()).collect(),
            data: data.iter().map(|s| s.to_string()).collect(),
            ..Asset::default()
        }
    }

    /// (relationship, designation status, tags, data, services, device, expected rule, severity)
    #[test]
    fn builtin_table() {
        type Row<'a> = (
            &'a str,
            &'a str,
            &'a [&'a str],
            &'a [&'a str],
            &'a [&'a str],
            bool,
            &'a str,
            Severity,
        );
        let table: &[Row] = &[
            (
                "operated-by",
                "designated",
                &[],
                &[],
                &[],
                false,
                "exposure-operated-by",
                Severity::High,
            ),
            (
                "hosted-on",
                "designated",
                &[],
                &[],
                &[],
                false,
                "exposure-hosted-on",
                Severity::Medium,
            ),
            (
                "transit-via",
                "designated",
                &[],
                &[],
                &[],
                false,
                "exposure-transit-via",
                Severity::Low,
            ),
            (
                "operated-by",
                "reported",
                &[],
                &[],
                &[],
                false,
                "exposure-operated-by",
                Severity::Medium,
            ),
            (
                "hosted-on",
                "reported",
                &[],
                &[],
                &[],
                false,
                "exposure-hosted-on",
                Severity::Low,
            ),
            (
                "transit-via",
                "reported",
                &[],
                &[],
                &[],
                false,
                "exposure-transit-via",
                Severity::Info,
            ),
            (
                "operated-by",
                "designated",
                &["pci"],
                &["payment"],
                &[],
                false,
                "sensitive-data",
                Severity::Critical,
            ),
            (
                "hosted-on",
                "designated",
                &[],
                &["personal"],
                &[],
                false,
                "sensitive-data",
                Severity::High,
            ),
            (
                "hosted-on",
                "designated",
                &["ot"],
                &[],
                &[],
                false,
                "critical-infrastructure",
                Severity::High,
            ),
            (
                "operated-by",
                "designated",
                &[],
                &[],
                &["ai-model-api"],
                false,
                "ai-model-api",
                Severity::High,
            ),
            (
                "operated-by",
                "designated",
                &[],
                &["source-code"],
                &["ai-model-api"],
                false,
                "ai-model-api",
                Severity::Critical,
            ),
            (
                "operated-by",
                "reported",
                &[],
                &[],
                &["ai-model-api"],
                false,
                "ai-model-api",
                Severity::Medium,
            ),
            (
                "made-by",
                "designated-covered",
                &[],
                &[],
                &[],
                true,
                "covered-device",
                Severity::High,
            ),
            (
                "made-by",
                "designated-covered",
                &["ot", "cctv"],
                &[],
                &[],
                true,
                "covered-device",
                Severity::Critical,
            ),
            (
                "made-by",
                "designated",
                &[],
                &[],
                &[],
                true,
                "device-of-concern",
                Severity::Medium,
            ),
            (
                "made-by",
                "reported",
                &[],
                &[],
                &[],
                true,
                "device-of-concern",
                Severity::Low,
            ),
        ];
        let p = Policy::default();
        for (rel, status, tags, data, services, device, rule, sev) in table {
            let d = match *status {
                "designated-covered" => vec![
                    des("fcc-covered", "designated"),
                    des("reported", "reported"),
                ],
                "designated" => vec![des("dod-1260h", "designated"), des("reported", "reported")],
                _ => vec![des("reported", "reported")],
            };
            let a = asset(tags, data);
            let services: Vec<String> = services.iter().map(|s| s.to_string()).collect();
            let s = Subject {
                asset: "10.0.0.1",
                inventory: Some(&a),
                entity: "e",
                group: "g",
                relationship: &Open::read(rel),
                services: &services,
                designations: &d,
                is_device: *device,
            };
            let got = p.decide(&s);
            assert_eq!(
                (got.rule.as_str(), got.severity),
                (*rule, *sev),
                "{rel} {status} {tags:?} {data:?} {services:?}"
            );
            assert!(!got.remediation.is_empty());
        }
    }

    #[test]
    fn user_policy_overrides_and_rules() {
        let text = r#"
[severity]
exposure-hosted-on = "info"

[[rule]]
id = "no-tencent-on-ot"
severity = "critical"
group = ["tencent"]
tag = ["ot"]
remediation = "Call the OT lead."
"#;
        let p = Policy::parse(Path::new("p.toml"), text).unwrap();
        assert_eq!((p.user_rules(), p.overrides()), (1, 1));
        let d = vec![des("dod-1260h", "designated")];
        let ot = asset(&["ot"], &[]);
        let plain = asset(&[], &[]);
        let subject = |group: &'static str, rel: &'static str, a: &'static Asset| Subject {
            asset: "10.0.0.1",
            inventory: Some(a),
            entity: group,
            group,
            relationship: Box::leak(Box::new(Open::read(rel))),
            services: &[],
            designations: &[],
            is_device: false,
        };
        let ot: &'static Asset = Box::leak(Box::new(ot));
        let plain: &'static Asset = Box::leak(Box::new(plain));
        let mut s = subject("tencent", "hosted-on", ot);
        s.designations = &d;
        let got = p.decide(&s);
        assert_eq!(
            (got.rule.as_str(), got.severity),
            ("no-tencent-on-ot", Severity::Critical)
        );
        assert_eq!(got.remediation, "Call the OT lead.");
        let mut s = subject("tencent", "hosted-on", plain);
        s.designations = &d;
        let got = p.decide(&s);
        assert_eq!(
            (got.rule.as_str(), got.severity),
            ("exposure-hosted-on", Severity::Info)
        );
    }

    /// A rule's `relationship` selects by the typed relationship; one this build does not
    /// know (from a newer scan) matches no rule and is judged as the least direct.
    #[test]
    fn rules_select_by_relationship() {
        let text = "[[rule]]\nid = \"no-cloud\"\nseverity = \"critical\"\nrelationship = [\"hosted-on\", \"made-by\"]\n";
        let p = Policy::parse(Path::new("p.toml"), text).unwrap();
        let d = vec![des("dod-1260h", "designated")];
        for (rel, rule, sev) in [
            ("hosted-on", "no-cloud", Severity::Critical),
            ("operated-by", "exposure-operated-by", Severity::High),
            ("resold-by", "exposure-transit-via", Severity::Low),
        ] {
            let s = Subject {
                asset: "10.0.0.1",
                inventory: None,
                entity: "e",
                group: "g",
                relationship: &Open::read(rel),
                services: &[],
                designations: &d,
                is_device: false,
            };
            let got = p.decide(&s);
            assert_eq!((got.rule.as_str(), got.severity), (rule, sev), "{rel}");
        }
    }

    /// Bad policy files: (text, expected message prefix with file and line).
    #[test]
    fn policy_errors_name_the_line() {
        for (text, want) in [
            (
                "[severity]\nexposure-hosted-on = \"urgent\"\n",
                "p.toml:2: unknown variant `urgent`",
            ),
            ("\n\nseverty = {}\n", "p.toml:3: unknown field `severty`"),
            (
                "[severity]\n\nno-such-rule = \"low\"\n",
                "p.toml:3: unknown rule id \"no-such-rule\"",
            ),
            (
                "[[rule]]\nid = \"x\"\nseverity = \"low\"\ncolour = [\"red\"]\n",
                "p.toml:4: unknown field `colour`",
            ),
            (
                "\n[[rule]]\nid = \"x\"\nseverity = \"low\"\n",
                "p.toml:2: rule \"x\" has no condition",
            ),
            (
                "[[rule]]\nid = \"Bad Id\"\nseverity = \"low\"\ngroup = [\"a\"]\n",
                "p.toml:1: rule id \"Bad Id\"",
            ),
            (
                "[[rule]]\nid = \"sensitive-data\"\nseverity = \"low\"\ngroup = [\"a\"]\n",
                "p.toml:1: rule id \"sensitive-data\" is already defined",
            ),
            (
                "[[rule]]\nid = \"x\"\nseverity = \"low\"\nrelationship = [\"owns\"]\n",
                "p.toml:1: rule \"x\": relationship \"owns\": expected operated-by, hosted-on, transit-via or made-by",
            ),
            (
                "[[rule]]\nid = \"x\"\nseverity = \"low\"\nrelationship = [\"supplied-by\"]\n",
                "p.toml:1: rule \"x\": relationship \"supplied-by\": expected operated-by",
            ),
            (
                "[[rule]]\nid = \"x\"\ngroup = [\"a\"]\n",
                "p.toml:1: missing field `severity`",
            ),
            ("a = [\n", "p.toml:1: unclosed array"),
        ] {
            let e = Policy::parse(Path::new("p.toml"), text)
                .unwrap_err()
                .to_string();
            assert!(e.starts_with(want), "{text:?}: got {e:?}, want {want:?}");
        }
    }

    #[test]
    fn dsp_thresholds_follow_28_cfr_202_205() {
        for (cat, want) in [
            ("personal", Some("100,000 US persons")),
            ("payment", Some("10,000 US persons")),
            ("health", Some("10,000 US persons")),
            ("geolocation", Some("1,000 US devices")),
            ("biometric", Some("1,000 US persons")),
            (
                "genomic",
                Some("100 US persons (1,000 for other 'omic data)"),
            ),
            ("government", Some("any volume (no bulk threshold)")),
            ("source-code", None),
        ] {
            assert_eq!(dsp_threshold(cat).map(|t| t.1), want, "{cat}");
        }
    }
}
