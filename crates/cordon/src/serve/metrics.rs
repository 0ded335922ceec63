//! `/metrics`: Prometheus text exposition (version 0.0.4), written by hand: a dozen
//! families do not need a registry crate.

use super::http::App;
use std::fmt::Write;
use std::sync::atomic::Ordering::Relaxed;

/// Escapes a label value (backslash, quote, newline).
fn label(v: &str) -> String {
    let mut s = String::with_capacity(v.len());
    for c in v.chars() {
        match c {
            '\\' => s.push_str("\\\\"),
            '"' => s.push_str("\\\""),
            '\n' => s.push_str("\\n"),
            c => s.push(c),
        }
    }
    s
}

struct Out(String);

impl Out {
    fn family(&mut self, name: &str, kind: &str, help: &str) {
        let _ = writeln!(self.0, "# HELP {name} {help}");
        let _ = writeln!(self.0, "# TYPE {name} {kind}");
    }
    fn sample(&mut self, name: &str, labels: &[(&str, &str)], v: impl std::fmt::Display) {
        self.0.push_str(name);
        if !labels.is_empty() {
            self.0.push('{');
            for (i, (k, val)) in labels.iter().enumerate() {
                if i > 0 {
                    self.0.push(',');
                }
                let _ = write!(self.0, "{k}=\"{}\"", label(val));
            }
            self.0.push('}');
        }
        let _ = writeln!(self.0, " {v}");
    }
}

