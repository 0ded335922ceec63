//! The intel snapshot: loading the bundled files, importing full IP → AS tables, and (in
//! `build`) regenerating the derived files from public datasets.

pub mod load;
pub mod store;
