//! One module per subcommand. Each has `Args` (clap) and `run(Args) -> u8` (the exit code).
pub mod build;
pub mod check;
pub mod dev;
pub mod diff;
pub mod schema;
pub mod serve;
pub mod init;
pub mod secrets;
pub mod import;
