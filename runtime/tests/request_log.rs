//! One structured log line per request: JSON with the model, provider, key index (never the
//! key), attempts, status and times.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod common;
use apex_runtime::gateway::Runtime;
use common::*;
use futures::executor::block_on;
use serde_json::Value;

fn lines(host: &FakeHost) -> Vec<Value> {
    host.logs
        .borrow()
        .iter()
        .map(|l| {
            assert!(!l.contains('\n'), "one line: {l}");
            serde_json::from_str(l).unwrap()
        })
        .collect()
}

#[test]
fn a_failover_is_logged_once_with_what_happened() {
    let host = FakeHost::new();
    let rt = Runtime::new(&GATEWAY);
    // alpha: key 0 rate limited, key 1 broken (500) → beta answers after 25 ms.
    host.then_after(10, Ok(response(429, "{}")))
        .then_after(15, Ok(response(500, "{}")))
        .then_after(25, Ok(response(200, "{}")));
    let resp = block_on(rt.handle(&host, post("/v1/chat/completions", &chat("chat-pri"))));
    assert_eq!(resp.status, 200);
    let logs = lines(&host);
    assert_eq!(logs.len(), 1);
    let l = &logs[0];
    assert_eq!(l["msg"], "apex request");
    assert_eq!(l["model"], "chat-pri");
    assert_eq!(l["provider"], "beta");
    assert_eq!(l["key"], 0);
    assert_eq!(l["attempts"], 3);
    assert_eq!(l["status"], 200);
    assert_eq!(l["upstream_ms"], 50);
    assert_eq!(l["overhead_ms"], 0);
}

#[test]
fn every_request_is_logged_even_refused_ones() {
    let host = FakeHost::new();
    let rt = Runtime::new(&GATEWAY);
    block_on(rt.handle(&host, get("/v1/models")));
    block_on(rt.handle(&host, post("/v1/chat/completions", &chat("nope"))));
    block_on(rt.handle(
        &host,
        request("POST", "/v1/chat/completions", &[], &chat("chat-pri")),
    ));
    let logs = lines(&host);
    let statuses: Vec<u64> = logs.iter().map(|l| l["status"].as_u64().unwrap()).collect();
    assert_eq!(statuses, [200, 404, 401]);
    assert_eq!(logs[1]["model"], "nope");
    assert_eq!(logs[1]["attempts"], 0);
    assert!(logs[0].get("provider").is_none());
}

#[test]
fn the_key_index_names_the_key_used() {
    let host = FakeHost::new();
    let rt = Runtime::new(&GATEWAY);
    for _ in 0..2 {
        block_on(rt.handle(&host, post("/v1/chat/completions", &chat("chat-pri"))));
    }
    let keys: Vec<u64> = lines(&host)
        .iter()
        .map(|l| l["key"].as_u64().unwrap())
        .collect();
    assert_eq!(keys, [0, 1]);
    let sent: Vec<String> = host
        .requests
        .borrow()
        .iter()
        .map(|(r, _)| r.header("authorization").unwrap().to_owned())
        .collect();
    assert_eq!(
        sent,
        [
            format!("Bearer {ALPHA_KEY_1}"),
            format!("Bearer {ALPHA_KEY_2}")
        ]
    );
}
