//! OpenAI chat completions responses ⇄ canonical responses and events.
//!
//! Decoding (always compiled): [`response`] reads a `chat.completion` body; [`StreamDecoder`]
//! reads `chat.completion.chunk` events and turns them into strictly sequential blocks:
//!
//! - `reasoning_content` (DeepSeek) / `reasoning` (OpenRouter, vLLM) → a thinking block;
//!   `content` → a text block; each tool call → a tool_use block. A change of kind closes the
//!   open block and opens the next.
//! - Tool-call argument fragments are forwarded the moment they arrive. A small bracket
//!   counter (one pass over each fragment, no parsing) tells when the open call's arguments
//!   are complete; a fragment for *another* call while the open one is incomplete (calls
//!   interleaved by index) is held until the open one completes, then that call opens with
//!   everything held so far. Arguments sent in one piece are one delta.
//! - `finish_reason` → stop reason (`stop` → end_turn, or tool_use when calls were made, or
//!   stop_sequence when the upstream names the matched sequence; `length` → max_tokens;
//!   `tool_calls` → tool_use; `content_filter` → refusal); `usage` (also when it arrives after
//!   the finish, with `stream_options.include_usage`) → the finish event's usage.
//! - A stream that ends before any `finish_reason` or `[DONE]` ends with an error event.
//!
//! Encoding (with `kind-anthropic`, for chat clients of Anthropic upstreams): [`encode`] and
//! [`StreamEncoder`].

use crate::canonical::stream::Decode;
use crate::canonical::{Block, BlockStart, Delta, Event, Response, Stop, Usage};
use crate::sse;
use serde_json::Value;

/// A `chat.completion` body → canonical response.
pub fn response(v: &Value) -> Result<Response, String> {
    if v.get("error").is_some_and(|e| !e.is_null()) {
        return Err(crate::anthropic::errors::message_of(v)
            .unwrap_or_else(|| "the upstream answered with an error".to_owned()));
    }
    let choice = v
        .get("choices")
        .and_then(Value::as_array)
        .and_then(|c| c.first())
        .ok_or("the upstream answer has no choices")?;
    let msg = choice.get("message").unwrap_or(&Value::Null);
    let mut content = Vec::new();
    if let Some(r) = reasoning_of(msg) {
        content.push(Block::Thinking {
            text: r.to_owned(),
            signature: None,
        });
    }
    let text = super::chat_request::content_text(msg.get("content"), "");
    if !text.is_empty() {
        content.push(Block::Text(text));
    }
    let mut calls = 0u32;
    for c in msg
        .get("tool_calls")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let f = c.get("function");
        let s = |v: Option<&Value>| v.and_then(Value::as_str).unwrap_or_default().to_owned();
        let mut id = s(c.get("id"));
        if id.is_empty() {
            id = format!("toolu_apex_{calls}");
        }
        content.push(Block::ToolUse {
            id,
            name: s(f.and_then(|f| f.get("name"))),
            input: s(f.and_then(|f| f.get("arguments"))),
        });
        calls += 1;
    }
    Ok(Response {
        id: v.get("id").and_then(Value::as_str).unwrap_or_default().to_owned(),
        model: v.get("model").and_then(Value::as_str).unwrap_or_default().to_owned(),
        content,
        stop: stop_of(
            choice.get("finish_reason").and_then(Value::as_str),
            choice.get("stop_reason"),
            calls > 0,
        ),
        usage: v.get("usage").map(usage_of).unwrap_or_default(),
    })
}

