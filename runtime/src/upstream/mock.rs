//! `mock`: a built-in provider that answers without any network, deterministically, so the
//! quickstart works with no account and smoke tests have a stable upstream.
//!
//! - chat: the reply is `"mock reply: " + <text of the last user message>`; streamed word by
//!   word as `chat.completion.chunk` SSE events, then a usage chunk when
//!   `stream_options.include_usage` is set, then `data: [DONE]`.
//! - embeddings: a unit vector of dimension [`DIMENSIONS`] derived from a hash of each input;
//!   base64 of little-endian f32s when `encoding_format` is `"base64"`.
//!
//! Token counts are word counts: stable, and close enough for a fake.

use crate::host::{Body, HttpResponse, StreamError};
use crate::upstream::call::Call;
use crate::upstream::call::Endpoint;
use crate::wire::openai::message::content_text;
use bytes::Bytes;
use serde_json::{json, Value};

/// Length of every mock embedding vector.
pub const DIMENSIONS: usize = 8;

pub fn respond(call: &Call<'_>) -> HttpResponse {
    let request: Value = serde_json::from_slice(&call.body).unwrap_or(Value::Null);
    match call.endpoint {
        Endpoint::ChatCompletions => chat(call, &request),
        Endpoint::Embeddings => embeddings(call, &request),
        // Messages reach mock translated to chat completions (see `anthropic::inbound`).
        Endpoint::Messages | Endpoint::CountTokens | Endpoint::Responses => json_response(&json!({
            "error": {"message": "the mock kind speaks chat completions", "type": "invalid_request_error"}
        })),
    }
}

fn chat(call: &Call<'_>, request: &Value) -> HttpResponse {
    let messages = request.get("messages").and_then(Value::as_array);
    let last_user = messages
        .and_then(|m| {
            m.iter()
                .rev()
                .find(|m| m.get("role").and_then(Value::as_str) == Some("user"))
        })
        .map(|m| content_text(m.get("content"), " "))
        .unwrap_or_default();
    let reply = format!("mock reply: {last_user}");
    let prompt_tokens: usize = messages
        .map(|m| {
            m.iter()
                .map(|m| words(&content_text(m.get("content"), " ")))
                .sum()
        })
        .unwrap_or(0);
    let completion_tokens = words(&reply);
    let usage = json!({
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    });
    let id = format!("chatcmpl-mock-{:016x}", fnv1a64(&call.body));
    if call.stream {
        let include_usage = request
            .pointer("/stream_options/include_usage")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        return chat_stream(call, &id, &reply, include_usage.then_some(&usage));
    }
    json_response(&json!({
        "id": id,
        "object": "chat.completion",
        "created": 0,
        "model": call.model,
        "choices": [{
            "index": 0,
            "message": { "role": "assistant", "content": reply, "refusal": null },
            "logprobs": null,
            "finish_reason": "stop",
        }],
        "usage": usage,
    }))
}

/// The reply streamed a word per chunk; `usage` (when the client asked for it) in a last
/// chunk without choices, and `"usage": null` on every other, as OpenAI sends it.
fn chat_stream(call: &Call<'_>, id: &str, reply: &str, usage: Option<&Value>) -> HttpResponse {
    let chunk = |delta: Value, finish: Value| {
        let mut c = json!({
            "id": id,
            "object": "chat.completion.chunk",
            "created": 0,
            "model": call.model,
            "choices": [{ "index": 0, "delta": delta, "logprobs": null, "finish_reason": finish }],
        });
        if usage.is_some() {
            if let Some(o) = c.as_object_mut() {
                o.insert("usage".to_owned(), Value::Null);
            }
        }
        sse(&c)
    };
    let mut events = Vec::new();
    events.push(chunk(
        json!({ "role": "assistant", "content": "" }),
        Value::Null,
    ));
    for (i, word) in reply.split(' ').enumerate() {
        let piece = if i == 0 {
            word.to_owned()
        } else {
            format!(" {word}")
        };
        events.push(chunk(json!({ "content": piece }), Value::Null));
    }
    events.push(chunk(json!({}), json!("stop")));
    if let Some(usage) = usage {
        events.push(sse(&json!({
            "id": id,
            "object": "chat.completion.chunk",
            "created": 0,
            "model": call.model,
            "choices": [],
            "usage": usage,
        })));
    }
    events.push(Bytes::from_static(b"data: [DONE]\n\n"));
    let stream = futures_util::stream::iter(events.into_iter().map(Ok::<Bytes, StreamError>));
    HttpResponse {
        status: 200,
        headers: vec![
            ("content-type".to_owned(), "text/event-stream".to_owned()),
            ("cache-control".to_owned(), "no-cache".to_owned()),
        ],
        body: Body::Stream(Box::pin(stream)),
    }
}

