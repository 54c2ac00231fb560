//! The seam between an inbound protocol and the attempt loop.
//!
//! [`forward`](super::forward) walks routes and keys without knowing what the client speaks;
//! per attempt it asks the request's [`Exchange`] for the upstream body (which depends on the
//! route's model, its `max_tokens` cap and its provider's kind), and on success hands the
//! upstream answer back to it to turn into what the client reads. Same-protocol exchanges
//! splice the model name and pass bytes through; cross-protocol ones go through the canonical
//! model (`crate::canonical`).
//!
//! | inbound | exchange |
//! |---|---|
//! | OpenAI chat / embeddings | `openai::inbound::OpenAiExchange` |
//! | Anthropic Messages | `anthropic::inbound::MessagesExchange` |

use super::plan::Target;
use crate::errors::ApiError;
use crate::host::{ByteStream, Headers, HttpResponse};
use crate::openai::Endpoint;
use crate::table::Provider;
use bytes::Bytes;
use std::future::Future;

/// One upstream request body, for one route.
#[derive(Debug, Clone)]
pub struct Outbound {
    /// What the upstream is asked to do (decides the URL path).
    pub endpoint: Endpoint,
    pub body: Bytes,
    /// The upstream is asked for a stream.
    pub stream: bool,
    /// Client headers the upstream needs (e.g. `anthropic-beta` on a native passthrough).
    pub headers: Headers,
}

/// What the attempt loop needs from an inbound protocol.
pub trait Exchange {
    /// The model name the client asked for (for error messages).
    fn model(&self) -> &str;
    /// The client asked for a stream.
    fn stream(&self) -> bool;
    /// The client-facing endpoint (decides the shape of a mid-stream error event).
    fn endpoint(&self) -> Endpoint;
    /// The upstream request for `target` on `provider`. An error skips this route (and is
    /// the answer when no other route can be tried).
    fn encode(&self, provider: &'static Provider, target: &Target<'_>) -> Result<Outbound, ApiError>;
    /// A successful upstream stream (already checked for a proper end) → the client's stream.
    /// Errors from `upstream` must come out as errors (the loop turns them into the client
    /// protocol's final error event).
    fn stream_body(&self, provider: &'static Provider, upstream: ByteStream) -> ByteStream;
    /// A successful upstream answer that was not streamed through [`Exchange::stream_body`]
    /// → the client's answer (a whole body; or a stream the client asked for that the
    /// upstream answered in one piece).
    fn respond(
        &self,
        provider: &'static Provider,
        resp: HttpResponse,
    ) -> impl Future<Output = HttpResponse>;
}
