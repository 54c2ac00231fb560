//! Responses tools → chat-completions functions, and tool calls back.
//!
//! | Responses tool | upstream function | comes back as |
//! |---|---|---|
//! | `function` | same name and schema | `function_call` |
//! | `custom` (Codex's `apply_patch`, free text or a grammar) | one required string `input`; the grammar goes into the description | `custom_tool_call` with that string |
//! | `namespace` of functions / custom tools | each flattened to `{namespace}__{name}` | the call with `namespace` and `name` restored |
//! | `web_search`, `tool_search`, `file_search`, ... | left out: a chat upstream cannot run them | — |
//!
//! Leaving hosted tools out keeps the turn working: the model answers without them, which is
//! what a client sending them to a model that lacks them would see from OpenAI too.

use crate::errors::ApiError;
use crate::wire::canonical::{RawJson, Tool, ToolChoice};
use crate::wire::lenient::{self, List, Members, Obj};
use serde::de::MapAccess;
use serde_json::{json, Value};

/// Joins a namespace and a tool name into one upstream function name.
pub const NAMESPACE_SEPARATOR: &str = "__";

/// What an upstream function name stands for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ToolKind {
    Function,
    /// A free-form tool: the upstream function takes `{"input": "<text>"}`.
    Custom,
}

#[derive(Debug, Clone)]
pub struct Entry {
    /// The name the upstream sees.
    pub upstream: String,
    pub namespace: Option<String>,
    pub name: String,
    pub kind: ToolKind,
}

/// The request's tools, by upstream name.
#[derive(Debug, Clone, Default)]
pub struct ToolMap {
    pub entries: Vec<Entry>,
    /// Tool types left out of the upstream request (for the log / tests).
    pub dropped: Vec<String>,
}

impl ToolMap {
    /// The tool behind an upstream function name. Unknown names (a model inventing a tool)
    /// come back as plain function calls under that name.
    pub fn lookup(&self, upstream: &str) -> Option<&Entry> {
        self.entries.iter().find(|e| e.upstream == upstream)
    }
}

/// The upstream name of `name` inside `namespace`.
pub fn flatten(namespace: Option<&str>, name: &str) -> String {
    match namespace {
        Some(ns) if !ns.is_empty() => format!("{ns}{NAMESPACE_SEPARATOR}{name}"),
        _ => name.to_owned(),
    }
}

/// The parameters schema of a custom tool's stand-in function.
fn custom_schema() -> RawJson {
    RawJson::literal(concat!(
        r#"{"type":"object","#,
        r#""properties":{"input":{"type":"string","description":"The raw input for the tool, exactly as the tool expects it."}},"#,
        r#""required":["input"],"additionalProperties":false}"#
    ))
}

/// The description of a custom tool's stand-in: the client's, plus its format when it has one
/// (a grammar the model must follow, since the upstream cannot enforce it).
fn custom_description(desc: Option<&str>, format: Option<&Value>) -> Option<String> {
    let grammar = format
        .filter(|f| f.get("type").and_then(Value::as_str) == Some("grammar"))
        .and_then(|f| {
            let syntax = f.get("syntax").and_then(Value::as_str).unwrap_or("lark");
            let def = f.get("definition").and_then(Value::as_str)?;
            Some(format!(
                "Put the tool's raw input in the `input` string. It must follow this {syntax} grammar:\n{def}"
            ))
        });
    match (desc, grammar) {
        (Some(d), Some(g)) => Some(format!("{d}\n\n{g}")),
        (Some(d), None) => Some(format!(
            "{d}\n\nPut the tool's raw input (free text) in the `input` string."
        )),
        (None, g) => g,
    }
}

/// One entry of `tools` (or of a namespace's `tools`, or a chat-style `function`), read in
/// one pass with the parameters schema kept as the client's text.
#[derive(Default)]
pub struct ToolIn {
    kind: Option<Value>,
    name: Option<Value>,
    description: Option<Value>,
    parameters: Option<RawJson>,
    format: Option<Value>,
    function: Option<Box<Obj<ToolIn>>>,
    tools: Option<List<Obj<ToolIn>>>,
    has_strict: bool,
}

impl<'de> Members<'de> for ToolIn {
    fn member<A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<(), A::Error> {
        match key {
            "type" => self.kind = Some(map.next_value()?),
            "name" => self.name = Some(map.next_value()?),
            "description" => self.description = Some(map.next_value()?),
            "parameters" => self.parameters = Some(map.next_value()?),
            "format" => self.format = Some(map.next_value()?),
            "function" => self.function = Some(map.next_value()?),
            "tools" => self.tools = Some(map.next_value()?),
            "strict" => {
                self.has_strict = true;
                lenient::skip(map)?;
            }
            _ => lenient::skip(map)?,
        }
        Ok(())
    }
}

