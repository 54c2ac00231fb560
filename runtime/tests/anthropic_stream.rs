//! Streamed Messages answers translated from OpenAI-compatible upstream streams: scripted
//! chat SSE, cut at awkward byte boundaries, must become the exact Messages event sequence.
#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]
mod anthropic_support;
mod common;

use anthropic_support::*;
use apex_runtime::host::StreamError;
use bytes::Bytes;
use common::FakeHost;
use serde_json::{json, Value};

const CUTS: &[&[usize]] = &[&[1], &[3, 7], &[5, 11, 2], &[64], &[4096]];

fn stream_request(extra: &str) -> String {
    format!(
        r#"{{"model":"claude-sonnet-4-5","max_tokens":1024,"stream":true{extra},
            "messages":[{{"role":"user","content":"hi"}}]}}"#
    )
}

/// Runs one scripted upstream stream through the gateway, for every way of cutting it.
fn translate(chunks: &[Value]) -> Vec<(String, Value)> {
    let text = chat_sse(chunks);
    let mut first: Option<Vec<(String, Value)>> = None;
    for cut in CUTS {
        let host = FakeHost::new();
        host.then(Ok(sse_answer(&text, cut)));
        let resp = run(&host, messages(&stream_request("")));
        assert_eq!(resp.status, 200);
        assert_eq!(resp.header("content-type"), Some("text/event-stream"));
        let mut events = client_events(resp);
        // Message ids are random per request; compare the rest.
        events[0].1["message"]["id"] = json!("msg");
        match &first {
            None => first = Some(events),
            Some(f) => assert_eq!(&events, f, "cut {cut:?} changed the events"),
        }
    }
    first.unwrap()
}

#[test]
fn text_stream_has_every_event_in_order() {
    let events = translate(&[
        delta(json!({"role": "assistant", "content": ""}), None),
        delta(json!({"content": "Hello"}), None),
        delta(json!({"content": ", wörld ✓"}), None),
        delta(json!({}), Some("stop")),
        usage_chunk(12, 3),
    ]);
    assert_eq!(
        names(&events),
        [
            "message_start",
            "content_block_start",
            "content_block_delta:text_delta",
            "content_block_delta:text_delta",
            "content_block_stop",
            "message_delta",
            "message_stop"
        ]
    );
    let start = &events[0].1["message"];
    assert_eq!(start["model"], "claude-sonnet-4-5");
    assert_eq!(start["role"], "assistant");
    assert!(start["content"].as_array().unwrap().is_empty());
    assert_eq!(
        events[1].1["content_block"],
        json!({"type": "text", "text": ""})
    );
    assert_eq!(events[3].1["delta"]["text"], ", wörld ✓");
    let md = &events[5].1;
    assert_eq!(md["delta"]["stop_reason"], "end_turn");
    assert_eq!(md["usage"]["input_tokens"], 12);
    assert_eq!(md["usage"]["output_tokens"], 3);
}

#[test]
fn reasoning_then_content_gives_thinking_then_text() {
    let events = translate(&[
        delta(
            json!({"role": "assistant", "reasoning_content": "Let me"}),
            None,
        ),
        delta(json!({"reasoning_content": " think."}), None),
        delta(json!({"content": "Answer."}), None),
        delta(json!({}), Some("stop")),
    ]);
    assert_eq!(
        names(&events),
        [
            "message_start",
            "content_block_start",
            "content_block_delta:thinking_delta",
            "content_block_delta:thinking_delta",
            "content_block_delta:signature_delta",
            "content_block_stop",
            "content_block_start",
            "content_block_delta:text_delta",
            "content_block_stop",
            "message_delta",
            "message_stop"
        ]
    );
    assert_eq!(events[1].1["content_block"]["type"], "thinking");
    assert_eq!(events[1].1["index"], 0);
    assert_eq!(events[6].1["content_block"]["type"], "text");
    assert_eq!(events[6].1["index"], 1);
    assert!(events[4].1["delta"]["signature"]
        .as_str()
        .is_some_and(|s| !s.is_empty()));
}

