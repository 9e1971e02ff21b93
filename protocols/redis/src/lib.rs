//! Redis front-end: RESP2/RESP3, the data types, keyspace on shard objects.

pub mod acl;
pub mod cmd;
pub mod codec;
pub mod config;
pub mod error;
pub mod frame;
pub mod monitor;
pub mod notify;
pub mod pause;
pub mod pubsub;
pub mod rdb;
pub mod server;
pub mod session;
pub mod slowlog;
pub mod stats;
pub mod store;
pub mod tracking;
pub mod traffic;

pub use config::{Config, User};
pub use error::Error;
pub use server::Server;