/// The reasoning text of a chat message or delta (`reasoning_content`, or `reasoning` as some
/// OpenAI-compatible servers call it), when there is any.
pub(super) fn reasoning_of(v: &Value) -> Option<&str> {
    v.get("reasoning_content")
        .or_else(|| v.get("reasoning"))
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

/// `finish_reason` (and vLLM's matched `stop_reason`) → canonical stop.
fn stop_of(finish: Option<&str>, matched: Option<&Value>, made_calls: bool) -> Stop {
    match finish {
        Some("length") => Stop::MaxTokens,
        Some("tool_calls" | "function_call") => Stop::ToolUse,
        Some("content_filter") => Stop::Refusal,
        _ if made_calls => Stop::ToolUse,
        _ => match matched.and_then(Value::as_str) {
            Some(s) => Stop::StopSequence(Some(s.to_owned())),
            None => Stop::EndTurn,
        },
    }
}

/// OpenAI usage → canonical (cached prompt tokens moved out of `input`).
pub fn usage_of(u: &Value) -> Usage {
    let n = |p: &str| u.pointer(p).and_then(Value::as_u64);
    let prompt = n("/prompt_tokens").unwrap_or(0);
    let cached = n("/prompt_tokens_details/cached_tokens").or(n("/prompt_cache_hit_tokens"));
    Usage {
        input: prompt.saturating_sub(cached.unwrap_or(0)),
        output: n("/completion_tokens").unwrap_or(0),
        cache_read: cached,
        cache_write: None,
        reasoning: n("/completion_tokens_details/reasoning_tokens"),
    }
}

/// Which block is open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Open {
    None,
    Text(u32),
    Thinking(u32),
    /// Position in `tools`, block index.
    Tool(usize, u32),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SlotState {
    /// Fragments held (another call was open and incomplete).
    Held,
    Open,
    Closed,
}

#[derive(Debug)]
struct ToolSlot {
    upstream_index: u64,
    id: String,
    name: String,
    held: String,
    state: SlotState,
    depth: JsonDepth,
}

/// Tells when a JSON value's text is complete, one byte at a time (no parse, no allocation).
#[derive(Debug, Default, Clone, Copy)]
struct JsonDepth {
    depth: i32,
    in_string: bool,
    escaped: bool,
    started: bool,
}

impl JsonDepth {
    fn feed(&mut self, s: &str) {
        for b in s.bytes() {
            if self.in_string {
                if self.escaped {
                    self.escaped = false;
                } else if b == b'\\' {
                    self.escaped = true;
                } else if b == b'"' {
                    self.in_string = false;
                }
            } else {
                match b {
                    b'"' => self.in_string = true,
                    b'{' | b'[' => {
                        self.depth += 1;
                        self.started = true;
                    }
                    b'}' | b']' => self.depth -= 1,
                    _ => {}
                }
            }
        }
    }

    fn complete(&self) -> bool {
        self.started && self.depth <= 0 && !self.in_string
    }
}

/// Chat completion chunks → canonical events.
#[derive(Debug)]
pub struct StreamDecoder {
    id: String,
    model: String,
    next_index: u32,
    open: Open,
    tools: Vec<ToolSlot>,
    finish: Option<Stop>,
    made_calls: bool,
    usage: Usage,
    done: bool,
}

impl StreamDecoder {
    /// `id` is the message id announced at once (before the upstream's first chunk).
    pub fn new(id: String, model: String) -> Self {
        StreamDecoder {
            id,
            model,
            next_index: 0,
            open: Open::None,
            tools: Vec::new(),
            finish: None,
            made_calls: false,
            usage: Usage::default(),
            done: false,
        }
    }

    fn chunk(&mut self, v: &Value, out: &mut Vec<Event>) {
        if v.get("error").is_some_and(|e| !e.is_null()) {
            let message = crate::anthropic::errors::message_of(v)
                .unwrap_or_else(|| "the upstream reported an error mid-stream".to_owned());
            self.done = true;
            out.push(Event::Error { message });
            return;
        }
        if let Some(u) = v.get("usage").filter(|u| u.is_object()) {
            self.usage = usage_of(u);
        }
        let Some(choice) = v
            .get("choices")
            .and_then(Value::as_array)
            .and_then(|c| c.first())
        else {
            return;
        };
        if let Some(delta) = choice.get("delta") {
            if let Some(r) = reasoning_of(delta) {
                self.text(r, true, out);
            }
            if let Some(t) = delta
                .get("content")
                .and_then(Value::as_str)
                .filter(|t| !t.is_empty())
            {
                self.text(t, false, out);
            }
            for call in delta
                .get("tool_calls")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                self.tool_fragment(call, out);
            }
        }
        if let Some(reason) = choice.get("finish_reason").and_then(Value::as_str) {
            self.close_all(out);
            self.finish = Some(stop_of(
                Some(reason),
                choice.get("stop_reason"),
                self.made_calls,
            ));
        }
    }

    fn text(&mut self, t: &str, thinking: bool, out: &mut Vec<Event>) {
        let index = match self.open {
            Open::Text(i) if !thinking => i,
            Open::Thinking(i) if thinking => i,
            _ => {
                self.close(out);
                let i = self.start(
                    if thinking {
                        BlockStart::Thinking
                    } else {
                        BlockStart::Text
                    },
                    out,
                );
                self.open = if thinking {
                    Open::Thinking(i)
                } else {
                    Open::Text(i)
                };
                i
            }
        };
        out.push(Event::Delta {
            index,
            delta: if thinking {
                Delta::Thinking(t.to_owned())
            } else {
                Delta::Text(t.to_owned())
            },
        });
    }

    fn tool_fragment(&mut self, call: &Value, out: &mut Vec<Event>) {
        let upstream_index = call.get("index").and_then(Value::as_u64).unwrap_or(0);
        let f = call.get("function");
        let args = f
            .and_then(|f| f.get("arguments"))
            .and_then(Value::as_str)
            .unwrap_or_default();
        let slot = match self
            .tools
            .iter()
            .position(|s| s.upstream_index == upstream_index)
        {
            Some(s) => s,
            None => {
                self.tools.push(ToolSlot {
                    upstream_index,
                    id: String::new(),
                    name: String::new(),
                    held: String::new(),
                    state: SlotState::Held,
                    depth: JsonDepth::default(),
                });
                self.tools.len() - 1
            }
        };
        let Some(s) = self.tools.get_mut(slot) else {
            return;
        };
        if s.id.is_empty() {
            if let Some(id) = call.get("id").and_then(Value::as_str) {
                s.id.push_str(id);
            }
        }
        if s.name.is_empty() {
            if let Some(n) = f.and_then(|f| f.get("name")).and_then(Value::as_str) {
                s.name.push_str(n);
            }
        }
        s.depth.feed(args);
        match (self.open, s.state) {
            (Open::Tool(o, index), _) if o == slot => {
                if !args.is_empty() {
                    out.push(Event::Delta {
                        index,
                        delta: Delta::ToolInput(args.to_owned()),
                    });
                }
            }
            // A late fragment of a call already closed has no block to go to.
            (_, SlotState::Closed) => {}
            (open, _) => {
                s.held.push_str(args);
                let busy = match open {
                    Open::Tool(o, _) => self.tools.get(o).is_some_and(|t| !t.depth.complete()),
                    _ => false,
                };
                let named = self.tools.get(slot).is_some_and(|t| !t.name.is_empty());
                if !busy && named {
                    self.open_tool(slot, out);
                }
            }
        }
    }

    fn open_tool(&mut self, slot: usize, out: &mut Vec<Event>) {
        self.close(out);
        let Some(s) = self.tools.get_mut(slot) else {
            return;
        };
        if s.id.is_empty() {
            s.id = format!("toolu_{}_{}", self.id, s.upstream_index);
        }
        let start = BlockStart::ToolUse {
            id: s.id.clone(),
            name: s.name.clone(),
        };
        let held = std::mem::take(&mut s.held);
        s.state = SlotState::Open;
        let index = self.start(start, out);
        if !held.is_empty() {
            out.push(Event::Delta {
                index,
                delta: Delta::ToolInput(held),
            });
        }
        self.open = Open::Tool(slot, index);
        self.made_calls = true;
    }

    fn start(&mut self, block: BlockStart, out: &mut Vec<Event>) -> u32 {
        let index = self.next_index;
        self.next_index += 1;
        out.push(Event::BlockStart { index, block });
        index
    }

    fn close(&mut self, out: &mut Vec<Event>) {
        let index = match self.open {
            Open::None => return,
            Open::Text(i) | Open::Thinking(i) => i,
            Open::Tool(slot, i) => {
                if let Some(s) = self.tools.get_mut(slot) {
                    s.state = SlotState::Closed;
                }
                i
            }
        };
        self.open = Open::None;
        out.push(Event::BlockStop { index });
    }

    /// Closes the open block, then gives every held call its block, in upstream order.
    fn close_all(&mut self, out: &mut Vec<Event>) {
        self.close(out);
        while let Some(slot) = self
            .tools
            .iter()
            .position(|s| s.state == SlotState::Held)
        {
            self.open_tool(slot, out);
            self.close(out);
        }
    }
}

