//! (placeholder: tls decoder, not yet written)
