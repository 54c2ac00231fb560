//! `/v1/responses` on the other upstream protocols: Anthropic Messages (through the same
//! canonical model) and the built-in mock kind.
#![cfg(all(feature = "kind-anthropic", feature = "kind-mock"))]
#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]
mod anthropic_support;
mod common;
use anthropic_support::GATEWAY;
use apex_runtime::host::{Body, HttpResponse, StreamError};
use apex_runtime::wire::sse;
use bytes::Bytes;
use common::*;
use serde_json::{json, Value};

fn anthropic_stream(events: &[(&str, Value)]) -> HttpResponse {
    let chunks: Vec<Result<Bytes, StreamError>> = events
        .iter()
        .map(|(name, v)| Ok(Bytes::from(format!("event: {name}\ndata: {v}\n\n"))))
        .collect();
    HttpResponse {
        status: 200,
        headers: vec![("content-type".into(), "text/event-stream".into())],
        body: Body::Stream(Box::pin(futures::stream::iter(chunks))),
    }
}

fn events_of(resp: HttpResponse) -> Vec<Value> {
    let bytes = body_of(resp);
    let mut p = sse::Parser::default();
    let mut out = Vec::new();
    p.feed(&bytes, &mut out).unwrap();
    p.finish(&mut out).unwrap();
    out.into_iter()
        .map(|e| serde_json::from_str(&e.data).unwrap())
        .collect()
}

#[test]
fn an_anthropic_upstream_serves_a_streamed_tool_call() {
    let host = FakeHost::new();
    host.then(Ok(anthropic_stream(&[
        ("message_start", json!({"type": "message_start", "message": {"id": "msg_1", "type": "message", "role": "assistant",
            "model": "claude-real", "content": [], "stop_reason": null, "usage": {"input_tokens": 12, "output_tokens": 1}}})),
        ("content_block_start", json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}})),
        ("content_block_delta", json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Checking."}})),
        ("content_block_stop", json!({"type": "content_block_stop", "index": 0})),
        ("content_block_start", json!({"type": "content_block_start", "index": 1, "content_block": {"type": "tool_use", "id": "toolu_1", "name": "exec_command", "input": {}}})),
        ("content_block_delta", json!({"type": "content_block_delta", "index": 1, "delta": {"type": "input_json_delta", "partial_json": "{\"cmd\":"}})),
        ("content_block_delta", json!({"type": "content_block_delta", "index": 1, "delta": {"type": "input_json_delta", "partial_json": "\"ls\"}"}})),
        ("content_block_stop", json!({"type": "content_block_stop", "index": 1})),
        ("message_delta", json!({"type": "message_delta", "delta": {"stop_reason": "tool_use"}, "usage": {"output_tokens": 9}})),
        ("message_stop", json!({"type": "message_stop"})),
    ])));
    let body = json!({"model": "native", "stream": true, "store": false, "instructions": "Be careful.",
        "input": "list files",
        "tools": [{"type": "function", "name": "exec_command", "parameters": {"type": "object", "properties": {"cmd": {"type": "string"}}}}]});
    let events = events_of(run(
        &GATEWAY,
        &host,
        post("/v1/responses", &body.to_string()),
    ));
    let up: Value = serde_json::from_slice(&host.requests.borrow()[0].0.body).unwrap();
    assert!(host.requests.borrow()[0].0.url.ends_with("/v1/messages"));
    assert_eq!(up["system"], "Be careful.");
    assert_eq!(up["tools"][0]["name"], "exec_command");
    assert_eq!(up["tools"][0]["input_schema"]["type"], "object");
    let types: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(types.first(), Some(&"response.created"));
    assert_eq!(types.last(), Some(&"response.completed"));
    assert_eq!(
        types
            .iter()
            .filter(|t| **t == "response.function_call_arguments.delta")
            .count(),
        2
    );
    for (i, e) in events.iter().enumerate() {
        assert_eq!(e["sequence_number"], json!(i));
    }
    let done = &events.last().unwrap()["response"];
    assert_eq!(done["output"][0]["content"][0]["text"], "Checking.");
    assert_eq!(done["output"][1]["type"], "function_call");
    assert_eq!(done["output"][1]["call_id"], "toolu_1");
    assert_eq!(done["output"][1]["arguments"], "{\"cmd\":\"ls\"}");
    assert_eq!(done["usage"]["output_tokens"], 9);
}

#[test]
fn the_mock_kind_answers_responses() {
    let host = FakeHost::new();
    let resp = run(
        &GATEWAY,
        &host,
        post(
            "/v1/responses",
            r#"{"model":"demo","input":"ping pong","store":false}"#,
        ),
    );
    assert_eq!(resp.status, 200);
    let v = json_of(resp);
    assert_eq!(v["object"], "response");
    assert_eq!(v["status"], "completed");
    assert_eq!(
        v["output"][0]["content"][0]["text"],
        "mock reply: ping pong"
    );
    let resp = run(
        &GATEWAY,
        &host,
        post(
            "/v1/responses",
            r#"{"model":"demo","input":"ping pong","store":false,"stream":true}"#,
        ),
    );
    let events = events_of(resp);
    let text: String = events
        .iter()
        .filter(|e| e["type"] == "response.output_text.delta")
        .map(|e| e["delta"].as_str().unwrap())
        .collect();
    assert_eq!(text, "mock reply: ping pong");
    assert_eq!(events.last().unwrap()["type"], "response.completed");
}
