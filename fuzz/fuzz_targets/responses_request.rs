//! Responses requests → canonical (items → messages) → a chat completions body (the Codex path).
#![no_main]
use apex_runtime::{openai::chat_request, responses::request};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(mut p) = request::parse(data) {
        let items: Vec<&serde_json::Value> = p.input.iter().collect();
        if request::to_messages(&mut p.req, p.instructions.as_ref(), &items).is_ok() {
            if let Ok(body) = chat_request::encode(&p.req, "m", None) {
                serde_json::from_slice::<serde_json::Value>(&body).expect("chat body is JSON");
            }
        }
        for item in p.input {
            let _ = request::normalize(item, |prefix| format!("{prefix}_1"));
        }
    }
});
