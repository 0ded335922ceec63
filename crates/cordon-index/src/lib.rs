//! cordon-index: the frozen lookup tables behind every attribution.
//!
//! - [`ipv4`]: DIR-24-8 longest-prefix match (tens of millions of lookups per second per core),
//! - [`ipv6`]: binary search over flattened segments,
//! - [`domain`]: suffix match on label boundaries,
//! - [`mac`]: IEEE registry block match (MA-S, MA-M, MA-L) that ignores randomised MACs,
//! - [`intel`]: companies, their ownership graph and designations, and the snapshot that
//!   ties the tables together.
//!
//! **Everything here is built once, then frozen: lookups take `&self`, never allocate on the
//! IPv4 path and never lock.** Newer data means building a new value and swapping it in.

// Decoders and indexes hold no `unsafe` (the workspace denies it; only the mapping of
// input files in the `cordon` crate is allowed it).
#![forbid(unsafe_code)]

pub mod domain;
pub mod intel;
pub mod ipv4;
pub mod ipv6;
pub mod mac;
pub mod ranges;

pub use intel::*;
