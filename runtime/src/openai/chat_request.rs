//! OpenAI chat completions requests ⇄ [`canonical::Request`].
//!
//! [`encode`] (always compiled: any config may receive Anthropic Messages and send them to an
//! OpenAI-compatible upstream) writes the chat body for one upstream attempt:
//!
//! - system text (top-level and system messages) → one leading `system` message;
//! - text → string content when a message is text only (the most widely accepted form),
//!   images → `image_url` parts (data URLs for base64), PDF documents → `file` parts, text
//!   documents → text parts; a document URL has no chat form and is a 400;
//! - thinking blocks of earlier assistant turns → `reasoning_content` (DeepSeek's field, which
//!   tool-calling reasoning models need back); Anthropic's encrypted `redacted_thinking` is
//!   meaningless elsewhere and is left out;
//! - `tool_use` → `tool_calls` (arguments as the JSON text they arrived as); `tool_result` →
//!   `role: tool` messages right after, with `is_error` as an `Error:` prefix; images inside a
//!   result follow in a user message (tool messages carry text only);
//! - tools → functions with `input_schema` cleaned of `$schema` (strict upstreams reject it);
//!   `tool_choice` any → `required`; `disable_parallel_tool_use` → `parallel_tool_calls: false`;
//! - `stop_sequences` → `stop`; `max_tokens` clamped to the route's cap; thinking →
//!   `reasoning_effort` (low ≤ 4k budget, medium ≤ 16k, high above); streams ask for usage
//!   (`stream_options.include_usage`) so the translated stream can report it.
//!
//! [`decode`] (with `kind-anthropic`, the only kind that needs chat requests in canonical
//! form) reads a chat request for an Anthropic upstream.
//!
//! [`canonical::Request`]: crate::canonical::Request

use crate::canonical::{Block, Request, Role, Source, Thinking, ToolChoice};
use crate::errors::ApiError;
use serde_json::{json, Map, Value};

/// The chat completions body for `req`, sent to `model`, with `max_tokens` clamped to `cap`.
pub fn encode(req: &Request, model: &str, cap: Option<u32>) -> Result<Vec<u8>, ApiError> {
    let mut body = Map::new();
    body.insert("model".into(), Value::String(model.to_owned()));
    let mut messages = Vec::with_capacity(req.messages.len() + 1);
    if !req.system.is_empty() {
        messages.push(json!({"role": "system", "content": req.system.join("\n\n")}));
    }
    for m in &req.messages {
        match m.role {
            Role::User => user(&m.content, &mut messages)?,
            Role::Assistant => messages.push(assistant(&m.content)),
        }
    }
    body.insert("messages".into(), Value::Array(messages));
    if let Some(max) = clamp(req.max_tokens, cap) {
        body.insert("max_tokens".into(), json!(max));
    }
    if let Some(t) = req.temperature {
        body.insert("temperature".into(), json!(t));
    }
    if let Some(p) = req.top_p {
        body.insert("top_p".into(), json!(p));
    }
    if !req.stop.is_empty() {
        body.insert("stop".into(), json!(req.stop));
    }
    if !req.tools.is_empty() {
        let tools: Vec<Value> = req
            .tools
            .iter()
            .map(|t| {
                let mut f = Map::new();
                f.insert("name".into(), Value::String(t.name.clone()));
                if let Some(d) = &t.description {
                    f.insert("description".into(), Value::String(d.clone()));
                }
                f.insert("parameters".into(), clean_schema(&t.schema));
                json!({"type": "function", "function": f})
            })
            .collect();
        body.insert("tools".into(), Value::Array(tools));
        if let Some(choice) = &req.tool_choice {
            body.insert(
                "tool_choice".into(),
                match choice {
                    ToolChoice::Auto => json!("auto"),
                    ToolChoice::Any => json!("required"),
                    ToolChoice::None => json!("none"),
                    ToolChoice::Tool(name) => {
                        json!({"type": "function", "function": {"name": name}})
                    }
                },
            );
        }
        if let Some(p) = req.parallel_tool_calls {
            body.insert("parallel_tool_calls".into(), Value::Bool(p));
        }
    }
    if let Some(format) = &req.format {
        body.insert("response_format".into(), response_format(format));
    }
    if let Some(effort) = req.thinking.and_then(Thinking::effort) {
        body.insert("reasoning_effort".into(), json!(effort));
    }
    if req.stream {
        body.insert("stream".into(), Value::Bool(true));
        body.insert("stream_options".into(), json!({"include_usage": true}));
    }
    serde_json::to_vec(&Value::Object(body))
        .map_err(|e| ApiError::server("encode_failed", format!("could not encode: {e}")))
}

