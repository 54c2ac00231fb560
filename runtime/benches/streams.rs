//! Response-side translation cost: the benchmark upstream's chat SSE stream
//! (`bench/upstream/chat-stream.sse`, all in one chunk as the bench upstream sends it) and its
//! `chat.completion` body (`bench/upstream/chat.json`) → canonical → Messages / Responses, plus
//! a synthetic stream with reasoning and interleaved tool calls. The Responses rows echo the
//! Codex request (`codex-tool-turn1.json` from `tests/fixtures/samples` or `APEX_SAMPLES`).
//!
//! Prints µs per operation (release build, best of several rounds so a busy shared machine
//! disturbs it less), and for each translation the output's length and a hash, so two builds
//! (say, before and after a change) can be checked to write the same bytes.
//!
//! `cargo bench -p apex-runtime --bench streams`

mod common;
use apex_runtime::host::{ByteStream, StreamError};
use apex_runtime::wire::anthropic::encode as messages;
use apex_runtime::wire::canonical::stream::{replay, translate, Decode, Encode};
use apex_runtime::wire::canonical::Event;
use apex_runtime::wire::openai::chat_response::{self, StreamDecoder};
use apex_runtime::wire::responses::events::{Encoder, Head, Slot};
use apex_runtime::wire::responses::{request, tools::ToolMap};
use apex_runtime::wire::sse;
use bytes::Bytes;
use common::time;
use futures::StreamExt;
use serde_json::value::RawValue;
use serde_json::Value;
use std::cell::RefCell;
use std::rc::Rc;

