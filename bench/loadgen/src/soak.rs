//! `apex-soak`: sustained mixed traffic through a gateway, every response checked in full.
//!
//! `--concurrency N` keep-alive connections each send requests from a fixed mix for
//! `--duration` seconds: chat (plain, streamed), embeddings, models, Anthropic Messages and
//! Responses (plain, streamed, both translated to the chat upstream), a failover model whose
//! first route always fails, and faults injected by the fake upstream (tests/fake-upstream)
//! through `[[fake:SPEC]]` in the prompt: streams cut mid-way or ended without their end
//! marker, upstream 500s and 429s, slow streams.
//!
//! Every answer is parsed whole and compared with what the fake upstream must have said
//! (`echo: <prompt>`, a unique prompt per request), so a lost, truncated, garbled or
//! cross-wired response is a failure:
//! - success: status 200, valid JSON / every SSE event's data valid JSON, the protocol's end
//!   marker (`[DONE]`, `message_stop`, `response.completed`), text exactly the echo;
//! - a stream failed by the upstream: 200 then text that is a prefix of the echo and a final
//!   error event in the client's protocol (or an error status before the stream began);
//! - a plain request failed by the upstream: an error status with the protocol's error JSON.
//!
//! ```text
//! apex-soak --url http://127.0.0.1:8787 --key KEY --concurrency 64 --duration 300
//! ```
//! Prints one JSON object: requests and failures per case, and the first failures in full.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1;
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;
use std::time::{Duration, Instant};

