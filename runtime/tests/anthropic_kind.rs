//! The `anthropic` upstream kind: native passthrough for Messages clients, translation for
//! OpenAI chat clients.
#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]
mod anthropic_support;
mod common;

use anthropic_support::*;
use common::{body_of, json_of, FakeHost, BETA_KEY, GW_KEY};
use serde_json::{json, Value};

fn chat_post(body: &Value) -> apex_runtime::host::HttpRequest {
    common::request(
        "POST",
        "/v1/chat/completions",
        &[
            ("authorization", &format!("Bearer {GW_KEY}")),
            ("content-type", "application/json"),
        ],
        &body.to_string(),
    )
}

#[test]
fn messages_pass_through_to_anthropic_untouched_but_the_model() {
    let body = r#"{"model":"native","max_tokens":64,"messages":[{"role":"user","content":"hi"}],"metadata":{"user_id":"u"},"thinking":{"type":"enabled","budget_tokens":1024}}"#;
    let answer = r#"{"id":"msg_up","type":"message","role":"assistant","model":"claude-real","content":[{"type":"text","text":"hey"}],"stop_reason":"end_turn","usage":{"input_tokens":3,"output_tokens":1}}"#;
    let host = FakeHost::new();
    host.then_status(200, answer);
    let resp = run(&host, messages(body));
    assert_eq!(resp.status, 200);
    assert_eq!(body_of(resp), answer.as_bytes());
    let reqs = host.requests.borrow();
    let (req, _) = &reqs[0];
    assert_eq!(req.url, "https://api.anthropic.example/v1/messages");
    assert_eq!(req.header("x-api-key"), Some(BETA_KEY));
    assert_eq!(req.header("authorization"), None);
    assert_eq!(req.header("anthropic-version"), Some("2023-06-01"));
    assert_eq!(
        req.header("anthropic-beta"),
        Some("claude-code-20250219,interleaved-thinking-2025-05-14")
    );
    assert_eq!(
        String::from_utf8_lossy(&req.body),
        body.replace("\"native\"", "\"claude-real\"")
    );
}

