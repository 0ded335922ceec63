//! (placeholder: netflow decoder, not yet written)
