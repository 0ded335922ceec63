//! The JSONL sink: every record of the scan with its finding, a batch at a time, built and
//! serialised on every core and written in order.

use super::{rank_of, Ranked, Report};
use crate::judge::{self, Judge, Judged, Verdict};
use crate::model::{Device, Exposure, Finding, IndicatorMatch, RecordRef};
use std::io::Write;

/// Exposure records written per batch.
const BATCH: usize = 2048;
/// Batches built at once, in parallel.
const PARALLEL_BATCHES: usize = 4;

impl Report<'_> {
    /// Builds the exposure records a batch at a time with the findings of their verdicts,
    /// and hands both to `f`; devices and their findings come next, as a batch of their own,
    /// then indicator matches and theirs.
    ///
    /// `render` runs on every core, a batch at a time (it serialises, for JSONL); `f` gets
    /// what it made, in order.
    pub fn for_each_batch<R: Send>(
        &self,
        judge: &Judge<'_>,
        judged: &Judged<'_, '_, Ranked<'_>>,
        render: impl Fn(&[Exposure], &[Device], &[IndicatorMatch], &[Finding]) -> R + Sync,
        mut f: impl FnMut(R) -> std::io::Result<()>,
    ) -> std::io::Result<()> {
        // Batches are built on every core, a few at a time, and handed to `f` in order:
        // memory holds at most PARALLEL_BATCHES batches of records.
        use rayon::prelude::*;
        // Every exposure with its verdict, largest first. Keys are unique, so an unstable
        // sort gives one order.
        let mut order: Vec<(Ranked<'_>, Verdict)> = judged.exposures.clone();
        order.par_sort_unstable_by_key(|(r, _)| rank_of(&r.key, r.bytes_out, r.bytes_in, r.flows));
        for group in order.chunks(BATCH * PARALLEL_BATCHES) {
            let built: Vec<R> = group
                .par_chunks(BATCH)
                .map(|chunk| {
                    let batch: Vec<Exposure> = (chunk.iter())
                        .map(|(r, _)| self.exposure(&r.key, r.agg))
                        .collect();
                    let mut findings: Vec<Finding> = (batch.iter().zip(chunk))
                        .map(|(e, (_, v))| {
                            judge.exposure_finding(e, judged.decision(*v), v.waived_by)
                        })
                        .collect();
                    judge::sort(&mut findings);
                    render(&batch, &[], &[], &findings)
                })
                .collect();
            for made in built {
                f(made)?;
            }
        }
        f(render(&[], &self.devices, &[], &judged.devices))?;
        f(render(
            &[],
            &[],
            &self.indicator_matches,
            &judged.indicators,
        ))?;
        Ok(())
    }

    /// Writes the JSONL stream: exposures with their findings, devices with theirs,
    /// indicator matches with theirs, anomalies, the summary.
    pub fn write_jsonl(
        &self,
        judge: &Judge<'_>,
        judged: &Judged<'_, '_, Ranked<'_>>,
        out: &mut dyn Write,
    ) -> std::io::Result<()> {
        fn line(out: &mut Vec<u8>, r: RecordRef<'_>) -> std::io::Result<()> {
            serde_json::to_writer(&mut *out, &r)?;
            out.push(b'\n');
            Ok(())
        }
        let render = |exposures: &[Exposure],
                      devices: &[Device],
                      matches: &[IndicatorMatch],
                      findings: &[Finding]| {
            let mut buf = Vec::with_capacity(exposures.len() * 4096 + 1024);
            for e in exposures {
                line(&mut buf, RecordRef::Exposure(e))?;
            }
            for d in devices {
                line(&mut buf, RecordRef::Device(d))?;
            }
            for m in matches {
                line(&mut buf, RecordRef::IndicatorMatch(m))?;
            }
            for f in findings {
                line(&mut buf, RecordRef::Finding(f))?;
            }
            Ok::<_, std::io::Error>(buf)
        };
        self.for_each_batch(judge, judged, render, |buf| out.write_all(&buf?))?;
        let mut buf = Vec::new();
        for a in &self.anomalies {
            line(&mut buf, RecordRef::Anomaly(a))?;
        }
        line(&mut buf, RecordRef::Summary(&self.summary))?;
        out.write_all(&buf)?;
        out.flush()?;
        Ok(())
    }
}
