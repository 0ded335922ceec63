//! The judge: the policy and the waivers, applied once, in one place, before any sink runs.
//!
//! A [`Verdict`] is the policy's [`Decision`] (rule, severity, remediation, reasons) and the
//! waiver that waives it. **There is one decision path**: [`Judge::decide`] and a
//! [`Ledger`] of the waivers in force; the scan's exposures go through [`Decisions`], which
//! takes the decision once per distinct (inventory entry, company, relationship, services)
//! — once per exposure when a policy rule selects by asset — and every sink (the terminal's
//! tally, the JSONL stream) reads the same verdicts. `Finding` records are built from a
//! verdict only when a sink asks for one ([`Judge::exposure_finding`]).
//!
//! **`today` is an argument**: the day that decides which waivers are in force is given to
//! [`Judge::new`], never read inside, so a caller judging a window decides what day it is.

use crate::assets::{Asset, Inventory};
use crate::findings::{finding_id, Evaluation, FindingConfig, INDICATOR_RULE};
use crate::model::{
    DesignationRef, Device, Evidence, ExpiredWaiver, Exposure, Finding, IndicatorMatch, Open,
    Relationship, Severity, INDICATOR_MATCH,
};
use crate::policy::{Decision, Policy, Subject};
use crate::waivers::{Ledger, Waivers};
use cordon_index::EntityId;
use foldhash::HashMap;
use std::collections::BTreeMap;
use std::hash::{Hash, Hasher};
use std::net::IpAddr;
use std::sync::Arc;

/// The inventory, policy and waivers, on one day.
#[derive(Clone, Copy)]
pub struct Judge<'c> {
    pub inventory: &'c Inventory,
    pub policy: &'c Policy,
    pub waivers: &'c Waivers,
    /// `--fail-on`.
    pub fail_on: Option<Severity>,
    /// Days since the epoch (UTC): which waivers are in force.
    pub today: i64,
}

/// The verdict on one record: what the policy decided (an index into [`Decisions`]) and the
/// waiver that waives it (an index into the waiver list).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Verdict {
    pub decision: u32,
    pub waived_by: Option<u32>,
}

/// What the findings come to: counts per severity, `--fail-on`, the expired waivers.
#[derive(Debug, Default, PartialEq)]
pub struct Totals {
    /// Per severity: (unwaived, waived).
    pub by_severity: BTreeMap<Severity, (u64, u64)>,
    /// Findings in all.
    pub findings: u64,
    /// An unwaived finding at or above `--fail-on`.
    pub fails: bool,
    /// Waivers past their expiry date, in file order, with the findings each matched.
    pub expired_waivers: Vec<ExpiredWaiver>,
}

/// [`Totals`] while they are counted; [`Tally::finish`] gives them.
pub struct Tally<'c> {
    judge: Judge<'c>,
    pub ledger: Ledger<'c>,
    totals: Totals,
}

impl Tally<'_> {
    /// Counts `n` findings of one severity.
    pub fn count(&mut self, severity: Severity, waived: bool, n: u64) {
        if n == 0 {
            return;
        }
        let c = self.totals.by_severity.entry(severity).or_default();
        if waived {
            c.1 += n;
        } else {
            c.0 += n;
            self.totals.fails |= self.judge.fail_on.is_some_and(|t| severity >= t);
        }
        self.totals.findings += n;
    }

    /// Counts built findings (devices, indicator matches).
    pub fn count_findings(&mut self, findings: &[Finding]) {
        for f in findings {
            self.count(f.rank(), f.waived, 1);
        }
    }

    pub fn finish(mut self) -> Totals {
        self.totals.expired_waivers = self.ledger.expired();
        self.totals
    }
}

/// The inventory entry of an asset, as a key: equal entries give equal decisions (the
/// policy reads an entry's tags, data and name), so entries are compared by value (the same
/// entry is equal to itself without reading it). The inventory gives no entry index.
#[derive(Clone, Copy, Eq)]
struct Entry<'c>(Option<&'c Asset>);

