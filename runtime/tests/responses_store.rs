//! Stored responses: `store` writes one KV entry; GET, DELETE and `input_items` read it back;
//! `previous_response_id` continues the conversation; `store: false` writes nothing; and a
//! gateway without `responses_store` answers but keeps nothing.
#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]
mod common;
use apex_runtime::gateway::Runtime;
use apex_runtime::table::{Cooldown, Gateway, ResponsesStore};
use common::*;
use futures::executor::block_on;
use serde_json::{json, Value};

static STORING: Gateway = Gateway {
    name: "store-gw",
    auth_keys: &["GW_KEY"],
    clients: &[],
    providers: &PROVIDERS,
    models: &MODELS,
    aliases: &[],
    patterns: &[],
    responses_store: Some(ResponsesStore {
        kv: "RESPONSES",
        ttl_seconds: 3600,
    }),
    max_attempts: 3,
    cooldown: Cooldown::DEFAULT,
    pinning: apex_runtime::table::Pinning::Off,
};

fn chat_answer(text: &str) -> String {
    json!({"id": "chatcmpl-9", "object": "chat.completion", "model": "a-model",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7}})
    .to_string()
}

fn chat_tool_call() -> String {
    json!({"id": "chatcmpl-9", "object": "chat.completion", "model": "a-model",
        "choices": [{"index": 0, "finish_reason": "tool_calls", "message": {"role": "assistant", "content": null,
            "tool_calls": [{"id": "call_w", "type": "function", "function": {"name": "weather", "arguments": "{\"city\":\"Oslo\"}"}}]}}]})
    .to_string()
}

fn delete(path: &str) -> apex_runtime::host::HttpRequest {
    let auth = format!("Bearer {GW_KEY}");
    request("DELETE", path, &[("authorization", &auth)], "")
}

struct Fixture {
    rt: Runtime,
    host: FakeHost,
}

impl Fixture {
    fn new(gw: &'static Gateway) -> Self {
        Fixture {
            rt: Runtime::new(gw),
            host: FakeHost::new(),
        }
    }
    fn call(&self, req: apex_runtime::host::HttpRequest) -> apex_runtime::host::HttpResponse {
        block_on(self.rt.handle(&self.host, req))
    }
    fn create(&self, body: Value) -> Value {
        let resp = self.call(post("/v1/responses", &body.to_string()));
        assert_eq!(resp.status, 200);
        json_of(resp)
    }
    fn upstream_messages(&self, i: usize) -> Value {
        let v: Value = serde_json::from_slice(&self.host.requests.borrow()[i].0.body).unwrap();
        v["messages"].clone()
    }
}

