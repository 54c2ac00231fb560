//! Canonical responses and events → OpenAI chat completions (feature `chat-translated`:
//! chat clients of upstreams that speak another protocol): [`encode`] for a whole `chat.completion`, [`StreamEncoder`]
//! for `chat.completion.chunk` SSE.

use crate::wire::canonical::{BlockStart, Delta, Event, Response, Stop, Usage};
use crate::wire::sse;
use serde_json::Value;

/// Canonical response → `chat.completion` body.
pub fn encode(r: &Response, model: &str, created: u64) -> Value {
    use serde_json::json;
    let message = crate::wire::openai::message::assistant(&r.content);
    json!({
        "id": chat_id(&r.id),
        "object": "chat.completion",
        "created": created,
        "model": model,
        "choices": [{"index": 0, "message": message, "logprobs": null, "finish_reason": finish_reason(&r.stop)}],
        "usage": chat_usage(&r.usage),
    })
}

fn chat_id(id: &str) -> String {
    if id.starts_with("chatcmpl-") {
        id.to_owned()
    } else {
        format!("chatcmpl-{id}")
    }
}

fn finish_reason(stop: &Stop) -> &'static str {
    match stop {
        Stop::EndTurn | Stop::StopSequence(_) => "stop",
        Stop::MaxTokens => "length",
        Stop::ToolUse => "tool_calls",
        Stop::Refusal => "content_filter",
    }
}

fn chat_usage(u: &Usage) -> Value {
    let cached = u.cache_read.unwrap_or(0);
    let prompt = u.input + cached + u.cache_write.unwrap_or(0);
    let mut v = serde_json::json!({
        "prompt_tokens": prompt,
        "completion_tokens": u.output,
        "total_tokens": prompt + u.output,
    });
    if let (Some(o), Some(c)) = (v.as_object_mut(), u.cache_read) {
        o.insert(
            "prompt_tokens_details".into(),
            serde_json::json!({"cached_tokens": c}),
        );
    }
    v
}

/// Canonical events → `chat.completion.chunk` SSE (`data:` lines, `[DONE]` at the end).
///
/// Each chunk is written as text, in the key order serde_json's maps give (sorted), with the
/// members after `choices` (the same in every chunk) serialized once per stream.
#[derive(Debug)]
pub struct StreamEncoder {
    id: String,
    model: String,
    created: u64,
    include_usage: bool,
    /// `,"created":…,"id":…,"model":…,"object":…[,"usage":null]}`: every chunk's end.
    tail: Vec<u8>,
    /// Block index → tool call position, for the open tool block.
    open_tool: Option<(u32, u32)>,
    calls: u32,
    done: bool,
}

impl StreamEncoder {
    pub fn new(model: &str, created: u64, include_usage: bool) -> Self {
        let mut e = StreamEncoder {
            id: String::new(),
            model: model.to_owned(),
            created,
            include_usage,
            tail: Vec::new(),
            open_tool: None,
            calls: 0,
            done: false,
        };
        e.set_id(String::new());
        e
    }

    fn set_id(&mut self, id: String) {
        use std::io::Write;
        self.id = id;
        let t = &mut self.tail;
        t.clear();
        let _ = write!(t, ",\"created\":{},\"id\":", self.created);
        push_json(t, &self.id);
        t.extend_from_slice(b",\"model\":");
        push_json(t, &self.model);
        t.extend_from_slice(b",\"object\":\"chat.completion.chunk\"");
        if self.include_usage {
            t.extend_from_slice(b",\"usage\":null");
        }
        t.push(b'}');
    }

    /// One chunk: `delta` writes the delta object.
    fn chunk(&self, delta: impl FnOnce(&mut Vec<u8>), finish: Option<&str>, out: &mut Vec<u8>) {
        out.extend_from_slice(b"data: {\"choices\":[{\"delta\":");
        delta(out);
        out.extend_from_slice(b",\"finish_reason\":");
        match finish {
            Some(f) => push_json(out, f),
            None => out.extend_from_slice(b"null"),
        }
        out.extend_from_slice(b",\"index\":0,\"logprobs\":null}]");
        out.extend_from_slice(&self.tail);
        out.extend_from_slice(b"\n\n");
    }
}

fn push_json(out: &mut Vec<u8>, s: &str) {
    if serde_json::to_writer(&mut *out, s).is_err() {
        out.extend_from_slice(b"\"\"");
    }
}

impl crate::wire::canonical::stream::Encode for StreamEncoder {
    fn event(&mut self, ev: &Event, out: &mut Vec<u8>) {
        use serde_json::json;
        use std::io::Write;
        if self.done {
            return;
        }
        match ev {
            Event::Start { id, .. } => {
                self.set_id(chat_id(id));
                self.chunk(
                    |d| d.extend_from_slice(br#"{"content":"","role":"assistant"}"#),
                    None,
                    out,
                );
            }
            Event::BlockStart {
                index,
                block: BlockStart::ToolUse { id, name },
            } => {
                let n = self.calls;
                self.calls += 1;
                self.open_tool = Some((*index, n));
                self.chunk(
                    |d| {
                        d.extend_from_slice(
                            br#"{"tool_calls":[{"function":{"arguments":"","name":"#,
                        );
                        push_json(d, name);
                        d.extend_from_slice(br#"},"id":"#);
                        push_json(d, id);
                        let _ = write!(d, ",\"index\":{n},\"type\":\"function\"}}]}}");
                    },
                    None,
                    out,
                );
            }
            Event::BlockStart { .. } | Event::BlockStop { .. } | Event::Ping => {}
            Event::Delta { index, delta } => match delta {
                Delta::Text(t) | Delta::Thinking(t) => {
                    let key: &[u8] = if matches!(delta, Delta::Text(_)) {
                        br#"{"content":"#
                    } else {
                        br#"{"reasoning_content":"#
                    };
                    self.chunk(
                        |d| {
                            d.extend_from_slice(key);
                            push_json(d, t);
                            d.push(b'}');
                        },
                        None,
                        out,
                    );
                }
                Delta::Signature(_) => {}
                Delta::ToolInput(j) => {
                    if let Some((i, n)) = self.open_tool {
                        if i == *index {
                            self.chunk(
                                |d| {
                                    d.extend_from_slice(
                                        br#"{"tool_calls":[{"function":{"arguments":"#,
                                    );
                                    push_json(d, j);
                                    let _ = write!(d, "}},\"index\":{n}}}]}}");
                                },
                                None,
                                out,
                            );
                        }
                    }
                }
            },
            Event::Finish { stop, usage } => {
                self.chunk(
                    |d| d.extend_from_slice(b"{}"),
                    Some(finish_reason(stop)),
                    out,
                );
                if self.include_usage {
                    let c = json!({
                        "id": self.id, "object": "chat.completion.chunk", "created": self.created,
                        "model": self.model, "choices": [], "usage": chat_usage(usage),
                    });
                    sse::write(out, "", c.to_string().as_bytes());
                }
                sse::write(out, "", b"[DONE]");
                self.done = true;
            }
            Event::Error { message } => {
                let e = json!({"error": {"message": message, "type": "api_error", "param": null, "code": "upstream_error"}});
                sse::write(out, "", e.to_string().as_bytes());
                sse::write(out, "", b"[DONE]");
                self.done = true;
            }
        }
    }
}
