//! (placeholder: zeek decoder, not yet written)
