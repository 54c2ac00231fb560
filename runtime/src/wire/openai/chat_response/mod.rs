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
//! Each chunk is read through a borrowed view of the few fields used (`view`), not a `Value`
//! tree: a stream has one chunk per token or so, and building a tree for each was most of
//! a translated stream's cost. The view reads every member as leniently as the tree did.
//!
//! Encoding (feature `chat-translated`, for chat clients of upstreams that speak another
//! protocol): [`encode`] and
//! [`StreamEncoder`].

use crate::wire::canonical::stream::Decode;
use crate::wire::canonical::{
    Block, BlockStart, Delta, Event, OpenAiCounts, Response, Stop, Usage,
};
use crate::wire::openai::message::reasoning_of;
use crate::wire::sse;
use serde_json::Value;
use std::borrow::Cow;

/// A `chat.completion` body → canonical response.
pub fn response(v: &Value) -> Result<Response, String> {
    if v.get("error").is_some_and(|e| !e.is_null()) {
        return Err(crate::wire::error_body::message_of(v)
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
    let text = crate::wire::openai::message::content_text(msg.get("content"), "");
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
        id: v
            .get("id")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned(),
        model: v
            .get("model")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned(),
        content,
        stop: stop_of(
            choice.get("finish_reason").and_then(Value::as_str),
            choice.get("stop_reason").and_then(Value::as_str),
            calls > 0,
        ),
        usage: v.get("usage").map(usage_of).unwrap_or_default(),
    })
}

/// `finish_reason` (and vLLM's matched `stop_reason`) → canonical stop.
fn stop_of(finish: Option<&str>, matched: Option<&str>, made_calls: bool) -> Stop {
    match finish {
        Some("length") => Stop::MaxTokens,
        Some("tool_calls" | "function_call") => Stop::ToolUse,
        Some("content_filter") => Stop::Refusal,
        _ if made_calls => Stop::ToolUse,
        _ => match matched {
            Some(s) => Stop::StopSequence(Some(s.to_owned())),
            None => Stop::EndTurn,
        },
    }
}

