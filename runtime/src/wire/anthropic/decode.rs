//! Anthropic Messages request → [`canonical::Request`].
//!
//! Accepts what real clients send (Claude Code, the SDKs): `system` as a string or text
//! blocks, `role: "system"` messages inside `messages` (hoisted into the system text, in
//! order), string or block content, images and documents, thinking blocks from earlier
//! turns, tool calls and results. Fields that only steer Anthropic's own service
//! (`metadata`, `cache_control`, `context_management`, `output_config`, `service_tier`, ...)
//! are not part of the canonical request: they are dropped here, and a native Anthropic
//! upstream gets the client's original bytes instead (see [`super::inbound`]).
//!
//! Anything the canonical model cannot carry (server-side tools, unknown block types) is a
//! 400 naming it, never a silent drop.

use crate::errors::ApiError;
use crate::wire::canonical::{
    Block, Message, RawJson, Request, Role, Source, Thinking, Tool, ToolChoice,
};
use crate::wire::lenient::{self, List, Members, Obj};
use serde::de::MapAccess;
use serde_json::{Map, Value};

/// The members of a Messages body the translation reads, in one pass over the body: small
/// ones and `messages` as trees, tools with their schemas kept as text, the rest
/// (`metadata`, `context_management`...) skipped.
#[derive(Default)]
struct Body {
    model: Option<Value>,
    system: Option<Value>,
    messages: Option<Value>,
    tools: Option<List<Obj<ToolIn>>>,
    tool_choice: Option<Value>,
    max_tokens: Option<Value>,
    temperature: Option<Value>,
    top_p: Option<Value>,
    top_k: Option<Value>,
    stream: Option<Value>,
    stop_sequences: Option<Value>,
    thinking: Option<Value>,
}

impl<'de> Members<'de> for Body {
    fn member<A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<(), A::Error> {
        let slot = match key {
            "model" => &mut self.model,
            "system" => &mut self.system,
            "messages" => &mut self.messages,
            "tools" => {
                self.tools = Some(map.next_value()?);
                return Ok(());
            }
            "tool_choice" => &mut self.tool_choice,
            "max_tokens" => &mut self.max_tokens,
            "temperature" => &mut self.temperature,
            "top_p" => &mut self.top_p,
            "top_k" => &mut self.top_k,
            "stream" => &mut self.stream,
            "stop_sequences" => &mut self.stop_sequences,
            "thinking" => &mut self.thinking,
            _ => return lenient::skip(map),
        };
        *slot = Some(map.next_value()?);
        Ok(())
    }
}

/// One entry of `tools`.
#[derive(Default)]
struct ToolIn {
    kind: Option<Value>,
    name: Option<Value>,
    description: Option<Value>,
    input_schema: Option<RawJson>,
}

impl<'de> Members<'de> for ToolIn {
    fn member<A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<(), A::Error> {
        match key {
            "type" => self.kind = Some(map.next_value()?),
            "name" => self.name = Some(map.next_value()?),
            "description" => self.description = Some(map.next_value()?),
            "input_schema" => self.input_schema = Some(map.next_value()?),
            _ => lenient::skip(map)?,
        }
        Ok(())
    }
}

/// Decodes a Messages request body.
pub fn request(body: &[u8]) -> Result<Request, ApiError> {
    let Some(mut obj) =
        lenient::body::<Body>(body).map_err(|e| ApiError::bad_json(&e.to_string()))?
    else {
        return Err(ApiError::bad_json("the body is not a JSON object"));
    };
    let model = match obj.model.take() {
        Some(Value::String(s)) if !s.is_empty() => s,
        _ => {
            return Err(bad(
                "model",
                "`model` must be a non-empty string (GET /v1/models lists the models).",
            ))
        }
    };
    let mut req = Request {
        model,
        ..Request::default()
    };
    system(obj.system.take(), &mut req)?;
    let Some(Value::Array(messages)) = obj.messages.take() else {
        return Err(bad("messages", "`messages` must be an array of messages."));
    };
    req.messages.reserve(messages.len());
    for m in messages {
        message(m, &mut req)?;
    }
    tools(obj.tools.take(), &mut req)?;
    if let Some(Value::Object(choice)) = obj.tool_choice.take() {
        tool_choice(choice, &mut req)?;
    }
    req.max_tokens = uint(obj.max_tokens.as_ref(), "max_tokens")?;
    req.temperature = obj.temperature.as_ref().and_then(Value::as_f64);
    req.top_p = obj.top_p.as_ref().and_then(Value::as_f64);
    req.top_k = uint(obj.top_k.as_ref(), "top_k")?;
    req.stream = obj
        .stream
        .as_ref()
        .and_then(Value::as_bool)
        .unwrap_or(false);
    if let Some(Value::Array(stops)) = obj.stop_sequences.take() {
        req.stop = stops
            .into_iter()
            .filter_map(|s| match s {
                Value::String(s) => Some(s),
                _ => None,
            })
            .collect();
    }
    if let Some(Value::Object(t)) = &obj.thinking {
        req.thinking = match t.get("type").and_then(Value::as_str) {
            Some("enabled") => Some(Thinking::Enabled {
                budget_tokens: uint(t.get("budget_tokens"), "thinking.budget_tokens")?,
            }),
            Some("adaptive") => Some(Thinking::Adaptive),
            Some("disabled") => Some(Thinking::Disabled),
            _ => None,
        };
    }
    Ok(req)
}

