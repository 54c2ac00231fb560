//! A chat completions request → [`canonical::Request`](crate::wire::canonical::Request), for an
//! upstream that speaks another protocol (feature `chat-translated`, which such kinds enable).

use crate::errors::ApiError;
use crate::wire::canonical::{
    Block, Format, Message, RawJson, Request, Role, Source, Thinking, Tool, ToolChoice,
};
use crate::wire::openai::message::content_text;
use serde_json::{Map, Value};

/// Chat request → canonical (for upstreams that speak another protocol).
pub fn decode(body: &[u8]) -> Result<Request, ApiError> {
    let v: Value = serde_json::from_slice(body).map_err(|e| ApiError::bad_json(&e.to_string()))?;
    let Value::Object(obj) = v else {
        return Err(ApiError::bad_json("the body is not a JSON object"));
    };
    // Translated upstreams (Messages) answer with one choice: more would silently be lost.
    if obj.get("n").and_then(Value::as_u64).is_some_and(|n| n > 1) {
        return Err(ApiError::bad_request(
            Some("n"),
            "`n` greater than 1 cannot be served by this model's upstream, which returns one \
             choice per request (Anthropic Messages); send `n` requests instead."
                .to_owned(),
        ));
    }
    let mut req = Request {
        model: str_of(obj.get("model")),
        ..Request::default()
    };
    let messages = obj
        .get("messages")
        .and_then(Value::as_array)
        .ok_or_else(|| bad_message("`messages` must be an array."))?;
    for m in messages {
        message(m, &mut req)?;
    }
    req.tools = tools(&obj)?;
    req.tool_choice = tool_choice(obj.get("tool_choice"));
    req.parallel_tool_calls = obj.get("parallel_tool_calls").and_then(Value::as_bool);
    sampling(&obj, &mut req);
    let format = obj.get("response_format");
    let kind = format.and_then(|f| f.get("type")).and_then(Value::as_str);
    let spec = format.and_then(|f| f.get("json_schema"));
    req.format = Format::of_openai(kind, spec, "response_format.json_schema.schema")?;
    Ok(req)
}

fn bad_message(m: &str) -> ApiError {
    ApiError::bad_request(Some("messages"), m.to_owned())
}

fn str_of(v: Option<&Value>) -> String {
    v.and_then(Value::as_str).unwrap_or_default().to_owned()
}

/// One chat message into `req`: system text, or a canonical message (tool results of one turn
/// join one user message).
fn message(m: &Value, req: &mut Request) -> Result<(), ApiError> {
    let role = m.get("role").and_then(Value::as_str).unwrap_or_default();
    let content = m.get("content");
    match role {
        "system" | "developer" => req.system.push(content_text(content, "\n")),
        "user" => req.messages.push(Message {
            role: Role::User,
            content: user_blocks(content)?,
        }),
        "assistant" => req.messages.push(Message {
            role: Role::Assistant,
            content: assistant_blocks(m),
        }),
        "tool" => {
            let result = Block::ToolResult {
                id: str_of(m.get("tool_call_id")),
                content: vec![Block::Text(content_text(content, "\n"))],
                is_error: false,
            };
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
        other => return Err(bad_message(&format!("unsupported message role `{other}`."))),
    }
    Ok(())
}

/// An assistant message: its reasoning, its text, its tool calls, in that order.
fn assistant_blocks(m: &Value) -> Vec<Block> {
    let mut blocks = Vec::new();
    if let Some(r) = crate::wire::openai::message::reasoning_of(m) {
        blocks.push(Block::Thinking {
            text: r.to_owned(),
            signature: None,
        });
    }
    let text = content_text(m.get("content"), "\n");
    if !text.is_empty() {
        blocks.push(Block::Text(text));
    }
    let calls = m.get("tool_calls").and_then(Value::as_array);
    for c in calls.into_iter().flatten() {
        let f = c.get("function");
        blocks.push(Block::ToolUse {
            id: str_of(c.get("id")),
            name: str_of(f.and_then(|f| f.get("name"))),
            input: str_of(f.and_then(|f| f.get("arguments"))),
        });
    }
    blocks
}

/// `tools`: function tools only (another upstream protocol has nothing to map the rest to).
fn tools(obj: &Map<String, Value>) -> Result<Vec<Tool>, ApiError> {
    let list = obj.get("tools").and_then(Value::as_array);
    list.into_iter()
        .flatten()
        .map(|t| {
            let Some(f) = t.get("function") else {
                return Err(ApiError::bad_request(
                    Some("tools"),
                    "only `function` tools can be sent to this upstream.".to_owned(),
                ));
            };
            Ok(Tool {
                name: str_of(f.get("name")),
                description: f
                    .get("description")
                    .and_then(Value::as_str)
                    .map(str::to_owned),
                schema: match f.get("parameters") {
                    Some(p) => RawJson::from_value(p),
                    None => RawJson::literal(r#"{"type":"object","properties":{}}"#),
                },
            })
        })
        .collect()
}

fn tool_choice(v: Option<&Value>) -> Option<ToolChoice> {
    match v {
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
    }
}

/// Token limit, temperature, top_p, stop sequences, stream, reasoning effort.
fn sampling(obj: &Map<String, Value>, req: &mut Request) {
    req.max_tokens = obj
        .get("max_completion_tokens")
        .or_else(|| obj.get("max_tokens"))
        .and_then(Value::as_u64)
        .map(|n| u32::try_from(n).unwrap_or(u32::MAX));
    req.temperature = obj.get("temperature").and_then(Value::as_f64);
    req.top_p = obj.get("top_p").and_then(Value::as_f64);
    req.stop = match obj.get("stop") {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        _ => Vec::new(),
    };
    req.stream = obj.get("stream").and_then(Value::as_bool).unwrap_or(false);
    req.thinking = obj
        .get("reasoning_effort")
        .and_then(Value::as_str)
        .and_then(Thinking::from_effort);
}

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
                p.get("text")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned(),
            )),
            Some("image_url") => {
                let url = p
                    .pointer("/image_url/url")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                out.push(Block::Image(Source::of_url(url)));
            }
            Some("file") => {
                let data = p
                    .pointer("/file/file_data")
                    .and_then(Value::as_str)
                    .and_then(Source::of_data_url);
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
