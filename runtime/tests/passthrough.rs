//! Same-protocol passthrough: what goes upstream, and what comes back.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod common;
use apex_runtime::host::{Body, HttpResponse};
use bytes::Bytes;
use common::*;

const ODD_BODY: &str = r#"{ "messages" : [ {"role":"user","content":"the \"model\": \"chat-pri\" stays"} ],
  "model":"chat-pri",   "temperature": 0.70000, "unknown_field": {"nested": [1, 2e10]} }"#;

#[test]
fn upstream_body_is_identical_except_the_model() {
    let host = FakeHost::new();
    let resp = run(&GATEWAY, &host, post("/v1/chat/completions", ODD_BODY));
    assert_eq!(resp.status, 200);
    let reqs = host.requests.borrow();
    let (up, timeout) = &reqs[0];
    assert_eq!(
        std::str::from_utf8(&up.body).unwrap(),
        ODD_BODY.replacen(r#""model":"chat-pri""#, r#""model":"a-model""#, 1)
    );
    assert_eq!(up.method, "POST");
    assert_eq!(up.url, "https://alpha.example/v1/chat/completions");
    assert_eq!(*timeout, 1000);
    assert_eq!(up.header("content-type"), Some("application/json"));
    assert_eq!(up.header("x-extra"), Some("on"));
    let auth = up.header("authorization").unwrap();
    assert!(
        auth == format!("Bearer {ALPHA_KEY_1}") || auth == format!("Bearer {ALPHA_KEY_2}"),
        "{auth}"
    );
    // Client credentials never go upstream.
    assert!(!up.headers.iter().any(|(_, v)| v.contains(GW_KEY)));
}

#[test]
fn response_passes_through_untouched_with_apex_headers() {
    let host = FakeHost::new();
    let upstream_body = r#"{"id":"x","choices":[],"weird":  1.000}"#;
    host.then(Ok(HttpResponse {
        status: 201,
        headers: vec![
            (
                "content-type".into(),
                "application/json; charset=utf-8".into(),
            ),
            ("x-request-id".into(), "req-1".into()),
            ("set-cookie".into(), "session=abc".into()),
            ("connection".into(), "keep-alive".into()),
            ("transfer-encoding".into(), "chunked".into()),
            ("content-length".into(), "40".into()),
        ],
        body: Body::Bytes(Bytes::from_static(upstream_body.as_bytes())),
    }));
    let resp = run(
        &GATEWAY,
        &host,
        post("/v1/chat/completions", &chat("chat-pri")),
    );
    assert_eq!(resp.status, 201);
    assert_eq!(
        resp.header("content-type"),
        Some("application/json; charset=utf-8")
    );
    assert_eq!(resp.header("x-request-id"), Some("req-1"));
    assert_eq!(resp.header("x-apex-provider"), Some("alpha"));
    assert_eq!(resp.header("x-apex-attempts"), Some("1"));
    for gone in [
        "set-cookie",
        "connection",
        "transfer-encoding",
        "content-length",
    ] {
        assert_eq!(resp.header(gone), None, "{gone}");
    }
    assert_eq!(body_of(resp), upstream_body.as_bytes());
}

#[test]
fn embeddings_go_to_the_embeddings_path() {
    let host = FakeHost::new();
    let resp = run(
        &GATEWAY,
        &host,
        post("/v1/embeddings", r#"{"model":"org/model-x","input":"a"}"#),
    );
    assert_eq!(resp.status, 200);
    let reqs = host.requests.borrow();
    assert_eq!(reqs[0].0.url, "https://alpha.example/v1/embeddings");
    assert_eq!(&reqs[0].0.body[..], br#"{"model":"x","input":"a"}"#);
}

#[cfg(feature = "kind-azure-openai")]
#[test]
fn azure_puts_the_deployment_in_the_path_and_the_key_in_api_key() {
    let host = FakeHost::new();
    run(
        &GATEWAY,
        &host,
        post("/v1/chat/completions/", &chat("chat-azure")),
    );
    let reqs = host.requests.borrow();
    let (up, timeout) = &reqs[0];
    assert_eq!(up.url, "https://az.example/openai/deployments/gpt-4o-mini/chat/completions?api-version=2025-01-01-preview");
    assert_eq!(up.header("api-key"), Some(AZURE_KEY));
    assert_eq!(up.header("authorization"), None);
    assert_eq!(*timeout, 2500);
    let sent: serde_json::Value = serde_json::from_slice(&up.body).unwrap();
    assert_eq!(sent["model"], "gpt-4o-mini");
}

#[test]
fn model_hash_provider_uses_only_that_providers_routes() {
    let host = FakeHost::new();
    for _ in 0..5 {
        let resp = run(
            &GATEWAY,
            &host,
            post("/v1/chat/completions", &chat("chat-w#beta")),
        );
        assert_eq!(resp.header("x-apex-provider"), Some("beta"));
    }
    let reqs = host.requests.borrow();
    assert!(reqs
        .iter()
        .all(|(r, _)| r.url.starts_with("https://beta.example/")));
    let sent: serde_json::Value = serde_json::from_slice(&reqs[0].0.body).unwrap();
    assert_eq!(sent["model"], "b-model");
}

#[test]
fn undefined_model_hash_provider_goes_to_the_provider_as_written() {
    let host = FakeHost::new();
    let resp = run(
        &GATEWAY,
        &host,
        post(
            "/v1/chat/completions",
            &chat("deepseek-ai/DeepSeek-R1#beta"),
        ),
    );
    assert_eq!(resp.status, 200);
    let reqs = host.requests.borrow();
    assert_eq!(reqs[0].0.url, "https://beta.example/v1/chat/completions");
    let sent: serde_json::Value = serde_json::from_slice(&reqs[0].0.body).unwrap();
    assert_eq!(sent["model"], "deepseek-ai/DeepSeek-R1");
}

#[test]
fn upstream_client_errors_come_back_as_they_are_but_scrubbed() {
    let host = FakeHost::new();
    let leaky = format!(
        r#"{{"error":{{"message":"Incorrect API key provided: {ALPHA_KEY_1} / {ALPHA_KEY_2}; also sk-abcdefghijklmnop and https://x.example/v1?key=zzz123&a=1","type":"invalid_request_error","code":"invalid_api_key"}}}}"#
    );
    host.then_status(401, &leaky);
    let resp = run(
        &GATEWAY,
        &host,
        post("/v1/chat/completions", &chat("chat-pri")),
    );
    assert_eq!(resp.status, 401);
    assert_eq!(resp.header("x-apex-provider"), Some("alpha"));
    assert_eq!(
        host.requests.borrow().len(),
        1,
        "a 401 from upstream is not retried"
    );
    let body = String::from_utf8(body_of(resp)).unwrap();
    for secret in [ALPHA_KEY_1, ALPHA_KEY_2, "sk-abcdefghijklmnop", "zzz123"] {
        assert!(!body.contains(secret), "{secret} leaked: {body}");
    }
    assert!(
        body.contains("Incorrect API key provided: [redacted]"),
        "{body}"
    );
    assert!(body.contains("key=[redacted]&a=1"), "{body}");
    // Still the upstream's JSON shape.
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["error"]["code"], "invalid_api_key");
}

#[test]
fn upstream_400_is_not_retried() {
    let host = FakeHost::new();
    host.then_status(400, r#"{"error":{"message":"bad temperature"}}"#);
    let resp = run(
        &GATEWAY,
        &host,
        post("/v1/chat/completions", &chat("chat-pri")),
    );
    assert_eq!(resp.status, 400);
    assert_eq!(host.requests.borrow().len(), 1);
    assert_eq!(body_of(resp), br#"{"error":{"message":"bad temperature"}}"#);
}
