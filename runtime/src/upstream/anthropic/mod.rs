//! `anthropic`: Anthropic's Messages API. `POST {base_url}/v1/messages` (or
//! `/v1/messages/count_tokens`) with `x-api-key` and `anthropic-version` (the client's when it
//! sent one, else [`DEFAULT_VERSION`]); a client's `anthropic-beta` goes along. `base_url` may
//! be given with or without the trailing `/v1`.
//!
//! The body is what the exchange made of the request: the client's own bytes with the model
//! spliced (Messages clients), or the canonical request in Messages ([`codec`], for chat and
//! Responses clients).

pub mod codec;

use crate::host::HttpRequest;
use crate::upstream::call::Call;
use crate::upstream::call::Endpoint;
use crate::upstream::http::common_headers;

/// `anthropic-version` sent when the client did not say.
pub const DEFAULT_VERSION: &str = "2023-06-01";

pub fn request(call: &Call<'_>) -> HttpRequest {
    let base = call.provider.base_url.trim_end_matches('/');
    let base = base.strip_suffix("/v1").unwrap_or(base);
    let path = match call.endpoint {
        Endpoint::CountTokens => "/v1/messages/count_tokens",
        _ => "/v1/messages",
    };
    let mut version = DEFAULT_VERSION.to_owned();
    let mut protocol = Vec::with_capacity(2);
    for (k, v) in call.headers {
        match k.as_str() {
            "anthropic-version" => version.clone_from(v),
            "anthropic-beta" => protocol.push((k.clone(), v.clone())),
            _ => {}
        }
    }
    protocol.push(("anthropic-version".to_owned(), version));
    let headers = common_headers(call, protocol);
    HttpRequest {
        method: call.method.to_owned(),
        url: format!("{base}{path}"),
        headers,
        body: call.body.clone(),
    }
}
