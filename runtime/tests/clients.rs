//! Named clients: each has a key of its own, the models it may use and a budget; the gateway's
//! own keys stay unrestricted. Refusals come in the client's protocol; logs name the client,
//! never its key.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod common;
use apex_runtime::gateway::Runtime;
use apex_runtime::table::{Client, Cooldown, Gateway, Limits, Pinning};
use common::*;
use futures::executor::block_on;

const LAPTOP_KEY: &str = "laptop-key-5555";
const CI_KEY: &str = "ci-key-6666";
const DEMO_KEY: &str = "demo-key-7777";

static CLIENTS: [Client; 3] = [
    Client {
        name: "ci",
        secret: "CI_KEY",
        models: &[],
        limits: Limits::NONE,
    },
    Client {
        name: "demo",
        secret: "DEMO_KEY",
        models: &["demo"],
        limits: Limits {
            rpm: None,
            rpd: Some(1),
            tpm: None,
            tpd: None,
        },
    },
    Client {
        name: "laptop",
        secret: "LAPTOP_KEY",
        models: &["chat-p*"],
        limits: Limits {
            rpm: None,
            rpd: Some(2),
            tpm: None,
            tpd: None,
        },
    },
];

static WITH_CLIENTS: Gateway = Gateway {
    clients: &CLIENTS,
    ..gateway_like(&GATEWAY)
};

const fn gateway_like(g: &'static Gateway) -> Gateway {
    Gateway {
        name: "clients-gw",
        auth_keys: g.auth_keys,
        clients: &[],
        providers: g.providers,
        models: g.models,
        aliases: &[],
        patterns: &[],
        responses_store: None,
        max_attempts: 3,
        cooldown: Cooldown::DEFAULT,
        pinning: Pinning::Off,
    }
}

fn host() -> FakeHost {
    let host = FakeHost::new();
    host.secrets
        .borrow_mut()
        .insert("DEMO_KEY", DEMO_KEY.to_owned());
    host.secrets
        .borrow_mut()
        .insert("LAPTOP_KEY", LAPTOP_KEY.to_owned());
    host.secrets
        .borrow_mut()
        .insert("CI_KEY", CI_KEY.to_owned());
    host
}

fn as_client(key: &str, path: &str, body: &str) -> apex_runtime::host::HttpRequest {
    let auth = format!("Bearer {key}");
    request(
        "POST",
        path,
        &[
            ("authorization", &auth),
            ("content-type", "application/json"),
        ],
        body,
    )
}

#[test]
fn a_client_outside_its_allowlist_gets_403_in_its_protocol_and_the_upstream_is_not_called() {
    let rt = Runtime::new(&WITH_CLIENTS);
    let host = host();
    let resp = block_on(rt.handle(
        &host,
        as_client(LAPTOP_KEY, "/v1/chat/completions", &chat("chat-rand")),
    ));
    let err = assert_error(resp, 403);
    assert_eq!(err["code"], "model_not_allowed");
    assert!(err["message"].as_str().unwrap().contains("laptop"));

    let messages =
        r#"{"model":"chat-rand","max_tokens":8,"messages":[{"role":"user","content":"hi"}]}"#;
    let resp = block_on(rt.handle(&host, as_client(LAPTOP_KEY, "/v1/messages", messages)));
    let body = json_of(resp);
    assert_eq!(body["type"], "error", "Anthropic's shape: {body}");
    assert_eq!(body["error"]["type"], "permission_error");
    assert!(host.requests.borrow().is_empty());

    // Inside it, it goes through.
    let resp = block_on(rt.handle(
        &host,
        as_client(LAPTOP_KEY, "/v1/chat/completions", &chat("chat-pri")),
    ));
    assert_eq!(resp.status, 200);
}

#[test]
fn a_client_over_its_budget_gets_429_while_the_others_go_on() {
    let rt = Runtime::new(&WITH_CLIENTS);
    let host = host();
    let send = |key: &str| {
        let resp = block_on(rt.handle(
            &host,
            as_client(key, "/v1/chat/completions", &chat("chat-pri")),
        ));
        (resp.status, header(&resp, "retry-after").map(str::to_owned))
    };
    assert_eq!(send(LAPTOP_KEY).0, 200);
    assert_eq!(send(LAPTOP_KEY).0, 200);
    let (status, retry) = send(LAPTOP_KEY);
    assert_eq!(status, 429);
    assert!(retry.unwrap().parse::<u64>().unwrap() <= 86_400);
    assert_eq!(host.requests.borrow().len(), 2);
    // Another client, and the gateway's own key, are not held to the laptop's budget.
    assert_eq!(send(CI_KEY).0, 200);
    assert_eq!(send(GW_KEY).0, 200);
}

#[test]
fn logs_name_the_client_never_its_key_and_an_unknown_key_is_still_401() {
    let rt = Runtime::new(&WITH_CLIENTS);
    let host = host();
    block_on(rt.handle(
        &host,
        as_client(CI_KEY, "/v1/chat/completions", &chat("chat-pri")),
    ));
    let logs = host.logs.borrow().join("\n");
    assert!(logs.contains(r#""client":"ci""#), "{logs}");
    assert!(!logs.contains(CI_KEY), "{logs}");
    let resp = block_on(rt.handle(
        &host,
        as_client("not-a-key", "/v1/chat/completions", &chat("chat-pri")),
    ));
    assert_eq!(resp.status, 401);
}

#[test]
fn a_budget_holds_on_a_keyless_route_too() {
    // The built-in mock provider has no keys, so nothing of its own to count: the client's
    // budget still does.
    let rt = Runtime::new(&WITH_CLIENTS);
    let host = host();
    let send = || {
        block_on(rt.handle(
            &host,
            as_client(DEMO_KEY, "/v1/chat/completions", &chat("demo")),
        ))
        .status
    };
    assert_eq!(send(), 200);
    assert_eq!(send(), 429);
}

#[test]
fn a_client_with_an_allowlist_lists_and_retrieves_only_what_it_may_use() {
    let rt = Runtime::new(&WITH_CLIENTS);
    let host = host();
    let get_as = |key: &str, path: &str| {
        let auth = format!("Bearer {key}");
        block_on(rt.handle(&host, request("GET", path, &[("authorization", &auth)], "")))
    };
    let ids = |resp| -> Vec<String> {
        let v = json_of(resp);
        v["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["id"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(
        ids(get_as(LAPTOP_KEY, "/v1/models")),
        vec!["chat-pri".to_string()]
    );
    assert!(
        ids(get_as(CI_KEY, "/v1/models")).len() > 1,
        "no allowlist: every model"
    );
    assert_eq!(get_as(LAPTOP_KEY, "/v1/models/chat-pri").status, 200);
    assert_eq!(get_as(LAPTOP_KEY, "/v1/models/chat-rand").status, 404);
}
