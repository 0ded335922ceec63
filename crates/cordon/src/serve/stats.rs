//! Counters the collectors, the engine and the alerter share with `/metrics` and
//! `/api/v1/status`: atomics, written by one task and read by the HTTP server.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};
use std::sync::Mutex;

/// Why a record was dropped (the `reason` label).
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum DropReason {
    /// The collector's queue to the engine was full.
    QueueFull,
    /// The datagram or line could not be decoded at all.
    Undecodable,
}

impl DropReason {
    pub fn as_str(self) -> &'static str {
        match self {
            DropReason::QueueFull => "queue-full",
            DropReason::Undecodable => "undecodable",
        }
    }
}

/// One collector's counters.
#[derive(Debug)]
pub struct CollectorStats {
    /// `netflow:127.0.0.1:2055`, or the configured name.
    pub name: String,
    /// `netflow`, `sflow`, `zeek`, `eve`.
    pub kind: &'static str,
    /// Flows (and other observations) decoded and queued to the engine; with the dropped
    /// ones, every observation decoded.
    pub flows_received: AtomicU64,
    /// Datagrams (UDP) or lines (followers) read.
    pub units_received: AtomicU64,
    /// Observations the engine has taken in.
    pub flows_ingested: AtomicU64,
    dropped: Mutex<BTreeMap<DropReason, u64>>,
    anomalies: Mutex<BTreeMap<&'static str, u64>>,
    /// Batches waiting in the queue.
    pub queue_depth: AtomicI64,
    /// Unix milliseconds at which the batch the engine took last was queued (0: none
    /// taken yet): every waiting batch was queued after it.
    pub taken_queued_ms: AtomicI64,
    /// Unix milliseconds at start, the lag's floor before any batch was taken.
    started_ms: i64,
    /// Unix milliseconds of the last unit received (0: none yet).
    pub last_received_ms: AtomicI64,
    /// Follower: bytes of complete lines read since start.
    pub offset: AtomicU64,
    /// UDP: datagrams the kernel dropped because the socket buffer was full (from
    /// `/proc/net/udp`, Linux).
    pub kernel_drops: AtomicU64,
}

impl CollectorStats {
    pub fn new(name: String, kind: &'static str) -> CollectorStats {
        CollectorStats {
            name,
            kind,
            flows_received: AtomicU64::new(0),
            units_received: AtomicU64::new(0),
            flows_ingested: AtomicU64::new(0),
            dropped: Mutex::new(BTreeMap::new()),
            anomalies: Mutex::new(BTreeMap::new()),
            queue_depth: AtomicI64::new(0),
            taken_queued_ms: AtomicI64::new(0),
            started_ms: now_ms(),
            last_received_ms: AtomicI64::new(0),
            offset: AtomicU64::new(0),
            kernel_drops: AtomicU64::new(0),
        }
    }

    pub fn dropped(&self, reason: DropReason, n: u64) {
        if n > 0 {
            *lock(&self.dropped).entry(reason).or_default() += n;
        }
    }

    pub fn anomaly(&self, kind: &'static str, n: u64) {
        if n > 0 {
            *lock(&self.anomalies).entry(kind).or_default() += n;
        }
    }

    pub fn drops(&self) -> Vec<(&'static str, u64)> {
        lock(&self.dropped)
            .iter()
            .map(|(r, n)| (r.as_str(), *n))
            .collect()
    }

    pub fn dropped_total(&self) -> u64 {
        lock(&self.dropped).values().sum()
    }

    pub fn anomaly_counts(&self) -> Vec<(&'static str, u64)> {
        lock(&self.anomalies)
            .iter()
            .map(|(k, n)| (*k, *n))
            .collect()
    }

    /// How long the oldest waiting batch has waited, at most (0 with an empty queue): it
    /// was queued after the batch the engine took last.
    pub fn lag_seconds(&self, now_ms: i64) -> f64 {
        if self.queue_depth.load(Relaxed) <= 0 {
            return 0.0;
        }
        let since = match self.taken_queued_ms.load(Relaxed) {
            0 => self.started_ms,
            t => t,
        };
        (now_ms - since).max(0) as f64 / 1e3
    }
}

/// One alert destination's counters.
#[derive(Debug)]
pub struct DestinationStats {
    pub name: String,
    pub sent: AtomicU64,
    pub failed: AtomicU64,
    /// Alerts folded into digests by the rate limit.
    pub digested: AtomicU64,
}

impl DestinationStats {
    pub fn new(name: String) -> DestinationStats {
        DestinationStats {
            name,
            sent: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            digested: AtomicU64::new(0),
        }
    }
}

/// A poisoned lock still holds good counts (a panic elsewhere cannot make them wrong).
pub fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Unix milliseconds now.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}
