//! `/v1/responses` bridged to chat-completions upstreams: what the upstream is sent (from the
//! real Codex CLI requests in `fixtures/codex-*.json`), and the Responses events and objects
//! the client gets back from scripted upstream streams.
#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]
mod common;
use apex_runtime::host::{Body, HttpResponse, StreamError};
use apex_runtime::wire::sse;
use bytes::Bytes;
use common::*;
use serde_json::{json, Value};

fn codex(turn: u8) -> Value {
    let raw = match turn {
        1 => include_str!("fixtures/codex-turn1.json"),
        _ => include_str!("fixtures/codex-turn2.json"),
    };
    let mut v: Value = serde_json::from_str(raw).unwrap();
    v["model"] = json!("chat-pri");
    v
}

/// A chat-completions SSE answer, one chunk per event.
fn chat_stream(events: &[Value], done: bool) -> HttpResponse {
    let mut chunks: Vec<Result<Bytes, StreamError>> = events
        .iter()
        .map(|e| Ok(Bytes::from(format!("data: {e}\n\n"))))
        .collect();
    if done {
        chunks.push(Ok(Bytes::from_static(b"data: [DONE]\n\n")));
    }
    HttpResponse {
        status: 200,
        headers: vec![("content-type".into(), "text/event-stream".into())],
        body: Body::Stream(Box::pin(futures::stream::iter(chunks))),
    }
}

fn delta(d: Value) -> Value {
    json!({"id": "chatcmpl-1", "object": "chat.completion.chunk", "model": "a-model",
           "choices": [{"index": 0, "delta": d, "finish_reason": null}]})
}

fn finish(reason: &str) -> Value {
    json!({"id": "chatcmpl-1", "object": "chat.completion.chunk", "model": "a-model",
           "choices": [{"index": 0, "delta": {}, "finish_reason": reason}]})
}

fn usage() -> Value {
    json!({"id": "chatcmpl-1", "object": "chat.completion.chunk", "model": "a-model", "choices": [],
           "usage": {"prompt_tokens": 120, "completion_tokens": 30, "total_tokens": 150,
                     "prompt_tokens_details": {"cached_tokens": 100}}})
}

fn tool_call_fragments() -> Vec<Value> {
    vec![
        delta(
            json!({"role": "assistant", "tool_calls": [{"index": 0, "id": "call_1", "type": "function",
            "function": {"name": "exec_command", "arguments": ""}}]}),
        ),
        delta(json!({"tool_calls": [{"index": 0, "function": {"arguments": "{\"cmd\": "}}]})),
        delta(json!({"tool_calls": [{"index": 0, "function": {"arguments": "\"echo hello\"}"}}]})),
        finish("tool_calls"),
        usage(),
    ]
}

/// Every SSE event of a client stream, with its JSON.
fn events_of(resp: HttpResponse) -> Vec<(String, Value)> {
    let bytes = body_of(resp);
    let mut p = sse::Parser::default();
    let mut out = Vec::new();
    p.feed(&bytes, &mut out).unwrap();
    p.finish(&mut out).unwrap();
    out.into_iter()
        .map(|e| {
            let v: Value =
                serde_json::from_str(&e.data).unwrap_or_else(|err| panic!("{err}: {}", e.data));
            assert_eq!(v["type"], e.event.as_str(), "event name = type");
            (e.event, v)
        })
        .collect()
}

fn names(events: &[(String, Value)]) -> Vec<&str> {
    events.iter().map(|(n, _)| n.as_str()).collect()
}

/// Sequence numbers count from 0 without gaps; every added item is done once, in order.
fn check_stream_invariants(events: &[(String, Value)]) {
    for (i, (_, v)) in events.iter().enumerate() {
        assert_eq!(
            v["sequence_number"],
            json!(i),
            "sequence_number of event {i}"
        );
    }
    let added: Vec<&Value> = events
        .iter()
        .filter(|(n, _)| n == "response.output_item.added")
        .map(|(_, v)| &v["item"]["id"])
        .collect();
    let done: Vec<&Value> = events
        .iter()
        .filter(|(n, _)| n == "response.output_item.done")
        .map(|(_, v)| &v["item"]["id"])
        .collect();
    assert_eq!(added, done, "output_item.done for every item");
    let (first, last) = (&events[0].1, &events.last().unwrap().1);
    assert_eq!(first["type"], "response.created");
    assert_eq!(first["response"]["id"], last["response"]["id"]);
    assert!(first["response"]["id"]
        .as_str()
        .unwrap()
        .starts_with("resp_"));
}

