//! `apexc diff`: what `apexc build` would change in an existing generated crate.

use crate::codegen::{is_vendored, slash_path, ROUTING_FILE, RUNTIME_DIR};
use crate::diff::{self, FileChange, Style};
use crate::load;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

/// When to colour the output.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Color {
    /// Colour when stdout is a terminal, and neither NO_COLOR nor CI is set
    Auto,
    Always,
    Never,
}

/// Show what a rebuild would change in a generated crate (for CI, before deploy)
#[derive(clap::Args, Debug)]
#[command(
    long_about = "Generate the crate for CONFIG in memory and compare it with DIR, a crate an earlier \
`apexc build` wrote. Nothing is written.\n\n\
Output: a unified diff per changed file (`--- DIR/FILE` / `+++ generated`), then a routing summary \
comparing the routing recorded by the previous build (DIR/apex-routing.json) with the new config: \
models, routes (provider/model, weight, order, strategy), providers (kind, base_url, API key secret \
names, timeout...) and gateway settings added (+), removed (-) or changed (~). Secret names are \
shown; secret values are never in the crate, so never in the diff.\n\n\
The vendored runtime (DIR/vendor/apex-runtime/) is not diffed file by file: a different runtime \
(an apexc upgrade) is one line of the routing summary, old -> new version and source \
fingerprint, and `vendor/apex-runtime/ (N files)` in the list of changed files.\n\n\
Exit status: 0 nothing would change, 1 something would change, 2 error (the config has errors — \
diagnostics are printed — or DIR is missing or unreadable).",
    after_long_help = "Examples:\n  \
apexc diff proxy.yaml gateway              # review before `apexc build proxy.yaml -o gateway`\n  \
apexc diff proxy.yaml gateway --summary    # routing summary and file list only\n  \
apexc diff proxy.yaml gateway --format json | jq .routing.changes\n\n  \
# CI: fail the job when the committed crate is stale\n  \
apexc diff proxy.yaml gateway --color never || { echo 'run apexc build'; exit 1; }"
)]
pub struct Args {
    /// The config file (proxy.yaml)
    #[arg(value_name = "CONFIG")]
    pub config: PathBuf,

    /// The generated crate to compare with
    #[arg(value_name = "DIR")]
    pub dir: PathBuf,

    /// Print only the routing summary and the list of changed files, no file diffs
    #[arg(long)]
    pub summary: bool,

    /// Colour the output
    #[arg(long, value_enum, default_value_t = Color::Auto, value_name = "WHEN")]
    pub color: Color,

    /// Output format: `text` (diffs and summary for people) or `json` (one object for tools:
    /// changed files, routing changes, new secrets, exit code)
    #[arg(long, value_enum, default_value_t = Format::Text, value_name = "FORMAT")]
    pub format: Format,
}

/// How `apexc diff` prints its result.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Text,
    Json,
}

pub fn run(args: Args) -> u8 {
    let json = args.format == Format::Json;
    // In JSON mode an error is also one object on stdout, so a tool always has something to parse.
    let fail = |msg: String| -> u8 {
        eprintln!("apexc diff: {msg}");
        if json {
            print_out(&format!(
                "{}\n",
                serde_json::json!({ "exit_code": 2, "error": msg })
            ));
        }
        2
    };
    let loaded = match load::load_path(&args.config) {
        Ok(l) => l,
        Err(diags) => {
            eprint!("{diags}");
            return fail("cannot compare: fix the config first".into());
        }
    };
    match std::fs::metadata(&args.dir) {
        Ok(m) if m.is_dir() => {}
        Ok(_) => return fail(format!("{} is not a directory", args.dir.display())),
        Err(_) => {
            return fail(format!(
                "{} does not exist; create it with `apexc build {} -o {}`",
                args.dir.display(),
                args.config.display(),
                args.dir.display()
            ));
        }
    }

    let generated = match super::build::generate(&loaded) {
        Ok(k) => k,
        Err(e) => return fail(e.to_string()),
    };
    let changes = match diff::compare_files(&generated, &args.dir) {
        Ok(c) => c,
        Err(e) => return fail(format!("cannot read {}: {e}", args.dir.display())),
    };
    if json {
        return print_json(&args, &changes, &generated);
    }
    let style = Style {
        color: use_color(args.color),
    };
    let dir_label = slash_path(&args.dir);
    let config_label = args.config.display().to_string();

    if changes.is_empty() {
        print_out(&format!(
            "apexc diff: {dir_label} is up to date with {config_label}\n"
        ));
        return 0;
    }

    let mut out = String::new();
    if !args.summary {
        out.push_str(&file_diffs(&changes, &dir_label, style));
    }
    out.push_str(&format!(
        "Routing changes ({dir_label}/{ROUTING_FILE} -> {config_label}):\n"
    ));
    out.push_str(&routing_section(&args.dir, &generated, &dir_label, style));
    let names = changed_file_names(&changes);
    let n = changes.len();
    out.push_str(&format!(
        "\napexc diff: {n} file{} would change: {}\n",
        if n == 1 { "" } else { "s" },
        names.join(", ")
    ));
    print_out(&out);
    1
}

