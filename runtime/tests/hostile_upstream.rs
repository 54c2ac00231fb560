//! A hostile upstream (issue 13): whatever it sends, no piece of a key the gateway knows
//! reaches the client, on any path. One test (or a few) per numbered case of the issue:
//!
//! | case | what the upstream does | tests |
//! |---|---|---|
//! | 2 | a 200 error JSON / SSE error event that echoes the key | `a_200_error_echoing_the_key_*`, `*_stream_error_event_*` |
//! | 3 | a gzip-compressed error body | `an_encoded_body_is_never_forwarded` |
//! | 4 | credential headers on a success | `credential_headers_on_a_success_are_not_forwarded` |
//! | 5 | JSON-escaped keys | `escaped_keys_are_redacted` |
//! | 6 | a native follow-up's answer echoes the key | `native_follow_up_answers_are_scrubbed` |
//! | 10 | the stream is cut mid-event | `a_stream_cut_mid_event_ends_with_a_valid_error_event` |
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

/// Every 8-byte run of every key found in `text` (whole keys when shorter).
fn leaks(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    for key in ALL_KEYS {
        let runs: Vec<&str> = if key.len() < 8 {
            vec![key]
        } else {
            (0..=key.len() - 8).map(|i| &key[i..i + 8]).collect()
        };
        for r in runs {
            if text.contains(r) {
                found.push(r.to_owned());
            }
        }
    }
    found
}

/// Headers and body of what the client got, as one text.
fn shown(resp: HttpResponse) -> String {
    let headers = format!("{:?}", resp.headers);
    let body = body_of(resp);
    format!("{headers}\n{}", String::from_utf8_lossy(&body))
}

fn assert_clean(what: &str, text: &str) {
    let l = leaks(text);
    assert!(l.is_empty(), "{what} leaked {l:?}:\n{text}");
}

fn sse(status: u16, chunks: Vec<Result<&'static str, &'static str>>) -> HttpResponse {
    HttpResponse {
        status,
        headers: vec![("content-type".into(), "text/event-stream".into())],
        body: Body::Stream(Box::pin(futures::stream::iter(chunks.into_iter().map(
            |c| {
                c.map(|s| Bytes::from_static(s.as_bytes()))
                    .map_err(|e| StreamError(e.to_owned()))
            },
        )))),
    }
}

const ERROR_200: &str = r#"{"error":{"message":"Incorrect API key provided: alpha-secret-value-1111","type":"invalid_request_error"}}"#;

fn messages_body(stream: bool) -> String {
    format!(
        r#"{{"model":"chat-pri","max_tokens":10,"stream":{stream},"messages":[{{"role":"user","content":"hi"}}]}}"#
    )
}

