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
//! [`decode`] (feature `chat-translated`, enabled by the kinds that do not speak chat) reads a
//! chat request for such an upstream.
//!
//! [`canonical::Request`]: crate::wire::canonical::Request

use crate::errors::ApiError;
use crate::wire::canonical::raw::Writer;
use crate::wire::canonical::{Block, Format, RawJson, Request, Role, Source, Thinking, ToolChoice};
use serde_json::{Map, Value};

/// The chat completions body for `req`, sent to `model`, with `max_tokens` clamped to `cap`.
///
/// Written straight into bytes ([`Writer`]): no `Value` tree, no copy of the (long) system
/// text, messages and tool descriptions, and tool schemas copied from the client's JSON text
/// (only cleaned when they hold a keyword to drop, see [`write_schema`]).
pub fn encode(req: &Request, model: &str, cap: Option<u32>) -> Result<Vec<u8>, ApiError> {
    let mut w = Writer::with_capacity(size_hint(req));
    w.open();
    w.key("model");
    w.string(model);
    w.key("messages");
    write_messages(req, &mut w)?;
    write_sampling(req, cap, &mut w);
    if !req.tools.is_empty() {
        write_tools(req, &mut w);
    }
    if let Some(format) = &req.format {
        w.key("response_format");
        response_format(format, &mut w);
    }
    if let Some(effort) = req.thinking.and_then(Thinking::effort) {
        w.key("reasoning_effort");
        w.string(effort);
    }
    if req.stream {
        w.key("stream");
        w.bool(true);
        w.key("stream_options");
        w.raw(r#"{"include_usage":true}"#);
    }
    w.close();
    Ok(w.buf)
}

/// `messages`: the system text as one `system` message, then the turns.
fn write_messages(req: &Request, w: &mut Writer) -> Result<(), ApiError> {
    w.open_list();
    if !req.system.is_empty() {
        w.item();
        w.open();
        w.key("role");
        w.string("system");
        w.key("content");
        w.joined(req.system.iter().map(String::as_str), "\n\n");
        w.close();
    }
    for m in &req.messages {
        match m.role {
            Role::User => user(&m.content, w)?,
            Role::Assistant => {
                w.item();
                write_assistant(&m.content, w);
            }
        }
    }
    w.close_list();
    Ok(())
}

/// `max_tokens` (clamped to the route's cap), `temperature`, `top_p`, `stop`.
fn write_sampling(req: &Request, cap: Option<u32>, w: &mut Writer) {
    if let Some(max) = clamp(req.max_tokens, cap) {
        w.key("max_tokens");
        w.uint(u64::from(max));
    }
    if let Some(t) = req.temperature {
        w.key("temperature");
        w.float(t);
    }
    if let Some(p) = req.top_p {
        w.key("top_p");
        w.float(p);
    }
    if !req.stop.is_empty() {
        w.key("stop");
        w.open_list();
        for s in &req.stop {
            w.item();
            w.string(s);
        }
        w.close_list();
    }
}

/// `tools` as functions, `tool_choice`, `parallel_tool_calls`.
fn write_tools(req: &Request, w: &mut Writer) {
    w.key("tools");
    w.open_list();
    for t in &req.tools {
        w.item();
        w.open();
        w.key("type");
        w.string("function");
        w.key("function");
        w.open();
        w.key("name");
        w.string(&t.name);
        if let Some(d) = &t.description {
            w.key("description");
            w.string(d);
        }
        w.key("parameters");
        write_schema(&t.schema, w);
        w.close();
        w.close();
    }
    w.close_list();
    if let Some(choice) = &req.tool_choice {
        w.key("tool_choice");
        match choice {
            ToolChoice::Auto => w.string("auto"),
            ToolChoice::Any => w.string("required"),
            ToolChoice::None => w.string("none"),
            ToolChoice::Tool(name) => {
                w.raw(r#"{"type":"function","function":{"name":"#);
                w.string(name);
                w.raw("}}");
            }
        }
    }
    if let Some(p) = req.parallel_tool_calls {
        w.key("parallel_tool_calls");
        w.bool(p);
    }
}

/// Roughly the body's size, so the buffer grows at most once or twice.
fn size_hint(req: &Request) -> usize {
    fn block(b: &Block) -> usize {
        match b {
            Block::Text(t) | Block::Thinking { text: t, .. } => t.len(),
            Block::ToolUse { input, .. } => input.len() + 128,
            Block::ToolResult { content, .. } => 64 + content.iter().map(block).sum::<usize>(),
            Block::Image(Source::Base64 { data, .. }) => data.len() + 64,
            Block::Document {
                source: Source::Base64 { data: t, .. } | Source::Text(t),
                ..
            } => t.len() + 64,
            _ => 64,
        }
    }
    let system: usize = req.system.iter().map(String::len).sum();
    let messages: usize = req
        .messages
        .iter()
        .map(|m| 32 + m.content.iter().map(block).sum::<usize>())
        .sum();
    let tools: usize = req
        .tools
        .iter()
        .map(|t| {
            64 + t.name.len() + t.description.as_ref().map_or(0, String::len) + t.schema.get().len()
        })
        .sum();
    // Escapes make text longer; an eighth more covers typical prompts and code.
    let text = system + messages + tools;
    text + text / 8 + 256
}

/// A structured output format as chat `response_format`.
fn response_format(format: &Format, w: &mut Writer) {
    match format {
        Format::JsonObject => w.raw(r#"{"type":"json_object"}"#),
        Format::JsonSchema {
            name,
            description,
            schema,
            strict,
        } => {
            w.raw(r#"{"type":"json_schema","json_schema":{"name":"#);
            w.string(name);
            if let Some(d) = description {
                w.key("description");
                w.string(d);
            }
            w.key("schema");
            w.raw(schema.get());
            if let Some(strict) = strict {
                w.key("strict");
                w.bool(*strict);
            }
            w.raw("}}");
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

/// One user content part, borrowing the canonical request.
enum Part<'a> {
    Text(&'a str),
    /// A text document: `{title}\n\n{text}`.
    Titled {
        title: &'a str,
        text: &'a str,
    },
    /// `(attachments returned by tool call {id})`.
    Attachments(&'a str),
    /// A data URL (`data:{media_type};base64,{data}`) or a plain URL.
    Image(Url<'a>),
    File {
        filename: &'a str,
        media_type: &'a str,
        data: &'a str,
    },
}

enum Url<'a> {
    Data { media_type: &'a str, data: &'a str },
    Plain(&'a str),
}

impl Part<'_> {
    fn is_text(&self) -> bool {
        matches!(
            self,
            Part::Text(_) | Part::Titled { .. } | Part::Attachments(_)
        )
    }

    /// The part's text inside a string value (text parts only).
    fn write_text(&self, w: &mut Writer) {
        match self {
            Part::Text(t) => w.string_contents(t),
            Part::Titled { title, text } => {
                w.string_contents(title);
                w.string_contents("\n\n");
                w.string_contents(text);
            }
            Part::Attachments(id) => {
                w.string_contents("(attachments returned by tool call ");
                w.string_contents(id);
                w.string_contents(")");
            }
            Part::Image(_) | Part::File { .. } => {}
        }
    }

    fn write(&self, w: &mut Writer) {
        match self {
            Part::Text(_) | Part::Titled { .. } | Part::Attachments(_) => {
                w.raw(r#"{"type":"text","text":""#);
                self.write_text(w);
                w.raw("\"}");
            }
            Part::Image(url) => {
                w.raw(r#"{"type":"image_url","image_url":{"url":""#);
                match url {
                    Url::Data { media_type, data } => write_data_url(media_type, data, w),
                    Url::Plain(u) => w.string_contents(u),
                }
                w.raw("\"}}");
            }
            Part::File {
                filename,
                media_type,
                data,
            } => {
                w.raw(r#"{"type":"file","file":{"filename":"#);
                w.string(filename);
                w.raw(r#","file_data":""#);
                write_data_url(media_type, data, w);
                w.raw("\"}}");
            }
        }
    }
}

/// `data:{media_type};base64,{data}` inside a string value.
fn write_data_url(media_type: &str, data: &str, w: &mut Writer) {
    w.string_contents("data:");
    w.string_contents(media_type);
    w.string_contents(";base64,");
    w.string_contents(data);
}

/// A user turn: each tool result as a `role: tool` message, then one user message with the
/// results' attachments and the turn's own content (a string when it is all text).
fn user(blocks: &[Block], w: &mut Writer) -> Result<(), ApiError> {
    let mut parts: Vec<Part<'_>> = Vec::new();
    let mut from_tools: Vec<Part<'_>> = Vec::new();
    for b in blocks {
        match b {
            Block::ToolResult {
                id,
                content,
                is_error,
            } => {
                let mut texts: Vec<&str> = Vec::new();
                let mut extra = Vec::new();
                for c in content {
                    match c {
                        Block::Text(t)
                        | Block::Document {
                            source: Source::Text(t),
                            ..
                        } => texts.push(t),
                        other => extra.push(part(other)?),
                    }
                }
                w.item();
                w.raw(r#"{"role":"tool","tool_call_id":"#);
                w.string(id);
                w.raw(r#","content":""#);
                write_result_text(&texts, *is_error, w);
                w.raw("\"}");
                if !extra.is_empty() {
                    from_tools.push(Part::Attachments(id));
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
    w.item();
    w.raw(r#"{"role":"user","content":"#);
    if from_tools.iter().all(Part::is_text) {
        w.raw("\"");
        for (i, p) in from_tools.iter().enumerate() {
            if i > 0 {
                w.string_contents("\n\n");
            }
            p.write_text(w);
        }
        w.raw("\"");
    } else {
        w.open_list();
        for p in &from_tools {
            w.item();
            p.write(w);
        }
        w.close_list();
    }
    w.close();
    Ok(())
}

/// A tool result's text: its pieces joined by newlines (a newline goes before a piece once
/// some earlier piece had text), `Error: ` in front of a failure that does not say so.
fn write_result_text(texts: &[&str], is_error: bool, w: &mut Writer) {
    let first = texts.iter().find(|t| !t.is_empty());
    if is_error && !first.is_some_and(|t| t.starts_with("Error")) {
        w.string_contents("Error: ");
    }
    let mut any = false;
    for t in texts {
        if any {
            w.string_contents("\n");
        }
        any |= !t.is_empty();
        w.string_contents(t);
    }
}

/// One user content part.
fn part(b: &Block) -> Result<Part<'_>, ApiError> {
    Ok(match b {
        Block::Text(t) => Part::Text(t),
        Block::Image(Source::Base64 { media_type, data }) => {
            Part::Image(Url::Data { media_type, data })
        }
        Block::Image(Source::Url(url)) => Part::Image(Url::Plain(url)),
        Block::Document {
            source: Source::Text(t),
            title,
        } => match title {
            Some(title) => Part::Titled { title, text: t },
            None => Part::Text(t),
        },
        Block::Document {
            source: Source::Base64 { media_type, data },
            title,
        } => Part::File {
            filename: title.as_deref().unwrap_or("document.pdf"),
            media_type,
            data,
        },
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
        _ => Part::Text(""),
    })
}

/// The chat `assistant` message of a turn's blocks: text as `content` (`null` when the turn
/// is only tool calls), thinking as `reasoning_content`, tool uses as `tool_calls`.
fn write_assistant(blocks: &[Block], w: &mut Writer) {
    let text = blocks.iter().filter_map(|b| match b {
        Block::Text(t) => Some(t.as_str()),
        _ => None,
    });
    let reasoning = blocks.iter().filter_map(|b| match b {
        Block::Thinking { text, .. } => Some(text.as_str()),
        _ => None,
    });
    let calls = || {
        blocks.iter().filter_map(|b| match b {
            Block::ToolUse { id, name, input } => Some((id, name, input)),
            _ => None,
        })
    };
    w.raw(r#"{"role":"assistant","content":"#);
    if text.clone().all(str::is_empty) && calls().next().is_some() {
        w.raw("null");
    } else {
        w.joined(text, "");
    }
    if !reasoning.clone().all(str::is_empty) {
        w.key("reasoning_content");
        w.joined(reasoning, "");
    }
    if calls().next().is_some() {
        w.key("tool_calls");
        w.open_list();
        for (id, name, input) in calls() {
            w.item();
            w.raw(r#"{"id":"#);
            w.string(id);
            w.raw(r#","type":"function","function":{"name":"#);
            w.string(name);
            w.raw(r#","arguments":"#);
            w.string(input);
            w.raw("}}");
        }
        w.close_list();
    }
    w.close();
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
                            m.iter()
                                .map(|(n, s)| (n.clone(), clean_schema(s)))
                                .collect(),
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

/// Writes a tool schema as [`clean_schema`] would leave it. Schemas without a `…schema"` key
/// anywhere (no `$schema` to drop) are copied as the client wrote them; the others go
/// through [`Cleaner`], which copies the JSON text minus the dropped members. Either way no
/// tree is built.
fn write_schema(schema: &RawJson, w: &mut Writer) {
    let text = schema.get();
    if !text.contains("schema\"") {
        w.raw(text);
        return;
    }
    let start = w.buf.len();
    let mut c = Cleaner {
        src: text.as_bytes(),
        pos: 0,
        out: &mut w.buf,
    };
    if c.value(Position::Schema).is_none() {
        // Not reachable for the valid JSON a RawJson holds; the tree path is the safe answer.
        w.buf.truncate(start);
        w.value(&clean_schema(&schema.to_value()));
    }
}

/// Where a value sits in a JSON Schema, which decides what [`clean_schema`] does with it.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Position {
    /// A schema: its keyword members are cleaned, `$schema` dropped.
    Schema,
    /// A map from names to schemas (`properties`, `$defs`...): names are kept as they are.
    Names,
    /// A literal (`enum`, `const`, `default`...): copied.
    Literal,
}

impl Position {
    /// The position of a member's value.
    fn of_member(self, key: &str) -> Position {
        match self {
            Position::Names => Position::Schema,
            Position::Literal => Position::Literal,
            Position::Schema => match key {
                "properties" | "$defs" | "definitions" | "patternProperties" => Position::Names,
                "enum" | "const" | "default" | "examples" | "required" => Position::Literal,
                _ => Position::Schema,
            },
        }
    }
}

/// A copier of valid JSON text that drops `$schema` members at keyword positions (see
/// [`clean_schema`]) and the whitespace between tokens. `None`: the text was not what valid
/// JSON looks like.
struct Cleaner<'a> {
    src: &'a [u8],
    pos: usize,
    out: &'a mut Vec<u8>,
}

impl Cleaner<'_> {
    fn peek(&mut self) -> Option<u8> {
        while let Some(&b) = self.src.get(self.pos) {
            if !matches!(b, b' ' | b'\n' | b'\r' | b'\t') {
                return Some(b);
            }
            self.pos += 1;
        }
        None
    }

    fn expect(&mut self, b: u8) -> Option<()> {
        (self.peek()? == b).then(|| self.pos += 1)
    }

    /// The end (exclusive) of the string starting at `self.pos`.
    fn string_end(&self) -> Option<usize> {
        let mut i = self.pos + 1;
        loop {
            let rest = self.src.get(i..)?;
            let j = rest.iter().position(|&b| b == b'"' || b == b'\\')?;
            i += j;
            if self.src.get(i) == Some(&b'"') {
                return Some(i + 1);
            }
            i += 2;
        }
    }

    /// Copies (or skips, with `keep` false) one value, whatever it holds.
    fn copy(&mut self, keep: bool) -> Option<()> {
        let mut depth = 0usize;
        loop {
            let b = self.peek()?;
            let start = self.pos;
            match b {
                b'"' => self.pos = self.string_end()?,
                b'{' | b'[' => {
                    depth += 1;
                    self.pos += 1;
                }
                b'}' | b']' => {
                    depth = depth.checked_sub(1)?;
                    self.pos += 1;
                }
                b',' | b':' => self.pos += 1,
                _ => {
                    let len = self.src.get(start..)?.iter().position(|b| {
                        matches!(b, b',' | b':' | b'}' | b']' | b' ' | b'\n' | b'\r' | b'\t')
                    });
                    self.pos = len.map_or(self.src.len(), |l| start + l);
                }
            }
            if keep {
                self.out.extend_from_slice(self.src.get(start..self.pos)?);
            }
            if depth == 0 {
                return Some(());
            }
        }
    }

    fn value(&mut self, at: Position) -> Option<()> {
        match (self.peek()?, at) {
            (b'{', Position::Schema | Position::Names) => self.object(at),
            (b'[', Position::Schema) => self.array(),
            _ => self.copy(true),
        }
    }

    fn array(&mut self) -> Option<()> {
        self.expect(b'[')?;
        self.out.push(b'[');
        if self.peek()? == b']' {
            self.pos += 1;
            self.out.push(b']');
            return Some(());
        }
        loop {
            self.value(Position::Schema)?;
            match self.peek()? {
                b',' => self.out.push(b','),
                b']' => {
                    self.pos += 1;
                    self.out.push(b']');
                    return Some(());
                }
                _ => return None,
            }
            self.pos += 1;
        }
    }

    fn object(&mut self, at: Position) -> Option<()> {
        self.expect(b'{')?;
        self.out.push(b'{');
        let mut first = true;
        loop {
            match self.peek()? {
                b'}' => {
                    self.pos += 1;
                    self.out.push(b'}');
                    return Some(());
                }
                b',' => {
                    self.pos += 1;
                    continue;
                }
                b'"' => {}
                _ => return None,
            }
            let key_start = self.pos;
            let key_end = self.string_end()?;
            let raw_key = std::str::from_utf8(self.src.get(key_start..key_end)?).ok()?;
            self.pos = key_end;
            self.expect(b':')?;
            let key: std::borrow::Cow<'_, str> = match raw_key.get(1..raw_key.len() - 1)? {
                k if !k.contains('\\') => k.into(),
                _ => serde_json::from_str::<String>(raw_key).ok()?.into(),
            };
            if at == Position::Schema && key == "$schema" {
                self.copy(false)?;
                continue;
            }
            if !first {
                self.out.push(b',');
            }
            first = false;
            self.out.extend_from_slice(raw_key.as_bytes());
            self.out.push(b':');
            self.value(at.of_member(&key))?;
        }
    }
}

#[cfg(feature = "chat-translated")]
mod decode;
#[cfg(feature = "chat-translated")]
pub use decode::decode;

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn via_writer(schema: &str) -> Value {
        let raw =
            RawJson::from(serde_json::value::RawValue::from_string(schema.to_owned()).unwrap());
        let mut w = Writer::default();
        write_schema(&raw, &mut w);
        serde_json::from_slice(&w.buf).unwrap()
    }

    #[test]
    fn raw_schema_cleaning_matches_the_tree_cleaning() {
        let schemas = [
            r#"{"$schema":"http://json-schema.org/draft-07/schema#","type":"object"}"#,
            r#"{ "type" : "object" , "$schema" : { "a" : [ 1 , "}" ] } }"#,
            r#"{"type":"object","$schema":"x"}"#,
            r#"{"properties":{"$schema":{"type":"string","$schema":"y"},"b":{"items":[{"$schema":1}]}},"$defs":{"d":{"$schema":"z","enum":[{"$schema":2}]}}}"#,
            r#"{"anyOf":[{"$schema":"a"},{"type":"null"}],"default":{"$schema":"kept"},"const":{"$schema":3}}"#,
            r#"{"\u0024schema":"escaped key","k\"ey":"v","properties":[{"$schema":4}],"required":["$schema"]}"#,
            r#"{"description":"a \"schema\" with \\ and \n","additionalProperties":{"$schema":5},"x":-1.5e3,"y":true,"z":null}"#,
            r#"{"patternProperties":{"^a":{"$schema":6}},"definitions":{},"examples":[],"items":{}}"#,
        ];
        for s in schemas {
            let want = clean_schema(&serde_json::from_str(s).unwrap());
            assert_eq!(via_writer(s), want, "{s}");
        }
    }

    #[test]
    fn schemas_without_the_keyword_are_copied_as_written() {
        let s = r#"{ "type": "object", "properties": {"a": {"type": "string"}} }"#;
        let raw = RawJson::from(serde_json::value::RawValue::from_string(s.to_owned()).unwrap());
        let mut w = Writer::default();
        write_schema(&raw, &mut w);
        assert_eq!(w.buf, s.as_bytes());
    }
}
