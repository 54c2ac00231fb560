//! `apexc check proxy.yaml`: report every problem in a config at once.
//!
//! Exit codes: 0 valid (warnings allowed), 1 invalid, 2 the file cannot be read.
//! Diagnostics go to stderr; the one-line "ok" summary goes to stdout.

use crate::diagnostics::Diagnostics;
use crate::load::{self, Loaded};
use std::path::PathBuf;

/// Validate a config and print every problem with its line and column.
#[derive(clap::Args)]
pub struct Args {
    /// The config file (proxy.yaml).
    pub config: PathBuf,
}

/// What `apexc check` prints and returns for a load result: (stdout, stderr, exit code).
/// The bad-config corpus compares against exactly this.
pub fn report(name: &str, result: &Result<Loaded, Diagnostics>) -> (String, String, u8) {
    match result {
        Ok(loaded) => {
            let mut err = String::new();
            if !loaded.warnings.is_empty() {
                err = format!("{}\n", loaded.warnings);
            }
            let warned = match loaded.warnings.warning_count() {
                0 => String::new(),
                n => format!(" ({n} warning{})", if n == 1 { "" } else { "s" }),
            };
            (
                format!("{name}: ok — {}{warned}\n", loaded.summary()),
                err,
                0,
            )
        }
        Err(diags) if diags.is_unreadable() => (String::new(), diags.to_string(), 2),
        Err(diags) => (
            String::new(),
            format!("{diags}\n{name}: {}\n", diags.counts()),
            1,
        ),
    }
}

pub fn run(args: Args) -> u8 {
    let result = load::load_path(&args.config);
    let (out, err, code) = report(&args.config.display().to_string(), &result);
    eprint!("{err}");
    print!("{out}");
    code
}