impl PartialEq for Entry<'_> {
    fn eq(&self, o: &Self) -> bool {
        match (self.0, o.0) {
            (Some(a), Some(b)) => std::ptr::eq(a, b) || a == b,
            (a, b) => a.is_none() && b.is_none(),
        }
    }
}

impl Hash for Entry<'_> {
    fn hash<H: Hasher>(&self, h: &mut H) {
        self.0.map(|a| (&a.key, &a.at)).hash(h)
    }
}

/// What the decision on an exposure depends on, when no policy rule selects by asset.
type Key<'c, 'a> = (Entry<'c>, EntityId, Relationship, &'a [Arc<str>]);

/// The facts about one exposure the judge reads, from the scan's aggregates (`'a`: the
/// aggregates and the intel; `'d`: the designations).
pub struct ExposureFacts<'a, 'd> {
    pub asset: IpAddr,
    pub entity: EntityId,
    /// The entity's and its group's ids.
    pub entity_id: &'a str,
    pub group: &'a str,
    pub relationship: Relationship,
    pub services: &'a [Arc<str>],
    pub designations: &'d [DesignationRef],
}

/// The verdicts on a scan's exposures: each decision taken once per distinct key and, when
/// no waiver selects by asset, each waiver matched once per key too.
pub struct Decisions<'c, 'a> {
    judge: Judge<'c>,
    /// A policy rule selects by asset: every exposure is decided on its own.
    reads_asset: bool,
    /// Neither the policy nor a waiver reads the asset: a whole verdict is shared per key.
    whole: bool,
    by_key: HashMap<Key<'c, 'a>, u32>,
    list: Vec<Decision>,
    uses: Vec<Uses>,
}

/// How often a decision was given, and (for whole verdicts) the waivers it matched.
#[derive(Default)]
struct Uses {
    unwaived: u64,
    waived: u64,
    matching: Vec<u32>,
    waived_by: Option<u32>,
}

impl<'c, 'a> Decisions<'c, 'a> {
    pub fn get(&self, v: Verdict) -> &Decision {
        &self.list[v.decision as usize]
    }

    /// The verdict on one exposure.
    pub fn verdict(&mut self, x: &ExposureFacts<'a, '_>, ledger: &mut Ledger<'c>) -> Verdict {
        let inv = self.judge.inventory.lookup_addr(x.asset);
        let asset_name = inv.map(|a| a.name.as_str()).filter(|n| !n.is_empty());
        let key: Key<'c, 'a> = (Entry(inv), x.entity, x.relationship, x.services);
        let known = if self.reads_asset {
            None
        } else {
            self.by_key.get(&key).copied()
        };
        let decision = match known {
            Some(d) => d,
            None => {
                let services: Vec<String> = x.services.iter().map(|s| s.to_string()).collect();
                let d = self.judge.decide(&Subject {
                    asset: &x.asset.to_string(),
                    inventory: inv,
                    entity: x.entity_id,
                    group: x.group,
                    relationship: &x.relationship.into(),
                    services: &services,
                    designations: x.designations,
                    is_device: false,
                });
                let i = self.list.len() as u32;
                let mut uses = Uses::default();
                if self.whole {
                    uses.matching =
                        ledger.matching(x.group, x.entity_id, &d.rule, || "", asset_name);
                    uses.waived_by = ledger.first_active(&uses.matching);
                }
                self.list.push(d);
                self.uses.push(uses);
                if !self.reads_asset {
                    self.by_key.insert(key, i);
                }
                i
            }
        };
        let u = &mut self.uses[decision as usize];
        let waived_by = if self.whole {
            u.waived_by
        } else {
            let rule = &self.list[decision as usize].rule;
            ledger.waive(
                x.group,
                x.entity_id,
                rule,
                || x.asset.to_string(),
                asset_name,
            )
        };
        if waived_by.is_some() {
            u.waived += 1;
        } else {
            u.unwaived += 1;
        }
        Verdict {
            decision,
            waived_by,
        }
    }

