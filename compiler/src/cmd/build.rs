//! `apexc build` (not yet implemented).

/// Not yet implemented.
#[derive(clap::Args)]
pub struct Args {}

pub fn run(_args: Args) -> u8 {
    eprintln!("apexc build: not implemented yet");
    2
}
