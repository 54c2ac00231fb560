//! A `POST /v1/responses` body → what the bridge needs: the canonical request (for any
//! upstream protocol), the tool map back, the parameters the response object echoes, and the
//! input items as they are stored.
//!
//! Input items → canonical messages:
//!
//! - `instructions`, `system` and `developer` messages → system text (in order);
//! - `user` messages → user messages (`input_text`, `input_image` as URL or data URL,
//!   `input_file` with inline `file_data`); `assistant` messages → assistant text;
//! - `reasoning` → a thinking block of the assistant turn (its summary or reasoning text;
//!   encrypted-only reasoning has nothing an upstream other than OpenAI can read and is left
//!   out). Whether the upstream receives it back is the upstream encoder's call;
//! - `function_call` / `custom_tool_call` → tool calls of the assistant turn (namespaced
//!   names flattened, custom inputs wrapped as `{"input": ...}`, see [`tools`]);
//! - `function_call_output` / `custom_tool_call_output` → tool results;
//! - `item_reference` and hosted-tool items (web search calls...) have no chat form and are
//!   skipped.
//!
//! Consecutive assistant-side items form one assistant turn (chat needs a turn's tool calls
//! in one message, followed by their results).
//!
//! [`tools`]: super::tools

use super::tools::{self, ToolMap, Tools};
use crate::errors::ApiError;
use crate::wire::canonical::raw::Writer;
use crate::wire::canonical::{Block, Format, Message, Request, Role, Source, Thinking};
use crate::wire::lenient::{self, Members};
use serde::de::MapAccess;
use serde_json::value::RawValue;
use serde_json::{json, Map, Value};

/// The parsed request.
#[derive(Debug)]
pub struct Parsed {
    /// Canonical request without messages yet (those need the stored history first).
    pub req: Request,
    pub tools: ToolMap,
    /// This request's input items.
    pub input: Vec<Value>,
    /// `instructions` as sent (string, items, or absent).
    pub instructions: Option<Value>,
    pub store: bool,
    pub previous_response_id: Option<String>,
    /// Fields of the response object that repeat the request, as a JSON object (written
    /// once: the client's tools are copied in as they came, not rebuilt).
    pub echo_json: String,
}

fn field<'a>(obj: &'a Map<String, Value>, k: &str) -> Option<&'a Value> {
    obj.get(k).filter(|v| !v.is_null())
}

/// Takes a member out of the body's tree (`null` counts as absent).
fn take(obj: &mut Map<String, Value>, k: &str) -> Option<Value> {
    obj.remove(k).filter(|v| !v.is_null())
}

/// The members of a body that [`parse`] reads: `tools` as JSON text (read once more, typed,
/// and echoed as is), the others as trees; the rest (`include`, `prompt_cache_key`,
/// `client_metadata`...) is skipped in the same pass, never built.
#[derive(Default)]
struct Known<'de> {
    obj: Map<String, Value>,
    tools: Option<&'de RawValue>,
}

impl<'de> Members<'de> for Known<'de> {
    fn member<A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<(), A::Error> {
        const READ: &[&str] = &[
            "model",
            "input",
            "previous_response_id",
            "tool_choice",
            "parallel_tool_calls",
            "max_output_tokens",
            "temperature",
            "top_p",
            "stream",
            "reasoning",
            "text",
            "store",
            "instructions",
            "truncation",
            "user",
            "metadata",
        ];
        if key == "tools" {
            self.tools = Some(map.next_value()?);
            Ok(())
        } else if READ.contains(&key) {
            self.obj.insert(key.to_owned(), map.next_value()?);
            Ok(())
        } else {
            lenient::skip(map)
        }
    }
}

