//! Waivers (`--waivers FILE`): accepted risks with a reason and an expiry date.
//!
//! ```toml
//! [[waiver]]
//! asset = "10.20.1.5"        # address, CIDR, MAC or inventory name
//! group = "alibaba"          # and/or entity = "alibaba-cloud"; rule = "ai-model-api"
//! reason = "replacement ordered, ticket SEC-1234"
//! expires = 2026-12-31
//! ```
//!
//! **A waiver never removes a finding**: an active one marks it `"waived": true` (it no longer
//! counts for `--fail-on`); one whose `expires` date has passed waives nothing and is listed in
//! the summary. A waiver is active through its expiry day (UTC).

use crate::date;
use crate::error::{line_of, FileError};
use crate::model::{ExpiredWaiver, Finding};
use cordon_wire::Mac;
use ipnet::IpNet;
use serde::Deserialize;
use std::net::IpAddr;
use std::path::Path;
use toml::Spanned;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct WaiverFile {
    /// The waivers, in any order.
    #[serde(default)]
    waiver: Vec<Spanned<WaiverIn>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct WaiverIn {
    /// An address, a CIDR prefix, a MAC address or an inventory name.
    #[serde(default)]
    asset: Option<String>,
    /// Company group id (`alibaba`).
    #[serde(default)]
    group: Option<String>,
    /// Most specific company id (`alibaba-cloud`).
    #[serde(default)]
    entity: Option<String>,
    /// Only findings of this rule.
    #[serde(default)]
    rule: Option<String>,
    /// Why the risk is accepted (ticket, approver).
    reason: String,
    /// Last day the waiver applies: a TOML date or a `YYYY-MM-DD` string.
    expires: DateIn,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum DateIn {
    Date(toml::value::Datetime),
    Text(String),
}

/// One checked waiver.
#[derive(Clone, Debug, PartialEq)]
pub struct Waiver {
    pub asset: Option<String>,
    pub group: Option<String>,
    pub entity: Option<String>,
    pub rule: Option<String>,
    pub reason: String,
    /// `YYYY-MM-DD`.
    pub expires: String,
    expires_days: i64,
    /// `FILE:LINE`.
    pub at: String,
}

/// A checked waiver file.
#[derive(Clone, Debug, Default)]
pub struct Waivers {
    pub list: Vec<Waiver>,
}

impl Waivers {
    pub fn load(path: &Path) -> Result<Waivers, FileError> {
        let text = FileError::read(path)?;
        Self::parse(path, &text)
    }

    pub fn parse(path: &Path, text: &str) -> Result<Waivers, FileError> {
        let file: WaiverFile = toml::from_str(text).map_err(|e| {
            let line = e.span().map(|s| line_of(text, s.start));
            let msg = e.message().trim();
            let msg = if msg.contains("did not match any variant") {
                "`expires`: expected a date like 2026-12-31".to_string()
            } else {
                msg.to_string()
            };
            FileError::new(path, line, msg)
        })?;
        let mut list = Vec::new();
        for w in file.waiver {
            let line = line_of(text, w.span().start);
            let err = |m: String| FileError::new(path, Some(line), m);
            let w = w.into_inner();
            if w.asset.is_none() && w.group.is_none() && w.entity.is_none() {
                return Err(err(
                    "waiver: expected at least one of `asset`, `group` or `entity`".into(),
                ));
            }
            if w.reason.trim().is_empty() {
                return Err(err(
                    "waiver: `reason` is empty; say why the risk is accepted".into(),
                ));
            }
            let raw = match &w.expires {
                DateIn::Date(d) if d.time.is_none() && d.offset.is_none() => d.to_string(),
                DateIn::Date(d) => d.to_string(),
                DateIn::Text(s) => s.clone(),
            };
            let days = date::parse_days(&raw)
                .filter(|&d| raw.len() == 10 && date::format_days(d) == raw)
                .ok_or_else(|| {
                    err(format!(
                        "waiver: `expires` {raw:?}: expected a date like 2026-12-31"
                    ))
                })?;
            list.push(Waiver {
                asset: w.asset,
                group: w.group,
                entity: w.entity,
                rule: w.rule,
                reason: w.reason.trim().to_string(),
                expires: raw,
                expires_days: days,
                at: format!("{}:{line}", path.display()),
            });
        }
        Ok(Waivers { list })
    }

    pub fn len(&self) -> usize {
        self.list.len()
    }

    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// Whether a waiver selects by asset: then whether a finding is waived depends on its
    /// address, not only on its company, rule and inventory entry.
    pub fn reads_asset(&self) -> bool {
        self.list.iter().any(|w| w.asset.is_some())
    }

    /// Marks findings covered by an active waiver, and returns the expired waivers with the
    /// number of findings each would have waived. `today` is `YYYY-MM-DD`.
    pub fn apply(&self, findings: &mut [Finding], today: &str) -> Vec<ExpiredWaiver> {
        let mut ledger = Ledger::new(self, date::parse_days(today).unwrap_or_else(date::today));
        for f in findings.iter_mut() {
            ledger.mark(f);
        }
        ledger.expired()
    }
}

/// The waivers on one day: which one marks a finding (the first active one that matches), and
/// how many findings each matched, for the summary's expired waivers. The one place waivers
/// are matched against findings, built or not.
pub struct Ledger<'w> {
    waivers: &'w Waivers,
    active: Vec<bool>,
    matched: Vec<u64>,
}

impl<'w> Ledger<'w> {
    /// `today` in days since the epoch (UTC).
    pub fn new(waivers: &'w Waivers, today: i64) -> Ledger<'w> {
        Ledger {
            waivers,
            active: waivers.list.iter().map(|w| w.active_on(today)).collect(),
            matched: vec![0; waivers.list.len()],
        }
    }

    /// The waivers that match a finding with these parts, by index (none is counted).
    /// `asset` is called only when a waiver names an asset.
    pub fn matching<S: AsRef<str>>(
        &self,
        group: &str,
        entity: &str,
        rule: &str,
        asset: impl Fn() -> S,
        asset_name: Option<&str>,
    ) -> Vec<u32> {
        (self.waivers.list.iter().enumerate())
            .filter(|(_, w)| w.matches_parts(group, entity, rule, &asset, asset_name))
            .map(|(i, _)| i as u32)
            .collect()
    }

    /// Of the waivers that match, the one that waives: the first in force.
    pub fn first_active(&self, matching: &[u32]) -> Option<u32> {
        matching.iter().copied().find(|&i| self.active[i as usize])
    }

    /// Counts `n` more findings matched by each of `matching`.
    pub fn count(&mut self, matching: &[u32], n: u64) {
        for &i in matching {
            self.matched[i as usize] += n;
        }
    }

    /// The index of the waiver that waives a finding with these parts, if one does; every
    /// waiver that matches is counted.
    pub fn waive<S: AsRef<str>>(
        &mut self,
        group: &str,
        entity: &str,
        rule: &str,
        asset: impl Fn() -> S,
        asset_name: Option<&str>,
    ) -> Option<u32> {
        let m = self.matching(group, entity, rule, asset, asset_name);
        self.count(&m, 1);
        self.first_active(&m)
    }

    /// [`Ledger::waive`] on a built finding, marking it.
    pub fn mark(&mut self, f: &mut Finding) {
        let by = self.waive(
            &f.group,
            &f.entity,
            &f.rule,
            || f.asset.as_str(),
            f.asset_name.as_deref(),
        );
        if let Some(i) = by {
            f.waived = true;
            f.waiver = Some(self.waivers.list[i as usize].note());
        }
    }

    /// The waivers past their expiry date, in file order, with the findings each matched.
    pub fn expired(&self) -> Vec<ExpiredWaiver> {
        (self
            .waivers
            .list
            .iter()
            .zip(&self.matched)
            .zip(&self.active))
        .filter(|(_, a)| !**a)
        .map(|((w, m), _)| w.expired(*m))
        .collect()
    }
}

impl Waiver {
    /// Every selector given must match.
    pub fn matches(&self, f: &Finding) -> bool {
        self.matches_parts(
            &f.group,
            &f.entity,
            &f.rule,
            || f.asset.as_str(),
            f.asset_name.as_deref(),
        )
    }

    /// [`Waiver::matches`] on the parts of a finding not yet built; `asset` is called only
    /// when the waiver names an asset.
    pub fn matches_parts<S: AsRef<str>>(
        &self,
        group: &str,
        entity: &str,
        rule: &str,
        asset: impl FnOnce() -> S,
        asset_name: Option<&str>,
    ) -> bool {
        self.group.as_ref().is_none_or(|g| g == group)
            && self.entity.as_ref().is_none_or(|e| e == entity)
            && self.rule.as_ref().is_none_or(|r| r == rule)
            && self
                .asset
                .as_ref()
                .is_none_or(|a| asset_matches(a, asset().as_ref(), asset_name))
    }

    /// What a finding it waives says (`waiver`): the reason, the expiry date and the place.
    pub fn note(&self) -> String {
        format!("{} (until {}, {})", self.reason, self.expires, self.at)
    }

    /// Whether the waiver applies on `today`, in days since the epoch (through its expiry
    /// day).
    fn active_on(&self, today: i64) -> bool {
        today <= self.expires_days
    }

    /// The summary entry of an expired waiver that matched `matched` findings.
    pub fn expired(&self, matched: u64) -> ExpiredWaiver {
        ExpiredWaiver {
            at: self.at.clone(),
            asset: self.asset.clone(),
            group: self.group.clone(),
            entity: self.entity.clone(),
            reason: self.reason.clone(),
            expires: self.expires.clone(),
            matched,
        }
    }
}

fn asset_matches(want: &str, asset: &str, asset_name: Option<&str>) -> bool {
    if want == asset || asset_name.is_some_and(|n| n.eq_ignore_ascii_case(want)) {
        return true;
    }
    // MACs in any spelling; never an address read as one (`fd00::1234:5678` has twelve hex
    // digits too).
    let is_ip = |s: &str| s.parse::<IpAddr>().is_ok();
    if !is_ip(want) && !is_ip(asset) {
        if let (Some(a), Some(b)) = (Mac::parse(want), Mac::parse(asset)) {
            return a == b;
        }
    }
    match (want.parse::<IpNet>(), asset.parse::<IpAddr>()) {
        (Ok(net), Ok(ip)) => net.contains(&ip),
        _ => match (want.parse::<IpAddr>(), asset.parse::<IpAddr>()) {
            (Ok(a), Ok(b)) => a == b,
            _ => false,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finding(asset: &str, name: &str, group: &str) -> Finding {
        Finding {
            id: "0".into(),
            rule: "sensitive-data".into(),
            severity: crate::model::Severity::High.into(),
            asset: asset.into(),
            asset_name: Some(name.into()),
            entity: format!("{group}-cloud"),
            group: group.into(),
            relationship: crate::model::Relationship::OperatedBy.into(),
            designations: vec![],
            regulations: vec![],
            evidence: vec![],
            remediation: String::new(),
            waived: false,
            waiver: None,
            owner: None,
            flows: 0,
            bytes_out: 0,
            first_seen: None,
            last_seen: None,
        }
    }

    const FILE: &str = r#"
[[waiver]]
asset = "till-5"
group = "alibaba"
reason = "migration to another cloud, SEC-1"
expires = 2026-12-31

[[waiver]]
asset = "10.9.0.0/16"
reason = "lab network, SEC-2"
expires = "2026-01-31"
"#;

    #[test]
    fn active_waives_expired_does_not() {
        let w = Waivers::parse(Path::new("w.toml"), FILE).unwrap();
        assert_eq!(w.len(), 2);
        let mut fs = vec![
            finding("10.20.1.5", "till-5", "alibaba"),
            finding("10.20.1.5", "till-5", "tencent"),
            finding("10.9.3.3", "lab-1", "tencent"),
            finding("10.8.3.3", "other", "tencent"),
        ];
        let expired = w.apply(&mut fs, "2026-11-26");
        let waived: Vec<bool> = fs.iter().map(|f| f.waived).collect();
        assert_eq!(waived, [true, false, false, false]);
        assert!(fs[0].waiver.as_deref().unwrap().contains("SEC-1"));
        assert_eq!(expired.len(), 1);
        assert_eq!(
            (expired[0].at.as_str(), expired[0].matched),
            ("w.toml:8", 1)
        );

        // On its expiry day a waiver is still active; the day after it is not.
        for (today, want) in [("2026-12-31", true), ("2027-01-01", false)] {
            let mut fs = vec![finding("10.20.1.5", "till-5", "alibaba")];
            w.apply(&mut fs, today);
            assert_eq!(fs[0].waived, want, "{today}");
        }
    }

    #[test]
    fn mac_assets_match_in_any_spelling() {
        let w = Waivers::parse(
            Path::new("w.toml"),
            "[[waiver]]\nasset = \"28-6F-B9-00-00-01\"\nreason = \"r\"\nexpires = 2030-01-01\n",
        )
        .unwrap();
        let mut fs = vec![finding("28:6f:b9:00:00:01", "cam", "hikvision")];
        w.apply(&mut fs, "2026-01-01");
        assert!(fs[0].waived);
        for (want, asset, same) in [
            ("28-6F-B9-00-00-01", "28:6f:b9:00:00:01", true),
            ("286f.b900.0001", "28:6f:b9:00:00:01", true),
            ("286FB9000001", "28:6f:b9:00:00:01", true),
            ("28:6f:b9:00:00:02", "28:6f:b9:00:00:01", false),
            // Two different IPv6 addresses with the same twelve hex digits are not one MAC.
            ("fd00:1234::5678", "fd00::1234:5678", false),
            ("fd00::1234:5678", "fd:00:12:34:56:78", false),
        ] {
            assert_eq!(asset_matches(want, asset, None), same, "{want} {asset}");
        }
    }

    /// Bad waiver files: (text, expected message prefix with file and line).
    #[test]
    fn waiver_errors_name_the_line() {
        for (text, want) in [
            (
                "\n[[waiver]]\nreason = \"r\"\nexpires = 2026-01-01\n",
                "w.toml:2: waiver: expected at least one of",
            ),
            (
                "[[waiver]]\ngroup = \"a\"\nreason = \"r\"\nexpires = \"2026-13-01\"\n",
                "w.toml:1: waiver: `expires` \"2026-13-01\"",
            ),
            (
                "[[waiver]]\ngroup = \"a\"\nreason = \"r\"\nexpires = \"soon\"\n",
                "w.toml:1: waiver: `expires` \"soon\"",
            ),
            (
                "[[waiver]]\ngroup = \"a\"\nreason = \"r\"\nexpires = 2026-01-01T10:00:00Z\n",
                "w.toml:1: waiver: `expires`",
            ),
            (
                "[[waiver]]\ngroup = \"a\"\nexpires = 2026-01-01\n",
                "w.toml:1: missing field `reason`",
            ),
            (
                "[[waiver]]\ngroup = \"a\"\nreason = \"  \"\nexpires = 2026-01-01\n",
                "w.toml:1: waiver: `reason` is empty",
            ),
            (
                "[[waiver]]\ngroup = \"a\"\nreason = \"r\"\nexpires = 2026-01-01\nowner = \"x\"\n",
                "w.toml:5: unknown field `owner`",
            ),
            ("[[waivers]]\n", "w.toml:1: unknown field `waivers`"),
        ] {
            let e = Waivers::parse(Path::new("w.toml"), text)
                .unwrap_err()
                .to_string();
            assert!(e.starts_with(want), "{text:?}: got {e:?}, want {want:?}");
        }
    }
}