#[test]
fn anthropic_errors_pass_through_as_anthropic_errors() {
    let host = FakeHost::new();
    let err = r#"{"type":"error","error":{"type":"invalid_request_error","message":"max_tokens too big"}}"#;
    host.then_status(400, err);
    let resp = run(
        &host,
        messages(r#"{"model":"native","max_tokens":1,"messages":[]}"#),
    );
    assert_eq!(resp.status, 400);
    assert_eq!(json_of(resp), serde_json::from_str::<Value>(err).unwrap());
}

#[test]
fn count_tokens_goes_to_anthropic_when_the_model_has_it() {
    let host = FakeHost::new();
    host.then_status(200, r#"{"input_tokens":42}"#);
    let resp = run(
        &host,
        messages_at(
            "/v1/messages/count_tokens",
            r#"{"model":"native","messages":[{"role":"user","content":"hi"}]}"#,
        ),
    );
    assert_eq!(json_of(resp), json!({"input_tokens": 42}));
    let reqs = host.requests.borrow();
    assert_eq!(
        reqs[0].0.url,
        "https://api.anthropic.example/v1/messages/count_tokens"
    );
    let sent: Value = serde_json::from_slice(&reqs[0].0.body).unwrap();
    assert_eq!(sent["model"], "claude-real");
}

#[test]
fn chat_clients_get_translated_requests_and_answers() {
    let body = json!({
        "model": "native#claude", "max_tokens": 100, "temperature": 0.5, "stop": "END",
        "messages": [
            {"role": "system", "content": "be brief"},
            {"role": "user", "content": [{"type": "text", "text": "look"},
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}]},
            {"role": "assistant", "content": null, "tool_calls": [
                {"id": "call_1", "type": "function", "function": {"name": "ls", "arguments": "{\"d\":\"/\"}"}}]},
            {"role": "tool", "tool_call_id": "call_1", "content": "bin etc"}
        ],
        "tools": [{"type": "function", "function": {"name": "ls", "parameters": {"type": "object"}}}],
        "tool_choice": "required"
    });
    let host = FakeHost::new();
    host.then_status(
        200,
        &json!({"id": "msg_1", "type": "message", "role": "assistant", "model": "claude-real",
            "content": [{"type": "text", "text": "Done."},
                        {"type": "tool_use", "id": "toolu_2", "name": "ls", "input": {"d": "/bin"}}],
            "stop_reason": "tool_use", "usage": {"input_tokens": 20, "output_tokens": 5}})
        .to_string(),
    );
    let resp = run(&host, chat_post(&body));
    assert_eq!(resp.status, 200);
    let v = json_of(resp);
    assert_eq!(v["object"], "chat.completion");
    assert_eq!(v["model"], "native#claude");
    let m = &v["choices"][0]["message"];
    assert_eq!(m["content"], "Done.");
    assert_eq!(m["tool_calls"][0]["id"], "toolu_2");
    assert_eq!(
        m["tool_calls"][0]["function"]["arguments"],
        "{\"d\":\"/bin\"}"
    );
    assert_eq!(v["choices"][0]["finish_reason"], "tool_calls");
    assert_eq!(v["usage"]["prompt_tokens"], 20);
    let up = upstream_body(&host);
    assert_eq!(up["model"], "claude-real");
    assert_eq!(up["system"], "be brief");
    assert_eq!(up["stop_sequences"], json!(["END"]));
    assert_eq!(up["tool_choice"], json!({"type": "any"}));
    assert_eq!(up["tools"][0]["input_schema"], json!({"type": "object"}));
    let msgs = up["messages"].as_array().unwrap();
    assert_eq!(
        msgs[0]["content"][1]["source"],
        json!({"type": "base64", "media_type": "image/png", "data": "AAAA"})
    );
    assert_eq!(
        msgs[1]["content"][0],
        json!({"type": "tool_use", "id": "call_1", "name": "ls", "input": {"d": "/"}})
    );
    assert_eq!(msgs[2]["content"][0]["type"], "tool_result");
    assert_eq!(msgs[2]["content"][0]["tool_use_id"], "call_1");
    let reqs = host.requests.borrow();
    assert_eq!(reqs[0].0.header("x-api-key"), Some(BETA_KEY));
}

#[test]
fn chat_clients_get_translated_streams() {
    let upstream = [
        (
            "message_start",
            json!({"type": "message_start", "message": {"id": "msg_1", "type": "message", "role": "assistant", "model": "claude-real", "content": [], "usage": {"input_tokens": 7, "output_tokens": 1}}}),
        ),
        (
            "content_block_start",
            json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
        ),
        ("ping", json!({"type": "ping"})),
        (
            "content_block_delta",
            json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Hi"}}),
        ),
        (
            "content_block_stop",
            json!({"type": "content_block_stop", "index": 0}),
        ),
        (
            "content_block_start",
            json!({"type": "content_block_start", "index": 1, "content_block": {"type": "tool_use", "id": "toolu_1", "name": "ls", "input": {}}}),
        ),
        (
            "content_block_delta",
            json!({"type": "content_block_delta", "index": 1, "delta": {"type": "input_json_delta", "partial_json": "{\"d\":"}}),
        ),
        (
            "content_block_delta",
            json!({"type": "content_block_delta", "index": 1, "delta": {"type": "input_json_delta", "partial_json": "\"/\"}"}}),
        ),
        (
            "content_block_stop",
            json!({"type": "content_block_stop", "index": 1}),
        ),
        (
            "message_delta",
            json!({"type": "message_delta", "delta": {"stop_reason": "tool_use"}, "usage": {"output_tokens": 12}}),
        ),
        ("message_stop", json!({"type": "message_stop"})),
    ];
    let mut text = String::new();
    for (name, data) in &upstream {
        text.push_str(&format!("event: {name}\r\ndata: {data}\r\n\r\n"));
    }
    let host = FakeHost::new();
    host.then(Ok(sse_answer(&text, &[7, 3, 50])));
    let body = json!({"model": "native", "stream": true, "stream_options": {"include_usage": true},
        "messages": [{"role": "user", "content": "hi"}]});
    let resp = run(&host, chat_post(&body));
    assert_eq!(resp.status, 200);
    let raw = String::from_utf8(body_of(resp)).unwrap();
    let chunks: Vec<Value> = raw
        .split("\n\n")
        .filter_map(|e| e.strip_prefix("data: "))
        .filter(|d| *d != "[DONE]")
        .map(|d| serde_json::from_str(d).unwrap())
        .collect();
    assert!(raw.trim_end().ends_with("data: [DONE]"));
    assert_eq!(chunks[0]["choices"][0]["delta"]["role"], "assistant");
    assert_eq!(chunks[1]["choices"][0]["delta"]["content"], "Hi");
    assert_eq!(
        chunks[2]["choices"][0]["delta"]["tool_calls"][0]["id"],
        "toolu_1"
    );
    assert_eq!(
        chunks[2]["choices"][0]["delta"]["tool_calls"][0]["function"]["name"],
        "ls"
    );
    let args: String = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["tool_calls"][0]["function"]["arguments"].as_str())
        .collect();
    assert_eq!(args, "{\"d\":\"/\"}");
    let finish = chunks
        .iter()
        .find_map(|c| c["choices"][0]["finish_reason"].as_str());
    assert_eq!(finish, Some("tool_calls"));
    let usage = &chunks.last().unwrap()["usage"];
    assert_eq!(usage["prompt_tokens"], 7);
    assert_eq!(usage["completion_tokens"], 12);
    assert_eq!(upstream_body(&host)["stream"], true);
}