fn responses_body(stream: bool) -> String {
    format!(r#"{{"model":"chat-pri","stream":{stream},"input":"hi"}}"#)
}

// --- 2: a 200 that echoes the key ------------------------------------------------------------

#[test]
fn a_200_error_echoing_the_key_is_redacted_on_every_path() {
    for (path, body) in [
        ("/v1/chat/completions", chat("chat-pri")),
        ("/v1/messages", messages_body(false)),
        ("/v1/responses", responses_body(false)),
    ] {
        let host = FakeHost::new();
        host.then_status(200, ERROR_200);
        let resp = run(&GATEWAY, &host, post(path, &body));
        assert_clean(path, &shown(resp));
    }
}

const CHAT_ERROR_EVENT: &str = "data: {\"error\":{\"message\":\"bad key alpha-secret-value-1111 (alpha-se...1111)\",\"type\":\"invalid_request_error\"}}\n\n";

#[test]
fn a_chat_stream_error_event_echoing_the_key_is_redacted() {
    let host = FakeHost::new();
    host.then(Ok(sse(200, vec![Ok(CHAT_ERROR_EVENT)])));
    let body = r#"{"model":"chat-pri","stream":true,"messages":[{"role":"user","content":"hi"}]}"#;
    let resp = run(&GATEWAY, &host, post("/v1/chat/completions", body));
    assert_eq!(resp.status, 200);
    let text = shown(resp);
    assert!(text.contains("bad key"), "{text}");
    assert_clean("chat stream", &text);
}

#[test]
fn translated_stream_error_events_echoing_the_key_are_redacted() {
    for (path, body) in [
        ("/v1/messages", messages_body(true)),
        ("/v1/responses", responses_body(true)),
    ] {
        let host = FakeHost::new();
        host.then(Ok(sse(200, vec![Ok(CHAT_ERROR_EVENT)])));
        let resp = run(&GATEWAY, &host, post(path, &body));
        let text = shown(resp);
        assert!(text.contains("error") || text.contains("failed"), "{text}");
        assert_clean(path, &text);
    }
}

// --- 3: encoded bodies -----------------------------------------------------------------------

/// `{"error":{"message":"bad key alpha-secret-value-1111"}}`, gzip-compressed.
const GZIPPED_ERROR: &[u8] = &[
    31, 139, 8, 0, 0, 0, 0, 0, 2, 3, 171, 86, 74, 45, 42, 202, 47, 82, 178, 170, 86, 202, 77, 45,
    46, 78, 76, 79, 85, 178, 82, 74, 74, 76, 81, 200, 78, 173, 84, 72, 204, 41, 200, 72, 212, 45,
    78, 77, 46, 74, 45, 209, 45, 75, 204, 41, 77, 213, 53, 4, 2, 165, 218, 90, 0, 104, 199, 244,
    199, 55, 0, 0, 0,
];

#[test]
fn an_encoded_body_is_never_forwarded() {
    for status in [401, 200] {
        let host = FakeHost::new();
        for _ in 0..3 {
            host.then(Ok(HttpResponse {
                status,
                headers: vec![
                    ("content-type".into(), "application/json".into()),
                    ("content-encoding".into(), "gzip".into()),
                ],
                body: Body::Bytes(Bytes::from_static(GZIPPED_ERROR)),
            }));
        }
        let resp = run(
            &GATEWAY,
            &host,
            post("/v1/chat/completions", &chat("chat-pri")),
        );
        assert_ne!(
            resp.status, 200,
            "an unreadable body was passed as a success"
        );
        assert_eq!(resp.header("content-encoding"), None);
        let body = body_of(resp);
        assert!(
            !body.windows(4).any(|w| w == &GZIPPED_ERROR[..4]),
            "compressed bytes reached the client"
        );
        let v: serde_json::Value = serde_json::from_slice(&body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", String::from_utf8_lossy(&body)));
        assert!(
            v["error"]["message"].as_str().unwrap().contains("gzip"),
            "{v}"
        );
    }
    // And the gateway asks for bytes it can read.
    let host = FakeHost::new();
    run(
        &GATEWAY,
        &host,
        post("/v1/chat/completions", &chat("chat-pri")),
    );
    assert_eq!(
        host.requests.borrow()[0].0.header("accept-encoding"),
        Some("identity")
    );
}

// --- 4: credential headers on a success ------------------------------------------------------

#[test]
fn credential_headers_on_a_success_are_not_forwarded() {
    let host = FakeHost::new();
    let bearer = format!("Bearer {ALPHA_KEY_1}");
    let echo = format!("you sent {ALPHA_KEY_1}");
    host.then_with(
        200,
        &[
            ("authorization", &bearer),
            ("api-key", ALPHA_KEY_1),
            ("x-api-key", ALPHA_KEY_1),
            ("x-fake-key", ALPHA_KEY_1),
            ("x-upstream-echo", &echo),
            ("x-request-id", "req-1"),
        ],
        r#"{"id":"c1","object":"chat.completion","choices":[]}"#,
    );
    let resp = run(
        &GATEWAY,
        &host,
        post("/v1/chat/completions", &chat("chat-pri")),
    );
    assert_eq!(resp.status, 200);
    assert_eq!(resp.header("x-request-id"), Some("req-1"));
    for name in ["authorization", "api-key", "x-api-key", "x-fake-key"] {
        assert_eq!(resp.header(name), None, "{name} was forwarded");
    }
    assert_clean("success headers", &shown(resp));
}

// --- 5: escaped keys -------------------------------------------------------------------------

#[test]
fn escaped_keys_are_redacted() {
    let escaped_all: String = ALPHA_KEY_1.bytes().map(|b| format!("\\u{b:04x}")).collect();
    for echo in [
        r"alpha\u002dsecret\u002Dvalue\u002d1111".to_owned(),
        r"alpha\/secret-value-1111 and beta\u002Dsecret-value-3333".to_owned(),
        // One plain, one escaped: finding the first must not stop the look for the second.
        r"alpha-secret-value-1111 and alpha\u002dsecret\u002dvalue\u002d1111".to_owned(),
        escaped_all,
    ] {
        for status in [401, 200] {
            let host = FakeHost::new();
            host.then_status(
                status,
                &format!(r#"{{"error":{{"message":"bad key {echo}","type":"x"}}}}"#),
            );
            let resp = run(
                &GATEWAY,
                &host,
                post("/v1/chat/completions", &chat("chat-pri")),
            );
            let body = body_of(resp);
            // What a client's JSON parser makes of it.
            let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
            assert_clean(&format!("{status} {echo}"), &v.to_string());
        }
    }
}

// --- 6: native follow-ups --------------------------------------------------------------------

static NATIVE_PROVIDERS: [Provider; 1] = [Provider {
    id: "nat",
    kind: Kind::OpenAi,
    base_url: "https://nat.example/v1",
    api_keys: &["ALPHA_KEY_1"],
    api_version: None,
    headers: &[("X-Extra", "on")],
    timeout_ms: 1000,
    native_responses: true,
    key_limits: &[],
    limits: apex_runtime::table::Limits::NONE,
    reset: apex_runtime::table::DailyReset::UTC,
}];

static NATIVE_MODELS: [Model; 1] = [Model {
    name: "gpt",
    strategy: Strategy::Priority,
    routes: &[Route {
        provider: 0,
        model: "gpt-5",
        weight: 1,
        max_tokens: None,
        limits: apex_runtime::table::Limits::NONE,
    }],
}];

static NATIVE: Gateway = Gateway {
    name: "native-gw",
    auth_keys: &["GW_KEY"],
    clients: &[],
    providers: &NATIVE_PROVIDERS,
    models: &NATIVE_MODELS,
    aliases: &[],
    patterns: &[],
    responses_store: Some(ResponsesStore {
        kv: "RESPONSES",
        ttl_seconds: 600,
    }),
    max_attempts: 3,
    cooldown: Cooldown::DEFAULT,
    pinning: apex_runtime::table::Pinning::Off,
};

#[test]
fn native_follow_up_answers_are_scrubbed() {
    let rt = Runtime::new(&NATIVE);
    let host = FakeHost::new();
    host.then_status(200, r#"{"id":"resp_up1","object":"response","output":[]}"#);
    let created = block_on(rt.handle(
        &host,
        post("/v1/responses", r#"{"model":"gpt","input":"hi"}"#),
    ));
    assert_eq!(created.status, 200);
    let bearer = format!("Bearer {ALPHA_KEY_1}");
    for status in [401, 200] {
        host.then_with(
            status,
            &[("authorization", &bearer), ("x-api-key", ALPHA_KEY_1)],
            ERROR_200,
        );
        let got = block_on(rt.handle(&host, get("/v1/responses/resp_up1")));
        assert_eq!(got.status, status);
        assert_clean("native follow-up", &shown(got));
    }
    // Built like every attempt: the provider's headers, identity encoding, the key.
    let reqs = host.requests.borrow();
    let follow_up = &reqs[1].0;
    assert_eq!(follow_up.header("x-extra"), Some("on"));
    assert_eq!(follow_up.header("accept-encoding"), Some("identity"));
    assert_eq!(follow_up.header("authorization"), Some(bearer.as_str()));
}

// --- 10: a stream cut mid-event --------------------------------------------------------------

const FIRST: &str = "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"hel\"}}]}\n\n";

/// Every event's data is JSON, and the last one is the gateway's error.
fn assert_valid_ending_in_error(what: &str, text: &str) {
    let mut parser = apex_runtime::wire::sse::Parser::default();
    let mut events = Vec::new();
    parser.feed(text.as_bytes(), &mut events).unwrap();
    parser.finish(&mut events).unwrap();
    for e in &events {
        assert!(
            serde_json::from_str::<serde_json::Value>(&e.data).is_ok(),
            "{what}: an event is not JSON: {:?}\n{text}",
            e.data
        );
    }
    let last = events.last().unwrap();
    assert!(last.data.contains("\"error\""), "{what}: {text}");
}

#[test]
fn a_stream_cut_mid_event_ends_with_a_valid_error_event() {
    let body = r#"{"model":"chat-pri","stream":true,"messages":[{"role":"user","content":"hi"}]}"#;
    let cuts: [Vec<Result<&'static str, &'static str>>; 3] = [
        // Mid-line, then the connection resets.
        vec![
            Ok(FIRST),
            Ok("data: {\"id\":\"c1\",\"choices\":[{\"del"),
            Err("reset"),
        ],
        // Mid-line, then a clean end.
        vec![Ok(FIRST), Ok("data: {\"id\":\"c1\",\"choices\":[{\"del")],
        // A whole line, but not its event's blank line.
        vec![
            Ok(FIRST),
            Ok("data: {\"id\":\"c1\",\"choices\":[]}\n"),
            Err("reset"),
        ],
    ];
    for (i, chunks) in cuts.into_iter().enumerate() {
        let host = FakeHost::new();
        host.then(Ok(sse(200, chunks)));
        let resp = run(&GATEWAY, &host, post("/v1/chat/completions", body));
        assert_eq!(resp.status, 200);
        let text = String::from_utf8(body_of(resp)).unwrap();
        assert!(text.starts_with(FIRST), "{text}");
        assert_valid_ending_in_error(&format!("cut {i}"), &text);
    }
}
