//! `cordon serve`: the daemon (docs/serve.md).
//!
//! ```text
//! collectors (UDP NetFlow/IPFIX, sFlow; Zeek/EVE followers), one thread each
//!   └─ bounded queue per collector (UDP: full → dropped and counted; followers wait)
//!        └─ engine thread: names → Worker (attribute, aggregate) → Report → Judge, each second
//!             └─ SQLite (WAL), one transaction a tick: exposures per hour, devices, findings
//!                lifecycle, the alert outbox, collector state (templates, follower offsets)
//!                  └─ alerter (webhook, file, syslog) · HTTP API · /metrics
//! ```
//!
//! Start-up builds the snapshot and opens the store before any socket is bound, so a bad
//! configuration or intel file stops the daemon with a clear error and nothing half-runs.
//! `SIGHUP` and `POST /api/v1/reload` rebuild the snapshot aside and swap it whole;
//! `SIGTERM`/`SIGINT` stop the collectors, let the engine apply what they queued, and
//! close the store.

pub mod alert;
pub mod config;
pub mod dash;
pub mod engine;
pub mod follow;
pub mod http;
pub mod metrics;
pub mod stats;
pub mod store;
pub mod udp;

use crate::cli::ServeArgs;
use crate::snapshot::Current;
use crate::Outcome;
use anyhow::{Context, Result};
use config::Config;
use engine::{Engine, EngineStats, Ingest, Queue};
use stats::{lock, CollectorStats, DestinationStats};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

pub fn run(a: &ServeArgs) -> Result<Outcome> {
    if let Some(path) = &a.check_config {
        let cfg = Config::load(path)?;
        // The snapshot too: a configuration is only good if its files load.
        let snap = crate::snapshot::Snapshot::build(&cfg.snapshot(), 0)
            .with_context(|| format!("{}: [judge] or [intel] files do not load", path.display()))?;
        for w in snap.warnings() {
            anstream::eprintln!("cordon: warning: {}", crate::output::safe(&w));
        }
        for a in cfg.alert.iter().filter(|a| a.webhook.is_some()) {
            alert::WebhookAuth::load(a)
                .with_context(|| format!("{}: [[alert]] {}", path.display(), a.name()))?;
        }
        print!("{}", cfg.effective());
        anstream::eprintln!("cordon: {}: configuration is valid", path.display());
        return Ok(Outcome::Ok);
    }
    let path = a
        .config
        .as_deref()
        .context("give --config FILE (or --check-config FILE)")?;
    let cfg = Config::load(path)?;
    init_logs(a.log_format.as_deref());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .thread_name("cordon-serve")
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(serve(cfg, path.to_path_buf()))?;
    Ok(Outcome::Ok)
}

fn init_logs(format: Option<&str>) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_env("CORDON_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    let b = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    let _ = if format == Some("json") {
        b.json().try_init()
    } else {
        b.try_init()
    };
}

/// The collectors to start, with their names.
struct Plan {
    udp: Vec<(udp::Protocol, config::UdpCollector, String)>,
    follow: Vec<(follow::Kind, config::FollowCollector, String)>,
}

fn plan(cfg: &Config) -> Plan {
    let udp = (cfg
        .collect
        .netflow
        .iter()
        .map(|c| (udp::Protocol::NetFlow, c)))
    .chain(cfg.collect.sflow.iter().map(|c| (udp::Protocol::SFlow, c)))
    .map(|(p, c)| {
        let name = c
            .name
            .clone()
            .unwrap_or_else(|| format!("{}:{}", p.as_str(), c.listen));
        (p, c.clone(), name)
    })
    .collect();
    let follow = (cfg
        .collect
        .zeek
        .iter()
        .map(|c| (follow::Kind::Zeek, "zeek", c)))
    .chain(
        cfg.collect
            .eve
            .iter()
            .map(|c| (follow::Kind::Eve, "eve", c)),
    )
    .map(|(k, label, c)| {
        let name = c
            .name
            .clone()
            .unwrap_or_else(|| format!("{label}:{}", c.path.display()));
        (k, c.clone(), name)
    })
    .collect();
    Plan { udp, follow }
}