/// A model with an OpenAI route and an Anthropic route: a 5xx on the first fails over to the
/// second, each getting its own protocol.
#[test]
fn failover_across_protocols() {
    let host = FakeHost::new();
    host.then_status(503, r#"{"error":{"message":"down"}}"#);
    host.then_status(
        200,
        r#"{"id":"msg_1","type":"message","role":"assistant","model":"claude-real","content":[{"type":"text","text":"from claude"}],"stop_reason":"end_turn","usage":{"input_tokens":1,"output_tokens":2}}"#,
    );
    let resp = run(
        &host,
        messages(
            r#"{"model":"mixed","max_tokens":10,"messages":[{"role":"user","content":"hi"}]}"#,
        ),
    );
    assert_eq!(resp.status, 200);
    assert_eq!(resp.header("x-apex-provider"), Some("claude"));
    assert_eq!(json_of(resp)["content"][0]["text"], "from claude");
    let urls = host.urls();
    assert_eq!(
        urls,
        [
            "https://up.example/v1/chat/completions",
            "https://api.anthropic.example/v1/messages"
        ]
    );
}

/// An OpenAI client whose request went to an Anthropic upstream reads OpenAI's error shape
/// (the SDKs parse `error.message`/`error.type`), not Anthropic's `{"type":"error",…}`.
#[test]
fn chat_clients_get_anthropic_errors_in_openai_shape() {
    for (status, kind) in [(400, "invalid_request_error"), (429, "rate_limit_error")] {
        let host = FakeHost::new();
        let err = json!({"type": "error", "error": {"type": kind, "message": "upstream says no"}});
        // 429 is retried on the next key; both keys answer the same.
        for _ in 0..3 {
            host.then_status(status, &err.to_string());
        }
        let resp = run(
            &host,
            chat_post(&json!({"model": "native", "messages": [{"role": "user", "content": "hi"}]})),
        );
        let e = common::assert_error(resp, status);
        assert_eq!(e["message"], "upstream says no");
        assert_eq!(e["type"], kind);

        let host = FakeHost::new();
        for _ in 0..3 {
            host.then_status(status, &err.to_string());
        }
        let resp = run(
            &host,
            common::request(
                "POST",
                "/v1/responses",
                &[
                    ("authorization", &format!("Bearer {GW_KEY}")),
                    ("content-type", "application/json"),
                ],
                &json!({"model": "native", "input": "hi"}).to_string(),
            ),
        );
        assert!(!host.requests.borrow().is_empty(), "went upstream");
        let e = common::assert_error(resp, status);
        assert_eq!(e["message"], "upstream says no", "/v1/responses");
    }
}

/// Anthropic answers one choice per request: `n: 2` is refused up front instead of silently
/// answering one.
#[test]
fn chat_n_above_one_is_refused_for_an_anthropic_upstream() {
    let host = FakeHost::new();
    let resp = run(
        &host,
        chat_post(
            &json!({"model": "native", "n": 2, "messages": [{"role": "user", "content": "hi"}]}),
        ),
    );
    let e = common::assert_error(resp, 400);
    assert_eq!(e["param"], "n");
    assert!(host.requests.borrow().is_empty(), "nothing sent upstream");
}

/// `response_format: json_object` has no Messages field; it becomes an instruction in `system`
/// instead of being dropped.
#[test]
fn chat_json_mode_reaches_an_anthropic_upstream_as_an_instruction() {
    let host = FakeHost::new();
    host.then_status(
        200,
        r#"{"type":"message","role":"assistant","content":[{"type":"text","text":"{}"}],"stop_reason":"end_turn","usage":{"input_tokens":1,"output_tokens":1}}"#,
    );
    let resp = run(
        &host,
        chat_post(
            &json!({"model": "native", "response_format": {"type": "json_object"},
            "messages": [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi"}]}),
        ),
    );
    assert_eq!(resp.status, 200);
    let system = upstream_body(&host)["system"].to_string();
    assert!(system.contains("be brief"), "{system}");
    assert!(system.contains("one valid JSON object"), "{system}");
}

/// The route's `max_tokens` cap holds on OpenAI passthrough (where only `model` used to be
/// spliced), and on native Messages even when the client sent no `max_tokens`.
#[test]
fn the_route_cap_holds_on_passthrough_and_without_a_client_max_tokens() {
    for (sent, expect) in [(Some(32000), 8000), (Some(100), 100), (None, 8000)] {
        let host = FakeHost::new();
        host.then_status(200, r#"{"id":"c","object":"chat.completion","choices":[]}"#);
        let mut body = json!({"model": "capped", "messages": [{"role": "user", "content": "hi"}]});
        if let Some(n) = sent {
            body["max_tokens"] = json!(n);
        }
        run(&host, chat_post(&body));
        let up = upstream_body(&host);
        assert_eq!(up["max_tokens"], expect, "client sent {sent:?}");
        assert_eq!(up["model"], "small-model");
    }
    let host = FakeHost::new();
    host.then_status(
        200,
        r#"{"type":"message","content":[],"stop_reason":"end_turn"}"#,
    );
    run(
        &host,
        messages(r#"{"model":"native-capped","messages":[{"role":"user","content":"hi"}]}"#),
    );
    assert_eq!(upstream_body(&host)["max_tokens"], 1000);
}

/// The gateway's own answers carry `x-apex-attempts: 0`, are in the client's protocol shape,
/// and the 404 for an unknown path names every served endpoint, Anthropic's included.
#[test]
fn the_gateways_own_answers_say_no_upstream_was_tried() {
    let host = FakeHost::new();
    let mut unauth = messages(r#"{"model":"native","max_tokens":1,"messages":[]}"#);
    unauth.headers.retain(|(k, _)| k != "x-api-key");
    let resp = run(&host, unauth);
    assert_eq!(resp.status, 401);
    assert_eq!(resp.header("x-apex-attempts"), Some("0"));
    assert_eq!(
        json_of(resp)["type"],
        "error",
        "Anthropic shape on /v1/messages"
    );

    let resp = run(
        &host,
        common::request(
            "GET",
            "/v1/nothing-here",
            &[("authorization", &format!("Bearer {GW_KEY}"))],
            "",
        ),
    );
    assert_eq!(resp.status, 404);
    assert_eq!(resp.header("x-apex-attempts"), Some("0"));
    let e = common::assert_error(resp, 404);
    let msg = e["message"].as_str().unwrap();
    for path in [
        "/v1/chat/completions",
        "/v1/messages",
        "/v1/responses",
        "/v1/embeddings",
    ] {
        assert!(msg.contains(path), "{msg}");
    }
    assert!(host.requests.borrow().is_empty());
}