/// `system`: a string or text blocks.
fn system(value: Option<Value>, req: &mut Request) -> Result<(), ApiError> {
    match value {
        None | Some(Value::Null) => {}
        Some(Value::String(s)) => req.system.push(s),
        Some(Value::Array(blocks)) => {
            for b in blocks {
                req.system.push(text_only(b, "system")?);
            }
        }
        Some(_) => return Err(bad("system", "`system` must be a string or text blocks.")),
    }
    Ok(())
}

fn tools(value: Option<List<Obj<ToolIn>>>, req: &mut Request) -> Result<(), ApiError> {
    match value {
        None | Some(List::Null) => {}
        Some(List::Other) => return Err(bad("tools", "`tools` must be an array.")),
        Some(List::Items(tools)) => {
            req.tools.reserve(tools.len());
            for t in tools {
                let Obj::Object(t) = t else {
                    return Err(bad("tools", "each tool must be an object."));
                };
                req.tools.push(tool(t)?);
            }
        }
    }
    Ok(())
}

/// `tool_choice` (an object); `disable_parallel_tool_use` turns parallel calls off.
fn tool_choice(mut choice: Map<String, Value>, req: &mut Request) -> Result<(), ApiError> {
    if choice.get("disable_parallel_tool_use") == Some(&Value::Bool(true)) {
        req.parallel_tool_calls = Some(false);
    }
    req.tool_choice = Some(match choice.get("type").and_then(Value::as_str) {
        Some("auto") | None => ToolChoice::Auto,
        Some("any") => ToolChoice::Any,
        Some("none") => ToolChoice::None,
        Some("tool") => match choice.remove("name") {
            Some(Value::String(n)) => ToolChoice::Tool(n),
            _ => return Err(bad("tool_choice", "`tool_choice.name` must be a string.")),
        },
        Some(other) => {
            return Err(bad_owned(
                "tool_choice",
                format!("unknown `tool_choice.type` `{other}` (auto, any, tool or none)."),
            ))
        }
    });
    Ok(())
}

fn message(m: Value, req: &mut Request) -> Result<(), ApiError> {
    let Value::Object(mut m) = m else {
        return Err(bad("messages", "each message must be an object."));
    };
    let role = match m.get("role").and_then(Value::as_str) {
        Some("user") => Role::User,
        Some("assistant") => Role::Assistant,
        Some("system") => {
            // Not in the Messages API, but Claude Code sends it: fold into the system text.
            match m.remove("content") {
                Some(Value::String(s)) => req.system.push(s),
                Some(Value::Array(blocks)) => {
                    for b in blocks {
                        req.system.push(text_only(b, "messages")?);
                    }
                }
                _ => {}
            }
            return Ok(());
        }
        _ => {
            return Err(bad(
                "messages",
                "each message needs `role` \"user\" or \"assistant\".",
            ))
        }
    };
    let content = match m.remove("content") {
        Some(Value::String(s)) => vec![Block::Text(s)],
        Some(Value::Array(blocks)) => {
            let mut out = Vec::with_capacity(blocks.len());
            for b in blocks {
                out.push(block(b)?);
            }
            out
        }
        _ => {
            return Err(bad(
                "messages",
                "message `content` must be a string or an array of content blocks.",
            ))
        }
    };
    req.messages.push(Message { role, content });
    Ok(())
}

/// One content block.
fn block(b: Value) -> Result<Block, ApiError> {
    let Value::Object(mut b) = b else {
        return Err(bad("messages", "each content block must be an object."));
    };
    let kind = match b.get("type").and_then(Value::as_str) {
        Some(k) => k.to_owned(),
        None => return Err(bad("messages", "each content block needs a `type`.")),
    };
    Ok(match kind.as_str() {
        "text" => Block::Text(take_str(&mut b, "text")),
        "image" => Block::Image(source(&mut b)?),
        "document" => {
            let title = match b.remove("title") {
                Some(Value::String(t)) => Some(t),
                _ => None,
            };
            Block::Document {
                source: source(&mut b)?,
                title,
            }
        }
        "thinking" => Block::Thinking {
            text: take_str(&mut b, "thinking"),
            signature: match b.remove("signature") {
                Some(Value::String(s)) if !s.is_empty() => Some(s),
                _ => None,
            },
        },
        "redacted_thinking" => Block::RedactedThinking(take_str(&mut b, "data")),
        "tool_use" => Block::ToolUse {
            id: take_str(&mut b, "id"),
            name: take_str(&mut b, "name"),
            input: match b.remove("input") {
                Some(v @ Value::Object(_)) => v.to_string(),
                None | Some(Value::Null) => "{}".to_owned(),
                Some(_) => return Err(bad("messages", "`tool_use.input` must be an object.")),
            },
        },
        "tool_result" => Block::ToolResult {
            id: take_str(&mut b, "tool_use_id"),
            is_error: b.get("is_error").and_then(Value::as_bool).unwrap_or(false),
            content: tool_result_content(b.remove("content"))?,
        },
        other => {
            return Err(bad_owned(
                "messages",
                format!(
                    "content blocks of type `{other}` cannot be translated for this model's \
                     upstream (route the model to an `anthropic` provider to use them)."
                ),
            ))
        }
    })
}

