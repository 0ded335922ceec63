//! cordon-wire: bytes to observations.
//!
//! Pure decoders for the telemetry cordon reads: packet captures, flow exports and text logs.
//! **Every entry point borrows its input, checks lengths against named caps before slicing,
//! does no I/O, and never panics**; bad records become [`obs::Anomaly`]s with byte offsets.
//! Each entry point has a cargo-fuzz target in `fuzz/`.

// Decoders and indexes hold no `unsafe` (the workspace denies it; only the mapping of
// input files in the `cordon` crate is allowed it).
#![forbid(unsafe_code)]
// No input can break a decoder (review R13): no unwrap, expect, panic or unreachable outside
// tests, so the only way out of a decoder is its return value.
#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::unreachable
)]
#![cfg_attr(
    test,
    allow(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::unreachable
    )
)]

pub mod obs;

// Packet captures (owner: capture decoders).
pub mod capture;
pub mod dhcp;
pub mod dns;
pub mod flowtable;
pub mod packet;
pub mod tls;

// Flow exports (owner: flow-export decoders).
pub mod netflow;
pub mod sflow;

// Text logs (owner: log decoders).
pub mod aws;
pub mod csvlog;
pub mod eve;
mod logtext;
pub mod zeek;

// Content sniffing across all formats.
pub mod detect;

pub use obs::*;
