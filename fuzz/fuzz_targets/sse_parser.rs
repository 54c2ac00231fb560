//! The incremental SSE parser: any chunking of the same bytes yields the same events (or
//! the same error), and it never panics.
#![no_main]
use apex_runtime::wire::sse;
use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;

fn parse(chunks: &[&[u8]], max: usize) -> Result<Vec<sse::Event>, ()> {
    let mut p = sse::Parser::new(max);
    let mut out = Vec::new();
    for c in chunks {
        p.feed(c, &mut out).map_err(|_| ())?;
    }
    p.finish(&mut out).map_err(|_| ())?;
    Ok(out)
}

fuzz_target!(|data: &[u8]| {
    let Some((_, body)) = data.split_first() else {
        return;
    };
    let split = common::chunks(data);
    let max = sse::DEFAULT_MAX_EVENT;
    let whole = parse(&[body], max);
    let pieces = parse(&split, max);
    assert_eq!(whole, pieces, "chunking changed the events");
    let bytes: Vec<&[u8]> = body.chunks(1).collect();
    assert_eq!(whole, parse(&bytes, max), "byte-by-byte changed the events");
    // A tight limit must give an error, never a panic or unbounded growth.
    let _ = parse(&split, 64);
});
