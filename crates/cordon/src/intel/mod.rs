//! The intel snapshot: loading the bundled files (`load`), importing full IP → AS tables
//! (`store`), and regenerating the derived files from public datasets (`build`).

pub mod build;
pub mod load;
pub mod store;
