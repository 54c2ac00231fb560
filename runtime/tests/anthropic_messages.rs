//! Whole (non-streamed) Messages answers and Anthropic-shaped errors.
#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]
mod anthropic_support;
mod common;

use anthropic_support::*;
use common::{json_of, FakeHost};
use serde_json::{json, Value};

fn ask(model: &str) -> String {
    json!({"model": model, "max_tokens": 100, "messages": [{"role": "user", "content": "run it"}]})
        .to_string()
}

#[test]
fn a_full_message_with_thinking_text_and_tool_calls() {
    let host = FakeHost::new();
    host.then_status(
        200,
        &json!({
            "id": "chatcmpl-9", "object": "chat.completion", "model": "deepseek-chat",
            "choices": [{"index": 0, "finish_reason": "tool_calls", "message": {
                "role": "assistant", "content": "Running.", "reasoning_content": "User wants a run.",
                "tool_calls": [
                    {"id": "call_1", "type": "function", "function": {"name": "Bash", "arguments": "{\"command\":\"ls\"}"}},
                    {"id": "call_2", "type": "function", "function": {"name": "Read", "arguments": ""}}
                ]}}],
            "usage": {"prompt_tokens": 40, "completion_tokens": 9, "prompt_tokens_details": {"cached_tokens": 30}}
        })
        .to_string(),
    );
    let resp = run(&host, messages(&ask("claude-sonnet-4-5")));
    assert_eq!(resp.status, 200);
    assert_eq!(resp.header("content-type"), Some("application/json"));
    assert_eq!(resp.header("x-apex-provider"), Some("up"));
    let v = json_of(resp);
    assert_eq!(v["type"], "message");
    assert_eq!(v["role"], "assistant");
    assert_eq!(v["model"], "claude-sonnet-4-5");
    assert!(v["id"].as_str().unwrap().starts_with("msg_"));
    assert_eq!(v["stop_reason"], "tool_use");
    assert_eq!(v["stop_sequence"], Value::Null);
    let c = v["content"].as_array().unwrap();
    assert_eq!(c[0]["type"], "thinking");
    assert_eq!(c[0]["thinking"], "User wants a run.");
    assert!(c[0]["signature"].as_str().is_some_and(|s| !s.is_empty()));
    assert_eq!(c[1], json!({"type": "text", "text": "Running."}));
    assert_eq!(
        c[2],
        json!({"type": "tool_use", "id": "call_1", "name": "Bash", "input": {"command": "ls"}})
    );
    assert_eq!(c[3]["input"], json!({}));
    assert_eq!(v["usage"]["input_tokens"], 10);
    assert_eq!(v["usage"]["cache_read_input_tokens"], 30);
    assert_eq!(v["usage"]["output_tokens"], 9);
}

#[test]
fn finish_reasons_map_to_stop_reasons() {
    for (finish, extra, stop) in [
        ("stop", json!({}), "end_turn"),
        ("length", json!({}), "max_tokens"),
        ("content_filter", json!({}), "refusal"),
        ("stop", json!({"stop_reason": "END"}), "stop_sequence"),
    ] {
        let mut choice = json!({"index": 0, "finish_reason": finish,
            "message": {"role": "assistant", "content": "x"}});
        for (k, v) in extra.as_object().unwrap() {
            choice[k] = v.clone();
        }
        let host = FakeHost::new();
        host.then_status(200, &json!({"id": "c", "choices": [choice]}).to_string());
        let v = json_of(run(&host, messages(&ask("claude-sonnet-4-5"))));
        assert_eq!(v["stop_reason"], stop, "{finish} {extra}");
        if stop == "stop_sequence" {
            assert_eq!(v["stop_sequence"], "END");
        }
    }
}

