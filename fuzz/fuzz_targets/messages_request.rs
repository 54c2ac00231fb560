//! Anthropic Messages requests → canonical → a chat completions body (the Claude Code path),
//! plus the count_tokens estimate and the Messages re-encode for Anthropic upstreams.
#![no_main]
use apex_runtime::wire::{anthropic, openai::chat_request};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(req) = anthropic::decode::request(data) {
        if let Ok(body) = chat_request::encode(&req, "m", Some(1024)) {
            // Always JSON by the grammar. Parts of the client's body (tool schemas) pass through
            // as its text, so a number serde_json finds out of range (`1e999`) may too: the body
            // must parse as a `Value` whenever the client's did.
            serde_json::from_slice::<serde::de::IgnoredAny>(&body).expect("chat body is JSON");
            if serde_json::from_slice::<serde_json::Value>(data).is_ok() {
                serde_json::from_slice::<serde_json::Value>(&body).expect("chat body parses");
            }
        }
        let _ = apex_runtime::upstream::anthropic::codec::encode(&req, "m", None);
    }
});