#[derive(Clone, Copy, Debug, PartialEq)]
enum Proto {
    Chat,
    Messages,
    Responses,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Expect {
    /// 200 with exactly the echo.
    Echo,
    /// A stream the upstream breaks: 200 + echo prefix + final error event, or an error status.
    StreamFails,
    /// An error status with the protocol's error body.
    Fails,
    Embedding,
    Models,
}

struct Case {
    name: &'static str,
    proto: Proto,
    stream: bool,
    model: &'static str,
    fault: &'static str,
    expect: Expect,
}

/// The mix: one request of each in turn (streams weigh more: they are the risky path).
const CASES: &[Case] = &[
    Case {
        name: "chat",
        proto: Proto::Chat,
        stream: false,
        model: "soak",
        fault: "",
        expect: Expect::Echo,
    },
    Case {
        name: "chat-stream",
        proto: Proto::Chat,
        stream: true,
        model: "soak",
        fault: "",
        expect: Expect::Echo,
    },
    Case {
        name: "embeddings",
        proto: Proto::Chat,
        stream: false,
        model: "soak-embed",
        fault: "",
        expect: Expect::Embedding,
    },
    Case {
        name: "models",
        proto: Proto::Chat,
        stream: false,
        model: "",
        fault: "",
        expect: Expect::Models,
    },
    Case {
        name: "messages",
        proto: Proto::Messages,
        stream: false,
        model: "soak",
        fault: "",
        expect: Expect::Echo,
    },
    Case {
        name: "messages-stream",
        proto: Proto::Messages,
        stream: true,
        model: "soak",
        fault: "",
        expect: Expect::Echo,
    },
    Case {
        name: "responses",
        proto: Proto::Responses,
        stream: false,
        model: "soak",
        fault: "",
        expect: Expect::Echo,
    },
    Case {
        name: "responses-stream",
        proto: Proto::Responses,
        stream: true,
        model: "soak",
        fault: "",
        expect: Expect::Echo,
    },
    Case {
        name: "chat-failover",
        proto: Proto::Chat,
        stream: false,
        model: "soak-failover",
        fault: "",
        expect: Expect::Echo,
    },
    Case {
        name: "messages-stream-failover",
        proto: Proto::Messages,
        stream: true,
        model: "soak-failover",
        fault: "",
        expect: Expect::Echo,
    },
    Case {
        name: "chat-stream-slow",
        proto: Proto::Chat,
        stream: true,
        model: "soak",
        fault: "chunk_delay_ms=5;chunks=6",
        expect: Expect::Echo,
    },
    Case {
        name: "chat-stream-drop-mid",
        proto: Proto::Chat,
        stream: true,
        model: "soak-faults",
        fault: "drop=mid",
        expect: Expect::StreamFails,
    },
    Case {
        name: "messages-stream-drop-mid",
        proto: Proto::Messages,
        stream: true,
        model: "soak-faults",
        fault: "drop=mid",
        expect: Expect::StreamFails,
    },
    Case {
        name: "responses-stream-truncate",
        proto: Proto::Responses,
        stream: true,
        model: "soak-faults",
        fault: "truncate=1",
        expect: Expect::StreamFails,
    },
    Case {
        name: "chat-stream-truncate",
        proto: Proto::Chat,
        stream: true,
        model: "soak-faults",
        fault: "truncate=1",
        expect: Expect::StreamFails,
    },
    Case {
        name: "chat-500",
        proto: Proto::Chat,
        stream: false,
        model: "soak-refusals",
        fault: "status=500",
        expect: Expect::Fails,
    },
    Case {
        name: "messages-429",
        proto: Proto::Messages,
        stream: false,
        model: "soak-refusals",
        fault: "status=429",
        expect: Expect::Fails,
    },
];

struct Opts {
    url: String,
    key: String,
    concurrency: usize,
    duration: Duration,
}

fn parse_args() -> Result<Opts, String> {
    let mut o = Opts {
        url: String::new(),
        key: String::new(),
        concurrency: 64,
        duration: Duration::from_secs(300),
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let v = args.next().ok_or(format!("{a} needs a value"))?;
        match a.as_str() {
            "--url" => o.url = v.trim_end_matches('/').to_string(),
            "--key" => o.key = v,
            "--concurrency" => {
                o.concurrency = v.parse().map_err(|_| "--concurrency needs a number")?
            }
            "--duration" => {
                o.duration =
                    Duration::from_secs_f64(v.parse().map_err(|_| "--duration needs seconds")?)
            }
            other => return Err(format!("unknown argument `{other}`")),
        }
    }
    if !o.url.starts_with("http://") {
        return Err("--url http://HOST:PORT is required".into());
    }
    Ok(o)
}

#[derive(Default)]
struct Tally {
    ok: u64,
    failed: u64,
    /// Of the upstream-fault cases: how many ended as a 200 stream with an error event, and
    /// how many as an error status.
    error_event: u64,
    error_status: u64,
}

#[derive(Default)]
struct Results {
    per_case: BTreeMap<&'static str, Tally>,
    samples: Vec<Value>,
}

fn request_body(case: &Case, prompt: &str) -> (String, &'static str, Option<String>) {
    match (case.expect, case.proto) {
        (Expect::Models, _) => ("GET".into(), "/v1/models", None),
        (Expect::Embedding, _) => (
            "POST".into(),
            "/v1/embeddings",
            Some(json!({"model": case.model, "input": prompt}).to_string()),
        ),
        (_, Proto::Chat) => {
            let mut b =
                json!({"model": case.model, "messages": [{"role": "user", "content": prompt}]});
            if case.stream {
                b["stream"] = json!(true);
                b["stream_options"] = json!({"include_usage": true});
            }
            ("POST".into(), "/v1/chat/completions", Some(b.to_string()))
        }
        (_, Proto::Messages) => {
            let b = json!({"model": case.model, "max_tokens": 256, "stream": case.stream,
                "system": "You are a soak test.",
                "messages": [{"role": "user", "content": [{"type": "text", "text": prompt}]}]});
            ("POST".into(), "/v1/messages", Some(b.to_string()))
        }
        (_, Proto::Responses) => {
            let b = json!({"model": case.model, "stream": case.stream, "store": false,
                "instructions": "You are a soak test.",
                "input": [{"type": "message", "role": "user", "content": [{"type": "input_text", "text": prompt}]}]});
            ("POST".into(), "/v1/responses", Some(b.to_string()))
        }
    }
}

/// SSE events as (event name, data); Err when the framing or a data line is not JSON.
fn sse_events(body: &str) -> Result<Vec<(String, Value)>, String> {
    let mut out = Vec::new();
    for block in body.split("\n\n") {
        if block.trim().is_empty() {
            continue;
        }
        let mut name = String::new();
        let mut data = String::new();
        for line in block.lines() {
            if let Some(v) = line.strip_prefix("event:") {
                name = v.trim().to_string();
            } else if let Some(v) = line.strip_prefix("data:") {
                data.push_str(v.strip_prefix(' ').unwrap_or(v));
            } else if line.starts_with(':') {
            } else {
                return Err(format!("not an SSE line: {line:?}"));
            }
        }
        if data == "[DONE]" {
            out.push((name, Value::String("[DONE]".into())));
            continue;
        }
        let v: Value = serde_json::from_str(&data)
            .map_err(|e| format!("SSE data is not JSON ({e}): {data:?}"))?;
        out.push((name, v));
    }
    if !body.is_empty() && !body.ends_with("\n\n") {
        return Err("the stream does not end with a complete event".into());
    }
    Ok(out)
}

/// How a stream ended.
#[derive(Debug, PartialEq)]
enum End {
    Complete,
    ErrorEvent,
}

/// (text, how it ended) of a streamed answer; Err for anything malformed.
fn read_stream(proto: Proto, body: &str) -> Result<(String, End), String> {
    let events = sse_events(body)?;
    let mut text = String::new();
    let mut end = None;
    for (name, v) in &events {
        if end.is_some() {
            return Err(format!("event after the end: {name} {v}"));
        }
        match proto {
            Proto::Chat => {
                if v.as_str() == Some("[DONE]") {
                    end = Some(End::Complete);
                } else if v.get("error").is_some() {
                    end = Some(End::ErrorEvent);
                } else if let Some(t) = v
                    .pointer("/choices/0/delta/content")
                    .and_then(Value::as_str)
                {
                    text.push_str(t);
                }
            }
            Proto::Messages => match v.get("type").and_then(Value::as_str).unwrap_or(name) {
                "content_block_delta" => {
                    if let Some(t) = v.pointer("/delta/text").and_then(Value::as_str) {
                        text.push_str(t);
                    }
                }
                "message_stop" => end = Some(End::Complete),
                "error" => end = Some(End::ErrorEvent),
                _ => {}
            },
            Proto::Responses => match v.get("type").and_then(Value::as_str).unwrap_or(name) {
                "response.output_text.delta" => {
                    if let Some(t) = v.get("delta").and_then(Value::as_str) {
                        text.push_str(t);
                    }
                }
                "response.completed" => {
                    let whole = responses_text(v.get("response").unwrap_or(&Value::Null));
                    if whole != text {
                        return Err(format!(
                            "response.completed says {whole:?}, deltas said {text:?}"
                        ));
                    }
                    end = Some(End::Complete);
                }
                "response.failed" | "error" => end = Some(End::ErrorEvent),
                _ => {}
            },
        }
    }
    end.map(|e| (text, e))
        .ok_or_else(|| "the stream ended without its end marker or an error event".into())
}

fn responses_text(resp: &Value) -> String {
    let mut text = String::new();
    for item in resp
        .get("output")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        for part in item
            .get("content")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if part.get("type").and_then(Value::as_str) == Some("output_text") {
                text.push_str(part.get("text").and_then(Value::as_str).unwrap_or(""));
            }
        }
    }
    text
}

