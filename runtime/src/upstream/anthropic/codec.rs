//! Talking Messages to an Anthropic upstream on behalf of another protocol's client:
//! canonical request → Messages body, Messages answer → canonical.
//!
//! - [`encode`]: `max_tokens` is required by Messages (default [`DEFAULT_MAX_TOKENS`], then
//!   the route's cap); with thinking on, the budget stays below `max_tokens` and sampling
//!   knobs Messages refuses alongside thinking (`temperature`, `top_k`, `top_p`) are left
//!   out; thinking blocks without a real Anthropic signature (reasoning from another
//!   upstream) are left out of the history, since Anthropic rejects them.
//! - [`response`] and [`StreamDecoder`]: Messages bodies and SSE → canonical.

use crate::errors::ApiError;
use crate::wire::canonical::stream::Decode;
use crate::wire::canonical::{
    Block, BlockStart, Delta, Event, Request, Response, Role, Source, Stop, Thinking, ToolChoice,
    Usage, PLACEHOLDER_SIGNATURE,
};
use crate::wire::openai::chat_request::clamp;
use crate::wire::sse;
use serde_json::{json, Map, Value};

/// `max_tokens` sent when the client gave none (Messages requires it).
pub const DEFAULT_MAX_TOKENS: u32 = 4096;

/// The Messages body for `req`, sent to `model`.
pub fn encode(req: &Request, model: &str, cap: Option<u32>) -> Result<Vec<u8>, ApiError> {
    let max_tokens = clamp(Some(req.max_tokens.unwrap_or(DEFAULT_MAX_TOKENS)), cap)
        .unwrap_or(DEFAULT_MAX_TOKENS)
        .max(1);
    let mut body = Map::new();
    body.insert("model".into(), json!(model));
    body.insert("max_tokens".into(), json!(max_tokens));
    if let Some(system) = system_of(req) {
        body.insert("system".into(), json!(system));
    }
    body.insert("messages".into(), messages_of(req));
    if !req.tools.is_empty() {
        insert_tools(req, &mut body);
    }
    if let Some(t) = thinking_of(req, max_tokens) {
        body.insert("thinking".into(), t);
    } else {
        // Messages refuses these alongside thinking.
        if let Some(t) = req.temperature {
            body.insert("temperature".into(), json!(t.clamp(0.0, 1.0)));
        }
        if let Some(p) = req.top_p {
            body.insert("top_p".into(), json!(p));
        }
        if let Some(k) = req.top_k {
            body.insert("top_k".into(), json!(k));
        }
    }
    if !req.stop.is_empty() {
        body.insert("stop_sequences".into(), json!(req.stop));
    }
    if req.stream {
        body.insert("stream".into(), json!(true));
    }
    serde_json::to_vec(&Value::Object(body))
        .map_err(|e| ApiError::server("encode_failed", format!("could not encode: {e}")))
}

/// The system text, with the response format asked for in it (Messages has no structured
/// outputs).
fn system_of(req: &Request) -> Option<String> {
    let format = req
        .format
        .as_ref()
        .map(crate::wire::canonical::Format::instruction);
    let system: Vec<&str> = req
        .system
        .iter()
        .map(String::as_str)
        .chain(format.as_deref())
        .collect();
    (!system.is_empty()).then(|| system.join("\n\n"))
}

/// The turns, each with the blocks Messages takes (a turn left empty is dropped).
fn messages_of(req: &Request) -> Value {
    let mut messages = Vec::with_capacity(req.messages.len());
    for m in &req.messages {
        let content: Vec<Value> = m.content.iter().filter_map(block).collect();
        if content.is_empty() {
            continue;
        }
        messages.push(json!({
            "role": match m.role { Role::User => "user", Role::Assistant => "assistant" },
            "content": content,
        }));
    }
    Value::Array(messages)
}

/// `tools`, and `tool_choice` when the request chose or turned parallel calls off.
fn insert_tools(req: &Request, body: &mut Map<String, Value>) {
    let tools: Vec<Value> = req
        .tools
        .iter()
        .map(|t| {
            let mut o = Map::new();
            o.insert("name".into(), json!(t.name));
            if let Some(d) = &t.description {
                o.insert("description".into(), json!(d));
            }
            o.insert("input_schema".into(), t.schema.to_value());
            Value::Object(o)
        })
        .collect();
    body.insert("tools".into(), Value::Array(tools));
    let mut choice = match &req.tool_choice {
        Some(ToolChoice::Any) => json!({"type": "any"}),
        Some(ToolChoice::None) => json!({"type": "none"}),
        Some(ToolChoice::Tool(n)) => json!({"type": "tool", "name": n}),
        Some(ToolChoice::Auto) | None => json!({"type": "auto"}),
    };
    if req.parallel_tool_calls == Some(false) {
        if let Some(o) = choice.as_object_mut() {
            o.insert("disable_parallel_tool_use".into(), json!(true));
        }
    }
    if req.tool_choice.is_some() || req.parallel_tool_calls == Some(false) {
        body.insert("tool_choice".into(), choice);
    }
}

