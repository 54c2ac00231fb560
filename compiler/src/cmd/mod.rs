//! One module per subcommand. Each has `Args` (clap) and `run(Args) -> u8` (the exit code).
pub mod build;
pub mod check;
pub mod dev;
pub mod diff;
pub mod import;
pub mod init;
pub mod schema;
pub mod secrets;
pub mod serve;