fn plain_text(proto: Proto, v: &Value) -> Result<String, String> {
    let t = match proto {
        Proto::Chat => v
            .pointer("/choices/0/message/content")
            .and_then(Value::as_str)
            .map(str::to_owned),
        Proto::Messages => v
            .pointer("/content/0/text")
            .and_then(Value::as_str)
            .map(str::to_owned),
        Proto::Responses => (v.get("status").and_then(Value::as_str) == Some("completed"))
            .then(|| responses_text(v)),
    };
    t.ok_or_else(|| format!("no answer text in {v}"))
}

fn is_error_body(proto: Proto, v: &Value) -> bool {
    match proto {
        Proto::Messages => {
            v.get("type").and_then(Value::as_str) == Some("error")
                && v.pointer("/error/message").is_some()
        }
        _ => v
            .pointer("/error/message")
            .and_then(Value::as_str)
            .is_some(),
    }
}

/// Checks one answer; Ok(true) when it was an error status for a fault case.
fn check(case: &Case, prompt: &str, status: u16, body: &[u8]) -> Result<Option<End>, String> {
    let text = std::str::from_utf8(body).map_err(|_| "the body is not UTF-8".to_string())?;
    // `chunks=N` makes the fake upstream stream "0 1 ... N-1 " instead of the echo.
    let want = match case
        .fault
        .split(';')
        .find_map(|kv| kv.strip_prefix("chunks="))
    {
        Some(n) => (0..n.parse::<usize>().unwrap_or(0))
            .map(|k| format!("{k} "))
            .collect(),
        None => format!("echo: {prompt}"),
    };
    match case.expect {
        Expect::Models => {
            let v: Value = serde_json::from_str(text).map_err(|e| format!("not JSON ({e})"))?;
            let ids: Vec<&str> = v
                .get("data")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|m| m.get("id").and_then(Value::as_str))
                .collect();
            if status != 200
                || ids
                    != [
                        "soak",
                        "soak-embed",
                        "soak-failover",
                        "soak-faults",
                        "soak-refusals",
                    ]
            {
                return Err(format!("models: status {status}, ids {ids:?}"));
            }
            Ok(None)
        }
        Expect::Embedding => {
            let v: Value = serde_json::from_str(text).map_err(|e| format!("not JSON ({e})"))?;
            let n = v
                .pointer("/data/0/embedding")
                .and_then(Value::as_array)
                .map_or(0, Vec::len);
            if status != 200 || n == 0 {
                return Err(format!("embeddings: status {status}, dimension {n}"));
            }
            Ok(None)
        }
        Expect::Echo if case.stream => {
            if status != 200 {
                return Err(format!(
                    "status {status}: {}",
                    text.chars().take(300).collect::<String>()
                ));
            }
            let (got, end) = read_stream(case.proto, text)?;
            if end != End::Complete || got != want {
                return Err(format!("stream ended {end:?} with {got:?}, want {want:?}"));
            }
            Ok(None)
        }
        Expect::Echo => {
            let v: Value =
                serde_json::from_str(text).map_err(|e| format!("not JSON ({e}): {text:.200}"))?;
            let got = plain_text(case.proto, &v)?;
            if status != 200 || got != want {
                return Err(format!("status {status}, text {got:?}, want {want:?}"));
            }
            Ok(None)
        }
        Expect::StreamFails => {
            if status != 200 {
                let v: Value = serde_json::from_str(text)
                    .map_err(|e| format!("error status {status}, body not JSON ({e})"))?;
                return if status >= 400 && is_error_body(case.proto, &v) {
                    Ok(None)
                } else {
                    Err(format!("status {status}: {v}"))
                };
            }
            let (got, end) = read_stream(case.proto, text)?;
            if end != End::ErrorEvent || !want.starts_with(&got) {
                return Err(format!(
                    "a broken upstream stream ended {end:?} with {got:?} (echo {want:?})"
                ));
            }
            Ok(Some(end))
        }
        Expect::Fails => {
            let v: Value = serde_json::from_str(text)
                .map_err(|e| format!("status {status}, body not JSON ({e})"))?;
            if status < 400 || !is_error_body(case.proto, &v) {
                return Err(format!("a failing upstream gave status {status}: {v}"));
            }
            Ok(None)
        }
    }
}