impl Decode for StreamDecoder {
    fn begin(&mut self, out: &mut Vec<Event>) {
        out.push(Event::Start {
            id: self.id.clone(),
            model: self.model.clone(),
        });
    }

    fn event(&mut self, ev: sse::Event, out: &mut Vec<Event>) {
        if self.done {
            return;
        }
        let data = ev.data.trim();
        if data == "[DONE]" {
            self.end(out);
            return;
        }
        if ev.event == "error" {
            let message = serde_json::from_str::<Value>(data)
                .ok()
                .and_then(|v| crate::anthropic::errors::message_of(&v))
                .unwrap_or_else(|| data.to_owned());
            self.done = true;
            out.push(Event::Error { message });
            return;
        }
        if let Ok(v) = serde_json::from_str::<Value>(data) {
            self.chunk(&v, out);
        }
    }

    fn end(&mut self, out: &mut Vec<Event>) {
        if self.done {
            return;
        }
        self.done = true;
        self.close_all(out);
        match self.finish.take() {
            Some(stop) => out.push(Event::Finish {
                stop,
                usage: self.usage,
            }),
            None => out.push(Event::Error {
                message: "the upstream stream ended before the response was complete".to_owned(),
            }),
        }
    }
}

/// Canonical response → `chat.completion` body.
#[cfg(feature = "kind-anthropic")]
pub fn encode(r: &Response, model: &str, created: u64) -> Value {
    use serde_json::json;
    let message = super::chat_request::assistant(&r.content);
    json!({
        "id": chat_id(&r.id),
        "object": "chat.completion",
        "created": created,
        "model": model,
        "choices": [{"index": 0, "message": message, "logprobs": null, "finish_reason": finish_reason(&r.stop)}],
        "usage": chat_usage(&r.usage),
    })
}

