//! Shared by the `anthropic_*` tests: a gateway with an OpenAI-compatible, an Anthropic and
//! a mock provider, scripted SSE upstreams split at awkward byte boundaries, and a reader for
//! what the client receives.
#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use crate::common::{body_of, FakeHost, GW_KEY};
use apex_runtime::gateway::Runtime;
use apex_runtime::host::{Body, HttpRequest, HttpResponse, StreamError};
use apex_runtime::table::{Gateway, Kind, Model, Provider, Route, Strategy};
use apex_runtime::wire::sse;
use bytes::Bytes;
use serde_json::Value;

/// `common::provider` with a longer first-byte timeout for these tests.
const fn provider(
    id: &'static str,
    kind: Kind,
    base_url: &'static str,
    api_keys: &'static [&'static str],
) -> Provider {
    Provider {
        timeout_ms: 5000,
        ..crate::common::provider(id, kind, base_url, api_keys)
    }
}

pub static PROVIDERS: [Provider; 3] = [
    provider(
        "claude",
        Kind::Anthropic,
        "https://api.anthropic.example",
        &["BETA_KEY"],
    ),
    provider("mock", Kind::Mock, "", &[]),
    provider(
        "up",
        Kind::OpenAi,
        "https://up.example/v1",
        &["ALPHA_KEY_1"],
    ),
];

/// Sorted by name.
pub static MODELS: [Model; 6] = [
    Model {
        name: "capped",
        strategy: Strategy::Priority,
        routes: &[Route {
            provider: 2,
            model: "small-model",
            weight: 1,
            max_tokens: Some(8000),
            limits: apex_runtime::table::Limits::NONE,
        }],
    },
    Model {
        name: "claude-sonnet-4-5",
        strategy: Strategy::Priority,
        routes: &[Route {
            provider: 2,
            model: "deepseek-chat",
            weight: 1,
            max_tokens: None,
            limits: apex_runtime::table::Limits::NONE,
        }],
    },
    Model {
        name: "demo",
        strategy: Strategy::Priority,
        routes: &[Route {
            provider: 1,
            model: "mock-1",
            weight: 1,
            max_tokens: None,
            limits: apex_runtime::table::Limits::NONE,
        }],
    },
    Model {
        name: "mixed",
        strategy: Strategy::Priority,
        routes: &[
            Route {
                provider: 2,
                model: "deepseek-chat",
                weight: 1,
                max_tokens: None,
                limits: apex_runtime::table::Limits::NONE,
            },
            Route {
                provider: 0,
                model: "claude-real",
                weight: 1,
                max_tokens: None,
                limits: apex_runtime::table::Limits::NONE,
            },
        ],
    },
    Model {
        name: "native",
        strategy: Strategy::Priority,
        routes: &[Route {
            provider: 0,
            model: "claude-real",
            weight: 1,
            max_tokens: None,
            limits: apex_runtime::table::Limits::NONE,
        }],
    },
    Model {
        name: "native-capped",
        strategy: Strategy::Priority,
        routes: &[Route {
            provider: 0,
            model: "claude-real",
            weight: 1,
            max_tokens: Some(1000),
            limits: apex_runtime::table::Limits::NONE,
        }],
    },
];

pub static GATEWAY: Gateway = Gateway {
    name: "anthropic-test",
    auth_keys: &["GW_KEY"],
    clients: &[],
    providers: &PROVIDERS,
    models: &MODELS,
    aliases: &[],
    patterns: &[],
    responses_store: None,
    max_attempts: 3,
    cooldown: apex_runtime::table::Cooldown::DEFAULT,
    pinning: apex_runtime::table::Pinning::Any,
};

/// A Messages request as Claude Code sends it (`?beta=true`, `x-api-key`, version, betas).
pub fn messages(body: &str) -> HttpRequest {
    messages_at("/v1/messages?beta=true", body)
}

pub fn messages_at(path: &str, body: &str) -> HttpRequest {
    HttpRequest {
        method: "POST".to_owned(),
        url: path.to_owned(),
        headers: vec![
            ("x-api-key".to_owned(), GW_KEY.to_owned()),
            ("anthropic-version".to_owned(), "2023-06-01".to_owned()),
            (
                "anthropic-beta".to_owned(),
                "claude-code-20250219,interleaved-thinking-2025-05-14".to_owned(),
            ),
            ("content-type".to_owned(), "application/json".to_owned()),
        ],
        body: Bytes::from(body.to_owned()),
    }
}