async fn worker(
    index: usize,
    opts: Rc<Opts>,
    authority: String,
    end: Instant,
    out: Rc<RefCell<Results>>,
) {
    let mut sender: Option<http1::SendRequest<Full<Bytes>>> = None;
    let mut n: u64 = 0;
    while Instant::now() < end {
        if sender.is_none() {
            let Ok(stream) = tokio::net::TcpStream::connect(&authority).await else {
                tokio::time::sleep(Duration::from_millis(20)).await;
                continue;
            };
            let _ = stream.set_nodelay(true);
            match http1::handshake::<_, Full<Bytes>>(TokioIo::new(stream)).await {
                Ok((s, conn)) => {
                    tokio::task::spawn_local(async move {
                        let _ = conn.await;
                    });
                    sender = Some(s);
                }
                Err(_) => continue,
            }
        }
        let Some(s) = sender.as_mut() else { continue };
        let case_no = (index + n as usize) % CASES.len();
        let Some(case) = CASES.get(case_no) else {
            continue;
        };
        n += 1;
        let mut prompt = format!("soak w{index} n{n} a few words of text to echo back");
        if !case.fault.is_empty() {
            prompt.push_str(&format!(" [[fake:{}]]", case.fault));
        }
        let (method, path, body) = request_body(case, &prompt);
        let mut req = hyper::Request::builder()
            .method(method.as_str())
            .uri(path)
            .header("host", authority.as_str())
            .header("authorization", format!("Bearer {}", opts.key))
            .header("anthropic-version", "2023-06-01");
        if body.is_some() {
            req = req.header("content-type", "application/json");
        }
        let Ok(req) = req.body(Full::new(Bytes::from(body.unwrap_or_default()))) else {
            continue;
        };
        let result = match s.send_request(req).await {
            Ok(resp) => {
                let status = resp.status().as_u16();
                match resp.into_body().collect().await {
                    Ok(b) => check(case, &prompt, status, &b.to_bytes()),
                    Err(e) => Err(format!("the response body broke off: {e}")),
                }
            }
            Err(e) => Err(format!("no response: {e}")),
        };
        let mut r = out.borrow_mut();
        let t = r.per_case.entry(case.name).or_default();
        match result {
            Ok(None) if matches!(case.expect, Expect::StreamFails) => {
                t.ok += 1;
                t.error_status += 1;
            }
            Ok(Some(_)) => {
                t.ok += 1;
                t.error_event += 1;
            }
            Ok(None) => t.ok += 1,
            Err(e) => {
                t.failed += 1;
                if r.samples.len() < 20 {
                    r.samples
                        .push(json!({"case": case.name, "prompt": prompt, "problem": e}));
                }
                sender = None;
            }
        }
    }
}

