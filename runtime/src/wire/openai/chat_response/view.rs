//! The few fields of a `chat.completion.chunk` the stream decoder reads, borrowed from the
//! event's text: no `Value` tree, no allocation for the fields skipped or for unescaped
//! strings (every chunk is read; a tree per chunk was most of a translated stream's cost).
//!
//! Every field is lenient the way `Value::get(..).and_then(Value::as_str)` was: a member of an
//! unexpected type reads as absent instead of failing the chunk ([`Json`] keeps just enough to
//! tell absent, null, string, unsigned integer and anything else apart; [`Obj`], [`First`],
//! [`List`] read anything that is not an object / array as absent / empty).

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
    /// [`reasoning_of`](crate::wire::openai::message::reasoning_of) reads it: `reasoning_content` when present (even if not a
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
    pub fn canonical(&self) -> crate::wire::canonical::Usage {
        crate::wire::canonical::Usage::from(crate::wire::canonical::OpenAiCounts {
            prompt_tokens: self.prompt_tokens.as_u64(),
            cached_tokens: self
                .prompt_tokens_details
                .0
                .as_ref()
                .and_then(|d| d.cached_tokens.as_u64())
                .or(self.prompt_cache_hit_tokens.as_u64()),
            completion_tokens: self.completion_tokens.as_u64(),
            reasoning_tokens: self
                .completion_tokens_details
                .0
                .as_ref()
                .and_then(|d| d.reasoning_tokens.as_u64()),
        })
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
