//! `apexc schema`: print the JSON Schema of proxy.yaml (the same text as
//! `schemas/apex.schema.json`; regenerate that file with
//! `cargo run -p apexc -- schema > schemas/apex.schema.json`).

/// Print the JSON Schema of proxy.yaml to stdout.
#[derive(clap::Args)]
pub struct Args {}

pub fn run(_args: Args) -> u8 {
    print!("{}", crate::schema::schema_json());
    0
}
