//! Declared limits, seen from the client: requests go to the key with the most room, a route
//! out of quota is never sent, and when none has room the answer is the gateway's own 429 in
//! the client's protocol with `Retry-After` at the soonest reset. Limits an upstream announces
//! (`x-ratelimit-remaining-*: 0`) are honoured until its reset, declared or not. Time is the
//! fake host's virtual clock.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod common;
use apex_runtime::gateway::Runtime;
use apex_runtime::host::{FetchError, HttpResponse};
use apex_runtime::table::{
    Cooldown, DailyReset, Gateway, Kind, Limits, Model, Pinning, Provider, Route, Strategy,
};
use common::*;
use futures::executor::block_on;

const fn rpd(n: u32) -> Limits {
    Limits {
        rpm: None,
        rpd: Some(n),
        tpm: None,
        tpd: None,
    }
}

const fn rpm(n: u32) -> Limits {
    Limits {
        rpm: Some(n),
        rpd: None,
        tpm: None,
        tpd: None,
    }
}

const fn tpm(n: u64) -> Limits {
    Limits {
        rpm: None,
        rpd: None,
        tpm: Some(n),
        tpd: None,
    }
}

static PROVIDERS: [Provider; 5] = [
    // Two free-tier keys: 3 and 2 requests a day.
    Provider {
        key_limits: &[rpd(3), rpd(2)],
        ..provider(
            "alpha",
            Kind::OpenAi,
            "https://alpha.example/v1",
            &["ALPHA_KEY_1", "ALPHA_KEY_2"],
        )
    },
    // An account-wide 10 requests a minute, resetting daily at 00:00 UTC+1.
    Provider {
        limits: rpm(10),
        reset: DailyReset {
            at_minute: 0,
            offsets: &[(0, 60)],
        },
        ..provider(
            "beta",
            Kind::OpenAi,
            "https://beta.example/v1",
            &["BETA_KEY"],
        )
    },
    Provider {
        key_limits: &[rpd(1)],
        ..provider(
            "claude",
            Kind::Anthropic,
            "https://claude.example",
            &["AZURE_KEY"],
        )
    },
    // No limits of its own (a paid key).
    provider(
        "delta",
        Kind::OpenAi,
        "https://delta.example/v1",
        &["ALPHA_KEY_2"],
    ),
    // A key of 1,000 tokens a minute.
    Provider {
        key_limits: &[tpm(1000)],
        ..provider(
            "gamma",
            Kind::OpenAi,
            "https://gamma.example/v1",
            &["BETA_KEY"],
        )
    },
];

const fn route(provider: u16, model: &'static str, limits: Limits) -> Route {
    Route {
        provider,
        model,
        weight: 1,
        max_tokens: None,
        limits,
    }
}

static MODELS: [Model; 7] = [
    Model {
        name: "beta",
        strategy: Strategy::Priority,
        routes: &[route(1, "b-model", Limits::NONE)],
    },
    Model {
        name: "claude",
        strategy: Strategy::Priority,
        routes: &[route(2, "claude-x", Limits::NONE)],
    },
    Model {
        name: "free",
        strategy: Strategy::Priority,
        routes: &[route(0, "a-model", Limits::NONE)],
    },
    Model {
        name: "free-then-beta",
        strategy: Strategy::Priority,
        routes: &[
            route(0, "a-model", Limits::NONE),
            route(1, "b-model", Limits::NONE),
        ],
    },
    Model {
        name: "per-model",
        strategy: Strategy::Priority,
        routes: &[route(1, "b-model", rpd(2))],
    },
    Model {
        name: "tokens",
        strategy: Strategy::Priority,
        routes: &[route(4, "g-model", Limits::NONE)],
    },
    Model {
        name: "unlimited",
        strategy: Strategy::Priority,
        routes: &[route(3, "d-model", Limits::NONE)],
    },
];

static LIMITED: Gateway = Gateway {
    name: "limited",
    auth_keys: &[],
    clients: &[],
    providers: &PROVIDERS,
    models: &MODELS,
    aliases: &[],
    patterns: &[],
    responses_store: None,
    max_attempts: 3,
    cooldown: Cooldown::DEFAULT,
    pinning: Pinning::Off,
};

