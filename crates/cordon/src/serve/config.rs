//! `cordon.toml`: the daemon's configuration (docs/serve.md). Every table and key is
//! checked: an unknown key is an error that names it, so a typo never silently turns a
//! feature off.

use crate::model::Severity;
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub store: StoreConfig,
    #[serde(default)]
    pub http: HttpConfig,
    #[serde(default)]
    pub collect: CollectConfig,
    #[serde(default)]
    pub judge: JudgeConfig,
    #[serde(default)]
    pub lifecycle: LifecycleConfig,
    #[serde(default)]
    pub alert: Vec<AlertConfig>,
    /// `--intel-dir` and `--data-dir` of the other commands.
    #[serde(default)]
    pub intel: IntelConfig,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct StoreConfig {
    /// Folder of the SQLite database (`cordon.db`) and its WAL.
    #[serde(default = "default_store_path")]
    pub path: PathBuf,
    /// Hourly exposure buckets and finding days older than this are deleted.
    #[serde(default = "default_retention_days")]
    pub retention_days: u32,
}

fn default_store_path() -> PathBuf {
    PathBuf::from("var/cordon")
}
fn default_retention_days() -> u32 {
    90
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            path: default_store_path(),
            retention_days: default_retention_days(),
        }
    }
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct HttpConfig {
    /// API, dashboard and `/metrics`. Loopback unless a token file is given.
    #[serde(default = "default_listen")]
    pub listen: SocketAddr,
    /// A file holding the bearer token every API call must present; required when
    /// `listen` is not a loopback address.
    #[serde(default)]
    pub token_file: Option<PathBuf>,
    /// Largest request body accepted, bytes.
    #[serde(default = "default_body_limit")]
    pub body_limit: usize,
    /// Requests per second accepted per client address (a burst of as many is allowed).
    #[serde(default = "default_rate_limit")]
    pub rate_limit: u32,
}

fn default_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 8470))
}
fn default_body_limit() -> usize {
    64 * 1024
}
fn default_rate_limit() -> u32 {
    50
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            listen: default_listen(),
            token_file: None,
            body_limit: default_body_limit(),
            rate_limit: default_rate_limit(),
        }
    }
}

#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CollectConfig {
    #[serde(default)]
    pub netflow: Vec<UdpCollector>,
    #[serde(default)]
    pub sflow: Vec<UdpCollector>,
    #[serde(default)]
    pub zeek: Vec<FollowCollector>,
    #[serde(default)]
    pub eve: Vec<FollowCollector>,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct UdpCollector {
    pub listen: SocketAddr,
    /// A name for metrics and the API; default `netflow:<listen>`.
    #[serde(default)]
    pub name: Option<String>,
    /// Decoded batches waiting for the engine; past this, batches are dropped and counted.
    #[serde(default = "default_queue")]
    pub queue: usize,
    /// Socket receive buffer asked of the kernel, bytes.
    #[serde(default = "default_rcvbuf")]
    pub receive_buffer: usize,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct FollowCollector {
    /// A log file, or a folder of Zeek logs (`current/`).
    pub path: PathBuf,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default = "default_queue")]
    pub queue: usize,
    /// How often the file is looked at for new lines, milliseconds.
    #[serde(default = "default_poll_ms")]
    pub poll_ms: u64,
}

fn default_queue() -> usize {
    1024
}
fn default_rcvbuf() -> usize {
    8 << 20
}
fn default_poll_ms() -> u64 {
    250
}

/// The options of `cordon scan` that decide answers.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct JudgeConfig {
    #[serde(default)]
    pub internal: Option<Vec<ipnet::IpNet>>,
    #[serde(default)]
    pub assets: Option<PathBuf>,
    #[serde(default)]
    pub policy: Option<PathBuf>,
    #[serde(default)]
    pub waivers: Option<PathBuf>,
    #[serde(default)]
    pub indicators: Vec<PathBuf>,
    #[serde(default)]
    pub indicator_subdomains: bool,
}