#[test]
fn stored_responses_can_be_retrieved_listed_and_deleted() {
    let f = Fixture::new(&STORING);
    f.host.then_status(200, &chat_answer("Hi there"));
    let created = f.create(json!({
        "model": "chat-pri", "instructions": "Be brief.", "metadata": {"k": "v"},
        "input": [
            {"role": "user", "content": "one"},
            {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "two"}]},
            {"role": "user", "content": "three"},
        ],
    }));
    assert_eq!(f.host.kv.writes.get(), 1);
    let id = created["id"].as_str().unwrap();
    assert_eq!(created["store"], true);
    assert_eq!(created["metadata"], json!({"k": "v"}));
    assert_eq!(created["instructions"], "Be brief.");
    // No key material in what was stored.
    for (v, ttl) in f.host.kv.entries.borrow().values() {
        assert_eq!(*ttl, 3600);
        for secret in [ALPHA_KEY_1, ALPHA_KEY_2, BETA_KEY, GW_KEY] {
            assert!(!v.contains(secret));
        }
    }

    let got = json_of(f.call(get(&format!("/v1/responses/{id}"))));
    assert_eq!(got, created);

    // Newest first by default; `after` + `limit` page through.
    let page = json_of(f.call(get(&format!("/v1/responses/{id}/input_items?limit=2"))));
    assert_eq!(page["object"], "list");
    assert_eq!(page["has_more"], true);
    let texts = |p: &Value| -> Vec<String> {
        p["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["content"][0]["text"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(texts(&page), ["three", "two"]);
    for item in page["data"].as_array().unwrap() {
        assert_eq!(item["type"], "message");
        assert!(item["id"].as_str().unwrap().starts_with("msg_"));
        assert_eq!(item["status"], "completed");
    }
    let after = page["last_id"].as_str().unwrap();
    let next = json_of(f.call(get(&format!(
        "/v1/responses/{id}/input_items?limit=2&after={after}"
    ))));
    assert_eq!(texts(&next), ["one"]);
    assert_eq!(next["has_more"], false);
    let asc = json_of(f.call(get(&format!("/v1/responses/{id}/input_items?order=asc"))));
    assert_eq!(texts(&asc), ["one", "two", "three"]);
    assert_error(
        f.call(get(&format!("/v1/responses/{id}/input_items?limit=500"))),
        400,
    );

    let deleted = json_of(f.call(delete(&format!("/v1/responses/{id}"))));
    assert_eq!(
        deleted,
        json!({"id": id, "object": "response", "deleted": true})
    );
    let e = assert_error(f.call(get(&format!("/v1/responses/{id}"))), 404);
    assert!(e["message"].as_str().unwrap().contains(id));
    assert_error(f.call(get("/v1/responses/resp_missing/input_items")), 404);
}

#[test]
fn store_false_writes_nothing() {
    let f = Fixture::new(&STORING);
    f.host.then_status(200, &chat_answer("ok"));
    let created = f.create(json!({"model": "chat-pri", "input": "hi", "store": false}));
    assert_eq!(created["store"], false);
    assert_eq!(f.host.kv.writes.get(), 0);
    assert!(f.host.kv.entries.borrow().is_empty());
    let id = created["id"].as_str().unwrap();
    assert_error(f.call(get(&format!("/v1/responses/{id}"))), 404);
}

#[test]
fn previous_response_id_continues_a_tool_conversation() {
    let f = Fixture::new(&STORING);
    let tools = json!([{"type": "function", "name": "weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}]);
    f.host.then_status(200, &chat_tool_call());
    let first = f.create(json!({"model": "chat-pri", "input": "Weather in Oslo?", "tools": tools, "instructions": "Use tools."}));
    let call = &first["output"][0];
    assert_eq!(call["type"], "function_call");
    assert_eq!(call["call_id"], "call_w");

    f.host.then_status(200, &chat_answer("It is sunny."));
    let second = f.create(json!({
        "model": "chat-pri", "previous_response_id": first["id"], "tools": tools,
        "input": [{"type": "function_call_output", "call_id": "call_w", "output": "sunny, 20C"}],
    }));
    assert_eq!(second["previous_response_id"], first["id"]);
    assert_eq!(second["output"][0]["content"][0]["text"], "It is sunny.");
    // Instructions are not carried over (the API's rule); the conversation is.
    let m = f.upstream_messages(1);
    assert_eq!(
        m,
        json!([
            {"role": "user", "content": "Weather in Oslo?"},
            {"role": "assistant", "content": null, "tool_calls": [
                {"id": "call_w", "type": "function", "function": {"name": "weather", "arguments": "{\"city\":\"Oslo\"}"}}]},
            {"role": "tool", "tool_call_id": "call_w", "content": "sunny, 20C"},
        ])
    );

    // A third turn sees all of it.
    f.host.then_status(200, &chat_answer("Bye."));
    f.create(json!({"model": "chat-pri", "previous_response_id": second["id"], "input": "thanks"}));
    let m = f.upstream_messages(2);
    assert_eq!(m.as_array().unwrap().len(), 5);
    assert_eq!(
        m[3],
        json!({"role": "assistant", "content": "It is sunny."})
    );
    assert_eq!(m[4], json!({"role": "user", "content": "thanks"}));

    // input_items lists only that request's own input.
    let items = json_of(f.call(get(&format!(
        "/v1/responses/{}/input_items",
        second["id"].as_str().unwrap()
    ))));
    assert_eq!(items["data"].as_array().unwrap().len(), 1);
    assert_eq!(items["data"][0]["type"], "function_call_output");
}

#[test]
/// OpenAI answers 400 `previous_response_not_found` (not 404), and SDKs raise on that.
fn an_unknown_previous_response_is_a_400_previous_response_not_found() {
    let f = Fixture::new(&STORING);
    let e = assert_error(
        f.call(post(
            "/v1/responses",
            r#"{"model":"chat-pri","input":"x","previous_response_id":"resp_gone"}"#,
        )),
        400,
    );
    assert_eq!(e["param"], "previous_response_id");
    assert_eq!(e["code"], "previous_response_not_found");
    assert!(f.host.requests.borrow().is_empty());
}

#[test]
fn streamed_responses_are_stored_before_the_final_event_leaves() {
    let f = Fixture::new(&STORING);
    let chunks: Vec<Result<bytes::Bytes, apex_runtime::host::StreamError>> = vec![
        Ok(bytes::Bytes::from(
            "data: {\"choices\":[{\"delta\":{\"content\":\"Hey\"}}]}\n\n",
        )),
        Ok(bytes::Bytes::from(
            "data: {\"choices\":[{\"delta\":{},\"finish_reason\":\"stop\"}]}\n\ndata: [DONE]\n\n",
        )),
    ];
    f.host.then(Ok(apex_runtime::host::HttpResponse {
        status: 200,
        headers: vec![("content-type".into(), "text/event-stream".into())],
        body: apex_runtime::host::Body::Stream(Box::pin(futures::stream::iter(chunks))),
    }));
    let resp = f.call(post(
        "/v1/responses",
        r#"{"model":"chat-pri","input":"hi","stream":true}"#,
    ));
    let apex_runtime::host::Body::Stream(mut s) = resp.body else {
        panic!("not streamed")
    };
    let mut seen = String::new();
    while let Some(chunk) = block_on(futures::StreamExt::next(&mut s)) {
        let chunk = String::from_utf8(chunk.unwrap().to_vec()).unwrap();
        if chunk.contains("response.completed") {
            assert_eq!(
                f.host.kv.writes.get(),
                1,
                "stored before response.completed left: {chunk}"
            );
        }
        seen.push_str(&chunk);
    }
    assert!(seen.contains("response.completed"));
    let id = seen
        .split("\"id\":\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_owned();
    let got = json_of(f.call(get(&format!("/v1/responses/{id}"))));
    assert_eq!(got["status"], "completed");
    assert_eq!(got["output"][0]["content"][0]["text"], "Hey");
}

#[test]
fn without_a_store_the_gateway_answers_but_keeps_nothing() {
    let f = Fixture::new(&GATEWAY);
    f.host.then_status(200, &chat_answer("ok"));
    let created = f.create(json!({"model": "chat-pri", "input": "hi"}));
    assert_eq!(f.host.kv.writes.get(), 0);
    let id = created["id"].as_str().unwrap();
    let e = assert_error(f.call(get(&format!("/v1/responses/{id}"))), 404);
    assert!(
        e["message"].as_str().unwrap().contains("responses_store"),
        "{e}"
    );
    let e = assert_error(
        f.call(post(
            "/v1/responses",
            &json!({"model": "chat-pri", "input": "x", "previous_response_id": id}).to_string(),
        )),
        400,
    );
    assert!(e["message"].as_str().unwrap().contains("responses_store"));
}
