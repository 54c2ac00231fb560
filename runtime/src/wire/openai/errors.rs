//! OpenAI-shaped errors: `{"error":{"message":…,"type":…,"param":…,"code":…}}`, the shape
//! chat completions, embeddings and Responses clients parse.

use crate::errors::ApiError;
use crate::host::HttpResponse;
use bytes::Bytes;
use serde_json::Value;

/// A response already decided (status ≥ 400, body in memory) re-shaped for an OpenAI client:
/// an Anthropic-shaped (or any other) upstream error becomes an OpenAI error with the same
/// status and message. Streams and successes pass unchanged.
pub fn reshape(resp: HttpResponse) -> HttpResponse {
    crate::wire::error_body::reshape(resp, is_openai, body)
}

/// `{"error":{"message":"…",…}}`, and not Anthropic's `{"type":"error","error":{"message":…}}`,
/// which has the same inner object.
fn is_openai(v: &Value) -> bool {
    v.get("type").and_then(Value::as_str) != Some("error")
        && v.get("error")
            .and_then(|e| e.get("message"))
            .is_some_and(Value::is_string)
}

/// The body of an OpenAI error for an HTTP status.
pub fn body(status: u16, message: &str) -> Bytes {
    ApiError::for_status(status, message.to_owned()).body()
}

/// The last event of an OpenAI chat completions stream that failed mid-way:
/// `data: {"error":{...}}` (and no `[DONE]`).
pub fn stream_error_event(message: &str) -> Bytes {
    let body = ApiError::new(
        502,
        "api_error",
        Some("upstream_stream_error"),
        message.to_owned(),
    )
    .body();
    let mut out = Vec::with_capacity(body.len() + 8);
    out.extend_from_slice(b"data: ");
    out.extend_from_slice(&body);
    out.extend_from_slice(b"\n\n");
    Bytes::from(out)
}