async fn serve(cfg: Config, config_path: PathBuf) -> Result<()> {
    let started = Instant::now();
    let snapshot_cfg = cfg.snapshot();
    let current = Arc::new(
        tokio::task::spawn_blocking(move || Current::new(snapshot_cfg))
            .await
            .context("snapshot task failed")??,
    );
    for w in current.get().warnings() {
        tracing::warn!("{w}");
    }
    let store = store::Store::open(&cfg.store.path)?;
    let db = store.path().to_path_buf();
    tracing::info!(store = %db.display(), "store open");
    let token = match &cfg.http.token_file {
        Some(p) => Some(read_token(p)?),
        None => None,
    };

    // Collectors: sockets bound and state read before anything runs.
    let plan = plan(&cfg);
    let (tx, rx) = mpsc::channel::<Ingest>();
    let stop = Arc::new(AtomicBool::new(false));
    let mut collector_stats: Vec<Arc<CollectorStats>> = Vec::new();
    let mut threads = Vec::new();
    for (proto, c, name) in &plan.udp {
        let sock = udp::bind(c.listen, c.receive_buffer).with_context(|| {
            format!(
                "[[collect.{}]] cannot listen on {}",
                proto.as_str(),
                c.listen
            )
        })?;
        let st = Arc::new(CollectorStats::new(name.clone(), proto.as_str()));
        let queue = Queue::new(tx.clone(), st.clone(), collector_stats.len(), c.queue);
        collector_stats.push(st);
        let saved = store.collector_state(name)?;
        let (decoder, warning) = udp::Decoder::new(*proto, saved.as_deref());
        if let Some(w) = warning {
            tracing::warn!(collector = %name, "{w}");
        } else if saved.is_some() {
            tracing::info!(collector = %name, "templates restored from the store");
        }
        let stop = stop.clone();
        tracing::info!(collector = %name, listen = %c.listen, "collecting");
        threads.push(
            std::thread::Builder::new()
                .name(format!("collect-{}", proto.as_str()))
                .spawn(move || udp::run(sock, decoder, queue, stop))?,
        );
    }
    for (kind, c, name) in &plan.follow {
        let st = Arc::new(CollectorStats::new(
            name.clone(),
            if *kind == follow::Kind::Zeek {
                "zeek"
            } else {
                "eve"
            },
        ));
        let queue = Queue::new(tx.clone(), st.clone(), collector_stats.len(), c.queue);
        collector_stats.push(st);
        let saved = store.collector_state(name)?;
        let resume = match saved
            .as_deref()
            .map(serde_json::from_slice::<follow::FollowState>)
        {
            Some(Ok(s)) => Some(s),
            Some(Err(e)) => {
                tracing::warn!(collector = %name, error = %e, "stored offsets not readable: following from the start");
                None
            }
            None => None,
        };
        let follower = follow::Follower::new(&c.path, *kind, resume);
        let stop = stop.clone();
        let poll = Duration::from_millis(c.poll_ms.max(10));
        tracing::info!(collector = %name, path = %c.path.display(), "following");
        threads.push(
            std::thread::Builder::new()
                .name("collect-follow".into())
                .spawn(move || follow_loop(follower, queue, poll, stop))?,
        );
    }

    // Alert destinations.
    let dest_stats: Vec<Arc<DestinationStats>> = cfg
        .alert
        .iter()
        .map(|a| Arc::new(DestinationStats::new(a.name())))
        .collect();
    let notify = Arc::new(tokio::sync::Notify::new());
    let (stop_alerts, alerts_stopped) = tokio::sync::watch::channel(false);
    let alerter = alert::Alerter::new(&db, cfg.alert.clone(), dest_stats.clone())?;
    let alert_task = tokio::spawn(alerter.run(notify.clone(), alerts_stopped));

    // The engine.
    let engine_stats = Arc::new(EngineStats::default());
    let engine = Engine::new(
        current.clone(),
        store,
        cfg.alert.clone(),
        collector_stats.clone(),
        engine_stats.clone(),
        notify.clone(),
        Duration::from_secs(cfg.lifecycle.resolve_after_secs),
        cfg.store.retention_days,
    );
    let engine_thread = std::thread::Builder::new()
        .name("cordon-engine".into())
        .spawn(move || engine.run(rx))?;

    // Reload: the configuration's [judge] and [intel] read again, the snapshot rebuilt aside.
    let reloads: Arc<Mutex<http::ReloadLog>> = Arc::new(Mutex::new(http::ReloadLog::default()));
    let reload = {
        let current = current.clone();
        let path = config_path.clone();
        let log = reloads.clone();
        move || -> Result<u64, String> { reload_snapshot(&current, &path, &log) }
    };
    let reload = Arc::new(reload);
    let app = Arc::new(http::App {
        db: db.clone(),
        pool: Mutex::new(Vec::new()),
        current: current.clone(),
        reload: {
            let r = reload.clone();
            Box::new(move || r())
        },
        collectors: collector_stats.clone(),
        destinations: dest_stats,
        engine: engine_stats,
        started,
        started_ms: stats::now_ms(),
        token,
        rate_limit: cfg.http.rate_limit,
        buckets: Mutex::new(Default::default()),
        reloads,
        dash: dash::DashState::new(cfg.lifecycle.resolve_after_secs),
    });
    let listener = tokio::net::TcpListener::bind(cfg.http.listen)
        .await
        .with_context(|| format!("[http] cannot listen on {}", cfg.http.listen))?;
    tracing::info!(listen = %cfg.http.listen, "API, dashboard and /metrics");
    let router = http::router(app.clone(), cfg.http.body_limit);
    let (stop_http, http_stopped) = tokio::sync::watch::channel(false);
    let server = tokio::spawn(async move {
        let mut rx = http_stopped;
        axum::serve(
            listener,
            router.into_make_service_with_connect_info::<std::net::SocketAddr>(),
        )
        .with_graceful_shutdown(async move {
            let _ = rx.wait_for(|s| *s).await;
        })
        .await
    });

    // Signals: HUP reloads, TERM/INT stop.
    use tokio::signal::unix::{signal, SignalKind};
    let mut hup = signal(SignalKind::hangup())?;
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    loop {
        tokio::select! {
            _ = hup.recv() => {
                let r = reload.clone();
                tokio::task::spawn_blocking(move || r());
            }
            _ = term.recv() => { tracing::info!("SIGTERM: stopping"); break; }
            _ = int.recv() => { tracing::info!("SIGINT: stopping"); break; }
        }
    }
    // Stop order: collectors (their last batches queued), the engine (applies them and
    // returns when every queue is gone), then the alerter and the API.
    stop.store(true, Relaxed);
    for t in threads {
        let _ = t.join();
    }
    drop(tx);
    let _ = tokio::task::spawn_blocking(move || engine_thread.join()).await;
    tracing::info!("store flushed");
    let _ = stop_alerts.send(true);
    let _ = stop_http.send(true);
    let _ = tokio::time::timeout(Duration::from_secs(10), alert_task).await;
    let _ = tokio::time::timeout(Duration::from_secs(5), server).await;
    tracing::info!("stopped");
    Ok(())
}

