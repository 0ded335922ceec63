//! The snapshot: everything a run judges by, built once, then shared read-only.
//!
//! A [`Snapshot`] holds the intel tables (with the imported IP table and its dates), the
//! threat indicators, the organisation's internal ranges and the judge's configuration
//! (inventory, policy, waivers). It is built whole from a [`SnapshotConfig`] — the files a
//! run names — and never changes afterwards: **a newer snapshot is a new value, swapped in
//! whole** ([`Current`]), so a reader holds either the old one or the new one, never a mix,
//! and a bad file keeps the old one in place (the build fails before anything is swapped).
//!
//! Building prints nothing: what a user should hear about (an imported table set aside,
//! indicators that did not load) comes back as [`Snapshot::warnings`], for a command to
//! print or a daemon to log.

use crate::findings::{FindingConfig, FindingOptions};
use crate::indicators::{IndicatorSet, LoadReport, Matcher};
use crate::intel::load::{self, Source};
use crate::intel::store::{self, ImportInfo};
use crate::scan::aggregate::Internal;
use anyhow::{bail, Result};
use arc_swap::ArcSwap;
use cordon_index::Intel;
use std::path::PathBuf;
use std::sync::Arc;

/// The files and settings a snapshot is built from.
#[derive(Clone, Debug, Default)]
pub struct SnapshotConfig {
    /// `--intel-dir`: curated intel text files instead of the bundled ones.
    pub intel_dir: Option<PathBuf>,
    /// Where imported datasets live (`--data-dir`, else the default).
    pub data_dir: Option<PathBuf>,
    /// Indicator files and folders.
    pub indicators: Vec<PathBuf>,
    /// Let a domain indicator match its subdomains.
    pub indicator_subdomains: bool,
    /// The organisation's own ranges; `None` for the private ranges.
    pub internal: Option<Vec<ipnet::IpNet>>,
    /// Inventory, policy, waivers and the gate.
    pub findings: FindingOptions,
}

impl SnapshotConfig {
    /// The snapshot `cordon scan` asks for.
    pub fn for_scan(g: &crate::cli::Global, a: &crate::cli::ScanArgs) -> SnapshotConfig {
        SnapshotConfig {
            intel_dir: g.intel_dir.clone(),
            data_dir: g.data_dir.clone().or_else(store::default_data_dir),
            indicators: a.indicators.indicators.clone(),
            indicator_subdomains: a.indicators.indicator_subdomains,
            internal: a.internal.clone(),
            findings: FindingOptions {
                assets: a.assets.clone(),
                policy: a.policy.clone(),
                waivers: a.waivers.clone(),
                fail_on: a.fail_on,
            },
        }
    }
}

/// Everything a run judges by. Immutable; see the module documentation.
pub struct Snapshot {
    /// Counts the snapshots built by one [`Current`], from 0.
    pub generation: u64,
    pub intel: Intel,
    /// The imported full IP → AS table in use, if any.
    pub import: Option<ImportInfo>,
    /// Why an imported table was set aside for the bundled subset, if it was.
    pub import_error: Option<String>,
    /// Threat indicators, when any were given (possibly empty if none loaded).
    pub indicators: Option<Arc<IndicatorSet>>,
    pub indicator_report: Option<LoadReport>,
    pub indicator_subdomains: bool,
    pub internal: Internal,
    pub judge: FindingConfig,
}

impl Snapshot {
    /// Builds a snapshot from its files. Inventory, policy and waivers are checked first
    /// (a bad one refuses the build: nothing is half-applied), then the intel, then the
    /// indicators, whose bad entries are reported and skipped (a missing indicator path is
    /// an error).
    pub fn build(cfg: &SnapshotConfig, generation: u64) -> Result<Snapshot> {
        let judge = cfg.findings.load().map_err(anyhow::Error::new)?;
        let source = match &cfg.intel_dir {
            Some(d) => Source::Dir(d.clone()),
            None => Source::Bundled,
        };
        let loaded = load::load(&source, cfg.data_dir.as_deref())?;
        for p in &cfg.indicators {
            if !p.exists() {
                bail!("{}: indicator file not found", p.display());
            }
        }
        let (indicators, indicator_report) = if cfg.indicators.is_empty() {
            (None, None)
        } else {
            let (set, report) = crate::indicators::load(&cfg.indicators);
            (Some(Arc::new(set)), Some(report))
        };
        let internal = match &cfg.internal {
            Some(nets) => Internal::new(nets.clone()),
            None => Internal::default_ranges(),
        };
        Ok(Snapshot {
            generation,
            intel: loaded.intel,
            import: loaded.import,
            import_error: loaded.import_error,
            indicators,
            indicator_report,
            indicator_subdomains: cfg.indicator_subdomains,
            internal,
            judge,
        })
    }