/// The unified diff of each changed file; apex-routing.json and the vendored runtime are
/// summarised in the routing section instead.
fn file_diffs(changes: &[FileChange], dir_label: &str, style: Style) -> String {
    let mut out = String::new();
    {
        // apex-routing.json and the vendored runtime are summarised below, not diffed line by line.
        for change in changes
            .iter()
            .filter(|c| c.path() != Path::new(ROUTING_FILE) && !is_vendored(c.path()))
        {
            out.push_str(&diff::render_file_change(change, dir_label, style));
            out.push('\n');
        }
    }
    out
}

/// What the new config changes in routing against the record the crate was built from, and
/// the secrets it adds.
fn routing_section(
    dir: &Path,
    generated: &crate::codegen::GeneratedCrate,
    dir_label: &str,
    style: Style,
) -> String {
    let mut out = String::new();
    match (diff::previous_routing(dir), generated.routing()) {
        (Ok(Some(old)), Some(new)) => {
            let routing = all_routing_changes(&old, &new, dir, generated);
            if routing.is_empty() {
                out.push_str("  none (only generated code differs, e.g. a different apexc)\n");
            } else {
                out.push_str(&diff::render_routing(&routing, style));
            }
            let old_secrets = old.secret_names();
            let new_secrets: Vec<String> =
                new.secret_names().into_iter().filter(|s| !old_secrets.contains(s)).collect();
            if !new_secrets.is_empty() {
                out.push_str("\nNew secrets to set before deploying:\n");
                for s in new_secrets {
                    out.push_str(&format!("  npx wrangler secret put {s}\n"));
                }
            }
        }
        (Ok(None), _) => out.push_str(&format!(
            "  unknown: {dir_label} has no {ROUTING_FILE} (not written by this apexc); see the file diffs\n"
        )),
        (Err(e), _) => out.push_str(&format!("  unknown: {e}\n")),
        (Ok(Some(_)), None) => out.push_str("  unknown: internal error: no routing generated\n"),
    }
    out
}

/// Writes to stdout; a closed pipe (`apexc diff ... | head`) is not worth a panic.
fn print_out(text: &str) {
    use std::io::Write as _;
    let _ = std::io::stdout().lock().write_all(text.as_bytes());
}

fn use_color(choice: Color) -> bool {
    let set = |k: &str| std::env::var_os(k).is_some_and(|v| !v.is_empty());
    match choice {
        Color::Always => true,
        Color::Never => false,
        // CI logs keep escape codes as noise; CI=true is set by GitHub Actions, GitLab, etc.
        Color::Auto => std::io::stdout().is_terminal() && !set("NO_COLOR") && !set("CI"),
    }
}

