//! sFlow v5 datagrams (placeholder: interface fixed, body not yet written).

use crate::obs::{DecodeStats, Sink};

/// Decodes one sFlow v5 datagram; flow samples' raw packet headers become flows.
pub fn datagram(payload: &[u8], offset: u64, sink: &mut dyn Sink) -> DecodeStats {
    let _ = (payload, offset, sink);
    DecodeStats::default()
}

/// True when `payload` plausibly starts an sFlow v5 datagram.
pub fn looks_like_sflow(payload: &[u8]) -> bool {
    let _ = payload;
    false
}
