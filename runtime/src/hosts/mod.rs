//! Platforms the router runs on. Each host is thin: it turns its platform's request into an
//! [`HttpRequest`](crate::host::HttpRequest), runs [`Runtime::handle`](crate::gateway::Runtime::handle),
//! writes the [`HttpResponse`](crate::host::HttpResponse) back without buffering streamed bodies,
//! and implements [`Host`](crate::host::Host) (upstream fetch, secrets, clock, randomness).
//!
//! - `native` (feature `host-native`): hyper server + pooled rustls client on tokio; used by
//!   `apexc serve` and the runtime's own integration tests.
//! - `workers` (feature `host-workers`, wasm32 only): the fetch event of a Worker, on the raw
//!   `web_sys` request and response (the `worker` crate for the event, env, timers and KV).

#[cfg(feature = "host-native")]
pub mod native;

#[allow(dead_code)] // unused when no host feature is on
pub(crate) mod refusals;
#[cfg(all(feature = "host-workers", target_arch = "wasm32"))]
pub mod workers;