/// FNV-1a: enough to tell whether two builds wrote the same bytes.
fn fnv(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

fn row(label: &str, us: f64, out: Option<&[u8]>) {
    match out {
        Some(o) => println!(
            "{label:<60} {us:>8.1} µs   {:>6} B  {:016x}",
            o.len(),
            fnv(o)
        ),
        None => println!("{label:<60} {us:>8.1} µs"),
    }
}

fn upstream_file(name: &str) -> Vec<u8> {
    let path = format!("{}/../bench/upstream/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The Codex request's echo and tool map, as `responses::create` builds them.
fn codex_head() -> Option<(Rc<Head>, Rc<ToolMap>)> {
    #[derive(serde::Deserialize)]
    struct File<'a> {
        #[serde(borrow)]
        body: &'a RawValue,
    }
    let dir = std::env::var("APEX_SAMPLES").unwrap_or_else(|_| {
        concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/fixtures/samples").into()
    });
    let text = std::fs::read_to_string(format!("{dir}/codex-tool-turn1.json")).ok()?;
    let file: File<'_> = serde_json::from_str(&text).ok()?;
    let parsed = request::parse(file.body.get().as_bytes()).ok()?;
    let head = Head {
        id: "resp_bench".into(),
        created_at: 1_700_000_000,
        echo_json: parsed.echo_json,
    };
    Some((Rc::new(head), Rc::new(parsed.tools)))
}

/// A stream with reasoning, text and two tool calls whose fragments interleave by index.
fn synthetic_stream() -> Vec<u8> {
    let mut s = String::new();
    let mut chunk = |delta: &str, finish: &str| {
        s.push_str(&format!(
            "data: {{\"id\":\"chatcmpl-x\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\"choices\":[{{\"index\":0,\"delta\":{delta},\"finish_reason\":{finish}}}]}}\n\n"
        ));
    };
    chunk(r#"{"role":"assistant","content":""}"#, "null");
    for w in ["Let", " me", " think", " about \\\"this\\\"", " carefully."] {
        chunk(&format!(r#"{{"reasoning_content":"{w}"}}"#), "null");
    }
    for w in ["I will", " call", " two tools", " — now.\\n"] {
        chunk(&format!(r#"{{"content":"{w}"}}"#), "null");
    }
    chunk(
        r#"{"tool_calls":[{"index":0,"id":"call_a","type":"function","function":{"name":"shell","arguments":""}}]}"#,
        "null",
    );
    chunk(
        r#"{"tool_calls":[{"index":1,"id":"call_b","type":"function","function":{"name":"read_file","arguments":"{\"pa"}}]}"#,
        "null",
    );
    for piece in [r#"{\"cmd\":"#, r#"[\"ls\","#, r#"\"-la\"]"#, "}"] {
        chunk(
            &format!(r#"{{"tool_calls":[{{"index":0,"function":{{"arguments":"{piece}"}}}}]}}"#),
            "null",
        );
    }
    chunk(
        r#"{"tool_calls":[{"index":1,"function":{"arguments":"th\":\"a.txt\"}"}}]}"#,
        "null",
    );
    chunk("{}", r#""tool_calls""#);
    s.push_str("data: {\"id\":\"chatcmpl-x\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\"choices\":[],\"usage\":{\"prompt_tokens\":100,\"completion_tokens\":20,\"total_tokens\":120,\"prompt_tokens_details\":{\"cached_tokens\":40}}}\n\n");
    s.push_str("data: [DONE]\n\n");
    s.into_bytes()
}

fn one_chunk(body: &[u8]) -> ByteStream {
    let chunk: Result<Bytes, StreamError> = Ok(Bytes::copy_from_slice(body));
    Box::pin(futures::stream::iter([chunk]))
}

/// The whole translated stream, as the router reads it.
fn run(body: &[u8], encoder: impl Encode + Unpin + 'static) -> Vec<u8> {
    let decoder = StreamDecoder::new("chatcmpl-bench".into(), "gpt-4o".into());
    let s = translate(one_chunk(body), decoder, encoder);
    let chunks: Vec<_> = futures::executor::block_on(s.collect::<Vec<_>>());
    let mut out = Vec::new();
    for c in chunks.into_iter().flatten() {
        out.extend_from_slice(&c);
    }
    out
}

fn parse(body: &[u8]) -> Vec<sse::Event> {
    let mut p = sse::Parser::default();
    let mut out = Vec::new();
    let _ = p.feed(body, &mut out);
    let _ = p.finish(&mut out);
    out
}

/// Parse + decode only: the canonical events (their count, as a cheap result).
fn decode(body: &[u8]) -> Vec<Event> {
    let mut d = StreamDecoder::new("chatcmpl-bench".into(), "gpt-4o".into());
    let mut events = Vec::new();
    d.begin(&mut events);
    for ev in parse(body) {
        d.event(ev, &mut events);
    }
    d.end(&mut events);
    events
}

fn responses_encoder(head: &Rc<Head>, tools: &Rc<ToolMap>, write: bool) -> (Encoder, Slot) {
    let slot: Slot = Rc::new(RefCell::new(None));
    let enc = Encoder::new(Rc::clone(head), Rc::clone(tools), write, Rc::clone(&slot));
    (enc, slot)
}

fn stream_rows(label: &str, body: &[u8], codex: Option<&(Rc<Head>, Rc<ToolMap>)>) {
    println!(
        "{label} ({} bytes, {} SSE events)",
        body.len(),
        parse(body).len()
    );
    row("  sse::Parser", time(|| parse(body).len()), None);
    let events = format!("{:?}", decode(body));
    row(
        "  parse + chat StreamDecoder (→ canonical)",
        time(|| decode(body).len()),
        Some(events.as_bytes()),
    );
    let out = run(body, messages::StreamEncoder::new("claude-x"));
    row(
        "  → Messages SSE (translate)",
        time(|| run(body, messages::StreamEncoder::new("claude-x")).len()),
        Some(&out),
    );
    let out = run(body, chat_response::StreamEncoder::new("gpt-x", 1, true));
    row(
        "  → chat SSE (the chat encoder, as for Anthropic upstreams)",
        time(|| run(body, chat_response::StreamEncoder::new("gpt-x", 1, true)).len()),
        Some(&out),
    );
    if let Some((head, tools)) = codex {
        let out = run(body, responses_encoder(head, tools, true).0);
        row(
            "  → Responses SSE (translate, Codex echo)",
            time(|| run(body, responses_encoder(head, tools, true).0).len()),
            Some(&out),
        );
    }
}

/// The non-streamed body: parse (as `decode_whole` does), canonical, Messages body.
fn whole_messages(body: &[u8]) -> Vec<u8> {
    let v: Value = serde_json::from_slice(body).unwrap_or_default();
    match chat_response::response(&v) {
        Ok(r) => serde_json::to_vec(&messages::response(&r, "claude-x")).unwrap_or_default(),
        Err(e) => e.into_bytes(),
    }
}

/// The non-streamed Responses object (events replayed into the encoder, bytes discarded).
fn whole_responses(body: &[u8], head: &Rc<Head>, tools: &Rc<ToolMap>, write: bool) -> Vec<u8> {
    let v: Value = serde_json::from_slice(body).unwrap_or_default();
    let Ok(r) = chat_response::response(&v) else {
        return Vec::new();
    };
    let (mut enc, slot) = responses_encoder(head, tools, write);
    let events = replay(&r, &mut enc);
    let finished = slot.borrow_mut().take();
    if write {
        events
    } else {
        finished.map(|f| f.response).unwrap_or_default()
    }
}

fn main() {
    let codex = codex_head();
    match &codex {
        Some((h, _)) => println!("Codex echo: {} bytes", h.echo_json.len()),
        None => println!("codex-tool-turn1.json missing: Responses rows skipped"),
    }
    stream_rows(
        "chat-stream.sse",
        &upstream_file("chat-stream.sse"),
        codex.as_ref(),
    );
    stream_rows(
        "synthetic reasoning + tool calls",
        &synthetic_stream(),
        codex.as_ref(),
    );

    let chat = upstream_file("chat.json");
    println!("chat.json ({} bytes)", chat.len());
    let out = whole_messages(&chat);
    row(
        "  → Messages body",
        time(|| whole_messages(&chat).len()),
        Some(&out),
    );
    if let Some((head, tools)) = &codex {
        let out = whole_responses(&chat, head, tools, false);
        row(
            "  → Responses object (Codex echo)",
            time(|| whole_responses(&chat, head, tools, false).len()),
            Some(&out),
        );
        let out = whole_responses(&chat, head, tools, true);
        row(
            "  → Responses SSE replay (stream to client)",
            time(|| whole_responses(&chat, head, tools, true).len()),
            Some(&out),
        );
    }
}