#[cfg(feature = "kind-anthropic")]
fn chat_id(id: &str) -> String {
    if id.starts_with("chatcmpl-") {
        id.to_owned()
    } else {
        format!("chatcmpl-{id}")
    }
}

#[cfg(feature = "kind-anthropic")]
fn finish_reason(stop: &Stop) -> &'static str {
    match stop {
        Stop::EndTurn | Stop::StopSequence(_) => "stop",
        Stop::MaxTokens => "length",
        Stop::ToolUse => "tool_calls",
        Stop::Refusal => "content_filter",
    }
}

#[cfg(feature = "kind-anthropic")]
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
#[cfg(feature = "kind-anthropic")]
#[derive(Debug)]
pub struct StreamEncoder {
    id: String,
    model: String,
    created: u64,
    include_usage: bool,
    /// Block index → tool call position, for the open tool block.
    open_tool: Option<(u32, u32)>,
    calls: u32,
    done: bool,
}

#[cfg(feature = "kind-anthropic")]
impl StreamEncoder {
    pub fn new(model: &str, created: u64, include_usage: bool) -> Self {
        StreamEncoder {
            id: String::new(),
            model: model.to_owned(),
            created,
            include_usage,
            open_tool: None,
            calls: 0,
            done: false,
        }
    }

    fn chunk(&self, delta: Value, finish: Option<&str>, out: &mut Vec<u8>) {
        let mut c = serde_json::json!({
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "choices": [{"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish}],
        });
        if self.include_usage {
            if let Some(o) = c.as_object_mut() {
                o.insert("usage".into(), Value::Null);
            }
        }
        sse::write(out, "", c.to_string().as_bytes());
    }
}

#[cfg(feature = "kind-anthropic")]
impl crate::canonical::stream::Encode for StreamEncoder {
    fn event(&mut self, ev: &Event, out: &mut Vec<u8>) {
        use serde_json::json;
        if self.done {
            return;
        }
        match ev {
            Event::Start { id, .. } => {
                self.id = chat_id(id);
                self.chunk(json!({"role": "assistant", "content": ""}), None, out);
            }
            Event::BlockStart {
                index,
                block: BlockStart::ToolUse { id, name },
            } => {
                let n = self.calls;
                self.calls += 1;
                self.open_tool = Some((*index, n));
                self.chunk(
                    json!({"tool_calls": [{"index": n, "id": id, "type": "function",
                        "function": {"name": name, "arguments": ""}}]}),
                    None,
                    out,
                );
            }
            Event::BlockStart { .. } | Event::BlockStop { .. } | Event::Ping => {}
            Event::Delta { index, delta } => match delta {
                Delta::Text(t) => self.chunk(json!({"content": t}), None, out),
                Delta::Thinking(t) => self.chunk(json!({"reasoning_content": t}), None, out),
                Delta::Signature(_) => {}
                Delta::ToolInput(j) => {
                    if let Some((i, n)) = self.open_tool {
                        if i == *index {
                            self.chunk(
                                json!({"tool_calls": [{"index": n, "function": {"arguments": j}}]}),
                                None,
                                out,
                            );
                        }
                    }
                }
            },
            Event::Finish { stop, usage } => {
                self.chunk(json!({}), Some(finish_reason(stop)), out);
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
