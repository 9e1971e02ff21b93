//! The dotdo gateway: configuration, listeners, TLS, admin HTTP and shutdown, with every
//! protocol front-end plugged in over one Durable Object backend.

pub mod admin;
pub mod backend;
pub mod config;
pub mod frontends;
pub mod listener;
pub mod server;
pub mod tls;
