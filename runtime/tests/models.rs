//! `GET /v1/models` and `GET /v1/models/{id}`.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod common;
use common::*;

#[test]
fn lists_every_public_model() {
    let host = FakeHost::new();
    let resp = run(&GATEWAY, &host, get("/v1/models"));
    assert_eq!(resp.status, 200);
    let v = json_of(resp);
    assert_eq!(v["object"], "list");
    let ids: Vec<&str> = v["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        [
            "chat-azure",
            "chat-pri",
            "chat-rand",
            "chat-rr",
            "chat-w",
            "demo",
            "org/model-x"
        ]
    );
    let first = &v["data"][0];
    assert_eq!(first["object"], "model");
    assert_eq!(first["owned_by"], "test-gw");
    assert!(first["created"].is_u64());
    assert!(host.requests.borrow().is_empty());
}

#[test]
fn trailing_slash_and_query_are_accepted() {
    let host = FakeHost::new();
    assert_eq!(run(&GATEWAY, &host, get("/v1/models/?limit=5")).status, 200);
}

#[test]
fn gets_one_model_even_with_a_slash_in_its_id() {
    let host = FakeHost::new();
    let v = json_of(run(&GATEWAY, &host, get("/v1/models/demo")));
    assert_eq!(v["id"], "demo");
    assert_eq!(v["object"], "model");
    for path in ["/v1/models/org/model-x", "/v1/models/org%2Fmodel-x"] {
        let v = json_of(run(&GATEWAY, &host, get(path)));
        assert_eq!(v["id"], "org/model-x", "{path}");
    }
}

#[test]
fn an_unknown_model_is_404() {
    let host = FakeHost::new();
    let e = assert_error(run(&GATEWAY, &host, get("/v1/models/nope")), 404);
    assert_eq!(e["code"], "model_not_found");
}
