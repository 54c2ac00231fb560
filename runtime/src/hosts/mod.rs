//! Platforms the router runs on. Each host is thin: it turns its platform's request into an
//! [`HttpRequest`](crate::host::HttpRequest), runs [`Runtime::handle`](crate::router::Runtime::handle),
//! writes the [`HttpResponse`](crate::host::HttpResponse) back without buffering streamed bodies,
//! and implements [`Host`](crate::host::Host) (upstream fetch, secrets, clock, randomness).
//!
//! - `native` (feature `host-native`): hyper server + pooled rustls client on tokio; used by
//!   `apexc serve` and the runtime's own integration tests.
//! - `workers` (feature `host-workers`, wasm32 only): the fetch event of a Worker, on the raw
//!   `web_sys` request and response (the `worker` crate for the event, env, timers and KV).

use crate::host::{Body, HttpResponse};
use bytes::Bytes;

#[cfg(feature = "host-native")]
pub mod native;

#[cfg(all(feature = "host-workers", target_arch = "wasm32"))]
pub mod workers;

/// Largest request body a gateway accepts (10 MiB): bigger bodies get 413 before the rest is
/// read. Chat requests with long histories and inline images stay far below it.
pub const MAX_REQUEST_BODY: usize = 10 * 1024 * 1024;

/// The 413 a host answers before reading (all of) a body over [`MAX_REQUEST_BODY`], shaped
/// like an OpenAI error so every SDK shows its message.
#[allow(dead_code)] // unused when no host feature is on
pub(crate) fn too_large() -> HttpResponse {
    refusal(
        413,
        br#"{"error":{"message":"request body is larger than the gateway's 10 MiB limit","type":"invalid_request_error","param":null,"code":"request_too_large"}}"#,
    )
}

/// The 408 a host answers when a client has not sent its whole body by the body deadline.
#[allow(dead_code)]
pub(crate) fn body_timeout() -> HttpResponse {
    refusal(
        408,
        br#"{"error":{"message":"the request body did not arrive in time; send the whole body at once","type":"invalid_request_error","param":null,"code":"request_timeout"}}"#,
    )
}

/// The 400 a host answers when the request body could not be read.
#[allow(dead_code)]
pub(crate) fn unreadable_body() -> HttpResponse {
    refusal(
        400,
        br#"{"error":{"message":"the request body could not be read","type":"invalid_request_error","param":null,"code":null}}"#,
    )
}

/// A host's own answer, given before the router saw the request.
#[allow(dead_code)]
fn refusal(status: u16, body: &'static [u8]) -> HttpResponse {
    HttpResponse {
        status,
        headers: vec![("content-type".into(), "application/json".into())],
        body: Body::Bytes(Bytes::from_static(body)),
    }
}

/// Headers that describe one HTTP connection rather than the message (RFC 9110 §7.6.1). A host
/// never copies them between connections: each side's HTTP stack writes its own.
#[allow(dead_code)]
pub(crate) fn is_hop_by_hop(name: &str) -> bool {
    matches!(
        name,
        "connection"
            | "keep-alive"
            | "proxy-connection"
            | "transfer-encoding"
            | "te"
            | "trailer"
            | "upgrade"
    )
}