/// Tool arguments leave as they arrive: one `input_json_delta` per upstream fragment.
#[test]
fn tool_arguments_are_streamed_fragment_by_fragment() {
    let frags = ["{\"comm", "and\": \"ec", "ho hel", "lo\"}"];
    let mut chunks = vec![
        delta(json!({"content": "I'll run that."}), None),
        delta(
            json!({"tool_calls": [{"index": 0, "id": "call_1", "type": "function",
                "function": {"name": "Bash", "arguments": ""}}]}),
            None,
        ),
    ];
    for f in frags {
        chunks.push(delta(
            json!({"tool_calls": [{"index": 0, "function": {"arguments": f}}]}),
            None,
        ));
    }
    chunks.push(delta(json!({}), Some("tool_calls")));
    chunks.push(usage_chunk(100, 20));
    let events = translate(&chunks);
    assert_eq!(
        names(&events),
        [
            "message_start",
            "content_block_start",
            "content_block_delta:text_delta",
            "content_block_stop",
            "content_block_start",
            "content_block_delta:input_json_delta",
            "content_block_delta:input_json_delta",
            "content_block_delta:input_json_delta",
            "content_block_delta:input_json_delta",
            "content_block_stop",
            "message_delta",
            "message_stop"
        ]
    );
    assert_eq!(
        events[4].1["content_block"],
        json!({"type": "tool_use", "id": "call_1", "name": "Bash", "input": {}})
    );
    let parts: Vec<&str> = events[5..9]
        .iter()
        .map(|(_, v)| v["delta"]["partial_json"].as_str().unwrap())
        .collect();
    assert_eq!(parts, frags);
    assert_eq!(events[10].1["delta"]["stop_reason"], "tool_use");
}

#[test]
fn arguments_in_one_piece_are_one_delta() {
    let events = translate(&[
        delta(
            json!({"tool_calls": [{"index": 0, "id": "call_9", "type": "function",
                "function": {"name": "Read", "arguments": "{\"file_path\":\"/tmp/a\"}"}}]}),
            None,
        ),
        delta(json!({}), Some("tool_calls")),
    ]);
    assert_eq!(
        names(&events),
        [
            "message_start",
            "content_block_start",
            "content_block_delta:input_json_delta",
            "content_block_stop",
            "message_delta",
            "message_stop"
        ]
    );
    assert_eq!(
        events[2].1["delta"]["partial_json"],
        "{\"file_path\":\"/tmp/a\"}"
    );
}

/// Two calls whose fragments alternate: each still gets one block, opened after the previous
/// one closed, with its own arguments complete and in order.
#[test]
fn interleaved_tool_calls_become_sequential_blocks() {
    let call = |i: u64, id: Option<&str>, name: Option<&str>, args: &str| {
        let mut f = json!({"arguments": args});
        if let Some(n) = name {
            f["name"] = json!(n);
        }
        let mut c = json!({"index": i, "function": f});
        if let Some(id) = id {
            c["id"] = json!(id);
            c["type"] = json!("function");
        }
        delta(json!({"tool_calls": [c]}), None)
    };
    let events = translate(&[
        call(0, Some("call_a"), Some("Read"), "{\"file_path\":"),
        call(1, Some("call_b"), Some("Glob"), "{\"pattern\":"),
        call(0, None, None, "\"/a\"}"),
        call(1, None, None, "\"*.rs\"}"),
        delta(json!({}), Some("tool_calls")),
    ]);
    let n = names(&events);
    assert_eq!(n.first().map(String::as_str), Some("message_start"));
    // Blocks never overlap: start, deltas, stop, start, deltas, stop.
    let mut open: Option<u64> = None;
    let mut inputs: Vec<(String, String)> = Vec::new();
    for (name, v) in &events {
        match name.as_str() {
            "content_block_start" => {
                assert!(open.is_none(), "a block started while another was open");
                open = v["index"].as_u64();
                inputs.push((
                    v["content_block"]["id"].as_str().unwrap().to_owned(),
                    String::new(),
                ));
            }
            "content_block_delta" => {
                assert_eq!(v["index"].as_u64(), open);
                inputs.last_mut().unwrap().1 += v["delta"]["partial_json"].as_str().unwrap();
            }
            "content_block_stop" => {
                assert_eq!(v["index"].as_u64(), open);
                open = None;
            }
            _ => {}
        }
    }
    assert_eq!(
        inputs,
        [
            ("call_a".to_owned(), "{\"file_path\":\"/a\"}".to_owned()),
            ("call_b".to_owned(), "{\"pattern\":\"*.rs\"}".to_owned())
        ]
    );
    // The first call streamed live: its first fragment left before the second call's.
    assert_eq!(events[2].1["delta"]["partial_json"], "{\"file_path\":");
}

#[test]
fn length_cut_is_max_tokens() {
    let events = translate(&[
        delta(json!({"content": "partial"}), None),
        delta(json!({}), Some("length")),
    ]);
    let md = events.iter().find(|(n, _)| n == "message_delta").unwrap();
    assert_eq!(md.1["delta"]["stop_reason"], "max_tokens");
}

