//! Evaluates a seed `wrangler-config.js` with the machine's `node` and returns the objects
//! [`super::convert`] needs, as JSON.
//!
//! The seed's file is JavaScript (objects built with code, `JSON.stringify`, sometimes
//! `process.env`), so it is run rather than parsed. The shim (`shim.js`, passed with `node -e`)
//! loads it like `require` would, after rewriting `export` forms to CommonJS, and prints one JSON
//! object. Its output holds the keys, so it stays in memory; node's error output is reduced to
//! the error and location lines, since a syntax error quotes the source line (which may hold a
//! key).

use serde_json::Value;
use std::path::Path;
use std::process::{Command, Stdio};

const SHIM: &str = include_str!("shim.js");

/// Runs the shim on `file`.
pub fn evaluate(file: &Path) -> Result<Value, String> {
    let abs = crate::build::absolute(file);
    let output = Command::new("node")
        .arg("-e")
        .arg(SHIM)
        .arg("--")
        .arg(&abs)
        .env("APEXC_IMPORT_FILE", &abs)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run node: {e}; `apexc import` evaluates the seed's config with Node.js: install Node 18+ and retry"))?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        return Err(format!(
            "node could not evaluate {}:\n{}",
            file.display(),
            safe_error_lines(&stderr, &abs.display().to_string())
        ));
    }
    serde_json::from_slice(&output.stdout)
        .map_err(|e| format!("unexpected output from the evaluation shim: {e}"))
}

/// The lines of node's stderr that say what and where, without quoted source code.
fn safe_error_lines(stderr: &str, file: &str) -> String {
    let keep: Vec<String> = stderr
        .lines()
        .filter(|l| {
            let t = l.trim_start();
            t.starts_with(file)
                || t.starts_with("at ") && t.contains(file)
                || t.split(':')
                    .next()
                    .is_some_and(|head| head.ends_with("Error") && !head.contains(' '))
        })
        .map(|l| format!("  {}", l.trim()))
        .take(6)
        .collect();
    if keep.is_empty() {
        "  (node gave no error message; run `node -e \"require('./FILE')\"` to see it)".into()
    } else {
        keep.join("\n")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_lines_drop_quoted_source() {
        let err = "/x/w.js:3\n  api_key: 'sk-secret-value' oops\n                              ^^^^\n\nSyntaxError: Unexpected identifier 'oops'\n    at internalCompileFunction (node:internal)\n";
        let s = safe_error_lines(err, "/x/w.js");
        assert!(s.contains("SyntaxError: Unexpected identifier"), "{s}");
        assert!(s.contains("/x/w.js:3"));
        assert!(!s.contains("sk-secret-value"));
    }
}