/// Reads a Responses body.
pub fn parse(body: &[u8]) -> Result<Parsed, ApiError> {
    let Some(Known {
        mut obj,
        tools: raw_tools,
    }) = lenient::body::<Known>(body).map_err(|e| ApiError::bad_json(&e.to_string()))?
    else {
        return Err(ApiError::bad_json("the body is not a JSON object"));
    };
    let model = model_of(&obj)?;
    let input = input_of(&mut obj)?;
    let previous_response_id = previous_of(&obj)?;
    if input.is_empty() && previous_response_id.is_none() {
        return Err(ApiError::bad_request(
            Some("input"),
            "you must provide an input parameter.".to_owned(),
        ));
    }
    let raw_tools = raw_tools.filter(|t| t.get() != "null");
    let tools_in = raw_tools.map(|t| Tools::read(t.get())).transpose()?;
    let (canonical_tools, tool_map) = tools::decode(tools_in.as_ref())?;
    let mut req = Request {
        model: model.clone(),
        tools: canonical_tools,
        ..Request::default()
    };
    req.tool_choice = tools::choice(field(&obj, "tool_choice"), &tool_map);
    sampling(&obj, &mut req)?;
    let store = field(&obj, "store")
        .and_then(Value::as_bool)
        .unwrap_or(true);
    let instructions = take(&mut obj, "instructions");
    let echo_json = echo(
        obj,
        &Echoed {
            model: &model,
            previous_response_id: previous_response_id.as_deref(),
            store,
            instructions: instructions.as_ref(),
            raw_tools,
            tools_in: tools_in.as_ref(),
        },
    );
    Ok(Parsed {
        req,
        tools: tool_map,
        input,
        instructions,
        store,
        previous_response_id,
        echo_json,
    })
}

/// `model`: a non-empty string.
fn model_of(obj: &Map<String, Value>) -> Result<String, ApiError> {
    let why = match field(obj, "model") {
        Some(Value::String(m)) if !m.is_empty() => return Ok(m.clone()),
        Some(_) => "`model` must be a non-empty string",
        None => "you must provide a model parameter",
    };
    Err(ApiError::bad_request(
        Some("model"),
        format!("{why} (GET /v1/models lists the models)."),
    ))
}

/// `input` as items (a string is one user message).
fn input_of(obj: &mut Map<String, Value>) -> Result<Vec<Value>, ApiError> {
    match take(obj, "input") {
        None => Ok(Vec::new()),
        Some(Value::String(s)) => Ok(vec![json!({
            "type": "message", "role": "user",
            "content": [{"type": "input_text", "text": s}],
        })]),
        Some(Value::Array(items)) => Ok(items),
        Some(_) => Err(ApiError::bad_request(
            Some("input"),
            "`input` must be a string or an array of input items.".to_owned(),
        )),
    }
}

fn previous_of(obj: &Map<String, Value>) -> Result<Option<String>, ApiError> {
    match field(obj, "previous_response_id") {
        None => Ok(None),
        Some(Value::String(s)) if !s.is_empty() => Ok(Some(s.clone())),
        Some(_) => Err(ApiError::bad_request(
            Some("previous_response_id"),
            "`previous_response_id` must be a response id string.".to_owned(),
        )),
    }
}

/// Parallel tool calls, token limit, temperature, top_p, stream, reasoning effort, format.
fn sampling(obj: &Map<String, Value>, req: &mut Request) -> Result<(), ApiError> {
    req.parallel_tool_calls = field(obj, "parallel_tool_calls").and_then(Value::as_bool);
    req.max_tokens = field(obj, "max_output_tokens")
        .and_then(Value::as_u64)
        .map(|n| u32::try_from(n).unwrap_or(u32::MAX));
    req.temperature = field(obj, "temperature").and_then(Value::as_f64);
    req.top_p = field(obj, "top_p").and_then(Value::as_f64);
    req.stream = field(obj, "stream")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    req.thinking = field(obj, "reasoning")
        .and_then(|r| r.get("effort"))
        .and_then(Value::as_str)
        .and_then(Thinking::from_effort);
    let format = field(obj, "text").and_then(|t| t.get("format"));
    let kind = format.and_then(|f| f.get("type")).and_then(Value::as_str);
    req.format = Format::of_openai(kind, format, "text.format.schema")?;
    Ok(())
}

