//! Log followers (being written).
