//! NetFlow v5, v9 and IPFIX export datagrams (placeholder: interface fixed, body not yet written).

use crate::obs::{DecodeStats, Sink};
use std::net::IpAddr;

/// Decodes export datagrams, keeping template caches scoped per (exporter address, source id /
/// observation domain), and options-template sampling rates.
#[derive(Default)]
pub struct Collector {}

impl Collector {
    pub fn new() -> Collector {
        Collector::default()
    }

    /// Decodes one export datagram (NetFlow v5, v9 or IPFIX) received from `exporter`.
    /// `offset` is the datagram's byte offset in the enclosing input, for anomalies.
    pub fn datagram(
        &mut self,
        exporter: IpAddr,
        payload: &[u8],
        offset: u64,
        sink: &mut dyn Sink,
    ) -> DecodeStats {
        let _ = (exporter, payload, offset, sink);
        DecodeStats::default()
    }
}

/// True when `payload` plausibly starts a NetFlow v5/v9 or IPFIX datagram.
pub fn looks_like_export(payload: &[u8]) -> bool {
    let _ = payload;
    false
}
