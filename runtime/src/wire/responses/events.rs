//! Canonical events → Responses stream events, and the response object they build.
//!
//! One [`Encoder`] per response. Every canonical block becomes one output item:
//!
//! | block | item | events |
//! |---|---|---|
//! | text | `message` (one `output_text` part) | `output_item.added`, `content_part.added`, `output_text.delta`*, `output_text.done`, `content_part.done`, `output_item.done` |
//! | thinking | `reasoning` (one summary part) | `output_item.added`, `reasoning_summary_part.added`, `reasoning_summary_text.delta`*, `reasoning_summary_text.done`, `reasoning_summary_part.done`, `output_item.done` |
//! | tool call (function) | `function_call` | `output_item.added`, `function_call_arguments.delta`* (as fragments arrive), `function_call_arguments.done`, `output_item.done` |
//! | tool call (custom tool) | `custom_tool_call` | `output_item.added`, `custom_tool_call_input.delta`, `custom_tool_call_input.done`, `output_item.done` |
//!
//! framed by `response.created` + `response.in_progress` and ended by `response.completed`
//! (`response.incomplete` when the upstream hit `max_output_tokens` or its content filter;
//! `response.failed` when it failed mid-stream), each carrying the whole response object.
//! `sequence_number` counts every event from 0.
//!
//! A custom tool's input streams too: the upstream sends it JSON-encoded inside
//! `{"input": ...}`, decoded piece by piece as it arrives ([`tools::InputStream`]).
//!
//! Deltas are written straight into the output buffer; only item and response objects go
//! through a JSON tree. The same encoder builds non-streamed responses (events replayed from
//! the whole upstream answer, bytes discarded), so both paths produce identical objects.

use super::tools::{self, ToolKind, ToolMap};
use crate::wire::canonical::stream::Encode;
use crate::wire::canonical::{BlockStart, Delta, Event, Stop, Usage};
use crate::wire::sse;
use serde_json::{json, Map, Value};
use std::cell::RefCell;
use std::rc::Rc;

/// What the response object repeats from the request, and its identity.
#[derive(Debug)]
pub struct Head {
    pub id: String,
    pub created_at: u64,
    /// The request fields the object echoes (model, tools, instructions...), serialized once
    /// as an object: `{...}`.
    pub echo_json: String,
}

/// A finished response: the object as sent last, and its output items (for storage).
#[derive(Debug, Clone)]
pub struct Finished {
    pub status: &'static str,
    /// The object's JSON text (bytes: it goes out as a body as it is).
    pub response: Vec<u8>,
    pub output: Vec<Value>,
}

/// Where the encoder leaves the finished response.
pub type Slot = Rc<RefCell<Option<Finished>>>;

#[derive(Debug)]
enum Open {
    Message {
        id: String,
        text: String,
    },
    Reasoning {
        id: String,
        text: String,
    },
    Function {
        id: String,
        call_id: String,
        name: String,
        namespace: Option<String>,
        arguments: String,
    },
    Custom {
        id: String,
        call_id: String,
        name: String,
        namespace: Option<String>,
        arguments: String,
        input: tools::InputStream,
    },
    /// A block with no Responses form (Anthropic's redacted thinking).
    Skipped,
}

/// Canonical events → Responses SSE.
#[derive(Debug)]
pub struct Encoder {
    head: Rc<Head>,
    tools: Rc<ToolMap>,
    seq: u64,
    output: Vec<Value>,
    open: Option<Open>,
    started: bool,
    done: bool,
    /// Write SSE bytes (off when building a non-streamed response).
    write: bool,
    slot: Slot,
}

impl Encoder {
    pub fn new(head: Rc<Head>, tools: Rc<ToolMap>, write: bool, slot: Slot) -> Self {
        Encoder {
            head,
            tools,
            seq: 0,
            output: Vec::new(),
            open: None,
            started: false,
            done: false,
            write,
            slot,
        }
    }

    fn item_id(&self, prefix: &str) -> String {
        // Unique within the response, and across responses through the response id.
        let base = self.head.id.strip_prefix("resp_").unwrap_or(&self.head.id);
        format!("{prefix}_{base}{:03}", self.output.len())
    }

    fn output_index(&self) -> usize {
        self.output.len()
    }

    /// The next event's sequence number, or `None` when no bytes are written (the number is
    /// used up either way, so both paths number alike).
    fn next_seq(&mut self) -> Option<u64> {
        let seq = self.seq;
        self.seq += 1;
        self.write.then_some(seq)
    }

