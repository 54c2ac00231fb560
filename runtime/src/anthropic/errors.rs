//! Anthropic-shaped errors: `{"type":"error","error":{"type":…,"message":…}}`.
//!
//! Everything on `/v1/messages*` answers in this shape, whoever produced the failure: the
//! gateway (auth, bad request, unknown model, no route), or an upstream of another protocol
//! (its OpenAI-style body is re-wrapped, keeping its message and status). A body that is
//! already Anthropic-shaped (a native Anthropic upstream) goes back as it came.

use crate::host::{Body, HttpResponse};
use bytes::Bytes;
use serde_json::{json, Value};

/// The Anthropic error `type` for an HTTP status.
pub const fn kind_for(status: u16) -> &'static str {
    match status {
        401 => "authentication_error",
        403 => "permission_error",
        404 => "not_found_error",
        413 => "request_too_large",
        429 => "rate_limit_error",
        503 | 529 => "overloaded_error",
        400..=499 => "invalid_request_error",
        _ => "api_error",
    }
}

/// The JSON body of an Anthropic error.
pub fn body(status: u16, message: &str) -> Bytes {
    Bytes::from(
        json!({"type": "error", "error": {"type": kind_for(status), "message": message}})
            .to_string(),
    )
}

/// A response already decided (status ≥ 400, body in memory) re-shaped for an Anthropic
/// client. Streams and successes pass unchanged.
pub fn reshape(mut resp: HttpResponse) -> HttpResponse {
    if resp.status < 400 {
        return resp;
    }
    let raw = match &resp.body {
        Body::Bytes(b) => b.clone(),
        Body::Empty => Bytes::new(),
        Body::Stream(_) | Body::Platform(_) => return resp,
    };
    let parsed: Option<Value> = serde_json::from_slice(&raw).ok();
    if parsed
        .as_ref()
        .is_some_and(|v| v.get("type").and_then(Value::as_str) == Some("error"))
    {
        return resp;
    }
    let message = parsed.as_ref().and_then(message_of).unwrap_or_else(|| {
        let text = String::from_utf8_lossy(&raw);
        let text = text.trim();
        if text.is_empty() {
            format!("upstream answered HTTP {}", resp.status)
        } else {
            text.chars().take(2000).collect()
        }
    });
    resp.body = Body::Bytes(body(resp.status, &message));
    resp.headers
        .retain(|(k, _)| k != "content-type" && k != "content-encoding");
    resp.headers
        .push(("content-type".to_owned(), "application/json".to_owned()));
    resp
}

/// The message of an error body in the shapes upstreams use: `{"error":{"message"}}`,
/// `{"error":"…"}`, `{"message":"…"}`, `{"detail":"…"}`.
pub fn message_of(v: &Value) -> Option<String> {
    let e = v.get("error");
    e.and_then(|e| e.get("message"))
        .or(e.filter(|e| e.is_string()))
        .or_else(|| v.get("message"))
        .or_else(|| v.get("detail"))
        .and_then(Value::as_str)
        .map(str::to_owned)
}