/// The exposition: collectors, engine, findings (`(severity, status, count)` rows from the
/// store), alerts and snapshot ages.
pub fn render(app: &App, findings: &[(String, String, i64)], exposures: i64) -> String {
    let mut o = Out(String::with_capacity(4096));
    let now = super::stats::now_ms();
    o.family(
        "cordon_flows_received_total",
        "counter",
        "Flows and other observations decoded and queued to the engine.",
    );
    for c in &app.collectors {
        o.sample(
            "cordon_flows_received_total",
            &[("collector", &c.name)],
            c.flows_received.load(Relaxed),
        );
    }
    o.family(
        "cordon_units_received_total",
        "counter",
        "Datagrams (UDP collectors) or lines (followers) read.",
    );
    for c in &app.collectors {
        o.sample(
            "cordon_units_received_total",
            &[("collector", &c.name)],
            c.units_received.load(Relaxed),
        );
    }
    o.family("cordon_records_dropped_total", "counter", "Records dropped, by reason (queue-full: the engine could not keep up; undecodable: a datagram that is not an export). Kernel drops are cordon_datagrams_dropped_kernel_total.");
    for c in &app.collectors {
        for reason in ["queue-full", "undecodable"] {
            let n = c
                .drops()
                .into_iter()
                .find(|(r, _)| *r == reason)
                .map_or(0, |x| x.1);
            o.sample(
                "cordon_records_dropped_total",
                &[("collector", &c.name), ("reason", reason)],
                n,
            );
        }
    }
    o.family("cordon_datagrams_dropped_kernel_total", "counter", "UDP datagrams the kernel dropped because the socket buffer was full (raise receive_buffer and net.core.rmem_max).");
    for c in app
        .collectors
        .iter()
        .filter(|c| c.kind == "netflow" || c.kind == "sflow")
    {
        o.sample(
            "cordon_datagrams_dropped_kernel_total",
            &[("collector", &c.name)],
            c.kernel_drops.load(Relaxed),
        );
    }
    o.family(
        "cordon_decode_anomalies_total",
        "counter",
        "Malformed records, by kind.",
    );
    for c in &app.collectors {
        for (kind, n) in c.anomaly_counts() {
            o.sample(
                "cordon_decode_anomalies_total",
                &[("collector", &c.name), ("kind", kind)],
                n,
            );
        }
    }
    o.family(
        "cordon_queue_depth",
        "gauge",
        "Batches waiting for the engine.",
    );
    for c in &app.collectors {
        o.sample(
            "cordon_queue_depth",
            &[("collector", &c.name)],
            c.queue_depth.load(Relaxed).max(0),
        );
    }
    o.family(
        "cordon_ingest_lag_seconds",
        "gauge",
        "How long the oldest waiting batch has waited (0 with an empty queue).",
    );
    for c in &app.collectors {
        o.sample(
            "cordon_ingest_lag_seconds",
            &[("collector", &c.name)],
            c.lag_seconds(now),
        );
    }
    o.family(
        "cordon_exposures",
        "gauge",
        "Exposures in the store: (asset, company, relationship).",
    );
    o.sample("cordon_exposures", &[], exposures);
    o.family(
        "cordon_findings",
        "gauge",
        "Findings in the store by severity and lifecycle status.",
    );
    for sev in crate::model::Severity::ALL {
        for st in super::store::Status::ALL {
            let n = findings
                .iter()
                .find(|(s, t, _)| s == sev.as_str() && t == st.as_str())
                .map_or(0, |x| x.2);
            o.sample(
                "cordon_findings",
                &[("severity", sev.as_str()), ("status", st.as_str())],
                n,
            );
        }
    }
    o.family(
        "cordon_alerts_sent_total",
        "counter",
        "Alerts delivered, by destination.",
    );
    for d in &app.destinations {
        o.sample(
            "cordon_alerts_sent_total",
            &[("destination", &d.name)],
            d.sent.load(Relaxed),
        );
    }
    o.family(
        "cordon_alerts_failed_total",
        "counter",
        "Failed delivery attempts (each is retried), by destination.",
    );
    for d in &app.destinations {
        o.sample(
            "cordon_alerts_failed_total",
            &[("destination", &d.name)],
            d.failed.load(Relaxed),
        );
    }
    o.family(
        "cordon_alerts_digested_total",
        "counter",
        "Alerts folded into a digest by the rate limit.",
    );
    for d in &app.destinations {
        o.sample(
            "cordon_alerts_digested_total",
            &[("destination", &d.name)],
            d.digested.load(Relaxed),
        );
    }
    let snap = app.current.get();
    o.family(
        "cordon_snapshot_age_seconds",
        "gauge",
        "Age of each intel dataset in the running snapshot, from its date.",
    );
    for d in &snap.intel.datasets {
        if let Some(days) = crate::date::parse_days(&d.date) {
            o.sample(
                "cordon_snapshot_age_seconds",
                &[("dataset", &d.id)],
                (now / 1000 - days * 86_400).max(0),
            );
        }
    }
    o.family(
        "cordon_snapshot_generation",
        "gauge",
        "Snapshots built since start (0: the first).",
    );
    o.sample("cordon_snapshot_generation", &[], snap.generation);
    let e = &app.engine;
    o.family(
        "cordon_engine_ticks_total",
        "counter",
        "Ticks applied to the store.",
    );
    o.sample("cordon_engine_ticks_total", &[], e.ticks.load(Relaxed));
    o.family(
        "cordon_engine_flows_total",
        "counter",
        "Flows the engine attributed or counted.",
    );
    o.sample("cordon_engine_flows_total", &[], e.flows.load(Relaxed));
    o.family(
        "cordon_store_errors_total",
        "counter",
        "Ticks or sweeps the store could not write.",
    );
    o.sample(
        "cordon_store_errors_total",
        &[],
        e.store_errors.load(Relaxed),
    );
    o.family(
        "cordon_engine_last_tick_milliseconds",
        "gauge",
        "Time the last tick took.",
    );
    o.sample(
        "cordon_engine_last_tick_milliseconds",
        &[],
        e.last_tick_ms.load(Relaxed),
    );
    o.family("cordon_uptime_seconds", "gauge", "Seconds since start.");
    o.sample(
        "cordon_uptime_seconds",
        &[],
        app.started.elapsed().as_secs(),
    );
    o.0
}
