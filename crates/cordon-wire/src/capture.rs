//! (placeholder: capture decoder, not yet written)
