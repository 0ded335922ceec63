//! (placeholder: packet decoder, not yet written)