/// A structured output format as chat `response_format`.
fn response_format(format: &crate::canonical::Format) -> Value {
    match format {
        crate::canonical::Format::JsonObject => json!({"type": "json_object"}),
        crate::canonical::Format::JsonSchema {
            name,
            description,
            schema,
            strict,
        } => {
            let mut s = Map::new();
            s.insert("name".into(), Value::String(name.clone()));
            if let Some(d) = description {
                s.insert("description".into(), Value::String(d.clone()));
            }
            s.insert("schema".into(), schema.clone());
            if let Some(strict) = strict {
                s.insert("strict".into(), Value::Bool(*strict));
            }
            json!({"type": "json_schema", "json_schema": s})
        }
    }
}

/// `max_tokens` after the route's cap (a request without one gets the cap).
pub fn clamp(requested: Option<u32>, cap: Option<u32>) -> Option<u32> {
    match (requested, cap) {
        (Some(r), Some(c)) => Some(r.min(c)),
        (r, c) => r.or(c),
    }
}

fn user(blocks: &[Block], out: &mut Vec<Value>) -> Result<(), ApiError> {
    let mut parts: Vec<Value> = Vec::new();
    let mut from_tools: Vec<Value> = Vec::new();
    for b in blocks {
        match b {
            Block::ToolResult {
                id,
                content,
                is_error,
            } => {
                let mut text = String::new();
                let mut extra = Vec::new();
                for c in content {
                    match c {
                        Block::Text(t) => {
                            if !text.is_empty() {
                                text.push('\n');
                            }
                            text.push_str(t);
                        }
                        Block::Document {
                            source: Source::Text(t),
                            ..
                        } => {
                            if !text.is_empty() {
                                text.push('\n');
                            }
                            text.push_str(t);
                        }
                        other => extra.push(part(other)?),
                    }
                }
                if *is_error && !text.starts_with("Error") {
                    text.insert_str(0, "Error: ");
                }
                out.push(json!({"role": "tool", "tool_call_id": id, "content": text}));
                if !extra.is_empty() {
                    from_tools.push(json!({
                        "type": "text",
                        "text": format!("(attachments returned by tool call {id})"),
                    }));
                    from_tools.extend(extra);
                }
            }
            Block::Thinking { .. } | Block::RedactedThinking(_) => {}
            Block::ToolUse { .. } => {
                return Err(ApiError::bad_request(
                    Some("messages"),
                    "`tool_use` blocks belong in assistant messages.".to_owned(),
                ))
            }
            other => parts.push(part(other)?),
        }
    }
    from_tools.extend(parts);
    if from_tools.is_empty() {
        return Ok(());
    }
    let all_text = from_tools
        .iter()
        .all(|p| p.get("type").and_then(Value::as_str) == Some("text"));
    let content = if all_text {
        let texts: Vec<&str> = from_tools
            .iter()
            .filter_map(|p| p.get("text").and_then(Value::as_str))
            .collect();
        Value::String(texts.join("\n\n"))
    } else {
        Value::Array(from_tools)
    };
    out.push(json!({"role": "user", "content": content}));
    Ok(())
}

/// One user content part.
fn part(b: &Block) -> Result<Value, ApiError> {
    Ok(match b {
        Block::Text(t) => json!({"type": "text", "text": t}),
        Block::Image(Source::Base64 { media_type, data }) => {
            json!({"type": "image_url", "image_url": {"url": format!("data:{media_type};base64,{data}")}})
        }
        Block::Image(Source::Url(url)) => json!({"type": "image_url", "image_url": {"url": url}}),
        Block::Document {
            source: Source::Text(t),
            title,
        } => match title {
            Some(title) => json!({"type": "text", "text": format!("{title}\n\n{t}")}),
            None => json!({"type": "text", "text": t}),
        },
        Block::Document {
            source: Source::Base64 { media_type, data },
            title,
        } => json!({"type": "file", "file": {
            "filename": title.as_deref().unwrap_or("document.pdf"),
            "file_data": format!("data:{media_type};base64,{data}"),
        }}),
        Block::Document {
            source: Source::Url(_),
            ..
        } => {
            return Err(ApiError::bad_request(
                Some("messages"),
                "document blocks with a URL source cannot be sent to an OpenAI-compatible \
                 upstream; send the document as base64 or text."
                    .to_owned(),
            ))
        }
        Block::Image(Source::Text(_)) => {
            return Err(ApiError::bad_request(
                Some("messages"),
                "image blocks need a base64 or url source.".to_owned(),
            ))
        }
        _ => json!({"type": "text", "text": ""}),
    })
}

