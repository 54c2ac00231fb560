//! The names a client reaches a model by: exact names, aliases, glob patterns (the most
//! specific wins), a `*` default, and `{model}` routes that send the client's name upstream.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod common;
use apex_runtime::table::{
    Cooldown, Gateway, Kind, Limits, Model, Pinning, Provider, Route, Strategy,
};
use common::*;

static PROVIDERS: [Provider; 1] = [provider(
    "alpha",
    Kind::OpenAi,
    "https://alpha.example/v1",
    &["ALPHA_KEY_1"],
)];

const fn to(model: &'static str) -> Route {
    Route {
        provider: 0,
        model,
        weight: 1,
        max_tokens: None,
        limits: Limits::NONE,
    }
}

// Sorted by name, as the compiler emits them.
static MODELS: [Model; 5] = [
    Model {
        name: "*",
        strategy: Strategy::Priority,
        routes: &[to("default-upstream")],
    },
    Model {
        name: "chat",
        strategy: Strategy::Priority,
        routes: &[to("chat-upstream")],
    },
    Model {
        name: "claude-*",
        strategy: Strategy::Priority,
        routes: &[to("{model}")],
    },
    Model {
        name: "claude-opus-*",
        strategy: Strategy::Priority,
        routes: &[to("opus-upstream")],
    },
    Model {
        name: "gpt-?o",
        strategy: Strategy::Priority,
        routes: &[to("four-o-upstream")],
    },
];

const fn named(patterns: &'static [u16]) -> Gateway {
    Gateway {
        name: "named",
        auth_keys: &[],
        clients: &[],
        providers: &PROVIDERS,
        models: &MODELS,
        // `sonnet` is another name for `claude-*`; the route passes the name through.
        aliases: &[("fast", 1), ("sonnet", 2)],
        patterns,
        max_attempts: 1,
        cooldown: Cooldown::DEFAULT,
        pinning: Pinning::Off,
        responses_store: None,
    }
}

// Most specific first, as the compiler orders them: claude-opus-* (12 literal characters),
// claude-* (7), gpt-?o (5), * (0).
static NAMED: Gateway = named(&[3, 2, 4, 0]);

/// The model the upstream was asked for, for a client that sent `model`.
fn upstream_model_for(model: &str) -> String {
    let host = FakeHost::new();
    let resp = run(&NAMED, &host, post("/v1/chat/completions", &chat(model)));
    assert_eq!(resp.status, 200, "{model}");
    let reqs = host.requests.borrow();
    let sent: serde_json::Value = serde_json::from_slice(&reqs[0].0.body).unwrap();
    sent["model"].as_str().unwrap().to_owned()
}

#[test]
fn exact_names_and_aliases_come_before_patterns_and_the_most_specific_pattern_wins() {
    assert_eq!(upstream_model_for("chat"), "chat-upstream");
    assert_eq!(upstream_model_for("fast"), "chat-upstream");
    assert_eq!(upstream_model_for("claude-opus-4-1"), "opus-upstream");
    assert_eq!(upstream_model_for("gpt-4o"), "four-o-upstream");
    assert_eq!(upstream_model_for("anything-else"), "default-upstream");
}

#[test]
fn a_model_route_of_model_sends_the_name_the_client_asked_for() {
    assert_eq!(upstream_model_for("claude-sonnet-4-5"), "claude-sonnet-4-5");
    assert_eq!(upstream_model_for("sonnet"), "sonnet");
}

#[test]
fn the_model_list_has_exact_names_and_aliases_and_any_routable_name_can_be_retrieved() {
    let host = FakeHost::new();
    let list = json_of(run(&NAMED, &host, get("/v1/models")));
    let ids: Vec<&str> = list["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec!["chat", "fast", "sonnet"]);
    let one = json_of(run(&NAMED, &host, get("/v1/models/claude-sonnet-4-5")));
    assert_eq!(one["id"], "claude-sonnet-4-5");
}

#[test]
fn without_a_default_an_unknown_name_is_still_unknown() {
    static NO_DEFAULT: Gateway = named(&[3, 2, 4]);
    let host = FakeHost::new();
    let resp = run(
        &NO_DEFAULT,
        &host,
        post("/v1/chat/completions", &chat("mistral-large")),
    );
    assert_error(resp, 404);
    assert!(host.requests.borrow().is_empty());
}

#[test]
fn a_default_pattern_does_not_swallow_model_hash_provider() {
    // Pinning is off here: `chat#alpha` is refused as pinning, not sent to the `*` route.
    let host = FakeHost::new();
    let resp = run(
        &NAMED,
        &host,
        post("/v1/chat/completions", &chat("chat#alpha")),
    );
    let err = assert_error(resp, 403);
    assert_eq!(err["code"], "provider_pinning_disabled");
    assert!(host.requests.borrow().is_empty());
}