fn upstream_body(host: &FakeHost, i: usize) -> Value {
    serde_json::from_slice(&host.requests.borrow()[i].0.body).unwrap()
}

#[test]
fn codex_turn1_becomes_a_chat_request() {
    let host = FakeHost::new();
    host.then(Ok(chat_stream(&tool_call_fragments(), true)));
    let resp = run(
        &GATEWAY,
        &host,
        post("/v1/responses", &codex(1).to_string()),
    );
    assert_eq!(resp.status, 200);
    assert_eq!(resp.header("content-type"), Some("text/event-stream"));
    let _ = body_of(resp);

    let (req, _) = &host.requests.borrow()[0];
    assert_eq!(req.url, "https://alpha.example/v1/chat/completions");
    let up = upstream_body(&host, 0);
    assert_eq!(up["model"], "a-model");
    assert_eq!(up["stream"], true);
    assert_eq!(up["stream_options"]["include_usage"], true);
    assert_eq!(up["tool_choice"], "auto");
    assert_eq!(up["parallel_tool_calls"], true);
    let tools: Vec<&str> = up["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            assert_eq!(t["type"], "function");
            t["function"]["name"].as_str().unwrap()
        })
        .collect();
    assert!(tools.contains(&"exec_command"));
    // The namespace's tools, flattened; the hosted web_search left out.
    assert!(tools.contains(&"multi_agent_v1__close_agent"), "{tools:?}");
    assert!(!tools.iter().any(|t| t.contains("web_search")));
    let messages = up["messages"].as_array().unwrap();
    // Developer messages become the system prompt.
    assert_eq!(messages[0]["role"], "system");
    assert!(messages[0]["content"]
        .as_str()
        .unwrap()
        .starts_with("You are a coding agent running in the Codex CLI"));
    assert!(messages[1..].iter().all(|m| m["role"] == "user"));
    assert_eq!(
        messages.last().unwrap()["content"],
        "please run: echo hello"
    );
    // Nothing Responses-only leaks upstream.
    for k in [
        "input",
        "store",
        "include",
        "prompt_cache_key",
        "client_metadata",
        "reasoning",
    ] {
        assert!(up.get(k).is_none(), "{k} sent upstream");
    }
}

#[test]
fn codex_turn2_sends_the_call_and_its_output() {
    let host = FakeHost::new();
    host.then(Ok(chat_stream(
        &[
            delta(json!({"content": "It printed hello."})),
            finish("stop"),
        ],
        true,
    )));
    let resp = run(
        &GATEWAY,
        &host,
        post("/v1/responses", &codex(2).to_string()),
    );
    assert_eq!(resp.status, 200);
    let _ = body_of(resp);
    let up = upstream_body(&host, 0);
    let messages = up["messages"].as_array().unwrap();
    let n = messages.len();
    let call = &messages[n - 2];
    assert_eq!(call["role"], "assistant");
    assert_eq!(call["tool_calls"][0]["id"], "call_b2ed6c6044a14cc4904ce144");
    assert_eq!(call["tool_calls"][0]["function"]["name"], "exec_command");
    assert_eq!(
        call["tool_calls"][0]["function"]["arguments"],
        "{\"cmd\": \"echo hello\"}"
    );
    let result = &messages[n - 1];
    assert_eq!(result["role"], "tool");
    assert_eq!(result["tool_call_id"], "call_b2ed6c6044a14cc4904ce144");
    assert!(result["content"]
        .as_str()
        .unwrap()
        .contains("Output:\nhello"));
}

#[test]
fn tool_call_fragments_stream_as_function_call_events() {
    let host = FakeHost::new();
    host.then(Ok(chat_stream(&tool_call_fragments(), true)));
    let resp = run(
        &GATEWAY,
        &host,
        post("/v1/responses", &codex(1).to_string()),
    );
    let events = events_of(resp);
    assert_eq!(
        names(&events),
        [
            "response.created",
            "response.in_progress",
            "response.output_item.added",
            "response.function_call_arguments.delta",
            "response.function_call_arguments.delta",
            "response.function_call_arguments.done",
            "response.output_item.done",
            "response.completed",
        ]
    );
    check_stream_invariants(&events);
    let deltas: Vec<&str> = events
        .iter()
        .filter(|(n, _)| n.ends_with("arguments.delta"))
        .map(|(_, v)| v["delta"].as_str().unwrap())
        .collect();
    assert_eq!(deltas, ["{\"cmd\": ", "\"echo hello\"}"]);
    let done = &events[6].1["item"];
    assert_eq!(done["type"], "function_call");
    assert_eq!(done["call_id"], "call_1");
    assert_eq!(done["name"], "exec_command");
    assert_eq!(done["arguments"], "{\"cmd\": \"echo hello\"}");
    assert_eq!(done["status"], "completed");
    let completed = &events[7].1["response"];
    assert_eq!(completed["status"], "completed");
    assert_eq!(completed["model"], "chat-pri");
    assert_eq!(completed["output"][0], *done);
    assert_eq!(completed["usage"]["input_tokens"], 120);
    assert_eq!(
        completed["usage"]["input_tokens_details"]["cached_tokens"],
        100
    );
    assert_eq!(completed["usage"]["output_tokens"], 30);
    assert_eq!(completed["usage"]["total_tokens"], 150);
    // Codex sent store: false: nothing kept.
    assert_eq!(host.kv.writes.get(), 0);
}

