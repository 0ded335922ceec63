//! Findings: exposures and devices judged by the policy, named by the asset inventory,
//! placed in their regulatory context and marked by waivers.
//!
//! The scan calls it in two steps so that **nothing is half-applied**: [`FindingOptions::load`]
//! reads and checks the inventory, policy and waiver files before any telemetry is read, and
//! [`crate::judge`] turns the scan's exposures and devices into findings.
//! **Every exposure and every device with a maker of concern gives exactly one finding**, and
//! its `id` depends only on the asset, the company group and the rule, so it is stable across
//! runs and platforms.

use crate::assets::Inventory;
use crate::judge::Judge;
use crate::model::{Device, ExpiredWaiver, Exposure, Finding, Severity};
use crate::policy::Policy;
use crate::waivers::Waivers;
use std::path::PathBuf;

/// The loaders' error, re-exported for `fuzz/fuzz_targets/configs.rs`, which names it here;
/// it lives in [`crate::error`] (new code imports it from there).
pub use crate::error::FileError;

/// The result of evaluating one scan.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Evaluation {
    /// Most severe first, then by asset.
    pub findings: Vec<Finding>,
    /// Waivers past their expiry date (they waived nothing).
    pub expired_waivers: Vec<ExpiredWaiver>,
}

/// FNV-1a, 64 bits: a small, fixed hash so ids are the same on every platform and release.
fn fnv1a64(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// The stable id of a finding: 16 hex digits of FNV-1a over `asset|group|rule`.
pub fn finding_id(asset: &str, group: &str, rule: &str) -> String {
    format!(
        "{:016x}",
        fnv1a64(format!("{asset}|{group}|{rule}").as_bytes())
    )
}

/// Judges exposures and devices one by one. `today` (`YYYY-MM-DD`) decides which waivers
/// are active.
pub fn evaluate(
    exposures: &[Exposure],
    devices: &[Device],
    inventory: &Inventory,
    policy: &Policy,
    waivers: &Waivers,
    today: &str,
) -> Evaluation {
    let judge = Judge {
        inventory,
        policy,
        waivers,
        fail_on: None,
        today: crate::date::parse_days(today).unwrap_or_else(crate::date::today),
    };
    judge.evaluation(exposures, devices)
}

/// True when an unwaived finding is at or above `threshold` (`--fail-on`): exit status 1.
pub fn fail_status(findings: &[Finding], threshold: Severity) -> bool {
    findings
        .iter()
        .any(|f| !f.waived && f.severity.known().is_some_and(|s| s >= threshold))
}

/// The rule id of findings about threat-indicator matches.
pub const INDICATOR_RULE: &str = "threat-indicator";

/// The finding-related flags of `cordon scan`, as given.
#[derive(Clone, Debug, Default)]
pub struct FindingOptions {
    pub assets: Option<PathBuf>,
    pub policy: Option<PathBuf>,
    pub waivers: Option<PathBuf>,
    pub fail_on: Option<Severity>,
}

/// The checked, loaded finding configuration.
#[derive(Clone, Debug, Default)]
pub struct FindingConfig {
    pub inventory: Inventory,
    pub policy: Policy,
    pub waivers: Waivers,
    pub fail_on: Option<Severity>,
}

impl FindingOptions {
    /// Reads and checks every file; returns the first error, before anything is scanned.
    pub fn load(&self) -> Result<FindingConfig, FileError> {
        Ok(FindingConfig {
            inventory: match &self.assets {
                Some(p) => Inventory::load(p)?,
                None => Inventory::default(),
            },
            policy: match &self.policy {
                Some(p) => Policy::load(p)?,
                None => Policy::default(),
            },
            waivers: match &self.waivers {
                Some(p) => Waivers::load(p)?,
                None => Waivers::default(),
            },
            fail_on: self.fail_on,
        })
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::model::{DesignationRef, Evidence, Open, Relationship};
    use std::path::Path;

    pub fn designation(list: &str, status: &str, holder: &str) -> DesignationRef {
        DesignationRef {
            list: list.into(),
            date: "2026-06-08".into(),
            status: Open::read(status),
            source: format!("https://example.gov/{list}"),
            holder: holder.into(),
        }
    }

    pub fn exposure(
        asset: &str,
        entity: &str,
        group: &str,
        rel: &str,
        services: &[&str],
    ) -> Exposure {
        Exposure {
            asset: asset.into(),
            entity: entity.into(),
            group: group.into(),
            relationship: Open::read(rel),
            confidence: 0.9,
            flows: 12,
            bytes_out: 4096,
            bytes_in: 100_000,
            first_seen: "2026-11-26T09:00:00.000Z".into(),
            last_seen: "2026-11-26T10:00:00.000Z".into(),
            names: vec!["dashscope.aliyuncs.com".into()],
            remotes: vec!["47.88.1.2".into()],
            ports: vec![443],
            services: services.iter().map(|s| s.to_string()).collect(),
            evidence: vec![Evidence {
                kind: "tls".into(),
                value: "dashscope.aliyuncs.com".into(),
                source: None,
                date: None,
            }],
            designations: vec![
                designation("dod-1260h", "designated", group),
                designation("reported", "reported", group),
            ],
        }
    }

    pub fn camera() -> Device {
        Device {
            mac: "28:6f:b9:00:00:01".into(),
            ip: Some("10.30.0.9".into()),
            entity: Some("hikvision".into()),
            group: Some("hikvision".into()),
            relationship: Some(Relationship::MadeBy.into()),
            maker: Some("Hangzhou Hikvision Digital Technology Co.,Ltd.".into()),
            host_name: None,
            vendor_class: None,
            first_seen: "2026-11-26T09:00:00.000Z".into(),
            last_seen: "2026-11-26T10:00:00.000Z".into(),
            evidence: vec![],
            designations: vec![
                designation("fcc-covered", "designated", "hikvision"),
                designation("ndaa-889", "designated", "hikvision"),
                designation("dod-1260h", "designated", "hikvision"),
            ],
        }
    }

    pub const INVENTORY: &str = "\
cidr,ip,mac,name,owner,tags,data
10.20.0.0/16,,,stores,retail,pci,
,10.20.1.5,,payment-terminal-5,retail,pci;pos,payment;personal
10.30.0.0/24,,,ot-cameras,facilities,ot;cctv,
,10.40.0.7,,dev-laptop-7,engineering,,source-code
,10.50.0.2,,benign-printer,it,,
";

    struct Scenario {
        exposures: Vec<Exposure>,
        devices: Vec<Device>,
        inv: Inventory,
    }

    fn scenario() -> Scenario {
        Scenario {
            exposures: vec![
                exposure("10.20.1.5", "alibaba-cloud", "alibaba", "operated-by", &[]),
                exposure(
                    "10.40.0.7",
                    "alibaba-cloud",
                    "alibaba",
                    "operated-by",
                    &["ai-model-api"],
                ),
            ],
            devices: vec![camera()],
            inv: Inventory::parse(Path::new("assets.csv"), INVENTORY).unwrap(),
        }
    }

    fn eval(waivers: &str, today: &str) -> Evaluation {
        let s = scenario();
        let w = Waivers::parse(Path::new("w.toml"), waivers).unwrap();
        evaluate(
            &s.exposures,
            &s.devices,
            &s.inv,
            &Policy::default(),
            &w,
            today,
        )
    }

    fn by_name<'a>(ev: &'a Evaluation, name: &str) -> Vec<&'a Finding> {
        ev.findings
            .iter()
            .filter(|f| f.asset_name.as_deref() == Some(name))
            .collect()
    }

    /// (asset name, expected rule, expected severity); the benign asset gets nothing.
    #[test]
    fn scenario_findings() {
        let ev = eval("", "2026-11-26");
        for (name, rule, sev) in [
            ("payment-terminal-5", Some("sensitive-data"), "critical"),
            ("ot-cameras", Some("covered-device"), "critical"),
            ("dev-laptop-7", Some("ai-model-api"), "critical"),
            ("benign-printer", None, ""),
        ] {
            let got = by_name(&ev, name);
            match rule {
                None => assert!(got.is_empty(), "{name}: {got:?}"),
                Some(rule) => {
                    assert_eq!(got.len(), 1, "{name}");
                    assert_eq!(
                        (got[0].rule.as_str(), got[0].severity.as_str()),
                        (rule, sev),
                        "{name}"
                    );
                    assert!(!got[0].waived);
                }
            }
        }
        assert_eq!(ev.findings.len(), 3);
        // The terminal's finding carries 1260H, §805 and the DOJ thresholds for its data.
        let t = by_name(&ev, "payment-terminal-5")[0];
        let regs: Vec<&str> = t.regulations.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(regs, ["dod-1260h", "ndaa-fy24-805", "doj-dsp", "doj-dsp"]);
        assert!(t.regulations[2].note.contains("10,000 US persons"));
        assert!(t.regulations[3].note.contains("100,000 US persons"));
        assert_eq!(t.evidence[0].kind, "inventory");
        assert_eq!(t.owner.as_deref(), Some("retail"));
        // The camera's finding names the FCC Covered List and §889.
        let c = by_name(&ev, "ot-cameras")[0];
        let regs: Vec<&str> = c.regulations.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(
            regs,
            ["dod-1260h", "ndaa-fy24-805", "fcc-covered-list", "ndaa-889"]
        );
        assert_eq!(c.asset, "28:6f:b9:00:00:01");
    }

    #[test]
    fn without_inventory_every_exposure_still_gets_a_finding() {
        let s = scenario();
        let ev = evaluate(
            &s.exposures,
            &s.devices,
            &Inventory::default(),
            &Policy::default(),
            &Waivers::default(),
            "2026-11-26",
        );
        let got: Vec<(&str, &str)> = ev
            .findings
            .iter()
            .map(|f| (f.rule.as_str(), f.severity.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                ("exposure-operated-by", "high"),
                ("ai-model-api", "high"),
                ("covered-device", "high")
            ]
        );
    }

    #[test]
    fn ids_are_stable() {
        // Pinned: a change here breaks every user's diff and waiver history.
        assert_eq!(
            finding_id("10.20.1.5", "alibaba", "sensitive-data"),
            "8439a568a8016553"
        );
        assert_eq!(fnv1a64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64(b"a"), 0xaf63_dc4c_8601_ec8c);
        let a = eval("", "2026-11-26");
        let b = eval("", "2027-03-01");
        let ids = |e: &Evaluation| e.findings.iter().map(|f| f.id.clone()).collect::<Vec<_>>();
        assert_eq!(ids(&a), ids(&b));
        let mut unique = ids(&a);
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), 3);
    }

    const WAIVERS: &str = r#"
