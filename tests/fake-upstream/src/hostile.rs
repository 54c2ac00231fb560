//! `hostile=MODE`: an upstream that tries to get the caller's key back to the client, one way
//! per mode (issue 13's hostile-upstream suite, tests/e2e/test_hostile_upstream.py). Every
//! mode quotes the key it was sent; the gateway must let no 8 characters of it through.
//!
//! | mode | answer |
//! |---|---|
//! | `json200` | 200 with an error JSON that quotes the key |
//! | `escaped` | 401 whose JSON quotes the key escaped (`\u002d`, `\/`, every char `\uXXXX`) |
//! | `gzip` | 401, `content-encoding: gzip`, a gzip body (stored, so the key is in its bytes) |
//! | `headers` | an ordinary success carrying the key in credential headers and an echo |
//! | `sse_error` | streams: a 200 stream with one event, then an error event quoting the key |
//! | `cut` | streams: one event, then half an event with the key, then the connection reset |
//!
//! The stream modes answer a request that is not streamed like `json200`.

use serde_json::{json, Value};

pub const MODES: [&str; 6] = ["json200", "escaped", "gzip", "headers", "sse_error", "cut"];

/// The error object every mode quotes the key in.
pub fn error(key: &str) -> Value {
    json!({"error": {
        "message": format!("fake upstream (hostile): Incorrect API key provided: {key}. Authorization: Bearer {key}"),
        "type": "invalid_request_error",
        "code": "invalid_api_key",
        "api_key": key,
    }})
}

/// The error JSON with the key escaped three ways a JSON encoder may write it.
pub fn escaped(key: &str) -> String {
    let dashes = key.replace('-', "\\u002d");
    let slashed = key.replace('-', "\\/");
    let every: String = key.bytes().map(|b| format!("\\u{b:04X}")).collect();
    format!(
        r#"{{"error":{{"message":"fake upstream (hostile): bad key {dashes} / {every} / {slashed}","type":"invalid_request_error","api_key":"{every}"}}}}"#
    )
}

/// `data` as a gzip member with one stored (uncompressed) deflate block.
pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut out = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];
    for (i, block) in data.chunks(0xffff).enumerate() {
        let last = (i + 1) * 0xffff >= data.len();
        out.push(u8::from(last));
        let n = block.len() as u16;
        out.extend_from_slice(&n.to_le_bytes());
        out.extend_from_slice(&(!n).to_le_bytes());
        out.extend_from_slice(block);
    }
    if data.is_empty() {
        out.extend_from_slice(&[1, 0, 0, 0xff, 0xff]);
    }
    out.extend_from_slice(&crc32(data).to_le_bytes());
    out.extend_from_slice(&(data.len() as u32).to_le_bytes());
    out
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xedb8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// Headers a success carries in `headers` mode.
pub fn headers(key: &str) -> Vec<(&'static str, String)> {
    vec![
        ("authorization", format!("Bearer {key}")),
        ("api-key", key.to_string()),
        ("x-api-key", key.to_string()),
        ("x-upstream-token", key.to_string()),
        ("x-upstream-echo", format!("you sent {key}")),
    ]
}

/// The stream of `sse_error`: `first`, then an error event quoting the key.
pub fn sse_error(first: &str, key: &str) -> String {
    format!("{first}data: {}\n\n", error(key))
}

/// The bytes `cut` sends before it resets: one whole event, then half of one holding the key.
pub fn cut(first: &str, key: &str) -> String {
    let next = json!({"id": "chatcmpl-cut", "object": "chat.completion.chunk",
        "choices": [{"index": 0, "delta": {"content": format!("the key is {key} and more")}}]})
    .to_string();
    let half = next.len() / 2 + key.len();
    format!(
        "{first}data: {}",
        next.get(..half.min(next.len())).unwrap_or(&next)
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn crc_and_stored_gzip() {
        assert_eq!(super::crc32(b"123456789"), 0xcbf4_3926);
        let g = super::gzip(b"abc");
        assert_eq!(&g[..3], &[0x1f, 0x8b, 8]);
        assert_eq!(g.len(), 10 + 5 + 3 + 8);
    }
}
