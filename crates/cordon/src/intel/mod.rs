//! Intel snapshot tooling: building the derived tables from curated rules and public datasets.

pub mod build;
