//! Deterministic OpenAI-shaped answers derived from the request.
//!
//! Chat replies echo the last user message (`echo: <text>`); embeddings are unit vectors
//! derived from a hash of each input. Every answer names the model it was asked for and
//! carries the API key it received in `system_fingerprint` (`fake:<key>`), so a test can tell
//! which route and which key a gateway used. The keys here are fake test keys.

use serde_json::{json, Value};
use std::time::{SystemTime, UNIX_EPOCH};

/// Fixed `created` timestamp: answers are byte-for-byte reproducible.
pub const CREATED: u64 = 1_700_000_000;

/// The text of a message's `content` (a string, or an array of `{type:"text",text}` parts).
pub fn content_text(content: &Value) -> String {
    match content {
        Value::String(s) => s.clone(),
        Value::Array(parts) => parts
            .iter()
            .filter_map(|p| p.get("text").and_then(Value::as_str))
            .collect::<Vec<_>>()
            .join(""),
        _ => String::new(),
    }
}

/// The last `user` message's text, or "" when there is none.
pub fn last_user_text(req: &Value) -> String {
    req.get("messages")
        .and_then(Value::as_array)
        .and_then(|m| {
            m.iter()
                .rev()
                .find(|msg| msg.get("role").and_then(Value::as_str) == Some("user"))
        })
        .and_then(|msg| msg.get("content"))
        .map(content_text)
        .unwrap_or_default()
}

/// All message texts joined (to look for `[[fake:...]]` directives anywhere in the request).
pub fn all_text(req: &Value) -> String {
    let mut out = String::new();
    if let Some(msgs) = req.get("messages").and_then(Value::as_array) {
        for m in msgs {
            if let Some(c) = m.get("content") {
                out.push_str(&content_text(c));
                out.push('\n');
            }
        }
    }
    if let Some(input) = req.get("input") {
        out.push_str(&input.to_string());
    }
    out
}

/// The request offers a function tool called `name` (`tools[].function.name`).
pub fn offers_tool(req: &Value, name: &str) -> bool {
    req.get("tools")
        .and_then(Value::as_array)
        .is_some_and(|tools| {
            tools
                .iter()
                .any(|t| t.pointer("/function/name").and_then(Value::as_str) == Some(name))
        })
}

/// Rough token count: words, at least 1.
pub fn tokens(text: &str) -> u64 {
    text.split_whitespace().count().max(1) as u64
}

pub fn fingerprint(key: &str) -> String {
    format!("fake:{key}")
}

/// Wall clock in milliseconds since the Unix epoch (for `x_sent_ms`).
pub fn now_ms() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64() * 1000.0)
        .unwrap_or(0.0)
}

pub fn chat_completion(id: &str, model: &str, key: &str, prompt: &str, reply: &str) -> Value {
    let (p, c) = (tokens(prompt), tokens(reply));
    json!({
        "id": id,
        "object": "chat.completion",
        "created": CREATED,
        "model": model,
        "system_fingerprint": fingerprint(key),
        "choices": [{
            "index": 0,
            "message": {"role": "assistant", "content": reply, "refusal": null},
            "logprobs": null,
            "finish_reason": "stop"
        }],
        "usage": {"prompt_tokens": p, "completion_tokens": c, "total_tokens": p + c}
    })
}