fn send(rt: &Runtime, host: &FakeHost, model: &str) -> HttpResponse {
    block_on(rt.handle(host, post("/v1/chat/completions", &chat(model))))
}

fn key_of(host: &FakeHost, i: usize) -> String {
    let reqs = host.requests.borrow();
    let r = &reqs[i].0;
    let auth = r.header("authorization").or(r.header("x-api-key")).unwrap();
    auth.trim_start_matches("Bearer ").to_owned()
}

#[test]
fn two_keys_of_rpd_3_and_2_serve_5_requests_then_the_gateway_answers_429_until_midnight() {
    let host = FakeHost::new();
    let rt = Runtime::new(&LIMITED);
    for _ in 0..5 {
        assert_eq!(send(&rt, &host, "free").status, 200);
    }
    let used: Vec<String> = (0..5).map(|i| key_of(&host, i)).collect();
    assert_eq!(used.iter().filter(|k| *k == ALPHA_KEY_1).count(), 3);
    assert_eq!(used.iter().filter(|k| *k == ALPHA_KEY_2).count(), 2);

    host.advance(3_600_000); // 01:00 UTC
    let resp = send(&rt, &host, "free");
    assert_eq!(resp.status, 429);
    assert_eq!(host.requests.borrow().len(), 5, "nothing sent upstream");
    assert_eq!(
        header(&resp, "retry-after"),
        Some("82800"),
        "23 h to midnight UTC"
    );
    let body = json_of(resp);
    assert_eq!(body["error"]["code"], "quota_exhausted");
    assert_eq!(body["error"]["type"], "rate_limit_error");

    host.advance(82_800_000); // the next day
    assert_eq!(send(&rt, &host, "free").status, 200);
}

#[test]
fn a_route_out_of_quota_is_skipped_for_the_next_one() {
    let host = FakeHost::new();
    let rt = Runtime::new(&LIMITED);
    for _ in 0..5 {
        assert_eq!(send(&rt, &host, "free-then-beta").status, 200);
    }
    let resp = send(&rt, &host, "free-then-beta");
    assert_eq!(resp.status, 200);
    assert_eq!(header(&resp, "x-apex-provider"), Some("beta"));
    assert_eq!(header(&resp, "x-apex-attempts"), Some("1"));
}

#[test]
fn an_account_limit_of_10_a_minute_lets_exactly_10_through() {
    let host = FakeHost::new();
    let rt = Runtime::new(&LIMITED);
    let statuses: Vec<u16> = (0..32)
        .map(|_| {
            host.advance(100);
            send(&rt, &host, "beta").status
        })
        .collect();
    assert_eq!(statuses.iter().filter(|s| **s == 200).count(), 10);
    assert_eq!(statuses.iter().filter(|s| **s == 429).count(), 22);
    assert_eq!(host.requests.borrow().len(), 10);
    // The minute rolls: the first request's second leaves the window 60 s after it.
    host.advance(60_000 - 3_200 + 1_000);
    assert_eq!(send(&rt, &host, "beta").status, 200);
}

#[test]
fn a_limit_per_upstream_model_counts_that_model_alone() {
    let host = FakeHost::new();
    let rt = Runtime::new(&LIMITED);
    assert_eq!(send(&rt, &host, "per-model").status, 200);
    assert_eq!(send(&rt, &host, "per-model").status, 200);
    let resp = send(&rt, &host, "per-model");
    assert_eq!(resp.status, 429);
    // Midnight at UTC+1 is 23:00 UTC: 23 h after the fake clock's 00:00 UTC start.
    assert_eq!(header(&resp, "retry-after"), Some("82800"));
    assert_eq!(host.requests.borrow().len(), 2);
}

