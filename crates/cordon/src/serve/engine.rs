//! The engine: one thread that takes the collectors' batches, runs them through the same
//! stages as `cordon scan` (names → attribute → aggregate → judge) and applies each
//! second's result to the store in one transaction.
//!
//! **Same engine, same answers.** A tick is a small scan: its observations go through a
//! [`Worker`] (attribution, aggregation, indicator matching), the scan's record builder
//! ([`Report`]) and the [`Judge`], exactly as a file scan's do; the store then adds the
//! tick's exposures to the totals. Each tick is judged by one snapshot, taken when the tick
//! starts, so a reload never gives a half-old, half-new answer.
//!
//! **Streaming.** A UDP collector's flows are attributed and aggregated as their batch
//! arrives, so a tick holds aggregates (one row per exposure), not a second of flows; a
//! follower's batches wait for the tick's end so the tick's DNS answers and TLS names name
//! them first.
//!
//! **Bounded.** Each collector's queue holds at most its `queue` batches ([`Queue`]); past
//! that a UDP collector drops the batch and counts it, and a follower waits (its file keeps
//! the data). Names from DNS and TLS persist across ticks (an answer comes before the flows
//! it names) up to [`MAX_NAMES`] addresses, then start afresh (counted).

use super::config::AlertConfig;
use super::stats::{now_ms, CollectorStats, DropReason};
use super::store::{Store, Tick};
use crate::judge::Judge;
use crate::scan::names::{Budget, NameIndex};
use crate::scan::output::Report;
use crate::scan::worker::Worker;
use crate::snapshot::Current;
use cordon_wire::{Observation, Sink};
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Addresses and connection ids with names kept across ticks.
pub const MAX_NAMES: usize = 1_000_000;

/// Observations taken into one tick at most; a tick closes early past this.
pub const MAX_TICK_OBSERVATIONS: usize = 2_000_000;

/// A decoded batch from one collector.
pub struct Ingest {
    pub collector: usize,
    pub observations: Vec<Observation>,
    /// The collector's state after this batch (templates, offsets), stored with the tick.
    pub state: Option<Vec<u8>>,
    pub queued_ms: i64,
    /// Where the emptied `observations` buffer goes back to.
    spares: Arc<Spares>,
}

/// Emptied batch buffers on their way back to the collector that filled them: a UDP
/// collector at 2 M flows/s fills ~500 batches of 4096 observations (512 KiB) a second,
/// and a fresh buffer for each costs page faults on the receive thread, the one thread
/// that must not stall (the socket buffer holds only some tens of milliseconds).
#[derive(Default)]
pub struct Spares(std::sync::Mutex<Vec<Vec<Observation>>>);

impl Spares {
    /// Buffers kept at most; the rest are freed.
    const KEEP: usize = 8;

    /// An empty buffer of at least `capacity`, reused when one is back.
    pub fn take(&self, capacity: usize) -> Vec<Observation> {
        let reused = self.0.lock().ok().and_then(|mut v| v.pop());
        match reused {
            Some(mut v) => {
                v.reserve(capacity);
                v
            }
            None => Vec::with_capacity(capacity),
        }
    }

    fn give(&self, mut v: Vec<Observation>) {
        v.clear();
        if let Ok(mut pool) = self.0.lock() {
            if pool.len() < Self::KEEP {
                pool.push(v);
            }
        }
    }
}

impl Ingest {
    /// Hands the emptied buffer back to its collector.
    fn recycle(&mut self) {
        let v = std::mem::take(&mut self.observations);
        self.spares.give(v);
    }
}

/// What a collector's decoder gives, gathered for the queue: observations kept, anomalies
/// counted by kind on the collector.
pub struct Batch<'s> {
    pub obs: Vec<Observation>,
    stats: &'s CollectorStats,
}