    /// Counts every verdict given into `tally`: the exposures' share of the totals.
    pub fn count(&self, tally: &mut Tally<'c>) {
        for (d, u) in self.list.iter().zip(&self.uses) {
            tally.count(d.severity, false, u.unwaived);
            tally.count(d.severity, true, u.waived);
            tally.ledger.count(&u.matching, u.unwaived + u.waived);
        }
    }
}

/// A scan, judged: a verdict per exposure (in the order given, next to what the caller gave
/// with it: the sinks' ordering facts), the findings of devices and indicator matches (few:
/// built in full), and the totals.
pub struct Judged<'c, 'a, T> {
    pub decisions: Decisions<'c, 'a>,
    pub exposures: Vec<(T, Verdict)>,
    pub devices: Vec<Finding>,
    pub indicators: Vec<Finding>,
    pub totals: Totals,
}

impl<T> Judged<'_, '_, T> {
    /// The decision of a verdict.
    pub fn decision(&self, v: Verdict) -> &Decision {
        self.decisions.get(v)
    }
}

impl<'c> Judge<'c> {
    /// The judge stage of a scan: every exposure, device and indicator match judged once,
    /// before any sink runs. Each exposure comes with a value of the caller's, kept next to
    /// its verdict.
    pub fn scan<'a, 'd, T>(
        &self,
        exposures: impl Iterator<Item = (T, ExposureFacts<'a, 'd>)>,
        devices: &[Device],
        matches: &[IndicatorMatch],
    ) -> Judged<'c, 'a, T> {
        let mut tally = self.tally();
        let mut decisions = self.decisions();
        let verdicts: Vec<(T, Verdict)> = exposures
            .map(|(t, x)| (t, decisions.verdict(&x, &mut tally.ledger)))
            .collect();
        decisions.count(&mut tally);
        let devices = self.evaluate(&[], devices, &mut tally.ledger);
        tally.count_findings(&devices);
        let indicators = self.indicator_findings(matches, &mut tally.ledger);
        tally.count_findings(&indicators);
        Judged {
            decisions,
            exposures: verdicts,
            devices,
            indicators,
            totals: tally.finish(),
        }
    }

    pub fn new(cfg: &'c FindingConfig, today: i64) -> Judge<'c> {
        Judge {
            inventory: &cfg.inventory,
            policy: &cfg.policy,
            waivers: &cfg.waivers,
            fail_on: cfg.fail_on,
            today,
        }
    }

    /// The policy's decision on one exposure or device.
    pub fn decide(&self, s: &Subject) -> Decision {
        self.policy.decide(s)
    }

    pub fn ledger(&self) -> Ledger<'c> {
        Ledger::new(self.waivers, self.today)
    }

