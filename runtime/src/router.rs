//! The request path shared by every host: auth → decode → model lookup → attempt plan →
//! upstream call → response. (Stub: the router engineer replaces the body.)

use crate::host::{Body, Host, HttpRequest, HttpResponse};
use crate::table::Gateway;

/// A gateway plus its per-isolate state (round-robin counters, cooldowns). Create one per
/// process / isolate and reuse it for every request.
pub struct Runtime {
    pub gateway: &'static Gateway,
}

impl Runtime {
    pub fn new(gateway: &'static Gateway) -> Self {
        Runtime { gateway }
    }

    /// Serve one inbound request. Never panics; every failure becomes an error response
    /// shaped for the inbound protocol.
    pub async fn handle<H: Host>(&self, _host: &H, _req: HttpRequest) -> HttpResponse {
        HttpResponse {
            status: 501,
            headers: vec![("content-type".into(), "application/json".into())],
            body: Body::Bytes(bytes::Bytes::from_static(
                br#"{"error":{"message":"router not implemented","type":"server_error"}}"#,
            )),
        }
    }
}