fn reload_snapshot(
    current: &Current,
    config_path: &Path,
    log: &Mutex<http::ReloadLog>,
) -> Result<u64, String> {
    let t0 = Instant::now();
    let result = Config::load(config_path)
        .map_err(|e| format!("{e:#}"))
        .and_then(|c| {
            current
                .reload(Some(c.snapshot()))
                .map_err(|e| format!("{e:#}"))
        });
    let mut l = lock(log);
    l.last_at = Some(crate::date::now_rfc3339());
    match result {
        Ok(s) => {
            l.ok += 1;
            l.last_error = None;
            l.last_ms = Some(t0.elapsed().as_millis() as u64);
            tracing::info!(
                generation = s.generation,
                took_ms = t0.elapsed().as_millis() as u64,
                "snapshot reloaded"
            );
            Ok(s.generation)
        }
        Err(e) => {
            l.failed += 1;
            l.last_error = Some(e.clone());
            tracing::error!(error = %e, "reload refused: the running snapshot stays");
            Err(e)
        }
    }
}

/// Polls a follower until `stop`, handing its batches and offsets to the engine.
fn follow_loop(mut f: follow::Follower, queue: Queue, every: Duration, stop: Arc<AtomicBool>) {
    let mut last_state = f.state();
    while !stop.load(Relaxed) {
        let mut sink = engine::Batch::new(&queue.stats, 0);
        let p = f.poll(&mut sink);
        let state = f.state();
        let name = &queue.stats.name;
        for e in &p.errors {
            tracing::warn!(collector = %name, "{e}");
        }
        if p.rotations + p.truncations + p.lost > 0 {
            tracing::info!(collector = %name, rotations = p.rotations, truncations = p.truncations, lost = p.lost, "log files rotated or truncated");
        }
        if p.lines > 0 {
            queue.stats.units_received.fetch_add(p.lines, Relaxed);
            queue.stats.offset.fetch_add(p.bytes, Relaxed);
            queue.stats.last_received_ms.store(stats::now_ms(), Relaxed);
        }
        if state != last_state || !sink.obs.is_empty() {
            let blob = serde_json::to_vec(&state).ok();
            if !queue.send_wait(sink.obs, blob, &stop) {
                break;
            }
            last_state = state;
        }
        if p.bytes == 0 && !p.more {
            std::thread::sleep(every);
        }
    }
}

fn read_token(p: &Path) -> Result<String> {
    let t = crate::error::FileError::read(p)?;
    let t = t.trim().to_string();
    if t.len() < 16 {
        anyhow::bail!(
            "{}: the API token must be at least 16 characters",
            p.display()
        );
    }
    Ok(t)
}
