//! `openai`: any OpenAI-compatible endpoint. `POST {base_url}/chat/completions` (or
//! `/embeddings`) with `Authorization: Bearer <key>`; the body goes as the client sent it,
//! with only `model` rewritten.

use crate::host::HttpRequest;
use crate::upstream::call::Call;
use crate::upstream::http::{common_headers, url};

pub fn request(call: &Call<'_>) -> HttpRequest {
    let base = call.provider.base_url.trim_end_matches('/');
    HttpRequest {
        method: call.method.to_owned(),
        url: url(base, call, None),
        headers: common_headers(call, Vec::new()),
        body: call.body.clone(),
    }
}
