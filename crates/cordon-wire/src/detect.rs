//! (placeholder: detect decoder, not yet written)
