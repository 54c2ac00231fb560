//! A host's own answers, given before the gateway saw the request (the body is too big, late
//! or unreadable), shaped like OpenAI errors so every SDK shows their message.

use crate::host::{Body, HttpResponse};
use bytes::Bytes;

/// The 413 a host answers before reading (all of) a body over [`MAX_REQUEST_BODY`], shaped
/// like an OpenAI error so every SDK shows its message.
pub(crate) fn too_large() -> HttpResponse {
    refusal(
        413,
        br#"{"error":{"message":"request body is larger than the gateway's 10 MiB limit","type":"invalid_request_error","param":null,"code":"request_too_large"}}"#,
    )
}

/// The 408 a host answers when a client has not sent its whole body by the body deadline.
pub(crate) fn body_timeout() -> HttpResponse {
    refusal(
        408,
        br#"{"error":{"message":"the request body did not arrive in time; send the whole body at once","type":"invalid_request_error","param":null,"code":"request_timeout"}}"#,
    )
}

/// The 400 a host answers when the request body could not be read.
pub(crate) fn unreadable_body() -> HttpResponse {
    refusal(
        400,
        br#"{"error":{"message":"the request body could not be read","type":"invalid_request_error","param":null,"code":null}}"#,
    )
}

/// A host's own answer, given before the router saw the request.
fn refusal(status: u16, body: &'static [u8]) -> HttpResponse {
    HttpResponse {
        status,
        headers: vec![("content-type".into(), "application/json".into())],
        body: Body::Bytes(Bytes::from_static(body)),
    }
}
