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
//! Encoding (with `kind-anthropic`, for chat clients of Anthropic upstreams): [`encode`] and
//! [`StreamEncoder`].

use crate::canonical::stream::Decode;
use crate::canonical::{Block, BlockStart, Delta, Event, Response, Stop, Usage};
use crate::sse;
use serde_json::Value;
use std::borrow::Cow;

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
            choice.get("stop_reason").and_then(Value::as_str),
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

    /// One parsed chunk. `data` is its text, read again as a tree only for an error's message.
    fn chunk(&mut self, c: view::Chunk<'_>, data: &str, out: &mut Vec<Event>) {
        if c.error.is_given_non_null() {
            let message = serde_json::from_str::<Value>(data)
                .ok()
                .and_then(|v| crate::anthropic::errors::message_of(&v))
                .unwrap_or_else(|| "the upstream reported an error mid-stream".to_owned());
            self.done = true;
            out.push(Event::Error { message });
            return;
        }
        if let Some(u) = &c.usage.0 {
            self.usage = u.canonical();
        }
        let Some(choice) = c.choices.0 else {
            return;
        };
        let choice = choice.0.unwrap_or_default();
        if let Some(delta) = choice.delta.0 {
            let (reasoning, content, calls) = delta.into_parts();
            if let Some(r) = reasoning {
                self.text(r, true, out);
            }
            if let Some(t) = content {
                self.text(t, false, out);
            }
            for call in calls {
                self.tool_fragment(call.0.unwrap_or_default(), out);
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
        let (name, args) = match call.function.0 {
            Some(f) => (f.name, f.arguments.into_str().unwrap_or_default()),
            None => (view::Json::Absent, Cow::Borrowed("")),
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
        match serde_json::from_str::<view::Obj<view::Chunk<'_>>>(data) {
            Ok(c) => self.chunk(c.0.unwrap_or_default(), data, out),
            // Not JSON (ignored), or a chunk repeating a key the view reads: as a tree, the
            // last of the repeated keys wins, as it always did; read the view from the
            // tree's text (one reader of the view in the binary, not two).
            Err(_) => {
                let Ok(v) = serde_json::from_str::<Value>(data) else {
                    return;
                };
                let text = v.to_string();
                if let Ok(c) = serde_json::from_str::<view::Obj<view::Chunk<'_>>>(&text) {
                    self.chunk(c.0.unwrap_or_default(), data, out);
                }
            }
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

/// The few fields of a `chat.completion.chunk` the stream decoder reads, borrowed from the
/// event's text: no `Value` tree, no allocation for the fields skipped or for unescaped
/// strings (every chunk is read; a tree per chunk was most of a translated stream's cost).
///
/// Every field is lenient the way `Value::get(..).and_then(Value::as_str)` was: a member of an
/// unexpected type reads as absent instead of failing the chunk ([`Json`] keeps just enough to
/// tell absent, null, string, unsigned integer and anything else apart; [`Obj`], [`First`],
/// [`List`] read anything that is not an object / array as absent / empty).
mod view {
    use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
    use serde::Deserialize;
    use std::borrow::Cow;
    use std::fmt;
    use std::marker::PhantomData;

    /// `{...}` with the fields below; `null` for anything that is not an object.
    #[derive(Debug, Default, Deserialize)]
    #[serde(default)]
    pub struct Chunk<'a> {
        #[serde(borrow)]
        pub error: Json<'a>,
        /// Boxed: present once per stream, and the view is moved whole a few times per chunk.
        #[serde(borrow)]
        pub usage: Obj<Box<Usage<'a>>>,
        #[serde(borrow)]
        pub choices: First<Obj<Choice<'a>>>,
    }

    #[derive(Debug, Default, Deserialize)]
    #[serde(default)]
    pub struct Choice<'a> {
        #[serde(borrow)]
        pub delta: Obj<Delta<'a>>,
        #[serde(borrow)]
        pub finish_reason: Json<'a>,
        /// vLLM's matched stop sequence.
        #[serde(borrow)]
        pub stop_reason: Json<'a>,
    }

    #[derive(Debug, Default, Deserialize)]
    #[serde(default)]
    pub struct Delta<'a> {
        #[serde(borrow)]
        pub reasoning_content: Json<'a>,
        #[serde(borrow)]
        pub reasoning: Json<'a>,
        #[serde(borrow)]
        pub content: Json<'a>,
        #[serde(borrow)]
        pub tool_calls: List<Obj<Call<'a>>>,
    }

    /// A non-empty text member.
    pub type Text<'a> = Option<Cow<'a, str>>;

    impl<'a> Delta<'a> {
        /// The reasoning text, the text and the tool calls, moved out. Reasoning as
        /// [`super::reasoning_of`] reads it: `reasoning_content` when present (even if not a
        /// string), else `reasoning`. Empty text is none.
        pub fn into_parts(self) -> (Text<'a>, Text<'a>, Vec<Obj<Call<'a>>>) {
            let reasoning = match self.reasoning_content {
                Json::Absent => self.reasoning,
                given => given,
            };
            let text = |j: Json<'a>| j.into_str().filter(|s| !s.is_empty());
            (text(reasoning), text(self.content), self.tool_calls.0)
        }
    }

    #[derive(Debug, Default, Deserialize)]
    #[serde(default)]
    pub struct Call<'a> {
        #[serde(borrow)]
        pub index: Json<'a>,
        #[serde(borrow)]
        pub id: Json<'a>,
        #[serde(borrow)]
        pub function: Obj<Function<'a>>,
    }

    #[derive(Debug, Default, Deserialize)]
    #[serde(default)]
    pub struct Function<'a> {
        #[serde(borrow)]
        pub name: Json<'a>,
        #[serde(borrow)]
        pub arguments: Json<'a>,
    }

    #[derive(Debug, Default, Deserialize)]
    #[serde(default)]
    pub struct Usage<'a> {
        #[serde(borrow)]
        pub prompt_tokens: Json<'a>,
        #[serde(borrow)]
        pub completion_tokens: Json<'a>,
        #[serde(borrow)]
        pub prompt_tokens_details: Obj<Cached<'a>>,
        /// DeepSeek's name for the cached prompt tokens.
        #[serde(borrow)]
        pub prompt_cache_hit_tokens: Json<'a>,
        #[serde(borrow)]
        pub completion_tokens_details: Obj<Reasoning<'a>>,
    }

    #[derive(Debug, Default, Deserialize)]
    #[serde(default)]
    pub struct Cached<'a> {
        #[serde(borrow)]
        pub cached_tokens: Json<'a>,
    }

    #[derive(Debug, Default, Deserialize)]
    #[serde(default)]
    pub struct Reasoning<'a> {
        #[serde(borrow)]
        pub reasoning_tokens: Json<'a>,
    }

    impl Usage<'_> {
        /// OpenAI usage → canonical (cached prompt tokens moved out of `input`).
        pub fn canonical(&self) -> crate::canonical::Usage {
            let prompt = self.prompt_tokens.as_u64().unwrap_or(0);
            let cached = self
                .prompt_tokens_details
                .0
                .as_ref()
                .and_then(|d| d.cached_tokens.as_u64())
                .or(self.prompt_cache_hit_tokens.as_u64());
            crate::canonical::Usage {
                input: prompt.saturating_sub(cached.unwrap_or(0)),
                output: self.completion_tokens.as_u64().unwrap_or(0),
                cache_read: cached,
                cache_write: None,
                reasoning: self
                    .completion_tokens_details
                    .0
                    .as_ref()
                    .and_then(|d| d.reasoning_tokens.as_u64()),
            }
        }
    }

    /// A member's value, reduced to what the decoder asks of it.
    #[derive(Debug, Default)]
    pub enum Json<'a> {
        #[default]
        Absent,
        Null,
        Str(Cow<'a, str>),
        /// An integer that fits `u64` (what `Value::as_u64` gives).
        U64(u64),
        /// Anything else: negative or fractional numbers, booleans, arrays, objects.
        Other,
    }

    impl<'a> Json<'a> {
        pub fn as_str(&self) -> Option<&str> {
            match self {
                Json::Str(s) => Some(s),
                _ => None,
            }
        }

        pub fn into_str(self) -> Option<Cow<'a, str>> {
            match self {
                Json::Str(s) => Some(s),
                _ => None,
            }
        }

        pub fn as_u64(&self) -> Option<u64> {
            match self {
                Json::U64(n) => Some(*n),
                _ => None,
            }
        }

        /// Present and not `null`.
        pub fn is_given_non_null(&self) -> bool {
            !matches!(self, Json::Absent | Json::Null)
        }
    }

    /// The scalar visits a lenient reader turns into its "not what I read" value.
    macro_rules! otherwise {
        ($value:expr) => {
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
                Ok($value)
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
                Ok($value)
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
                Ok($value)
            }
        };
    }

    struct JsonVisitor<'a>(PhantomData<&'a ()>);

    impl<'de: 'a, 'a> Visitor<'de> for JsonVisitor<'a> {
        type Value = Json<'a>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("any JSON value")
        }

        otherwise!(Json::Other);

        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(Json::Null)
        }
        fn visit_u64<E: de::Error>(self, n: u64) -> Result<Self::Value, E> {
            Ok(Json::U64(n))
        }
        fn visit_borrowed_str<E: de::Error>(self, s: &'de str) -> Result<Self::Value, E> {
            Ok(Json::Str(Cow::Borrowed(s)))
        }
        fn visit_str<E: de::Error>(self, s: &str) -> Result<Self::Value, E> {
            Ok(Json::Str(Cow::Owned(s.to_owned())))
        }
        fn visit_string<E: de::Error>(self, s: String) -> Result<Self::Value, E> {
            Ok(Json::Str(Cow::Owned(s)))
        }
        fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
            IgnoredAny.visit_seq(seq).map(|_| Json::Other)
        }
        fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
            IgnoredAny.visit_map(map).map(|_| Json::Other)
        }
    }

    impl<'de: 'a, 'a> Deserialize<'de> for Json<'a> {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            d.deserialize_any(JsonVisitor(PhantomData))
        }
    }

    /// Skipping visits shared by the containers: strings and numbers are not containers.
    macro_rules! not_a_container {
        ($value:expr) => {
            otherwise!($value);
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok($value)
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
                Ok($value)
            }
            fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
                Ok($value)
            }
        };
    }

    /// An object read as `T`; `None` for any other value.
    #[derive(Debug)]
    pub struct Obj<T>(pub Option<T>);

    impl<T> Default for Obj<T> {
        fn default() -> Self {
            Obj(None)
        }
    }

    struct ObjVisitor<T>(PhantomData<T>);

    impl<'de, T: Deserialize<'de>> Visitor<'de> for ObjVisitor<T> {
        type Value = Obj<T>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("any JSON value")
        }

        not_a_container!(Obj(None));

        fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
            IgnoredAny.visit_seq(seq).map(|_| Obj(None))
        }
        fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
            T::deserialize(de::value::MapAccessDeserializer::new(map)).map(|t| Obj(Some(t)))
        }
    }

    impl<'de, T: Deserialize<'de>> Deserialize<'de> for Obj<T> {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            d.deserialize_any(ObjVisitor(PhantomData))
        }
    }

    /// The first element of an array; `None` for an empty array or any other value.
    #[derive(Debug)]
    pub struct First<T>(pub Option<T>);

    impl<T> Default for First<T> {
        fn default() -> Self {
            First(None)
        }
    }

    struct FirstVisitor<T>(PhantomData<T>);

    impl<'de, T: Deserialize<'de>> Visitor<'de> for FirstVisitor<T> {
        type Value = First<T>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("any JSON value")
        }

        not_a_container!(First(None));

        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            let first = seq.next_element::<T>()?;
            while seq.next_element::<IgnoredAny>()?.is_some() {}
            Ok(First(first))
        }
        fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
            IgnoredAny.visit_map(map).map(|_| First(None))
        }
    }

    impl<'de, T: Deserialize<'de>> Deserialize<'de> for First<T> {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            d.deserialize_any(FirstVisitor(PhantomData))
        }
    }

    /// The elements of an array; empty for any other value.
    #[derive(Debug)]
    pub struct List<T>(pub Vec<T>);

    impl<T> Default for List<T> {
        fn default() -> Self {
            List(Vec::new())
        }
    }

    struct ListVisitor<T>(PhantomData<T>);

    impl<'de, T: Deserialize<'de>> Visitor<'de> for ListVisitor<T> {
        type Value = List<T>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("any JSON value")
        }

        not_a_container!(List(Vec::new()));

        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            let mut all = Vec::new();
            while let Some(t) = seq.next_element::<T>()? {
                all.push(t);
            }
            Ok(List(all))
        }
        fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
            IgnoredAny.visit_map(map).map(|_| List(Vec::new()))
        }
    }

    impl<'de, T: Deserialize<'de>> Deserialize<'de> for List<T> {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            d.deserialize_any(ListVisitor(PhantomData))
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
///
/// Each chunk is written as text, in the key order serde_json's maps give (sorted), with the
/// members after `choices` (the same in every chunk) serialized once per stream.
#[cfg(feature = "kind-anthropic")]
#[derive(Debug)]
pub struct StreamEncoder {
    id: String,
    model: String,
    created: u64,
    include_usage: bool,
    /// `,"created":…,"id":…,"model":…,"object":…[,"usage":null]}`: every chunk's end.
    tail: Vec<u8>,
    /// Block index → tool call position, for the open tool block.
    open_tool: Option<(u32, u32)>,
    calls: u32,
    done: bool,
}

