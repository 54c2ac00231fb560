//! What the attempt engine needs to know of the protocol the client speaks, and nothing more.
//!
//! The engine makes some answers itself: the error when no route could serve, the last event
//! of a stream whose upstream failed half-way, keepalives on a quiet stream; and it hands an
//! upstream's error answer back to the client. Each of those has a protocol-specific shape,
//! which comes through this trait. The gateway implements it once per inbound protocol
//! (`gateway::protocols`) and every exchange names its own.

use crate::host::HttpResponse;
use bytes::Bytes;

pub trait Protocol: Sync {
    /// An error answer (status ≥ 400, body in memory) in this protocol's shape, whoever made
    /// it: the gateway (an OpenAI-shaped [`ApiError`](crate::errors::ApiError) body) or an
    /// upstream of any kind. A body already in this shape is kept as it is.
    fn shape_error(&self, resp: HttpResponse) -> HttpResponse;
    /// The final event of a stream whose upstream failed after it started.
    fn stream_error_event(&self, message: &str) -> Bytes;
    /// What a quiet stream is kept alive with (written between whole events).
    fn keepalive(&self) -> &'static [u8];
}
