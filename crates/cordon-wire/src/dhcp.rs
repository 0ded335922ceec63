//! (placeholder: dhcp decoder, not yet written)
