//! The intel snapshot: the one reader of the intel files (`schema`), loading the bundled
//! files (`load`), importing full IP → AS tables (`store`), and regenerating the derived files
//! from public datasets (`build`).

pub mod build;
pub mod load;
pub mod schema;
pub mod store;
