//! (placeholder: aws decoder, not yet written)
