//! A minimal Anthropic Messages upstream (`POST /v1/messages`, plain and SSE, and
//! `POST /v1/messages/count_tokens`), for gateways whose route is an `anthropic` provider.
//!
//! Same rules as the chat side ([`crate::openai`]): the reply echoes the last user text
//! (`echo: <text>`), or follows the request's fault (`reply=`, `call=NAME;args=JSON`,
//! `chunks=`, `chunk_delay_ms=`, statuses). Streams carry `event:` lines and the full event
//! sequence a real Messages stream has (`message_start` … `message_stop`), text in word
//! pieces and tool input as several `input_json_delta` fragments. The answer's `id` ends
//! with the API key's fingerprint so a test can tell which key the gateway used.

use crate::openai;
use serde_json::{json, Value};

/// One block of the answer.
pub enum Block {
    Text(String),
    ToolUse {
        id: String,
        name: String,
        args: String,
    },
}

/// What the fake model says in this turn.
pub struct Turn {
    pub blocks: Vec<Block>,
    pub stop_reason: &'static str,
}

/// The text of a `content` (a string, or the `text` of its text blocks).
fn content_text(content: &Value) -> String {
    match content {
        Value::String(s) => s.clone(),
        Value::Array(blocks) => blocks
            .iter()
            .filter(|b| {
                b.get("type")
                    .and_then(Value::as_str)
                    .is_none_or(|t| t == "text")
            })
            .filter_map(|b| b.get("text").and_then(Value::as_str))
            .collect::<Vec<_>>()
            .join(""),
        _ => String::new(),
    }
}

fn messages(req: &Value) -> &[Value] {
    req.get("messages")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default()
}

/// The last user message's text ("" when there is none).
pub fn last_user_text(req: &Value) -> String {
    messages(req)
        .iter()
        .rev()
        .find(|m| m.get("role").and_then(Value::as_str) == Some("user"))
        .and_then(|m| m.get("content"))
        .map(content_text)
        .unwrap_or_default()
}

/// When the conversation ends with a tool result: that result's text.
pub fn last_tool_result(req: &Value) -> Option<String> {
    let last = messages(req).last()?;
    if last.get("role").and_then(Value::as_str) != Some("user") {
        return None;
    }
    let blocks = last.get("content")?.as_array()?;
    let result = blocks
        .iter()
        .rev()
        .find(|b| b.get("type").and_then(Value::as_str) == Some("tool_result"))?;
    Some(result.get("content").map(content_text).unwrap_or_default())
}

/// The request offers a tool called `name`.
pub fn offers_tool(req: &Value, name: &str) -> bool {
    req.get("tools")
        .and_then(Value::as_array)
        .is_some_and(|tools| {
            tools
                .iter()
                .any(|t| t.get("name").and_then(Value::as_str) == Some(name))
        })
}

/// Rough input size: words of the system prompt, every message and every tool.
pub fn count_tokens(req: &Value) -> u64 {
    let mut words = 0;
    if let Some(s) = req.get("system") {
        words += openai::tokens(&match s {
            Value::String(t) => t.clone(),
            other => content_text(other),
        });
    }
    for m in messages(req) {
        words += m
            .get("content")
            .map(|c| openai::tokens(&c.to_string()))
            .unwrap_or(0);
    }
    if let Some(tools) = req.get("tools") {
        words += openai::tokens(&tools.to_string());
    }
    words.max(1)
}

pub fn error(kind: &str, message: &str) -> Value {
    json!({"type": "error", "error": {"type": kind, "message": message}})
}

fn usage(req: &Value, turn: &Turn) -> (u64, u64) {
    let out: u64 = turn
        .blocks
        .iter()
        .map(|b| match b {
            Block::Text(t) => openai::tokens(t),
            Block::ToolUse { args, .. } => openai::tokens(args),
        })
        .sum();
    (count_tokens(req), out.max(1))
}

/// The whole (non-streamed) answer.
pub fn message(req: &Value, id: &str, model: &str, turn: &Turn) -> Value {
    let content: Vec<Value> = turn
        .blocks
        .iter()
        .map(|b| match b {
            Block::Text(t) => json!({"type": "text", "text": t}),
            Block::ToolUse { id, name, args } => json!({
                "type": "tool_use", "id": id, "name": name,
                "input": serde_json::from_str::<Value>(args).unwrap_or_else(|_| json!({})),
            }),
        })
        .collect();
    let (input, output) = usage(req, turn);
    json!({
        "id": id, "type": "message", "role": "assistant", "model": model, "content": content,
        "stop_reason": turn.stop_reason, "stop_sequence": null,
        "usage": {"input_tokens": input, "output_tokens": output},
    })
}