/// A `tool_result`'s `content`: a string, or text, image and document blocks.
fn tool_result_content(content: Option<Value>) -> Result<Vec<Block>, ApiError> {
    match content {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::String(s)) => Ok(vec![Block::Text(s)]),
        Some(Value::Array(parts)) => {
            let mut out = Vec::with_capacity(parts.len());
            for p in parts {
                match block(p)? {
                    inner @ (Block::Text(_) | Block::Image(_) | Block::Document { .. }) => {
                        out.push(inner)
                    }
                    _ => {
                        return Err(bad(
                            "messages",
                            "`tool_result.content` may hold text, image and document blocks only.",
                        ))
                    }
                }
            }
            Ok(out)
        }
        Some(_) => Err(bad(
            "messages",
            "`tool_result.content` must be a string or content blocks.",
        )),
    }
}

fn source(b: &mut Map<String, Value>) -> Result<Source, ApiError> {
    let Some(Value::Object(mut s)) = b.remove("source") else {
        return Err(bad(
            "messages",
            "image and document blocks need a `source` object.",
        ));
    };
    match s.get("type").and_then(Value::as_str) {
        Some("base64") => Ok(Source::Base64 {
            media_type: take_str(&mut s, "media_type"),
            data: take_str(&mut s, "data"),
        }),
        Some("url") => Ok(Source::Url(take_str(&mut s, "url"))),
        Some("text") => Ok(Source::Text(take_str(&mut s, "data"))),
        Some("content") => {
            let mut text = String::new();
            if let Some(Value::Array(parts)) = s.remove("content") {
                for p in parts {
                    if !text.is_empty() {
                        text.push('\n');
                    }
                    text.push_str(&text_only(p, "messages")?);
                }
            } else if let Some(Value::String(t)) = s.remove("content") {
                text = t;
            }
            Ok(Source::Text(text))
        }
        other => Err(bad_owned(
            "messages",
            format!(
                "source type `{}` cannot be translated for this model's upstream \
                 (base64, url, text and content are supported).",
                other.unwrap_or("(missing)")
            ),
        )),
    }
}

fn tool(t: ToolIn) -> Result<Tool, ApiError> {
    match t.kind.as_ref().and_then(Value::as_str) {
        None | Some("custom") => {}
        Some(other) => {
            return Err(bad_owned(
                "tools",
                format!(
                    "tool type `{other}` runs on Anthropic's servers; it cannot be offered to \
                     this model's upstream (route the model to an `anthropic` provider)."
                ),
            ))
        }
    }
    let name = match t.name {
        Some(Value::String(n)) => n,
        _ => String::new(),
    };
    if name.is_empty() {
        return Err(bad("tools", "each tool needs a `name`."));
    }
    Ok(Tool {
        name,
        description: match t.description {
            Some(Value::String(d)) => Some(d),
            _ => None,
        },
        schema: t
            .input_schema
            .unwrap_or_else(|| RawJson::literal(r#"{"type":"object"}"#)),
    })
}

/// The text of a block that may only be text (system blocks).
fn text_only(b: Value, param: &'static str) -> Result<String, ApiError> {
    match b {
        Value::String(s) => Ok(s),
        Value::Object(mut o) if o.get("type").and_then(Value::as_str) == Some("text") => {
            Ok(take_str(&mut o, "text"))
        }
        _ => Err(bad(param, "system content must be text blocks.")),
    }
}

fn take_str(o: &mut Map<String, Value>, key: &str) -> String {
    match o.remove(key) {
        Some(Value::String(s)) => s,
        _ => String::new(),
    }
}

fn uint(v: Option<&Value>, param: &'static str) -> Result<Option<u32>, ApiError> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(v) => match v.as_u64() {
            Some(n) => Ok(Some(u32::try_from(n).unwrap_or(u32::MAX))),
            None => Err(bad_owned(
                param,
                format!("`{param}` must be a non-negative integer."),
            )),
        },
    }
}

fn bad(param: &'static str, message: &str) -> ApiError {
    ApiError::bad_request(Some(param), message.to_owned())
}

fn bad_owned(param: &'static str, message: String) -> ApiError {
    ApiError::bad_request(Some(param), message)
}
