//! `apexc secrets proxy.yaml`: every secret the config needs, and which have no local value.
//! `apexc secrets push proxy.yaml`: upload them to the Worker with `wrangler secret bulk`.
//!
//! Names only, never values: values go from the environment / `.dev.vars` straight into
//! wrangler's stdin, and are never printed or written to a file by apexc.
//!
//! Exit codes: 0 all present (list) / uploaded (push), 1 some missing or wrangler failed,
//! 2 the config has errors or cannot be read.

use crate::devvars::{self, DevVars};
use crate::load::{self, Loaded};
use crate::secrets::{self, Source};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// List the secrets a config needs and which are missing locally; push them to Workers
#[derive(clap::Args, Debug)]
#[command(
    args_conflicts_with_subcommands = true,
    after_long_help = "Examples:\n  \
apexc secrets proxy.yaml                  # NAME, what uses it, where its value is (env / .dev.vars / MISSING)\n  \
apexc secrets push proxy.yaml             # wrangler secret bulk --name <config name>, values on stdin\n  \
apexc secrets push proxy.yaml --env production --dry-run\n\n\
Values are looked up in the environment first, then in the .dev.vars beside the config \
(or --dev-vars FILE), as `apexc serve` does. Only names are ever printed."
)]
pub struct Args {
    /// The config file (proxy.yaml)
    #[arg(value_name = "CONFIG")]
    pub config: Option<PathBuf>,

    /// Secrets file (NAME=value lines) [default: .dev.vars beside the config]
    #[arg(long, value_name = "FILE")]
    pub dev_vars: Option<PathBuf>,

    #[command(subcommand)]
    pub action: Option<Action>,
}

#[derive(clap::Subcommand, Debug)]
pub enum Action {
    /// Upload every secret the config needs with `wrangler secret bulk` (values on stdin)
    Push(PushArgs),
}

#[derive(clap::Args, Debug)]
pub struct PushArgs {
    /// The config file (proxy.yaml)
    #[arg(value_name = "CONFIG")]
    pub config: PathBuf,

    /// Secrets file (NAME=value lines) [default: .dev.vars beside the config]
    #[arg(long, value_name = "FILE")]
    pub dev_vars: Option<PathBuf>,

    /// Wrangler environment (`wrangler secret bulk --env ENV`)
    #[arg(long, short = 'e', value_name = "ENV")]
    pub env: Option<String>,

    /// Worker name [default: the config's `name`]
    #[arg(long, value_name = "WORKER")]
    pub name: Option<String>,

    /// Run wrangler in this directory (a crate `apexc build` wrote) [default: the current one]
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,

    /// Show what would be uploaded (names only) and do not run wrangler
    #[arg(long)]
    pub dry_run: bool,
}

pub fn run(args: Args) -> u8 {
    match args.action {
        Some(Action::Push(push)) => run_push(push),
        None => match args.config {
            Some(config) => run_list(&config, args.dev_vars.as_deref()),
            None => {
                eprintln!("apexc secrets: give a config file: `apexc secrets proxy.yaml` or `apexc secrets push proxy.yaml`");
                2
            }
        },
    }
}

/// The loaded config and its secrets file, or the exit code after reporting why not.
fn load_with_vars(
    config: &Path,
    flag: Option<&Path>,
    cmd: &str,
) -> Result<(Loaded, DevVars, PathBuf), u8> {
    let loaded = match load::load_path(config) {
        Ok(l) => l,
        Err(d) => {
            eprint!("{d}");
            if !d.is_unreadable() {
                eprintln!(
                    "\napexc {cmd}: fix the config first (`apexc check {}`)",
                    config.display()
                );
            }
            return Err(2);
        }
    };
    let path = flag
        .map(Path::to_path_buf)
        .unwrap_or_else(|| beside(config, ".dev.vars"));
    let vars = match devvars::read(&path) {
        Ok(Some(v)) => {
            if !v.malformed.is_empty() {
                eprintln!(
                    "apexc {cmd}: warning: {}: ignored malformed line(s) {:?} (want NAME=value)",
                    path.display(),
                    v.malformed
                );
            }
            v
        }
        Ok(None) if flag.is_some() => {
            eprintln!("apexc {cmd}: {}: no such file", path.display());
            return Err(2);
        }
        Ok(None) => DevVars::default(),
        Err(e) => {
            eprintln!("apexc {cmd}: cannot read {}: {e}", path.display());
            return Err(2);
        }
    };
    Ok((loaded, vars, path))
}

fn beside(config: &Path, file: &str) -> PathBuf {
    match config.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.join(file),
        _ => PathBuf::from(file),
    }
}