impl ToolIn {
    fn str(v: &Option<Value>) -> Option<&str> {
        v.as_ref().and_then(Value::as_str)
    }

    /// Whether the response's echo of this tool needs members added (see
    /// `request::complete_tools`): a `function` without `strict` or `parameters`.
    fn incomplete(&self) -> bool {
        match Self::str(&self.kind) {
            Some("function") => !self.has_strict || self.parameters.is_none(),
            Some("namespace") => match &self.tools {
                Some(List::Items(inner)) => inner.iter().any(|t| match t {
                    Obj::Object(t) => t.incomplete(),
                    Obj::Null | Obj::Other => false,
                }),
                _ => false,
            },
            _ => false,
        }
    }
}

/// `tools` (JSON text) read for [`decode`] and the echo.
pub struct Tools(List<Obj<ToolIn>>);

impl Tools {
    /// Reads the `tools` member's JSON text (valid JSON: it was parsed with the body).
    pub fn read(json: &str) -> Result<Tools, ApiError> {
        serde_json::from_str(json)
            .map(Tools)
            .map_err(|e| ApiError::bad_json(&e.to_string()))
    }

    /// Whether the echo must add members to some tool (so cannot copy the client's text).
    pub fn echo_incomplete(&self) -> bool {
        match &self.0 {
            List::Items(list) => list.iter().any(|t| match t {
                Obj::Object(t) => t.incomplete(),
                Obj::Null | Obj::Other => false,
            }),
            List::Null | List::Other => false,
        }
    }
}

/// Reads `tools` into canonical tools and the map back.
pub fn decode(tools: Option<&Tools>) -> Result<(Vec<Tool>, ToolMap), ApiError> {
    let mut out = Vec::new();
    let mut map = ToolMap::default();
    let list = match tools.map(|t| &t.0) {
        None | Some(List::Null) => return Ok((out, map)),
        Some(List::Other) => {
            return Err(ApiError::bad_request(
                Some("tools"),
                "`tools` must be an array.".to_owned(),
            ))
        }
        Some(List::Items(list)) => list,
    };
    let empty = ToolIn::default();
    for t in list {
        let t = match t {
            Obj::Object(t) => t,
            Obj::Null | Obj::Other => &empty,
        };
        let ty = ToolIn::str(&t.kind).unwrap_or("function");
        match ty {
            "function" | "custom" => one(t, None, &mut out, &mut map)?,
            "namespace" => {
                let ns = ToolIn::str(&t.name).unwrap_or_default();
                if let Some(List::Items(inner)) = &t.tools {
                    for i in inner {
                        let i = match i {
                            Obj::Object(i) => i,
                            Obj::Null | Obj::Other => &empty,
                        };
                        one(i, Some(ns), &mut out, &mut map)?;
                    }
                }
            }
            other => map.dropped.push(other.to_owned()),
        }
    }
    Ok((out, map))
}

