//! OpenAI chat requests: the routing scan (model splice) and the full decode to canonical
//! (used for Anthropic upstreams), then the canonical request encoded both ways.
#![no_main]
use apex_runtime::wire::openai::{chat_request, Routing};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for required in [Some("messages"), Some("input"), None] {
        if let Ok(r) = Routing::parse(data, required) {
            let body = bytes::Bytes::copy_from_slice(data);
            let out = r.with_model(&body, "upstream-model");
            // The splice keeps the body JSON.
            if serde_json::from_slice::<serde_json::Value>(data).is_ok() {
                serde_json::from_slice::<serde_json::Value>(&out).expect("spliced body is JSON");
            }
        }
    }
    if let Ok(req) = chat_request::decode(data) {
        let _ = chat_request::encode(&req, "m", Some(1024));
        let _ = apex_runtime::upstream::anthropic::codec::encode(&req, "m", Some(1024));
    }
});
