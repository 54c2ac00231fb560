//! An azure-openai deployment name is one path segment, whatever a client or a config writes:
//! `.` and `..` (which any URL parser resolves, encoded or not) are refused before a request is
//! built, and everything else is percent-encoded so it cannot add a segment or a query.
#![cfg(feature = "kind-azure-openai")]
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod common;
use common::*;

#[test]
fn a_dot_segment_deployment_is_refused_and_nothing_is_sent() {
    for model in ["..", "."] {
        let host = FakeHost::new();
        // `provider_pinning: any` lets a client name the deployment itself.
        let resp = run(
            &GATEWAY,
            &host,
            post("/v1/chat/completions", &chat(&format!("{model}#azure"))),
        );
        let e = assert_error(resp, 400);
        assert_eq!(e["param"], "model", "{e}");
        assert!(
            host.requests.borrow().is_empty(),
            "{model}: nothing may be sent"
        );
    }
}

#[test]
fn a_deployment_cannot_add_segments_or_a_query() {
    let host = FakeHost::new();
    let resp = run(
        &GATEWAY,
        &host,
        post("/v1/chat/completions", &chat("../x/%2e%2e?a=b#azure")),
    );
    assert_eq!(resp.status, 200);
    let url = &host.requests.borrow()[0].0.url;
    assert_eq!(
        url,
        "https://az.example/openai/deployments/..%2Fx%2F%252e%252e%3Fa%3Db/chat/completions?api-version=2025-01-01-preview"
    );
}