    /// One event whose member `key` holds `v`, after the members `extra` (JSON text, may be
    /// empty).
    fn emit_value(&mut self, ty: &str, key: &str, v: &Value, extra: &str, out: &mut Vec<u8>) {
        let Some(seq) = self.next_seq() else { return };
        write_event(out, ty, seq, |d| {
            if !extra.is_empty() {
                d.extend_from_slice(extra.as_bytes());
                d.push(b',');
            }
            push_str(d, key);
            d.push(b':');
            let _ = serde_json::to_writer(&mut *d, v);
        });
    }

    /// The whole response object in a state, appended to `s`. The request's echo (tools and
    /// instructions: tens of KB for Codex) was serialized once per request; it is copied in.
    fn snapshot(
        &self,
        status: &str,
        usage: Option<&Usage>,
        error: Option<&Value>,
        incomplete: Option<&str>,
        s: &mut Vec<u8>,
    ) {
        s.reserve(self.head.echo_json.len() + 256);
        s.extend_from_slice(b"{\"id\":");
        push_str(s, &self.head.id);
        s.extend_from_slice(b",\"object\":\"response\",\"created_at\":");
        push_num(s, self.head.created_at);
        s.extend_from_slice(b",\"status\":\"");
        s.extend_from_slice(status.as_bytes());
        s.extend_from_slice(b"\",\"background\":false,\"error\":");
        match error {
            Some(e) => {
                let _ = serde_json::to_writer(&mut *s, e);
            }
            None => s.extend_from_slice(b"null"),
        }
        s.extend_from_slice(b",\"incomplete_details\":");
        match incomplete {
            Some(reason) => {
                s.extend_from_slice(b"{\"reason\":");
                push_str(s, reason);
                s.push(b'}');
            }
            None => s.extend_from_slice(b"null"),
        }
        s.extend_from_slice(b",\"output\":");
        if serde_json::to_writer(&mut *s, &self.output).is_err() {
            s.extend_from_slice(b"[]");
        }
        // Usage exists once the turn is over; before that the member is left out.
        if let Some(u) = usage {
            s.extend_from_slice(b",\"usage\":");
            let _ = serde_json::to_writer(&mut *s, &usage_json(u));
        }
        let tail = self.head.echo_json.strip_prefix('{').unwrap_or("}");
        if tail != "}" {
            s.push(b',');
        }
        s.extend_from_slice(tail.as_bytes());
    }

    /// A lifecycle event carrying the response object as `response` (JSON text).
    fn lifecycle(&mut self, ty: &str, response: &[u8], out: &mut Vec<u8>) {
        let Some(seq) = self.next_seq() else { return };
        write_event(out, ty, seq, |d| {
            d.extend_from_slice(b"\"response\":");
            d.extend_from_slice(response);
        });
    }

    /// `response.created` and `response.in_progress`, the object written straight into `out`.
    fn start(&mut self, out: &mut Vec<u8>) {
        if self.started {
            return;
        }
        self.started = true;
        if self.write {
            // Both events carry the echo: one allocation for them, not a doubling or two
            // (the echo is tens of KB; the doubled buffer can cost more than the copy).
            out.reserve_exact(2 * (self.head.echo_json.len() + 512));
        }
        for ty in ["response.created", "response.in_progress"] {
            let Some(seq) = self.next_seq() else { continue };
            write_event(out, ty, seq, |d| {
                d.extend_from_slice(b"\"response\":");
                self.snapshot("in_progress", None, None, None, d);
            });
        }
    }

    fn open_block(&mut self, block: &BlockStart, out: &mut Vec<u8>) {
        self.close(out);
        let index = self.output_index();
        let (open, item) = match block {
            BlockStart::Text => {
                let id = self.item_id("msg");
                let item = json!({"id": id, "type": "message", "status": "in_progress",
                    "role": "assistant", "content": []});
                (
                    Open::Message {
                        id,
                        text: String::new(),
                    },
                    item,
                )
            }
            BlockStart::Thinking => {
                let id = self.item_id("rs");
                let item = json!({"id": id, "type": "reasoning", "summary": []});
                (
                    Open::Reasoning {
                        id,
                        text: String::new(),
                    },
                    item,
                )
            }
            BlockStart::RedactedThinking(_) => {
                self.open = Some(Open::Skipped);
                return;
            }
            BlockStart::ToolUse { id: call_id, name } => self.open_call(call_id, name),
        };
        let at = format!("\"output_index\":{index}");
        self.emit_value("response.output_item.added", "item", &item, &at, out);
        self.first_part(&open, index, out);
        self.open = Some(open);
    }

