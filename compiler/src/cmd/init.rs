//! `apexc init`: write a starter `proxy.yaml` (modeline, comments, known base URLs, secret
//! names) for a chosen set of providers. It passes `apexc check` as written.
//!
//! Exit codes: 0 written, 1 the file exists (without --force) or a provider is unknown, 2 the
//! file cannot be written.

use crate::init::{self, Options};
use std::path::PathBuf;

/// Write a starter proxy.yaml for the providers you use
#[derive(clap::Args, Debug)]
#[command(after_long_help = "Examples:\n  \
apexc init                                      # mock provider only: runs with no account\n  \
apexc init --providers deepseek,azure,anthropic -o proxy.yaml\n  \
apexc init --providers groq,openrouter --name my-gateway\n\n\
Then: apexc check proxy.yaml; put the keys in .dev.vars (NAME=value per line) and run \
`apexc secrets proxy.yaml` to see which are still missing.")]
pub struct Args {
    /// Providers to include, comma-separated: mock, openai, deepseek, azure, anthropic,
    /// openrouter, groq, aliyun, deepinfra, together, mistral, gemini, xai, ollama
    #[arg(
        long,
        short = 'p',
        value_delimiter = ',',
        default_value = "mock",
        value_name = "LIST"
    )]
    pub providers: Vec<String>,

    /// Where to write the config
    #[arg(
        short = 'o',
        long = "out",
        default_value = "proxy.yaml",
        value_name = "FILE"
    )]
    pub out: PathBuf,

    /// Worker name [default: my-gateway]
    #[arg(long, default_value = "my-gateway")]
    pub name: String,

    /// Schema path or URL for the `# yaml-language-server: $schema=` modeline [default:
    /// apex.schema.json, written beside the config]
    #[arg(long, value_name = "PATH_OR_URL")]
    pub schema: Option<String>,

    /// Overwrite FILE if it exists
    #[arg(long)]
    pub force: bool,
}

pub fn run(args: Args) -> u8 {
    if args.out.exists() && !args.force {
        eprintln!(
            "apexc init: {} already exists; not overwriting it (use --force to replace it, or -o to write elsewhere)",
            args.out.display()
        );
        return 1;
    }
    let schema = args
        .schema
        .clone()
        .unwrap_or_else(|| init::SCHEMA_FILE.to_string());
    let text = match init::starter(
        &args.providers,
        &Options {
            name: args.name.clone(),
            schema,
        },
    ) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("apexc init: {e}");
            return 1;
        }
    };
    // The starter must load; if a catalogue entry ever breaks that, say so rather than write it.
    let name = args.out.display().to_string();
    if let Err(d) = crate::load::load_str(&name, &text) {
        eprintln!("{d}\napexc init: internal error: the starter config does not pass apexc check; please report it");
        return 1;
    }
    if let Some(parent) = args.out.parent().filter(|p| !p.as_os_str().is_empty()) {
        if let Err(e) = std::fs::create_dir_all(parent) {
            eprintln!("apexc init: cannot create {}: {e}", parent.display());
            return 2;
        }
    }
    if let Err(e) = std::fs::write(&args.out, &text) {
        eprintln!("apexc init: cannot write {}: {e}", args.out.display());
        return 2;
    }
    let mut msg = format!("apexc init: wrote {name} ({})\n", args.providers.join(", "));
    if args.schema.is_none() {
        match init::write_schema_beside(&args.out) {
            Ok(path) => msg.push_str(&format!(
                "apexc init: wrote {} (editor completion; commit it beside the config)\n",
                path.display()
            )),
            Err(e) => {
                eprintln!("apexc init: {e}");
                return 2;
            }
        }
    }
    msg.push_str(&next_steps(&args, &name));
    print!("{msg}");
    0
}

/// What to run next: check, where the keys go (names only), serve, and a first request when
/// the mock is configured.
fn next_steps(args: &Args, name: &str) -> String {
    let secrets = init::secrets_for(&args.providers);
    let mut msg = String::from("\nNext steps:\n");
    msg.push_str(&format!("  apexc check {name}\n"));
    if !secrets.is_empty() {
        let vars = args
            .out
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .map(|p| p.join(".dev.vars"))
            .unwrap_or_else(|| PathBuf::from(".dev.vars"));
        msg.push_str(&format!(
            "  put your keys in {} (one NAME=value per line, keep it out of git): {}\n",
            vars.display(),
            secrets.join(", ")
        ));
        msg.push_str(&format!(
            "  apexc secrets {name}          # what is still missing\n"
        ));
    }
    msg.push_str(&format!(
        "  apexc serve {name}            # http://127.0.0.1:8080/v1\n"
    ));
    if args
        .providers
        .iter()
        .any(|p| init::find(p).is_some_and(|k| k.kind == "mock"))
    {
        msg.push_str("  curl -s 127.0.0.1:8080/v1/chat/completions -d '{\"model\":\"demo\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}'\n");
    }
    if secrets.is_empty() {
        msg.push_str(&format!("  apexc dev {name}              # the same, as a Worker under wrangler dev (builds wasm)\n"));
    }
    msg
}