#[test]
fn an_upstream_429_gives_the_reservation_back() {
    let host = FakeHost::new();
    let rt = Runtime::new(&LIMITED);
    // claude's one key has rpd 1. The upstream refuses the first try: it did not count it.
    host.then_with(
        429,
        &[("retry-after", "1")],
        r#"{"type":"error","error":{"type":"rate_limit_error","message":"slow down"}}"#,
    );
    assert_eq!(send(&rt, &host, "claude").status, 429);
    host.advance(1_000);
    host.then_status(200, &anthropic_ok());
    assert_eq!(send(&rt, &host, "claude").status, 200);
    assert_eq!(host.requests.borrow().len(), 2);
    // Now the day's one request is spent.
    assert_eq!(send(&rt, &host, "claude").status, 429);
    assert_eq!(host.requests.borrow().len(), 2);
}

#[test]
fn a_connection_that_never_opened_gives_the_reservation_back() {
    let host = FakeHost::new();
    let rt = Runtime::new(&LIMITED);
    host.then(Err(FetchError::Connect("connection refused".into())));
    assert_eq!(send(&rt, &host, "claude").status, 502);
    host.then_status(200, &anthropic_ok());
    assert_eq!(send(&rt, &host, "claude").status, 200);
    assert_eq!(send(&rt, &host, "claude").status, 429);
    assert_eq!(host.requests.borrow().len(), 2);
}

#[test]
fn out_of_quota_speaks_the_clients_protocol() {
    let host = FakeHost::new();
    let rt = Runtime::new(&LIMITED);
    let messages =
        r#"{"model":"claude","max_tokens":10,"messages":[{"role":"user","content":"hi"}]}"#;
    host.then_status(200, &anthropic_ok());
    let first = block_on(rt.handle(&host, post("/v1/messages", messages)));
    assert_eq!(first.status, 200);
    let resp = block_on(rt.handle(&host, post("/v1/messages", messages)));
    assert_eq!(resp.status, 429);
    assert!(header(&resp, "retry-after").is_some());
    let body = json_of(resp);
    assert_eq!(body["type"], "error");
    assert_eq!(body["error"]["type"], "rate_limit_error");
}