    /// A tool call's item: a `custom_tool_call` for the client's custom tools, else a
    /// `function_call`, under the client's own name and namespace.
    fn open_call(&mut self, call_id: &str, name: &str) -> (Open, Value) {
        let entry = self.tools.lookup(name);
        let (namespace, plain) = match entry {
            Some(e) => (e.namespace.clone(), e.name.clone()),
            None => (None, name.to_owned()),
        };
        let call_id = if call_id.is_empty() {
            self.item_id("call")
        } else {
            call_id.to_owned()
        };
        if entry.is_some_and(|e| e.kind == ToolKind::Custom) {
            let id = self.item_id("ctc");
            let mut item = json!({"id": id, "type": "custom_tool_call",
                "status": "in_progress", "call_id": call_id, "name": plain, "input": ""});
            add_namespace(&mut item, namespace.as_deref());
            let open = Open::Custom {
                id,
                call_id,
                name: plain,
                namespace,
                arguments: String::new(),
                input: tools::InputStream::default(),
            };
            (open, item)
        } else {
            let id = self.item_id("fc");
            let mut item = json!({"id": id, "type": "function_call",
                "status": "in_progress", "call_id": call_id, "name": plain, "arguments": ""});
            add_namespace(&mut item, namespace.as_deref());
            let open = Open::Function {
                id,
                call_id,
                name: plain,
                namespace,
                arguments: String::new(),
            };
            (open, item)
        }
    }

    /// The empty first part a message or reasoning item announces right after it is added.
    fn first_part(&mut self, open: &Open, index: usize, out: &mut Vec<u8>) {
        match open {
            Open::Message { id, .. } => {
                let at = format!(
                    "\"item_id\":{},\"output_index\":{index},\"content_index\":0",
                    crate::wire::openai::quote(id)
                );
                let part =
                    json!({"type": "output_text", "text": "", "annotations": [], "logprobs": []});
                self.emit_value("response.content_part.added", "part", &part, &at, out);
            }
            Open::Reasoning { id, .. } => {
                let at = format!(
                    "\"item_id\":{},\"output_index\":{index},\"summary_index\":0",
                    crate::wire::openai::quote(id)
                );
                let part = json!({"type": "summary_text", "text": ""});
                self.emit_value(
                    "response.reasoning_summary_part.added",
                    "part",
                    &part,
                    &at,
                    out,
                );
            }
            _ => {}
        }
    }

    fn delta(&mut self, delta: &Delta, out: &mut Vec<u8>) {
        let index = self.output_index();
        let (ty, extra, decoded) = match (self.open.as_mut(), delta) {
            (Some(Open::Message { text, .. }), Delta::Text(t)) => {
                text.push_str(t);
                (
                    "response.output_text.delta",
                    ",\"content_index\":0,\"logprobs\":[]",
                    None,
                )
            }
            (Some(Open::Reasoning { text, .. }), Delta::Thinking(t)) => {
                text.push_str(t);
                (
                    "response.reasoning_summary_text.delta",
                    ",\"summary_index\":0",
                    None,
                )
            }
            (Some(Open::Function { arguments, .. }), Delta::ToolInput(t)) => {
                arguments.push_str(t);
                ("response.function_call_arguments.delta", "", None)
            }
            (
                Some(Open::Custom {
                    arguments, input, ..
                }),
                Delta::ToolInput(t),
            ) => {
                arguments.push_str(t);
                let decoded = input.feed(arguments);
                ("response.custom_tool_call_input.delta", "", Some(decoded))
            }
            _ => return,
        };
        let piece = match (&decoded, delta) {
            (Some(d), _) => d.as_str(),
            (
                None,
                Delta::Text(t) | Delta::Thinking(t) | Delta::ToolInput(t) | Delta::Signature(t),
            ) => t,
        };
        if piece.is_empty() {
            return;
        }
        let Some(seq) = self.next_seq() else { return };
        let id = match &self.open {
            Some(
                Open::Message { id, .. }
                | Open::Reasoning { id, .. }
                | Open::Function { id, .. }
                | Open::Custom { id, .. },
            ) => id.as_str(),
            _ => "",
        };
        write_event(out, ty, seq, |d| {
            d.extend_from_slice(b"\"item_id\":");
            push_str(d, id);
            d.extend_from_slice(b",\"output_index\":");
            push_num(d, index as u64);
            d.extend_from_slice(extra.as_bytes());
            d.extend_from_slice(b",\"delta\":");
            push_str(d, piece);
        });
    }

