//! `cordon serve`: the daemon (docs/serve.md).
//!
//! ```text
//! collectors (UDP NetFlow/IPFIX, sFlow; Zeek/EVE followers)
//!   └─ bounded queue per collector (full: dropped and counted)
//!        └─ engine thread: Worker (attribute, aggregate) → every second: judge → store
//!             └─ SQLite (WAL): exposures per hour, devices, findings lifecycle, alert outbox,
//!                collector state (templates, follower offsets)
//!                  └─ alerter (webhook, file, syslog), HTTP API, /metrics
//! ```

pub mod alert;
pub mod config;
pub mod follow;
pub mod stats;
