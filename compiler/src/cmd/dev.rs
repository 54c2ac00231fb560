//! `apexc dev proxy.yaml`: the generated worker under the real Workers runtime, locally.
//!
//! Steps, each printed with its elapsed time:
//! 1. load and validate the config (diagnostics and exit 1 on any error);
//! 2. check the toolchain and install what is missing ([`crate::toolchain`]);
//! 3. write the generated crate (default `<config dir>/.apexc/<name>`, or `--out DIR`), its
//!    `.dev.vars` (the secrets the config names, from the environment or the `.dev.vars`
//!    beside the config) and `wrangler.dev.toml` (wrangler.toml without the `[build]` step,
//!    which apexc runs itself);
//! 4. `worker-build --release` with a cargo target directory shared by every worker on the
//!    machine ([`crate::toolchain::wasm_target_dir`]), so rebuilds take seconds;
//! 5. `wrangler dev` (local mode: workerd, local KV under `.wrangler/state`), then
//!    `apexc dev: ready on http://ADDR` once the worker answers. Ctrl-C stops everything.

use crate::build::write_crate;
use crate::codegen::files::WRANGLER_VERSION;
use crate::devvars;
use crate::load;
use crate::toolchain::{self, Step, Tools};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Build the worker and run it locally under wrangler dev (the real Workers runtime)
#[derive(clap::Args, Debug)]
#[command(after_long_help = "Examples:\n  \
apexc dev proxy.yaml                      # http://127.0.0.1:8787/v1\n  \
apexc dev proxy.yaml --listen 127.0.0.1:9000 --out /tmp/gw\n  \
apexc dev proxy.yaml --build-only         # just the wasm bundle (build/worker/)\n\n\
Secrets: every name the config references is looked up in the environment, then in the \
.dev.vars beside the config (or --dev-vars FILE), and written to the work dir's .dev.vars \
for wrangler.\n\
Environment: APEXC_TOOLS_DIR (where wrangler is installed), APEXC_WASM_TARGET_DIR (shared \
cargo target dir for wasm builds; default ~/.cache/apexc/wasm-target).")]
pub struct Args {
    /// The config file (proxy.yaml)
    #[arg(value_name = "CONFIG")]
    pub config: PathBuf,

    /// Address for the local worker
    #[arg(long, default_value = "127.0.0.1:8787")]
    pub listen: SocketAddr,

    /// Work directory for the generated crate [default: <config dir>/.apexc/<name>]
    #[arg(short = 'o', long = "out", value_name = "DIR")]
    pub out: Option<PathBuf>,

    /// Secrets file (NAME=value lines) [default: .dev.vars beside the config]
    #[arg(long, value_name = "FILE")]
    pub dev_vars: Option<PathBuf>,

    /// Do not install missing tools: fail and say what to run
    #[arg(long)]
    pub no_install: bool,

    /// Stop after worker-build (the bundle is in <out>/build)
    #[arg(long)]
    pub build_only: bool,

    /// Seconds to wait for wrangler dev to answer
    #[arg(long, default_value_t = 180)]
    pub ready_timeout: u64,
}

pub fn run(args: Args) -> u8 {
    match dev(&args) {
        Ok(()) => 0,
        Err(msg) => {
            eprintln!("apexc dev: error: {msg}");
            1
        }
    }
}

fn dev(args: &Args) -> Result<(), String> {
    let total = Instant::now();
    let interrupted = Arc::new(AtomicBool::new(false));
    {
        let flag = interrupted.clone();
        // Fails only if a handler is already set (not the case in the CLI): then Ctrl-C
        // simply ends the process group as usual.
        let _ = ctrlc::set_handler(move || flag.store(true, Ordering::SeqCst));
    }

    // 1. Config.
    let loaded = match load::load_path(&args.config) {
        Ok(l) => l,
        Err(diags) => {
            eprint!("{diags}");
            return Err("fix the config first (`apexc check` shows the same diagnostics)".into());
        }
    };
    if !loaded.warnings.is_empty() {
        eprint!("{}", loaded.warnings);
    }
    let name = loaded.config.name.clone();
    let config_dir = loaded
        .path
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."));
    let out = match &args.out {
        Some(o) => crate::build::absolute(o),
        None => default_work_dir(&config_dir, &name)?,
    };

    // 2. Toolchain.
    let tools = toolchain::ensure(!args.no_install).map_err(|e| e.to_string())?;

    // 3. Crate, secrets, dev wrangler config.
    generate_into(args, &loaded, &config_dir, &out)?;

    // 4. worker-build.
    build_worker(&tools, &out, &interrupted)?;
    if args.build_only {
        eprintln!(
            "apexc dev: built {} in {:.1}s",
            out.join("build").display(),
            total.elapsed().as_secs_f64()
        );
        return Ok(());
    }

    // 5. wrangler dev.
    serve_with_wrangler(args, &tools, &out, &name, &interrupted)
}