    /// Finishes the open item (its `.done` events and `output_item.done`).
    fn close(&mut self, out: &mut Vec<u8>) {
        let Some(open) = self.open.take() else { return };
        let index = self.output_index();
        let item = match open {
            Open::Skipped => return,
            Open::Message { id, text } => self.close_message(&id, text, index, out),
            Open::Reasoning { id, text } => self.close_reasoning(&id, text, index, out),
            Open::Function {
                id,
                call_id,
                name,
                namespace,
                arguments,
            } => {
                let at = format!(
                    "\"item_id\":{},\"output_index\":{index},\"name\":{}",
                    crate::wire::openai::quote(&id),
                    crate::wire::openai::quote(&name)
                );
                let done = Value::String(arguments.clone());
                self.emit_value(
                    "response.function_call_arguments.done",
                    "arguments",
                    &done,
                    &at,
                    out,
                );
                let mut item = json!({"id": id, "type": "function_call", "status": "completed",
                    "call_id": call_id, "name": name, "arguments": arguments});
                add_namespace(&mut item, namespace.as_deref());
                item
            }
            Open::Custom {
                id,
                call_id,
                name,
                namespace,
                arguments,
                input: streamed,
            } => {
                let input = self.close_custom_input(&id, &arguments, &streamed, index, out);
                let mut item = json!({"id": id, "type": "custom_tool_call", "status": "completed",
                    "call_id": call_id, "name": name, "input": input});
                add_namespace(&mut item, namespace.as_deref());
                item
            }
        };
        let at = format!("\"output_index\":{index}");
        self.emit_value("response.output_item.done", "item", &item, &at, out);
        self.output.push(item);
    }

    /// The text's `done` events; the completed message item.
    fn close_message(&mut self, id: &str, text: String, index: usize, out: &mut Vec<u8>) -> Value {
        let at = format!(
            "\"item_id\":{},\"output_index\":{index},\"content_index\":0",
            crate::wire::openai::quote(id)
        );
        let done = Value::String(text.clone());
        let with_logprobs = format!("{at},\"logprobs\":[]");
        self.emit_value(
            "response.output_text.done",
            "text",
            &done,
            &with_logprobs,
            out,
        );
        let part = json!({"type": "output_text", "text": text, "annotations": [], "logprobs": []});
        self.emit_value("response.content_part.done", "part", &part, &at, out);
        json!({"id": id, "type": "message", "status": "completed", "role": "assistant",
            "content": [part]})
    }

    /// The summary's `done` events; the completed reasoning item.
    fn close_reasoning(
        &mut self,
        id: &str,
        text: String,
        index: usize,
        out: &mut Vec<u8>,
    ) -> Value {
        let at = format!(
            "\"item_id\":{},\"output_index\":{index},\"summary_index\":0",
            crate::wire::openai::quote(id)
        );
        let done = Value::String(text.clone());
        self.emit_value(
            "response.reasoning_summary_text.done",
            "text",
            &done,
            &at,
            out,
        );
        let part = json!({"type": "summary_text", "text": text});
        self.emit_value(
            "response.reasoning_summary_part.done",
            "part",
            &part,
            &at,
            out,
        );
        json!({"id": id, "type": "reasoning", "summary": [part]})
    }

    /// A custom tool call's input `done` event (and the whole input as one delta when the
    /// arguments were not `{"input": "..."}` and so streamed nothing); the input.
    fn close_custom_input(
        &mut self,
        id: &str,
        arguments: &str,
        streamed: &tools::InputStream,
        index: usize,
        out: &mut Vec<u8>,
    ) -> String {
        let input = tools::custom_input(arguments);
        let at = format!(
            "\"item_id\":{},\"output_index\":{index}",
            crate::wire::openai::quote(id)
        );
        let whole = Value::String(input.clone());
        if streamed.sent.is_empty() && !input.is_empty() {
            self.emit_value(
                "response.custom_tool_call_input.delta",
                "delta",
                &whole,
                &at,
                out,
            );
        }
        self.emit_value(
            "response.custom_tool_call_input.done",
            "input",
            &whole,
            &at,
            out,
        );
        input
    }