pub fn run(host: &FakeHost, req: HttpRequest) -> HttpResponse {
    let rt = Runtime::new(&GATEWAY);
    futures::executor::block_on(rt.handle(host, req))
}

/// A 200 SSE answer made of `text` cut into pieces of the given sizes (cycled), so events,
/// lines, `\r\n` pairs and UTF-8 characters all get split somewhere.
pub fn sse_answer(text: &str, sizes: &[usize]) -> HttpResponse {
    let bytes = text.as_bytes();
    let mut chunks = Vec::new();
    let mut at = 0;
    let mut i = 0;
    while at < bytes.len() {
        let n = sizes[i % sizes.len()].max(1);
        let end = (at + n).min(bytes.len());
        chunks.push(Ok::<Bytes, StreamError>(Bytes::copy_from_slice(
            &bytes[at..end],
        )));
        at = end;
        i += 1;
    }
    stream_answer(chunks)
}

pub fn stream_answer(chunks: Vec<Result<Bytes, StreamError>>) -> HttpResponse {
    HttpResponse {
        status: 200,
        headers: vec![("content-type".into(), "text/event-stream".into())],
        body: Body::Stream(Box::pin(futures::stream::iter(chunks))),
    }
}

/// OpenAI chat chunks as an upstream writes them (`data: {...}\n\n`, then `[DONE]`).
pub fn chat_sse(chunks: &[Value]) -> String {
    let mut s = String::new();
    for c in chunks {
        s.push_str("data: ");
        s.push_str(&c.to_string());
        s.push_str("\n\n");
    }
    s.push_str("data: [DONE]\n\n");
    s
}

/// One chat chunk with this delta (and finish reason).
pub fn delta(d: Value, finish: Option<&str>) -> Value {
    serde_json::json!({
        "id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": "deepseek-chat",
        "choices": [{"index": 0, "delta": d, "finish_reason": finish}],
    })
}

pub fn usage_chunk(prompt: u64, completion: u64) -> Value {
    serde_json::json!({
        "id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": "deepseek-chat",
        "choices": [], "usage": {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion},
    })
}

/// The SSE events the client received: (event name, data JSON).
pub fn client_events(resp: HttpResponse) -> Vec<(String, Value)> {
    let body = body_of(resp);
    let mut p = sse::Parser::default();
    let mut out = Vec::new();
    p.feed(&body, &mut out).unwrap();
    p.finish(&mut out).unwrap();
    out.into_iter()
        .map(|e| {
            let v = serde_json::from_str(&e.data)
                .unwrap_or_else(|err| panic!("data is not JSON ({err}): {}", e.data));
            (e.event, v)
        })
        .collect()
}

/// Event names, with the delta type for deltas (`content_block_delta:text_delta`).
pub fn names(events: &[(String, Value)]) -> Vec<String> {
    events
        .iter()
        .map(|(name, v)| match v["delta"]["type"].as_str() {
            Some(t) if name == "content_block_delta" => format!("{name}:{t}"),
            _ => name.clone(),
        })
        .collect()
}

/// The JSON body of the last upstream request.
pub fn upstream_body(host: &FakeHost) -> Value {
    let reqs = host.requests.borrow();
    let (req, _) = reqs.last().expect("no upstream request");
    serde_json::from_slice(&req.body).expect("upstream body is JSON")
}

/// A request body captured from a real client (`tests/fixtures/samples/NAME` at the repository root).
pub fn sample(name: &str) -> Value {
    let dir = std::env::var("APEX_SAMPLES_DIR")
        .unwrap_or_else(|_| format!("{}/../tests/fixtures/samples", env!("CARGO_MANIFEST_DIR")));
    let path = format!("{dir}/{name}");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("sample {path}: {e} (set APEX_SAMPLES_DIR)"));
    let v: Value = serde_json::from_str(&text).unwrap();
    v["body"].clone()
}
