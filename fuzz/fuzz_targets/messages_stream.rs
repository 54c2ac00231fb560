//! Upstream Anthropic Messages SSE → canonical events → every client protocol.
#![no_main]
use apex_runtime::upstream::anthropic::codec::StreamDecoder;
use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;
#[path = "stream_check.rs"]
mod stream_check;

fuzz_target!(|data: &[u8]| {
    stream_check::run(StreamDecoder::new(), data);
    if let Ok(v) = serde_json::from_slice::<serde_json::Value>(data.get(1..).unwrap_or_default()) {
        let _ = apex_runtime::upstream::anthropic::codec::response(&v);
    }
});
