//! The protocol-neutral model every translation goes through.
//!
//! Each wire protocol (OpenAI chat completions, Anthropic Messages, OpenAI Responses) has one
//! decoder into these types and one encoder out of them, so N protocols need 2·N pieces instead
//! of N² translators. The model is a superset shaped after the richest of them (content blocks
//! with thinking and tool calls as first-class blocks):
//!
//! - [`Request`]: system text, user/assistant [`Message`]s made of [`Block`]s, tools, sampling
//!   and reasoning controls. Tool results are blocks of a user message (chat encoders split
//!   them into `role: tool` messages).
//! - [`Response`]: the blocks of one assistant turn, why it stopped, and usage.
//! - [`Event`]: a response as a stream. Blocks are strictly sequential (one open at a time,
//!   started, given deltas, stopped), which every target protocol can express; decoders of
//!   protocols that interleave (chat tool calls by index) do the sequencing.
//!
//! Tool-call arguments stay JSON *text* end to end ([`Block::ToolUse::input`],
//! [`Delta::ToolInput`]): fragments are forwarded as they arrive, never re-parsed.

pub mod events;
pub mod raw;
pub mod stream;

pub use raw::RawJson;

/// One request, whatever protocol it came in.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Request {
    /// The model name as the client wrote it (routing resolves it).
    pub model: String,
    /// System instructions, in order (top-level system, then any system messages).
    pub system: Vec<String>,
    pub messages: Vec<Message>,
    pub tools: Vec<Tool>,
    pub tool_choice: Option<ToolChoice>,
    /// `Some(false)`: at most one tool call per turn.
    pub parallel_tool_calls: Option<bool>,
    pub max_tokens: Option<u32>,
    pub temperature: Option<f64>,
    pub top_p: Option<f64>,
    /// Only Anthropic upstreams take it; chat encoders drop it.
    pub top_k: Option<u32>,
    pub stop: Vec<String>,
    pub stream: bool,
    pub thinking: Option<Thinking>,
    /// Structured output the client asked for (Responses `text.format`, chat
    /// `response_format`). `None`: plain text. Upstreams without it ignore it.
    pub format: Option<Format>,
}

/// A structured output format.
#[derive(Debug, Clone, PartialEq)]
pub enum Format {
    /// Any JSON object.
    JsonObject,
    /// JSON matching `schema`.
    JsonSchema {
        name: String,
        description: Option<String>,
        /// The schema as the client wrote it (copied, never re-serialized).
        schema: RawJson,
        strict: Option<bool>,
    },
}

impl Format {
    /// An OpenAI structured-output format of type `kind` (`json_object`, `json_schema`; any
    /// other is plain text): `spec` holds `name`, `description`, `schema` and `strict`
    /// (Responses: the format object itself; chat: its `json_schema` member). `param` names
    /// the field in the 400 for a `json_schema` without a schema.
    pub fn of_openai(
        kind: Option<&str>,
        spec: Option<&serde_json::Value>,
        param: &'static str,
    ) -> Result<Option<Format>, crate::errors::ApiError> {
        use serde_json::Value;
        match kind {
            Some("json_object") => Ok(Some(Format::JsonObject)),
            Some("json_schema") => {
                let field = |k: &str| spec.and_then(|s| s.get(k));
                let Some(schema) = field("schema").filter(|s| s.is_object()) else {
                    return Err(crate::errors::ApiError::bad_request(
                        Some(param),
                        "a format of type `json_schema` needs a `schema` object.".to_owned(),
                    ));
                };
                Ok(Some(Format::JsonSchema {
                    name: field("name")
                        .and_then(Value::as_str)
                        .unwrap_or("response")
                        .to_owned(),
                    description: field("description")
                        .and_then(Value::as_str)
                        .map(str::to_owned),
                    schema: RawJson::from_value(schema),
                    strict: field("strict").and_then(Value::as_bool),
                }))
            }
            _ => Ok(None),
        }
    }

    /// The instruction that asks a model without structured outputs for this format.
    pub fn instruction(&self) -> String {
        match self {
            Format::JsonObject => "Answer with one valid JSON object and nothing else: no prose, \
                                   no code fences."
                .to_owned(),
            Format::JsonSchema {
                name,
                description,
                schema,
                ..
            } => {
                let mut s = format!(
                    "Answer with one valid JSON object and nothing else (no prose, no code \
                     fences), matching the JSON Schema `{name}`"
                );
                if let Some(d) = description {
                    s.push_str(&format!(" ({d})"));
                }
                s.push_str(": ");
                s.push_str(schema.get());
                s
            }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    User,
    Assistant,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    pub role: Role,
    pub content: Vec<Block>,
}

/// A piece of message content.
#[derive(Debug, Clone, PartialEq)]
pub enum Block {
    Text(String),
    Image(Source),
    Document {
        source: Source,
        title: Option<String>,
    },
    /// Model reasoning. `signature` is the upstream's (Anthropic) or absent (reasoning that
    /// came from an OpenAI-compatible upstream as `reasoning_content`).
    Thinking {
        text: String,
        signature: Option<String>,
    },
    /// Anthropic's encrypted reasoning: meaningful only to an Anthropic upstream.
    RedactedThinking(String),
    ToolUse {
        id: String,
        name: String,
        /// The arguments as JSON text (an object).
        input: String,
    },
    ToolResult {
        id: String,
        /// Text and images.
        content: Vec<Block>,
        is_error: bool,
    },
}

/// Where image or document bytes are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Base64 {
        media_type: String,
        data: String,
    },
    Url(String),
    /// Plain text (Anthropic text documents).
    Text(String),
}