/// The mock kind answers chat; a Messages client gets a Messages answer from it.
#[test]
fn mock_upstream_answers_messages_clients() {
    let host = FakeHost::new();
    let v = json_of(run(&host, messages(&ask("demo"))));
    assert_eq!(v["content"][0]["text"], "mock reply: run it");
    assert_eq!(v["stop_reason"], "end_turn");
    let body = json!({"model": "demo", "max_tokens": 100, "stream": true,
        "messages": [{"role": "user", "content": "one two"}]});
    let events = client_events(run(&host, messages(&body.to_string())));
    assert_eq!(
        names(&events).last().map(String::as_str),
        Some("message_stop")
    );
    let text: String = events
        .iter()
        .filter_map(|(_, v)| v["delta"]["text"].as_str())
        .collect();
    assert_eq!(text, "mock reply: one two");
}

fn assert_anthropic_error(
    resp: apex_runtime::host::HttpResponse,
    status: u16,
    kind: &str,
) -> Value {
    assert_eq!(resp.status, status);
    assert_eq!(resp.header("content-type"), Some("application/json"));
    let v = json_of(resp);
    assert_eq!(v["type"], "error", "{v}");
    assert_eq!(v["error"]["type"], kind, "{v}");
    assert!(v["error"]["message"]
        .as_str()
        .is_some_and(|m| !m.is_empty()));
    v
}

#[test]
fn errors_are_anthropic_shaped() {
    // Auth: missing and wrong keys, on both Messages paths.
    for path in ["/v1/messages", "/v1/messages/count_tokens"] {
        let mut req = messages_at(path, &ask("claude-sonnet-4-5"));
        req.headers.retain(|(k, _)| k != "x-api-key");
        assert_anthropic_error(run(&FakeHost::new(), req), 401, "authentication_error");
        let mut req = messages_at(path, &ask("claude-sonnet-4-5"));
        req.headers
            .push(("authorization".into(), "Bearer nope".into()));
        req.headers.retain(|(k, _)| k != "x-api-key");
        assert_anthropic_error(run(&FakeHost::new(), req), 401, "authentication_error");
    }
    assert_anthropic_error(
        run(&FakeHost::new(), messages(&ask("nope"))),
        404,
        "not_found_error",
    );
    assert_anthropic_error(
        run(&FakeHost::new(), messages("{not json")),
        400,
        "invalid_request_error",
    );
    assert_anthropic_error(
        run(
            &FakeHost::new(),
            messages(r#"{"model":"claude-sonnet-4-5"}"#),
        ),
        400,
        "invalid_request_error",
    );
    let mut get = messages("");
    get.method = "GET".into();
    assert_anthropic_error(run(&FakeHost::new(), get), 405, "invalid_request_error");
    // Upstream OpenAI-style errors keep their status and message.
    let host = FakeHost::new();
    host.then_status(
        400,
        r#"{"error":{"message":"bad tool schema","type":"invalid_request_error"}}"#,
    );
    let v = assert_anthropic_error(
        run(&host, messages(&ask("claude-sonnet-4-5"))),
        400,
        "invalid_request_error",
    );
    assert_eq!(v["error"]["message"], "bad tool schema");
    // Rate limited everywhere → 429 rate_limit_error; down → 5xx api_error.
    let host = FakeHost::new();
    for _ in 0..3 {
        host.then_status(429, r#"{"error":{"message":"slow down"}}"#);
    }
    assert_anthropic_error(
        run(&host, messages(&ask("claude-sonnet-4-5"))),
        429,
        "rate_limit_error",
    );
    let host = FakeHost::new();
    host.then(Err(apex_runtime::host::FetchError::Connect(
        "refused".into(),
    )));
    assert_anthropic_error(
        run(&host, messages(&ask("claude-sonnet-4-5"))),
        502,
        "api_error",
    );
}

/// An upstream answer that is not a chat completion is a 502, not a crash or an empty message.
#[test]
fn untranslatable_upstream_answer_is_a_502() {
    let host = FakeHost::new();
    host.then_status(200, "<html>oops</html>");
    assert_anthropic_error(
        run(&host, messages(&ask("claude-sonnet-4-5"))),
        502,
        "api_error",
    );
}
