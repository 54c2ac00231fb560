//! Messages requests → the chat completions body an OpenAI-compatible upstream receives.
//! The Claude Code samples are real captures (`tests/fixtures/samples/`).
#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]
mod anthropic_support;
mod common;

use anthropic_support::*;
use common::FakeHost;
use serde_json::{json, Value};

fn chat_ok() -> &'static str {
    r#"{"id":"c1","object":"chat.completion","model":"deepseek-chat","choices":[{"index":0,"message":{"role":"assistant","content":"ok"},"finish_reason":"stop"}],"usage":{"prompt_tokens":5,"completion_tokens":1}}"#
}

/// Sends `body` and returns the upstream chat request it became.
fn upstream_for(body: &Value) -> Value {
    let host = FakeHost::new();
    host.then_status(200, chat_ok());
    let resp = run(&host, messages(&body.to_string()));
    assert!(resp.status < 300, "status {}", resp.status);
    let reqs = host.requests.borrow();
    let (req, _) = reqs.last().unwrap();
    assert_eq!(req.url, "https://up.example/v1/chat/completions");
    assert_eq!(
        req.header("authorization"),
        Some(format!("Bearer {}", common::ALPHA_KEY_1).as_str())
    );
    serde_json::from_slice(&req.body).unwrap()
}

fn no_key_anywhere(v: &Value, key: &str) -> bool {
    match v {
        Value::Object(o) => {
            !o.contains_key(key)
                && o.iter()
                    .all(|(k, v)| k == "properties" || no_key_anywhere(v, key))
        }
        Value::Array(a) => a.iter().all(|v| no_key_anywhere(v, key)),
        _ => true,
    }
}

#[test]
fn claude_code_first_turn() {
    let sample = sample("claude-tool-turn1.json");
    let up = upstream_for(&sample);
    assert_eq!(up["model"], "deepseek-chat");
    assert_eq!(up["stream"], true);
    assert_eq!(up["stream_options"]["include_usage"], true);
    assert_eq!(up["max_tokens"], 32000);
    // Anthropic-only fields are gone.
    for k in [
        "metadata",
        "thinking",
        "context_management",
        "system",
        "top_k",
        "output_config",
    ] {
        assert!(up.get(k).is_none(), "{k} reached the upstream");
    }
    assert_eq!(up["reasoning_effort"], "high");
    // System blocks merged into one leading system message, in order.
    let msgs = up["messages"].as_array().unwrap();
    assert_eq!(msgs[0]["role"], "system");
    let system = msgs[0]["content"].as_str().unwrap();
    let blocks = sample["system"].as_array().unwrap();
    assert_eq!(
        system,
        blocks
            .iter()
            .map(|b| b["text"].as_str().unwrap())
            .collect::<Vec<_>>()
            .join("\n\n")
    );
    assert_eq!(msgs.iter().filter(|m| m["role"] == "system").count(), 1);
    // The user's nine text blocks, as one string, nothing lost.
    assert_eq!(msgs[1]["role"], "user");
    let user = msgs[1]["content"].as_str().unwrap();
    for b in sample["messages"][0]["content"].as_array().unwrap() {
        assert!(user.contains(b["text"].as_str().unwrap()));
    }
    // Tools: every one, as functions, schemas cleaned of $schema, nothing else changed.
    let tools = up["tools"].as_array().unwrap();
    let sent = sample["tools"].as_array().unwrap();
    assert_eq!(tools.len(), sent.len());
    for (t, s) in tools.iter().zip(sent) {
        assert_eq!(t["type"], "function");
        assert_eq!(t["function"]["name"], s["name"]);
        assert_eq!(t["function"]["description"], s["description"]);
        let params = &t["function"]["parameters"];
        assert!(no_key_anywhere(params, "$schema"), "{}", s["name"]);
        let mut expected = s["input_schema"].clone();
        expected.as_object_mut().unwrap().remove("$schema");
        assert_eq!(params, &expected);
        assert!(t.get("defer_loading").is_none() && t["function"].get("defer_loading").is_none());
    }
}

