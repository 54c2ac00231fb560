//! Strategies, observed as a client would: which provider serves each request — with every
//! route healthy, and with some resting.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod common;
use apex_runtime::gateway::Runtime;
use common::*;
use futures::executor::block_on;

fn providers_for(model: &str, n: usize) -> Vec<String> {
    let host = FakeHost::new();
    let rt = Runtime::new(&GATEWAY);
    (0..n)
        .map(|_| {
            let resp = block_on(rt.handle(&host, post("/v1/chat/completions", &chat(model))));
            resp.header("x-apex-provider").unwrap().to_owned()
        })
        .collect()
}

#[test]
fn round_robin_alternates_exactly() {
    let seen = providers_for("chat-rr", 1000);
    for (i, p) in seen.iter().enumerate() {
        assert_eq!(p, ["alpha", "beta"][i % 2], "request {i}");
    }
}

#[test]
fn priority_always_starts_with_the_first_route() {
    assert!(providers_for("chat-pri", 20).iter().all(|p| p == "alpha"));
}

#[test]
fn priority_uses_the_first_healthy_route() {
    let host = FakeHost::new();
    let rt = Runtime::new(&GATEWAY);
    let send = || {
        let resp = block_on(rt.handle(&host, post("/v1/chat/completions", &chat("chat-pri"))));
        resp.header("x-apex-provider").unwrap().to_owned()
    };
    // alpha fails twice in a row: it rests, beta (next in priority) takes every request.
    host.then_status(500, "{}");
    assert_eq!(send(), "beta");
    host.then_status(502, "{}");
    assert_eq!(send(), "beta");
    let before = host.requests.borrow().len();
    for _ in 0..10 {
        assert_eq!(send(), "beta");
    }
    assert_eq!(
        host.hosts()[before..],
        ["beta.example"; 10],
        "no detour through alpha"
    );
    // Once alpha is back and answers, it is first again.
    host.advance(1000);
    assert_eq!(send(), "alpha");
    assert_eq!(send(), "alpha");
}

#[test]
fn weighted_splits_in_proportion_to_weight() {
    let n = 10_000;
    let alpha = providers_for("chat-w", n)
        .iter()
        .filter(|p| *p == "alpha")
        .count();
    let share = alpha as f64 / n as f64;
    assert!(
        (share - 0.75).abs() < 0.03,
        "alpha share {share}, expected 0.75"
    );
}

#[test]
fn random_uses_every_route_roughly_evenly() {
    let n = 2000;
    let alpha = providers_for("chat-rand", n)
        .iter()
        .filter(|p| *p == "alpha")
        .count();
    let share = alpha as f64 / n as f64;
    assert!(
        (share - 0.5).abs() < 0.05,
        "alpha share {share}, expected 0.5"
    );
}

#[test]
fn keys_of_a_provider_are_used_in_turn() {
    let host = FakeHost::new();
    let rt = Runtime::new(&GATEWAY);
    for _ in 0..4 {
        block_on(rt.handle(&host, post("/v1/chat/completions", &chat("chat-pri"))));
    }
    let keys: Vec<String> = host
        .requests
        .borrow()
        .iter()
        .map(|(r, _)| r.header("authorization").unwrap().to_owned())
        .collect();
    assert_ne!(keys[0], keys[1]);
    assert_eq!(keys[0], keys[2]);
    assert_eq!(keys[1], keys[3]);
}
