//! `apexc build`: compile a config into a workers-rs crate on disk.

use crate::build::{write_crate, WriteReport};
use crate::codegen::{self, GeneratedCrate, Options};
use crate::load::{self, Loaded};
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};

/// Compile proxy.yaml into a Cloudflare Worker crate
#[derive(clap::Args, Debug)]
#[command(
    long_about = "Compile proxy.yaml into a workers-rs crate: static routing tables (src/routes.rs), \
Cargo.toml with only the runtime features the config uses and its Cargo.lock, wrangler.toml, \
package.json (wrangler 4.86.0), a README listing every secret to set, .gitignore, and the \
runtime itself under vendor/apex-runtime/ (this apexc's own, pinned exactly).\n\n\
The crate stands alone: it names no path outside itself, so it builds and deploys from a clone \
on any machine with Rust, worker-build and wrangler, without apexc.\n\n\
The config is validated first. On any error apexc prints every diagnostic, exits 1 and leaves \
the output directory exactly as it was (a missing one is not created). On success a new \
directory appears in one rename; an existing one gets only its generated files replaced, each \
atomically: your node_modules/, target/, build/, .wrangler/ and .dev.vars stay. Files a \
previous build wrote and this one no longer generates are removed (see .apexc-manifest). The \
same config always gives byte-identical files, so the crate can be committed and reviewed \
with `apexc diff`.\n\n\
API keys never appear in the generated files: the config names secrets, and the worker reads \
them at run time (`wrangler secret put NAME`).",
    after_long_help = "Examples:\n  \
apexc build proxy.yaml -o gateway\n  \
cd gateway && npm install && npx wrangler secret put GATEWAY_KEY && npx wrangler deploy\n\n\n  \
# review what a rebuild would change before running it\n  \
apexc diff proxy.yaml gateway"
)]
pub struct Args {
    /// The config file (proxy.yaml)
    #[arg(value_name = "CONFIG")]
    pub config: PathBuf,

    /// Output directory for the generated crate (created if missing)
    #[arg(short = 'o', long = "out", value_name = "DIR")]
    pub out: PathBuf,

    /// Overwrite files in an existing directory that apexc did not create
    #[arg(long)]
    pub force: bool,
}

pub fn run(args: Args) -> u8 {
    let loaded = match load::load_path(&args.config) {
        Ok(l) => l,
        Err(diags) => {
            eprint!("{diags}");
            eprintln!(
                "apexc build: {} not written: fix the config first",
                args.out.display()
            );
            return 1;
        }
    };
    if !loaded.warnings.is_empty() {
        eprint!("{}", loaded.warnings);
    }
    let krate = match generate(&loaded) {
        Ok(k) => k,
        Err(e) => {
            eprintln!("apexc build: {e}");
            return 1;
        }
    };
    match write_crate(&krate, &args.out, args.force) {
        Ok(report) => {
            print_summary(&loaded, &krate, &args.out, &report);
            0
        }
        Err(e) => {
            eprintln!("apexc build: {e}");
            1
        }
    }
}

/// The crate `apexc build` (and `apexc diff`) generate for a loaded config.
pub fn generate(loaded: &Loaded) -> Result<GeneratedCrate, codegen::CodegenError> {
    let source_name = loaded
        .path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "proxy.yaml".to_string());
    let opts = Options { source_name };
    codegen::generate(&loaded.config, &opts)
}

fn print_summary(loaded: &Loaded, krate: &GeneratedCrate, out: &Path, report: &WriteReport) {
    let out_s = crate::codegen::slash_path(out);
    let what = if report.created {
        format!("created {out_s}/ ({} files)", report.written.len())
    } else if report.written.is_empty() && report.removed.is_empty() {
        format!("{out_s}/ is up to date")
    } else {
        let mut s = format!(
            "updated {out_s}/ ({} written, {} unchanged",
            report.written.len(),
            report.unchanged.len()
        );
        if !report.removed.is_empty() {
            s.push_str(&format!(", {} removed", report.removed.len()));
        }
        s.push(')');
        s
    };
    let mut text = format!(
        "apexc build: {what}: gateway `{}`, {}\n",
        loaded.config.name,
        loaded.summary()
    );

    let secrets = krate
        .routing()
        .map(|r| r.secret_names())
        .unwrap_or_default();
    text.push('\n');
    text.push_str("Next steps:\n");
    let cd = shell_word(&out_s);
    let _ = writeln!(text, "  cd {cd} && npm install");
    for s in &secrets {
        let _ = writeln!(text, "  npx wrangler secret put {s}");
    }
    text.push_str("  npx wrangler deploy\n");
    text.push('\n');
    let _ = writeln!(
        text,
        "Needs once per machine: rustup target add wasm32-unknown-unknown; \
         cargo install worker-build --version {} --locked; \
         cargo install wasm-bindgen-cli --version {} (or let `apexc dev` install them)",
        codegen::files::WORKER_VERSION,
        codegen::files::WASM_BINDGEN_VERSION
    );
    if !secrets.is_empty() {
        let _ = writeln!(text, "For `npx wrangler dev`, put the same secret names in {cd}/.dev.vars (NAME=value per line).");
    }
    // A closed pipe (`apexc build ... | head`) is not an error worth a panic.
    let _ = std::io::stdout().write_all(text.as_bytes());
}

/// Quotes a path for the shell only when it needs it.
fn shell_word(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._-+~".contains(c))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}