fn embeddings(call: &Call<'_>, request: &Value) -> HttpResponse {
    let inputs: Vec<(Vec<u8>, usize)> = match request.get("input") {
        Some(Value::String(s)) => vec![(s.as_bytes().to_vec(), words(s))],
        Some(Value::Array(items)) if items.iter().all(Value::is_number) => {
            vec![(
                Value::Array(items.clone()).to_string().into_bytes(),
                items.len(),
            )]
        }
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| match item {
                Value::String(s) => (s.as_bytes().to_vec(), words(s)),
                Value::Array(tokens) => (item.to_string().into_bytes(), tokens.len()),
                other => (other.to_string().into_bytes(), 1),
            })
            .collect(),
        Some(other) => vec![(other.to_string().into_bytes(), 1)],
        None => Vec::new(),
    };
    let base64 = request.get("encoding_format").and_then(Value::as_str) == Some("base64");
    let mut tokens = 0;
    let data: Vec<Value> = inputs
        .iter()
        .enumerate()
        .map(|(index, (bytes, n))| {
            tokens += n;
            let v = vector(bytes);
            let embedding = if base64 {
                let mut raw = Vec::with_capacity(DIMENSIONS * 4);
                for x in v {
                    raw.extend_from_slice(&x.to_le_bytes());
                }
                Value::String(base64_encode(&raw))
            } else {
                json!(v)
            };
            json!({ "object": "embedding", "index": index, "embedding": embedding })
        })
        .collect();
    json_response(&json!({
        "object": "list",
        "data": data,
        "model": call.model,
        "usage": { "prompt_tokens": tokens, "total_tokens": tokens },
    }))
}

/// The deterministic unit vector for one input.
pub fn vector(input: &[u8]) -> [f32; DIMENSIONS] {
    let mut state = fnv1a64(input);
    let mut v = [0f32; DIMENSIONS];
    for x in v.iter_mut() {
        // splitmix64
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        *x = ((z >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0;
    }
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > f32::EPSILON {
        for x in v.iter_mut() {
            *x /= norm;
        }
    } else {
        v = [0.0; DIMENSIONS];
        if let Some(first) = v.first_mut() {
            *first = 1.0;
        }
    }
    v
}

fn words(s: &str) -> usize {
    s.split_whitespace().count()
}

fn fnv1a64(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01B3)
    })
}

fn sse(v: &Value) -> Bytes {
    let mut out = Vec::with_capacity(256);
    out.extend_from_slice(b"data: ");
    out.extend_from_slice(v.to_string().as_bytes());
    out.extend_from_slice(b"\n\n");
    Bytes::from(out)
}

fn json_response(v: &Value) -> HttpResponse {
    HttpResponse {
        status: 200,
        headers: vec![("content-type".to_owned(), "application/json".to_owned())],
        body: Body::Bytes(Bytes::from(v.to_string())),
    }
}

/// Standard base64 with padding (RFC 4648), as OpenAI uses for `encoding_format: base64`.
pub fn base64_encode(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let sym = |i: u32| char::from(ALPHABET.get((i & 63) as usize).copied().unwrap_or(b'A'));
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = |i: usize| u32::from(chunk.get(i).copied().unwrap_or(0));
        let n = (b(0) << 16) | (b(1) << 8) | b(2);
        out.push(sym(n >> 18));
        out.push(sym(n >> 12));
        out.push(if chunk.len() > 1 { sym(n >> 6) } else { '=' });
        out.push(if chunk.len() > 2 { sym(n) } else { '=' });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc4648_vectors() {
        assert_eq!(base64_encode(b""), "");
        assert_eq!(base64_encode(b"f"), "Zg==");
        assert_eq!(base64_encode(b"fo"), "Zm8=");
        assert_eq!(base64_encode(b"foobar"), "Zm9vYmFy");
    }

    #[test]
    fn vectors_are_unit_and_deterministic() {
        let a = vector(b"hello");
        assert_eq!(a, vector(b"hello"));
        assert_ne!(a, vector(b"hello!"));
        let norm: f32 = a.iter().map(|x| x * x).sum();
        assert!((norm - 1.0).abs() < 1e-5);
    }
}
