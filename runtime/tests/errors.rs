//! Every error the gateway produces: status and OpenAI shape.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod common;
use apex_runtime::errors::MAX_BODY_BYTES;
use apex_runtime::host::FetchError;
use common::*;

fn chat_body(body: &str) -> apex_runtime::host::HttpResponse {
    run(
        &GATEWAY,
        &FakeHost::new(),
        post("/v1/chat/completions", body),
    )
}

#[test]
fn bad_json_is_400() {
    let e = assert_error(chat_body(r#"{"model":"demo","messages":[}"#), 400);
    assert_eq!(e["type"], "invalid_request_error");
    assert!(e["message"].as_str().unwrap().contains("JSON"));
    assert_error(chat_body(""), 400);
    assert_error(chat_body(r#"["demo"]"#), 400);
    assert_error(
        chat_body(r#"{"model":"demo","messages":[],"stream":"yes"}"#),
        400,
    );
}

#[test]
fn missing_model_and_missing_messages_are_400_naming_the_param() {
    let e = assert_error(chat_body(r#"{"messages":[]}"#), 400);
    assert_eq!(e["param"], "model");
    let e = assert_error(chat_body(r#"{"model":42,"messages":[]}"#), 400);
    assert_eq!(e["param"], "model");
    let e = assert_error(chat_body(r#"{"model":"demo"}"#), 400);
    assert_eq!(e["param"], "messages");
    let host = FakeHost::new();
    let e = assert_error(
        run(
            &GATEWAY,
            &host,
            post("/v1/embeddings", r#"{"model":"demo"}"#),
        ),
        400,
    );
    assert_eq!(e["param"], "input");
}

#[test]
fn unknown_model_is_404_and_says_how_to_list_models() {
    let e = assert_error(chat_body(&chat("gpt-7")), 404);
    assert_eq!(e["code"], "model_not_found");
    let msg = e["message"].as_str().unwrap();
    assert!(
        msg.contains("gpt-7") && msg.contains("GET /v1/models"),
        "{msg}"
    );
}

#[test]
fn unknown_provider_after_hash_is_404_listing_providers() {
    let e = assert_error(chat_body(&chat("chat-pri#nope")), 404);
    let msg = e["message"].as_str().unwrap();
    assert!(
        msg.contains("nope") && msg.contains("alpha") && msg.contains("azure"),
        "{msg}"
    );
}

#[test]
fn unknown_path_is_404() {
    let host = FakeHost::new();
    let e = assert_error(
        run(&GATEWAY, &host, post("/v1/completions", &chat("demo"))),
        404,
    );
    assert!(e["message"].as_str().unwrap().contains("/v1/completions"));
    // The OpenAI paths need their /v1 prefix.
    assert_error(
        run(&GATEWAY, &host, post("/chat/completions", &chat("demo"))),
        404,
    );
}

#[test]
fn wrong_method_is_405_with_allow() {
    let host = FakeHost::new();
    let resp = run(&GATEWAY, &host, get("/v1/chat/completions"));
    assert_eq!(resp.header("allow"), Some("POST, OPTIONS"));
    assert_error(resp, 405);
    let resp = run(&GATEWAY, &host, post("/v1/models", "{}"));
    assert_eq!(resp.header("allow"), Some("GET, OPTIONS"));
    assert_error(resp, 405);
}

#[test]
fn oversized_body_is_413() {
    let big = format!(
        r#"{{"model":"demo","messages":[],"pad":"{}"}}"#,
        "x".repeat(MAX_BODY_BYTES)
    );
    let e = assert_error(chat_body(&big), 413);
    assert!(e["message"]
        .as_str()
        .unwrap()
        .contains(&MAX_BODY_BYTES.to_string()));
}

#[test]
fn unreachable_upstreams_are_502_naming_providers_not_keys() {
    let host = FakeHost::new();
    host.then(Err(FetchError::Connect("connection refused".into())))
        .then(Err(FetchError::Connect(format!(
            "tls error for key={BETA_KEY}"
        ))));
    let resp = run(
        &GATEWAY,
        &host,
        post("/v1/chat/completions", &chat("chat-pri")),
    );
    assert_eq!(resp.header("x-apex-attempts"), Some("2"));
    let e = assert_error(resp, 502);
    let msg = e["message"].as_str().unwrap();
    assert!(
        msg.contains("alpha") && msg.contains("beta") && msg.contains("connection refused"),
        "{msg}"
    );
    assert!(!msg.contains(BETA_KEY), "{msg}");
}

#[test]
fn upstream_timeout_is_504() {
    let host = FakeHost::new();
    host.then(Err(FetchError::Timeout))
        .then(Err(FetchError::Timeout));
    let e = assert_error(
        run(
            &GATEWAY,
            &host,
            post("/v1/chat/completions", &chat("chat-pri")),
        ),
        504,
    );
    assert_eq!(e["code"], "upstream_timeout");
    assert!(e["message"].as_str().unwrap().contains("1000 ms"));
}

#[cfg(feature = "kind-azure-openai")]
#[test]
fn no_usable_route_is_503() {
    let host = FakeHost::new();
    host.secrets.borrow_mut().remove("AZURE_KEY");
    let e = assert_error(
        run(
            &GATEWAY,
            &host,
            post("/v1/chat/completions", &chat("chat-azure")),
        ),
        503,
    );
    let msg = e["message"].as_str().unwrap();
    assert!(msg.contains("AZURE_KEY") && msg.contains("azure"), "{msg}");
    assert!(host.requests.borrow().is_empty());
}