impl<'s> Batch<'s> {
    pub fn new(stats: &'s CollectorStats, capacity: usize) -> Batch<'s> {
        Batch {
            obs: Vec::with_capacity(capacity),
            stats,
        }
    }
}

impl Sink for Batch<'_> {
    fn observe(&mut self, o: Observation) {
        self.obs.push(o);
    }
    fn anomaly(&mut self, a: cordon_wire::Anomaly) {
        self.stats.anomaly(a.kind.as_str(), 1);
    }
}

/// A collector's end of the engine's channel, with its own bound.
#[derive(Clone)]
pub struct Queue {
    tx: Sender<Ingest>,
    pub stats: Arc<CollectorStats>,
    index: usize,
    cap: i64,
    pub spares: Arc<Spares>,
}

impl Queue {
    pub fn new(tx: Sender<Ingest>, stats: Arc<CollectorStats>, index: usize, cap: usize) -> Queue {
        Queue {
            tx,
            stats,
            index,
            cap: cap.max(1) as i64,
            spares: Arc::default(),
        }
    }

    fn push(&self, observations: Vec<Observation>, state: Option<Vec<u8>>) -> bool {
        let msg = Ingest {
            collector: self.index,
            observations,
            state,
            queued_ms: now_ms(),
            spares: self.spares.clone(),
        };
        if self.tx.send(msg).is_err() {
            self.stats.queue_depth.fetch_sub(1, Relaxed);
            return false;
        }
        true
    }

    /// Queues a batch unless the queue is full; a dropped batch is counted, observation by
    /// observation. Returns whether it was queued.
    pub fn try_send(&self, observations: Vec<Observation>, state: Option<Vec<u8>>) -> bool {
        let n = observations.len() as u64;
        if self.stats.queue_depth.fetch_add(1, Relaxed) >= self.cap {
            self.stats.queue_depth.fetch_sub(1, Relaxed);
            self.stats.dropped(DropReason::QueueFull, n);
            self.spares.give(observations);
            return false;
        }
        self.stats.flows_received.fetch_add(n, Relaxed);
        self.push(observations, state)
    }