#[test]
fn text_streams_as_message_events() {
    let host = FakeHost::new();
    host.then(Ok(chat_stream(
        &[
            delta(json!({"role": "assistant", "content": ""})),
            delta(json!({"content": "Hel"})),
            delta(json!({"content": "lo"})),
            finish("stop"),
            usage(),
        ],
        true,
    )));
    let body = json!({"model": "chat-pri", "input": "hi", "stream": true});
    let events = events_of(run(
        &GATEWAY,
        &host,
        post("/v1/responses", &body.to_string()),
    ));
    assert_eq!(
        names(&events),
        [
            "response.created",
            "response.in_progress",
            "response.output_item.added",
            "response.content_part.added",
            "response.output_text.delta",
            "response.output_text.delta",
            "response.output_text.done",
            "response.content_part.done",
            "response.output_item.done",
            "response.completed",
        ]
    );
    check_stream_invariants(&events);
    assert_eq!(events[6].1["text"], "Hello");
    let msg = &events[9].1["response"]["output"][0];
    assert_eq!(msg["type"], "message");
    assert_eq!(msg["role"], "assistant");
    assert_eq!(msg["content"][0]["type"], "output_text");
    assert_eq!(msg["content"][0]["text"], "Hello");
    let up = upstream_body(&host, 0);
    assert_eq!(up["messages"], json!([{"role": "user", "content": "hi"}]));
}

#[test]
fn custom_tools_go_as_functions_and_come_back_as_custom_calls() {
    let host = FakeHost::new();
    let patch = "*** Begin Patch\n*** Add File: a.txt\n+hi \"there\"\n*** End Patch";
    let args = json!({ "input": patch }).to_string();
    let (a, b) = args.split_at(12);
    host.then(Ok(chat_stream(
        &[
            delta(
                json!({"tool_calls": [{"index": 0, "id": "call_p", "type": "function",
                "function": {"name": "apply_patch", "arguments": a}}]}),
            ),
            delta(json!({"tool_calls": [{"index": 0, "function": {"arguments": b}}]})),
            finish("tool_calls"),
        ],
        true,
    )));
    let body = json!({
        "model": "chat-pri", "stream": true, "input": "add a file",
        "tools": [{"type": "custom", "name": "apply_patch", "description": "Edit files.",
                   "format": {"type": "grammar", "syntax": "lark", "definition": "start: begin_patch"}}],
    });
    let events = events_of(run(
        &GATEWAY,
        &host,
        post("/v1/responses", &body.to_string()),
    ));
    let up = upstream_body(&host, 0);
    let f = &up["tools"][0]["function"];
    assert_eq!(f["name"], "apply_patch");
    assert_eq!(f["parameters"]["required"], json!(["input"]));
    assert!(f["description"]
        .as_str()
        .unwrap()
        .contains("start: begin_patch"));
    assert_eq!(
        names(&events),
        [
            "response.created",
            "response.in_progress",
            "response.output_item.added",
            "response.custom_tool_call_input.delta",
            "response.custom_tool_call_input.delta",
            "response.custom_tool_call_input.done",
            "response.output_item.done",
            "response.completed",
        ]
    );
    check_stream_invariants(&events);
    assert_eq!(events[2].1["item"]["type"], "custom_tool_call");
    // The input streams as it is decoded out of the stand-in's JSON arguments.
    let streamed: String = events
        .iter()
        .filter(|(n, _)| n.ends_with("input.delta"))
        .map(|(_, v)| v["delta"].as_str().unwrap())
        .collect();
    assert_eq!(streamed, patch);
    assert_eq!(events[3].1["delta"], "**");
    assert_eq!(events[5].1["input"], patch);
    let item = &events[6].1["item"];
    assert_eq!(item["type"], "custom_tool_call");
    assert_eq!(item["call_id"], "call_p");
    assert_eq!(item["input"], patch);
}

