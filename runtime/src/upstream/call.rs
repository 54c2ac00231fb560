//! One upstream attempt as the kinds see it, and what they make of it.

use crate::host::{HttpRequest, HttpResponse};
use crate::table::Provider;
use bytes::Bytes;

/// What an upstream is asked to do: decides the path below the provider's base URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    ChatCompletions,
    Embeddings,
    /// Anthropic `POST /v1/messages`.
    Messages,
    /// Anthropic `POST /v1/messages/count_tokens`.
    CountTokens,
    /// OpenAI `POST /v1/responses` (upstream: providers with `responses: native`).
    Responses,
}

impl Endpoint {
    /// Path below the provider's base URL.
    pub const fn path(self) -> &'static str {
        match self {
            Endpoint::ChatCompletions => "/chat/completions",
            Endpoint::Embeddings => "/embeddings",
            Endpoint::Messages => "/messages",
            Endpoint::CountTokens => "/messages/count_tokens",
            Endpoint::Responses => "/responses",
        }
    }
}

/// One upstream attempt, decided by the router.
#[derive(Debug)]
pub struct Call<'a> {
    pub provider: &'static Provider,
    pub endpoint: Endpoint,
    /// `POST`, or `GET`/`DELETE` for a follow-up on a stored response.
    pub method: &'static str,
    /// What follows the endpoint's path: `""`, or for a follow-up `/{id}[/input_items]`
    /// (percent-encoded) and the client's query (`?…`).
    pub suffix: &'a str,
    /// The model name the upstream knows (already spliced into `body`).
    pub model: &'a str,
    /// The API key value, for kinds that need one.
    pub key: Option<&'a str>,
    pub body: Bytes,
    pub stream: bool,
    /// Client headers the exchange passes on (e.g. `anthropic-beta`); kinds use what they know.
    pub headers: &'a [(String, String)],
}

/// What a kind makes of a call.
#[derive(Debug)]
pub enum Prepared {
    /// Send this request with `Host::fetch`.
    Fetch(HttpRequest),
    /// Answered in process (the `mock` kind): no network.
    Local(HttpResponse),
}