#[test]
fn a_key_an_upstream_says_is_spent_is_not_called_before_its_reset() {
    // The shared test gateway declares no limits: what the upstream says is enough.
    let host = FakeHost::new();
    let rt = Runtime::new(&GATEWAY);
    let spent = [
        ("x-ratelimit-remaining-requests", "0"),
        // Longer than the 60 s cooldown cap: the upstream said exactly when.
        ("x-ratelimit-reset-requests", "2m"),
    ];
    host.then_with(200, &spent, r#"{"ok":true}"#);
    let gw = [("authorization", "Bearer gw-key-aaaa")];
    let req = || request("POST", "/v1/chat/completions", &gw, &chat("chat-pri"));
    assert_eq!(block_on(rt.handle(&host, req())).status, 200);
    let first = key_of(&host, 0);
    host.advance(90_000);
    for _ in 0..4 {
        assert_eq!(block_on(rt.handle(&host, req())).status, 200);
    }
    for i in 1..5 {
        assert_ne!(key_of(&host, i), first, "request {i} used the spent key");
    }
    host.advance(30_000);
    for _ in 0..2 {
        block_on(rt.handle(&host, req()));
    }
    assert!(
        (5..7).any(|i| key_of(&host, i) == first),
        "the key is back after its reset"
    );
}

fn anthropic_ok() -> String {
    r#"{"id":"msg_1","type":"message","role":"assistant","model":"claude-x","content":[{"type":"text","text":"hi"}],"stop_reason":"end_turn","stop_sequence":null,"usage":{"input_tokens":3,"output_tokens":1}}"#.to_owned()
}

/// A shared store that cannot be reached (a Durable Object that is down, Redis gone).
struct Unreachable;

impl apex_runtime::quota::Store for Unreachable {
    fn reserve(
        &self,
        _: apex_runtime::quota::Ask,
        _: Vec<apex_runtime::quota::Settle>,
    ) -> apex_runtime::host::LocalFuture<Result<apex_runtime::quota::Grant, String>> {
        Box::pin(async { Err("quota object: connection refused".to_string()) })
    }

    fn settle(
        &self,
        _: Vec<apex_runtime::quota::Settle>,
    ) -> apex_runtime::host::LocalFuture<Result<(), String>> {
        Box::pin(async { Err("quota object: connection refused".to_string()) })
    }
}

#[test]
fn a_shared_store_that_is_down_fails_no_request_counts_in_the_isolate_and_says_so() {
    let host = FakeHost::new();
    let mut rt = Runtime::new(&LIMITED);
    rt.engine.use_quota_store(std::rc::Rc::new(Unreachable));
    let statuses: Vec<u16> = (0..6).map(|_| send(&rt, &host, "free").status).collect();
    // The isolate's own counts still hold the declared limits: 5 then the gateway's 429.
    assert_eq!(statuses, vec![200, 200, 200, 200, 200, 429]);
    assert_eq!(host.requests.borrow().len(), 5);
    let logs = host.logs.borrow();
    assert_eq!(logs.len(), 6, "one line a request");
    assert!(
        logs.iter()
            .all(|l| l.contains(r#""quota_fallback":"quota object: connection refused""#)),
        "{logs:?}"
    );
}

/// An answer that reports `total` tokens of usage.
fn used(total: u32) -> String {
    format!(
        r#"{{"choices":[{{"message":{{"role":"assistant","content":"ok"}}}}],"usage":{{"prompt_tokens":10,"completion_tokens":{},"total_tokens":{total}}}}}"#,
        total - 10
    )
}

fn streamed(events: &'static str) -> HttpResponse {
    HttpResponse {
        status: 200,
        headers: vec![("content-type".into(), "text/event-stream".into())],
        body: apex_runtime::host::Body::Stream(Box::pin(futures::stream::iter([Ok(
            bytes::Bytes::from_static(events.as_bytes()),
        )]))),
    }
}

#[test]
fn the_tokens_an_answer_reports_count_against_the_limit_not_the_estimate() {
    // A request of ~90 bytes is estimated at ~22 tokens: 40 would fit in tpm 1,000. Each
    // answer reports 400, so the third fills the minute and the fourth does not fit.
    let host = FakeHost::new();
    let rt = Runtime::new(&LIMITED);
    let statuses: Vec<u16> = (0..5)
        .map(|_| {
            host.then_status(200, &used(400));
            host.advance(100);
            let resp = send(&rt, &host, "tokens");
            let status = resp.status;
            let _ = body_of(resp);
            status
        })
        .collect();
    assert_eq!(statuses, vec![200, 200, 200, 429, 429]);
    assert_eq!(host.requests.borrow().len(), 3);
}

const EVENTS: &str = concat!(
        "data: {\"choices\":[{\"delta\":{\"content\":\"ok\"}}],\"usage\":null}\n\n",
        "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":10,\"completion_tokens\":590,\"total_tokens\":600}}\n\n",
        "data: [DONE]\n\n",
);

#[test]
fn a_streamed_answer_corrects_the_estimate_once_it_has_been_read() {
    let host = FakeHost::new();
    let rt = Runtime::new(&LIMITED);
    let body = r#"{"model":"tokens","stream":true,"messages":[{"role":"user","content":"hi"}]}"#;
    let mut statuses = Vec::new();
    let mut bodies = Vec::new();
    for _ in 0..3 {
        host.then(Ok(streamed(EVENTS)));
        host.advance(100);
        let resp = block_on(rt.handle(&host, post("/v1/chat/completions", body)));
        statuses.push(resp.status);
        bodies.push(String::from_utf8(body_of(resp)).unwrap());
    }
    // 600 after the first: the second's estimate still fits, 1,200 does not.
    assert_eq!(statuses, vec![200, 200, 429]);
    assert_eq!(host.requests.borrow().len(), 2);
    // The gateway asked for the usage the client did not, and kept it from the client.
    let sent: serde_json::Value =
        serde_json::from_slice(&host.requests.borrow()[0].0.body).unwrap();
    assert_eq!(sent["stream_options"]["include_usage"], true);
    assert!(bodies[0].contains("\"content\":\"ok\""), "{}", bodies[0]);
    assert!(!bodies[0].contains("total_tokens"), "{}", bodies[0]);
    assert!(bodies[0].ends_with("data: [DONE]\n\n"), "{}", bodies[0]);
}

#[test]
fn a_client_that_asked_for_stream_usage_gets_it_and_its_options_are_sent_as_written() {
    let host = FakeHost::new();
    let rt = Runtime::new(&LIMITED);
    let body = r#"{"model":"tokens","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"hi"}]}"#;
    host.then(Ok(streamed(EVENTS)));
    let resp = block_on(rt.handle(&host, post("/v1/chat/completions", body)));
    let text = String::from_utf8(body_of(resp)).unwrap();
    assert!(text.contains("\"total_tokens\":600"), "{text}");
    let sent = String::from_utf8(host.requests.borrow()[0].0.body.to_vec()).unwrap();
    assert_eq!(sent.matches("stream_options").count(), 1, "{sent}");
}

#[test]
fn a_429_one_isolate_got_on_a_route_without_limits_rests_that_key_for_every_isolate() {
    // Two isolates of one worker: their own cooldowns, one shared store.
    let store = std::sync::Arc::new(apex_runtime::quota::Local::default());
    let isolate = || {
        let mut rt = Runtime::new(&LIMITED);
        rt.engine.use_quota_store(std::rc::Rc::new(store.clone()));
        rt
    };
    let (a, b) = (isolate(), isolate());
    let host = FakeHost::new();
    host.then_with(
        429,
        &[("retry-after", "30")],
        r#"{"error":{"message":"slow down"}}"#,
    );
    assert_eq!(send(&a, &host, "unlimited").status, 429);
    assert_eq!(host.requests.borrow().len(), 1);

    host.advance(1_000);
    let resp = send(&b, &host, "unlimited");
    assert_eq!(
        host.requests.borrow().len(),
        1,
        "the other isolate called the resting key"
    );
    assert_eq!(resp.status, 429);
    let retry: u64 = header(&resp, "retry-after").unwrap().parse().unwrap();
    assert!((28..=30).contains(&retry), "{retry}");

    host.advance(30_000);
    assert_eq!(
        send(&b, &host, "unlimited").status,
        200,
        "rested as long as asked, no longer"
    );
}

/// A shared store whose answers take a while to come back: decided at once, delivered on the
/// next poll, so other requests of the isolate run in between (as while a Durable Object's
/// reply travels).
struct Far(std::sync::Arc<apex_runtime::quota::Local>);

impl apex_runtime::quota::Store for Far {
    fn reserve(
        &self,
        ask: apex_runtime::quota::Ask,
        earlier: Vec<apex_runtime::quota::Settle>,
    ) -> apex_runtime::host::LocalFuture<Result<apex_runtime::quota::Grant, String>> {
        // Decided at once, answered later: the reply is on its way while others run.
        let grant = self.0.reserve_now(&ask, &earlier);
        Box::pin(async move {
            yield_once().await;
            Ok(grant)
        })
    }

    fn settle(
        &self,
        settles: Vec<apex_runtime::quota::Settle>,
    ) -> apex_runtime::host::LocalFuture<Result<(), String>> {
        self.0.settle_now(&settles);
        Box::pin(async { Ok(()) })
    }
}

async fn yield_once() {
    let mut yielded = false;
    std::future::poll_fn(|cx| {
        if yielded {
            std::task::Poll::Ready(())
        } else {
            yielded = true;
            cx.waker().wake_by_ref();
            std::task::Poll::Pending
        }
    })
    .await
}

#[test]
fn a_key_that_began_to_rest_while_a_reservation_was_away_is_not_sent_to() {
    let mut rt = Runtime::new(&LIMITED);
    let store = std::sync::Arc::new(apex_runtime::quota::Local::default());
    rt.engine.use_quota_store(std::rc::Rc::new(Far(store)));
    let host = FakeHost::new();
    host.then_with(
        429,
        &[("retry-after", "30")],
        r#"{"error":{"message":"slow down"}}"#,
    );
    let req = || post("/v1/chat/completions", &chat("unlimited"));
    // Both reserve; the first is sent and rests the only key; the second must not follow it.
    let (a, b) = block_on(futures::future::join(
        rt.handle(&host, req()),
        rt.handle(&host, req()),
    ));
    assert_eq!((a.status, b.status), (429, 429));
    assert_eq!(
        host.requests.borrow().len(),
        1,
        "the second was sent to a resting key"
    );
}
