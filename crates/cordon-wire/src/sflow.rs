//! (placeholder: sflow decoder, not yet written)
