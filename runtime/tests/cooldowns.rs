//! Cooldowns, seen from the client: a 429'd key sits out for as long as the upstream asked and
//! comes back after; a route that keeps failing rests with growing backoff and recovers on
//! success; when everything rests the answer is a clear 429/503 with `Retry-After`, or a short
//! wait. Time is the fake host's virtual clock: nothing here sleeps.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod common;
use apex_runtime::gateway::Runtime;
use apex_runtime::host::HttpResponse;
use common::*;
use futures::executor::block_on;

fn send(rt: &Runtime, host: &FakeHost, model: &str) -> HttpResponse {
    block_on(rt.handle(host, post("/v1/chat/completions", &chat(model))))
}

/// The `Authorization` header of every upstream request from index `from` on.
fn keys_used(host: &FakeHost, from: usize) -> Vec<String> {
    host.requests.borrow()[from..]
        .iter()
        .map(|(r, _)| {
            r.header("authorization")
                .or(r.header("api-key"))
                .unwrap()
                .trim_start_matches("Bearer ")
                .to_owned()
        })
        .collect()
}

#[test]
fn a_429d_key_is_skipped_until_its_retry_after_then_comes_back() {
    let host = FakeHost::new();
    let rt = Runtime::new(&GATEWAY);
    // Request 1 starts with alpha's first key: 429, Retry-After 2 s → alpha's second key.
    host.then_with(429, &[("retry-after", "2")], "{}");
    let resp = send(&rt, &host, "chat-pri");
    assert_eq!(resp.status, 200);
    assert_eq!(resp.header("x-apex-provider"), Some("alpha"));
    assert_eq!(keys_used(&host, 0), [ALPHA_KEY_1, ALPHA_KEY_2]);

    // For the next 2 s every request uses the second key, one attempt each.
    host.advance(1999);
    for _ in 0..4 {
        let resp = send(&rt, &host, "chat-pri");
        assert_eq!(resp.header("x-apex-attempts"), Some("1"));
    }
    assert_eq!(keys_used(&host, 2), [ALPHA_KEY_2; 4]);

    // Then the first key is back in the rotation.
    host.advance(1);
    for _ in 0..4 {
        send(&rt, &host, "chat-pri");
    }
    let after = keys_used(&host, 6);
    assert_eq!(after.iter().filter(|k| *k == ALPHA_KEY_1).count(), 2);
    assert_eq!(after.iter().filter(|k| *k == ALPHA_KEY_2).count(), 2);
}

#[test]
fn every_rate_limit_header_form_is_honoured() {
    // (headers of the 429, how long the key must sit out)
    let cases: [(&[(&str, &str)], u64); 6] = [
        (&[("retry-after", "7")], 7000),
        (&[("retry-after", "Thu, 01 Jan 2026 00:00:07 GMT")], 7000),
        (&[("retry-after-ms", "1500")], 1500),
        (&[("x-ratelimit-reset-requests", "6m0s")], 60_000), // capped at 60 s
        (&[("x-ratelimit-reset-tokens", "20ms")], 20),
        (&[], 5000), // the default
    ];
    for (headers, rest) in cases {
        let host = FakeHost::new();
        let rt = Runtime::new(&GATEWAY);
        // chat-azure: one route, one key. The 429 makes it rest.
        host.then_with(429, headers, "{}");
        let resp = send(&rt, &host, "chat-azure");
        assert_eq!(resp.status, 429, "{headers:?}");
        // More than a second before the end: answered by the gateway, no upstream call.
        if rest > 1001 {
            host.advance(rest - 1001);
            let resp = send(&rt, &host, "chat-azure");
            assert_eq!(resp.status, 429, "{headers:?}");
            assert_eq!(resp.header("x-apex-attempts"), Some("0"));
            assert_eq!(host.requests.borrow().len(), 1, "{headers:?}");
            host.advance(1000);
        } else {
            host.advance(rest - 1);
        }
        // One ms before the end: the gateway waits that ms, then tries again.
        let resp = send(&rt, &host, "chat-azure");
        assert_eq!(resp.status, 200, "{headers:?}");
        assert_eq!(*host.sleeps.borrow(), [1], "{headers:?}");
        assert_eq!(host.requests.borrow().len(), 2, "{headers:?}");
    }
}