    /// The final lifecycle event; the object it carries is also left in the slot (the
    /// non-streamed body, the stored copy).
    fn finish(
        &mut self,
        status: &'static str,
        usage: Option<&Usage>,
        error: Option<&Value>,
        incomplete: Option<&str>,
        out: &mut Vec<u8>,
    ) {
        let ty = match status {
            "completed" => "response.completed",
            "incomplete" => "response.incomplete",
            _ => "response.failed",
        };
        let mut snap = Vec::new();
        self.snapshot(status, usage, error, incomplete, &mut snap);
        if self.write {
            out.reserve_exact(snap.len() + 96);
        }
        self.lifecycle(ty, &snap, out);
        self.done = true;
        *self.slot.borrow_mut() = Some(Finished {
            status,
            response: snap,
            output: std::mem::take(&mut self.output),
        });
    }
}

impl Encode for Encoder {
    fn event(&mut self, ev: &Event, out: &mut Vec<u8>) {
        if self.done {
            return;
        }
        match ev {
            Event::Start { .. } => self.start(out),
            Event::BlockStart { block, .. } => {
                self.start(out);
                self.open_block(block, out);
            }
            Event::Delta { delta, .. } => self.delta(delta, out),
            Event::BlockStop { .. } => self.close(out),
            Event::Finish { stop, usage } => {
                self.start(out);
                self.close(out);
                let (status, reason) = match stop {
                    Stop::MaxTokens => ("incomplete", Some("max_output_tokens")),
                    Stop::Refusal => ("incomplete", Some("content_filter")),
                    _ => ("completed", None),
                };
                self.finish(status, Some(usage), None, reason, out);
            }
            Event::Error { message } => {
                self.start(out);
                self.close(out);
                let error = json!({"code": "server_error", "message": message});
                self.finish("failed", None, Some(&error), None, out);
            }
            Event::Ping => {
                if self.write {
                    out.extend_from_slice(b": keepalive\n\n");
                }
            }
        }
    }
}

fn add_namespace(item: &mut Value, namespace: Option<&str>) {
    if let (Some(ns), Value::Object(o)) = (namespace, item) {
        o.insert("namespace".into(), Value::String(ns.to_owned()));
    }
}

/// Canonical usage → Responses usage (`input_tokens` includes cached tokens).
pub fn usage_json(u: &Usage) -> Value {
    let cached = u.cache_read.unwrap_or(0);
    let written = u.cache_write.unwrap_or(0);
    let input = u.input + cached + written;
    json!({
        "input_tokens": input,
        "input_tokens_details": {"cached_tokens": cached, "cache_write_tokens": written},
        "output_tokens": u.output,
        "output_tokens_details": {"reasoning_tokens": u.reasoning.unwrap_or(0)},
        "total_tokens": input + u.output,
    })
}

fn push_str(out: &mut Vec<u8>, s: &str) {
    let _ = serde_json::to_writer(&mut *out, s);
}

fn push_num(out: &mut Vec<u8>, n: u64) {
    use std::io::Write;
    let _ = write!(out, "{n}");
}

/// One event, `{"type":TYPE, <fields>, "sequence_number":N}`, appended to `out` in SSE form
/// (no buffer of its own: the bytes go where they are sent from). `fields` writes the JSON
/// text of the members between, no braces, one line.
fn write_event(out: &mut Vec<u8>, ty: &str, seq: u64, fields: impl FnOnce(&mut Vec<u8>)) {
    out.extend_from_slice(b"event: ");
    out.extend_from_slice(ty.as_bytes());
    out.extend_from_slice(b"\ndata: {\"type\":\"");
    out.extend_from_slice(ty.as_bytes());
    out.extend_from_slice(b"\",");
    fields(out);
    out.extend_from_slice(b",\"sequence_number\":");
    push_num(out, seq);
    out.extend_from_slice(b"}\n\n");
}

/// The echo fields serialized once.
pub fn echo_json(echo: &Map<String, Value>) -> String {
    serde_json::to_string(echo).unwrap_or_else(|_| "{}".to_owned())
}

/// The final event of a Responses stream whose upstream failed outside the encoder's view
/// (a native passthrough cut mid-way): an `error` event.
pub fn error_event(message: &str) -> bytes::Bytes {
    let data = json!({
        "type": "error",
        "code": "upstream_stream_error",
        "message": message,
        "param": null,
        "sequence_number": 0,
    });
    let mut out = Vec::new();
    sse::write(&mut out, "error", data.to_string().as_bytes());
    bytes::Bytes::from(out)
}
