//! count_tokens: the local estimate is close to a real Claude tokenizer on the Claude Code
//! samples, grows with content, and is never a fake zero.
//!
//! Reference figures (`fixtures/claude_tokenizer_counts.json`) come from the Claude tokenizer
//! published on npm (`@anthropic-ai/tokenizer`), counted per part of each sample: system
//! text, message content, tool names + descriptions, tool schemas (as compact JSON).
#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]
mod anthropic_support;
mod common;

use anthropic_support::*;
use apex_runtime::wire::anthropic::count;
use common::{json_of, FakeHost};
use serde_json::{json, Value};

fn parts(body: &Value) -> [(&'static str, f64); 4] {
    let t = |s: &str| count::text(s);
    let system: f64 = body["system"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| t(b["text"].as_str().unwrap()))
        .sum();
    let mut messages = 0.0;
    for m in body["messages"].as_array().unwrap() {
        for b in m["content"].as_array().unwrap() {
            messages += match b["type"].as_str().unwrap() {
                "text" => t(b["text"].as_str().unwrap()),
                "tool_use" => t(b["name"].as_str().unwrap()) + t(&b["input"].to_string()),
                "tool_result" => t(b["content"].as_str().unwrap_or_default()),
                _ => 0.0,
            };
        }
    }
    let tools = body["tools"].as_array().unwrap();
    let tool_text: f64 = tools
        .iter()
        .map(|x| t(x["name"].as_str().unwrap()) + t(x["description"].as_str().unwrap_or_default()))
        .sum();
    let tool_schema: f64 = tools
        .iter()
        .map(|x| t(&x["input_schema"].to_string()))
        .sum();
    [
        ("system", system),
        ("messages", messages),
        ("tool_text", tool_text),
        ("tool_schema", tool_schema),
    ]
}

#[test]
fn estimate_is_within_10_percent_of_the_claude_tokenizer() {
    let reference: Value =
        serde_json::from_str(include_str!("fixtures/claude_tokenizer_counts.json")).unwrap();
    for name in [
        "claude-tool-turn1.json",
        "claude-tool-turn2-tool_result.json",
    ] {
        let body = sample(name);
        let r = &reference[name];
        let (mut ours, mut theirs) = (0.0, 0.0);
        for (part, est) in parts(&body) {
            let want = r[part].as_f64().unwrap();
            let err = (est - want) / want;
            eprintln!(
                "{name} {part}: estimate {est:.0}, tokenizer {want}, {:+.1}%",
                err * 100.0
            );
            assert!(err.abs() < 0.10, "{name} {part}: {est:.0} vs {want}");
            ours += est;
            theirs += want;
        }
        let err = (ours - theirs) / theirs;
        eprintln!(
            "{name} total: estimate {ours:.0}, tokenizer {theirs}, {:+.1}%",
            err * 100.0
        );
        assert!(err.abs() < 0.10, "{name} total: {ours:.0} vs {theirs}");
    }
}

#[test]
fn count_tokens_endpoint_estimates_locally_for_chat_upstreams() {
    let host = FakeHost::new();
    let body = sample("claude-tool-turn1.json");
    let resp = run(
        &host,
        messages_at("/v1/messages/count_tokens?beta=true", &body.to_string()),
    );
    assert_eq!(resp.status, 200);
    assert_eq!(resp.header("x-apex-token-count"), Some("estimate"));
    let n = json_of(resp)["input_tokens"].as_u64().unwrap();
    assert!((18_000..24_000).contains(&n), "{n}");
    assert!(
        host.requests.borrow().is_empty(),
        "estimated without the upstream"
    );

    // Small requests are small but never zero, and more content costs more.
    let count = |body: Value| {
        json_of(run(
            &FakeHost::new(),
            messages_at("/v1/messages/count_tokens", &body.to_string()),
        ))["input_tokens"]
            .as_u64()
            .unwrap()
    };
    let hi = count(json!({"model": "demo", "messages": [{"role": "user", "content": "hi"}]}));
    assert!((1..20).contains(&hi), "{hi}");
    let more = count(
        json!({"model": "demo", "messages": [{"role": "user", "content": "hi ".repeat(500)}]}),
    );
    assert!(more > hi + 400, "{more}");
    let with_tools = count(
        json!({"model": "demo", "messages": [{"role": "user", "content": "hi"}],
        "tools": [{"name": "a", "description": "does a", "input_schema": {"type": "object"}}]}),
    );
    assert!(with_tools > hi + 300, "{with_tools}");
}
