//! The protocol each kind speaks, and the canonical request and answers in it.
//!
//! An endpoint sends a client's own bytes (model spliced) to a route whose upstream speaks the
//! client's protocol ([`speaks`]), and otherwise the canonical request through the kind's codec:
//! [`encode`] on the way up, [`response`] / [`StreamDecoder`] on the way back. Endpoints ask
//! *which protocol*, never *which kind*, so a new kind that speaks an existing protocol changes
//! nothing outside `upstream/`, and one that speaks a new protocol adds its arm here.

use crate::errors::ApiError;
use crate::table::{Kind, Provider};
use crate::upstream::Endpoint;
use crate::wire::canonical::stream::Decode;
use crate::wire::canonical::{Event, Request, Response};
use crate::wire::openai::{chat_request, chat_response};
use crate::wire::sse::Event as SseEvent;
use serde_json::Value;

/// The protocol an upstream kind speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Speaks {
    /// OpenAI chat completions and embeddings (openai, azure-openai, mock).
    Chat,
    /// Anthropic Messages and count_tokens.
    Messages,
}

/// What `kind` speaks.
pub const fn speaks(kind: Kind) -> Speaks {
    match kind {
        Kind::OpenAi | Kind::AzureOpenAi | Kind::Mock => Speaks::Chat,
        Kind::Anthropic => Speaks::Messages,
    }
}

/// Whether `provider` serves `/responses` itself (`responses: native`). Only `openai`
/// upstreams: Azure's Responses API is per resource, not per deployment, and its URL does not
/// follow from a deployment `base_url`.
pub fn serves_responses(provider: &Provider) -> bool {
    provider.native_responses && provider.kind == Kind::OpenAi
}

/// The last non-blank bytes of a complete upstream stream in `kind`'s protocol.
pub const fn stream_end_marker(kind: Kind) -> Option<&'static [u8]> {
    match speaks(kind) {
        Speaks::Chat => Some(b"data: [DONE]"),
        Speaks::Messages => Some(b"\"message_stop\"}"),
    }
}

/// The canonical request as `kind`'s request body for `model` (with the route's `max_tokens`
/// cap), and the endpoint it goes to.
pub fn encode(
    kind: Kind,
    req: &Request,
    model: &str,
    cap: Option<u32>,
) -> Result<(Endpoint, Vec<u8>), ApiError> {
    match speaks(kind) {
        Speaks::Chat => Ok((
            Endpoint::ChatCompletions,
            chat_request::encode(req, model, cap)?,
        )),
        #[cfg(feature = "kind-anthropic")]
        Speaks::Messages => Ok((
            Endpoint::Messages,
            crate::upstream::anthropic::codec::encode(req, model, cap)?,
        )),
        #[cfg(not(feature = "kind-anthropic"))]
        Speaks::Messages => Err(not_compiled(kind)),
    }
}

/// A whole answer in `kind`'s protocol → canonical.
pub fn response(kind: Kind, v: &Value) -> Result<Response, String> {
    match speaks(kind) {
        Speaks::Chat => chat_response::response(v),
        #[cfg(feature = "kind-anthropic")]
        Speaks::Messages => crate::upstream::anthropic::codec::response(v),
        #[cfg(not(feature = "kind-anthropic"))]
        Speaks::Messages => Err(format!("kind `{}` is not compiled in", kind.as_str())),
    }
}

/// A stream in the protocol of some kind → canonical events.
pub enum StreamDecoder {
    Chat(chat_response::StreamDecoder),
    #[cfg(feature = "kind-anthropic")]
    Messages(crate::upstream::anthropic::codec::StreamDecoder),
    /// A kind this build does not carry: the stream ends at once (its route was refused
    /// before any bytes, so this is never reached in practice).
    #[cfg(not(feature = "kind-anthropic"))]
    None,
}

impl StreamDecoder {
    /// The decoder for `kind`'s streams; `id` and `model` name the answer where the upstream's
    /// events do not (chat chunks carry neither reliably).
    pub fn new(kind: Kind, id: String, model: String) -> Self {
        match speaks(kind) {
            Speaks::Chat => StreamDecoder::Chat(chat_response::StreamDecoder::new(id, model)),
            #[cfg(feature = "kind-anthropic")]
            Speaks::Messages => {
                StreamDecoder::Messages(crate::upstream::anthropic::codec::StreamDecoder::new())
            }
            #[cfg(not(feature = "kind-anthropic"))]
            Speaks::Messages => StreamDecoder::None,
        }
    }
}

impl Decode for StreamDecoder {
    fn begin(&mut self, out: &mut Vec<Event>) {
        match self {
            StreamDecoder::Chat(d) => d.begin(out),
            #[cfg(feature = "kind-anthropic")]
            StreamDecoder::Messages(d) => d.begin(out),
            #[cfg(not(feature = "kind-anthropic"))]
            StreamDecoder::None => {}
        }
    }

    fn event(&mut self, ev: SseEvent, out: &mut Vec<Event>) {
        match self {
            StreamDecoder::Chat(d) => d.event(ev, out),
            #[cfg(feature = "kind-anthropic")]
            StreamDecoder::Messages(d) => d.event(ev, out),
            #[cfg(not(feature = "kind-anthropic"))]
            StreamDecoder::None => {}
        }
    }

    fn end(&mut self, out: &mut Vec<Event>) {
        match self {
            StreamDecoder::Chat(d) => d.end(out),
            #[cfg(feature = "kind-anthropic")]
            StreamDecoder::Messages(d) => d.end(out),
            #[cfg(not(feature = "kind-anthropic"))]
            StreamDecoder::None => {}
        }
    }
}

#[cfg(not(feature = "kind-anthropic"))]
fn not_compiled(kind: Kind) -> ApiError {
    ApiError::server(
        "kind_not_compiled",
        format!(
            "kind `{}` is not compiled into this gateway (rebuild it with apexc build).",
            kind.as_str()
        ),
    )
}
