//! `apexc import wrangler-config.js`: migrate the seed's (Apex AI Proxy) configuration to
//! `proxy.yaml`, moving every literal API key into `.dev.vars` (see [`crate::import`]).
//!
//! Exit codes: 0 converted and the result passes `apexc check`; 1 the output exists (without
//! --force), the file cannot be evaluated or converted, or the result has errors (it is written
//! anyway, with the diagnostics, so it can be fixed by hand); 2 a file cannot be written.

use crate::devvars;
use crate::import::{self, node, Seed};
use std::io::Write as _;
use std::path::{Path, PathBuf};

/// Convert the seed's wrangler-config.js (Apex AI Proxy) to proxy.yaml + .dev.vars
#[derive(clap::Args, Debug)]
#[command(after_long_help = "Examples:\n  \
apexc import wrangler-config.js                 # writes proxy.yaml and .dev.vars beside it\n  \
apexc import ../apex-ai-proxy/wrangler-config.js -o proxy.yaml\n\n\
The file is evaluated with node (as the seed's update-wrangler-config.js did); module.exports, \
`export const` and plain top-level `const providerConfig / modelProviderConfig / serviceApiKey` \
all work, as does config.vars.PROVIDER_CONFIG / MODEL_PROVIDER_CONFIG JSON.\n\
Every literal key becomes a secret name; its value is appended to .dev.vars (mode 0600; a value \
already there keeps its name). Only names are printed. Routes that override base_url/api_key \
become providers of their own (azure-2, ...).")]
pub struct Args {
    /// The seed's config file (wrangler-config.js)
    #[arg(value_name = "FILE")]
    pub input: PathBuf,

    /// Where to write the config [default: proxy.yaml beside FILE]
    #[arg(short = 'o', long = "out", value_name = "FILE")]
    pub out: Option<PathBuf>,

    /// Secrets file to append the keys to [default: .dev.vars beside the output]
    #[arg(long, value_name = "FILE")]
    pub dev_vars: Option<PathBuf>,

    /// Schema path or URL for the modeline [default: apex.schema.json, written beside the config]
    #[arg(long, value_name = "PATH_OR_URL")]
    pub schema: Option<String>,

    /// Overwrite the output if it exists
    #[arg(long)]
    pub force: bool,
}

fn beside(file: &Path, name: &str) -> PathBuf {
    match file.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.join(name),
        _ => PathBuf::from(name),
    }
}

pub fn run(args: Args) -> u8 {
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| beside(&args.input, "proxy.yaml"));
    let vars_path = args
        .dev_vars
        .clone()
        .unwrap_or_else(|| beside(&out, ".dev.vars"));
    let imported = match convert(&args, &out, &vars_path) {
        Ok(i) => i,
        Err(code) => return code,
    };
    let schema_written = match write_all(&args, &imported, &out, &vars_path) {
        Ok(s) => s,
        Err(code) => return code,
    };
    report(
        &args,
        &imported,
        &out,
        &vars_path,
        schema_written.as_deref(),
    );
    check_written(&out)
}

/// Evaluates the seed's file and converts it (the error, printed, as the exit code).
fn convert(args: &Args, out: &Path, vars_path: &Path) -> Result<import::Imported, u8> {
    if out.exists() && !args.force {
        eprintln!("apexc import: {} already exists; not overwriting it (use --force, or -o to write elsewhere)", out.display());
        return Err(1);
    }
    if !args.input.is_file() {
        eprintln!("apexc import: {}: no such file", args.input.display());
        return Err(1);
    }
    let json = node::evaluate(&args.input).map_err(|e| {
        eprintln!("apexc import: {e}");
        1u8
    })?;
    let seed = Seed::from_json(&json);
    drop(json);
    let existing = match devvars::read(vars_path) {
        Ok(v) => v.unwrap_or_default(),
        Err(e) => {
            eprintln!("apexc import: cannot read {}: {e}", vars_path.display());
            return Err(2);
        }
    };
    let source = args.input.display().to_string();
    import::convert(&seed, &existing, &source).map_err(|e| {
        eprintln!("apexc import: {e}");
        1
    })
}

