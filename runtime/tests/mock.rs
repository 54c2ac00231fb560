//! The built-in `mock` kind, through the whole router.
#![cfg(feature = "kind-mock")]
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod common;
use apex_runtime::host::Body;
use common::*;

fn mock_chat(body: &str) -> apex_runtime::host::HttpResponse {
    let host = FakeHost::new();
    let resp = run(&GATEWAY, &host, post("/v1/chat/completions", body));
    assert!(
        host.requests.borrow().is_empty(),
        "mock never touches the network"
    );
    resp
}

const ASK: &str = r#"{"model":"demo","messages":[{"role":"system","content":"be brief"},{"role":"user","content":"first"},{"role":"assistant","content":"ok"},{"role":"user","content":[{"type":"text","text":"how are you"}]}]"#;

#[test]
fn chat_replies_deterministically_to_the_last_user_message() {
    let body = format!("{ASK}}}");
    let resp = mock_chat(&body);
    assert_eq!(resp.status, 200);
    assert_eq!(resp.header("x-apex-provider"), Some("mock"));
    let v = json_of(resp);
    assert_eq!(v["object"], "chat.completion");
    assert_eq!(v["model"], "mock-1");
    assert_eq!(v["choices"][0]["message"]["role"], "assistant");
    assert_eq!(
        v["choices"][0]["message"]["content"],
        "mock reply: how are you"
    );
    assert_eq!(v["choices"][0]["finish_reason"], "stop");
    assert_eq!(v["usage"]["completion_tokens"], 5);
    assert_eq!(v["usage"]["prompt_tokens"], 7);
    assert_eq!(v["usage"]["total_tokens"], 12);
    let again = json_of(mock_chat(&body));
    assert_eq!(again["id"], v["id"]);
}

#[test]
fn chat_streams_word_by_word_as_sse_then_usage_then_done() {
    let body = format!(r#"{ASK},"stream":true,"stream_options":{{"include_usage":true}}}}"#);
    let resp = mock_chat(&body);
    assert_eq!(resp.status, 200);
    assert_eq!(resp.header("content-type"), Some("text/event-stream"));
    assert!(matches!(resp.body, Body::Stream(_)));
    let text = String::from_utf8(body_of(resp)).unwrap();
    assert!(text.ends_with("data: [DONE]\n\n"), "{text}");
    let events: Vec<serde_json::Value> = text
        .split("\n\n")
        .filter(|e| !e.is_empty() && *e != "data: [DONE]")
        .map(|e| serde_json::from_str(e.strip_prefix("data: ").unwrap()).unwrap())
        .collect();
    assert!(events
        .iter()
        .all(|e| e["object"] == "chat.completion.chunk"));
    let content: String = events
        .iter()
        .filter_map(|e| e["choices"].get(0)?["delta"]["content"].as_str())
        .collect();
    assert_eq!(content, "mock reply: how are you");
    let with_text = events
        .iter()
        .filter(|e| {
            e["choices"].get(0).is_some_and(|c| {
                c["delta"]["content"]
                    .as_str()
                    .is_some_and(|s| !s.is_empty())
            })
        })
        .count();
    assert_eq!(with_text, 5, "one chunk per word");
    let finish = events.iter().find(|e| {
        e["choices"]
            .get(0)
            .is_some_and(|c| c["finish_reason"] == "stop")
    });
    assert!(finish.is_some());
    let last = events.last().unwrap();
    assert_eq!(last["choices"].as_array().unwrap().len(), 0);
    assert_eq!(last["usage"]["total_tokens"], 12);
    assert!(events.iter().all(|e| e["id"] == events[0]["id"]));
}

#[test]
fn embeddings_are_deterministic_unit_vectors() {
    let host = FakeHost::new();
    let body = r#"{"model":"demo","input":["a b","c"]}"#;
    let v = json_of(run(&GATEWAY, &host, post("/v1/embeddings", body)));
    assert_eq!(v["object"], "list");
    let data = v["data"].as_array().unwrap();
    assert_eq!(data.len(), 2);
    let vec0: Vec<f64> = data[0]["embedding"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect();
    assert_eq!(vec0.len(), 8);
    assert!((vec0.iter().map(|x| x * x).sum::<f64>() - 1.0).abs() < 1e-4);
    assert_eq!(data[1]["index"], 1);
    assert_ne!(data[0]["embedding"], data[1]["embedding"]);
    assert_eq!(v["usage"]["prompt_tokens"], 3);
    let again = json_of(run(&GATEWAY, &host, post("/v1/embeddings", body)));
    assert_eq!(again["data"], v["data"]);
}

#[test]
fn embeddings_in_base64_are_little_endian_f32() {
    let host = FakeHost::new();
    let float = json_of(run(
        &GATEWAY,
        &host,
        post("/v1/embeddings", r#"{"model":"demo","input":"hello"}"#),
    ));
    let b64 = json_of(run(
        &GATEWAY,
        &host,
        post(
            "/v1/embeddings",
            r#"{"model":"demo","input":"hello","encoding_format":"base64"}"#,
        ),
    ));
    let encoded = b64["data"][0]["embedding"].as_str().unwrap();
    assert_eq!(encoded.len(), 44, "8 f32 = 32 bytes = 44 base64 chars");
    let bytes = decode_base64(encoded);
    let floats: Vec<f32> = bytes
        .chunks(4)
        .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
        .collect();
    let expected: Vec<f32> = float["data"][0]["embedding"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap() as f32)
        .collect();
    assert_eq!(floats, expected);
}

fn decode_base64(s: &str) -> Vec<u8> {
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let vals: Vec<u32> = s
        .bytes()
        .filter(|b| *b != b'=')
        .map(|b| alphabet.iter().position(|a| *a == b).unwrap() as u32)
        .collect();
    let mut out = Vec::new();
    for chunk in vals.chunks(4) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, v)| acc | (v << (18 - 6 * i)));
        for i in 0..chunk.len() - 1 {
            out.push((n >> (16 - 8 * i)) as u8);
        }
    }
    out
}
