//! (placeholder: eve decoder, not yet written)