#[test]
fn custom_tool_history_goes_back_as_wrapped_arguments() {
    let host = FakeHost::new();
    host.then_status(
        200,
        &json!({"id": "c", "object": "chat.completion", "model": "a-model",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "done"}, "finish_reason": "stop"}]})
        .to_string(),
    );
    let body = json!({
        "model": "chat-pri", "store": false,
        "tools": [{"type": "custom", "name": "apply_patch"},
                  {"type": "namespace", "name": "ns", "tools": [{"type": "function", "name": "f"}]}],
        "input": [
            {"role": "user", "content": "go"},
            {"type": "custom_tool_call", "call_id": "c1", "name": "apply_patch", "input": "PATCH"},
            {"type": "function_call", "call_id": "c2", "namespace": "ns", "name": "f", "arguments": "{}"},
            {"type": "custom_tool_call_output", "call_id": "c1", "output": "ok"},
            {"type": "function_call_output", "call_id": "c2", "output": [{"type": "input_text", "text": "fine"}]},
        ],
    });
    let resp = run(&GATEWAY, &host, post("/v1/responses", &body.to_string()));
    assert_eq!(resp.status, 200);
    let out = json_of(resp);
    assert_eq!(out["object"], "response");
    assert_eq!(out["output"][0]["content"][0]["text"], "done");
    let up = upstream_body(&host, 0);
    let m = up["messages"].as_array().unwrap();
    assert_eq!(
        m[1]["tool_calls"][0]["function"]["arguments"],
        "{\"input\":\"PATCH\"}"
    );
    assert_eq!(m[1]["tool_calls"][1]["function"]["name"], "ns__f");
    assert_eq!(
        (m[2]["tool_call_id"].clone(), m[2]["content"].clone()),
        (json!("c1"), json!("ok"))
    );
    assert_eq!(
        (m[3]["tool_call_id"].clone(), m[3]["content"].clone()),
        (json!("c2"), json!("fine"))
    );
}

#[test]
fn namespaced_calls_are_restored() {
    let host = FakeHost::new();
    host.then(Ok(chat_stream(
        &[
            delta(json!({"tool_calls": [{"index": 0, "id": "call_n", "type": "function",
                "function": {"name": "multi_agent_v1__close_agent", "arguments": "{\"target\":\"a1\"}"}}]})),
            finish("tool_calls"),
        ],
        true,
    )));
    let events = events_of(run(
        &GATEWAY,
        &host,
        post("/v1/responses", &codex(1).to_string()),
    ));
    let item = &events
        .iter()
        .find(|(n, _)| n == "response.output_item.done")
        .unwrap()
        .1["item"];
    assert_eq!(item["namespace"], "multi_agent_v1");
    assert_eq!(item["name"], "close_agent");
}

#[test]
fn reasoning_streams_as_summary_events() {
    let host = FakeHost::new();
    host.then(Ok(chat_stream(
        &[
            delta(json!({"reasoning_content": "Think"})),
            delta(json!({"reasoning_content": "ing."})),
            delta(json!({"content": "Answer"})),
            finish("stop"),
        ],
        true,
    )));
    let body =
        json!({"model": "chat-pri", "input": "q", "stream": true, "reasoning": {"effort": "high"}});
    let events = events_of(run(
        &GATEWAY,
        &host,
        post("/v1/responses", &body.to_string()),
    ));
    check_stream_invariants(&events);
    assert_eq!(
        names(&events)[2..9],
        [
            "response.output_item.added",
            "response.reasoning_summary_part.added",
            "response.reasoning_summary_text.delta",
            "response.reasoning_summary_text.delta",
            "response.reasoning_summary_text.done",
            "response.reasoning_summary_part.done",
            "response.output_item.done",
        ]
    );
    let last = &events.last().unwrap().1["response"];
    assert_eq!(last["output"][0]["type"], "reasoning");
    assert_eq!(last["output"][0]["summary"][0]["text"], "Thinking.");
    assert_eq!(last["output"][1]["content"][0]["text"], "Answer");
    assert_eq!(upstream_body(&host, 0)["reasoning_effort"], "high");
}

