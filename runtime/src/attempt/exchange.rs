//! The seam between an inbound protocol and the attempt loop.
//!
//! [`forward`](super::forward) walks routes and keys without knowing what the client speaks;
//! per attempt it asks the request's [`Exchange`] for the upstream body (which depends on the
//! route's model, its `max_tokens` cap and its provider's kind), and on success hands the
//! upstream answer back to it to turn into what the client reads. Same-protocol exchanges
//! splice the model name and pass bytes through; cross-protocol ones go through the canonical
//! model (`crate::wire::canonical`).
//!
//! | inbound | exchange |
//! |---|---|
//! | OpenAI chat / embeddings | `gateway::endpoints::chat::OpenAiExchange` |
//! | Anthropic Messages | `gateway::endpoints::messages::MessagesExchange` |
//! | OpenAI Responses | `gateway::endpoints::responses::exchange::ResponsesExchange` |
//!
//! A cross-protocol [`Exchange::respond`] always takes the same steps, shared here: read the
//! upstream answer whole ([`decode_whole`]), translate it, and put it in place of the
//! upstream's body ([`translated`]); an answer that cannot be translated becomes a 502 in the
//! client's error shape ([`untranslatable`]).

use crate::attempt::plan::Target;
use crate::attempt::protocol::Protocol;
use crate::errors::ApiError;
use crate::host::{Body, ByteStream, Headers, HttpResponse};
use crate::table::Provider;
use crate::upstream::Endpoint;
use bytes::Bytes;
use serde_json::Value;
use std::future::Future;

/// Largest upstream body read whole for translation.
pub const MAX_TRANSLATED_BODY: usize = 32 * 1024 * 1024;

/// One upstream request, for one route.
#[derive(Debug, Clone)]
pub struct Outbound {
    /// What the upstream is asked to do (decides the URL path).
    pub endpoint: Endpoint,
    /// `POST` for everything with a body; `GET`/`DELETE` for follow-ups on a stored response.
    pub method: &'static str,
    /// What follows the endpoint's path: `""`, or for follow-ups `/{id}[/input_items]`
    /// (percent-encoded) and the client's query (`?…`).
    pub suffix: String,
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
    /// The protocol the client speaks: the shape of the answers the engine makes itself.
    fn protocol(&self) -> &'static dyn Protocol;
    /// The one key of each provider this request may use (by index in its `api_keys`), when
    /// it is bound to one: a follow-up on a stored response goes to the key whose account
    /// holds it. `None`: the provider's keys rotate.
    fn key(&self) -> Option<usize> {
        None
    }
    /// Whether an attempt counts against declared limits (`quota`): every generation does; a
    /// read or delete of a stored response does not.
    fn counted(&self) -> bool {
        true
    }
    /// The upstream request for `target` on `provider`. An error skips this route (and is
    /// the answer when no other route can be tried).
    fn encode(
        &self,
        provider: &'static Provider,
        target: &Target<'_>,
    ) -> Result<Outbound, ApiError>;
    /// A successful upstream stream (already checked for a proper end) → the client's stream.
    /// Errors from `upstream` must come out as errors (the loop turns them into the client
    /// protocol's final error event).
    fn stream_body(&self, at: Attempt, upstream: ByteStream) -> ByteStream;
    /// A successful upstream answer that was not streamed through [`Exchange::stream_body`]
    /// → the client's answer (a whole body; or a stream the client asked for that the
    /// upstream answered in one piece).
    fn respond(&self, at: Attempt, resp: HttpResponse) -> impl Future<Output = HttpResponse>;
}

/// The attempt an upstream answer came from.
#[derive(Debug, Clone, Copy)]
pub struct Attempt {
    pub provider: &'static Provider,
    /// The key's index in the provider's `api_keys` (`None` for keyless kinds).
    pub key: Option<usize>,
}

/// A translated answer, ready to replace the upstream's body.
pub enum Translated {
    /// One JSON body.
    Json(Vec<u8>),
    /// A whole SSE stream (the client asked for a stream, the upstream answered in one piece).
    Events(Vec<u8>),
}

/// A whole body, up to [`MAX_TRANSLATED_BODY`] (one already in memory is not copied).
pub async fn read_all(body: Body) -> Result<Bytes, String> {
    match body {
        Body::Empty => Ok(Bytes::new()),
        Body::Bytes(b) => Ok(b),
        Body::Stream(s) => crate::host::read_stream(s, MAX_TRANSLATED_BODY).await,
        Body::Platform(p) => p.read_all(MAX_TRANSLATED_BODY).await,
    }
}

/// Takes the body out of a successful upstream answer, reads it whole and decodes it with the
/// upstream protocol's `decode`. The error says why, for [`untranslatable`].
pub async fn decode_whole<T>(
    resp: &mut HttpResponse,
    decode: impl FnOnce(&Value) -> Result<T, String>,
) -> Result<T, String> {
    let raw = read_all(std::mem::replace(&mut resp.body, Body::Empty)).await?;
    let v = serde_json::from_slice::<Value>(&raw)
        .map_err(|e| format!("the upstream answer is not JSON ({e})"))?;
    decode(&v)
}

/// The upstream's answer (status and other headers kept) carrying the client's `body`.
pub fn translated(mut resp: HttpResponse, body: Translated) -> HttpResponse {
    let (content_type, body) = match body {
        Translated::Json(b) => ("application/json", b),
        Translated::Events(b) => ("text/event-stream", b),
    };
    replace_body(&mut resp, content_type, Bytes::from(body));
    resp
}

/// An upstream success that could not be translated: a 502 naming why (the gateway puts it
/// in the client's shape on the way out, like every error).
pub fn untranslatable(mut resp: HttpResponse, why: &str) -> HttpResponse {
    let message = format!("the upstream's answer could not be translated: {why}");
    resp.status = 502;
    replace_body(
        &mut resp,
        "application/json",
        ApiError::bad_gateway(message).body(),
    );
    resp
}

/// A new body in place of the upstream's: the headers that describe the upstream's bytes
/// (type, encoding, validators a cache would key on) no longer apply.
fn replace_body(resp: &mut HttpResponse, content_type: &str, body: Bytes) {
    resp.headers.retain(|(k, _)| {
        !matches!(
            k.as_str(),
            "content-type" | "content-encoding" | "etag" | "last-modified" | "accept-ranges"
        )
    });
    resp.headers
        .push(("content-type".to_owned(), content_type.to_owned()));
    resp.body = Body::Bytes(body);
}
