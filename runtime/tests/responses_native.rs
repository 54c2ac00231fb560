//! `responses: native`: `/v1/responses` passes through to the provider's own Responses API
//! untouched, and follow-up calls on its response ids go back to that provider.
#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]
mod common;
use apex_runtime::gateway::Runtime;
use apex_runtime::host::{Body, HttpResponse, StreamError};
use apex_runtime::table::{
    Cooldown, Gateway, Kind, Model, Provider, ResponsesStore, Route, Strategy,
};
use bytes::Bytes;
use common::*;
use futures::executor::block_on;
use serde_json::{json, Value};

static PROVIDERS: [Provider; 2] = [
    Provider {
        id: "nat",
        kind: Kind::OpenAi,
        base_url: "https://nat.example/v1",
        api_keys: &["ALPHA_KEY_1"],
        api_version: None,
        headers: &[],
        timeout_ms: 1000,
        native_responses: true,
        key_limits: &[],
        limits: apex_runtime::table::Limits::NONE,
        reset: apex_runtime::table::DailyReset::UTC,
    },
    Provider {
        id: "bridged",
        kind: Kind::OpenAi,
        base_url: "https://br.example/v1",
        api_keys: &["BETA_KEY"],
        api_version: None,
        headers: &[],
        timeout_ms: 1000,
        native_responses: false,
        key_limits: &[],
        limits: apex_runtime::table::Limits::NONE,
        reset: apex_runtime::table::DailyReset::UTC,
    },
];

static MODELS: [Model; 2] = [
    Model {
        name: "gpt",
        strategy: Strategy::Priority,
        routes: &[Route {
            provider: 0,
            model: "gpt-5",
            weight: 1,
            max_tokens: None,
            limits: apex_runtime::table::Limits::NONE,
        }],
    },
    Model {
        name: "other",
        strategy: Strategy::Priority,
        routes: &[Route {
            provider: 1,
            model: "o",
            weight: 1,
            max_tokens: None,
            limits: apex_runtime::table::Limits::NONE,
        }],
    },
];

/// A gateway with a responses store over `providers` and `models`.
const fn with_store(
    name: &'static str,
    providers: &'static [Provider],
    models: &'static [Model],
) -> Gateway {
    Gateway {
        name,
        auth_keys: &["GW_KEY"],
        clients: &[],
        providers,
        models,
        aliases: &[],
        patterns: &[],
        responses_store: Some(ResponsesStore {
            kv: "RESPONSES",
            ttl_seconds: 600,
        }),
        max_attempts: 3,
        cooldown: Cooldown::DEFAULT,
        pinning: apex_runtime::table::Pinning::Off,
    }
}

static NATIVE: Gateway = with_store("native-gw", &PROVIDERS, &MODELS);

const UPSTREAM_RESPONSE: &str = r#"{"id":"resp_upstream1","object":"response","status":"completed","output":[],"model":"gpt-5"}"#;

