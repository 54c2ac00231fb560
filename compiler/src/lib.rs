//! apexc: compiles `proxy.yaml` into a Cloudflare Workers AI gateway.
//!
//! The binary (`src/main.rs`) is a thin clap layer over this library.

pub mod cmd;
pub mod config;
