//! Kafka front-end: broker wire protocol on partition objects.
//!
//! Every topic partition is one object (`p/<topic>/<partition>`), every consumer group one
//! object (`g/<group>`), and the cluster's topic list and producer-id counter one object
//! (`_cluster`), all in the namespace `kafka/<tenant>`.

pub mod api;
pub mod broker;
pub mod codec;
pub mod config;
pub mod error;
pub mod errors;
pub mod group;
pub mod partition;
pub mod records;
pub mod sasl;
pub mod server;
pub mod store;
pub mod txn;

pub use config::Config;
pub use error::Error;
pub use server::Server;