fn one(
    t: &ToolIn,
    namespace: Option<&str>,
    out: &mut Vec<Tool>,
    map: &mut ToolMap,
) -> Result<(), ApiError> {
    let ty = ToolIn::str(&t.kind).unwrap_or("function");
    // Chat-style `{"type":"function","function":{...}}` is accepted too (some clients mix).
    let empty = ToolIn::default();
    let f = match t.function.as_deref() {
        None => t,
        Some(Obj::Object(f)) => f,
        Some(Obj::Null | Obj::Other) => &empty,
    };
    let Some(name) = ToolIn::str(&f.name).filter(|n| !n.is_empty()) else {
        return Err(ApiError::bad_request(
            Some("tools"),
            format!("every `{ty}` tool needs a `name`."),
        ));
    };
    let upstream = flatten(namespace, name);
    let description = ToolIn::str(&f.description);
    let (kind, tool) = match ty {
        "custom" => (
            ToolKind::Custom,
            Tool {
                name: upstream.clone(),
                description: custom_description(description, f.format.as_ref()),
                schema: custom_schema(),
            },
        ),
        "function" => (
            ToolKind::Function,
            Tool {
                name: upstream.clone(),
                description: description.map(str::to_owned),
                schema: match &f.parameters {
                    Some(p) if p.get().starts_with('{') => p.clone(),
                    _ => RawJson::literal(r#"{"type":"object","properties":{}}"#),
                },
            },
        ),
        other => {
            map.dropped.push(other.to_owned());
            return Ok(());
        }
    };
    out.push(tool);
    map.entries.push(Entry {
        upstream,
        namespace: namespace.map(str::to_owned),
        name: name.to_owned(),
        kind,
    });
    Ok(())
}

/// `tool_choice` → canonical. Choices naming a hosted tool (which was left out) become `auto`.
pub fn choice(v: Option<&Value>, map: &ToolMap) -> Option<ToolChoice> {
    match v? {
        Value::String(s) => Some(match s.as_str() {
            "none" => ToolChoice::None,
            "required" => ToolChoice::Any,
            _ => ToolChoice::Auto,
        }),
        Value::Object(o) => {
            let ty = o.get("type").and_then(Value::as_str).unwrap_or_default();
            match ty {
                "function" | "custom" => {
                    let name = o
                        .get("name")
                        .or_else(|| o.get("function").and_then(|f| f.get("name")))
                        .and_then(Value::as_str)?;
                    let ns = o.get("namespace").and_then(Value::as_str);
                    let upstream = flatten(ns, name);
                    if map.lookup(&upstream).is_some() {
                        Some(ToolChoice::Tool(upstream))
                    } else {
                        Some(ToolChoice::Auto)
                    }
                }
                "allowed_tools" => Some(match o.get("mode").and_then(Value::as_str) {
                    Some("required") => ToolChoice::Any,
                    _ => ToolChoice::Auto,
                }),
                _ => Some(ToolChoice::Auto),
            }
        }
        _ => None,
    }
}

/// A custom tool's raw input from its stand-in's arguments (`{"input": "..."}`). Arguments
/// that are not that shape are passed on as they are (the model wrote the input directly).
pub fn custom_input(arguments: &str) -> String {
    match serde_json::from_str::<Value>(arguments) {
        Ok(Value::Object(o)) => match o.get("input") {
            Some(Value::String(s)) => s.clone(),
            Some(other) => other.to_string(),
            None if o.len() == 1 => o
                .values()
                .next()
                .and_then(Value::as_str)
                .map(str::to_owned)
                .unwrap_or_else(|| arguments.to_owned()),
            None => arguments.to_owned(),
        },
        _ => arguments.to_owned(),
    }
}

/// Decodes a custom tool's `input` while its stand-in's arguments (`{"input": "..."}`) are
/// still arriving, so the client gets `custom_tool_call_input.delta` events as the model
/// writes (an apply_patch can be long). Escapes split across fragments wait for their end;
/// work is linear in the arguments' length.
#[derive(Debug, Default)]
pub struct InputStream {
    /// Byte offset in the arguments where the decoding continues (inside the string).
    pos: Option<usize>,
    done: bool,
    /// Everything decoded so far.
    pub sent: String,
}

impl InputStream {
    /// The newly decodable part of `input`, given the arguments received so far.
    pub fn feed(&mut self, arguments: &str) -> String {
        if self.done {
            return String::new();
        }
        let pos = match self.pos {
            Some(p) => p,
            None => {
                let Some(key) = arguments.find("\"input\"") else {
                    return String::new();
                };
                let after = key + "\"input\"".len();
                let rest = arguments.get(after..).unwrap_or_default();
                let trimmed = rest.trim_start();
                let Some(colon) = trimmed.strip_prefix(':') else {
                    return String::new();
                };
                let value = colon.trim_start();
                let Some(_) = value.strip_prefix('"') else {
                    if !value.is_empty() {
                        self.done = true; // not a string: left to the final parse
                    }
                    return String::new();
                };
                let p = arguments.len() - value.len() + 1;
                self.pos = Some(p);
                p
            }
        };
        let mut out = String::new();
        let tail = arguments.get(pos..).unwrap_or_default();
        let mut chars = tail.char_indices().peekable();
        let mut consumed = 0;
        while let Some((i, c)) = chars.next() {
            match c {
                '"' => {
                    self.done = true;
                    consumed = i + 1;
                    break;
                }
                '\\' => {
                    let esc = tail.get(i + 1..).unwrap_or_default();
                    let Some(kind) = esc.chars().next() else {
                        break;
                    };
                    let (text, len) = match kind {
                        'n' => ("\n".to_owned(), 2),
                        't' => ("\t".to_owned(), 2),
                        'r' => ("\r".to_owned(), 2),
                        'b' => ("\u{8}".to_owned(), 2),
                        'f' => ("\u{c}".to_owned(), 2),
                        'u' => match unicode_escape(esc) {
                            Some(Some((ch, len))) => (ch.to_string(), len + 1),
                            Some(None) => break, // incomplete: wait for more
                            None => ("\u{fffd}".to_owned(), 2),
                        },
                        other => (other.to_string(), 1 + other.len_utf8()),
                    };
                    out.push_str(&text);
                    consumed = i + len;
                    // Skip what the escape used beyond the backslash.
                    while chars.peek().is_some_and(|(j, _)| *j < consumed) {
                        chars.next();
                    }
                    continue;
                }
                c => {
                    out.push(c);
                    consumed = i + c.len_utf8();
                }
            }
        }
        self.pos = Some(pos + consumed);
        self.sent.push_str(&out);
        out
    }
}

/// `u` + 4 hex digits (and a low surrogate's `\uXXXX` after a high one) at the start of
/// `esc` (which begins with `u`): `Some(Some((char, bytes used after the backslash)))`,
/// `Some(None)` when more input is needed, `None` when malformed.
fn unicode_escape(esc: &str) -> Option<Option<(char, usize)>> {
    let hex = |s: &str| -> Option<Option<u32>> {
        match s.get(..4) {
            Some(h) if h.len() == 4 => u32::from_str_radix(h, 16).ok().map(Some),
            _ if s.len() < 4 && s.chars().all(|c| c.is_ascii_hexdigit()) => Some(None),
            _ => None,
        }
    };
    let first = match hex(esc.get(1..).unwrap_or_default())? {
        Some(v) => v,
        None => return Some(None),
    };
    if (0xD800..0xDC00).contains(&first) {
        let rest = esc.get(5..).unwrap_or_default();
        if rest.len() < 6 {
            return if "\\u".starts_with(rest.get(..rest.len().min(2)).unwrap_or_default()) {
                Some(None)
            } else {
                Some(Some(('\u{fffd}', 5)))
            };
        }
        if let Some(low_hex) = rest.strip_prefix("\\u") {
            if let Some(Some(low)) = hex(low_hex) {
                if (0xDC00..0xE000).contains(&low) {
                    let c = 0x10000 + ((first - 0xD800) << 10) + (low - 0xDC00);
                    return Some(Some((char::from_u32(c).unwrap_or('\u{fffd}'), 11)));
                }
            }
        }
        return Some(Some(('\u{fffd}', 5)));
    }
    Some(Some((char::from_u32(first).unwrap_or('\u{fffd}'), 5)))
}

/// The stand-in's arguments for a custom tool call's input (history sent back upstream).
pub fn custom_arguments(input: &str) -> String {
    json!({ "input": input }).to_string()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    #[test]
    fn maps_every_kind() {
        let tools = json!([
            {"type": "function", "name": "exec", "parameters": {"type": "object"}},
            {"type": "custom", "name": "apply_patch", "description": "Patch files.",
             "format": {"type": "grammar", "syntax": "lark", "definition": "start: x"}},
            {"type": "namespace", "name": "agents", "tools": [{"type": "function", "name": "spawn"}]},
            {"type": "web_search"},
        ]);
        let tools = Tools::read(&tools.to_string()).unwrap();
        assert!(tools.echo_incomplete(), "exec and spawn lack `strict`");
        let (out, map) = decode(Some(&tools)).unwrap();
        let names: Vec<&str> = out.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["exec", "apply_patch", "agents__spawn"]);
        assert!(out[1].description.as_deref().unwrap().contains("start: x"));
        assert_eq!(map.lookup("apply_patch").unwrap().kind, ToolKind::Custom);
        let spawn = map.lookup("agents__spawn").unwrap();
        assert_eq!(
            (spawn.namespace.as_deref(), spawn.name.as_str()),
            (Some("agents"), "spawn")
        );
        assert_eq!(map.dropped, ["web_search"]);
    }

    #[test]
    fn input_streams_in_any_pieces() {
        let text = "*** Begin Patch\n+\"q\" \\ é 😀 \u{1}\n*** End Patch";
        let args = custom_arguments(text);
        for n in 1..args.len() {
            let mut s = InputStream::default();
            let mut acc = String::new();
            let mut got = String::new();
            let mut rest = args.as_str();
            while !rest.is_empty() {
                let mut cut = n.min(rest.len());
                while !rest.is_char_boundary(cut) {
                    cut += 1;
                }
                let (a, b) = rest.split_at(cut);
                acc.push_str(a);
                got.push_str(&s.feed(&acc));
                rest = b;
            }
            assert_eq!(got, text, "pieces of {n}");
        }
        let mut s = InputStream::default();
        assert_eq!(s.feed(r#"{"input": "a\ud83d\ude00b"}"#), "a😀b");
    }

    #[test]
    fn custom_input_round_trip() {
        let text = "*** Begin Patch\n\"q\"\n*** End Patch";
        assert_eq!(custom_input(&custom_arguments(text)), text);
        assert_eq!(custom_input("not json"), "not json");
    }
}
