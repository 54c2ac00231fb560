//! Upstream bodies the platform still holds (`Body::Platform`, a Worker's `ReadableStream`):
//! passed back untouched when the router has no reason to read them, opened when it does.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod common;
use apex_runtime::host::{Body, ByteStream, HttpResponse, PlatformBody};
use bytes::Bytes;
use common::*;
use std::cell::Cell;
use std::rc::Rc;

/// A platform body that records whether the router opened it.
struct Held {
    bytes: &'static str,
    opened: Rc<Cell<bool>>,
}

impl PlatformBody for Held {
    fn into_stream(self: Box<Self>) -> ByteStream {
        self.opened.set(true);
        // Two chunks, so readers must join them.
        let (a, b) = self.bytes.split_at(self.bytes.len() / 2);
        Box::pin(futures::stream::iter([
            Ok(Bytes::from_static(a.as_bytes())),
            Ok(Bytes::from_static(b.as_bytes())),
        ]))
    }
    fn into_any(self: Box<Self>) -> Box<dyn std::any::Any> {
        self
    }
}

fn held(host: &FakeHost, status: u16, content_type: &str, bytes: &'static str) -> Rc<Cell<bool>> {
    let opened = Rc::new(Cell::new(false));
    host.then(Ok(HttpResponse {
        status,
        headers: vec![
            ("content-type".into(), content_type.into()),
            ("etag".into(), "\"upstream-bytes\"".into()),
        ],
        body: Body::Platform(Box::new(Held {
            bytes,
            opened: opened.clone(),
        })),
    }));
    opened
}

const COMPLETION: &str = r#"{"id":"c1","object":"chat.completion","model":"a-model","choices":[{"index":0,"message":{"role":"assistant","content":"held text"},"finish_reason":"stop"}],"usage":{"prompt_tokens":3,"completion_tokens":2,"total_tokens":5}}"#;
const STREAM: &str = "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"model\":\"a-model\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"held \"}}]}\n\ndata: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"model\":\"a-model\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"text\"},\"finish_reason\":\"stop\"}]}\n\ndata: [DONE]\n\n";

/// Every upstream byte passes the scrub stage (a 200 may echo a key), so even a passthrough
/// answer is read: whole, in one step, and comes back byte for byte when it holds nothing.
#[test]
fn same_protocol_answer_is_read_once_and_comes_back_as_it_was() {
    let host = FakeHost::new();
    let opened = held(&host, 200, "application/json", COMPLETION);
    let resp = run(
        &GATEWAY,
        &host,
        post("/v1/chat/completions", &chat("chat-pri")),
    );
    assert_eq!(resp.status, 200);
    assert_eq!(header(&resp, "x-apex-provider"), Some("alpha"));
    assert_eq!(header(&resp, "etag"), Some("\"upstream-bytes\""));
    assert_eq!(String::from_utf8(body_of(resp)).unwrap(), COMPLETION);
    assert!(opened.get(), "the scrub stage did not read the body");
}

#[test]
fn streamed_answer_is_opened_and_checked() {
    let host = FakeHost::new();
    let opened = held(&host, 200, "text/event-stream", STREAM);
    let body = r#"{"model":"chat-pri","stream":true,"messages":[{"role":"user","content":"hi"}]}"#;
    let resp = run(&GATEWAY, &host, post("/v1/chat/completions", body));
    assert_eq!(resp.status, 200);
    assert!(opened.get());
    assert_eq!(String::from_utf8(body_of(resp)).unwrap(), STREAM);
}

#[test]
fn translated_answer_is_opened_and_translated() {
    let host = FakeHost::new();
    let opened = held(&host, 200, "application/json", COMPLETION);
    let body =
        r#"{"model":"chat-pri","max_tokens":10,"messages":[{"role":"user","content":"hi"}]}"#;
    let resp = run(&GATEWAY, &host, post("/v1/messages", body));
    assert_eq!(resp.status, 200);
    assert!(opened.get());
    // The upstream's validator described the upstream's bytes, not these.
    assert_eq!(header(&resp, "etag"), None);
    let v = json_of(resp);
    assert_eq!(v["type"], "message");
    assert_eq!(v["content"][0]["text"], "held text");
    assert_eq!(v["usage"]["output_tokens"], 2);
}

#[test]
fn upstream_error_body_is_read_for_the_client() {
    let host = FakeHost::new();
    let opened = held(
        &host,
        400,
        "application/json",
        r#"{"error":{"message":"held complaint","type":"invalid_request_error"}}"#,
    );
    let resp = run(
        &GATEWAY,
        &host,
        post("/v1/chat/completions", &chat("chat-pri")),
    );
    assert_eq!(resp.status, 400);
    assert!(opened.get());
    let v = json_of(resp);
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("held complaint"),
        "{v}"
    );
}