#[test]
fn when_every_key_is_rate_limited_the_gateway_answers_429_with_retry_after() {
    let host = FakeHost::new();
    let rt = Runtime::new(&GATEWAY);
    host.then_with(429, &[("retry-after", "30")], "{}")
        .then_with(429, &[("retry-after", "40")], "{}")
        .then_with(429, &[("retry-after", "20")], "{}");
    let resp = send(&rt, &host, "chat-pri");
    assert_eq!(resp.status, 429);
    assert_eq!(resp.header("x-apex-attempts"), Some("3"));

    host.advance(500);
    let resp = send(&rt, &host, "chat-pri");
    assert_eq!(host.requests.borrow().len(), 3, "no upstream call");
    assert_eq!(resp.header("retry-after"), Some("20"), "beta is back first");
    assert_eq!(resp.header("x-apex-attempts"), Some("0"));
    let e = assert_error(resp, 429);
    assert_eq!(e["code"], "rate_limit_exceeded");
    assert!(e["message"].as_str().unwrap().contains("chat-pri"));

    // Beta comes back first; alpha still rests.
    host.advance(19_500);
    let resp = send(&rt, &host, "chat-pri");
    assert_eq!(resp.status, 200);
    assert_eq!(resp.header("x-apex-provider"), Some("beta"));
    assert_eq!(host.hosts()[3..], ["beta.example"]);
}

#[test]
fn a_failing_route_rests_with_backoff_and_recovers_on_success() {
    let host = FakeHost::new();
    let rt = Runtime::new(&GATEWAY);
    // Two failures in a row: alpha rests 1 s. Each request still succeeds on beta.
    for _ in 0..2 {
        host.then_status(500, "{}");
        let resp = send(&rt, &host, "chat-pri");
        assert_eq!(resp.header("x-apex-provider"), Some("beta"));
        assert_eq!(resp.header("x-apex-attempts"), Some("2"));
    }
    assert_eq!(host.requests.borrow().len(), 4);
    // While it rests, alpha gets no traffic: one attempt per request, straight to beta.
    for _ in 0..5 {
        let resp = send(&rt, &host, "chat-pri");
        assert_eq!(resp.header("x-apex-provider"), Some("beta"));
        assert_eq!(resp.header("x-apex-attempts"), Some("1"));
    }
    assert_eq!(host.hosts()[4..], ["beta.example"; 5]);

    // After 1 s alpha is tried again; it fails again: now it rests 2 s.
    host.advance(1000);
    host.then_status(503, "{}");
    assert_eq!(
        send(&rt, &host, "chat-pri").header("x-apex-attempts"),
        Some("2")
    );
    host.advance(1999);
    send(&rt, &host, "chat-pri");
    assert_eq!(host.hosts().last().unwrap(), "beta.example");
    assert_eq!(host.hosts().len(), 12);

    // After those 2 s it is tried and answers: back in first place for good.
    host.advance(1);
    for _ in 0..3 {
        assert_eq!(
            send(&rt, &host, "chat-pri").header("x-apex-provider"),
            Some("alpha")
        );
    }
    // The streak is over: one new failure does not bench it.
    host.then_status(500, "{}");
    send(&rt, &host, "chat-pri");
    assert_eq!(
        send(&rt, &host, "chat-pri").header("x-apex-provider"),
        Some("alpha")
    );
}

