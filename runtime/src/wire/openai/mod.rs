//! What routing needs of an OpenAI request, and nothing more.
//!
//! Same-protocol traffic must not pay for translation: the body is scanned once into
//! [`Routing`] (borrowed, no allocation for the fields we skip), and the only rewrite is the
//! `model` string, spliced by byte range so every other byte reaches the upstream unchanged.

pub mod chat_request;
pub mod chat_response;
pub mod errors;
pub mod message;
#[cfg(feature = "quotas")]
pub mod stream_usage;

use crate::errors::ApiError;
use bytes::Bytes;
use serde::Deserialize;
use serde_json::value::RawValue;
use std::borrow::Cow;

#[derive(Deserialize)]
struct Fields<'a> {
    #[serde(borrow, default)]
    model: Option<&'a RawValue>,
    #[serde(default)]
    stream: Option<bool>,
    #[serde(borrow, default)]
    messages: Option<&'a RawValue>,
    #[serde(borrow, default)]
    input: Option<&'a RawValue>,
    #[serde(borrow, default)]
    stream_options: Option<&'a RawValue>,
}

/// The routing view of a request body.
#[derive(Debug)]
pub struct Routing<'a> {
    /// The `model` value as the client wrote it (`DeepSeek-R1`, `gpt-4o#azure`).
    pub model: Cow<'a, str>,
    /// Byte range of the `model` JSON string (quotes included) in the body.
    model_span: (usize, usize),
    pub stream: bool,
    /// `stream_options` as the client wrote it, if it did.
    stream_options: Option<&'a RawValue>,
}

impl<'a> Routing<'a> {
    /// Reads `model` and `stream`, and checks that the body has `required`, the field the
    /// endpoint cannot do without (`messages` for chat, `input` for embeddings).
    pub fn parse(body: &'a [u8], required: Option<&'static str>) -> Result<Self, ApiError> {
        let first = body.iter().find(|b| !b.is_ascii_whitespace());
        if first != Some(&b'{') {
            return Err(ApiError::bad_json(if first.is_none() {
                "the body is empty"
            } else {
                "the body is not a JSON object"
            }));
        }
        let fields: Fields<'a> =
            serde_json::from_slice(body).map_err(|e| ApiError::bad_json(&e.to_string()))?;
        let raw = fields.model.ok_or_else(|| {
            ApiError::bad_request(
                Some("model"),
                "you must provide a model parameter (GET /v1/models lists the models).".to_owned(),
            )
        })?;
        let model: Cow<'a, str> = serde_json::from_str(raw.get()).map_err(|_| {
            ApiError::bad_request(Some("model"), "`model` must be a string.".to_owned())
        })?;
        if model.is_empty() {
            return Err(ApiError::bad_request(
                Some("model"),
                "`model` must not be empty (GET /v1/models lists the models).".to_owned(),
            ));
        }
        let missing = match required {
            Some("messages") => fields.messages.is_none(),
            Some("input") => fields.input.is_none(),
            _ => false,
        };
        if let (true, Some(field)) = (missing, required) {
            return Err(ApiError::bad_request(
                Some(field),
                format!("you must provide a {field} parameter."),
            ));
        }
        let start = (raw.get().as_ptr() as usize).wrapping_sub(body.as_ptr() as usize);
        let end = start.wrapping_add(raw.get().len());
        // The raw value borrows from `body`, so this holds; checked rather than assumed.
        let model_span = if body.get(start..end) == Some(raw.get().as_bytes()) {
            (start, end)
        } else {
            (0, 0)
        };
        Ok(Routing {
            model,
            model_span,
            stream: fields.stream.unwrap_or(false),
            stream_options: fields.stream_options,
        })
    }

    /// The client sent `stream_options` (of any shape).
    pub fn has_stream_options(&self) -> bool {
        self.stream_options.is_some()
    }

    /// The client asked for a stream's usage (`stream_options.include_usage: true`).
    pub fn asks_usage(&self) -> bool {
        #[derive(Deserialize)]
        struct Options {
            #[serde(default)]
            include_usage: bool,
        }
        self.stream_options
            .and_then(|raw| serde_json::from_str::<Options>(raw.get()).ok())
            .is_some_and(|o| o.include_usage)
    }

    /// The body with `model` replaced by `upstream_model`; every other byte untouched.
    pub fn with_model(&self, body: &Bytes, upstream_model: &str) -> Bytes {
        if self.model == upstream_model {
            return body.clone();
        }
        let (start, end) = self.model_span;
        let (Some(head), Some(tail)) = (body.get(..start), body.get(end..)) else {
            return body.clone();
        };
        if start == end {
            return rewrite_with_value(body, upstream_model);
        }
        let quoted = quote(upstream_model);
        let mut out = Vec::with_capacity(head.len() + quoted.len() + tail.len());
        out.extend_from_slice(head);
        out.extend_from_slice(quoted.as_bytes());
        out.extend_from_slice(tail);
        Bytes::from(out)
    }
}

/// A JSON string literal.
pub fn quote(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| String::from("\"\""))
}

/// Slow path (never expected): rewrite through a full parse.
fn rewrite_with_value(body: &Bytes, upstream_model: &str) -> Bytes {
    match serde_json::from_slice::<serde_json::Value>(body) {
        Ok(mut v) => {
            if let Some(obj) = v.as_object_mut() {
                obj.insert(
                    "model".to_owned(),
                    serde_json::Value::String(upstream_model.to_owned()),
                );
            }
            serde_json::to_vec(&v)
                .map(Bytes::from)
                .unwrap_or_else(|_| body.clone())
        }
        Err(_) => body.clone(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    #[test]
    fn splices_only_the_model() {
        let body = Bytes::from_static(
            br#"{ "messages":[{"role":"user","content":"model \"x\""}],"model" : "a\u0062c", "stream":true}"#,
        );
        let r = Routing::parse(&body, Some("messages")).unwrap();
        assert_eq!(r.model, "abc");
        assert!(r.stream);
        let out = r.with_model(&body, "up/\"q\"");
        assert_eq!(
            &out[..],
            &br#"{ "messages":[{"role":"user","content":"model \"x\""}],"model" : "up/\"q\"", "stream":true}"#[..]
        );
    }
}
