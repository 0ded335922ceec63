//! Sink: the scan's results as JSONL records (`docs/wire-format.md`) or as a summary people
//! read on a terminal, and the progress bar on stderr. Both sinks read the verdicts of one
//! judge stage ([`crate::judge::Judged`]) and build findings from them.
//!
//! - [`records`]: aggregates → wire records (exposures, devices, the summary) and the facts
//!   the judge ([`crate::judge`]) reads;
//! - [`jsonl`]: the JSONL stream, a batch at a time on every core;
//! - [`summary`]: the terminal summary;
//! - [`progress`]: the progress bar.

mod jsonl;
mod progress;
mod records;
mod summary;

pub use progress::progress;
pub use records::designations;

use super::aggregate::{ExposureAgg, ExposureKey};
use crate::model::{AnomalyRecord, DesignationRef, Device, IndicatorMatch, Summary};
use cordon_index::{EntityId, Intel};
use foldhash::HashMap;
use summary::{DeviceExposures, Groups};

/// The scan's results, ready to write. Exposure records are built from the aggregates when
/// written, a batch at a time with their findings, so memory holds the aggregates and one
/// batch of records, not every record at once.
pub struct Report<'a> {
    intel: &'a Intel,
    /// The aggregates, in table order.
    table: &'a super::aggregate::Exposures,
    /// The company groups the text summary shows, most traffic first.
    groups: Groups<'a>,
    /// The exposures of each device's address, largest first (the text summary's "talks
    /// to").
    device_exposures: DeviceExposures<'a>,
    pub devices: Vec<Device>,
    /// Threat-indicator matches, when indicators were given.
    pub indicator_matches: Vec<IndicatorMatch>,
    pub anomalies: Vec<AnomalyRecord>,
    pub summary: Summary,
    /// Designations per entity, computed once.
    designations: HashMap<EntityId, Vec<DesignationRef>>,
}

/// An exposure with what ordering and the summary read copied out of the table, so that
/// sorting and grouping 166 k of them walk one array instead of chasing a pointer each.
#[derive(Clone, Copy)]
pub struct Ranked<'a> {
    key: ExposureKey,
    bytes_out: u64,
    bytes_in: u64,
    flows: u64,
    agg: &'a ExposureAgg,
}