    /// Queues a batch, waiting while the queue is full (followers: the file keeps the
    /// data). Gives up when `stop` is set.
    pub fn send_wait(
        &self,
        observations: Vec<Observation>,
        state: Option<Vec<u8>>,
        stop: &AtomicBool,
    ) -> bool {
        while self.stats.queue_depth.load(Relaxed) >= self.cap {
            if stop.load(Relaxed) {
                return false;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        self.stats
            .flows_received
            .fetch_add(observations.len() as u64, Relaxed);
        self.stats.queue_depth.fetch_add(1, Relaxed);
        self.push(observations, state)
    }
}

/// The engine's own counters (`/metrics`, `/api/v1/status`).
#[derive(Debug, Default)]
pub struct EngineStats {
    pub ticks: AtomicU64,
    pub observations: AtomicU64,
    pub flows: AtomicU64,
    pub exposures_written: AtomicU64,
    pub findings_new: AtomicU64,
    pub findings_reopened: AtomicU64,
    pub alerts_queued: AtomicU64,
    pub store_errors: AtomicU64,
    pub names_reset: AtomicU64,
    pub snapshot_generation: AtomicU64,
    /// Milliseconds the last tick took, from taking its first batch to its commit (at
    /// most about [`Engine::tick`] plus the tick's judging and write).
    pub last_tick_ms: AtomicU64,
}

pub struct Engine {
    pub current: Arc<Current>,
    pub store: Store,
    pub dests: Vec<AlertConfig>,
    pub collectors: Vec<Arc<CollectorStats>>,
    pub stats: Arc<EngineStats>,
    /// Wakes the alerter when a tick queued alerts.
    pub alerts: Arc<tokio::sync::Notify>,
    pub resolve_after: Duration,
    pub retention_days: u32,
    pub tick: Duration,
    names: NameIndex,
}

impl Engine {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        current: Arc<Current>,
        store: Store,
        dests: Vec<AlertConfig>,
        collectors: Vec<Arc<CollectorStats>>,
        stats: Arc<EngineStats>,
        alerts: Arc<tokio::sync::Notify>,
        resolve_after: Duration,
        retention_days: u32,
    ) -> Engine {
        Engine {
            current,
            store,
            dests,
            collectors,
            stats,
            alerts,
            resolve_after,
            retention_days,
            tick: Duration::from_secs(1),
            names: NameIndex::default(),
        }
    }

    /// Runs until every sender is gone, applying a tick every [`Engine::tick`]. The last
    /// tick is applied before it returns.
    pub fn run(mut self, rx: Receiver<Ingest>) {
        let mut last_sweep = Instant::now() - Duration::from_secs(3600);
        loop {
            let closed = self.tick(&rx);
            if last_sweep.elapsed() >= Duration::from_secs(60) {
                self.sweep();
                last_sweep = Instant::now();
            }
            if closed {
                return;
            }
        }
    }

    /// Lifecycle and retention: findings quiet for `resolve_after` are resolved, old
    /// buckets deleted.
    fn sweep(&mut self) {
        let now = now_ms();
        if let Err(e) = self
            .store
            .resolve_quiet(now, self.resolve_after.as_millis() as i64)
        {
            self.stats.store_errors.fetch_add(1, Relaxed);
            tracing::error!(error = %format!("{e:#}"), "cannot resolve quiet findings");
        }
        if let Err(e) = self.store.retain(now, self.retention_days) {
            self.stats.store_errors.fetch_add(1, Relaxed);
            tracing::error!(error = %format!("{e:#}"), "cannot apply retention");
        }
    }

    /// One tick: batches taken for up to [`Engine::tick`] and run through the scan's
    /// stages, then one transaction. Returns whether the channel is closed.
    ///
    /// A UDP collector's flows go through attribution and aggregation as their batch
    /// arrives (NetFlow and sFlow carry no names), so a tick holds its aggregates, not its
    /// flows. A follower's batches are held to the tick's end, after its DNS answers and
    /// TLS names are in the index, so the tick's names name the tick's flows as they
    /// would in `cordon scan` of the same lines; they close the tick early past
    /// [`MAX_TICK_OBSERVATIONS`].
    fn tick(&mut self, rx: &Receiver<Ingest>) -> bool {
        let snap = self.current.get();
        self.stats
            .snapshot_generation
            .store(snap.generation, Relaxed);
        let tick_len = self.tick;
        let collectors = &self.collectors;
        let names = &mut self.names;
        let mut worker = Worker::new(&snap.intel, names, &snap.internal, snap.matcher(), false);
        let mut held: Vec<Ingest> = Vec::new();
        let mut held_count = 0usize;
        let mut states: Vec<(String, Vec<u8>)> = Vec::new();
        let mut observations = 0u64;
        let mut started: Option<Instant> = None;
        let tick_start = Instant::now();
        let closed = loop {
            let left = tick_len.saturating_sub(tick_start.elapsed());
            if left.is_zero() {
                break false;
            }
            let mut i = match rx.recv_timeout(left) {
                Ok(i) => i,
                Err(RecvTimeoutError::Timeout) => break false,
                Err(RecvTimeoutError::Disconnected) => break true,
            };
            started.get_or_insert_with(Instant::now);
            let s = &collectors[i.collector];
            s.queue_depth.fetch_sub(1, Relaxed);
            s.taken_queued_ms.store(i.queued_ms, Relaxed);
            let n = i.observations.len() as u64;
            observations += n;
            s.flows_ingested.fetch_add(n, Relaxed);
            if let Some(st) = i.state.take() {
                match states.iter_mut().find(|(n, _)| *n == s.name) {
                    Some(slot) => slot.1 = st,
                    None => states.push((s.name.clone(), st)),
                }
            }
            if matches!(s.kind, "zeek" | "eve") {
                held_count += i.observations.len();
                held.push(i);
                if held_count >= MAX_TICK_OBSERVATIONS {
                    break false;
                }
            } else {
                for obs in i.observations.drain(..) {
                    worker.observe(obs);
                }
                i.recycle();
            }
        };
        let Some(started) = started else {
            return closed;
        };
        if !held.is_empty() {
            let gathered = worker.suspend();
            // Names first: a DNS answer or TLS name of this tick names its flows.
            let intel = &snap.intel;
            let budget = Budget::new(usize::MAX);
            for b in &held {
                for obs in &b.observations {
                    match obs {
                        Observation::Dns(d) => {
                            let matters = |ip: IpAddr, chain: &[&str]| {
                                (match ip {
                                    IpAddr::V4(a) => intel.may_be_of_concern_v4(u32::from(a)),
                                    IpAddr::V6(_) => true,
                                }) || chain.iter().any(|n| intel.lookup_domain(n).is_some())
                            };
                            names.add_dns_within(d, &matters, &budget)
                        }
                        Observation::Name(n) => names.add_server_name(n),
                        _ => {}
                    }
                }
            }
            worker = Worker::resume(&snap.intel, names, &snap.internal, gathered);
            for mut b in held {
                for obs in b.observations.drain(..) {
                    worker.observe(obs);
                }
                b.recycle();
            }
        }
        worker.flush();
        let Worker {
            agg,
            matcher,
            counters,
            ..
        } = worker;
        let now = now_ms();
        let stamp = crate::date::rfc3339_micros(now * 1000);
        let today = now.div_euclid(86_400_000);
        let mut report = Report::build(&snap.intel, &agg, Vec::new(), Vec::new(), false, stamp);
        report.indicator_matches = matcher.map(|m| m.finish()).unwrap_or_default();
        let judge = Judge::new(&snap.judge, today);
        let judged = judge.scan(
            report.exposure_facts(),
            &report.devices,
            &report.indicator_matches,
        );
        let mut tick = Tick {
            now_ms: now,
            states,
            ..Tick::default()
        };
        let collect = |e: &[crate::model::Exposure],
                       d: &[crate::model::Device],
                       m: &[crate::model::IndicatorMatch],
                       f: &[crate::model::Finding]| {
            (e.to_vec(), d.to_vec(), m.to_vec(), f.to_vec())
        };
        let _ = report.for_each_batch(&judge, &judged, collect, |(e, d, m, f)| {
            tick.exposures.extend(e);
            tick.devices.extend(d);
            tick.matches.extend(m);
            tick.findings.extend(f);
            Ok(())
        });
        drop(judged);
        drop(report);
        let flows = counters.flows_attributed + counters.flows_counted_only;
        match self.store.apply(&tick, &self.dests) {
            Ok(a) => {
                self.stats.findings_new.fetch_add(a.new, Relaxed);
                self.stats.findings_reopened.fetch_add(a.reopened, Relaxed);
                self.stats.alerts_queued.fetch_add(a.alerts, Relaxed);
                if a.alerts > 0 {
                    self.alerts.notify_one();
                }
                if a.new + a.reopened > 0 {
                    tracing::info!(
                        new = a.new,
                        reopened = a.reopened,
                        alerts = a.alerts,
                        "findings changed"
                    );
                }
            }
            Err(e) => {
                self.stats.store_errors.fetch_add(1, Relaxed);
                tracing::error!(error = %format!("{e:#}"), "cannot write the tick to the store");
            }
        }
        self.stats
            .exposures_written
            .fetch_add(tick.exposures.len() as u64, Relaxed);
        self.stats.observations.fetch_add(observations, Relaxed);
        self.stats.flows.fetch_add(flows, Relaxed);
        self.stats.ticks.fetch_add(1, Relaxed);
        if self.names.len() > MAX_NAMES {
            self.names = NameIndex::default();
            self.stats.names_reset.fetch_add(1, Relaxed);
            tracing::warn!(max = MAX_NAMES, "name index full: starting afresh");
        }
        self.stats
            .last_tick_ms
            .store(started.elapsed().as_millis() as u64, Relaxed);
        closed
    }
}