#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct IntelConfig {
    #[serde(default)]
    pub intel_dir: Option<PathBuf>,
    #[serde(default)]
    pub data_dir: Option<PathBuf>,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct LifecycleConfig {
    /// A finding with no traffic for this long is `resolved`, seconds (default 24 h).
    #[serde(default = "default_resolve_after")]
    pub resolve_after_secs: u64,
}

fn default_resolve_after() -> u64 {
    24 * 3600
}

impl Default for LifecycleConfig {
    fn default() -> Self {
        LifecycleConfig {
            resolve_after_secs: default_resolve_after(),
        }
    }
}

/// One `[[alert]]` destination: exactly one of `webhook`, `file`, `syslog`.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AlertConfig {
    /// JSON POST to this URL (http or https), retried with backoff.
    #[serde(default)]
    pub webhook: Option<String>,
    /// Append one JSON line per alert to this file.
    #[serde(default)]
    pub file: Option<PathBuf>,
    /// RFC 5424 to the local syslog socket.
    #[serde(default)]
    pub syslog: Option<bool>,
    /// The syslog socket (default `/dev/log`).
    #[serde(default)]
    pub syslog_socket: Option<PathBuf>,
    /// Findings below this severity are not sent (default `high`).
    #[serde(default = "default_min_severity")]
    pub min_severity: Severity,
    /// Alerts per minute to this destination; past it, one digest per minute.
    #[serde(default = "default_alert_rate")]
    pub rate_per_minute: u32,
    /// A name for metrics (`cordon_alerts_sent_total{destination}`); default from the
    /// destination (`webhook:host:port`, `file:name`, `syslog`).
    #[serde(default)]
    pub name: Option<String>,
    /// Webhook: a file of extra request headers, one `Name: value` a line (`#` comments),
    /// for receivers that want a token (`Authorization: Bearer …`, `Authorization: Splunk …`).
    /// Kept out of this file so the configuration can be shown; never logged.
    #[serde(default)]
    pub headers_file: Option<PathBuf>,
    /// Webhook: a file holding a shared key; each POST then carries
    /// `X-Cordon-Signature-256: sha256=<hex HMAC-SHA256 of the body>`.
    #[serde(default)]
    pub secret_file: Option<PathBuf>,
    /// Seconds before a webhook attempt is abandoned and retried.
    #[serde(default = "default_alert_timeout")]
    pub timeout_secs: u64,
}

fn default_min_severity() -> Severity {
    Severity::High
}
fn default_alert_rate() -> u32 {
    20
}
fn default_alert_timeout() -> u64 {
    10
}

impl AlertConfig {
    /// The destination's name in metrics and the API.
    pub fn name(&self) -> String {
        if let Some(n) = &self.name {
            return n.clone();
        }
        if let Some(u) = &self.webhook {
            let host = u
                .split_once("://")
                .map_or(u.as_str(), |(_, r)| r)
                .split(['/', '?', '#'])
                .next()
                .unwrap_or("")
                .rsplit('@')
                .next()
                .unwrap_or("");
            return format!("webhook:{host}");
        }
        if let Some(f) = &self.file {
            return format!("file:{}", f.display());
        }
        "syslog".to_string()
    }
}

impl Config {
    /// Reads and checks `path`; relative paths inside are taken from the file's folder.
    pub fn load(path: &Path) -> anyhow::Result<Config> {
        let text = crate::error::FileError::read(path)?;
        let mut c: Config = toml::from_str(&text)
            .map_err(|e| anyhow::anyhow!("{}: {}", path.display(), e.message()))
            .map_err(|e| {
                e.context(format!(
                    "{}: not a valid cordon serve configuration",
                    path.display()
                ))
            })?;
        let base = path.parent().unwrap_or(Path::new("."));
        c.resolve(base);
        c.check()
            .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        Ok(c)
    }

