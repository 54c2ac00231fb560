//! apex-runtime: everything an apexc gateway does per request.
//!
//! ```text
//! hosts (workers fetch | native server) → gateway::handle → auth → decode inbound
//!   → model lookup in the static table → attempt engine plans routes and keys → upstream kind
//!   builds the call → Host::fetch
//!   → same protocol: bytes pass through untouched, streamed as they arrive
//! ```
//!
//! No code on a request path may panic: a panic in a Worker aborts every request in the isolate.
#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

pub mod attempt;
pub mod errors;
pub mod gateway;
pub mod host;
pub mod hosts;
pub mod log;
#[cfg(feature = "quotas")]
pub mod quota;
#[cfg(feature = "source")]
pub mod source;
pub mod table;
pub mod upstream;
pub mod wire;