#[test]
fn timeouts_and_connect_errors_count_against_the_route() {
    use apex_runtime::host::FetchError;
    let host = FakeHost::new();
    let rt = Runtime::new(&GATEWAY);
    host.then(Err(FetchError::Timeout));
    send(&rt, &host, "chat-pri");
    host.then(Err(FetchError::Connect("refused".into())));
    send(&rt, &host, "chat-pri");
    let before = host.requests.borrow().len();
    assert_eq!(
        send(&rt, &host, "chat-pri").header("x-apex-attempts"),
        Some("1")
    );
    assert_eq!(host.hosts()[before..], ["beta.example"]);
}

#[test]
fn when_every_route_is_down_the_gateway_answers_503_with_retry_after() {
    let host = FakeHost::new();
    let rt = Runtime::new(&GATEWAY);
    // A Retry-After on a 503 benches the route at once, for that long.
    host.then_with(503, &[("retry-after", "10")], "{}")
        .then_with(503, &[("retry-after", "12")], "{}");
    let resp = send(&rt, &host, "chat-pri");
    assert_eq!(resp.status, 503);
    assert_eq!(resp.header("x-apex-attempts"), Some("2"));

    let resp = send(&rt, &host, "chat-pri");
    assert_eq!(host.requests.borrow().len(), 2);
    assert_eq!(resp.header("retry-after"), Some("10"));
    let e = assert_error(resp, 503);
    assert_eq!(e["code"], "upstreams_unavailable");
}

#[test]
fn a_short_rest_is_waited_out_instead_of_failing() {
    let host = FakeHost::new();
    let rt = Runtime::new(&GATEWAY);
    host.then_with(429, &[("retry-after-ms", "300")], "{}")
        .then_with(429, &[("retry-after-ms", "300")], "{}")
        .then_with(429, &[("retry-after-ms", "900")], "{}");
    assert_eq!(send(&rt, &host, "chat-pri").status, 429);

    let t0 = host.now();
    let resp = send(&rt, &host, "chat-pri");
    assert_eq!(resp.status, 200);
    assert_eq!(resp.header("x-apex-provider"), Some("alpha"));
    assert_eq!(*host.sleeps.borrow(), [300]);
    assert_eq!(host.now() - t0, 300);
    let line = host.logs.borrow().last().unwrap().clone();
    let log: serde_json::Value = serde_json::from_str(&line).unwrap();
    assert_eq!(log["wait_ms"], 300);
}

#[test]
fn a_long_rest_is_not_waited_for() {
    let host = FakeHost::new();
    let rt = Runtime::new(&GATEWAY);
    host.then_with(429, &[("retry-after-ms", "1001")], "{}");
    send(&rt, &host, "chat-azure");
    let resp = send(&rt, &host, "chat-azure");
    assert_eq!(resp.status, 429);
    assert_eq!(resp.header("retry-after"), Some("2"), "rounded up");
    assert!(host.sleeps.borrow().is_empty());
}

#[test]
fn a_resting_route_shifts_weighted_traffic_to_the_others() {
    let host = FakeHost::new();
    let rt = Runtime::new(&GATEWAY);
    // chat-w is alpha 3 : beta 1. Both of alpha's keys were just rate limited.
    rt.engine
        .cooldowns
        .rate_limited(0, 0, host.now(), Some(30_000));
    rt.engine
        .cooldowns
        .rate_limited(0, 1, host.now(), Some(30_000));
    let before = host.requests.borrow().len();
    for _ in 0..200 {
        assert_eq!(
            send(&rt, &host, "chat-w").header("x-apex-provider"),
            Some("beta")
        );
    }
    assert_eq!(host.hosts()[before..], ["beta.example"; 200]);
}

#[test]
fn cooldowns_are_per_runtime() {
    // A new isolate (Runtime) starts with a clean slate.
    let host = FakeHost::new();
    let rt = Runtime::new(&GATEWAY);
    host.then_with(429, &[("retry-after", "30")], "{}");
    send(&rt, &host, "chat-azure");
    assert_eq!(send(&rt, &host, "chat-azure").status, 429);
    let fresh = Runtime::new(&GATEWAY);
    assert_eq!(send(&fresh, &host, "chat-azure").status, 200);
}
