//! `openai`: any OpenAI-compatible endpoint. `POST {base_url}/chat/completions` (or
//! `/embeddings`) with `Authorization: Bearer <key>`; the body goes as the client sent it,
//! with only `model` rewritten.

use super::{common_headers, Call};
use crate::host::HttpRequest;

pub fn request(call: &Call<'_>) -> HttpRequest {
    let base = call.provider.base_url.trim_end_matches('/');
    let mut url = String::with_capacity(base.len() + 20);
    url.push_str(base);
    url.push_str(call.endpoint.path());
    HttpRequest {
        method: "POST".to_owned(),
        url,
        headers: common_headers(call, Vec::new()),
        body: call.body.clone(),
    }
}