impl Source {
    /// `data:<media type>;base64,<data>` → a base64 source; `None` for any other URL.
    pub fn of_data_url(url: &str) -> Option<Source> {
        let (meta, data) = url.strip_prefix("data:")?.split_once(',')?;
        let media_type = meta.strip_suffix(";base64")?;
        Some(Source::Base64 {
            media_type: media_type.to_owned(),
            data: data.to_owned(),
        })
    }

    /// A data URL → base64 source; anything else → URL.
    pub fn of_url(url: &str) -> Source {
        Source::of_data_url(url).unwrap_or_else(|| Source::Url(url.to_owned()))
    }
}

/// A tool the model may call.
#[derive(Debug, Clone, PartialEq)]
pub struct Tool {
    pub name: String,
    pub description: Option<String>,
    /// JSON Schema of the input object: the client's JSON text, kept as text so encoders copy
    /// it instead of building and re-serializing a tree (they clean it per target).
    pub schema: RawJson,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ToolChoice {
    Auto,
    /// Must call some tool (`any` / `required`).
    Any,
    Tool(String),
    None,
}

/// Reasoning controls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Thinking {
    /// Reason, within this many tokens when given.
    Enabled {
        budget_tokens: Option<u32>,
    },
    /// Reason as much as the model decides.
    Adaptive,
    Disabled,
}

impl Thinking {
    /// The setting for an OpenAI reasoning effort (chat `reasoning_effort`, Responses
    /// `reasoning.effort`); `None` for a level it does not know (the upstream's default).
    pub fn from_effort(effort: &str) -> Option<Thinking> {
        let budget = match effort {
            "none" => return Some(Thinking::Disabled),
            "minimal" | "low" => 2048,
            "medium" => 8192,
            "high" | "xhigh" => 24576,
            _ => return None,
        };
        Some(Thinking::Enabled {
            budget_tokens: Some(budget),
        })
    }

    /// The OpenAI-style effort level for this setting (`None` when reasoning is off).
    pub fn effort(self) -> Option<&'static str> {
        match self {
            Thinking::Disabled => None,
            Thinking::Adaptive => Some("medium"),
            Thinking::Enabled { budget_tokens } => Some(match budget_tokens {
                Some(b) if b <= 4096 => "low",
                Some(b) if b <= 16384 => "medium",
                Some(_) => "high",
                None => "medium",
            }),
        }
    }
}

/// One complete assistant turn.
#[derive(Debug, Clone, PartialEq)]
pub struct Response {
    pub id: String,
    pub model: String,
    pub content: Vec<Block>,
    pub stop: Stop,
    pub usage: Usage,
}

/// Why the turn ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stop {
    EndTurn,
    MaxTokens,
    ToolUse,
    /// A stop sequence matched (which one, when the upstream says).
    StopSequence(Option<String>),
    /// The upstream's content filter ended it.
    Refusal,
}

/// Token counts. `input` excludes cached tokens (Anthropic's convention); `cache_read` holds them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Usage {
    pub input: u64,
    pub output: u64,
    pub cache_read: Option<u64>,
    pub cache_write: Option<u64>,
    /// Reasoning tokens, when the upstream reports them (part of `output`).
    pub reasoning: Option<u64>,
}

/// The counts of an OpenAI `usage` object, as read from a body or a stream chunk.
#[derive(Debug, Clone, Copy, Default)]
pub struct OpenAiCounts {
    pub prompt_tokens: Option<u64>,
    /// `prompt_tokens_details.cached_tokens`, or DeepSeek's `prompt_cache_hit_tokens`.
    pub cached_tokens: Option<u64>,
    pub completion_tokens: Option<u64>,
    /// `completion_tokens_details.reasoning_tokens`.
    pub reasoning_tokens: Option<u64>,
}

impl From<OpenAiCounts> for Usage {
    /// OpenAI counts cached tokens inside `prompt_tokens`; here they move out of `input`.
    fn from(c: OpenAiCounts) -> Usage {
        Usage {
            input: c
                .prompt_tokens
                .unwrap_or(0)
                .saturating_sub(c.cached_tokens.unwrap_or(0)),
            output: c.completion_tokens.unwrap_or(0),
            cache_read: c.cached_tokens,
            cache_write: None,
            reasoning: c.reasoning_tokens,
        }
    }
}

/// A response as a stream of events (see the module docs for the ordering contract).
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// The turn begins (before any block).
    Start {
        id: String,
        model: String,
    },
    BlockStart {
        index: u32,
        block: BlockStart,
    },
    Delta {
        index: u32,
        delta: Delta,
    },
    BlockStop {
        index: u32,
    },
    /// The turn is over: every block has been stopped.
    Finish {
        stop: Stop,
        usage: Usage,
    },
    /// The upstream failed after the stream started; nothing follows.
    Error {
        message: String,
    },
    /// Nothing to say yet; keeps idle connections open.
    Ping,
}

/// What kind of block starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BlockStart {
    Text,
    Thinking,
    RedactedThinking(String),
    ToolUse { id: String, name: String },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delta {
    Text(String),
    Thinking(String),
    /// The signature of the open thinking block.
    Signature(String),
    /// A fragment of the open tool call's arguments (JSON text, possibly partial).
    ToolInput(String),
}

/// The signature given to thinking blocks whose upstream has none (clients such as Claude
/// Code expect one; an Anthropic upstream would reject it, so encoders for Anthropic drop
/// thinking blocks carrying it).
pub const PLACEHOLDER_SIGNATURE: &str = "apex-gateway-unsigned-reasoning";