#[test]
fn claude_code_tool_result_turn() {
    let sample = sample("claude-tool-turn2-tool_result.json");
    let up = upstream_for(&sample);
    let msgs = up["messages"].as_array().unwrap();
    let roles: Vec<&str> = msgs.iter().map(|m| m["role"].as_str().unwrap()).collect();
    assert_eq!(roles, ["system", "user", "assistant", "tool"]);
    let a = &msgs[2];
    assert_eq!(a["content"], "I'll run that.");
    let call = &a["tool_calls"][0];
    assert_eq!(call["id"], "toolu_1de17e36efb846cba83ddfa1");
    assert_eq!(call["type"], "function");
    assert_eq!(call["function"]["name"], "Bash");
    let args: Value =
        serde_json::from_str(call["function"]["arguments"].as_str().unwrap()).unwrap();
    assert_eq!(
        args,
        json!({"command": "echo hello", "description": "Print hello"})
    );
    let tool = &msgs[3];
    assert_eq!(tool["tool_call_id"], "toolu_1de17e36efb846cba83ddfa1");
    assert!(tool["content"].as_str().unwrap().starts_with("hello\n"));
}

#[test]
fn images_documents_and_tool_result_images() {
    let png = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==";
    let body = json!({
        "model": "claude-sonnet-4-5", "max_tokens": 100,
        "messages": [
            {"role": "user", "content": [
                {"type": "text", "text": "look"},
                {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": png}},
                {"type": "image", "source": {"type": "url", "url": "https://img.example/a.jpg"}},
                {"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": "doc body"}, "title": "Notes"},
                {"type": "document", "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBERi0x"}}
            ]},
            {"role": "assistant", "content": [
                {"type": "tool_use", "id": "t1", "name": "Screenshot", "input": {}}
            ]},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "t1", "is_error": false, "content": [
                    {"type": "text", "text": "captured"},
                    {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": png}}
                ]},
                {"type": "text", "text": "what do you see?"}
            ]}
        ]
    });
    let up = upstream_for(&body);
    let msgs = up["messages"].as_array().unwrap();
    let parts = msgs[0]["content"].as_array().unwrap();
    assert_eq!(parts[0], json!({"type": "text", "text": "look"}));
    assert_eq!(
        parts[1]["image_url"]["url"],
        format!("data:image/png;base64,{png}")
    );
    assert_eq!(parts[2]["image_url"]["url"], "https://img.example/a.jpg");
    assert_eq!(
        parts[3],
        json!({"type": "text", "text": "Notes\n\ndoc body"})
    );
    assert_eq!(parts[4]["type"], "file");
    assert_eq!(
        parts[4]["file"]["file_data"],
        "data:application/pdf;base64,JVBERi0x"
    );
    assert_eq!(msgs[1]["tool_calls"][0]["function"]["arguments"], "{}");
    assert_eq!(
        msgs[2],
        json!({"role": "tool", "tool_call_id": "t1", "content": "captured"})
    );
    // The result's image follows in a user message, before the user's own text.
    let follow = msgs[3]["content"].as_array().unwrap();
    assert_eq!(msgs[3]["role"], "user");
    assert!(follow[0]["text"].as_str().unwrap().contains("t1"));
    assert_eq!(follow[1]["type"], "image_url");
    assert_eq!(
        follow[2],
        json!({"type": "text", "text": "what do you see?"})
    );
}

