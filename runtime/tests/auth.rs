//! Gateway auth: which requests get through, and what the others see.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod common;
use common::*;

fn chat_with(headers: &[(&str, &str)]) -> apex_runtime::host::HttpResponse {
    let host = FakeHost::new();
    run(
        &GATEWAY,
        &host,
        request("POST", "/v1/chat/completions", headers, &chat("chat-pri")),
    )
}

#[test]
fn bearer_key_is_accepted() {
    let auth = format!("Bearer {GW_KEY}");
    assert_eq!(chat_with(&[("authorization", &auth)]).status, 200);
}

#[test]
fn bearer_scheme_is_case_insensitive_and_any_configured_key_works() {
    let auth = format!("bearer {GW_KEY_2}");
    assert_eq!(chat_with(&[("authorization", &auth)]).status, 200);
}

#[test]
fn x_api_key_is_accepted() {
    assert_eq!(chat_with(&[("x-api-key", GW_KEY)]).status, 200);
}

#[test]
fn wrong_key_is_401_in_openai_shape() {
    let e = assert_error(chat_with(&[("authorization", "Bearer gw-key-aaab")]), 401);
    assert_eq!(e["code"], "invalid_api_key");
    assert!(e["message"].as_str().unwrap().contains("Incorrect API key"));
    // A prefix of the real key, or the key with extra bytes, is wrong too.
    assert_error(chat_with(&[("x-api-key", "gw-key-aaa")]), 401);
    assert_error(chat_with(&[("x-api-key", "gw-key-aaaaa")]), 401);
    // Provider keys are not gateway keys.
    assert_error(chat_with(&[("x-api-key", ALPHA_KEY_1)]), 401);
}

#[test]
fn missing_key_is_401() {
    let e = assert_error(chat_with(&[]), 401);
    assert!(e["message"].as_str().unwrap().contains("didn't provide"));
    assert_error(chat_with(&[("authorization", "Basic Z3c=")]), 401);
}

#[test]
fn models_need_a_key_too_but_preflight_does_not() {
    let host = FakeHost::new();
    assert_error(
        run(&GATEWAY, &host, request("GET", "/v1/models", &[], "")),
        401,
    );
    let pre = run(&GATEWAY, &host, request("OPTIONS", "/v1/models", &[], ""));
    assert_eq!(pre.status, 204);
}

#[test]
fn a_key_secret_missing_on_the_host_matches_nothing() {
    let host = FakeHost::new();
    host.secrets.borrow_mut().remove("GW_KEY");
    let auth = format!("Bearer {GW_KEY}");
    let post = |auth: &str| {
        request(
            "POST",
            "/v1/chat/completions",
            &[("authorization", auth)],
            &chat("chat-pri"),
        )
    };
    assert_error(run(&GATEWAY, &host, post(&auth)), 401);
    let auth2 = format!("Bearer {GW_KEY_2}");
    assert_eq!(run(&GATEWAY, &host, post(&auth2)).status, 200);
}

#[test]
fn no_key_secret_set_is_a_server_error_naming_the_secrets_only() {
    let host = FakeHost::new();
    host.secrets.borrow_mut().remove("GW_KEY");
    host.secrets.borrow_mut().remove("GW_KEY_2");
    let resp = run(
        &GATEWAY,
        &host,
        post("/v1/chat/completions", &chat("chat-pri")),
    );
    let e = assert_error(resp, 500);
    let msg = e["message"].as_str().unwrap();
    assert!(msg.contains("GW_KEY") && msg.contains("GW_KEY_2"), "{msg}");
}

#[test]
fn open_gateway_needs_no_key() {
    let host = FakeHost::new();
    let resp = run(
        &OPEN_GATEWAY,
        &host,
        request("POST", "/v1/chat/completions", &[], &chat("chat-pri")),
    );
    assert_eq!(resp.status, 200);
}
