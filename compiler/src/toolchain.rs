//! The Workers toolchain `apexc dev` (and scripts/setup.sh, which does the same in shell)
//! needs: the `wasm32-unknown-unknown` target, `worker-build`, `wasm-bindgen-cli` at the exact
//! version the generated crate pins, and `wrangler` (npm) in one shared tools directory so every
//! generated worker reuses one install.
//!
//! Each check is cheap (a `--version` call or a file read); each install is the ordinary
//! registry client (`rustup`, `cargo install`, `npm install`) with its output passed through and
//! the elapsed time printed, because the first install of worker-build takes minutes.
//!
//! worker-build would otherwise download wasm-bindgen, binaryen and esbuild from GitHub: the
//! environment from [`Tools::build_env`] points it at the installed binaries instead
//! (`WASM_BINDGEN_BIN`, `ESBUILD_BIN`); the generated crate turns wasm-opt off.

use crate::codegen::files::{WASM_BINDGEN_VERSION, WORKER_VERSION, WRANGLER_VERSION};
use std::fmt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

/// The oldest Node.js major version wrangler 4.86.0 runs on.
pub const MIN_NODE_MAJOR: u32 = 20;

/// Where everything was found (or installed).
#[derive(Debug, Clone)]
pub struct Tools {
    /// Directory holding cargo-installed binaries (`~/.cargo/bin`).
    pub cargo_bin: PathBuf,
    pub worker_build: PathBuf,
    pub wasm_bindgen: PathBuf,
    /// The shared npm tools directory (`node_modules/.bin/wrangler` inside).
    pub tools_dir: PathBuf,
}

impl Tools {
    pub fn wrangler(&self) -> PathBuf {
        self.tools_dir.join("node_modules/.bin/wrangler")
    }

    pub fn esbuild(&self) -> PathBuf {
        self.tools_dir.join("node_modules/.bin/esbuild")
    }

    /// Environment for worker-build and wrangler: no downloads, no prompts, no telemetry.
    pub fn build_env(&self) -> Vec<(String, String)> {
        let path = std::env::var("PATH").unwrap_or_default();
        vec![
            (
                "PATH".into(),
                format!(
                    "{}:{}:{path}",
                    self.cargo_bin.display(),
                    self.tools_dir.join("node_modules/.bin").display()
                ),
            ),
            (
                "WASM_BINDGEN_BIN".into(),
                self.wasm_bindgen.display().to_string(),
            ),
            ("ESBUILD_BIN".into(), self.esbuild().display().to_string()),
            ("WRANGLER_SEND_METRICS".into(), "false".into()),
            ("CLOUDFLARE_CF_FETCH_ENABLED".into(), "false".into()),
        ]
    }
}

/// A missing tool, with what to run to get it.
#[derive(Debug)]
pub struct ToolError {
    pub what: String,
    pub fix: String,
}

impl fmt::Display for ToolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}\n  to fix: {}", self.what, self.fix)
    }
}

impl std::error::Error for ToolError {}

/// `~/.cargo/bin` (or `$CARGO_HOME/bin`).
pub fn cargo_bin_dir() -> PathBuf {
    if let Some(home) = std::env::var_os("CARGO_HOME").filter(|v| !v.is_empty()) {
        return PathBuf::from(home).join("bin");
    }
    home_dir().join(".cargo/bin")
}

fn home_dir() -> PathBuf {
    std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("."))
}

/// Per-machine cache root: `$XDG_CACHE_HOME/apexc` or `~/.cache/apexc`.
pub fn cache_dir() -> PathBuf {
    std::env::var_os("XDG_CACHE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| home_dir().join(".cache"))
        .join("apexc")
}

/// The shared npm tools directory: `$APEXC_TOOLS_DIR`, else `target/tools` of the apexc source
/// tree (where scripts/setup.sh installs), else `~/.cache/apexc/tools`.
pub fn tools_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("APEXC_TOOLS_DIR").filter(|v| !v.is_empty()) {
        return PathBuf::from(d);
    }
    let source_tree = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    if source_tree.join("Cargo.toml").is_file() {
        return crate::build::absolute(&source_tree.join("target/tools"));
    }
    cache_dir().join("tools")
}

/// The cargo target directory shared by every generated worker on this machine, so a second
/// worker (or a rebuild) reuses the compiled runtime and dependencies:
/// `$APEXC_WASM_TARGET_DIR`, else `$CARGO_TARGET_DIR`, else `~/.cache/apexc/wasm-target`.
pub fn wasm_target_dir() -> PathBuf {
    ["APEXC_WASM_TARGET_DIR", "CARGO_TARGET_DIR"]
        .iter()
        .find_map(|k| std::env::var_os(k).filter(|v| !v.is_empty()))
        .map(|d| crate::build::absolute(Path::new(&d)))
        .unwrap_or_else(|| cache_dir().join("wasm-target"))
}