#[cfg(feature = "kind-anthropic")]
impl StreamEncoder {
    pub fn new(model: &str, created: u64, include_usage: bool) -> Self {
        let mut e = StreamEncoder {
            id: String::new(),
            model: model.to_owned(),
            created,
            include_usage,
            tail: Vec::new(),
            open_tool: None,
            calls: 0,
            done: false,
        };
        e.set_id(String::new());
        e
    }

    fn set_id(&mut self, id: String) {
        use std::io::Write;
        self.id = id;
        let t = &mut self.tail;
        t.clear();
        let _ = write!(t, ",\"created\":{},\"id\":", self.created);
        push_json(t, &self.id);
        t.extend_from_slice(b",\"model\":");
        push_json(t, &self.model);
        t.extend_from_slice(b",\"object\":\"chat.completion.chunk\"");
        if self.include_usage {
            t.extend_from_slice(b",\"usage\":null");
        }
        t.push(b'}');
    }

    /// One chunk: `delta` writes the delta object.
    fn chunk(&self, delta: impl FnOnce(&mut Vec<u8>), finish: Option<&str>, out: &mut Vec<u8>) {
        out.extend_from_slice(b"data: {\"choices\":[{\"delta\":");
        delta(out);
        out.extend_from_slice(b",\"finish_reason\":");
        match finish {
            Some(f) => push_json(out, f),
            None => out.extend_from_slice(b"null"),
        }
        out.extend_from_slice(b",\"index\":0,\"logprobs\":null}]");
        out.extend_from_slice(&self.tail);
        out.extend_from_slice(b"\n\n");
    }
}

