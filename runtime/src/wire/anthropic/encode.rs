//! [`canonical`] responses → what an Anthropic Messages client reads.
//!
//! - [`response`]: a whole `{"type":"message",...}` body.
//! - [`StreamEncoder`]: canonical events → SSE with `event:` lines, in the order the API
//!   defines: `message_start`, per block `content_block_start` / `content_block_delta`* /
//!   `content_block_stop`, `message_delta` (stop_reason, usage), `message_stop`; `ping`;
//!   `error`. Deltas are written straight into the output buffer (no JSON tree per event).
//!
//! Thinking blocks without an upstream signature get [`PLACEHOLDER_SIGNATURE`] (clients
//! such as Claude Code expect a `signature_delta` before a thinking block stops).
//!
//! [`canonical`]: crate::wire::canonical

use crate::wire::canonical::stream::Encode;
use crate::wire::canonical::{
    Block, BlockStart, Delta, Event, Response, Stop, Usage, PLACEHOLDER_SIGNATURE,
};
use crate::wire::sse;
use bytes::Bytes;
use serde_json::{json, Value};

/// The Messages body for a complete response. `model` is the name the client asked for.
pub fn response(r: &Response, model: &str) -> Value {
    let content: Vec<Value> = r.content.iter().filter_map(block).collect();
    json!({
        "id": message_id(&r.id),
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": stop_reason(&r.stop),
        "stop_sequence": stop_sequence(&r.stop),
        "usage": usage(&r.usage),
    })
}

fn block(b: &Block) -> Option<Value> {
    Some(match b {
        Block::Text(t) => json!({"type": "text", "text": t}),
        Block::Thinking { text, signature } => json!({
            "type": "thinking",
            "thinking": text,
            "signature": signature.as_deref().unwrap_or(PLACEHOLDER_SIGNATURE),
        }),
        Block::RedactedThinking(d) => json!({"type": "redacted_thinking", "data": d}),
        Block::ToolUse { id, name, input } => json!({
            "type": "tool_use",
            "id": id,
            "name": name,
            "input": tool_input(input),
        }),
        Block::Image(_) | Block::Document { .. } | Block::ToolResult { .. } => return None,
    })
}

/// Tool arguments as the JSON object Messages wants. Upstreams occasionally send an empty
/// string (no arguments) or text that is not an object; those become `{}`.
fn tool_input(input: &str) -> Value {
    match serde_json::from_str::<Value>(input) {
        Ok(v @ Value::Object(_)) => v,
        _ => json!({}),
    }
}

/// `msg_…` ids, as clients expect; an upstream id is kept inside it.
pub fn message_id(upstream: &str) -> String {
    if upstream.starts_with("msg_") {
        upstream.to_owned()
    } else if upstream.is_empty() {
        "msg_apex".to_owned()
    } else {
        format!("msg_{upstream}")
    }
}

pub fn stop_reason(stop: &Stop) -> &'static str {
    match stop {
        Stop::EndTurn => "end_turn",
        Stop::MaxTokens => "max_tokens",
        Stop::ToolUse => "tool_use",
        Stop::StopSequence(_) => "stop_sequence",
        Stop::Refusal => "refusal",
    }
}

fn stop_sequence(stop: &Stop) -> Value {
    match stop {
        Stop::StopSequence(Some(s)) => Value::String(s.clone()),
        _ => Value::Null,
    }
}

fn usage(u: &Usage) -> Value {
    json!({
        "input_tokens": u.input,
        "output_tokens": u.output,
        "cache_creation_input_tokens": u.cache_write.unwrap_or(0),
        "cache_read_input_tokens": u.cache_read.unwrap_or(0),
    })
}

/// Canonical events → Messages SSE bytes.
#[derive(Debug)]
pub struct StreamEncoder {
    /// The model name the client asked for (echoed in `message_start`).
    model: String,
    /// What `message_start` reports as `input_tokens`: Anthropic's clients read it there, and
    /// OpenAI-compatible upstreams report usage only at the end of a stream, so it is the
    /// request's estimate (the one count_tokens answers with).
    input_estimate: u64,
    /// The open block: its index, whether it is thinking, whether it got a signature.
    open: Option<(u32, bool, bool)>,
    started: bool,
    done: bool,
}

impl StreamEncoder {
    pub fn new(model: &str) -> Self {
        StreamEncoder {
            model: model.to_owned(),
            input_estimate: 0,
            open: None,
            started: false,
            done: false,
        }
    }

    /// The encoder with `message_start.usage.input_tokens` set to `tokens`.
    pub fn with_input_estimate(mut self, tokens: u64) -> Self {
        self.input_estimate = tokens;
        self
    }

