//! cordon-index (being written)
