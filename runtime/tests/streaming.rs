//! Streams are forwarded chunk by chunk: the client can read a chunk before the upstream has
//! produced the next one.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod common;
use apex_runtime::gateway::Runtime;
use apex_runtime::host::{Body, HttpResponse, StreamError};
use bytes::Bytes;
use common::*;
use futures::channel::mpsc;
use futures::executor::block_on;
use futures::StreamExt;

#[test]
fn chunks_reach_the_client_one_by_one() {
    let (tx, rx) = mpsc::unbounded::<Result<Bytes, StreamError>>();
    let host = FakeHost::new();
    host.then(Ok(HttpResponse {
        status: 200,
        headers: vec![("content-type".into(), "text/event-stream".into())],
        body: Body::Stream(Box::pin(rx)),
    }));
    let rt = Runtime::new(&GATEWAY);
    let body = r#"{"model":"chat-pri","stream":true,"messages":[{"role":"user","content":"hi"}]}"#;
    // The head waits for the first event (until then the request can still fail over);
    // after it, every chunk leaves as it comes.
    let first = Bytes::from_static(b"data: {\"choices\":[{\"delta\":{\"content\":\"a\"}}]}\n\n");
    tx.unbounded_send(Ok(first.clone())).unwrap();
    let resp = block_on(rt.handle(&host, post("/v1/chat/completions", body)));
    assert_eq!(resp.status, 200);
    assert_eq!(resp.header("content-type"), Some("text/event-stream"));
    assert_eq!(resp.header("x-apex-provider"), Some("alpha"));
    assert_eq!(
        host.requests.borrow()[0].0.header("accept"),
        Some("text/event-stream")
    );
    let Body::Stream(mut out) = resp.body else {
        panic!("streamed answer was buffered")
    };

    assert_eq!(block_on(out.next()).unwrap().unwrap(), first);

    let second = Bytes::from_static(b"data: [DONE]\n\n");
    tx.unbounded_send(Ok(second.clone())).unwrap();
    assert_eq!(block_on(out.next()).unwrap().unwrap(), second);

    drop(tx);
    assert!(block_on(out.next()).is_none());
}

#[test]
fn an_error_before_the_stream_starts_fails_over() {
    let host = FakeHost::new();
    host.then_status(503, r#"{"error":"overloaded"}"#);
    let (tx, rx) = mpsc::unbounded::<Result<Bytes, StreamError>>();
    host.then(Ok(HttpResponse {
        status: 200,
        headers: vec![("content-type".into(), "text/event-stream".into())],
        body: Body::Stream(Box::pin(rx)),
    }));
    tx.unbounded_send(Ok(Bytes::from_static(b"data: [DONE]\n\n")))
        .unwrap();
    drop(tx);
    let body = r#"{"model":"chat-pri","stream":true,"messages":[]}"#;
    let resp = run(&GATEWAY, &host, post("/v1/chat/completions", body));
    assert_eq!(resp.status, 200);
    assert_eq!(resp.header("x-apex-provider"), Some("beta"));
    assert_eq!(resp.header("x-apex-attempts"), Some("2"));
    assert_eq!(body_of(resp), b"data: [DONE]\n\n");
}
