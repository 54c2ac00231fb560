//! Responses requests → canonical (items → messages) → a chat completions body (the Codex path).
#![no_main]
use apex_runtime::wire::{openai::chat_request, responses::request};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(mut p) = request::parse(data) {
        let items: Vec<&serde_json::Value> = p.input.iter().collect();
        if request::to_messages(&mut p.req, p.instructions.as_ref(), &items).is_ok() {
            if let Ok(body) = chat_request::encode(&p.req, "m", None) {
                // As in messages_request: JSON by the grammar, and a `Value` when the input was.
                serde_json::from_slice::<serde::de::IgnoredAny>(&body).expect("chat body is JSON");
                if serde_json::from_slice::<serde_json::Value>(data).is_ok() {
                    serde_json::from_slice::<serde_json::Value>(&body).expect("chat body parses");
                }
            }
        }
        for item in p.input {
            let _ = request::normalize(item, |prefix| format!("{prefix}_1"));
        }
    }
});