impl<'a> Ranked<'a> {
    fn of(key: &ExposureKey, agg: &'a ExposureAgg) -> Ranked<'a> {
        Ranked {
            key: *key,
            bytes_out: agg.bytes_out,
            bytes_in: agg.bytes_in,
            flows: agg.flows,
            agg,
        }
    }
}

/// The order of exposures: most traffic, then most flows, then by key (unique).
type Rank = (std::cmp::Reverse<u64>, std::cmp::Reverse<u64>, ExposureKey);

fn rank_of(key: &ExposureKey, bytes_out: u64, bytes_in: u64, flows: u64) -> Rank {
    use std::cmp::Reverse;
    (
        Reverse(bytes_out.saturating_add(bytes_in)),
        Reverse(flows),
        *key,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::assets::Inventory;
    use crate::findings::{fail_status, FindingConfig};
    use crate::intel::load::{load, Source};
    use crate::judge::{Judge, Totals};
    use crate::model::{Exposure, Finding, Severity};
    use crate::policy::Policy;
    use crate::scan::aggregate::{Aggregator, Internal};
    use crate::scan::attrib::Attributor;
    use crate::scan::names::NameIndex;
    use crate::waivers::Waivers;
    use cordon_index::Intel;
    use cordon_wire::{Flow, IpProto, NameSource, ServerName};
    use std::collections::BTreeMap;
    use std::path::Path;

    const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/findings/");

    /// Flows from inventoried and other assets to several companies, one of them over an
    /// AI model API; the same aggregates every time.
    fn aggregate(intel: &Intel) -> Aggregator {
        let mut names = NameIndex::default();
        names.add_server_name(&ServerName {
            ts: 0,
            client: None,
            server: Some("47.88.9.9".parse().unwrap()),
            server_port: 443,
            name: "dashscope.aliyuncs.com".into(),
            source: NameSource::Tls,
            uid: None,
        });
        let mut attr = Attributor::new(intel, &names);
        let internal = Internal::default_ranges();
        let mut agg = Aggregator::default();
        let assets = [
            "10.20.1.5",
            "10.20.3.3",
            "10.30.0.9",
            "10.40.0.7",
            "10.50.0.2",
            "10.9.8.7",
            "192.168.1.20",
        ];
        let remotes = [
            "47.88.1.2",
            "47.88.9.9",
            "182.61.200.6",
            "36.16.180.254",
            "120.222.111.10",
            "43.158.108.18",
            "8.8.8.8",
        ];
        for (i, a) in assets.iter().enumerate() {
            for (j, r) in remotes.iter().enumerate() {
                if (i + j) % 3 == 0 {
                    continue;
                }
                let f = Flow {
                    first: 1_700_000_000_000_000 + (i * 10 + j) as i64,
                    last: 1_700_000_000_000_000 + (i * 10 + j) as i64 + 5,
                    src: a.parse().unwrap(),
                    dst: r.parse().unwrap(),
                    sport: 40000,
                    dport: 443,
                    proto: IpProto::TCP,
                    bytes_out: 100 * (i + 1) as u64,
                    packets_out: 1,
                    bytes_in: 1000 * (j + 1) as u64,
                    packets_in: 1,
                    src_mac: None,
                    dst_mac: None,
                    uid: None,
                    sampling: 1,
                };
                agg.flow(&f, &mut attr, &internal);
            }
        }
        agg
    }

    fn config(policy: Option<&str>, waivers: &str, fail_on: Option<Severity>) -> FindingConfig {
        let inv = std::fs::read_to_string(format!("{DATA}assets.csv")).unwrap();
        FindingConfig {
            inventory: Inventory::parse(Path::new("assets.csv"), &inv).unwrap(),
            policy: policy.map_or_else(Policy::default, |p| {
                Policy::parse(Path::new("policy.toml"), p).unwrap()
            }),
            waivers: Waivers::parse(Path::new("waivers.toml"), waivers).unwrap(),
            fail_on,
        }
    }

    /// The judge stage, which decides once per (inventory entry, company, relationship,
    /// services) and matches waivers once per key when none selects by asset, equals the
    /// evaluation of every record on its own: the same findings in the JSONL stream, the same
    /// counts per severity, waived counts, `--fail-on` and expired waivers; and the findings
    /// the terminal shows are the most severe unwaived ones of that set.
    #[test]
    fn verdicts_equal_the_record_by_record_evaluation() {
        let intel = load(&Source::Bundled, None).unwrap().intel;
        let agg = aggregate(&intel);
        assert!(agg.exposures.len() >= 20, "{}", agg.exposures.len());
        let policy = std::fs::read_to_string(format!("{DATA}policy.toml")).unwrap();
        let asset_rule = format!(
            "{policy}\n[[rule]]\nid = \"printer\"\nseverity = \"high\"\nasset = [\"10.50.0.2\"]\n"
        );
        let waivers = std::fs::read_to_string(format!("{DATA}waivers.toml")).unwrap();
        let by_group = "[[waiver]]\ngroup = \"china-telecom\"\nrule = \"exposure-transit-via\"\nreason = \"x\"\nexpires = 2099-01-01\n\n[[waiver]]\nasset = \"10.9.0.0/16\"\nreason = \"old\"\nexpires = 2020-01-01\n";
        // No waiver selects by asset: whole verdicts are shared per key.
        let group_only = "[[waiver]]\ngroup = \"alibaba\"\nreason = \"x\"\nexpires = 2099-01-01\n\n[[waiver]]\ngroup = \"china-telecom\"\nreason = \"old\"\nexpires = 2020-01-01\n\n[[waiver]]\nentity = \"alibaba-cloud\"\nrule = \"ai-model-api\"\nreason = \"second\"\nexpires = 2099-01-01\n";
        let today = crate::date::parse_days("2026-11-26").unwrap();
        let (mut seen_waived, mut seen_expired) = (false, false);
        for (policy, waivers) in [
            (None, ""),
            (Some(policy.as_str()), waivers.as_str()),
            (Some(asset_rule.as_str()), by_group),
            (None, by_group),
            (None, group_only),
            (Some(asset_rule.as_str()), group_only),
        ] {
            for fail_on in [None, Some(Severity::High), Some(Severity::Critical)] {
                let cfg = config(policy, waivers, fail_on);
                let judge = Judge::new(&cfg, today);
                let report = Report::build(&intel, &agg, vec![], vec![], false, String::new());
                let judged = judge.scan(
                    report.exposure_facts(),
                    &report.devices,
                    &report.indicator_matches,
                );
                let mut streamed: Vec<Finding> = Vec::new();
                report
                    .for_each_batch(
                        &judge,
                        &judged,
                        |_, _, _, f| f.to_vec(),
                        |f| {
                            streamed.extend(f);
                            Ok(())
                        },
                    )
                    .unwrap();
                // Every record on its own, in the order of the table.
                let records: Vec<Exposure> = report
                    .table
                    .iter()
                    .map(|(k, e)| report.exposure(k, e))
                    .collect();
                let mut ledger = judge.ledger();
                let mut all = judge.evaluate(&records, &report.devices, &mut ledger);
                all.extend(judge.indicator_findings(&report.indicator_matches, &mut ledger));
                let mut by_severity: BTreeMap<Severity, (u64, u64)> = BTreeMap::new();
                for f in &all {
                    let c = by_severity.entry(f.rank()).or_default();
                    if f.waived {
                        c.1 += 1;
                    } else {
                        c.0 += 1;
                    }
                }
                let want = Totals {
                    by_severity,
                    findings: all.len() as u64,
                    fails: fail_on.is_some_and(|t| fail_status(&all, t)),
                    expired_waivers: ledger.expired(),
                };
                let what = format!("policy {policy:?} waivers {waivers:?} fail-on {fail_on:?}");
                assert_eq!(judged.totals, want, "{what}");
                let json = |fs: &[Finding]| {
                    let mut v: Vec<String> = fs
                        .iter()
                        .map(|f| serde_json::to_string(f).unwrap())
                        .collect();
                    v.sort();
                    v
                };
                assert_eq!(json(&streamed), json(&all), "{what}");
                seen_waived |= want.by_severity.values().any(|c| c.1 > 0);
                seen_expired |= want.expired_waivers.iter().any(|w| w.matched > 0);
                // The shown findings are real, unwaived, and the most severe.
                let shown = report.shown(&judge, &judged);
                let rank = |f: &Finding| f.severity.known().unwrap();
                let mut ranks: Vec<Severity> = all.iter().filter(|f| !f.waived).map(rank).collect();
                ranks.sort_by(|a, b| b.cmp(a));
                ranks.truncate(10);
                assert_eq!(shown.iter().map(rank).collect::<Vec<_>>(), ranks, "{what}");
                for f in &shown {
                    assert!(all.contains(f), "{what}: {f:?}");
                }
            }
        }
        assert!(seen_waived, "some configuration waives a finding");
        assert!(seen_expired, "some expired waiver matches a finding");
    }
}
