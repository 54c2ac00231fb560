//! Request-side translation cost on real client bodies (`tests/fixtures/samples`, or
//! `APEX_SAMPLES`): Claude Code Messages → canonical → chat, Codex Responses → canonical →
//! chat. Prints µs per operation for each step (release build, best of several rounds so a
//! busy shared machine disturbs it less).
//!
//! `cargo bench -p apex-runtime --bench requests`

mod common;
use apex_runtime::wire::anthropic::{count, decode};
use apex_runtime::wire::openai::chat_request;
use apex_runtime::wire::responses::request;
use common::time;
use serde_json::value::RawValue;
use serde_json::Value;
use std::hint::black_box;
use std::time::Instant;

/// The client's body bytes from a sample file: its `body`, keys in the client's order, with
/// the file's pretty-printing removed (clients send compact JSON).
fn sample(name: &str) -> Option<Vec<u8>> {
    #[derive(serde::Deserialize)]
    struct File<'a> {
        #[serde(borrow)]
        body: &'a RawValue,
    }
    let dir = std::env::var("APEX_SAMPLES").unwrap_or_else(|_| {
        concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/fixtures/samples").into()
    });
    let text = std::fs::read_to_string(format!("{dir}/{name}")).ok()?;
    let file: File<'_> = serde_json::from_str(&text).ok()?;
    Some(compact(file.body.get()))
}

/// JSON text without the whitespace between tokens.
fn compact(json: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(json.len());
    let (mut in_str, mut esc) = (false, false);
    for &b in json.as_bytes() {
        if in_str {
            out.push(b);
            if esc {
                esc = false;
            } else if b == b'\\' {
                esc = true;
            } else if b == b'"' {
                in_str = false;
            }
        } else if !b.is_ascii_whitespace() {
            in_str = b == b'"';
            out.push(b);
        }
    }
    out
}

/// With `APEX_DUMP=dir`, writes each translated body there (to compare two builds' output).
fn dump(name: &str, body: &[u8]) {
    if let Ok(dir) = std::env::var("APEX_DUMP") {
        let _ = std::fs::write(format!("{dir}/{name}"), body);
    }
}

fn row(label: &str, us: f64) {
    println!("{label:<52} {us:>9.1} µs");
}

fn claude(name: &str) {
    let Some(body) = sample(name) else {
        println!("{name}: sample missing, skipped");
        return;
    };
    println!("{name} ({} bytes)", body.len());
    let Ok(req) = decode::request(&body) else {
        println!("  decode failed");
        return;
    };
    if let Ok(b) = chat_request::encode(&req, "gpt-4o", None) {
        dump(&format!("{name}.chat.json"), &b);
    }
    dump(
        &format!("{name}.count"),
        count::estimate(&req).to_string().as_bytes(),
    );
    let decode_us = time(|| decode::request(&body).map(|r| r.messages.len()));
    let encode_us = time(|| chat_request::encode(&req, "gpt-4o", None).map(|b| b.len()));
    row("  anthropic::decode::request", decode_us);
    row("  openai::chat_request::encode", encode_us);
    row(
        "  anthropic::count::estimate",
        time(|| count::estimate(&req)),
    );
    row(
        "  decode + encode",
        time(|| {
            decode::request(&body)
                .and_then(|r| chat_request::encode(&r, "gpt-4o", None))
                .map(|b| b.len())
        }),
    );
}

/// Parse, items → messages (as `responses::create` does), chat body.
fn codex_all(body: &[u8]) -> Option<usize> {
    let mut p = request::parse(body).ok()?;
    let input: Vec<Value> = std::mem::take(&mut p.input)
        .into_iter()
        .map(|i| request::normalize(i, |prefix| format!("{prefix}_0")))
        .collect();
    let items: Vec<&Value> = input.iter().collect();
    request::to_messages(&mut p.req, p.instructions.as_ref(), &items).ok()?;
    chat_request::encode(&p.req, "gpt-4o", None)
        .ok()
        .map(|b| b.len())
}

fn codex(name: &str) {
    let Some(body) = sample(name) else {
        println!("{name}: sample missing, skipped");
        return;
    };
    println!("{name} ({} bytes)", body.len());
    let Ok(parsed) = request::parse(&body) else {
        println!("  parse failed");
        return;
    };
    let input: Vec<Value> = parsed
        .input
        .iter()
        .map(|i| request::normalize(i.clone(), |prefix| format!("{prefix}_0")))
        .collect();
    let items: Vec<&Value> = input.iter().collect();
    let mut req = parsed.req.clone();
    if request::to_messages(&mut req, parsed.instructions.as_ref(), &items).is_err() {
        println!("  to_messages failed");
        return;
    }
    if let Ok(b) = chat_request::encode(&req, "gpt-4o", None) {
        dump(&format!("{name}.chat.json"), &b);
    }
    dump(
        &format!("{name}.echo.json"),
        parsed.echo_json.clone().as_bytes(),
    );
    row(
        "  responses::request::parse",
        time(|| request::parse(&body).map(|p| p.input.len())),
    );
    row(
        "  normalize input items (with a clone of each)",
        time(|| {
            parsed
                .input
                .iter()
                .map(|i| request::normalize(i.clone(), |prefix| format!("{prefix}_0")))
                .collect::<Vec<_>>()
        }),
    );
    row(
        "  to_messages",
        time(|| {
            let mut r = parsed.req.clone();
            request::to_messages(&mut r, parsed.instructions.as_ref(), &items).map(|()| r)
        }),
    );
    row(
        "    (clone of the parsed request, included above)",
        time(|| parsed.req.clone()),
    );
    row(
        "  openai::chat_request::encode",
        time(|| chat_request::encode(&req, "gpt-4o", None).map(|b| b.len())),
    );
    row(
        "  all of it (with the echo JSON)",
        time(|| codex_all(&body)),
    );
    // The echo is written by `parse` now (it was `events::echo_json(&parsed.echo)`).
    row(
        "  response echo JSON (now part of parse)",
        time(|| parsed.echo_json.len()),
    );
}

/// `APEX_PROFILE=claude-decode|claude-encode|codex-parse`: runs that one step for a few
/// seconds (for `perf record`), nothing else.
fn profile(step: &str) {
    let claude = sample("claude-tool-turn1.json").unwrap_or_default();
    let codex = sample("codex-tool-turn1.json").unwrap_or_default();
    let req = decode::request(&claude).unwrap_or_default();
    let start = Instant::now();
    while start.elapsed().as_secs() < 4 {
        for _ in 0..100 {
            match step {
                "claude-decode" => drop(black_box(decode::request(&claude))),
                "claude-encode" => drop(black_box(chat_request::encode(&req, "m", None))),
                "codex-parse" => drop(black_box(request::parse(&codex))),
                _ => return,
            }
        }
    }
}

fn main() {
    if let Ok(step) = std::env::var("APEX_PROFILE") {
        return profile(&step);
    }
    for name in [
        "claude-tool-turn1.json",
        "claude-tool-turn2-tool_result.json",
    ] {
        claude(name);
    }
    for name in [
        "codex-tool-turn1.json",
        "codex-tool-turn2-function_call_output.json",
    ] {
        codex(name);
    }
}