/// The chat `assistant` message of a turn's blocks: text as `content` (`null` when the turn
/// is only tool calls), thinking as `reasoning_content`, tool uses as `tool_calls`. Also the
/// `message` of a translated `chat.completion` (`chat_response::encode`).
pub(super) fn assistant(blocks: &[Block]) -> Value {
    let mut text = String::new();
    let mut reasoning = String::new();
    let mut calls = Vec::new();
    for b in blocks {
        match b {
            Block::Text(t) => text.push_str(t),
            Block::Thinking { text: r, .. } => reasoning.push_str(r),
            Block::ToolUse { id, name, input } => calls.push(json!({
                "id": id,
                "type": "function",
                "function": {"name": name, "arguments": input},
            })),
            _ => {}
        }
    }
    let mut m = Map::new();
    m.insert("role".into(), json!("assistant"));
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

/// A tool's JSON Schema without the keywords strict OpenAI-compatible upstreams reject
/// (`$schema`). Walks keyword positions only: a property *named* `$schema` is kept.
pub fn clean_schema(schema: &Value) -> Value {
    const DROP: &[&str] = &["$schema"];
    match schema {
        Value::Object(o) => {
            let mut out = Map::with_capacity(o.len());
            for (k, v) in o {
                if DROP.contains(&k.as_str()) {
                    continue;
                }
                let cleaned = match k.as_str() {
                    // Maps from names to schemas.
                    "properties" | "$defs" | "definitions" | "patternProperties" => match v {
                        Value::Object(m) => Value::Object(
                            m.iter().map(|(n, s)| (n.clone(), clean_schema(s))).collect(),
                        ),
                        other => other.clone(),
                    },
                    // Literal values, not schemas.
                    "enum" | "const" | "default" | "examples" | "required" => v.clone(),
                    _ => clean_schema(v),
                };
                out.insert(k.clone(), cleaned);
            }
            Value::Object(out)
        }
        Value::Array(items) => Value::Array(items.iter().map(clean_schema).collect()),
        other => other.clone(),
    }
}

/// Chat request → canonical (for upstreams that speak another protocol).
#[cfg(feature = "kind-anthropic")]
pub fn decode(body: &[u8]) -> Result<Request, ApiError> {
    use crate::canonical::{Message, Tool};
    let bad = |m: &str| ApiError::bad_request(Some("messages"), m.to_owned());
    let v: Value = serde_json::from_slice(body).map_err(|e| ApiError::bad_json(&e.to_string()))?;
    let Value::Object(obj) = v else {
        return Err(ApiError::bad_json("the body is not a JSON object"));
    };
    let mut req = Request {
        model: obj
            .get("model")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned(),
        ..Request::default()
    };
    let messages = obj
        .get("messages")
        .and_then(Value::as_array)
        .ok_or_else(|| bad("`messages` must be an array."))?;
    for m in messages {
        let role = m.get("role").and_then(Value::as_str).unwrap_or_default();
        let content = m.get("content");
        match role {
            "system" | "developer" => req.system.push(content_text(content, "\n")),
            "user" => {
                let blocks = user_blocks(content)?;
                req.messages.push(Message {
                    role: Role::User,
                    content: blocks,
                });
            }
            "assistant" => {
                let mut blocks = Vec::new();
                if let Some(r) = super::chat_response::reasoning_of(m) {
                    blocks.push(Block::Thinking {
                        text: r.to_owned(),
                        signature: None,
                    });
                }
                let text = content_text(content, "\n");
                if !text.is_empty() {
                    blocks.push(Block::Text(text));
                }
                for c in m
                    .get("tool_calls")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    let f = c.get("function");
                    let s = |v: Option<&Value>| v.and_then(Value::as_str).unwrap_or_default().to_owned();
                    blocks.push(Block::ToolUse {
                        id: s(c.get("id")),
                        name: s(f.and_then(|f| f.get("name"))),
                        input: s(f.and_then(|f| f.get("arguments"))),
                    });
                }
                req.messages.push(Message {
                    role: Role::Assistant,
                    content: blocks,
                });
            }
            "tool" => {
                let result = Block::ToolResult {
                    id: m
                        .get("tool_call_id")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_owned(),
                    content: vec![Block::Text(content_text(content, "\n"))],
                    is_error: false,
                };
                // Results of one turn go together in one user message.
                match req.messages.last_mut() {
                    Some(last)
                        if last.role == Role::User
                            && last
                                .content
                                .iter()
                                .all(|b| matches!(b, Block::ToolResult { .. })) =>
                    {
                        last.content.push(result)
                    }
                    _ => req.messages.push(Message {
                        role: Role::User,
                        content: vec![result],
                    }),
                }
            }
            other => return Err(bad(&format!("unsupported message role `{other}`."))),
        }
    }
    for t in obj
        .get("tools")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let Some(f) = t.get("function") else {
            return Err(ApiError::bad_request(
                Some("tools"),
                "only `function` tools can be sent to this upstream.".to_owned(),
            ));
        };
        req.tools.push(Tool {
            name: f.get("name").and_then(Value::as_str).unwrap_or_default().to_owned(),
            description: f.get("description").and_then(Value::as_str).map(str::to_owned),
            schema: f
                .get("parameters")
                .cloned()
                .unwrap_or_else(|| json!({"type": "object", "properties": {}})),
        });
    }
    req.tool_choice = match obj.get("tool_choice") {
        Some(Value::String(s)) => match s.as_str() {
            "none" => Some(ToolChoice::None),
            "required" => Some(ToolChoice::Any),
            _ => Some(ToolChoice::Auto),
        },
        Some(Value::Object(o)) => o
            .get("function")
            .and_then(|f| f.get("name"))
            .and_then(Value::as_str)
            .map(|n| ToolChoice::Tool(n.to_owned())),
        _ => None,
    };
    req.parallel_tool_calls = obj.get("parallel_tool_calls").and_then(Value::as_bool);
    req.max_tokens = obj
        .get("max_completion_tokens")
        .or_else(|| obj.get("max_tokens"))
        .and_then(Value::as_u64)
        .map(|n| u32::try_from(n).unwrap_or(u32::MAX));
    req.temperature = obj.get("temperature").and_then(Value::as_f64);
    req.top_p = obj.get("top_p").and_then(Value::as_f64);
    req.stop = match obj.get("stop") {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).map(str::to_owned).collect(),
        _ => Vec::new(),
    };
    req.stream = obj.get("stream").and_then(Value::as_bool).unwrap_or(false);
    req.thinking = match obj.get("reasoning_effort").and_then(Value::as_str) {
        Some("minimal" | "low") => Some(Thinking::Enabled {
            budget_tokens: Some(2048),
        }),
        Some("medium") => Some(Thinking::Enabled {
            budget_tokens: Some(8192),
        }),
        Some("high") => Some(Thinking::Enabled {
            budget_tokens: Some(24576),
        }),
        _ => None,
    };
    Ok(req)
}

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

