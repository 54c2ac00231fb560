//! The few fields of a `chat.completion.chunk` the stream decoder reads, borrowed from the
//! event's text: no `Value` tree, no allocation for the fields skipped or for unescaped
//! strings (every chunk is read; a tree per chunk was most of a translated stream's cost).
//!
//! Read through `wire::lenient`, like the request decoders: a member of an unexpected type
//! reads as absent instead of failing the chunk, and a repeated key is read as its last value.

use crate::wire::lenient::{self, First, Json, List, Members, Obj};
use serde::de::MapAccess;
use std::borrow::Cow;

/// `{...}` with the members below.
#[derive(Debug, Default)]
pub struct Chunk<'a> {
    pub error: Json<'a>,
    /// Boxed: present once per stream, and the view is moved whole a few times per chunk.
    pub usage: Option<Box<Usage<'a>>>,
    /// The first choice, when it is an object.
    pub choice: Option<Choice<'a>>,
}

impl<'de> Members<'de> for Chunk<'de> {
    fn member<A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<(), A::Error> {
        match key {
            "error" => self.error = map.next_value()?,
            "usage" => self.usage = object(map)?.map(Box::new),
            "choices" => {
                let first: First<Obj<Choice<'de>>> = map.next_value()?;
                self.choice = first.0.and_then(Obj::into_object);
            }
            _ => lenient::skip(map)?,
        }
        Ok(())
    }
}

/// The next value's members, when it is an object.
fn object<'de, T: Members<'de>, A: MapAccess<'de>>(map: &mut A) -> Result<Option<T>, A::Error> {
    Ok(map.next_value::<Obj<T>>()?.into_object())
}

#[derive(Debug, Default)]
pub struct Choice<'a> {
    pub delta: Option<Delta<'a>>,
    pub finish_reason: Json<'a>,
    /// vLLM's matched stop sequence.
    pub stop_reason: Json<'a>,
}

impl<'de> Members<'de> for Choice<'de> {
    fn member<A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<(), A::Error> {
        match key {
            "delta" => self.delta = object(map)?,
            "finish_reason" => self.finish_reason = map.next_value()?,
            "stop_reason" => self.stop_reason = map.next_value()?,
            _ => lenient::skip(map)?,
        }
        Ok(())
    }
}

#[derive(Debug, Default)]
pub struct Delta<'a> {
    pub reasoning_content: Json<'a>,
    pub reasoning: Json<'a>,
    pub content: Json<'a>,
    /// Elements that are not objects read as empty calls.
    pub tool_calls: Vec<Call<'a>>,
}

impl<'de> Members<'de> for Delta<'de> {
    fn member<A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<(), A::Error> {
        match key {
            "reasoning_content" => self.reasoning_content = map.next_value()?,
            "reasoning" => self.reasoning = map.next_value()?,
            "content" => self.content = map.next_value()?,
            "tool_calls" => {
                let calls: List<Obj<Call<'de>>> = map.next_value()?;
                self.tool_calls = calls
                    .into_items()
                    .into_iter()
                    .map(|c| c.into_object().unwrap_or_default())
                    .collect();
            }
            _ => lenient::skip(map)?,
        }
        Ok(())
    }
}

/// A non-empty text member.
pub type Text<'a> = Option<Cow<'a, str>>;

impl<'a> Delta<'a> {
    /// The reasoning text, the text and the tool calls, moved out. Reasoning as
    /// [`reasoning_of`](crate::wire::openai::message::reasoning_of) reads it: `reasoning_content` when present (even if not a
    /// string), else `reasoning`. Empty text is none.
    pub fn into_parts(self) -> (Text<'a>, Text<'a>, Vec<Call<'a>>) {
        let reasoning = match self.reasoning_content {
            Json::Absent => self.reasoning,
            given => given,
        };
        let text = |j: Json<'a>| j.into_str().filter(|s| !s.is_empty());
        (text(reasoning), text(self.content), self.tool_calls)
    }
}

#[derive(Debug, Default)]
pub struct Call<'a> {
    pub index: Json<'a>,
    pub id: Json<'a>,
    pub function: Option<Function<'a>>,
}

impl<'de> Members<'de> for Call<'de> {
    fn member<A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<(), A::Error> {
        match key {
            "index" => self.index = map.next_value()?,
            "id" => self.id = map.next_value()?,
            "function" => self.function = object(map)?,
            _ => lenient::skip(map)?,
        }
        Ok(())
    }
}

#[derive(Debug, Default)]
pub struct Function<'a> {
    pub name: Json<'a>,
    pub arguments: Json<'a>,
}

impl<'de> Members<'de> for Function<'de> {
    fn member<A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<(), A::Error> {
        match key {
            "name" => self.name = map.next_value()?,
            "arguments" => self.arguments = map.next_value()?,
            _ => lenient::skip(map)?,
        }
        Ok(())
    }
}

#[derive(Debug, Default)]
pub struct Usage<'a> {
    pub prompt_tokens: Json<'a>,
    pub completion_tokens: Json<'a>,
    /// `prompt_tokens_details.cached_tokens`.
    pub cached_tokens: Json<'a>,
    /// DeepSeek's name for the cached prompt tokens.
    pub prompt_cache_hit_tokens: Json<'a>,
    /// `completion_tokens_details.reasoning_tokens`.
    pub reasoning_tokens: Json<'a>,
}

/// `prompt_tokens_details`: its `cached_tokens`.
#[derive(Debug, Default)]
struct Cached<'a>(Json<'a>);

impl<'de> Members<'de> for Cached<'de> {
    fn member<A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<(), A::Error> {
        match key {
            "cached_tokens" => self.0 = map.next_value()?,
            _ => lenient::skip(map)?,
        }
        Ok(())
    }
}

/// `completion_tokens_details`: its `reasoning_tokens`.
#[derive(Debug, Default)]
struct Reasoning<'a>(Json<'a>);

impl<'de> Members<'de> for Reasoning<'de> {
    fn member<A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<(), A::Error> {
        match key {
            "reasoning_tokens" => self.0 = map.next_value()?,
            _ => lenient::skip(map)?,
        }
        Ok(())
    }
}

impl<'de> Members<'de> for Usage<'de> {
    fn member<A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<(), A::Error> {
        match key {
            "prompt_tokens" => self.prompt_tokens = map.next_value()?,
            "completion_tokens" => self.completion_tokens = map.next_value()?,
            "prompt_cache_hit_tokens" => self.prompt_cache_hit_tokens = map.next_value()?,
            "prompt_tokens_details" => {
                let d: Option<Cached<'de>> = object(map)?;
                self.cached_tokens = d.map(|d| d.0).unwrap_or_default();
            }
            "completion_tokens_details" => {
                let d: Option<Reasoning<'de>> = object(map)?;
                self.reasoning_tokens = d.map(|d| d.0).unwrap_or_default();
            }
            _ => lenient::skip(map)?,
        }
        Ok(())
    }
}

impl Usage<'_> {
    /// OpenAI usage → canonical (cached prompt tokens moved out of `input`).
    pub fn canonical(&self) -> crate::wire::canonical::Usage {
        crate::wire::canonical::Usage::from(crate::wire::canonical::OpenAiCounts {
            prompt_tokens: self.prompt_tokens.as_u64(),
            cached_tokens: self
                .cached_tokens
                .as_u64()
                .or(self.prompt_cache_hit_tokens.as_u64()),
            completion_tokens: self.completion_tokens.as_u64(),
            reasoning_tokens: self.reasoning_tokens.as_u64(),
        })
    }
}
