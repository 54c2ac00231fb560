//! `model#provider` (pinning a provider) is off unless the config turns it on, and with
//! `provider_pinning: routes` it reaches only the providers the public model routes to. A
//! refused pin is an error in the client's own protocol, and nothing goes upstream.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod common;
use common::*;

fn messages(model: &str) -> String {
    format!(
        r#"{{"model":"{model}","max_tokens":10,"messages":[{{"role":"user","content":"hi"}}]}}"#
    )
}

#[test]
fn pinning_is_refused_with_403_when_the_config_does_not_allow_it() {
    let host = FakeHost::new();
    let resp = run(
        &UNPINNED_GATEWAY,
        &host,
        post("/v1/chat/completions", &chat("chat-w#beta")),
    );
    let e = assert_error(resp, 403);
    assert_eq!(e["code"], "provider_pinning_disabled");
    assert_eq!(e["param"], "model");
    let msg = e["message"].as_str().unwrap();
    assert!(
        msg.contains("chat-w#beta") && msg.contains("chat-w"),
        "{msg}"
    );
    assert!(host.requests.borrow().is_empty(), "nothing may go upstream");
}

#[test]
fn an_anthropic_client_gets_the_refusal_in_anthropics_shape() {
    let host = FakeHost::new();
    let resp = run(
        &UNPINNED_GATEWAY,
        &host,
        post("/v1/messages", &messages("chat-w#beta")),
    );
    assert_eq!(resp.status, 403);
    let v = json_of(resp);
    assert_eq!(v["type"], "error");
    assert_eq!(v["error"]["type"], "permission_error");
    assert!(host.requests.borrow().is_empty());
}

#[test]
fn a_public_model_on_one_of_its_providers_is_allowed_with_pinning_routes() {
    let host = FakeHost::new();
    let resp = run(
        &ROUTES_PINNED_GATEWAY,
        &host,
        post("/v1/chat/completions", &chat("chat-w#beta")),
    );
    assert_eq!(resp.status, 200);
    assert_eq!(resp.header("x-apex-provider"), Some("beta"));
    let sent: serde_json::Value =
        serde_json::from_slice(&host.requests.borrow()[0].0.body).unwrap();
    assert_eq!(sent["model"], "b-model");
}

#[test]
fn pinning_routes_does_not_reach_a_provider_the_model_does_not_route_to() {
    let host = FakeHost::new();
    // chat-azure routes only to azure; alpha is a configured provider all the same.
    let resp = run(
        &ROUTES_PINNED_GATEWAY,
        &host,
        post("/v1/chat/completions", &chat("chat-azure#alpha")),
    );
    let e = assert_error(resp, 403);
    assert_eq!(e["code"], "provider_pinning_not_routed");
    assert!(host.requests.borrow().is_empty());
}

#[test]
fn pinning_routes_does_not_send_an_arbitrary_model_name_upstream() {
    let host = FakeHost::new();
    let resp = run(
        &ROUTES_PINNED_GATEWAY,
        &host,
        post("/v1/chat/completions", &chat("gpt-4-expensive#beta")),
    );
    let e = assert_error(resp, 403);
    assert_eq!(e["code"], "provider_pinning_not_routed");
    assert!(host.requests.borrow().is_empty());
}

#[test]
fn pinning_any_sends_any_name_to_any_provider_as_written() {
    let host = FakeHost::new();
    let resp = run(
        &GATEWAY,
        &host,
        post("/v1/chat/completions", &chat("gpt-4-expensive#beta")),
    );
    assert_eq!(resp.status, 200);
    let sent: serde_json::Value =
        serde_json::from_slice(&host.requests.borrow()[0].0.body).unwrap();
    assert_eq!(sent["model"], "gpt-4-expensive");
}