#[cfg(feature = "kind-anthropic")]
fn push_json(out: &mut Vec<u8>, s: &str) {
    if serde_json::to_writer(&mut *out, s).is_err() {
        out.extend_from_slice(b"\"\"");
    }
}

#[cfg(feature = "kind-anthropic")]
impl crate::canonical::stream::Encode for StreamEncoder {
    fn event(&mut self, ev: &Event, out: &mut Vec<u8>) {
        use serde_json::json;
        use std::io::Write;
        if self.done {
            return;
        }
        match ev {
            Event::Start { id, .. } => {
                self.set_id(chat_id(id));
                self.chunk(|d| d.extend_from_slice(br#"{"content":"","role":"assistant"}"#), None, out);
            }
            Event::BlockStart {
                index,
                block: BlockStart::ToolUse { id, name },
            } => {
                let n = self.calls;
                self.calls += 1;
                self.open_tool = Some((*index, n));
                self.chunk(
                    |d| {
                        d.extend_from_slice(br#"{"tool_calls":[{"function":{"arguments":"","name":"#);
                        push_json(d, name);
                        d.extend_from_slice(br#"},"id":"#);
                        push_json(d, id);
                        let _ = write!(d, ",\"index\":{n},\"type\":\"function\"}}]}}");
                    },
                    None,
                    out,
                );
            }
            Event::BlockStart { .. } | Event::BlockStop { .. } | Event::Ping => {}
            Event::Delta { index, delta } => match delta {
                Delta::Text(t) | Delta::Thinking(t) => {
                    let key: &[u8] = if matches!(delta, Delta::Text(_)) {
                        br#"{"content":"#
                    } else {
                        br#"{"reasoning_content":"#
                    };
                    self.chunk(
                        |d| {
                            d.extend_from_slice(key);
                            push_json(d, t);
                            d.push(b'}');
                        },
                        None,
                        out,
                    );
                }
                Delta::Signature(_) => {}
                Delta::ToolInput(j) => {
                    if let Some((i, n)) = self.open_tool {
                        if i == *index {
                            self.chunk(
                                |d| {
                                    d.extend_from_slice(br#"{"tool_calls":[{"function":{"arguments":"#);
                                    push_json(d, j);
                                    let _ = write!(d, "}},\"index\":{n}}}]}}");
                                },
                                None,
                                out,
                            );
                        }
                    }
                }
            },
            Event::Finish { stop, usage } => {
                self.chunk(|d| d.extend_from_slice(b"{}"), Some(finish_reason(stop)), out);
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// Odd but valid chunks: every member read leniently, as a `Value` tree read them.
    const CASES: &[&[&str]] = &[
        &[r#"{"choices":[{"delta":{"reasoning_content":null,"reasoning":"x","content":"hi"}}]}"#],
        &[r#"{"choices":[{"delta":{"reasoning":"r","content":""}}]}"#, r#"{"choices":[{"delta":{"reasoning_content":"s"},"finish_reason":"length"}]}"#],
        &[r#"{"choices":[{"delta":{"content":"a","content":"b"}}],"choices":[{"delta":{"content":"c"}}]}"#],
        &[r#"{"choices":["x"]}"#, r#"{"choices":{}}"#, "[1,2]", r#""str""#, "nul", r#"{"choices":[{"delta":[1]}]}"#, r#"{"choices":[{"delta":{"content":7}}, {"delta":{"content":"second"}}]}"#],
        &[r#"{"choices":[{"delta":{"tool_calls":[5, {"index":-1,"id":"c","function":{"name":"f","arguments":"{}"}}]}}]}"#],
        &[r#"{"choices":[{"delta":{"tool_calls":[{"index":1.0,"function":{"name":"g","arguments":"{\"a\":"}},{"index":2,"id":"k","function":{"name":"h","arguments":"{}"}}]}}]}"#, r#"{"choices":[{"delta":{"tool_calls":[{"index":0,"function":{"arguments":"[1]}"}}]},"finish_reason":"stop"}]}"#],
        &[r#"{"choices":[],"usage":{"prompt_tokens":10,"prompt_cache_hit_tokens":4,"completion_tokens":3,"completion_tokens_details":{"reasoning_tokens":2}}}"#, r#"{"usage":"x","choices":[{"delta":{},"finish_reason":"stop","stop_reason":"END"}]}"#],
        &[r#"{"choices":[{"finish_reason":"tool_calls"}],"usage":{"prompt_tokens":10,"prompt_tokens_details":[],"prompt_cache_hit_tokens":4,"completion_tokens":-3}}"#],
        &[r#"{"usage":{"prompt_tokens":10,"prompt_tokens_details":{"cached_tokens":6},"prompt_cache_hit_tokens":4}}"#, r#"{"choices":[{"finish_reason":"stop","stop_reason":7}]}"#],
        &[r#"{"error":null,"choices":[{"delta":{"content":"ok \"q\" \u00e9\n"}}]}"#, r#"{"error":{"message":"boom"}}"#, r#"{"choices":[{"delta":{"content":"after"}}]}"#],
        &[r#"{"error":false}"#],
        &[r#"{"error":"plain"}"#],
        &[r#"{"choices":[{"delta":{"content":"x"},"finish_reason":null,"stop_reason":null}]}"#, r#"{"choices":[{"finish_reason":"content_filter"}]}"#],
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
        use crate::canonical::stream::Decode;
        let mut all = String::new();
        for chunks in CASES {
            let mut d = StreamDecoder::new("id".into(), "m".into());
            let mut out = Vec::new();
            d.begin(&mut out);
            for c in *chunks {
                d.event(sse::Event { event: String::new(), data: (*c).to_owned() }, &mut out);
            }
            d.end(&mut out);
            all.push_str(&format!("{out:?}\n"));
        }
        assert_eq!(all, EXPECTED);
    }
}
