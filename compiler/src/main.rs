//! `apexc`: the command line. Each subcommand lives in `apexc::cmd::<name>`; this file only
//! parses arguments and turns results into exit codes.

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "apexc",
    version,
    about = "Compile proxy.yaml into a Cloudflare Workers AI gateway",
    long_about = "apexc compiles one proxy.yaml (providers, their API-key secret names, public model \
names) into a workers-rs crate that serves the OpenAI API in front of any upstream, with load \
balancing over providers and keys and failover.\n\n\
Typical flow:\n  apexc init --providers deepseek,groq  # a commented starter proxy.yaml\n  \
apexc check proxy.yaml            # every problem at once, file:line:col\n  \
apexc serve proxy.yaml            # run it natively on 127.0.0.1:8080\n  \
apexc build proxy.yaml -o gateway # write the worker crate\n  \
apexc diff proxy.yaml gateway     # in CI: what a deploy would change\n  \
apexc dev proxy.yaml              # run the worker under the real Workers runtime locally"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    Check(apexc::cmd::check::Args),
    Build(apexc::cmd::build::Args),
    Diff(apexc::cmd::diff::Args),
    Serve(apexc::cmd::serve::Args),
    Dev(apexc::cmd::dev::Args),
    Schema(apexc::cmd::schema::Args),
    Init(apexc::cmd::init::Args),
    Secrets(apexc::cmd::secrets::Args),
    Import(apexc::cmd::import::Args),
}

/// `apexc --version`: apexc's version and the runtime it vendors into the crates it writes.
fn version() -> &'static str {
    let line = format!(
        "{} (writes apex-runtime {}, source {})",
        env!("CARGO_PKG_VERSION"),
        apex_runtime::source::VERSION,
        apex_runtime::source::fingerprint(apex_runtime::source::FILES.iter().copied())
    );
    Box::leak(line.into_boxed_str())
}

fn main() -> ExitCode {
    let matches = Cli::command().version(version()).get_matches();
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    };
    let code = match cli.command {
        Command::Check(a) => apexc::cmd::check::run(a),
        Command::Build(a) => apexc::cmd::build::run(a),
        Command::Diff(a) => apexc::cmd::diff::run(a),
        Command::Serve(a) => apexc::cmd::serve::run(a),
        Command::Dev(a) => apexc::cmd::dev::run(a),
        Command::Schema(a) => apexc::cmd::schema::run(a),
        Command::Init(a) => apexc::cmd::init::run(a),
        Command::Secrets(a) => apexc::cmd::secrets::run(a),
        Command::Import(a) => apexc::cmd::import::run(a),
    };
    ExitCode::from(code)
}
