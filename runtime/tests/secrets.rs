//! No key ever leaves the gateway: upstream errors that echo keys (any provider's), URLs with
//! keys in their query, key-bearing headers, connection errors and broken streams that
//! mention keys — on every failure path, no piece of any key reaches a response body, a
//! response header or the log line.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod common;
use apex_runtime::gateway::Runtime;
use apex_runtime::host::{Body, FetchError, HttpResponse, StreamError};
use bytes::Bytes;
use common::*;
use futures::executor::block_on;

/// An upstream error body that echoes every key in the ways providers do.
fn leaky_body() -> String {
    format!(
        r#"{{"error":{{"message":"Incorrect API key provided: {ALPHA_KEY_1}. Also tried {BETA_KEY} and {AZURE_KEY}; other key {ALPHA_KEY_2}, gateway {GW_KEY} {GW_KEY_2}","url":"https://alpha.example/v1/chat/completions?key={ALPHA_KEY_1}&api-version=1","masked":"{}****","tail":"****{}","sk":"sk-proj-abcdefghijklmnop","api_key":"{BETA_KEY}"}}}}"#,
        &ALPHA_KEY_2[..12],
        &AZURE_KEY[AZURE_KEY.len() - 8..],
    )
}

fn leaky(status: u16) -> HttpResponse {
    let mut r = response(status, &leaky_body());
    r.headers.extend([
        ("x-echo".to_owned(), format!("Bearer {ALPHA_KEY_1}")),
        ("authorization".to_owned(), format!("Bearer {BETA_KEY}")),
        ("api-key".to_owned(), AZURE_KEY.to_owned()),
        (
            "x-request-url".to_owned(),
            format!("https://az.example/openai?api-version=1&key={AZURE_KEY}"),
        ),
        ("retry-after".to_owned(), "1".to_owned()),
    ]);
    r
}

/// Every 8-byte piece of every key, checked against `out`.
fn assert_no_key_in(what: &str, out: &[u8]) {
    for key in ALL_KEYS {
        for piece in key.as_bytes().windows(8) {
            assert!(
                !out.windows(8).any(|w| w == piece),
                "{what} contains a piece of a key ({}): {}",
                String::from_utf8_lossy(piece),
                String::from_utf8_lossy(out)
            );
        }
    }
}

/// The response (head and whole body) and every log line so far are free of key material.
fn assert_clean(resp: HttpResponse, host: &FakeHost) -> (u16, String) {
    let status = resp.status;
    for (k, v) in &resp.headers {
        assert_no_key_in("a response header", format!("{k}: {v}").as_bytes());
    }
    let body = body_of(resp);
    assert_no_key_in("the response body", &body);
    let logs = host.logs.borrow();
    assert!(!logs.is_empty(), "a log line per request");
    for line in logs.iter() {
        assert_no_key_in("a log line", line.as_bytes());
    }
    (status, String::from_utf8_lossy(&body).into_owned())
}

fn send(host: &FakeHost, model: &str, body: Option<&str>) -> HttpResponse {
    let rt = Runtime::new(&GATEWAY);
    let body = body.map_or_else(|| chat(model), str::to_owned);
    block_on(rt.handle(host, post("/v1/chat/completions", &body)))
}

#[test]
fn a_client_error_passed_through() {
    let host = FakeHost::new();
    host.then(Ok(leaky(400)));
    let (status, body) = assert_clean(send(&host, "chat-pri", None), &host);
    assert_eq!(status, 400);
    assert!(body.contains("[redacted]"));
    assert!(
        body.contains("Incorrect API key provided"),
        "the message survives: {body}"
    );
}

#[test]
fn the_last_error_when_every_route_failed() {
    for status in [500, 502, 503, 429] {
        let host = FakeHost::new();
        for _ in 0..3 {
            host.then(Ok(leaky(status)));
        }
        let (got, _) = assert_clean(send(&host, "chat-pri", None), &host);
        assert_eq!(got, status);
    }
}

#[test]
fn an_azure_error() {
    let host = FakeHost::new();
    host.then(Ok(leaky(401)));
    let (status, _) = assert_clean(send(&host, "chat-azure", None), &host);
    assert_eq!(status, 401);
}

#[test]
fn connection_errors_and_timeouts() {
    let host = FakeHost::new();
    host.then(Err(FetchError::Connect(format!(
        "error sending request for url (https://alpha.example/v1?key={ALPHA_KEY_1}): {BETA_KEY}"
    ))))
    .then(Err(FetchError::Connect(format!(
        "tls: bad key {AZURE_KEY}"
    ))));
    let (status, body) = assert_clean(send(&host, "chat-pri", None), &host);
    assert_eq!(status, 502);
    assert!(body.contains("connection failed"), "{body}");

    let host = FakeHost::new();
    host.then(Err(FetchError::Connect(ALPHA_KEY_2.to_owned())))
        .then(Err(FetchError::Timeout));
    let (status, _) = assert_clean(send(&host, "chat-pri", None), &host);
    assert_eq!(status, 504);
}

#[test]
fn a_stream_that_fails_midway() {
    let host = FakeHost::new();
    let chunks: Vec<Result<Bytes, StreamError>> = vec![
        Ok(Bytes::from_static(b"data: {\"choices\":[]}\n\n")),
        Err(StreamError(format!(
            "reset while reading ?key={ALPHA_KEY_1} {BETA_KEY}"
        ))),
    ];
    host.then(Ok(HttpResponse {
        status: 200,
        headers: vec![("content-type".into(), "text/event-stream".into())],
        body: Body::Stream(Box::pin(futures::stream::iter(chunks))),
    }));
    let body = r#"{"model":"chat-pri","stream":true,"messages":[]}"#;
    let (status, out) = assert_clean(send(&host, "chat-pri", Some(body)), &host);
    assert_eq!(status, 200);
    assert!(out.contains("\"error\""), "{out}");
}

#[test]
fn the_gateways_own_answer_when_everything_rests() {
    let host = FakeHost::new();
    let rt = Runtime::new(&GATEWAY);
    let mut rate_limited = leaky(429);
    rate_limited.headers.retain(|(k, _)| k != "retry-after");
    rate_limited
        .headers
        .push(("retry-after".into(), "30".into()));
    host.then(Ok(rate_limited));
    block_on(rt.handle(&host, post("/v1/chat/completions", &chat("chat-azure"))));
    let resp = block_on(rt.handle(&host, post("/v1/chat/completions", &chat("chat-azure"))));
    let (status, _) = assert_clean(resp, &host);
    assert_eq!(status, 429);
}

#[test]
fn the_check_itself_catches_a_leak() {
    // Guards the guard: a body with a key in it must fail the assertion.
    let leaked = std::panic::catch_unwind(|| assert_no_key_in("x", leaky_body().as_bytes()));
    assert!(leaked.is_err());
}