/// What the response object repeats that [`echo`] cannot take from the body's map.
struct Echoed<'a> {
    model: &'a str,
    previous_response_id: Option<&'a str>,
    store: bool,
    instructions: Option<&'a Value>,
    raw_tools: Option<&'a RawValue>,
    tools_in: Option<&'a Tools>,
}

/// The request fields a response object repeats, as a JSON object with OpenAI's defaults.
/// Members in the order a serde_json map has them (sorted); values moved out of the body's
/// tree, never copied, except `instructions` (also kept for the messages).
fn echo(mut obj: Map<String, Value>, e: &Echoed<'_>) -> String {
    let reasoning = field(&obj, "reasoning");
    let reasoning_echo = json!({
        "effort": reasoning.and_then(|r| r.get("effort")).cloned().unwrap_or(Value::Null),
        "summary": reasoning.and_then(|r| r.get("summary")).cloned().unwrap_or(Value::Null),
    });
    let mut w = Writer::with_capacity(e.raw_tools.map_or(0, |t| t.get().len()) + 512);
    fn put(w: &mut Writer, k: &str, v: Option<&Value>, default: &str) {
        w.key(k);
        match v {
            Some(v) => w.value(v),
            None => w.raw(default),
        }
    }
    let mut moved =
        |w: &mut Writer, k: &str, default: &str| put(w, k, take(&mut obj, k).as_ref(), default);
    w.open();
    put(&mut w, "instructions", e.instructions, "null");
    moved(&mut w, "max_output_tokens", "null");
    moved(&mut w, "metadata", "{}");
    w.key("model");
    w.string(e.model);
    moved(&mut w, "parallel_tool_calls", "true");
    w.key("previous_response_id");
    match e.previous_response_id {
        Some(id) => w.string(id),
        None => w.raw("null"),
    }
    put(&mut w, "reasoning", Some(&reasoning_echo), "null");
    w.key("store");
    w.bool(e.store);
    moved(&mut w, "temperature", "1.0");
    moved(&mut w, "text", r#"{"format":{"type":"text"}}"#);
    moved(&mut w, "tool_choice", r#""auto""#);
    w.key("tools");
    match (e.raw_tools, e.tools_in) {
        (Some(raw), Some(t)) if !t.echo_incomplete() => w.raw(raw.get()),
        (Some(raw), _) => {
            let mut v: Value = serde_json::from_str(raw.get()).unwrap_or(Value::Null);
            complete_tools(&mut v);
            w.value(&v);
        }
        (None, _) => w.raw("[]"),
    }
    moved(&mut w, "top_p", "1.0");
    moved(&mut w, "truncation", r#""disabled""#);
    if let Some(user) = take(&mut obj, "user") {
        put(&mut w, "user", Some(&user), "null");
    }
    w.close();
    String::from_utf8(w.buf).unwrap_or_else(|_| "{}".to_owned())
}

/// Echoed tools with the members a response's tool objects always carry (`strict` and
/// `parameters` of function tools are required there, `null` when the client left them out).
fn complete_tools(tools: &mut Value) {
    for t in tools.as_array_mut().into_iter().flatten() {
        let Some(o) = t.as_object_mut() else { continue };
        match o.get("type").and_then(Value::as_str) {
            Some("function") => {
                o.entry("strict").or_insert(Value::Null);
                o.entry("parameters").or_insert(Value::Null);
            }
            Some("namespace") => {
                if let Some(inner) = o.get_mut("tools") {
                    complete_tools(inner);
                }
            }
            _ => {}
        }
    }
}

/// Appends the items (history, then this request's input) to `req` as messages and system
/// text. `instructions` come first.
pub fn to_messages(
    req: &mut Request,
    instructions: Option<&Value>,
    items: &[&Value],
) -> Result<(), ApiError> {
    match instructions {
        Some(Value::String(s)) if !s.is_empty() => req.system.push(s.clone()),
        Some(Value::Array(list)) => {
            for item in list {
                if let Some(text) = message_text(item) {
                    req.system.push(text);
                }
            }
        }
        _ => {}
    }
    for item in items {
        one_item(req, item)?;
    }
    Ok(())
}

/// The text of a message item (for instructions given as items).
fn message_text(item: &Value) -> Option<String> {
    match item.get("content")? {
        Value::String(s) => Some(s.clone()),
        Value::Array(parts) => Some(
            parts
                .iter()
                .filter_map(|p| p.get("text").and_then(Value::as_str))
                .collect::<Vec<_>>()
                .join("\n"),
        ),
        _ => None,
    }
}

fn bad_item(msg: String) -> ApiError {
    ApiError::bad_request(Some("input"), msg)
}

/// The type of an input item (messages may leave it out).
pub fn item_type(item: &Value) -> &str {
    match item.get("type").and_then(Value::as_str) {
        Some(t) => t,
        None if item.get("role").is_some() => "message",
        None => "",
    }
}

fn s(v: &Value, k: &str) -> String {
    v.get(k)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

/// Adds a block to the assistant turn in progress (or starts one).
fn assistant_block(req: &mut Request, block: Block) {
    match req.messages.last_mut() {
        Some(m) if m.role == Role::Assistant => m.content.push(block),
        _ => req.messages.push(Message {
            role: Role::Assistant,
            content: vec![block],
        }),
    }
}

/// Adds a tool result to the user turn of results in progress (or starts one).
fn tool_result(req: &mut Request, block: Block) {
    match req.messages.last_mut() {
        Some(m)
            if m.role == Role::User
                && m.content
                    .iter()
                    .all(|b| matches!(b, Block::ToolResult { .. })) =>
        {
            m.content.push(block)
        }
        _ => req.messages.push(Message {
            role: Role::User,
            content: vec![block],
        }),
    }
}

fn one_item(req: &mut Request, item: &Value) -> Result<(), ApiError> {
    match item_type(item) {
        "message" => message_item(req, item)?,
        "reasoning" => {
            let text = reasoning_text(item);
            if !text.is_empty() {
                assistant_block(
                    req,
                    Block::Thinking {
                        text,
                        signature: None,
                    },
                );
            }
        }
        kind @ ("function_call" | "custom_tool_call") => {
            let ns = item.get("namespace").and_then(Value::as_str);
            let input = if kind == "function_call" {
                s(item, "arguments")
            } else {
                tools::custom_arguments(&s(item, "input"))
            };
            assistant_block(
                req,
                Block::ToolUse {
                    id: call_id(item),
                    name: tools::flatten(ns, &s(item, "name")),
                    input,
                },
            );
        }
        "function_call_output" | "custom_tool_call_output" => {
            let content = match item.get("output") {
                Some(Value::String(t)) => vec![Block::Text(t.clone())],
                Some(v @ Value::Array(_)) => parts(Some(v))?,
                Some(other) => vec![Block::Text(other.to_string())],
                None => Vec::new(),
            };
            tool_result(
                req,
                Block::ToolResult {
                    id: call_id(item),
                    content,
                    is_error: false,
                },
            );
        }
        // No chat form: references to stored items, hosted tool calls and their outputs.
        _ => {}
    }
    Ok(())
}

/// A `message` item: system and developer text joins the system prompt.
fn message_item(req: &mut Request, item: &Value) -> Result<(), ApiError> {
    match item.get("role").and_then(Value::as_str).unwrap_or("user") {
        "system" | "developer" => {
            if let Some(t) = message_text(item).filter(|t| !t.is_empty()) {
                req.system.push(t);
            }
        }
        "assistant" => {
            if let Some(t) = message_text(item).filter(|t| !t.is_empty()) {
                assistant_block(req, Block::Text(t));
            }
        }
        "user" => {
            let content = parts(item.get("content"))?;
            if !content.is_empty() {
                req.messages.push(Message {
                    role: Role::User,
                    content,
                });
            }
        }
        other => return Err(bad_item(format!("unsupported message role `{other}`."))),
    }
    Ok(())
}

/// A `reasoning` item's text: its full `content` when present, else its `summary`.
fn reasoning_text(item: &Value) -> String {
    let mut text = String::new();
    for list in [item.get("content"), item.get("summary")]
        .into_iter()
        .flatten()
    {
        for p in list.as_array().into_iter().flatten() {
            if let Some(t) = p.get("text").and_then(Value::as_str) {
                if !text.is_empty() {
                    text.push('\n');
                }
                text.push_str(t);
            }
        }
        if !text.is_empty() {
            break;
        }
    }
    text
}

fn call_id(item: &Value) -> String {
    let id = s(item, "call_id");
    if id.is_empty() {
        s(item, "id")
    } else {
        id
    }
}

/// Message content → canonical blocks.
fn parts(content: Option<&Value>) -> Result<Vec<Block>, ApiError> {
    let list = match content {
        Some(Value::String(t)) => return Ok(vec![Block::Text(t.clone())]),
        Some(Value::Array(list)) => list,
        _ => return Ok(Vec::new()),
    };
    let mut out = Vec::with_capacity(list.len());
    for p in list {
        match p
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or("input_text")
        {
            "input_text" | "output_text" | "text" | "refusal" => {
                let t = p
                    .get("text")
                    .or_else(|| p.get("refusal"))
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                out.push(Block::Text(t.to_owned()));
            }
            "input_image" => {
                let url = p
                    .get("image_url")
                    .and_then(|u| u.as_str().or_else(|| u.get("url").and_then(Value::as_str)));
                match url {
                    Some(url) => out.push(Block::Image(Source::of_url(url))),
                    None => {
                        return Err(bad_item(
                            "`input_image` parts need an `image_url` (a URL or a data: URL); \
                             uploaded file ids cannot be sent to this upstream."
                                .to_owned(),
                        ))
                    }
                }
            }
            "input_file" => {
                let data = p.get("file_data").and_then(Value::as_str);
                match data {
                    Some(d) => out.push(Block::Document {
                        source: match Source::of_url(d) {
                            Source::Url(raw) => Source::Base64 {
                                media_type: "application/pdf".to_owned(),
                                data: raw,
                            },
                            other => other,
                        },
                        title: p.get("filename").and_then(Value::as_str).map(str::to_owned),
                    }),
                    None => {
                        return Err(bad_item(
                            "`input_file` parts need inline `file_data`; file ids and URLs \
                             cannot be sent to this upstream."
                                .to_owned(),
                        ))
                    }
                }
            }
            other => {
                return Err(bad_item(format!(
                    "content parts of type `{other}` cannot be sent to this upstream."
                )))
            }
        }
    }
    Ok(out)
}

/// The item as stored and listed by `input_items`: with `type`, an `id`, a `status`, and
/// message content as a list of parts (what the item resource schemas require).
pub fn normalize(item: Value, id: impl FnOnce(&str) -> String) -> Value {
    let ty = item_type(&item).to_owned();
    let mut obj = match item {
        Value::Object(o) => o,
        other => return other,
    };
    obj.insert("type".into(), Value::String(ty.clone()));
    if obj
        .get("id")
        .and_then(Value::as_str)
        .is_none_or(str::is_empty)
    {
        let prefix = match ty.as_str() {
            "message" => "msg",
            "function_call" => "fc",
            "function_call_output" => "fco",
            "custom_tool_call" => "ctc",
            "custom_tool_call_output" => "ctco",
            "reasoning" => "rs",
            _ => "item",
        };
        obj.insert("id".into(), Value::String(id(prefix)));
    }
    if matches!(
        ty.as_str(),
        "message"
            | "function_call"
            | "function_call_output"
            | "custom_tool_call"
            | "custom_tool_call_output"
    ) && obj.get("status").is_none_or(Value::is_null)
    {
        obj.insert("status".into(), json!("completed"));
    }
    if ty == "message" {
        if let Some(Value::String(text)) = obj.get("content") {
            let assistant = obj.get("role").and_then(Value::as_str) == Some("assistant");
            let part = if assistant {
                json!({"type": "output_text", "text": text, "annotations": []})
            } else {
                json!({"type": "input_text", "text": text})
            };
            obj.insert("content".into(), json!([part]));
        }
    }
    Value::Object(obj)
}