fn event(name: &str, data: Value) -> String {
    format!("event: {name}\ndata: {data}\n\n")
}

/// `text` cut into `n` pieces at character boundaries (fewer when it is shorter).
pub fn fragments(text: &str, n: usize) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    if chars.is_empty() {
        return vec![String::new()];
    }
    let n = n.clamp(1, chars.len());
    let size = chars.len().div_ceil(n).max(1);
    chars.chunks(size).map(|c| c.iter().collect()).collect()
}

/// How many `input_json_delta` fragments a streamed tool input is cut into.
pub const ARG_FRAGMENTS: usize = 4;

/// The streamed answer, one SSE event per string. `chunks` sets the number of text pieces
/// (`chunks=N`; default: one per word).
pub fn events(
    req: &Value,
    id: &str,
    model: &str,
    turn: &Turn,
    chunks: Option<usize>,
) -> Vec<String> {
    let (input, output) = usage(req, turn);
    let mut out = vec![event(
        "message_start",
        json!({"type": "message_start", "message": {
            "id": id, "type": "message", "role": "assistant", "model": model, "content": [],
            "stop_reason": null, "stop_sequence": null,
            "usage": {"input_tokens": input, "output_tokens": 1},
        }}),
    )];
    for (index, block) in turn.blocks.iter().enumerate() {
        match block {
            Block::Text(text) => {
                out.push(event(
                    "content_block_start",
                    json!({"type": "content_block_start", "index": index,
                    "content_block": {"type": "text", "text": ""}}),
                ));
                for piece in openai::pieces(text, chunks) {
                    out.push(event(
                        "content_block_delta",
                        json!({"type": "content_block_delta", "index": index,
                        "delta": {"type": "text_delta", "text": piece}}),
                    ));
                }
            }
            Block::ToolUse { id, name, args } => {
                out.push(event(
                    "content_block_start",
                    json!({"type": "content_block_start", "index": index,
                    "content_block": {"type": "tool_use", "id": id, "name": name, "input": {}}}),
                ));
                for piece in fragments(args, ARG_FRAGMENTS) {
                    out.push(event(
                        "content_block_delta",
                        json!({"type": "content_block_delta", "index": index,
                        "delta": {"type": "input_json_delta", "partial_json": piece}}),
                    ));
                }
            }
        }
        out.push(event(
            "content_block_stop",
            json!({"type": "content_block_stop", "index": index}),
        ));
    }
    out.push(event(
        "message_delta",
        json!({"type": "message_delta",
        "delta": {"stop_reason": turn.stop_reason, "stop_sequence": null},
        "usage": {"output_tokens": output}}),
    ));
    out.push(event("message_stop", json!({"type": "message_stop"})));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fragments_keep_the_whole_text() {
        let f = fragments(r#"{"command":"echo hi"}"#, 4);
        assert_eq!(f.len(), 4);
        assert_eq!(f.concat(), r#"{"command":"echo hi"}"#);
        assert_eq!(fragments("ab", 4), vec!["a", "b"]);
        assert_eq!(fragments("", 4), vec![String::new()]);
    }

    #[test]
    fn reads_the_conversation() {
        let req = json!({
        "tools": [{"name": "Bash", "input_schema": {}}],
        "messages": [
            {"role": "user", "content": [{"type": "text", "text": "run it"}]},
            {"role": "assistant", "content": [{"type": "tool_use", "id": "t", "name": "Bash", "input": {}}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t",
                "content": [{"type": "text", "text": "out"}]}]},
        ]});
        assert!(offers_tool(&req, "Bash") && !offers_tool(&req, "Edit"));
        assert_eq!(last_tool_result(&req).as_deref(), Some("out"));
        assert_eq!(last_user_text(&req), "");
        assert!(count_tokens(&req) > 3);
    }

    #[test]
    fn a_stream_has_every_event_in_order() {
        let turn = Turn {
            blocks: vec![
                Block::Text("a b".into()),
                Block::ToolUse {
                    id: "t".into(),
                    name: "n".into(),
                    args: "{\"x\":1}".into(),
                },
            ],
            stop_reason: "tool_use",
        };
        let names: Vec<String> = events(&json!({}), "msg_1", "m", &turn, None)
            .iter()
            .map(|e| {
                e.lines()
                    .next()
                    .unwrap_or_default()
                    .trim_start_matches("event: ")
                    .to_string()
            })
            .collect();
        assert_eq!(names.first().map(String::as_str), Some("message_start"));
        assert_eq!(
            names.iter().filter(|n| *n == "content_block_start").count(),
            2
        );
        assert_eq!(
            names.iter().filter(|n| *n == "content_block_delta").count(),
            2 + 4
        );
        assert_eq!(&names[names.len() - 2..], ["message_delta", "message_stop"]);
    }
}