fn run_list(config: &Path, flag: Option<&Path>) -> u8 {
    let (loaded, vars, vars_path) = match load_with_vars(config, flag, "secrets") {
        Ok(x) => x,
        Err(code) => return code,
    };
    let needs = secrets::needs(&loaded.config);
    let name = config.display();
    if needs.is_empty() {
        println!("{name} needs no secrets");
        return 0;
    }
    let width = needs.iter().map(|n| n.name.len()).max().unwrap_or(0);
    let uses: Vec<String> = needs.iter().map(|n| n.used_by.join(", ")).collect();
    let uses_width = uses.iter().map(String::len).max().unwrap_or(0);
    let mut out = format!(
        "{name} needs {} secret{} (values from the environment, then {}):\n",
        needs.len(),
        if needs.len() == 1 { "" } else { "s" },
        vars_path.display()
    );
    let mut missing = Vec::new();
    for (need, used) in needs.iter().zip(&uses) {
        let status = match secrets::source_of(&need.name, &vars) {
            Some(Source::Environment) => "set (environment)",
            Some(Source::DevVars) => "set (.dev.vars)",
            None => {
                missing.push(need.name.clone());
                "MISSING"
            }
        };
        out.push_str(&format!(
            "  {:width$}  {:uses_width$}  {status}\n",
            need.name, used
        ));
    }
    print!("{out}");
    if missing.is_empty() {
        println!(
            "all {} set locally; for Workers: apexc secrets push {name}",
            needs.len()
        );
        return 0;
    }
    eprintln!(
        "apexc secrets: {} missing: {}\n  to fix: add a NAME=value line for each to {} (or export it), then run this again",
        missing.len(),
        missing.join(", "),
        vars_path.display()
    );
    1
}

fn run_push(args: PushArgs) -> u8 {
    let (loaded, vars, vars_path) =
        match load_with_vars(&args.config, args.dev_vars.as_deref(), "secrets push") {
            Ok(x) => x,
            Err(code) => return code,
        };
    let needs = secrets::needs(&loaded.config);
    if needs.is_empty() {
        println!(
            "apexc secrets push: {} needs no secrets; nothing to upload",
            args.config.display()
        );
        return 0;
    }
    let (values, missing) = values_of(&needs, &vars);
    if !missing.is_empty() {
        eprintln!(
            "apexc secrets push: nothing uploaded: no local value for {}\n  to fix: add a NAME=value line for each to {} (or export it); `apexc secrets {}` shows the list",
            missing.join(", "),
            vars_path.display(),
            args.config.display()
        );
        return 1;
    }
    let worker = args
        .name
        .clone()
        .unwrap_or_else(|| loaded.config.name.clone());
    let names: Vec<&str> = values.iter().map(|(n, _)| n.as_str()).collect();
    let env_note = args
        .env
        .as_deref()
        .map(|e| format!(" (env {e})"))
        .unwrap_or_default();
    let (program, mut argv) = secrets::wrangler_command(args.dir.as_deref());
    argv.extend([
        "secret".into(),
        "bulk".into(),
        "--name".into(),
        worker.clone(),
    ]);
    if let Some(env) = &args.env {
        argv.extend(["--env".into(), env.clone()]);
    }
    let shown = format!("{} {}", program.display(), argv.join(" "));
    if args.dry_run {
        println!(
            "apexc secrets push: would upload {} secret{} to worker `{worker}`{env_note}: {}\n  with: {shown} (JSON on stdin)",
            names.len(),
            if names.len() == 1 { "" } else { "s" },
            names.join(", ")
        );
        return 0;
    }
    eprintln!(
        "==> uploading {} secret{} to worker `{worker}`{env_note}: {}\n    $ {shown}  (values on stdin)",
        names.len(),
        if names.len() == 1 { "" } else { "s" },
        names.join(", ")
    );
    upload(&program, &argv, args.dir.as_deref(), values, &worker)
}

/// The local value of each needed secret, and the names that have none.
fn values_of(needs: &[secrets::Need], vars: &DevVars) -> (Vec<(String, String)>, Vec<String>) {
    let mut values = Vec::new();
    let mut missing = Vec::new();
    for need in needs {
        match secrets::value_of(&need.name, vars) {
            Some(v) => values.push((need.name.clone(), v)),
            None => missing.push(need.name.clone()),
        }
    }
    (values, missing)
}

/// Runs `wrangler secret bulk` with the values as JSON on its stdin (never on its command
/// line, where `ps` would show them).
fn upload(
    program: &Path,
    argv: &[String],
    dir: Option<&Path>,
    values: Vec<(String, String)>,
    worker: &str,
) -> u8 {
    let started = std::time::Instant::now();
    let mut cmd = Command::new(program);
    cmd.args(argv)
        .stdin(Stdio::piped())
        .env("WRANGLER_SEND_METRICS", "false");
    if let Some(dir) = dir {
        cmd.current_dir(dir);
    }
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => {
            eprintln!(
                "apexc secrets push: cannot run {}: {e}\n  to fix: install wrangler (npm install -g wrangler@{}) or run scripts/setup.sh",
                program.display(),
                crate::codegen::files::WRANGLER_VERSION
            );
            return 1;
        }
    };
    let json = secrets::bulk_json(&values);
    drop(values);
    let wrote = child
        .stdin
        .take()
        .map(|mut stdin| stdin.write_all(json.as_bytes()));
    drop(json);
    let status = child.wait();
    match (wrote, status) {
        (Some(Ok(())), Ok(s)) if s.success() => {
            eprintln!("    done in {:.1}s", started.elapsed().as_secs_f64());
            0
        }
        (_, Ok(s)) => {
            eprintln!(
                "apexc secrets push: wrangler failed ({s}); its output is above.\n  what to do next:\n    \
                 - not logged in: `npx wrangler login`, or set CLOUDFLARE_API_TOKEN (and CLOUDFLARE_ACCOUNT_ID) in CI\n    \
                 - wrong worker: pass --name WORKER (now `{worker}`) or --env ENV\n    \
                 - to retry one by hand: npx wrangler secret put NAME --name {worker}"
            );
            1
        }
        (_, Err(e)) => {
            eprintln!("apexc secrets push: cannot wait for wrangler: {e}");
            1
        }
    }
}