    /// What a user should be told about this snapshot, one line each, without a prefix.
    pub fn warnings(&self) -> Vec<String> {
        let mut w = Vec::new();
        if let Some(e) = &self.import_error {
            w.push(format!("imported IP table not used ({e}); using the bundled subset. Run `cordon intel import` again or `cordon intel reset`"));
        }
        if self
            .indicator_report
            .as_ref()
            .is_some_and(|r| r.has_errors())
        {
            w.push("some indicators did not load (see the summary's indicators report, or `cordon indicators check`)".into());
        }
        w
    }

    /// A fresh matcher of this snapshot's indicators, when there are any.
    pub fn matcher(&self) -> Option<Matcher> {
        self.indicators
            .as_ref()
            .filter(|set| !set.is_empty())
            .map(|set| Matcher::new(set.clone(), self.indicator_subdomains))
    }
}

/// The snapshot in use, swapped whole: readers take the current one without a lock and
/// keep it for as long as they work with it; a reload builds the next one aside and
/// publishes it with one atomic pointer swap.
pub struct Current {
    config: std::sync::Mutex<SnapshotConfig>,
    now: ArcSwap<Snapshot>,
}

impl Current {
    /// Builds the first snapshot (generation 0).
    pub fn new(config: SnapshotConfig) -> Result<Current> {
        let first = Snapshot::build(&config, 0)?;
        Ok(Current {
            config: std::sync::Mutex::new(config),
            now: ArcSwap::from_pointee(first),
        })
    }

    /// The snapshot in use.
    pub fn get(&self) -> Arc<Snapshot> {
        self.now.load_full()
    }

    /// Rebuilds from the same files (or `config`, when given) and swaps the result in;
    /// on error the snapshot in use stays, and the error says why. Reloads are serialised.
    pub fn reload(&self, config: Option<SnapshotConfig>) -> Result<Arc<Snapshot>> {
        let mut cfg = self
            .config
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let next_cfg = config.unwrap_or_else(|| cfg.clone());
        let generation = self.now.load().generation + 1;
        let next = Arc::new(Snapshot::build(&next_cfg, generation)?);
        self.now.store(next.clone());
        *cfg = next_cfg;
        Ok(next)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, Ordering};

    fn config(dir: &std::path::Path, waivers: &str) -> SnapshotConfig {
        let w = dir.join("waivers.toml");
        std::fs::write(&w, waivers).unwrap();
        SnapshotConfig {
            data_dir: Some(dir.join("data")),
            findings: FindingOptions {
                waivers: Some(w),
                ..Default::default()
            },
            ..Default::default()
        }
    }

    /// Readers see one whole snapshot or the next, never a mix; a bad file keeps the one
    /// in use; generations count up.
    #[test]
    fn reloads_swap_whole_snapshots_and_keep_the_old_on_error() {
        let dir = std::env::temp_dir().join(format!("cordon-snapshot-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let one = "[[waiver]]\ngroup = \"alibaba\"\nreason = \"one\"\nexpires = \"2999-01-01\"\n";
        let two = "[[waiver]]\ngroup = \"alibaba\"\nreason = \"two\"\nexpires = \"2999-01-01\"\n\n[[waiver]]\ngroup = \"tencent\"\nreason = \"two\"\nexpires = \"2999-01-01\"\n";
        let current = Current::new(config(&dir, one)).unwrap();
        assert_eq!(current.get().generation, 0);
        assert_eq!(current.get().judge.waivers.len(), 1);
        let stop = AtomicBool::new(false);
        std::thread::scope(|s| {
            let readers: Vec<_> = (0..2)
                .map(|_| {
                    s.spawn(|| {
                        let mut seen = std::collections::BTreeSet::new();
                        while !stop.load(Ordering::Relaxed) {
                            let snap = current.get();
                            // Generation and content always agree.
                            let want = if snap.generation.is_multiple_of(2) {
                                1
                            } else {
                                2
                            };
                            assert_eq!(snap.judge.waivers.len(), want, "gen {}", snap.generation);
                            seen.insert(snap.generation);
                        }
                        seen
                    })
                })
                .collect();
            for i in 0..6 {
                let text = if i % 2 == 0 { two } else { one };
                current.reload(Some(config(&dir, text))).unwrap();
            }
            stop.store(true, Ordering::Relaxed);
            for r in readers {
                assert!(!r.join().unwrap().is_empty());
            }
        });
        assert_eq!(current.get().generation, 6);
        // A broken waiver file: the reload fails and the snapshot in use stays.
        let err = current
            .reload(Some(config(&dir, "[[waiver]]\ngroup = 1\n")))
            .err()
            .unwrap();
        assert!(format!("{err:#}").contains("waivers.toml"), "{err:#}");
        assert_eq!(current.get().generation, 6);
        assert_eq!(current.get().judge.waivers.len(), 1);
        // A reload without a new config reads the files last used again: fixed now.
        std::fs::write(dir.join("waivers.toml"), two).unwrap();
        let next = current.reload(None).unwrap();
        assert_eq!((next.generation, next.judge.waivers.len()), (7, 2));
        std::fs::remove_dir_all(&dir).ok();
    }
}
