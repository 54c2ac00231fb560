//! Basic failover: 5xx, 429, connect errors and timeouts move on; the bound holds.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod common;
use apex_runtime::host::FetchError;
use common::*;

fn chat_pri(host: &FakeHost) -> apex_runtime::host::HttpResponse {
    run(
        &GATEWAY,
        host,
        post("/v1/chat/completions", &chat("chat-pri")),
    )
}

#[test]
fn a_500_moves_to_the_next_route() {
    let host = FakeHost::new();
    host.then_status(500, "{}");
    let resp = chat_pri(&host);
    assert_eq!(resp.status, 200);
    assert_eq!(resp.header("x-apex-provider"), Some("beta"));
    assert_eq!(resp.header("x-apex-attempts"), Some("2"));
    assert_eq!(host.hosts(), ["alpha.example", "beta.example"]);
    let sent: serde_json::Value =
        serde_json::from_slice(&host.requests.borrow()[1].0.body).unwrap();
    assert_eq!(sent["model"], "b-model");
}

#[test]
fn a_429_tries_the_providers_other_key_first() {
    let host = FakeHost::new();
    host.then_status(429, "{}");
    let resp = chat_pri(&host);
    assert_eq!(resp.header("x-apex-provider"), Some("alpha"));
    let reqs = host.requests.borrow();
    assert_eq!(reqs.len(), 2);
    let k0 = reqs[0].0.header("authorization").unwrap().to_owned();
    let k1 = reqs[1].0.header("authorization").unwrap().to_owned();
    assert_ne!(k0, k1, "the rate-limited key is not reused");
    assert!(reqs[1].0.url.starts_with("https://alpha.example/"));
}

#[test]
fn a_429_on_every_key_moves_to_the_next_route() {
    let host = FakeHost::new();
    host.then_status(429, "{}").then_status(429, "{}");
    let resp = chat_pri(&host);
    assert_eq!(resp.header("x-apex-provider"), Some("beta"));
    assert_eq!(
        host.hosts(),
        ["alpha.example", "alpha.example", "beta.example"]
    );
}

#[test]
fn connect_errors_and_timeouts_move_to_the_next_route() {
    let host = FakeHost::new();
    host.then(Err(FetchError::Connect("refused".into())));
    assert_eq!(chat_pri(&host).header("x-apex-provider"), Some("beta"));
    let host = FakeHost::new();
    host.then(Err(FetchError::Timeout));
    assert_eq!(chat_pri(&host).header("x-apex-provider"), Some("beta"));
    assert_eq!(host.hosts(), ["alpha.example", "beta.example"]);
}

#[test]
fn attempts_are_bounded_by_max_attempts() {
    let host = FakeHost::new();
    for _ in 0..10 {
        host.then_status(429, r#"{"error":{"message":"slow down"}}"#);
    }
    let resp = chat_pri(&host);
    assert_eq!(host.requests.borrow().len(), 3, "GATEWAY.max_attempts is 3");
    assert_eq!(resp.header("x-apex-attempts"), Some("3"));
    // The last upstream error comes back as it was.
    assert_eq!(resp.status, 429);
    assert_eq!(resp.header("x-apex-provider"), Some("beta"));
    assert_eq!(body_of(resp), br#"{"error":{"message":"slow down"}}"#);
}

#[test]
fn the_last_5xx_comes_back_scrubbed_when_every_route_fails() {
    let host = FakeHost::new();
    host.then_status(500, "{}")
        .then_status(502, &format!(r#"{{"error":"bad key {BETA_KEY}"}}"#));
    let resp = chat_pri(&host);
    assert_eq!(resp.status, 502);
    assert_eq!(resp.header("x-apex-attempts"), Some("2"));
    // Scrubbed, and in the OpenAI shape the client's SDK parses (the upstream sent a bare
    // string).
    let body: serde_json::Value = serde_json::from_slice(&body_of(resp)).unwrap();
    assert_eq!(body["error"]["message"], "bad key [redacted]");
    assert_eq!(body["error"]["type"], "api_error");
}

#[test]
fn a_missing_key_secret_is_skipped_without_spending_an_attempt() {
    let host = FakeHost::new();
    host.secrets.borrow_mut().remove("ALPHA_KEY_1");
    host.secrets.borrow_mut().remove("ALPHA_KEY_2");
    let resp = chat_pri(&host);
    assert_eq!(resp.status, 200);
    assert_eq!(resp.header("x-apex-provider"), Some("beta"));
    assert_eq!(resp.header("x-apex-attempts"), Some("1"));
}

#[test]
fn a_408_moves_to_the_next_route() {
    let host = FakeHost::new();
    host.then_status(408, "{}");
    let resp = chat_pri(&host);
    assert_eq!(resp.status, 200);
    assert_eq!(host.hosts(), ["alpha.example", "beta.example"]);
}

#[test]
fn other_client_errors_come_back_at_once_without_a_retry() {
    for status in [400, 401, 403, 404, 413, 422] {
        let host = FakeHost::new();
        host.then_status(status, r#"{"error":{"message":"nope"}}"#);
        let resp = chat_pri(&host);
        assert_eq!(resp.status, status);
        assert_eq!(host.requests.borrow().len(), 1, "{status}: no retry");
        assert_eq!(resp.header("x-apex-provider"), Some("alpha"));
        assert_eq!(resp.header("x-apex-attempts"), Some("1"));
        assert_eq!(body_of(resp), br#"{"error":{"message":"nope"}}"#);
    }
}

#[test]
fn gateway_errors_after_attempts_carry_the_attempt_count() {
    let host = FakeHost::new();
    host.then(Err(FetchError::Timeout))
        .then(Err(FetchError::Timeout));
    let resp = chat_pri(&host);
    assert_eq!(resp.header("x-apex-attempts"), Some("2"));
    let e = assert_error(resp, 504);
    assert!(e["message"].as_str().unwrap().contains("alpha"));
}
