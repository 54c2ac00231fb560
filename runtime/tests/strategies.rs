//! Strategies, observed as a client would: which provider serves each request.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod common;
use apex_runtime::router::Runtime;
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
    let seen = providers_for("chat-rr", 6);
    assert_eq!(seen, ["alpha", "beta", "alpha", "beta", "alpha", "beta"]);
}

#[test]
fn priority_always_starts_with_the_first_route() {
    assert!(providers_for("chat-pri", 20).iter().all(|p| p == "alpha"));
}

#[test]
fn weighted_splits_in_proportion_to_weight() {
    let n = 4000;
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
