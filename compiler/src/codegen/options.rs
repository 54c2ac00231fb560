//! What generation takes besides the config, and how it fails: shared by [`super::files`] and
//! [`super::routes`], which the rest of `codegen` assembles.

use std::fmt;

/// What generation needs besides the config.
#[derive(Debug, Clone)]
pub struct Options {
    /// The config file's name as shown in generated headers (e.g. `proxy.yaml`). A bare file
    /// name, not a path, so output does not depend on where the config lives.
    pub source_name: String,
}

/// Where the vendored runtime lives in a generated crate (a directory, `/`-separated).
pub const RUNTIME_DIR: &str = "vendor/apex-runtime";

/// Generation failed. Only a config that skipped validation can cause this (e.g. a route to an
/// undefined provider); the message names the problem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodegenError(pub String);

impl fmt::Display for CodegenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for CodegenError {}