/// Writes the keys to the secrets file first (once they are safe there, the config only names
/// them), then the schema beside the config unless one was given, then the config. Returns
/// where the schema was written.
fn write_all(
    args: &Args,
    imported: &import::Imported,
    out: &Path,
    vars_path: &Path,
) -> Result<Option<PathBuf>, u8> {
    if !imported.new_secrets.is_empty() {
        if let Err(e) = append_private(vars_path, &import::dev_vars_lines(&imported.new_secrets)) {
            eprintln!("apexc import: cannot write {}: {e}", vars_path.display());
            return Err(2);
        }
    }
    let schema = args
        .schema
        .clone()
        .unwrap_or_else(|| crate::init::SCHEMA_FILE.to_string());
    let schema_written = match &args.schema {
        Some(_) => None,
        None => match crate::init::write_schema_beside(out) {
            Ok(path) => Some(path),
            Err(e) => {
                eprintln!("apexc import: {e}");
                return Err(2);
            }
        },
    };
    let file_name = |p: &Path| {
        p.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    };
    let vars_label = if vars_path.parent() == out.parent() {
        file_name(vars_path)
    } else {
        vars_path.display().to_string()
    };
    let text = import::with_header(
        imported,
        &schema,
        &file_name(&args.input),
        &vars_label,
        &file_name(out),
    );
    if let Err(e) = std::fs::write(out, &text) {
        eprintln!("apexc import: cannot write {}: {e}", out.display());
        return Err(2);
    }
    Ok(schema_written)
}

/// What was written, which key names moved, and what to check by hand (never a key value).
fn report(
    args: &Args,
    imported: &import::Imported,
    out: &Path,
    vars_path: &Path,
    schema_written: Option<&Path>,
) {
    let vars_name = vars_path.display().to_string();
    let mut msg = format!(
        "apexc import: wrote {} from {}\n",
        out.display(),
        args.input.display()
    );
    for c in &imported.changes {
        msg.push_str(&format!("  {c}\n"));
    }
    let new_names: Vec<&str> = imported
        .new_secrets
        .iter()
        .map(|(n, _)| n.as_str())
        .collect();
    if !new_names.is_empty() {
        msg.push_str(&format!(
            "  moved {} key{} to {vars_name} (mode 0600): {}\n",
            new_names.len(),
            if new_names.len() == 1 { "" } else { "s" },
            new_names.join(", ")
        ));
    }
    if !imported.reused_secrets.is_empty() {
        msg.push_str(&format!(
            "  already in {vars_name}, names kept: {}\n",
            imported.reused_secrets.join(", ")
        ));
    }
    if let Some(path) = schema_written {
        msg.push_str(&format!("  wrote {} (editor completion)\n", path.display()));
    }
    for t in &imported.todos {
        msg.push_str(&format!("  check: {t}\n"));
    }
    if !gitignored(vars_path) {
        msg.push_str(&format!(
            "  note: keep {vars_name} out of git (add `.dev.vars` to .gitignore)\n"
        ));
    }
    let _ = std::io::stdout().write_all(msg.as_bytes());
}

/// Whether the written config passes `apexc check` (0), or its diagnostics (1).
fn check_written(out: &Path) -> u8 {
    let out_name = out.display();
    match crate::load::load_path(out) {
        Ok(loaded) => {
            if !loaded.warnings.is_empty() {
                eprintln!("{}", loaded.warnings);
            }
            println!(
                "\n{out_name}: ok — {}\nNext: apexc secrets {out_name}; apexc serve {out_name}; apexc build {out_name} -o gateway",
                loaded.summary()
            );
            0
        }
        Err(d) => {
            eprintln!("{d}\napexc import: {out_name} was written but does not pass `apexc check` yet: fix the lines above");
            1
        }
    }
}

/// Appends `text` to `path`, creating it readable by its owner only, and tightens an existing
/// file to 0600 (it holds keys).
fn append_private(path: &Path, text: &str) -> std::io::Result<()> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)?;
    }
    let needs_newline = std::fs::read(path)
        .map(|b| !b.is_empty() && !b.ends_with(b"\n"))
        .unwrap_or(false);
    let mut opts = std::fs::OpenOptions::new();
    opts.append(true).create(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        opts.mode(0o600);
        if path.exists() {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
        }
    }
    let mut f = opts.open(path)?;
    if needs_newline {
        f.write_all(b"\n")?;
    }
    f.write_all(text.as_bytes())
}

/// Whether a `.gitignore` in the secrets file's directory (or one above it) mentions it.
fn gitignored(vars: &Path) -> bool {
    let abs = crate::build::absolute(vars);
    let name = abs
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    abs.ancestors().skip(1).take(6).any(|dir| {
        std::fs::read_to_string(dir.join(".gitignore")).is_ok_and(|t| {
            t.lines().any(|l| {
                let l = l.trim().trim_start_matches('/');
                l == name || l == "*" || l == ".dev.vars*"
            })
        })
    })
}