    /// Appends the wire form of `event` to `out`.
    pub fn write(&mut self, event: &Event, out: &mut Vec<u8>) {
        if self.done {
            return;
        }
        match event {
            Event::Start { id, .. } => self.start(id, out),
            Event::BlockStart { index, block } => {
                self.start("", out);
                self.close(out);
                let (cb, thinking) = match block {
                    BlockStart::Text => (json!({"type": "text", "text": ""}), false),
                    BlockStart::Thinking => (
                        json!({"type": "thinking", "thinking": "", "signature": ""}),
                        true,
                    ),
                    BlockStart::RedactedThinking(d) => {
                        (json!({"type": "redacted_thinking", "data": d}), false)
                    }
                    BlockStart::ToolUse { id, name } => (
                        json!({"type": "tool_use", "id": id, "name": name, "input": {}}),
                        false,
                    ),
                };
                let data =
                    json!({"type": "content_block_start", "index": index, "content_block": cb});
                sse::write(out, "content_block_start", data.to_string().as_bytes());
                self.open = Some((*index, thinking, false));
            }
            Event::Delta { index, delta } => {
                let (kind, field, text) = match delta {
                    Delta::Text(t) => ("text_delta", "text", t),
                    Delta::Thinking(t) => ("thinking_delta", "thinking", t),
                    Delta::Signature(s) => {
                        if let Some(open) = self.open.as_mut() {
                            open.2 = true;
                        }
                        ("signature_delta", "signature", s)
                    }
                    Delta::ToolInput(j) => ("input_json_delta", "partial_json", j),
                };
                if text.is_empty() && !matches!(delta, Delta::ToolInput(_)) {
                    return;
                }
                delta_event(out, *index, kind, field, text);
            }
            Event::BlockStop { index } => {
                if self.open.is_some_and(|(i, _, _)| i == *index) {
                    self.close(out);
                }
            }
            Event::Finish { stop, usage: u } => {
                self.start("", out);
                self.close(out);
                let data = json!({
                    "type": "message_delta",
                    "delta": {"stop_reason": stop_reason(stop), "stop_sequence": stop_sequence(stop)},
                    "usage": usage(u),
                });
                sse::write(out, "message_delta", data.to_string().as_bytes());
                sse::write(out, "message_stop", br#"{"type":"message_stop"}"#);
                self.done = true;
            }
            Event::Error { message } => {
                let data =
                    json!({"type": "error", "error": {"type": "api_error", "message": message}});
                sse::write(out, "error", data.to_string().as_bytes());
                self.done = true;
            }
            Event::Ping => sse::write(out, "ping", br#"{"type":"ping"}"#),
        }
    }

    fn start(&mut self, id: &str, out: &mut Vec<u8>) {
        if self.started {
            return;
        }
        self.started = true;
        let data = json!({
            "type": "message_start",
            "message": {
                "id": message_id(id),
                "type": "message",
                "role": "assistant",
                "model": self.model,
                "content": [],
                "stop_reason": null,
                "stop_sequence": null,
                "usage": {"input_tokens": self.input_estimate, "output_tokens": 0},
            }
        });
        sse::write(out, "message_start", data.to_string().as_bytes());
    }

    /// Stops the open block (a thinking block gets its signature first).
    fn close(&mut self, out: &mut Vec<u8>) {
        if let Some((index, thinking, signed)) = self.open.take() {
            if thinking && !signed {
                delta_event(
                    out,
                    index,
                    "signature_delta",
                    "signature",
                    PLACEHOLDER_SIGNATURE,
                );
            }
            out.extend_from_slice(
                b"event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":",
            );
            push_num(out, index);
            out.extend_from_slice(b"}\n\n");
        }
    }
}

impl Encode for StreamEncoder {
    fn event(&mut self, ev: &Event, out: &mut Vec<u8>) {
        self.write(ev, out);
    }
}

/// `content_block_delta` written by hand: one per upstream fragment, so no JSON tree.
fn delta_event(out: &mut Vec<u8>, index: u32, kind: &str, field: &str, text: &str) {
    out.extend_from_slice(b"event: content_block_delta\ndata: ");
    out.extend_from_slice(br#"{"type":"content_block_delta","index":"#);
    push_num(out, index);
    out.extend_from_slice(br#","delta":{"type":""#);
    out.extend_from_slice(kind.as_bytes());
    out.extend_from_slice(br#"",""#);
    out.extend_from_slice(field.as_bytes());
    out.extend_from_slice(br#"":"#);
    push_json_str(out, text);
    out.extend_from_slice(b"}}\n\n");
}

fn push_num(out: &mut Vec<u8>, n: u32) {
    use std::io::Write;
    let _ = write!(out, "{n}");
}

/// Appends `s` as a JSON string literal.
pub fn push_json_str(out: &mut Vec<u8>, s: &str) {
    if serde_json::to_writer(&mut *out, s).is_err() {
        out.extend_from_slice(b"\"\"");
    }
}

/// The final event of a Messages stream whose upstream failed after it started.
pub fn error_event(message: &str) -> Bytes {
    let data = json!({"type": "error", "error": {"type": "api_error", "message": message}});
    let mut out = Vec::with_capacity(96 + message.len());
    sse::write(&mut out, "error", data.to_string().as_bytes());
    Bytes::from(out)
}