#[test]
fn requests_pass_through_and_follow_ups_find_the_provider() {
    let rt = Runtime::new(&NATIVE);
    let host = FakeHost::new();
    host.then_status(200, UPSTREAM_RESPONSE);
    let body = r#"{"model":"gpt","input":"hi","tools":[{"type":"web_search"}],"include":["x"]}"#;
    let resp = block_on(rt.handle(&host, post("/v1/responses", body)));
    assert_eq!(resp.status, 200);
    assert_eq!(body_of(resp), UPSTREAM_RESPONSE.as_bytes());
    {
        let reqs = host.requests.borrow();
        let (up, _) = &reqs[0];
        assert_eq!(up.url, "https://nat.example/v1/responses");
        assert_eq!(
            up.body,
            Bytes::from(
                r#"{"model":"gpt-5","input":"hi","tools":[{"type":"web_search"}],"include":["x"]}"#
            )
        );
        assert_eq!(
            up.header("authorization"),
            Some(format!("Bearer {ALPHA_KEY_1}").as_str())
        );
    }
    // The id → provider record: no key, no body.
    let stored = host
        .kv
        .entries
        .borrow()
        .get("resp:resp_upstream1")
        .unwrap()
        .0
        .clone();
    assert!(stored.contains("\"nat\""));
    assert!(!stored.contains(ALPHA_KEY_1));

    host.then_status(200, UPSTREAM_RESPONSE);
    let got = block_on(rt.handle(&host, get("/v1/responses/resp_upstream1")));
    assert_eq!(got.status, 200);
    assert_eq!(got.header("x-apex-provider"), Some("nat"));
    assert_eq!(body_of(got), UPSTREAM_RESPONSE.as_bytes());
    host.then_status(
        200,
        r#"{"object":"list","data":[],"has_more":false,"first_id":null,"last_id":null}"#,
    );
    let items = block_on(rt.handle(
        &host,
        get("/v1/responses/resp_upstream1/input_items?limit=5"),
    ));
    assert_eq!(items.status, 200);
    {
        let reqs = host.requests.borrow();
        assert_eq!(reqs[1].0.method, "GET");
        assert_eq!(
            reqs[1].0.url,
            "https://nat.example/v1/responses/resp_upstream1"
        );
        assert_eq!(
            reqs[2].0.url,
            "https://nat.example/v1/responses/resp_upstream1/input_items?limit=5"
        );
    }

    // A follow-up turn stays on the provider that holds the conversation.
    host.then_status(200, UPSTREAM_RESPONSE);
    let next = r#"{"model":"gpt","input":"more","previous_response_id":"resp_upstream1"}"#;
    assert_eq!(
        block_on(rt.handle(&host, post("/v1/responses", next))).status,
        200
    );
    assert_eq!(
        host.requests.borrow()[3].0.url,
        "https://nat.example/v1/responses"
    );

    host.then_status(
        200,
        r#"{"id":"resp_upstream1","object":"response","deleted":true}"#,
    );
    let del = request(
        "DELETE",
        "/v1/responses/resp_upstream1",
        &[("authorization", &format!("Bearer {GW_KEY}"))],
        "",
    );
    assert_eq!(block_on(rt.handle(&host, del)).status, 200);
    assert_eq!(host.requests.borrow()[4].0.method, "DELETE");
    assert!(!host.kv.entries.borrow().contains_key("resp:resp_upstream1"));
}

#[test]
fn streams_pass_through_byte_for_byte() {
    let rt = Runtime::new(&NATIVE);
    let host = FakeHost::new();
    let sse = "event: response.created\ndata: {\"type\":\"response.created\",\"sequence_number\":0,\"response\":{\"id\":\"resp_s1\",\"object\":\"response\"}}\n\n\
               event: response.completed\ndata: {\"type\":\"response.completed\",\"sequence_number\":1,\"response\":{\"id\":\"resp_s1\",\"object\":\"response\"}}\n\n";
    let (a, b) = sse.split_at(40);
    let chunks: Vec<Result<Bytes, StreamError>> =
        vec![Ok(Bytes::from(a.to_owned())), Ok(Bytes::from(b.to_owned()))];
    host.then(Ok(HttpResponse {
        status: 200,
        headers: vec![("content-type".into(), "text/event-stream".into())],
        body: Body::Stream(Box::pin(futures::stream::iter(chunks))),
    }));
    let resp = block_on(rt.handle(
        &host,
        post(
            "/v1/responses",
            r#"{"model":"gpt","input":"hi","stream":true}"#,
        ),
    ));
    assert_eq!(resp.status, 200);
    assert_eq!(String::from_utf8(body_of(resp)).unwrap(), sse);
    assert!(host.kv.entries.borrow().contains_key("resp:resp_s1"));
}