/// Prints `==> what` now and `    done in 1.2s (detail)` when the step finishes.
pub struct Step {
    start: Instant,
}

impl Step {
    pub fn start(what: &str) -> Step {
        eprintln!("==> {what}");
        Step {
            start: Instant::now(),
        }
    }

    pub fn done(self, detail: &str) {
        eprintln!(
            "    done in {:.1}s ({detail})",
            self.start.elapsed().as_secs_f64()
        );
    }

    pub fn elapsed_secs(&self) -> f64 {
        self.start.elapsed().as_secs_f64()
    }
}

/// First line of `cmd args` stdout, when it runs.
fn output_of(cmd: &Path, args: &[&str]) -> Option<String> {
    let out = Command::new(cmd)
        .args(args)
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    Some(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// Runs an install command with its output passed through.
fn run_install(program: &str, args: &[&str], cwd: Option<&Path>) -> Result<(), ToolError> {
    let mut cmd = Command::new(program);
    cmd.args(args).stdin(Stdio::null());
    if let Some(d) = cwd {
        cmd.current_dir(d);
    }
    let shown = format!("{program} {}", args.join(" "));
    eprintln!("    $ {shown}");
    match cmd.status() {
        Ok(s) if s.success() => Ok(()),
        Ok(s) => Err(ToolError {
            what: format!("`{shown}` failed ({s})"),
            fix: format!("run `{shown}` by hand and read its errors"),
        }),
        Err(e) => Err(ToolError {
            what: format!("cannot run `{program}`: {e}"),
            fix: format!("install {program}, then rerun"),
        }),
    }
}

/// Checks every tool and installs what is missing (unless `install` is false, in which case a
/// missing tool is an error that says what to run).
pub fn ensure(install: bool) -> Result<Tools, ToolError> {
    let cargo_bin = cargo_bin_dir();
    check_node()?;
    ensure_wasm_target(install)?;
    let wasm_bindgen = cargo_bin.join("wasm-bindgen");
    ensure_wasm_bindgen(&wasm_bindgen, install)?;
    let worker_build = cargo_bin.join("worker-build");
    ensure_worker_build(&worker_build, install)?;
    let tools = Tools {
        cargo_bin,
        worker_build,
        wasm_bindgen,
        tools_dir: tools_dir(),
    };
    ensure_wrangler(&tools, install)?;
    Ok(tools)
}

/// Node.js (for wrangler): checked, never installed.
fn check_node() -> Result<(), ToolError> {
    let node = output_of(Path::new("node"), &["--version"]).ok_or_else(|| ToolError {
        what: "node not found (wrangler needs Node.js)".into(),
        fix: format!("install Node.js {MIN_NODE_MAJOR} or newer with npm"),
    })?;
    let major = node
        .trim_start_matches('v')
        .split('.')
        .next()
        .and_then(|m| m.parse::<u32>().ok())
        .unwrap_or(0);
    if major < MIN_NODE_MAJOR {
        return Err(ToolError {
            what: format!("Node.js {node} is too old for wrangler {WRANGLER_VERSION}"),
            fix: format!("install Node.js {MIN_NODE_MAJOR} or newer"),
        });
    }
    Ok(())
}

fn ensure_wasm_target(install: bool) -> Result<(), ToolError> {
    let step = Step::start("rust target wasm32-unknown-unknown");
    let installed =
        output_of(Path::new("rustup"), &["target", "list", "--installed"]).unwrap_or_default();
    if installed
        .lines()
        .any(|l| l.trim() == "wasm32-unknown-unknown")
    {
        step.done("installed");
    } else if install {
        run_install("rustup", &["target", "add", "wasm32-unknown-unknown"], None)?;
        step.done("added");
    } else {
        return Err(missing(
            "the wasm32-unknown-unknown target",
            "rustup target add wasm32-unknown-unknown",
        ));
    }
    Ok(())
}

/// wasm-bindgen-cli, which must equal the crate version the generated Cargo.toml pins.
fn ensure_wasm_bindgen(wasm_bindgen: &Path, install: bool) -> Result<(), ToolError> {
    let step = Step::start(&format!("wasm-bindgen-cli {WASM_BINDGEN_VERSION}"));
    let want = format!("wasm-bindgen {WASM_BINDGEN_VERSION}");
    if output_of(wasm_bindgen, &["--version"]).as_deref() == Some(want.as_str()) {
        step.done("installed");
    } else if install {
        eprintln!("    installing (about 3 minutes the first time)");
        // Not --locked: its lockfile pins a crate version the registry no longer has.
        run_install(
            "cargo",
            &[
                "install",
                "wasm-bindgen-cli",
                "--version",
                WASM_BINDGEN_VERSION,
                "--force",
            ],
            None,
        )?;
        step.done("installed now");
    } else {
        return Err(missing(
            &want,
            &format!("cargo install wasm-bindgen-cli --version {WASM_BINDGEN_VERSION} --force"),
        ));
    }
    Ok(())
}

fn ensure_worker_build(worker_build: &Path, install: bool) -> Result<(), ToolError> {
    let step = Step::start(&format!("worker-build {WORKER_VERSION}"));
    if output_of(worker_build, &["--version"]).is_some_and(|v| v.contains(WORKER_VERSION)) {
        step.done("installed");
    } else if install {
        eprintln!("    installing (about 5 minutes the first time)");
        run_install(
            "cargo",
            &[
                "install",
                "worker-build",
                "--version",
                WORKER_VERSION,
                "--locked",
                "--force",
            ],
            None,
        )?;
        step.done("installed now");
    } else {
        return Err(missing(
            &format!("worker-build {WORKER_VERSION}"),
            &format!("cargo install worker-build --version {WORKER_VERSION} --locked"),
        ));
    }
    Ok(())
}

/// wrangler (and its esbuild), in the shared tools dir.
fn ensure_wrangler(tools: &Tools, install: bool) -> Result<(), ToolError> {
    let tools_dir = &tools.tools_dir;
    let step = Step::start(&format!(
        "wrangler {WRANGLER_VERSION} (in {})",
        tools_dir.display()
    ));
    if installed_wrangler(tools_dir).as_deref() == Some(WRANGLER_VERSION)
        && tools.esbuild().exists()
    {
        step.done("installed");
        return Ok(());
    }
    if !install {
        return Err(missing(
            &format!("wrangler {WRANGLER_VERSION}"),
            &format!(
                "npm install --prefix {} wrangler@{WRANGLER_VERSION}",
                tools_dir.display()
            ),
        ));
    }
    std::fs::create_dir_all(tools_dir).map_err(|e| ToolError {
        what: format!("cannot create {}: {e}", tools_dir.display()),
        fix: "set APEXC_TOOLS_DIR to a writable directory".into(),
    })?;
    let manifest = format!(
        "{{ \"private\": true, \"description\": \"tools shared by apexc's generated workers\", \"devDependencies\": {{ \"wrangler\": \"{WRANGLER_VERSION}\" }} }}\n"
    );
    std::fs::write(tools_dir.join("package.json"), manifest).map_err(|e| ToolError {
        what: format!(
            "cannot write {}: {e}",
            tools_dir.join("package.json").display()
        ),
        fix: "set APEXC_TOOLS_DIR to a writable directory".into(),
    })?;
    run_install(
        "npm",
        &["install", "--no-audit", "--no-fund", "--loglevel=error"],
        Some(tools_dir),
    )?;
    step.done("installed now");
    Ok(())
}

fn missing(what: &str, fix: &str) -> ToolError {
    ToolError {
        what: format!("{what} is not installed (and --no-install was given)"),
        fix: fix.to_string(),
    }
}

/// The version in `node_modules/wrangler/package.json`, if any.
fn installed_wrangler(tools_dir: &Path) -> Option<String> {
    let text =
        std::fs::read_to_string(tools_dir.join("node_modules/wrangler/package.json")).ok()?;
    let v: serde_json::Value = serde_json::from_str(&text).ok()?;
    v.get("version")?.as_str().map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn build_env_points_worker_build_at_local_binaries() {
        let t = Tools {
            cargo_bin: PathBuf::from("/c/bin"),
            worker_build: PathBuf::from("/c/bin/worker-build"),
            wasm_bindgen: PathBuf::from("/c/bin/wasm-bindgen"),
            tools_dir: PathBuf::from("/t"),
        };
        let env = t.build_env();
        let get = |k: &str| env.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        assert_eq!(get("WASM_BINDGEN_BIN"), Some("/c/bin/wasm-bindgen"));
        assert_eq!(get("ESBUILD_BIN"), Some("/t/node_modules/.bin/esbuild"));
        assert_eq!(get("WRANGLER_SEND_METRICS"), Some("false"));
        assert!(get("PATH").is_some_and(|p| p.starts_with("/c/bin:/t/node_modules/.bin:")));
    }
}