/// One `chat.completion.chunk`. `delta` None with `finish` Some is the finish event;
/// `usage` Some is the usage event (empty choices). `x_sent_ms` is when the fake upstream
/// wrote it, so a test can measure how late the client saw it.
pub fn chunk(
    id: &str,
    model: &str,
    key: &str,
    delta: Value,
    finish: Option<&str>,
    usage: Option<Value>,
) -> Value {
    let choices = if usage.is_some() {
        json!([])
    } else {
        json!([{"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish}])
    };
    let mut v = json!({
        "id": id,
        "object": "chat.completion.chunk",
        "created": CREATED,
        "model": model,
        "system_fingerprint": fingerprint(key),
        "choices": choices,
        "x_sent_ms": now_ms(),
    });
    if let (Some(u), Some(obj)) = (usage, v.as_object_mut()) {
        obj.insert("usage".into(), u);
    }
    v
}

pub fn sse(v: &Value) -> String {
    format!("data: {v}\n\n")
}

/// The pieces a streamed reply is cut into: its words (each with its following space), or
/// `n` numbered pieces when the test asked for an exact count.
pub fn pieces(reply: &str, n: Option<usize>) -> Vec<String> {
    if let Some(n) = n {
        return (0..n).map(|k| format!("{k} ")).collect();
    }
    let mut out = Vec::new();
    let mut cur = String::new();
    for ch in reply.chars() {
        cur.push(ch);
        if ch == ' ' {
            out.push(std::mem::take(&mut cur));
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// FNV-1a, for deterministic embeddings.
fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// A unit vector of `dims` values derived from `input`.
pub fn embedding_vector(input: &str, dims: usize) -> Vec<f32> {
    let mut state = fnv1a(input.as_bytes()) | 1;
    let mut v: Vec<f32> = (0..dims)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            ((state >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
        })
        .collect();
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        v.iter_mut().for_each(|x| *x /= norm);
    }
    v
}

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

pub fn base64(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for c in bytes.chunks(3) {
        let n = (u32::from(c[0]) << 16)
            | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
            | u32::from(*c.get(2).unwrap_or(&0));
        for i in 0..4 {
            if i <= c.len() {
                out.push(B64[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// The inputs of an embeddings request as strings (token arrays are rendered as JSON).
pub fn embedding_inputs(req: &Value) -> Vec<String> {
    match req.get("input") {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(items)) if items.iter().all(Value::is_number) => {
            vec![Value::Array(items.clone()).to_string()]
        }
        Some(Value::Array(items)) => items
            .iter()
            .map(|i| {
                i.as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| i.to_string())
            })
            .collect(),
        _ => Vec::new(),
    }
}

pub fn embeddings(model: &str, key: &str, req: &Value) -> Value {
    let dims = req
        .get("dimensions")
        .and_then(Value::as_u64)
        .unwrap_or(8)
        .clamp(1, 4096) as usize;
    let b64 = req.get("encoding_format").and_then(Value::as_str) == Some("base64");
    let inputs = embedding_inputs(req);
    let mut total = 0;
    let data: Vec<Value> = inputs
        .iter()
        .enumerate()
        .map(|(i, text)| {
            total += tokens(text);
            let v = embedding_vector(text, dims);
            let emb = if b64 {
                let bytes: Vec<u8> = v.iter().flat_map(|x| x.to_le_bytes()).collect();
                Value::String(base64(&bytes))
            } else {
                json!(v)
            };
            json!({"object": "embedding", "index": i, "embedding": emb})
        })
        .collect();
    json!({
        "object": "list",
        "data": data,
        "model": model,
        "system_fingerprint": fingerprint(key),
        "usage": {"prompt_tokens": total, "total_tokens": total}
    })
}

pub fn models() -> Value {
    let data: Vec<Value> = ["echo", "fake-embed"]
        .iter()
        .map(|id| json!({"id": id, "object": "model", "created": CREATED, "owned_by": "fake-upstream"}))
        .collect();
    json!({"object": "list", "data": data})
}

pub fn error(status: u16, message: &str, kind: &str) -> Value {
    json!({"error": {"message": message, "type": kind, "param": null, "code": format!("fake_{status}")}})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_known_values() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(b"foobar"), "Zm9vYmFy");
    }

    #[test]
    fn embeddings_are_deterministic_unit_vectors() {
        let a = embedding_vector("hello", 8);
        assert_eq!(a, embedding_vector("hello", 8));
        assert_ne!(a, embedding_vector("hellp", 8));
        let norm: f32 = a.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-5);
    }

    #[test]
    fn pieces_keep_the_whole_reply() {
        assert_eq!(pieces("echo: a b", None).concat(), "echo: a b");
        assert_eq!(pieces("x", Some(3)), vec!["0 ", "1 ", "2 "]);
    }

    #[test]
    fn last_user_text_reads_parts() {
        let req = json!({"messages": [
            {"role": "user", "content": "first"},
            {"role": "assistant", "content": "x"},
            {"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]}
        ]});
        assert_eq!(last_user_text(&req), "ab");
    }
}