fn main() {
    let opts = match parse_args() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("apex-soak: {e}");
            std::process::exit(2);
        }
    };
    let authority = opts.url.trim_start_matches("http://").to_string();
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("apex-soak: {e}");
            std::process::exit(1);
        }
    };
    let local = tokio::task::LocalSet::new();
    let opts = Rc::new(opts);
    let results = Rc::new(RefCell::new(Results::default()));
    let start = Instant::now();
    let end = start + opts.duration;
    local.block_on(&rt, async {
        let mut handles = Vec::new();
        for index in 0..opts.concurrency.max(1) {
            handles.push(tokio::task::spawn_local(worker(
                index,
                opts.clone(),
                authority.clone(),
                end,
                results.clone(),
            )));
        }
        for h in handles {
            let _ = h.await;
        }
    });
    let r = results.borrow();
    let (ok, failed): (u64, u64) = r
        .per_case
        .values()
        .fold((0, 0), |(a, b), t| (a + t.ok, b + t.failed));
    let cases: serde_json::Map<String, Value> = r
        .per_case
        .iter()
        .map(|(k, t)| {
            (k.to_string(), json!({"ok": t.ok, "failed": t.failed, "error_event": t.error_event, "error_status": t.error_status}))
        })
        .collect();
    let secs = start.elapsed().as_secs_f64();
    println!(
        "{}",
        json!({"requests": ok + failed, "ok": ok, "failed": failed, "seconds": secs,
               "rps": (ok + failed) as f64 / secs, "concurrency": opts.concurrency,
               "cases": cases, "failures": r.samples})
    );
    if failed > 0 {
        std::process::exit(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stream_cut_mid_event_is_garbled() {
        assert!(sse_events("data: {\"a\":1}\n\ndata: {\"b\"").is_err());
        assert!(read_stream(
            Proto::Chat,
            "data: {\"choices\":[{\"delta\":{\"content\":\"x\"}}]}\n\n"
        )
        .is_err());
    }

    #[test]
    fn echo_streams_are_read_per_protocol() {
        let chat = "data: {\"choices\":[{\"delta\":{\"content\":\"echo: \"}}]}\n\ndata: {\"choices\":[{\"delta\":{\"content\":\"hi\"}}]}\n\ndata: [DONE]\n\n";
        assert_eq!(
            read_stream(Proto::Chat, chat).unwrap(),
            ("echo: hi".into(), End::Complete)
        );
        let msg = "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"delta\":{\"type\":\"text_delta\",\"text\":\"echo: hi\"}}\n\nevent: error\ndata: {\"type\":\"error\",\"error\":{\"message\":\"x\"}}\n\n";
        assert_eq!(
            read_stream(Proto::Messages, msg).unwrap(),
            ("echo: hi".into(), End::ErrorEvent)
        );
    }
}