/// `.apexc/<name>` beside the config, with a `.gitignore` that keeps it out of the user's git.
fn default_work_dir(config_dir: &Path, name: &str) -> Result<PathBuf, String> {
    let work = config_dir.join(".apexc");
    std::fs::create_dir_all(&work).map_err(|e| format!("cannot create {}: {e}", work.display()))?;
    let ignore = work.join(".gitignore");
    if !ignore.exists() {
        std::fs::write(
            &ignore,
            "# apexc dev's work dirs (generated crates, builds, .dev.vars)\n*\n",
        )
        .map_err(|e| format!("cannot write {}: {e}", ignore.display()))?;
    }
    Ok(crate::build::absolute(&work.join(name)))
}

/// The generated crate, its `.dev.vars` and its dev wrangler config, written to `out`.
fn generate_into(
    args: &Args,
    loaded: &load::Loaded,
    config_dir: &Path,
    out: &Path,
) -> Result<(), String> {
    let step = Step::start(&format!("generating the worker crate in {}", out.display()));
    let krate = crate::cmd::build::generate(loaded).map_err(|e| e.to_string())?;
    let report = write_crate(&krate, out, false).map_err(|e| e.to_string())?;
    let missing = write_dev_vars(
        &loaded.secret_names(),
        args.dev_vars.as_deref(),
        config_dir,
        out,
    )?;
    write_dev_wrangler_config(out)?;
    step.done(&format!(
        "{} files written, {} unchanged",
        report.written.len(),
        report.unchanged.len()
    ));
    if !missing.is_empty() {
        eprintln!(
            "    warning: no value for secret(s) {}: set them in the environment or in {} (NAME=value per line)",
            missing.join(", "),
            args.dev_vars.clone().unwrap_or_else(|| config_dir.join(".dev.vars")).display()
        );
    }
    Ok(())
}

/// Runs wrangler dev on the built worker until Ctrl-C or until it exits.
fn serve_with_wrangler(
    args: &Args,
    tools: &Tools,
    out: &Path,
    name: &str,
    interrupted: &AtomicBool,
) -> Result<(), String> {
    let step = Step::start(&format!(
        "starting wrangler dev {WRANGLER_VERSION} on {}",
        args.listen
    ));
    let mut child = spawn_wrangler(tools, out, args.listen)?;
    let ready = wait_ready(
        &mut child,
        args.listen,
        Duration::from_secs(args.ready_timeout),
        interrupted,
    );
    if let Err(msg) = ready {
        stop(&mut child);
        return Err(msg);
    }
    step.done("answering");
    eprintln!(
        "apexc dev: ready on http://{} (worker `{name}` under wrangler dev {WRANGLER_VERSION}; OpenAI API at /v1; Ctrl-C stops)",
        args.listen
    );
    loop {
        if interrupted.load(Ordering::SeqCst) {
            eprintln!("apexc dev: stopping");
            stop(&mut child);
            return Ok(());
        }
        match child.try_wait() {
            Ok(Some(status)) => {
                return Err(format!(
                    "wrangler dev exited ({status}); its output is above"
                ))
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(200)),
            Err(e) => return Err(format!("cannot watch wrangler dev: {e}")),
        }
    }
}

/// Writes `<out>/.dev.vars` with a value for every secret the config names that has one.
/// Returns the names that have none.
fn write_dev_vars(
    names: &std::collections::BTreeSet<&str>,
    flag: Option<&Path>,
    config_dir: &Path,
    out: &Path,
) -> Result<Vec<String>, String> {
    let source = flag
        .map(Path::to_path_buf)
        .unwrap_or_else(|| config_dir.join(".dev.vars"));
    let file = match devvars::read(&source) {
        Ok(f) => f.unwrap_or_default(),
        Err(e) => return Err(format!("cannot read {}: {e}", source.display())),
    };
    if !file.malformed.is_empty() {
        eprintln!(
            "    warning: {}: ignored malformed line(s) {:?} (want NAME=value)",
            source.display(),
            file.malformed
        );
    }
    let mut text = String::from("# Written by `apexc dev` from the environment and the config's .dev.vars. Do not commit.\n");
    let mut missing = Vec::new();
    for name in names {
        let value = std::env::var(name)
            .ok()
            .or_else(|| file.vars.get(*name).cloned());
        match value {
            Some(v) => text.push_str(&format!("{name}={}\n", dotenv_quote(&v))),
            None => missing.push((*name).to_string()),
        }
    }
    let path = out.join(".dev.vars");
    write_private(&path, &text).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    Ok(missing)
}

