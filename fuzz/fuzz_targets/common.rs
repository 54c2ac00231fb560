// Shared by the stream targets: cutting the input into chunks, and checking what an encoder
// wrote is well-formed SSE whose data is JSON (what a client would choke on otherwise).
#![allow(dead_code)]

use apex_runtime::wire::sse;

/// Splits `data` into chunks: the first byte picks the chunk lengths (1..=16 cycling through
/// a pattern derived from it), so the fuzzer explores every way an event can be cut.
pub fn chunks(data: &[u8]) -> Vec<&[u8]> {
    let Some((&seed, mut rest)) = data.split_first() else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let mut n = seed as usize;
    while !rest.is_empty() {
        let len = (n % 16 + 1).min(rest.len());
        let (a, b) = rest.split_at(len);
        out.push(a);
        rest = b;
        n = n.wrapping_mul(31).wrapping_add(7) >> 1;
    }
    out
}

/// Every event in `bytes` (a complete encoder output) must carry JSON data (or `[DONE]`).
pub fn assert_sse_json(bytes: &[u8], who: &str) {
    let mut p = sse::Parser::default();
    let mut events = Vec::new();
    p.feed(bytes, &mut events)
        .expect("encoder output within limits");
    p.finish(&mut events).expect("encoder output within limits");
    for ev in events {
        if ev.data == "[DONE]" {
            continue;
        }
        if serde_json::from_str::<serde_json::Value>(&ev.data).is_err() {
            panic!("{who} wrote an event whose data is not JSON: {:?}", ev.data);
        }
    }
}
