//! Inputs the fuzzers found (fuzz/fuzz_targets), kept as regression tests.
#![allow(clippy::unwrap_used, clippy::expect_used)]
use apex_runtime::wire::{anthropic, openai::chat_request};

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!(
        "{}/tests/fixtures/fuzz/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

/// `messages_request` (2026-11-27): a Claude Code body whose tool schema holds a number out of
/// serde_json's range (`-900…e99999999254740991`, valid by the JSON grammar). Schemas pass to
/// the upstream as the client's text, so the chat body carries it verbatim: still JSON by the
/// grammar, just not a `Value` — exactly as much as the client's own body was.
#[test]
fn out_of_range_numbers_in_a_schema_pass_through_verbatim() {
    let data = fixture("messages_request-number-out-of-range.json");
    assert!(serde_json::from_slice::<serde_json::Value>(&data).is_err());
    let req = anthropic::decode::request(&data).expect("the body decodes");
    let body = chat_request::encode(&req, "m", Some(1024)).expect("encodes");
    serde_json::from_slice::<serde::de::IgnoredAny>(&body).expect("the chat body is JSON");
    let number = "-90071199999999999999999999e99999999254740991";
    assert!(String::from_utf8_lossy(&data).contains(number));
    assert!(String::from_utf8_lossy(&body).contains(number));
}
