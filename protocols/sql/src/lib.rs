//! PostgreSQL SQL on SQLite: translation, types and OIDs, catalog.
//!
//! Shared by the PostgreSQL wire front-end and (later) the Supabase REST front-end, so it
//! knows nothing about the wire.

pub mod alter;
pub mod array;
pub mod catalog;
mod catalog_types;
pub mod citus;
pub mod datetime;
pub mod describe;
pub mod draw;
pub mod error;
mod infer;
pub mod literals;
pub mod namespace;
pub mod notify;
pub mod sequence;
pub mod serial;
mod series;
pub mod split;
mod srf;
pub mod translate;
pub mod types;

pub use catalog::Catalog;
pub use error::{SqlError, code};
pub use translate::{
    Context, CopyFormat, CopyFrom, CopyOptions, CopyTo, OutColumn, Plan, Query, translate,
    translate_all,
};
pub use types::PgType;