/// `thinking`: a budget of at least 1024 tokens and below `max_tokens` (none fits: off).
fn thinking_of(req: &Request, max_tokens: u32) -> Option<Value> {
    match req.thinking {
        Some(Thinking::Enabled { budget_tokens }) => {
            let budget = budget_tokens.unwrap_or(max_tokens / 2).max(1024);
            let budget = budget.min(max_tokens.saturating_sub(1));
            (budget >= 1024).then(|| json!({"type": "enabled", "budget_tokens": budget}))
        }
        Some(Thinking::Adaptive) => Some(json!({"type": "adaptive"})),
        Some(Thinking::Disabled) | None => None,
    }
}

fn source(s: &Source) -> Value {
    match s {
        Source::Base64 { media_type, data } => {
            json!({"type": "base64", "media_type": media_type, "data": data})
        }
        Source::Url(url) => json!({"type": "url", "url": url}),
        Source::Text(t) => json!({"type": "text", "media_type": "text/plain", "data": t}),
    }
}

fn block(b: &Block) -> Option<Value> {
    Some(match b {
        Block::Text(t) if t.is_empty() => return None,
        Block::Text(t) => json!({"type": "text", "text": t}),
        Block::Image(s) => json!({"type": "image", "source": source(s)}),
        Block::Document { source: s, title } => {
            let mut o = json!({"type": "document", "source": source(s)});
            if let (Some(t), Some(obj)) = (title, o.as_object_mut()) {
                obj.insert("title".into(), json!(t));
            }
            o
        }
        Block::Thinking {
            text,
            signature: Some(sig),
        } if sig != PLACEHOLDER_SIGNATURE => {
            json!({"type": "thinking", "thinking": text, "signature": sig})
        }
        Block::Thinking { .. } => return None,
        Block::RedactedThinking(d) => json!({"type": "redacted_thinking", "data": d}),
        Block::ToolUse { id, name, input } => json!({
            "type": "tool_use",
            "id": id,
            "name": name,
            "input": serde_json::from_str::<Value>(input)
                .ok()
                .filter(Value::is_object)
                .unwrap_or_else(|| json!({})),
        }),
        Block::ToolResult {
            id,
            content,
            is_error,
        } => {
            let inner: Vec<Value> = content.iter().filter_map(block).collect();
            let mut o = json!({"type": "tool_result", "tool_use_id": id, "content": inner});
            if *is_error {
                if let Some(obj) = o.as_object_mut() {
                    obj.insert("is_error".into(), json!(true));
                }
            }
            o
        }
    })
}

/// A Messages response body → canonical.
pub fn response(v: &Value) -> Result<Response, String> {
    if v.get("type").and_then(Value::as_str) == Some("error") {
        return Err(crate::wire::error_body::message_of(v)
            .unwrap_or_else(|| "the upstream answered with an error".to_owned()));
    }
    let mut content = Vec::new();
    for b in v
        .get("content")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let s = |k: &str| str_of(Some(b), k);
        match b.get("type").and_then(Value::as_str) {
            Some("text") => content.push(Block::Text(s("text"))),
            Some("thinking") => content.push(Block::Thinking {
                text: s("thinking"),
                signature: Some(s("signature")),
            }),
            Some("redacted_thinking") => content.push(Block::RedactedThinking(s("data"))),
            Some("tool_use") => content.push(Block::ToolUse {
                id: s("id"),
                name: s("name"),
                input: b
                    .get("input")
                    .map_or_else(|| "{}".to_owned(), Value::to_string),
            }),
            _ => {}
        }
    }
    Ok(Response {
        id: str_of(Some(v), "id"),
        model: str_of(Some(v), "model"),
        content,
        stop: stop_of(
            v.get("stop_reason").and_then(Value::as_str),
            v.get("stop_sequence"),
        ),
        usage: v.get("usage").map(usage_of).unwrap_or_default(),
    })
}

fn stop_of(reason: Option<&str>, sequence: Option<&Value>) -> Stop {
    match reason {
        Some("max_tokens" | "model_context_window_exceeded") => Stop::MaxTokens,
        Some("tool_use") => Stop::ToolUse,
        Some("stop_sequence") => {
            Stop::StopSequence(sequence.and_then(Value::as_str).map(str::to_owned))
        }
        Some("refusal") => Stop::Refusal,
        _ => Stop::EndTurn,
    }
}

fn usage_of(u: &Value) -> Usage {
    let n = |k: &str| u.get(k).and_then(Value::as_u64);
    Usage {
        input: n("input_tokens").unwrap_or(0),
        output: n("output_tokens").unwrap_or(0),
        cache_read: n("cache_read_input_tokens"),
        cache_write: n("cache_creation_input_tokens"),
        reasoning: None,
    }
}