#[test]
fn upstream_failure_mid_stream_ends_with_an_error_event() {
    let host = FakeHost::new();
    host.then(Ok(stream_answer(vec![
        Ok(Bytes::from(format!(
            "data: {}\n\n",
            delta(json!({"content": "Hel"}), None)
        ))),
        Err(StreamError("connection reset".into())),
    ])));
    let events = client_events(run(&host, messages(&stream_request(""))));
    let n = names(&events);
    assert_eq!(
        n[..3],
        [
            "message_start",
            "content_block_start",
            "content_block_delta:text_delta"
        ]
    );
    assert_eq!(n.last().map(String::as_str), Some("error"));
    assert!(!n.iter().any(|e| e == "message_stop"));
    let err = &events.last().unwrap().1;
    assert_eq!(err["type"], "error");
    assert_eq!(err["error"]["type"], "api_error");
}

#[test]
fn upstream_error_event_mid_stream_is_reported_once() {
    let host = FakeHost::new();
    let text = format!(
        "data: {}\n\ndata: {}\n\n",
        delta(json!({"content": "Hel"}), None),
        json!({"error": {"message": "model overloaded", "type": "server_error"}})
    );
    host.then(Ok(sse_answer(&text, &[9])));
    let events = client_events(run(&host, messages(&stream_request(""))));
    let errors: Vec<&Value> = events
        .iter()
        .filter(|(n, _)| n == "error")
        .map(|(_, v)| v)
        .collect();
    assert_eq!(errors.len(), 1, "{events:?}");
    assert_eq!(errors[0]["error"]["message"], "model overloaded");
}

/// The Messages stream reaches the client before the upstream's stream is over.
#[test]
fn events_leave_as_upstream_chunks_arrive() {
    use futures::channel::mpsc;
    use futures::StreamExt;
    let (tx, rx) = mpsc::unbounded::<Result<Bytes, StreamError>>();
    let host = FakeHost::new();
    host.then(Ok(apex_runtime::host::HttpResponse {
        status: 200,
        headers: vec![("content-type".into(), "text/event-stream".into())],
        body: apex_runtime::host::Body::Stream(Box::pin(rx)),
    }));
    let first = format!("data: {}\n\n", delta(json!({"content": "Hi"}), None));
    tx.unbounded_send(Ok(Bytes::from(first))).unwrap();
    let rt = apex_runtime::gateway::Runtime::new(&GATEWAY);
    let resp = futures::executor::block_on(rt.handle(&host, messages(&stream_request(""))));
    let apex_runtime::host::Body::Stream(mut out) = resp.body else {
        panic!("not streamed")
    };
    let mut got = Vec::new();
    while !String::from_utf8_lossy(&got).contains("text_delta") {
        got.extend_from_slice(&futures::executor::block_on(out.next()).unwrap().unwrap());
    }
    let text = String::from_utf8_lossy(&got);
    assert!(text.starts_with("event: message_start\n"));
    assert!(!text.contains("message_delta"));
    // A tool call's first fragment leaves before its arguments are complete.
    let frag = delta(
        json!({"tool_calls": [{"index": 0, "id": "c", "function": {"name": "Bash", "arguments": "{\"command\""}}]}),
        None,
    );
    tx.unbounded_send(Ok(Bytes::from(format!("data: {frag}\n\n"))))
        .unwrap();
    let next = futures::executor::block_on(out.next()).unwrap().unwrap();
    let text = String::from_utf8_lossy(&next);
    assert!(
        text.contains("\"partial_json\":\"{\\\"command\\\"\""),
        "{text}"
    );
    drop(tx);
}

/// OpenAI-compatible upstreams report usage only at the end; Anthropic clients read
/// `input_tokens` from `message_start`, so it carries the estimate count_tokens answers with
/// (the exact figure follows in `message_delta`).
#[test]
fn message_start_carries_the_estimated_input_tokens() {
    let events = translate(&[
        delta(json!({"role": "assistant", "content": "ok"}), None),
        delta(json!({}), Some("stop")),
        usage_chunk(12, 1),
    ]);
    let counted = common::json_of(run(
        &FakeHost::new(),
        messages_at(
            "/v1/messages/count_tokens",
            r#"{"model":"claude-sonnet-4-5","messages":[{"role":"user","content":"hi"}]}"#,
        ),
    ));
    let estimate = counted["input_tokens"].as_u64().unwrap();
    assert!(estimate > 0);
    assert_eq!(events[0].1["message"]["usage"]["input_tokens"], estimate);
    assert_eq!(events[0].1["message"]["usage"]["output_tokens"], 0);
    assert_eq!(events.last().unwrap().0, "message_stop");
}