/// `--format json`: one object on stdout. Exit status as in text mode (0 same, 1 changed).
///
/// ```json
/// { "exit_code": 1, "changed": true, "config": "proxy.yaml", "dir": "gateway",
///   "files": [{ "path": "src/routes.rs", "change": "modified" }],
///   "routing": { "known": true, "changes": [{ "change": "added", "sign": "+", "text": "model x (random): up/x" }] },
///   "new_secrets": ["UP_KEY"] }
/// ```
/// `routing.known` is false when DIR has no readable routing record (`routing.reason` says why).
fn print_json(
    args: &Args,
    changes: &[FileChange],
    generated: &crate::codegen::GeneratedCrate,
) -> u8 {
    use serde_json::{json, Value};
    let files: Vec<Value> = changes
        .iter()
        .map(|c| {
            let change = match c {
                FileChange::Added { .. } => "added",
                FileChange::Removed { .. } => "removed",
                FileChange::Modified { .. } => "modified",
            };
            json!({ "path": slash_path(c.path()), "change": change })
        })
        .collect();
    let (routing, new_secrets) = match (diff::previous_routing(&args.dir), generated.routing()) {
        (Ok(Some(old)), Some(new)) => {
            let list: Vec<Value> = all_routing_changes(&old, &new, &args.dir, generated)
                .iter()
                .map(|r| {
                    let (change, sign) = match r.sign {
                        diff::Sign::Added => ("added", "+"),
                        diff::Sign::Removed => ("removed", "-"),
                        diff::Sign::Changed => ("changed", "~"),
                    };
                    json!({ "change": change, "sign": sign, "text": r.text })
                })
                .collect();
            let old_secrets = old.secret_names();
            let new_secrets: Vec<String> = new
                .secret_names()
                .into_iter()
                .filter(|s| !old_secrets.contains(s))
                .collect();
            (json!({ "known": true, "changes": list }), new_secrets)
        }
        (Ok(None), _) => (
            json!({ "known": false, "reason": format!("{} has no {ROUTING_FILE}", slash_path(&args.dir)), "changes": [] }),
            Vec::new(),
        ),
        (Err(e), _) => (
            json!({ "known": false, "reason": e, "changes": [] }),
            Vec::new(),
        ),
        (Ok(Some(_)), None) => (
            json!({ "known": false, "reason": "internal error: no routing generated", "changes": [] }),
            Vec::new(),
        ),
    };
    let code = u8::from(!changes.is_empty());
    let out = json!({
        "exit_code": code,
        "changed": !changes.is_empty(),
        "config": args.config.display().to_string(),
        "dir": slash_path(&args.dir),
        "files": files,
        "routing": routing,
        "new_secrets": new_secrets,
    });
    print_out(&format!(
        "{}\n",
        serde_json::to_string_pretty(&out).unwrap_or_default()
    ));
    code
}

/// The routing summary, with a line for a change of vendored runtime first.
fn all_routing_changes(
    old: &crate::codegen::routing::Routing,
    new: &crate::codegen::routing::Routing,
    dir: &Path,
    generated: &crate::codegen::GeneratedCrate,
) -> Vec<diff::RoutingChange> {
    let mut out: Vec<diff::RoutingChange> = diff::runtime_change(
        diff::runtime_on_disk(dir).as_ref(),
        generated.runtime_id().as_ref(),
    )
    .into_iter()
    .collect();
    out.extend(diff::routing_changes(old, new));
    out
}

/// The changed files for the closing line: each by name, except the vendored runtime's, which
/// count as one entry.
fn changed_file_names(changes: &[FileChange]) -> Vec<String> {
    let vendored = changes.iter().filter(|c| is_vendored(c.path())).count();
    let mut names: Vec<String> = changes
        .iter()
        .filter(|c| !is_vendored(c.path()))
        .map(|c| {
            let mark = match c {
                FileChange::Added { .. } => " (new)",
                FileChange::Removed { .. } => " (removed)",
                FileChange::Modified { .. } => "",
            };
            format!("{}{mark}", slash_path(c.path()))
        })
        .collect();
    if vendored > 0 {
        let s = if vendored == 1 { "" } else { "s" };
        names.push(format!("{RUNTIME_DIR}/ ({vendored} file{s})"));
    }
    names
}
