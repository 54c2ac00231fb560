//! CORS: preflight on any path, allow-origin on every response.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod common;
use common::*;

#[test]
fn preflight_on_any_path_is_204_with_the_headers_sdks_send() {
    let host = FakeHost::new();
    for path in ["/v1/chat/completions", "/v1/messages", "/anything/else"] {
        let req = request(
            "OPTIONS",
            path,
            &[
                ("origin", "https://app.example"),
                ("access-control-request-method", "POST"),
                (
                    "access-control-request-headers",
                    "authorization, x-stainless-new-thing, content-type",
                ),
            ],
            "",
        );
        let resp = run(&GATEWAY, &host, req);
        assert_eq!(resp.status, 204);
        assert_eq!(resp.header("access-control-allow-origin"), Some("*"));
        let methods = resp.header("access-control-allow-methods").unwrap();
        assert!(
            methods.contains("POST") && methods.contains("GET"),
            "{methods}"
        );
        let allowed = resp.header("access-control-allow-headers").unwrap();
        for h in [
            "authorization",
            "x-api-key",
            "content-type",
            "anthropic-version",
            "anthropic-beta",
            "openai-organization",
            "x-stainless-os",
            "x-stainless-new-thing",
        ] {
            assert!(
                allowed.split(", ").any(|a| a == h),
                "{h} missing from {allowed}"
            );
        }
        assert!(resp.header("access-control-max-age").is_some());
    }
    assert!(
        host.requests.borrow().is_empty(),
        "preflight never goes upstream"
    );
}

#[test]
fn every_response_allows_any_origin() {
    let host = FakeHost::new();
    let ok = run(
        &GATEWAY,
        &host,
        post("/v1/chat/completions", &chat("chat-pri")),
    );
    assert_eq!(ok.status, 200);
    assert_eq!(ok.header("access-control-allow-origin"), Some("*"));
    assert!(ok
        .header("access-control-expose-headers")
        .unwrap()
        .contains("x-apex-provider"));
    let err = run(&GATEWAY, &host, request("GET", "/v1/models", &[], ""));
    assert_eq!(err.status, 401);
    assert_eq!(err.header("access-control-allow-origin"), Some("*"));
}

#[test]
fn upstream_cors_headers_are_replaced_not_duplicated() {
    let host = FakeHost::new();
    let mut up = response(200, "{}");
    up.headers.push((
        "access-control-allow-origin".into(),
        "https://only.example".into(),
    ));
    host.then(Ok(up));
    let resp = run(
        &GATEWAY,
        &host,
        post("/v1/chat/completions", &chat("chat-pri")),
    );
    let origins: Vec<_> = resp
        .headers
        .iter()
        .filter(|(k, _)| k == "access-control-allow-origin")
        .collect();
    assert_eq!(origins.len(), 1);
    assert_eq!(origins[0].1, "*");
}