    pub fn tally(&self) -> Tally<'c> {
        Tally {
            judge: *self,
            ledger: self.ledger(),
            totals: Totals::default(),
        }
    }

    pub fn decisions<'a>(&self) -> Decisions<'c, 'a> {
        Decisions {
            judge: *self,
            reads_asset: self.policy.reads_asset(),
            whole: !self.policy.reads_asset() && !self.waivers.reads_asset(),
            by_key: HashMap::default(),
            list: Vec::new(),
            uses: Vec::new(),
        }
    }

    /// The finding of a verdict: the decision, the inventory entry, the regulations, the
    /// waiver, and the evidence chain.
    pub fn finding(
        &self,
        s: &Subject,
        d: &Decision,
        waived_by: Option<u32>,
        chain: &[Evidence],
    ) -> Finding {
        let mut evidence = Vec::new();
        if let Some(a) = s.inventory {
            let mut v = format!("{} matches inventory entry {}", s.asset, a.key);
            if !a.name.is_empty() {
                v += &format!(" ({})", a.name);
            }
            if !a.tags.is_empty() {
                v += &format!("; tags {}", a.tags.join(", "));
            }
            if !a.data.is_empty() {
                v += &format!("; data {}", a.data.join(", "));
            }
            evidence.push(Evidence {
                kind: "inventory".into(),
                value: v,
                source: Some(a.at.clone()),
                date: None,
            });
        }
        evidence.push(ev(
            "policy",
            &format!("{}: {}", d.rule, d.reasons.join("; ")),
        ));
        evidence.extend_from_slice(chain);
        let waiver = waived_by.map(|i| self.waivers.list[i as usize].note());
        Finding {
            id: finding_id(s.asset, s.group, &d.rule),
            rule: d.rule.clone(),
            severity: d.severity.into(),
            asset: s.asset.into(),
            asset_name: s
                .inventory
                .map(|a| a.name.clone())
                .filter(|n| !n.is_empty()),
            entity: s.entity.into(),
            group: s.group.into(),
            relationship: s.relationship.clone(),
            designations: s.designations.to_vec(),
            regulations: self.policy.regulations(s),
            evidence,
            remediation: d.remediation.clone(),
            waived: waiver.is_some(),
            waiver,
            owner: s
                .inventory
                .map(|a| a.owner.clone())
                .filter(|o| !o.is_empty()),
            flows: 0,
            bytes_out: 0,
            first_seen: None,
            last_seen: None,
        }
    }

    /// The finding of an exposure record, given its verdict.
    pub fn exposure_finding(&self, e: &Exposure, d: &Decision, waived_by: Option<u32>) -> Finding {
        let s = Subject {
            asset: &e.asset,
            inventory: self.inventory.lookup_ip(&e.asset),
            entity: &e.entity,
            group: &e.group,
            relationship: &e.relationship,
            services: &e.services,
            designations: &e.designations,
            is_device: false,
        };
        let mut f = self.finding(&s, d, waived_by, &e.evidence);
        f.flows = e.flows;
        f.bytes_out = e.bytes_out;
        f.first_seen = Some(e.first_seen.clone());
        f.last_seen = Some(e.last_seen.clone());
        if !e.services.is_empty() {
            f.evidence.insert(
                f.evidence.len() - e.evidence.len(),
                ev("service", &e.services.join(", ")),
            );
        }
        f
    }

    /// Judges exposure and device records one by one (no decision is shared): what
    /// `cordon report` derives from a scan without findings, and the devices of a scan.
    /// Findings most severe first, then by traffic, asset and id.
    pub fn evaluate(
        &self,
        exposures: &[Exposure],
        devices: &[Device],
        ledger: &mut Ledger<'c>,
    ) -> Vec<Finding> {
        let mut findings = Vec::with_capacity(exposures.len() + devices.len());
        let made_by = Open::Known(Relationship::MadeBy);
        for e in exposures {
            let s = Subject {
                asset: &e.asset,
                inventory: self.inventory.lookup_ip(&e.asset),
                entity: &e.entity,
                group: &e.group,
                relationship: &e.relationship,
                services: &e.services,
                designations: &e.designations,
                is_device: false,
            };
            let d = self.decide(&s);
            let name = s
                .inventory
                .map(|a| a.name.as_str())
                .filter(|n| !n.is_empty());
            let by = ledger.waive(&e.group, &e.entity, &d.rule, || e.asset.as_str(), name);
            findings.push(self.exposure_finding(e, &d, by));
        }
        for d in devices {
            // Devices of no concern (`--all-devices`) carry no entity: nothing to judge.
            let (Some(entity), Some(group)) = (&d.entity, &d.group) else {
                continue;
            };
            let s = Subject {
                asset: &d.mac,
                inventory: self.inventory.lookup_device(&d.mac, d.ip.as_deref()),
                entity,
                group,
                relationship: d.relationship.as_ref().unwrap_or(&made_by),
                services: &[],
                designations: &d.designations,
                is_device: true,
            };
            let dec = self.decide(&s);
            let name = s
                .inventory
                .map(|a| a.name.as_str())
                .filter(|n| !n.is_empty());
            let by = ledger.waive(group, entity, &dec.rule, || d.mac.as_str(), name);
            let mut f = self.finding(&s, &dec, by, &d.evidence);
            f.first_seen = Some(d.first_seen.clone());
            f.last_seen = Some(d.last_seen.clone());
            findings.push(f);
        }
        sort(&mut findings);
        findings
    }

    /// One finding per threat-indicator match (rule `threat-indicator`, high unless the
    /// policy file says otherwise), with the inventory's name for the asset and waivers
    /// applied as for every other finding.
    pub fn indicator_findings(
        &self,
        matches: &[IndicatorMatch],
        ledger: &mut Ledger<'c>,
    ) -> Vec<Finding> {
        let severity = self.policy.severity_of(INDICATOR_RULE, Severity::High);
        let mut findings: Vec<Finding> = matches
            .iter()
            .map(|m| {
                let asset = self.inventory.lookup_ip(&m.asset);
                let group = format!("indicator:{}", m.indicator.id);
                let what = m.indicator.pattern.as_deref().or(m.indicator.value.as_deref()).unwrap_or("");
                let mut evidence = vec![Evidence {
                    kind: "indicator".into(),
                    value: format!(
                        "{} {}{}",
                        m.indicator.id,
                        what,
                        m.indicator.name.as_deref().map(|n| format!(" ({n})")).unwrap_or_default()
                    ),
                    source: Some(m.indicator.source.clone()),
                    date: None,
                }];
                if let Some(a) = asset {
                    evidence.insert(0, ev("inventory", &format!("{} ({})", a.name, a.at)));
                }
                evidence.extend(m.evidence.iter().cloned());
                Finding {
                    id: finding_id(&m.asset, &group, INDICATOR_RULE),
                    rule: INDICATOR_RULE.into(),
                    severity: severity.into(),
                    asset: m.asset.clone(),
                    asset_name: asset.map(|a| a.name.clone()),
                    entity: group.clone(),
                    group,
                    relationship: Open::Other(INDICATOR_MATCH.into()),
                    designations: Vec::new(),
                    regulations: Vec::new(),
                    evidence,
                    remediation: format!(
                        "Investigate {} talking to {} (a published threat indicator): isolate the host if the traffic is unexplained, then block the indicator.",
                        m.asset, m.remote
                    ),
                    waived: false,
                    waiver: None,
                    owner: asset.map(|a| a.owner.clone()).filter(|o| !o.is_empty()),
                    flows: m.count,
                    bytes_out: 0,
                    first_seen: Some(m.first_seen.clone()),
                    last_seen: Some(m.last_seen.clone()),
                }
            })
            .collect();
        for f in &mut findings {
            ledger.mark(f);
        }
        findings
    }

    /// [`Judge::evaluate`] with a ledger of its own: the findings and the expired waivers.
    pub fn evaluation(&self, exposures: &[Exposure], devices: &[Device]) -> Evaluation {
        let mut ledger = self.ledger();
        let findings = self.evaluate(exposures, devices, &mut ledger);
        Evaluation {
            findings,
            expired_waivers: ledger.expired(),
        }
    }
}

fn ev(kind: &str, value: &str) -> Evidence {
    Evidence {
        kind: kind.into(),
        value: value.into(),
        source: None,
        date: None,
    }
}

/// Most severe first, then most bytes out, then by asset and id.
pub fn sort(findings: &mut [Finding]) {
    findings.sort_by(|a, b| {
        b.rank()
            .cmp(&a.rank())
            .then(b.bytes_out.cmp(&a.bytes_out))
            .then(a.asset.cmp(&b.asset))
            .then(a.id.cmp(&b.id))
    });
}
