//! Error bodies in whatever shape they come, and re-shaping them into a protocol's own.
//!
//! An error reaches a client in its protocol's shape, whoever produced it: the gateway (its
//! [`ApiError`](crate::errors::ApiError)s are OpenAI-shaped), or an upstream of another
//! protocol. A body already in the client's shape goes back as it came, so a same-protocol
//! upstream's details (`param`, `code`, Anthropic's error types) survive.

use crate::host::{Body, HttpResponse};
use bytes::Bytes;
use serde_json::Value;

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

/// `resp` (status ≥ 400, body in memory) with a body in the shape `is_own` recognises: kept
/// when it already is, else rebuilt by `body(status, message)` from the message found in it
/// (or its text, or its status). Streams and successes pass unchanged.
pub fn reshape(
    mut resp: HttpResponse,
    is_own: fn(&Value) -> bool,
    body: fn(u16, &str) -> Bytes,
) -> HttpResponse {
    if resp.status < 400 {
        return resp;
    }
    let raw = match &resp.body {
        Body::Bytes(b) => b.clone(),
        Body::Empty => Bytes::new(),
        Body::Stream(_) | Body::Platform(_) => return resp,
    };
    let parsed: Option<Value> = serde_json::from_slice(&raw).ok();
    if parsed.as_ref().is_some_and(is_own) {
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
        .retain(|(k, _)| k != "content-type" && k != "content-encoding" && k != "content-length");
    resp.headers
        .push(("content-type".to_owned(), "application/json".to_owned()));
    resp
}