/// OpenAI usage → canonical (cached prompt tokens moved out of `input`).
pub fn usage_of(u: &Value) -> Usage {
    let n = |p: &str| u.pointer(p).and_then(Value::as_u64);
    Usage::from(OpenAiCounts {
        prompt_tokens: n("/prompt_tokens"),
        cached_tokens: n("/prompt_tokens_details/cached_tokens").or(n("/prompt_cache_hit_tokens")),
        completion_tokens: n("/completion_tokens"),
        reasoning_tokens: n("/completion_tokens_details/reasoning_tokens"),
    })
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

    /// One parsed chunk. `data` is its text, read again as a tree only for an error's message.
    fn chunk(&mut self, c: view::Chunk<'_>, data: &str, out: &mut Vec<Event>) {
        if c.error.is_given_non_null() {
            let message = serde_json::from_str::<Value>(data)
                .ok()
                .and_then(|v| crate::wire::error_body::message_of(&v))
                .unwrap_or_else(|| "the upstream reported an error mid-stream".to_owned());
            self.done = true;
            out.push(Event::Error { message });
            return;
        }
        if let Some(u) = &c.usage {
            self.usage = u.canonical();
        }
        let Some(choice) = c.choice else {
            return;
        };
        if let Some(delta) = choice.delta {
            let (reasoning, content, calls) = delta.into_parts();
            if let Some(r) = reasoning {
                self.text(r, true, out);
            }
            if let Some(t) = content {
                self.text(t, false, out);
            }
            for call in calls {
                self.tool_fragment(call, out);
            }
        }
        if let Some(reason) = choice.finish_reason.as_str() {
            self.close_all(out);
            self.finish = Some(stop_of(
                Some(reason),
                choice.stop_reason.as_str(),
                self.made_calls,
            ));
        }
    }

    /// A text or reasoning piece (moved into its event: a piece the view had to unescape is
    /// not copied again).
    fn text(&mut self, t: Cow<'_, str>, thinking: bool, out: &mut Vec<Event>) {
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
                Delta::Thinking(t.into_owned())
            } else {
                Delta::Text(t.into_owned())
            },
        });
    }

    fn tool_fragment(&mut self, call: view::Call<'_>, out: &mut Vec<Event>) {
        let upstream_index = call.index.as_u64().unwrap_or(0);
        let (name, args) = match call.function {
            Some(f) => (f.name, f.arguments.into_str().unwrap_or_default()),
            None => (crate::wire::lenient::Json::Absent, Cow::Borrowed("")),
        };
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
            if let Some(id) = call.id.as_str() {
                s.id.push_str(id);
            }
        }
        if s.name.is_empty() {
            if let Some(n) = name.as_str() {
                s.name.push_str(n);
            }
        }
        s.depth.feed(&args);
        match (self.open, s.state) {
            (Open::Tool(o, index), _) if o == slot => {
                if !args.is_empty() {
                    out.push(Event::Delta {
                        index,
                        delta: Delta::ToolInput(args.into_owned()),
                    });
                }
            }
            // A late fragment of a call already closed has no block to go to.
            (_, SlotState::Closed) => {}
            (open, _) => {
                s.held.push_str(&args);
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
        while let Some(slot) = self.tools.iter().position(|s| s.state == SlotState::Held) {
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
                .and_then(|v| crate::wire::error_body::message_of(&v))
                .unwrap_or_else(|| data.to_owned());
            self.done = true;
            out.push(Event::Error { message });
            return;
        }
        // Not JSON: ignored. Valid JSON that is not an object: an empty chunk.
        if let Ok(c) = crate::wire::lenient::body::<view::Chunk<'_>>(data.as_bytes()) {
            self.chunk(c.unwrap_or_default(), data, out);
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

mod view;

#[cfg(feature = "chat-translated")]
mod encode;
#[cfg(feature = "chat-translated")]
pub use encode::{encode, StreamEncoder};

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// Odd but valid chunks: every member read leniently, as a `Value` tree read them.
    const CASES: &[&[&str]] = &[
        &[r#"{"choices":[{"delta":{"reasoning_content":null,"reasoning":"x","content":"hi"}}]}"#],
        &[
            r#"{"choices":[{"delta":{"reasoning":"r","content":""}}]}"#,
            r#"{"choices":[{"delta":{"reasoning_content":"s"},"finish_reason":"length"}]}"#,
        ],
        &[
            r#"{"choices":[{"delta":{"content":"a","content":"b"}}],"choices":[{"delta":{"content":"c"}}]}"#,
        ],
        &[
            r#"{"choices":["x"]}"#,
            r#"{"choices":{}}"#,
            "[1,2]",
            r#""str""#,
            "nul",
            r#"{"choices":[{"delta":[1]}]}"#,
            r#"{"choices":[{"delta":{"content":7}}, {"delta":{"content":"second"}}]}"#,
        ],
        &[
            r#"{"choices":[{"delta":{"tool_calls":[5, {"index":-1,"id":"c","function":{"name":"f","arguments":"{}"}}]}}]}"#,
        ],
        &[
            r#"{"choices":[{"delta":{"tool_calls":[{"index":1.0,"function":{"name":"g","arguments":"{\"a\":"}},{"index":2,"id":"k","function":{"name":"h","arguments":"{}"}}]}}]}"#,
            r#"{"choices":[{"delta":{"tool_calls":[{"index":0,"function":{"arguments":"[1]}"}}]},"finish_reason":"stop"}]}"#,
        ],
        &[
            r#"{"choices":[],"usage":{"prompt_tokens":10,"prompt_cache_hit_tokens":4,"completion_tokens":3,"completion_tokens_details":{"reasoning_tokens":2}}}"#,
            r#"{"usage":"x","choices":[{"delta":{},"finish_reason":"stop","stop_reason":"END"}]}"#,
        ],
        &[
            r#"{"choices":[{"finish_reason":"tool_calls"}],"usage":{"prompt_tokens":10,"prompt_tokens_details":[],"prompt_cache_hit_tokens":4,"completion_tokens":-3}}"#,
        ],
        &[
            r#"{"usage":{"prompt_tokens":10,"prompt_tokens_details":{"cached_tokens":6},"prompt_cache_hit_tokens":4}}"#,
            r#"{"choices":[{"finish_reason":"stop","stop_reason":7}]}"#,
        ],
        &[
            r#"{"error":null,"choices":[{"delta":{"content":"ok \"q\" \u00e9\n"}}]}"#,
            r#"{"error":{"message":"boom"}}"#,
            r#"{"choices":[{"delta":{"content":"after"}}]}"#,
        ],
        &[r#"{"error":false}"#],
        &[r#"{"error":"plain"}"#],
        &[
            r#"{"choices":[{"delta":{"content":"x"},"finish_reason":null,"stop_reason":null}]}"#,
            r#"{"choices":[{"finish_reason":"content_filter"}]}"#,
        ],
    ];

    /// What the decoder gave for [`CASES`] when it read every chunk into a `Value` tree.
    const EXPECTED: &str = r####"[Start { id: "id", model: "m" }, BlockStart { index: 0, block: Text }, Delta { index: 0, delta: Text("hi") }, BlockStop { index: 0 }, Error { message: "the upstream stream ended before the response was complete" }]
[Start { id: "id", model: "m" }, BlockStart { index: 0, block: Thinking }, Delta { index: 0, delta: Thinking("r") }, Delta { index: 0, delta: Thinking("s") }, BlockStop { index: 0 }, Finish { stop: MaxTokens, usage: Usage { input: 0, output: 0, cache_read: None, cache_write: None, reasoning: None } }]
[Start { id: "id", model: "m" }, BlockStart { index: 0, block: Text }, Delta { index: 0, delta: Text("c") }, BlockStop { index: 0 }, Error { message: "the upstream stream ended before the response was complete" }]
[Start { id: "id", model: "m" }, Error { message: "the upstream stream ended before the response was complete" }]
[Start { id: "id", model: "m" }, BlockStart { index: 0, block: ToolUse { id: "c", name: "f" } }, Delta { index: 0, delta: ToolInput("{}") }, BlockStop { index: 0 }, Error { message: "the upstream stream ended before the response was complete" }]
[Start { id: "id", model: "m" }, BlockStart { index: 0, block: ToolUse { id: "toolu_id_0", name: "g" } }, Delta { index: 0, delta: ToolInput("{\"a\":") }, Delta { index: 0, delta: ToolInput("[1]}") }, BlockStop { index: 0 }, BlockStart { index: 1, block: ToolUse { id: "k", name: "h" } }, Delta { index: 1, delta: ToolInput("{}") }, BlockStop { index: 1 }, Finish { stop: ToolUse, usage: Usage { input: 0, output: 0, cache_read: None, cache_write: None, reasoning: None } }]
[Start { id: "id", model: "m" }, Finish { stop: StopSequence(Some("END")), usage: Usage { input: 6, output: 3, cache_read: Some(4), cache_write: None, reasoning: Some(2) } }]
[Start { id: "id", model: "m" }, Finish { stop: ToolUse, usage: Usage { input: 6, output: 0, cache_read: Some(4), cache_write: None, reasoning: None } }]
[Start { id: "id", model: "m" }, Finish { stop: EndTurn, usage: Usage { input: 4, output: 0, cache_read: Some(6), cache_write: None, reasoning: None } }]
[Start { id: "id", model: "m" }, BlockStart { index: 0, block: Text }, Delta { index: 0, delta: Text("ok \"q\" é\n") }, Error { message: "boom" }]
[Start { id: "id", model: "m" }, Error { message: "the upstream reported an error mid-stream" }]
[Start { id: "id", model: "m" }, Error { message: "plain" }]
[Start { id: "id", model: "m" }, BlockStart { index: 0, block: Text }, Delta { index: 0, delta: Text("x") }, BlockStop { index: 0 }, Finish { stop: Refusal, usage: Usage { input: 0, output: 0, cache_read: None, cache_write: None, reasoning: None } }]
"####;

    #[test]
    fn odd_chunks_decode_as_before() {
        use crate::wire::canonical::stream::Decode;
        let mut all = String::new();
        for chunks in CASES {
            let mut d = StreamDecoder::new("id".into(), "m".into());
            let mut out = Vec::new();
            d.begin(&mut out);
            for c in *chunks {
                d.event(
                    sse::Event {
                        event: String::new(),
                        data: (*c).to_owned(),
                    },
                    &mut out,
                );
            }
            d.end(&mut out);
            all.push_str(&format!("{out:?}\n"));
        }
        assert_eq!(all, EXPECTED);
    }
}
