//! Timeouts to the first event of a stream, and streams that fail after they started.
//! Time is the fake host's virtual clock (providers' `timeout_ms` is 1000 in the test table).
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod common;
use apex_runtime::host::{Body, ByteStream, HttpResponse, StreamError};
use bytes::Bytes;
use common::*;
use futures::channel::mpsc;

const STREAM_BODY: &str =
    r#"{"model":"chat-pri","stream":true,"messages":[{"role":"user","content":"hi"}]}"#;

fn sse(stream: ByteStream) -> HttpResponse {
    HttpResponse {
        status: 200,
        headers: vec![("content-type".into(), "text/event-stream".into())],
        body: Body::Stream(stream),
    }
}

/// A stream of these items, then the end.
fn items(items: Vec<Result<&'static str, &'static str>>) -> ByteStream {
    Box::pin(futures::stream::iter(items.into_iter().map(|r| {
        r.map(|s| Bytes::from_static(s.as_bytes()))
            .map_err(|e| StreamError(e.to_owned()))
    })))
}

/// A stream that has sent nothing yet (and never will: the sender is kept by the caller).
fn silent() -> (
    mpsc::UnboundedSender<Result<Bytes, StreamError>>,
    ByteStream,
) {
    let (tx, rx) = mpsc::unbounded();
    (tx, Box::pin(rx))
}

const EVENT: &str = "data: {\"choices\":[{\"delta\":{\"content\":\"a\"}}]}\n\n";

#[test]
fn a_stream_without_a_first_event_in_time_fails_over() {
    let host = FakeHost::new();
    let (_tx, stalled) = silent();
    // Headers after 900 ms of the 1000 ms allowed; then nothing.
    host.then_after(900, Ok(sse(stalled)));
    host.then(Ok(sse(items(vec![Ok(EVENT), Ok("data: [DONE]\n\n")]))));
    let t0 = host.now();
    let resp = run(&GATEWAY, &host, post("/v1/chat/completions", STREAM_BODY));
    assert_eq!(resp.status, 200);
    assert_eq!(resp.header("x-apex-provider"), Some("beta"));
    assert_eq!(resp.header("x-apex-attempts"), Some("2"));
    // The wait for the first event got what was left of the timeout, no more.
    assert_eq!(*host.sleeps.borrow(), [100]);
    assert_eq!(host.now() - t0, 1000);
    assert_eq!(body_of(resp), format!("{EVENT}data: [DONE]\n\n").as_bytes());
}

#[test]
fn a_stream_whose_first_event_is_there_is_not_timed() {
    let host = FakeHost::new();
    host.then_after(
        999,
        Ok(sse(items(vec![Ok(""), Ok(EVENT), Ok("data: [DONE]\n\n")]))),
    );
    let resp = run(&GATEWAY, &host, post("/v1/chat/completions", STREAM_BODY));
    assert_eq!(resp.header("x-apex-provider"), Some("alpha"));
    assert!(host.sleeps.borrow().is_empty());
    assert_eq!(body_of(resp), format!("{EVENT}data: [DONE]\n\n").as_bytes());
}

#[test]
fn a_stream_that_breaks_before_its_first_event_fails_over() {
    for broken in [items(vec![Err("connection reset")]), items(vec![])] {
        let host = FakeHost::new();
        host.then(Ok(sse(broken)));
        let resp = run(&GATEWAY, &host, post("/v1/chat/completions", STREAM_BODY));
        assert_eq!(resp.status, 200);
        assert_eq!(resp.header("x-apex-provider"), Some("beta"));
    }
}

#[test]
fn a_stream_that_fails_midway_ends_with_an_error_event() {
    let host = FakeHost::new();
    host.then(Ok(sse(items(vec![
        Ok(EVENT),
        Err("connection reset by peer"),
        Ok("data: never\n\n"),
    ]))));
    let resp = run(&GATEWAY, &host, post("/v1/chat/completions", STREAM_BODY));
    assert_eq!(resp.status, 200);
    let body = String::from_utf8(body_of(resp)).unwrap();
    let events: Vec<&str> = body.split_terminator("\n\n").collect();
    assert_eq!(events.len(), 2, "{body}");
    assert_eq!(format!("{}\n\n", events[0]), EVENT);
    let err: serde_json::Value =
        serde_json::from_str(events[1].strip_prefix("data: ").unwrap()).unwrap();
    assert_eq!(err["error"]["code"], "upstream_stream_error");
    assert!(err["error"]["message"].as_str().unwrap().contains("alpha"));
    assert!(!body.contains("[DONE]"));
}

#[test]
fn a_stream_cut_short_without_done_ends_with_an_error_event() {
    let host = FakeHost::new();
    host.then(Ok(sse(items(vec![Ok(EVENT), Ok(EVENT)]))));
    let resp = run(&GATEWAY, &host, post("/v1/chat/completions", STREAM_BODY));
    let body = String::from_utf8(body_of(resp)).unwrap();
    assert!(body.starts_with(&format!("{EVENT}{EVENT}")));
    let last = body.split_terminator("\n\n").last().unwrap();
    assert!(last.starts_with("data: {\"error\":"), "{body}");
}

#[test]
fn a_non_streaming_request_does_not_wait_for_a_body_chunk() {
    let host = FakeHost::new();
    let (tx, body) = silent();
    host.then(Ok(HttpResponse {
        status: 200,
        headers: vec![("content-type".into(), "application/json".into())],
        body: Body::Stream(body),
    }));
    let resp = run(
        &GATEWAY,
        &host,
        post("/v1/chat/completions", &chat("chat-pri")),
    );
    assert_eq!(resp.header("x-apex-provider"), Some("alpha"));
    assert!(host.sleeps.borrow().is_empty());
    tx.unbounded_send(Ok(Bytes::from_static(b"{}"))).unwrap();
    drop(tx);
    assert_eq!(body_of(resp), b"{}");
}

#[test]
fn a_hanging_route_costs_at_most_its_timeout() {
    use apex_runtime::host::FetchError;
    // The host gives up on headers after timeout_ms (scripted as a 1000 ms Timeout); the
    // healthy route answers in 40 ms: the client waits 1040 ms, once. Then the hanging route
    // rests after its second timeout and later requests take only the healthy route's time.
    let host = FakeHost::new();
    let rt = apex_runtime::gateway::Runtime::new(&GATEWAY);
    let mut took = Vec::new();
    for i in 0..4 {
        if i < 2 {
            host.then_after(1000, Err(FetchError::Timeout));
        }
        host.then_after(40, Ok(response(200, "{}")));
        let t0 = host.now();
        let resp = futures::executor::block_on(
            rt.handle(&host, post("/v1/chat/completions", &chat("chat-pri"))),
        );
        assert_eq!(resp.status, 200);
        took.push(host.now() - t0);
    }
    assert_eq!(took, [1040, 1040, 40, 40]);
    assert_eq!(
        host.hosts(),
        [
            "alpha.example",
            "beta.example",
            "alpha.example",
            "beta.example",
            "beta.example",
            "beta.example"
        ]
    );
}
