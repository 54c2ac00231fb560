//! Chat messages read and written as JSON trees, for both directions of the chat protocol:
//! the text of a `content`, the reasoning of a message or delta, an assistant message built
//! from canonical blocks.

#[cfg(feature = "chat-translated")]
use crate::wire::canonical::Block;
#[cfg(feature = "chat-translated")]
use serde_json::Map;
use serde_json::Value;

/// The text of a chat message's `content`: a string, or the `text` of its parts joined with
/// `separator`.
pub fn content_text(content: Option<&Value>, separator: &str) -> String {
    match content {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(parts)) => parts
            .iter()
            .filter_map(|p| p.get("text").and_then(Value::as_str))
            .collect::<Vec<_>>()
            .join(separator),
        _ => String::new(),
    }
}

/// The reasoning text of a chat message or delta (`reasoning_content`, or `reasoning` as some
/// OpenAI-compatible servers call it), when there is any.
pub fn reasoning_of(v: &Value) -> Option<&str> {
    v.get("reasoning_content")
        .or_else(|| v.get("reasoning"))
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

/// The chat `assistant` message of a turn's blocks as a tree: the `message` of a translated
/// `chat.completion` (`chat_response::encode`). Same members as
/// `chat_request`'s `write_assistant`.
#[cfg(feature = "chat-translated")]
pub fn assistant(blocks: &[Block]) -> Value {
    let mut text = String::new();
    let mut reasoning = String::new();
    let mut calls = Vec::new();
    for b in blocks {
        match b {
            Block::Text(t) => text.push_str(t),
            Block::Thinking { text: r, .. } => reasoning.push_str(r),
            Block::ToolUse { id, name, input } => calls.push(serde_json::json!({
                "id": id,
                "type": "function",
                "function": {"name": name, "arguments": input},
            })),
            _ => {}
        }
    }
    let mut m = Map::new();
    m.insert("role".into(), serde_json::json!("assistant"));
    m.insert(
        "content".into(),
        if text.is_empty() && !calls.is_empty() {
            Value::Null
        } else {
            Value::String(text)
        },
    );
    if !reasoning.is_empty() {
        m.insert("reasoning_content".into(), Value::String(reasoning));
    }
    if !calls.is_empty() {
        m.insert("tool_calls".into(), Value::Array(calls));
    }
    Value::Object(m)
}
