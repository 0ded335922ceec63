//! (placeholder: csvlog decoder, not yet written)
