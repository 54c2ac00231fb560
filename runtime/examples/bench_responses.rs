//! Benchmark (not a test): what bridging `/v1/responses` to a chat-completions upstream costs
//! in CPU, through the whole router with an in-process upstream (no network).
//!
//! 1. The real Codex CLI request (`tests/fixtures/codex-turn2.json`: 41 KB, 16 tools, a
//!    function call and its output) → the upstream chat body, answered by a one-event stream.
//! 2. A 2,000-event upstream chat stream (text deltas) → Responses SSE events.
//!
//!   cargo run --release -p apex-runtime --example bench_responses --features kind-openai
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use apex_runtime::gateway::Runtime;
use apex_runtime::host::{Body, FetchError, Host, HttpRequest, HttpResponse};
use apex_runtime::table::{Cooldown, Gateway, Kind, Model, Provider, Route, Strategy};
use bytes::Bytes;
use futures::StreamExt;
use std::cell::RefCell;
use std::time::{Duration, Instant};

static PROVIDERS: [Provider; 1] = [Provider {
    id: "up",
    kind: Kind::OpenAi,
    base_url: "https://up.example/v1",
    api_keys: &["UP_KEY"],
    api_version: None,
    headers: &[],
    timeout_ms: 30_000,
    native_responses: false,
    key_limits: &[],
    limits: apex_runtime::table::Limits::NONE,
    reset: apex_runtime::table::DailyReset::UTC,
}];
static MODELS: [Model; 1] = [Model {
    name: "m",
    strategy: Strategy::Priority,
    routes: &[Route {
        provider: 0,
        model: "up-model",
        weight: 1,
        max_tokens: None,
        limits: apex_runtime::table::Limits::NONE,
    }],
}];
static GATEWAY: Gateway = Gateway {
    name: "bench",
    auth_keys: &[],
    clients: &[],
    providers: &PROVIDERS,
    models: &MODELS,
    aliases: &[],
    patterns: &[],
    responses_store: None,
    max_attempts: 1,
    cooldown: Cooldown::DEFAULT,
    pinning: apex_runtime::table::Pinning::Off,
};

/// An upstream that answers every call with the same SSE body, in chunks of one event.
struct Bench {
    answer: RefCell<Vec<Bytes>>,
}

impl Host for Bench {
    fn secret(&self, _: &str) -> Option<String> {
        Some("k".into())
    }
    fn fetch(
        &self,
        _: HttpRequest,
        _: u32,
    ) -> impl std::future::Future<Output = Result<HttpResponse, FetchError>> {
        let chunks: Vec<Result<Bytes, apex_runtime::host::StreamError>> =
            self.answer.borrow().iter().cloned().map(Ok).collect();
        std::future::ready(Ok(HttpResponse {
            status: 200,
            headers: vec![("content-type".into(), "text/event-stream".into())],
            body: Body::Stream(Box::pin(futures::stream::iter(chunks))),
        }))
    }
    fn now_ms(&self) -> u64 {
        0
    }
    fn random_u32(&self) -> u32 {
        4
    }
    fn sleep(&self, _: u64) -> impl std::future::Future<Output = ()> {
        std::future::ready(())
    }
}

fn sse(events: &[String]) -> Vec<Bytes> {
    let mut out: Vec<Bytes> = events
        .iter()
        .map(|e| Bytes::from(format!("data: {e}\n\n")))
        .collect();
    out.push(Bytes::from_static(b"data: [DONE]\n\n"));
    out
}

fn run(rt: &Runtime, host: &Bench, body: &Bytes) -> usize {
    futures::executor::block_on(async {
        let req = HttpRequest {
            method: "POST".into(),
            url: "/v1/responses".into(),
            headers: vec![("content-type".into(), "application/json".into())],
            body: body.clone(),
        };
        let resp = rt.handle(host, req).await;
        assert_eq!(resp.status, 200);
        let Body::Stream(mut s) = resp.body else {
            panic!("not streamed")
        };
        let mut n = 0;
        while let Some(c) = s.next().await {
            n += c.unwrap().len();
        }
        n
    })
}

fn time(label: &str, iters: u32, mut f: impl FnMut()) -> Duration {
    for _ in 0..iters.div_ceil(10) {
        f();
    }
    let start = Instant::now();
    for _ in 0..iters {
        f();
    }
    let per = start.elapsed() / iters;
    println!("{label}: {per:?} per request ({iters} runs)");
    per
}

fn main() {
    let rt = Runtime::new(&GATEWAY);
    let mut codex: serde_json::Value =
        serde_json::from_str(include_str!("../tests/fixtures/codex-turn2.json")).unwrap();
    codex["model"] = "m".into();
    let body = Bytes::from(codex.to_string());

    let finish = r#"{"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}"#.to_string();
    let host = Bench {
        answer: RefCell::new(sse(std::slice::from_ref(&finish))),
    };
    time(
        "codex request (41 KB, 16 tools) bridged, 1-event answer",
        500,
        || {
            run(&rt, &host, &body);
        },
    );

    let mut events: Vec<String> = (0..1999)
        .map(|i| format!(r#"{{"choices":[{{"index":0,"delta":{{"content":"word{i} "}},"finish_reason":null}}]}}"#))
        .collect();
    events.push(finish);
    *host.answer.borrow_mut() = sse(&events);
    let small = Bytes::from(r#"{"model":"m","input":"hi","stream":true,"store":false}"#);
    let mut out = 0;
    let per = time("2,000-event chat stream → Responses SSE", 50, || {
        out = run(&rt, &host, &small);
    });
    println!("  = {:?} per upstream event; {out} bytes out", per / 2000);
}
