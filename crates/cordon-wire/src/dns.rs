//! (placeholder: dns decoder, not yet written)
