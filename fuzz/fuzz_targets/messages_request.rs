//! Anthropic Messages requests → canonical → a chat completions body (the Claude Code path),
//! plus the count_tokens estimate and the Messages re-encode for Anthropic upstreams.
#![no_main]
use apex_runtime::{anthropic, openai::chat_request};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(req) = anthropic::decode::request(data) {
        if let Ok(body) = chat_request::encode(&req, "m", Some(1024)) {
            serde_json::from_slice::<serde_json::Value>(&body).expect("chat body is JSON");
        }
        let _ = anthropic::upstream::encode(&req, "m", None);
    }
});