#[test]
fn store_false_keeps_no_record_and_bridged_providers_are_untouched() {
    let rt = Runtime::new(&NATIVE);
    let host = FakeHost::new();
    host.then_status(200, UPSTREAM_RESPONSE);
    let resp = block_on(rt.handle(
        &host,
        post(
            "/v1/responses",
            r#"{"model":"gpt","input":"hi","store":false}"#,
        ),
    ));
    assert_eq!(resp.status, 200);
    assert_eq!(host.kv.writes.get(), 0);

    host.then_status(
        200,
        &json!({"choices": [{"message": {"content": "hey"}, "finish_reason": "stop"}]}).to_string(),
    );
    let resp = block_on(rt.handle(
        &host,
        post(
            "/v1/responses",
            r#"{"model":"other","input":"hi","store":false}"#,
        ),
    ));
    let v: Value = json_of(resp);
    assert_eq!(v["object"], "response");
    assert_eq!(
        host.requests.borrow()[1].0.url,
        "https://br.example/v1/chat/completions"
    );
}

static TWO_KEYS: [Provider; 1] = [Provider {
    id: "nat2",
    kind: Kind::OpenAi,
    base_url: "https://nat2.example/v1",
    api_keys: &["ALPHA_KEY_1", "ALPHA_KEY_2"],
    api_version: None,
    headers: &[],
    timeout_ms: 1000,
    native_responses: true,
    key_limits: &[],
    limits: apex_runtime::table::Limits::NONE,
    reset: apex_runtime::table::DailyReset::UTC,
}];

static CAPPED: [Model; 1] = [Model {
    name: "gpt",
    strategy: Strategy::Priority,
    routes: &[Route {
        provider: 0,
        model: "gpt-5",
        weight: 1,
        max_tokens: Some(100),
        limits: apex_runtime::table::Limits::NONE,
    }],
}];

static NATIVE_TWO_KEYS: Gateway = with_store("native-two-keys", &TWO_KEYS, &CAPPED);

/// A native response lives in the upstream account of the key that created it: follow-ups
/// (GET, DELETE, input_items, a next turn) go through the attempt engine with that key, even
/// when the create failed over from another key.
#[test]
fn follow_ups_use_the_key_that_created_the_response() {
    let rt = Runtime::new(&NATIVE_TWO_KEYS);
    let host = FakeHost::new();
    host.then_status(
        429,
        r#"{"error":{"message":"slow down","type":"rate_limit"}}"#,
    );
    host.then_status(200, UPSTREAM_RESPONSE);
    let resp = block_on(rt.handle(
        &host,
        post("/v1/responses", r#"{"model":"gpt","input":"hi"}"#),
    ));
    assert_eq!(resp.status, 200);
    let creator = host.requests.borrow()[1]
        .0
        .header("authorization")
        .unwrap()
        .to_owned();
    assert_ne!(
        host.requests.borrow()[0].0.header("authorization"),
        Some(creator.as_str())
    );

    host.then_status(200, UPSTREAM_RESPONSE);
    let got = block_on(rt.handle(&host, get("/v1/responses/resp_upstream1")));
    assert_eq!(got.status, 200);
    assert_eq!(got.header("x-apex-provider"), Some("nat2"));
    assert_eq!(got.header("x-apex-attempts"), Some("1"));
    let reqs = host.requests.borrow();
    assert_eq!(
        reqs[2].0.url,
        "https://nat2.example/v1/responses/resp_upstream1"
    );
    assert_eq!(reqs[2].0.header("authorization"), Some(creator.as_str()));
}

/// The route's `max_tokens` cap lowers (or sets) `max_output_tokens` on native passthrough.
#[test]
fn the_route_cap_holds_on_native_responses() {
    for (body, expect) in [
        (
            r#"{"model":"gpt","input":"hi","max_output_tokens":5000}"#,
            100,
        ),
        (r#"{"model":"gpt","input":"hi","max_output_tokens":50}"#, 50),
        (r#"{"model":"gpt","input":"hi"}"#, 100),
    ] {
        let rt = Runtime::new(&NATIVE_TWO_KEYS);
        let host = FakeHost::new();
        host.then_status(200, UPSTREAM_RESPONSE);
        assert_eq!(
            block_on(rt.handle(&host, post("/v1/responses", body))).status,
            200
        );
        let sent: Value = serde_json::from_slice(&host.requests.borrow()[0].0.body).unwrap();
        assert_eq!(sent["max_output_tokens"], expect, "{body}");
        assert_eq!(sent["model"], "gpt-5");
    }
}
