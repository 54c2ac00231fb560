//! apexc: compiles `proxy.yaml` into a Cloudflare Workers AI gateway.
//!
//! The binary (`src/main.rs`) is a thin clap layer over this library.

pub mod cmd;
pub mod config;
pub mod diagnostics;
pub mod load;
pub mod schema;
pub mod validate;
pub mod codegen;
pub mod devvars;
pub mod to_runtime;
pub mod build;
pub mod diff;
pub mod toolchain;
pub mod init;
pub mod secrets;
pub mod import;
pub mod yaml_write;