/// A string member of an optional object (`""` when absent or not a string).
fn str_of(o: Option<&Value>, key: &str) -> String {
    o.and_then(|o| o.get(key))
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

/// A `content_block_delta`'s delta; `None` for a type we do not know.
fn delta_of(d: Option<&Value>) -> Option<Delta> {
    Some(
        match d.and_then(|d| d.get("type")).and_then(Value::as_str) {
            Some("text_delta") => Delta::Text(str_of(d, "text")),
            Some("thinking_delta") => Delta::Thinking(str_of(d, "thinking")),
            Some("signature_delta") => Delta::Signature(str_of(d, "signature")),
            Some("input_json_delta") => Delta::ToolInput(str_of(d, "partial_json")),
            _ => return None,
        },
    )
}

/// Messages SSE → canonical events (the shapes map one to one).
#[derive(Debug, Default)]
pub struct StreamDecoder {
    usage: Usage,
    stop: Option<Stop>,
    /// Upstream block indexes that were announced (others, e.g. server tools, are skipped).
    known: Vec<u32>,
    done: bool,
}

impl StreamDecoder {
    /// A block begins; one of a type we do not know is skipped with its deltas and stop.
    fn block_start(&mut self, b: Option<&Value>, index: u32, out: &mut Vec<Event>) {
        let block = match b.and_then(|b| b.get("type")).and_then(Value::as_str) {
            Some("text") => BlockStart::Text,
            Some("thinking") => BlockStart::Thinking,
            Some("redacted_thinking") => BlockStart::RedactedThinking(str_of(b, "data")),
            Some("tool_use") => BlockStart::ToolUse {
                id: str_of(b, "id"),
                name: str_of(b, "name"),
            },
            _ => return,
        };
        self.known.push(index);
        out.push(Event::BlockStart { index, block });
        if let Some(t) = b
            .and_then(|b| b.get("text"))
            .and_then(Value::as_str)
            .filter(|t| !t.is_empty())
        {
            out.push(Event::Delta {
                index,
                delta: Delta::Text(t.to_owned()),
            });
        }
    }

    /// The stop reason, and usage: output tokens are final here, input and cache counts
    /// only when the event has them (`message_start` gave them otherwise).
    fn message_delta(&mut self, v: &Value) {
        let d = v.get("delta");
        self.stop = Some(stop_of(
            d.and_then(|d| d.get("stop_reason")).and_then(Value::as_str),
            d.and_then(|d| d.get("stop_sequence")),
        ));
        if let Some(u) = v.get("usage") {
            let later = usage_of(u);
            self.usage.output = later.output;
            if later.input > 0 {
                self.usage.input = later.input;
            }
            self.usage.cache_read = later.cache_read.or(self.usage.cache_read);
            self.usage.cache_write = later.cache_write.or(self.usage.cache_write);
        }
    }

    pub fn new() -> Self {
        Self::default()
    }
}

impl Decode for StreamDecoder {
    fn begin(&mut self, _out: &mut Vec<Event>) {}

    fn event(&mut self, ev: sse::Event, out: &mut Vec<Event>) {
        if self.done {
            return;
        }
        let Ok(v) = serde_json::from_str::<Value>(&ev.data) else {
            return;
        };
        let kind = v.get("type").and_then(Value::as_str).unwrap_or(&ev.event);
        let index = v
            .get("index")
            .and_then(Value::as_u64)
            .and_then(|i| u32::try_from(i).ok())
            .unwrap_or(0);
        match kind {
            "message_start" => {
                let m = v.get("message");
                if let Some(u) = m.and_then(|m| m.get("usage")) {
                    self.usage = usage_of(u);
                }
                out.push(Event::Start {
                    id: str_of(m, "id"),
                    model: str_of(m, "model"),
                });
            }
            "content_block_start" => self.block_start(v.get("content_block"), index, out),
            "content_block_delta" if self.known.contains(&index) => {
                if let Some(delta) = delta_of(v.get("delta")) {
                    out.push(Event::Delta { index, delta });
                }
            }
            "content_block_stop" if self.known.contains(&index) => {
                out.push(Event::BlockStop { index });
            }
            "message_delta" => self.message_delta(&v),
            "message_stop" => {
                self.done = true;
                out.push(Event::Finish {
                    stop: self.stop.take().unwrap_or(Stop::EndTurn),
                    usage: self.usage,
                });
            }
            "error" => {
                self.done = true;
                out.push(Event::Error {
                    message: crate::wire::error_body::message_of(&v)
                        .unwrap_or_else(|| "the upstream reported an error".to_owned()),
                });
            }
            _ => {}
        }
    }

    fn end(&mut self, out: &mut Vec<Event>) {
        if !self.done {
            self.done = true;
            out.push(Event::Error {
                message: "the upstream stream ended before the response was complete".to_owned(),
            });
        }
    }
}
