//! Anthropic-shaped errors: `{"type":"error","error":{"type":…,"message":…}}`.
//!
//! Everything on `/v1/messages*` answers in this shape, whoever produced the failure: the
//! gateway (auth, bad request, unknown model, no route), or an upstream of another protocol
//! (its OpenAI-style body is re-wrapped, keeping its message and status). A body that is
//! already Anthropic-shaped (a native Anthropic upstream) goes back as it came.

use crate::host::HttpResponse;
use bytes::Bytes;
use serde_json::{json, Value};

/// Anthropic's keepalive event, the one Anthropic itself sends (SDKs and Claude Code skip it).
pub const PING: &[u8] = b"event: ping\ndata: {\"type\": \"ping\"}\n\n";

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
pub fn reshape(resp: HttpResponse) -> HttpResponse {
    crate::wire::error_body::reshape(resp, is_anthropic, body)
}

/// `{"type":"error",...}`.
fn is_anthropic(v: &Value) -> bool {
    v.get("type").and_then(Value::as_str) == Some("error")
}
