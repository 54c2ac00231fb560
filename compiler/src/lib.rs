//! apexc: compiles `proxy.yaml` into a Cloudflare Workers AI gateway.
//!
//! The binary (`src/main.rs`) is a thin clap layer over this library.

pub mod build;
pub mod cmd;
pub mod codegen;
pub mod config;
pub mod devvars;
pub mod diagnostics;
pub mod diff;
pub mod import;
pub mod init;
pub mod key_shape;
pub mod load;
pub mod schema;
pub mod secrets;
pub mod text;
pub mod to_runtime;
pub mod toolchain;
pub mod validate;
pub mod yaml_write;