#[test]
fn a_stream_cut_mid_way_ends_with_response_failed() {
    let host = FakeHost::new();
    host.then(Ok(chat_stream(&[delta(json!({"content": "Hel"}))], false)));
    let body = json!({"model": "chat-pri", "input": "hi", "stream": true});
    let events = events_of(run(
        &GATEWAY,
        &host,
        post("/v1/responses", &body.to_string()),
    ));
    check_stream_invariants(&events);
    let (name, last) = events.last().unwrap();
    assert_eq!(name, "response.failed");
    assert_eq!(last["response"]["status"], "failed");
    assert!(last["response"]["error"]["message"].as_str().unwrap().len() > 5);
}

#[test]
fn max_tokens_ends_incomplete() {
    let host = FakeHost::new();
    host.then(Ok(chat_stream(
        &[delta(json!({"content": "Hel"})), finish("length")],
        true,
    )));
    let body = json!({"model": "chat-pri", "input": "hi", "stream": true, "max_output_tokens": 3});
    let events = events_of(run(
        &GATEWAY,
        &host,
        post("/v1/responses", &body.to_string()),
    ));
    let (name, last) = events.last().unwrap();
    assert_eq!(name, "response.incomplete");
    assert_eq!(
        last["response"]["incomplete_details"]["reason"],
        "max_output_tokens"
    );
    assert_eq!(upstream_body(&host, 0)["max_tokens"], 3);
}

#[test]
fn json_schema_format_becomes_response_format() {
    let host = FakeHost::new();
    let body = json!({"model": "chat-pri", "input": "hi", "store": false,
        "text": {"format": {"type": "json_schema", "name": "r", "strict": true,
                            "schema": {"type": "object", "properties": {"a": {"type": "string"}}}}}});
    host.then_status(
        200,
        &json!({"choices": [{"message": {"content": "{\"a\":\"x\"}"}, "finish_reason": "stop"}]})
            .to_string(),
    );
    let resp = run(&GATEWAY, &host, post("/v1/responses", &body.to_string()));
    assert_eq!(resp.status, 200);
    let out = json_of(resp);
    assert_eq!(out["text"]["format"]["type"], "json_schema");
    let up = upstream_body(&host, 0);
    assert_eq!(up["response_format"]["type"], "json_schema");
    assert_eq!(up["response_format"]["json_schema"]["name"], "r");
    assert_eq!(up["response_format"]["json_schema"]["strict"], true);
}

#[test]
fn bad_requests_are_openai_errors() {
    let host = FakeHost::new();
    let e = assert_error(
        run(&GATEWAY, &host, post("/v1/responses", r#"{"input":"x"}"#)),
        400,
    );
    assert_eq!(e["param"], "model");
    let e = assert_error(
        run(
            &GATEWAY,
            &host,
            post("/v1/responses", r#"{"model":"chat-pri"}"#),
        ),
        400,
    );
    assert_eq!(e["param"], "input");
    assert_error(
        run(
            &GATEWAY,
            &host,
            post("/v1/responses", r#"{"model":"nope","input":"x"}"#),
        ),
        404,
    );
    let resp = run(&GATEWAY, &host, get("/v1/responses"));
    assert_eq!(resp.status, 405);
    assert!(host.requests.borrow().is_empty());
}

/// The whole chat body each real Codex request becomes, against a reviewed golden file
/// (`UPDATE_GOLDEN=1 cargo test -p apex-runtime --test responses_bridge` rewrites them).
#[test]
fn codex_requests_match_their_golden_chat_bodies() {
    for turn in [1u8, 2] {
        let host = FakeHost::new();
        host.then(Ok(chat_stream(&[finish("stop")], true)));
        let _ = body_of(run(
            &GATEWAY,
            &host,
            post("/v1/responses", &codex(turn).to_string()),
        ));
        let got = serde_json::to_string_pretty(&upstream_body(&host, 0)).unwrap() + "\n";
        let path = format!(
            "{}/tests/golden/codex-turn{turn}.chat.json",
            env!("CARGO_MANIFEST_DIR")
        );
        if std::env::var_os("UPDATE_GOLDEN").is_some() {
            std::fs::write(&path, &got).unwrap();
        }
        let want = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("{path}: {e} (UPDATE_GOLDEN=1 writes it)"));
        // Compared as JSON values: key order depends on whether some other crate in the build
        // turned on serde_json's `preserve_order` (workspace feature unification), not on us.
        let want: serde_json::Value = serde_json::from_str(&want).unwrap();
        assert!(
            upstream_body(&host, 0) == want,
            "{path} differs (UPDATE_GOLDEN=1 rewrites it; review the diff)"
        );
    }
}