    fn resolve(&mut self, base: &Path) {
        let fix = |p: &mut PathBuf| {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        };
        fix(&mut self.store.path);
        if let Some(p) = self.http.token_file.as_mut() {
            fix(p)
        }
        for z in self.collect.zeek.iter_mut().chain(&mut self.collect.eve) {
            fix(&mut z.path)
        }
        let j = &mut self.judge;
        for p in [&mut j.assets, &mut j.policy, &mut j.waivers]
            .into_iter()
            .flatten()
        {
            fix(p)
        }
        j.indicators.iter_mut().for_each(fix);
        for p in [&mut self.intel.intel_dir, &mut self.intel.data_dir]
            .into_iter()
            .flatten()
        {
            fix(p)
        }
        for a in &mut self.alert {
            for p in [&mut a.file, &mut a.headers_file, &mut a.secret_file]
                .into_iter()
                .flatten()
            {
                fix(p)
            }
        }
    }

    /// The rules no type can say.
    pub fn check(&self) -> Result<(), String> {
        if !self.http.listen.ip().is_loopback() && self.http.token_file.is_none() {
            return Err(format!(
                "[http] listen = \"{}\" is not a loopback address: set token_file, or listen on 127.0.0.1",
                self.http.listen
            ));
        }
        if self.store.retention_days == 0 {
            return Err("[store] retention_days must be at least 1".into());
        }
        let mut seen = std::collections::BTreeSet::new();
        for (kind, u) in (self.collect.netflow.iter().map(|u| ("netflow", u)))
            .chain(self.collect.sflow.iter().map(|u| ("sflow", u)))
        {
            if !seen.insert(u.listen) {
                return Err(format!(
                    "[[collect.{kind}]] listen = \"{}\" is used twice",
                    u.listen
                ));
            }
            if u.queue == 0 {
                return Err(format!("[[collect.{kind}]] queue must be at least 1"));
            }
        }
        for (i, a) in self.alert.iter().enumerate() {
            let n = [
                a.webhook.is_some(),
                a.file.is_some(),
                a.syslog == Some(true),
            ]
            .iter()
            .filter(|b| **b)
            .count();
            if n != 1 {
                return Err(format!(
                    "[[alert]] number {}: give exactly one of webhook, file or syslog = true",
                    i + 1
                ));
            }
            if let Some(u) = &a.webhook {
                if !(u.starts_with("http://") || u.starts_with("https://")) {
                    return Err(format!(
                        "[[alert]] webhook = \"{u}\": only http:// and https:// URLs"
                    ));
                }
            }
            if a.webhook.is_none() && (a.headers_file.is_some() || a.secret_file.is_some()) {
                return Err(format!(
                    "[[alert]] {}: headers_file and secret_file are for webhooks",
                    a.name()
                ));
            }
            if a.rate_per_minute == 0 {
                return Err(format!(
                    "[[alert]] {}: rate_per_minute must be at least 1",
                    a.name()
                ));
            }
        }
        let names: Vec<String> = self.alert.iter().map(AlertConfig::name).collect();
        for (i, n) in names.iter().enumerate() {
            if names[..i].contains(n) {
                return Err(format!(
                    "[[alert]] two destinations are named {n:?}: give one a name"
                ));
            }
        }
        Ok(())
    }

    /// The snapshot the daemon judges by.
    pub fn snapshot(&self) -> crate::snapshot::SnapshotConfig {
        crate::snapshot::SnapshotConfig {
            intel_dir: self.intel.intel_dir.clone(),
            data_dir: (self.intel.data_dir.clone()).or_else(crate::intel::store::default_data_dir),
            indicators: self.judge.indicators.clone(),
            indicator_subdomains: self.judge.indicator_subdomains,
            internal: self.judge.internal.clone(),
            findings: crate::findings::FindingOptions {
                assets: self.judge.assets.clone(),
                policy: self.judge.policy.clone(),
                waivers: self.judge.waivers.clone(),
                fail_on: None,
            },
        }
    }

    /// The effective configuration, every default filled in (`--check-config`).
    pub fn effective(&self) -> String {
        toml::to_string_pretty(self).unwrap_or_else(|e| format!("# cannot print: {e}\n"))
    }
}