#[test]
fn controls_map_and_anthropic_only_fields_drop() {
    let body = json!({
        "model": "claude-sonnet-4-5", "max_tokens": 50, "temperature": 0.2, "top_p": 0.9, "top_k": 5,
        "stop_sequences": ["END"], "metadata": {"user_id": "u"},
        "system": "be brief",
        "messages": [
            {"role": "system", "content": "also: be kind"},
            {"role": "user", "content": "hi"},
            {"role": "assistant", "content": [
                {"type": "thinking", "thinking": "hmm", "signature": "sig"},
                {"type": "redacted_thinking", "data": "opaque"},
                {"type": "text", "text": "hello"}
            ]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "x", "content": "boom", "is_error": true}]}
        ],
        "tools": [{"name": "a", "input_schema": {"type": "object", "properties": {"$schema": {"type": "string"}}}, "cache_control": {"type": "ephemeral"}}],
        "tool_choice": {"type": "any", "disable_parallel_tool_use": true},
        "thinking": {"type": "disabled"}
    });
    let up = upstream_for(&body);
    assert_eq!(up["max_tokens"], 50);
    assert_eq!(up["temperature"], 0.2);
    assert_eq!(up["top_p"], 0.9);
    assert_eq!(up["stop"], json!(["END"]));
    assert_eq!(up["tool_choice"], "required");
    assert_eq!(up["parallel_tool_calls"], false);
    assert!(up.get("top_k").is_none() && up.get("metadata").is_none());
    assert!(up.get("reasoning_effort").is_none());
    // A property *named* $schema is data, not the keyword.
    assert_eq!(
        up["tools"][0]["function"]["parameters"]["properties"]["$schema"],
        json!({"type": "string"})
    );
    let msgs = up["messages"].as_array().unwrap();
    assert_eq!(
        msgs[0],
        json!({"role": "system", "content": "be brief\n\nalso: be kind"})
    );
    assert_eq!(msgs[2]["reasoning_content"], "hmm");
    assert_eq!(msgs[2]["content"], "hello");
    assert_eq!(msgs[3]["content"], "Error: boom");
    // tool_choice variants.
    for (choice, expected) in [
        (json!({"type": "auto"}), json!("auto")),
        (json!({"type": "none"}), json!("none")),
        (
            json!({"type": "tool", "name": "a"}),
            json!({"type": "function", "function": {"name": "a"}}),
        ),
    ] {
        let mut b = body.clone();
        b["tool_choice"] = choice;
        assert_eq!(upstream_for(&b)["tool_choice"], expected);
    }
}

#[test]
fn untranslatable_content_is_a_clear_anthropic_400() {
    for (block, needle) in [
        (
            json!({"type": "document", "source": {"type": "url", "url": "https://x.example/a.pdf"}}),
            "URL",
        ),
        (json!({"type": "mystery_block"}), "mystery_block"),
    ] {
        let body = json!({"model": "claude-sonnet-4-5", "max_tokens": 10,
            "messages": [{"role": "user", "content": [block]}]});
        let host = FakeHost::new();
        let resp = run(&host, messages(&body.to_string()));
        assert_eq!(resp.status, 400);
        let v = common::json_of(resp);
        assert_eq!(v["type"], "error");
        assert_eq!(v["error"]["type"], "invalid_request_error");
        assert!(
            v["error"]["message"].as_str().unwrap().contains(needle),
            "{v}"
        );
        assert!(
            host.requests.borrow().is_empty(),
            "nothing may reach the upstream"
        );
    }
    // Server-side tools cannot be offered to a chat upstream.
    let body = json!({"model": "claude-sonnet-4-5", "max_tokens": 10,
        "messages": [{"role": "user", "content": "hi"}],
        "tools": [{"type": "web_search_20250305", "name": "web_search"}]});
    let resp = run(&FakeHost::new(), messages(&body.to_string()));
    assert_eq!(resp.status, 400);
}

/// A route's `max_tokens` cap lowers what Claude Code asks for (32000), on translated and
/// native routes alike, and leaves smaller requests alone.
#[test]
fn max_tokens_is_clamped_to_the_route_cap() {
    let mut body = sample("claude-tool-turn1.json");
    body["model"] = json!("capped");
    assert_eq!(upstream_for(&body)["max_tokens"], 8000);
    body["max_tokens"] = json!(100);
    assert_eq!(upstream_for(&body)["max_tokens"], 100);

    let host = FakeHost::new();
    host.then_status(
        200,
        r#"{"type":"message","content":[],"stop_reason":"end_turn"}"#,
    );
    let native = r#"{"model":"native-capped","max_tokens":32000,"messages":[{"role":"user","content":"hi"}]}"#;
    run(&host, messages(native));
    let sent = upstream_body(&host);
    assert_eq!(sent["max_tokens"], 1000);
    assert_eq!(sent["model"], "claude-real");
    assert_eq!(sent["messages"], json!([{"role": "user", "content": "hi"}]));
}