#[cfg(feature = "kind-anthropic")]
fn user_blocks(content: Option<&Value>) -> Result<Vec<Block>, ApiError> {
    let parts = match content {
        Some(Value::String(s)) => return Ok(vec![Block::Text(s.clone())]),
        Some(Value::Array(parts)) => parts,
        _ => return Ok(Vec::new()),
    };
    let mut out = Vec::with_capacity(parts.len());
    for p in parts {
        match p.get("type").and_then(Value::as_str) {
            Some("text") => out.push(Block::Text(
                p.get("text").and_then(Value::as_str).unwrap_or_default().to_owned(),
            )),
            Some("image_url") => {
                let url = p
                    .pointer("/image_url/url")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                out.push(Block::Image(data_url(url).unwrap_or_else(|| Source::Url(url.to_owned()))));
            }
            Some("file") => {
                let data = p
                    .pointer("/file/file_data")
                    .and_then(Value::as_str)
                    .and_then(data_url);
                let Some(source) = data else {
                    return Err(ApiError::bad_request(
                        Some("messages"),
                        "`file` parts need inline `file_data` (a data: URL) for this upstream."
                            .to_owned(),
                    ));
                };
                out.push(Block::Document {
                    source,
                    title: p
                        .pointer("/file/filename")
                        .and_then(Value::as_str)
                        .map(str::to_owned),
                });
            }
            other => {
                return Err(ApiError::bad_request(
                    Some("messages"),
                    format!(
                        "content parts of type `{}` cannot be sent to this upstream.",
                        other.unwrap_or("(missing)")
                    ),
                ))
            }
        }
    }
    Ok(out)
}

/// `data:<media type>;base64,<data>` → a base64 source.
#[cfg(feature = "kind-anthropic")]
fn data_url(url: &str) -> Option<Source> {
    let rest = url.strip_prefix("data:")?;
    let (meta, data) = rest.split_once(',')?;
    let media_type = meta.strip_suffix(";base64")?;
    Some(Source::Base64 {
        media_type: media_type.to_owned(),
        data: data.to_owned(),
    })
}