/// A value as wrangler's dotenv parser reads it back unchanged.
fn dotenv_quote(v: &str) -> String {
    if !v.is_empty()
        && v.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.:/+=@,".contains(c))
    {
        return v.to_string();
    }
    let escaped = v
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n");
    format!("\"{escaped}\"")
}

/// Writes a file readable by its owner only (it holds secrets).
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    opts.open(path)?.write_all(text.as_bytes())
}

/// The file name of the dev-only wrangler config apexc writes beside wrangler.toml.
pub const DEV_WRANGLER_CONFIG: &str = "wrangler.dev.toml";

/// wrangler.toml without its `[build]` table: apexc runs worker-build itself (with progress and
/// the shared target dir), so wrangler must not run it a second time.
pub fn without_build_table(wrangler_toml: &str) -> String {
    let mut out = String::new();
    let mut in_build = false;
    for line in wrangler_toml.lines() {
        let t = line.trim();
        if t.starts_with('[') {
            in_build = t == "[build]";
        }
        if !in_build {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

fn write_dev_wrangler_config(out: &Path) -> Result<(), String> {
    let src = out.join("wrangler.toml");
    let text =
        std::fs::read_to_string(&src).map_err(|e| format!("cannot read {}: {e}", src.display()))?;
    let dev = format!(
        "# Written by `apexc dev`: wrangler.toml without [build] (apexc runs worker-build itself).\n{}",
        without_build_table(&text)
    );
    let path = out.join(DEV_WRANGLER_CONFIG);
    std::fs::write(&path, dev).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// The file in the shared target dir that names the crate it last linked.
const LAST_LINKED: &str = "apexc-last-linked";

/// Every generated crate has the same package name, so in the shared target dir they all
/// link to one `apex_gateway.wasm`. Cargo copies it there only when it relinks; a crate it
/// thinks is up to date would pick up whichever crate linked last — another config's routes.
/// So when the last link was another crate's, this one's `src/lib.rs` is touched and it
/// relinks.
fn claim_target_dir(target_dir: &Path, out: &Path) -> Result<(), String> {
    let me = std::fs::canonicalize(out).unwrap_or_else(|_| out.to_path_buf());
    let marker = target_dir.join(LAST_LINKED);
    let last = std::fs::read_to_string(&marker).unwrap_or_default();
    if last.trim_end() == me.to_string_lossy() {
        return Ok(());
    }
    let lib = out.join("src").join("lib.rs");
    std::fs::File::options()
        .append(true)
        .open(&lib)
        .and_then(|f| f.set_modified(std::time::SystemTime::now()))
        .map_err(|e| format!("cannot touch {}: {e}", lib.display()))?;
    std::fs::create_dir_all(target_dir)
        .and_then(|()| std::fs::write(&marker, format!("{}\n", me.to_string_lossy())))
        .map_err(|e| format!("cannot write {}: {e}", marker.display()))
}

fn build_worker(tools: &Tools, out: &Path, interrupted: &AtomicBool) -> Result<(), String> {
    let target_dir = toolchain::wasm_target_dir();
    claim_target_dir(&target_dir, out)?;
    let step = Step::start(&format!(
        "worker-build --release (cargo target dir {}; the first build takes minutes, later ones seconds)",
        target_dir.display()
    ));
    let mut cmd = Command::new(&tools.worker_build);
    cmd.arg("--release")
        .current_dir(out)
        .envs(tools.build_env())
        .env("CARGO_TARGET_DIR", &target_dir)
        .stdin(Stdio::null());
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("cannot run {}: {e}", tools.worker_build.display()))?;
    let status = loop {
        if interrupted.load(Ordering::SeqCst) {
            let _ = child.kill();
            let _ = child.wait();
            return Err("interrupted".into());
        }
        match child.try_wait() {
            Ok(Some(s)) => break s,
            Ok(None) => std::thread::sleep(Duration::from_millis(100)),
            Err(e) => return Err(format!("cannot watch worker-build: {e}")),
        }
    };
    if !status.success() {
        return Err(format!(
            "worker-build failed ({status}) after {:.0}s; its output is above.\n  what to do next:\n    \
             - a Rust error in src/routes.rs or the runtime: rebuild apexc from a clean checkout and report it\n    \
             - \"wasm-bindgen\" version mismatch: cargo install wasm-bindgen-cli --version {} --force\n    \
             - to retry by hand: cd {} && CARGO_TARGET_DIR={} WASM_BINDGEN_BIN={} worker-build --release",
            step.elapsed_secs(),
            crate::codegen::files::WASM_BINDGEN_VERSION,
            out.display(),
            target_dir.display(),
            tools.wasm_bindgen.display()
        ));
    }
    // worker-build 0.8 writes the module to build/ and the shim to build/worker/.
    let wasm: u64 = ["build", "build/worker"]
        .iter()
        .filter_map(|d| std::fs::read_dir(out.join(d)).ok())
        .flatten()
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "wasm"))
        .filter_map(|e| e.metadata().ok())
        .map(|m| m.len())
        .sum();
    step.done(&format!("wasm {} KiB", wasm / 1024));
    Ok(())
}

fn spawn_wrangler(tools: &Tools, out: &Path, listen: SocketAddr) -> Result<Child, String> {
    let wrangler = tools.wrangler();
    let mut cmd = Command::new(&wrangler);
    cmd.args(["dev", "--config", DEV_WRANGLER_CONFIG, "--ip"])
        .arg(listen.ip().to_string())
        .arg("--port")
        .arg(listen.port().to_string())
        .arg("--show-interactive-dev-session=false")
        .current_dir(out)
        .envs(tools.build_env())
        .env("CI", "1")
        .stdin(Stdio::null());
    #[cfg(unix)]
    {
        // Its own process group, so stopping reaches workerd and every other child it starts.
        use std::os::unix::process::CommandExt;
        cmd.process_group(0);
    }
    cmd.spawn().map_err(|e| {
        format!(
            "cannot run {}: {e}\n  to fix: npm install --prefix {} wrangler@{WRANGLER_VERSION}",
            wrangler.display(),
            tools.tools_dir.display()
        )
    })
}

/// Polls until the worker answers an HTTP request (any status but 502/503/504, which the dev
/// proxy gives while workerd starts).
fn wait_ready(
    child: &mut Child,
    addr: SocketAddr,
    timeout: Duration,
    interrupted: &AtomicBool,
) -> Result<(), String> {
    let deadline = Instant::now() + timeout;
    loop {
        if interrupted.load(Ordering::SeqCst) {
            return Err("interrupted".into());
        }
        if let Ok(Some(status)) = child.try_wait() {
            return Err(format!(
                "wrangler dev exited ({status}) before the worker answered; its output is above.\n  \
                 what to do next: if the port is taken, pick another with --listen; otherwise run \
                 `npx wrangler dev --config {DEV_WRANGLER_CONFIG}` in the work dir to see the error alone"
            ));
        }
        if let Some(code) = probe(addr) {
            if !matches!(code, 502..=504) {
                return Ok(());
            }
        }
        if Instant::now() > deadline {
            return Err(format!(
                "wrangler dev did not answer on {addr} within {}s",
                timeout.as_secs()
            ));
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// The status code of `GET /v1/models` on `addr`, if anything answers.
fn probe(addr: SocketAddr) -> Option<u16> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_millis(500)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        s,
        "GET /v1/models HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut buf = [0u8; 32];
    let n = s.read(&mut buf).ok()?;
    let head = std::str::from_utf8(buf.get(..n)?).ok()?;
    head.strip_prefix("HTTP/1.1 ")?.get(..3)?.parse().ok()
}

/// SIGINT to wrangler's process group, then SIGKILL if it has not exited within 5 s.
fn stop(child: &mut Child) {
    let group = format!("-{}", child.id());
    let signal = |sig: &str| {
        // The group may already be gone (wrangler exited on its own): nothing to report.
        let _ = Command::new("kill")
            .args([sig, "--", group.as_str()])
            .stderr(Stdio::null())
            .status();
    };
    signal("-INT");
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    signal("-KILL");
    let _ = child.wait();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dev_config_drops_only_the_build_table() {
        let src = "name = \"x\"\nmain = \"build/worker/shim.mjs\"\n\n[build]\n# c\ncommand = \"worker-build --release\"\n\n[[kv_namespaces]]\nbinding = \"KV\"\n";
        let dev = without_build_table(src);
        assert!(!dev.contains("worker-build"));
        assert!(!dev.contains("[build]"));
        assert!(dev.contains("main = \"build/worker/shim.mjs\""));
        assert!(dev.contains("[[kv_namespaces]]\nbinding = \"KV\""));
    }

    #[test]
    fn dotenv_values_round_trip_through_the_parser() {
        for v in [
            "sk-abc_123",
            "has space",
            "quote\"d",
            "back\\slash",
            "new\nline",
            "hash # x",
            "",
        ] {
            let line = format!("K={}\n", dotenv_quote(v));
            assert_eq!(
                devvars::parse(&line).vars.get("K").map(String::as_str),
                Some(v),
                "{line:?}"
            );
        }
    }
}