[[waiver]]
asset = "payment-terminal-5"
group = "alibaba"
reason = "PSP migration, SEC-42"
expires = 2026-12-31

[[waiver]]
asset = "28:6f:b9:00:00:01"
reason = "camera replacement, SEC-43"
expires = 2026-10-01
"#;

    #[test]
    fn waived_and_expired() {
        let ev = eval(WAIVERS, "2026-11-26");
        assert!(by_name(&ev, "payment-terminal-5")[0].waived);
        assert!(!by_name(&ev, "ot-cameras")[0].waived);
        assert_eq!(ev.expired_waivers.len(), 1);
        assert_eq!(ev.expired_waivers[0].at, "w.toml:8");
        assert_eq!(ev.expired_waivers[0].matched, 1);
        // The camera (critical, unwaived) still fails the run.
        assert!(fail_status(&ev.findings, Severity::High));
    }

    /// (threshold, expected) for: the scenario with the terminal and the laptop waived,
    /// leaving the camera (critical) — then with everything waived.
    #[test]
    fn fail_status_thresholds() {
        let mut ev = eval("", "2026-11-26");
        for t in Severity::ALL {
            assert!(fail_status(&ev.findings, t), "{t}");
        }
        for f in &mut ev.findings {
            f.severity = Severity::Medium.into();
        }
        for (t, want) in [
            (Severity::Info, true),
            (Severity::Low, true),
            (Severity::Medium, true),
            (Severity::High, false),
            (Severity::Critical, false),
        ] {
            assert_eq!(fail_status(&ev.findings, t), want, "{t}");
        }
        for f in &mut ev.findings {
            f.waived = true;
        }
        assert!(!fail_status(&ev.findings, Severity::Info));
        assert!(!fail_status(&[], Severity::Info));
    }

    #[test]
    fn options_refuse_bad_files_before_scanning() {
        let dir = std::env::temp_dir().join(format!("cordon-findings-opts-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let good_assets = dir.join("assets.csv");
        std::fs::write(&good_assets, INVENTORY).unwrap();
        let bad_waivers = dir.join("w.toml");
        std::fs::write(
            &bad_waivers,
            "[[waiver]]\ngroup = \"a\"\nreason = \"r\"\nexpires = \"never\"\n",
        )
        .unwrap();
        let opts = FindingOptions {
            assets: Some(good_assets.clone()),
            policy: None,
            waivers: Some(bad_waivers.clone()),
            fail_on: Some(Severity::High),
        };
        let e = opts.load().unwrap_err();
        assert_eq!((e.path.clone(), e.line), (bad_waivers, Some(1)));
        let opts = FindingOptions {
            waivers: None,
            ..opts
        };
        let cfg = opts.load().unwrap();
        let s = scenario();
        let ev = Judge::new(&cfg, crate::date::today()).evaluation(&s.exposures, &s.devices);
        assert_eq!(ev.findings.len(), 3);
        assert!(fail_status(&ev.findings, cfg.fail_on.unwrap()));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
