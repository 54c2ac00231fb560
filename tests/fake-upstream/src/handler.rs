//! One request in, one (possibly misbehaving) response out.

use crate::anthropic;
use crate::fault::{self, Drop, Fault};
use crate::hostile;
use crate::openai;
use crate::state::{Recorded, Rule, State};
use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::{Frame, Incoming};
use hyper::{Request, Response};
use serde_json::{json, Value};
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use tokio::sync::mpsc;

/// A response body: whole, or fed piece by piece from a task (streams, slow streams, and
/// bodies cut off in the middle, which end in an error so hyper resets the connection).
pub enum Out {
    Full(Option<Bytes>),
    Chan(mpsc::Receiver<Result<Bytes, io::Error>>),
}

impl hyper::body::Body for Out {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        match self.get_mut() {
            Out::Full(b) => Poll::Ready(b.take().map(|b| Ok(Frame::data(b)))),
            Out::Chan(rx) => rx.poll_recv(cx).map(|o| o.map(|r| r.map(Frame::data))),
        }
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        match self {
            Out::Full(Some(b)) => hyper::body::SizeHint::with_exact(b.len() as u64),
            Out::Full(None) => hyper::body::SizeHint::with_exact(0),
            Out::Chan(_) => hyper::body::SizeHint::default(),
        }
    }
}

/// Returned instead of a response to make hyper close the connection without answering.
#[derive(Debug)]
pub struct DropConnection;

impl std::fmt::Display for DropConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("fault injected: connection dropped before the response")
    }
}
impl std::error::Error for DropConnection {}

type Resp = Response<Out>;

fn json_resp(status: u16, v: &Value, extra: &[(&str, String)]) -> Resp {
    let mut b = Response::builder()
        .status(status)
        .header("content-type", "application/json");
    for (k, val) in extra {
        b = b.header(*k, val.as_str());
    }
    b.body(Out::Full(Some(Bytes::from(v.to_string()))))
        .unwrap_or_else(|_| Response::new(Out::Full(None)))
}

/// What kind of API call a path is, whatever prefix the gateway's base_url adds
/// (`/v1/chat/completions`, `/openai/deployments/m/chat/completions`, ...).
enum Call {
    Chat,
    Embeddings,
    Models,
    Model(String),
    /// Anthropic `POST /v1/messages` (see [`anthropic`]).
    Messages,
    /// Anthropic `POST /v1/messages/count_tokens`.
    CountTokens,
    Unknown,
}

fn classify(method: &str, path: &str) -> Call {
    let p = path.split('?').next().unwrap_or(path).trim_end_matches('/');
    if method == "POST" && p.ends_with("/chat/completions") {
        Call::Chat
    } else if method == "POST" && p.ends_with("/messages") {
        Call::Messages
    } else if method == "POST" && p.ends_with("/messages/count_tokens") {
        Call::CountTokens
    } else if method == "POST" && p.ends_with("/embeddings") {
        Call::Embeddings
    } else if method == "GET" && p.ends_with("/models") {
        Call::Models
    } else if let (true, Some((_, id))) = (method == "GET", p.rsplit_once("/models/")) {
        Call::Model(id.to_string())
    } else {
        Call::Unknown
    }
}

/// The API key a request carried: `Authorization: Bearer`, Azure's `api-key`, or `x-api-key`.
fn key_of(headers: &[(String, String)]) -> String {
    let get = |name: &str| {
        headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    if let Some(auth) = get("authorization") {
        return auth
            .strip_prefix("Bearer ")
            .unwrap_or(auth)
            .trim()
            .to_string();
    }
    get("api-key")
        .or(get("x-api-key"))
        .unwrap_or("")
        .to_string()
}

/// The model: the body's `model`, else the Azure deployment in the path.
fn model_of(path: &str, body: &Value) -> String {
    if let Some(m) = body.get("model").and_then(Value::as_str) {
        return m.to_string();
    }
    path.split_once("/deployments/")
        .and_then(|(_, rest)| rest.split('/').next())
        .unwrap_or("")
        .to_string()
}

pub async fn handle(state: Arc<State>, req: Request<Incoming>) -> Result<Resp, DropConnection> {
    let (method, path, headers, body) = read(req).await?;
    if let Some(resp) = control(&state, &method, &path, &body) {
        return Ok(resp);
    }

    let key = key_of(&headers);
    let model_full = model_of(&path, &body);
    let (model, model_spec) = match model_full.split_once('?') {
        Some((m, spec)) => (m.to_string(), Some(spec.to_string())),
        None => (model_full.clone(), None),
    };
    let header_spec = headers
        .iter()
        .find(|(k, _)| k == "x-fake-fault")
        .map(|(_, v)| v.clone());
    let text = openai::all_text(&body);
    let directive = fault::directive_in(&text).map(str::to_string);

    let seq = state.record(Recorded {
        seq: 0,
        method: method.clone(),
        path: path.clone(),
        headers,
        body: body.clone(),
        received_ms: openai::now_ms(),
    });

    let fault = if let Some(spec) = header_spec.or(directive) {
        Fault::parse(&spec)
    } else if let Some(f) = state.take_rule(&model_full, &key) {
        Ok(f)
    } else {
        Fault::parse(model_spec.as_deref().unwrap_or(""))
    };
    let fault = match fault {
        Ok(f) => f,
        Err(e) => {
            return Ok(json_resp(
                400,
                &openai::error(400, &format!("fake upstream: {e}"), "invalid_request_error"),
                &[],
            ))
        }
    };
    let added = fault.headers.clone();
    let mut resp = answer(
        Ask {
            method,
            path,
            key,
            model,
            model_full,
            body,
            seq,
        },
        fault,
    )
    .await?;
    for (name, value) in added {
        if let (Ok(n), Ok(v)) = (
            hyper::header::HeaderName::from_bytes(name.as_bytes()),
            hyper::header::HeaderValue::from_str(&value),
        ) {
            resp.headers_mut().append(n, v);
        }
    }
    Ok(resp)
}

/// A request's method, path with query, headers and body (JSON, or the text as a string).
type Read = (String, String, Vec<(String, String)>, Value);

async fn read(req: Request<Incoming>) -> Result<Read, DropConnection> {
    let method = req.method().as_str().to_string();
    let path = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_default();
    let headers: Vec<(String, String)> = req
        .headers()
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_string(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    let raw = match req.into_body().collect().await {
        Ok(c) => c.to_bytes(),
        Err(_) => return Err(DropConnection),
    };
    let body: Value = if raw.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&raw)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&raw).into_owned()))
    };

    Ok((method, path, headers, body))
}

/// The control endpoints (health, recorded requests, fault rules): answered, not recorded.
fn control(state: &State, method: &str, path: &str, body: &Value) -> Option<Resp> {
    let ok = || json_resp(200, &json!({"ok": true}), &[]);
    Some(match (method, path.split('?').next().unwrap_or("")) {
        ("GET", "/_health") => ok(),
        ("GET", "/_requests") => json_resp(200, &state.requests_json(), &[]),
        ("DELETE", "/_requests") => {
            state.clear_requests();
            ok()
        }
        ("POST", "/_control") => {
            let list = body
                .get("rules")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_else(|| vec![body.clone()]);
            match list
                .iter()
                .map(Rule::from_json)
                .collect::<Result<Vec<_>, _>>()
            {
                Ok(rules) => {
                    let n = rules.len();
                    state.add_rules(rules);
                    json_resp(200, &json!({"ok": true, "added": n}), &[])
                }
                Err(e) => json_resp(400, &openai::error(400, &e, "invalid_request_error"), &[]),
            }
        }
        ("DELETE", "/_control") => {
            state.clear_rules();
            ok()
        }
        _ => return None,
    })
}

/// A recorded request, as far as answering it goes.
struct Ask {
    method: String,
    path: String,
    key: String,
    /// Without the `?spec` suffix.
    model: String,
    model_full: String,
    body: Value,
    seq: u64,
}

/// An error body that quotes the caller's credentials back (`leak`): the key whole, masked
/// (first 8 and last 4 characters), inside the request URL as `?key=`, and as a JSON field.
fn leaky_error(status: u16, key: &str, url: &str) -> Value {
    let masked = match (
        key.get(..8),
        key.len().checked_sub(4).and_then(|i| key.get(i..)),
    ) {
        (Some(a), Some(b)) if key.len() > 12 => format!("{a}...{b}"),
        _ => key.to_string(),
    };
    json!({"error": {
        "message": format!(
            "fake upstream: injected status {status}. Incorrect API key provided: {key} ({masked}). \
             Request: POST {url}. Authorization: Bearer {key}"
        ),
        "type": "invalid_request_error",
        "param": null,
        "code": format!("fake_{status}"),
        "api_key": key,
        "request_url": url,
    }})
}

async fn answer(ask: Ask, fault: Fault) -> Result<Resp, DropConnection> {
    let Ask {
        method,
        path,
        key,
        model,
        model_full,
        body,
        seq,
    } = &ask;
    let seq = *seq;
    if let Some(d) = fault.delay {
        tokio::time::sleep(d).await;
    }
    if fault.drop == Some(Drop::Before) {
        return Err(DropConnection);
    }
    let mut extra = vec![
        ("x-fake-key", key.clone()),
        // The key's id, for tests behind a gateway (which drops `x-fake-key`).
        ("x-fake-key-id", key_id(key)),
        ("x-fake-model", model_full.clone()),
        ("x-fake-seq", seq.to_string()),
    ];
    if let Some(mode) = fault.hostile.as_deref() {
        let stream = body.get("stream").and_then(Value::as_bool) == Some(true);
        if mode == "headers" {
            extra.extend(hostile::headers(key));
        } else {
            return Ok(hostile_answer(mode, stream, model, key, seq, extra));
        }
    }
    if let Some(s) = fault.status {
        return Ok(injected_status(s, method, path, key, &fault, extra));
    }
    if fault.garbage {
        let mut r = json_resp(200, &Value::Null, &extra);
        *r.body_mut() = Out::Full(Some(Bytes::from_static(
            b"<html>502 Bad Gateway (not JSON)</html>",
        )));
        return Ok(r);
    }
    Ok(ordinary(ask, fault, extra))
}

/// A `status=N` answer: an error body in the called API's shape (or the one `body=` gives,
/// or one that leaks the key, for the scrubbing tests).
fn injected_status(
    s: u16,
    method: &str,
    path: &str,
    key: &str,
    fault: &Fault,
    mut extra: Vec<(&'static str, String)>,
) -> Resp {
    if let Some(ra) = &fault.retry_after {
        extra.push(("retry-after", ra.clone()));
    }
    if let Some(b) = &fault.body {
        let mut r = json_resp(s, &Value::Null, &extra);
        *r.body_mut() = Out::Full(Some(Bytes::from(b.clone())));
        return r;
    }
    if fault.leak {
        let url = format!(
            "http://fake-upstream.invalid{}?key={key}",
            path.split('?').next().unwrap_or("")
        );
        extra.push(("x-fake-request-url", url.clone()));
        extra.push((
            "www-authenticate",
            format!("Bearer realm=\"fake\", error=\"invalid_token\", token=\"{key}\""),
        ));
        return json_resp(s, &leaky_error(s, key, &url), &extra);
    }
    let kind = match s {
        401 => "authentication_error",
        429 => "rate_limit_error",
        400..=499 => "invalid_request_error",
        _ => "server_error",
    };
    if matches!(classify(method, path), Call::Messages | Call::CountTokens) {
        let kind = match s {
            429 => "rate_limit_error",
            529 => "overloaded_error",
            500..=599 => "api_error",
            _ => kind,
        };
        return json_resp(
            s,
            &anthropic::error(kind, &format!("fake upstream: injected status {s}")),
            &extra,
        );
    }
    json_resp(
        s,
        &openai::error(s, &format!("fake upstream: injected status {s}"), kind),
        &extra,
    )
}

/// The answer of an upstream that works: by API, in its shape, shaped by the rest of `fault`.
fn ordinary(ask: Ask, fault: Fault, extra: Vec<(&'static str, String)>) -> Resp {
    let Ask {
        method,
        path,
        key,
        model,
        body,
        seq,
        ..
    } = ask;
    let id = format!("chatcmpl-fake-{seq}");
    match classify(&method, &path) {
        Call::Chat
            if fault
                .call
                .as_deref()
                .is_some_and(|name| openai::offers_tool(&body, name)) =>
        {
            let stream = body.get("stream").and_then(Value::as_bool) == Some(true);
            tool_turn(&body, &id, &model, &key, &fault, stream, extra)
        }
        Call::Chat => {
            let prompt = openai::last_user_text(&body);
            let reply = fault
                .reply
                .clone()
                .unwrap_or_else(|| format!("echo: {prompt}"));
            if body.get("stream").and_then(Value::as_bool) == Some(true) {
                let usage = body
                    .pointer("/stream_options/include_usage")
                    .and_then(Value::as_bool)
                    == Some(true);
                return stream_chat(
                    StreamPlan {
                        id,
                        model,
                        key,
                        prompt,
                        reply,
                        usage,
                        fault,
                    },
                    extra,
                );
            }
            let mut v = openai::chat_completion(&id, &model, &key, &prompt, &reply);
            if let Some(n) = fault.usage_tokens {
                let p = openai::tokens(&prompt);
                v["usage"] =
                    json!({"prompt_tokens": p, "completion_tokens": n, "total_tokens": p + n});
            }
            if fault.drop == Some(Drop::Mid) {
                return cut_body(v.to_string().into_bytes(), extra);
            }
            json_resp(200, &v, &extra)
        }
        Call::Messages => messages_turn(&body, seq, &model, &fault, extra),
        Call::CountTokens => json_resp(
            200,
            &json!({"input_tokens": anthropic::count_tokens(&body)}),
            &extra,
        ),
        Call::Embeddings => json_resp(200, &openai::embeddings(&model, &key, &body), &extra),
        Call::Models => json_resp(200, &openai::models(), &extra),
        Call::Model(id) => json_resp(
            200,
            &json!({"id": id, "object": "model", "created": openai::CREATED, "owned_by": "fake-upstream"}),
            &extra,
        ),
        Call::Unknown => json_resp(
            404,
            &openai::error(
                404,
                &format!("fake upstream: no route for {method} {path}"),
                "invalid_request_error",
            ),
            &extra,
        ),
    }
}

/// 64-bit FNV-1a of a key, in hex: which key a request carried, without the key.
pub fn key_id(key: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in key.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{h:016x}")
}

/// A `hostile=MODE` answer (all but `headers`, which is an ordinary answer with more headers).
fn hostile_answer(
    mode: &str,
    stream: bool,
    model: &str,
    key: &str,
    seq: u64,
    extra: Vec<(&str, String)>,
) -> Resp {
    let raw = |status: u16, body: Vec<u8>, more: &[(&str, String)]| {
        let mut all = extra.clone();
        all.extend(more.iter().cloned());
        let mut r = json_resp(status, &Value::Null, &all);
        *r.body_mut() = Out::Full(Some(Bytes::from(body)));
        r
    };
    let first = openai::sse(&openai::chunk(
        &format!("chatcmpl-fake-{seq}"),
        model,
        "",
        json!({"role": "assistant", "content": "hostile "}),
        None,
        None,
    ));
    match (mode, stream) {
        ("escaped", _) => raw(401, hostile::escaped(key).into_bytes(), &[]),
        ("gzip", _) => raw(
            401,
            hostile::gzip(hostile::error(key).to_string().as_bytes()),
            &[("content-encoding", "gzip".to_string())],
        ),
        ("sse_error", true) | ("cut", true) => {
            let (tx, rx) = mpsc::channel(4);
            let bytes = if mode == "cut" {
                hostile::cut(&first, key)
            } else {
                hostile::sse_error(&first, key)
            };
            let cut = mode == "cut";
            tokio::spawn(async move {
                let _ = tx.send(Ok(Bytes::from(bytes))).await;
                if cut {
                    flush_pause().await;
                    let _ = tx
                        .send(Err(io::Error::other("fault injected: cut mid event")))
                        .await;
                }
            });
            let mut r = json_resp(200, &Value::Null, &extra);
            r.headers_mut().insert(
                hyper::header::CONTENT_TYPE,
                hyper::header::HeaderValue::from_static("text/event-stream"),
            );
            *r.body_mut() = Out::Chan(rx);
            r
        }
        _ => json_resp(200, &hostile::error(key), &extra),
    }
}

/// Gives hyper time to write what was sent before an injected reset; otherwise the reset
/// can discard bytes still in its write buffer and the "mid-stream" drop becomes a drop
/// before the body.
async fn flush_pause() {
    tokio::time::sleep(std::time::Duration::from_millis(30)).await;
}

/// Sends the first half of a body, then resets the connection.
fn cut_body(bytes: Vec<u8>, extra: Vec<(&str, String)>) -> Resp {
    let (tx, rx) = mpsc::channel(4);
    let half = bytes.len() / 2;
    tokio::spawn(async move {
        let _ = tx
            .send(Ok(Bytes::copy_from_slice(
                bytes.get(..half).unwrap_or_default(),
            )))
            .await;
        flush_pause().await;
        let _ = tx
            .send(Err(io::Error::other("fault injected: dropped mid body")))
            .await;
    });
    let mut r = json_resp(200, &Value::Null, &extra);
    *r.body_mut() = Out::Chan(rx);
    r
}

struct StreamPlan {
    id: String,
    model: String,
    key: String,
    prompt: String,
    reply: String,
    usage: bool,
    fault: Fault,
}

fn stream_chat(p: StreamPlan, extra: Vec<(&str, String)>) -> Resp {
    let (tx, rx) = mpsc::channel(16);
    tokio::spawn(feed_chat(p, tx));
    sse_response(rx, &extra)
}

/// A 200 event stream fed from `rx`, with `extra` headers.
fn sse_response(rx: mpsc::Receiver<Result<Bytes, io::Error>>, extra: &[(&str, String)]) -> Resp {
    let mut b = Response::builder()
        .status(200)
        .header("content-type", "text/event-stream")
        .header("cache-control", "no-cache");
    for (k, v) in extra {
        b = b.header(*k, v.as_str());
    }
    b.body(Out::Chan(rx))
        .unwrap_or_else(|_| Response::new(Out::Full(None)))
}

/// The events of a streamed chat answer, paced and cut as `p.fault` says.
async fn feed_chat(p: StreamPlan, tx: mpsc::Sender<Result<Bytes, io::Error>>) {
    let send = |s: String| {
        let tx = tx.clone();
        async move { tx.send(Ok(Bytes::from(s))).await.is_ok() }
    };
    let pieces = openai::pieces(&p.reply, p.fault.chunks);
    let drop_after = match p.fault.drop {
        Some(Drop::Mid) => Some(p.fault.drop_after.unwrap_or(pieces.len() / 2)),
        _ => None,
    };
    if let Some(d) = p.fault.first_delay {
        tokio::time::sleep(d).await;
    }
    let first = openai::chunk(
        &p.id,
        &p.model,
        &p.key,
        json!({"role": "assistant", "content": ""}),
        None,
        None,
    );
    if !send(openai::sse(&first)).await {
        return;
    }
    for (k, piece) in pieces.iter().enumerate() {
        if drop_after == Some(k) {
            flush_pause().await;
            let _ = tx
                .send(Err(io::Error::other("fault injected: dropped mid stream")))
                .await;
            return;
        }
        if k > 0 {
            if let Some(d) = p.fault.chunk_delay {
                tokio::time::sleep(d).await;
            }
        }
        let c = openai::chunk(
            &p.id,
            &p.model,
            &p.key,
            json!({"content": piece}),
            None,
            None,
        );
        if !send(openai::sse(&c)).await {
            return;
        }
    }
    if drop_after.is_some() {
        flush_pause().await;
        let _ = tx
            .send(Err(io::Error::other("fault injected: dropped mid stream")))
            .await;
        return;
    }
    if p.fault.truncate {
        return;
    }
    let fin = openai::chunk(&p.id, &p.model, &p.key, json!({}), Some("stop"), None);
    if !send(openai::sse(&fin)).await {
        return;
    }
    if p.usage {
        let pt = openai::tokens(&p.prompt);
        let ct = p
            .fault
            .usage_tokens
            .unwrap_or_else(|| openai::tokens(&p.reply));
        let u = json!({"prompt_tokens": pt, "completion_tokens": ct, "total_tokens": pt + ct});
        if !send(openai::sse(&openai::chunk(
            &p.id,
            &p.model,
            &p.key,
            json!({}),
            None,
            Some(u),
        )))
        .await
        {
            return;
        }
    }
    send("data: [DONE]\n\n".to_string()).await;
}

/// A tool-calling turn (`call=NAME;args=JSON`): a call of NAME while the conversation's last
/// message is not a tool result; once it is, a text reply quoting that result.
fn tool_turn(
    body: &Value,
    id: &str,
    model: &str,
    key: &str,
    fault: &Fault,
    stream: bool,
    extra: Vec<(&str, String)>,
) -> Resp {
    let reply = after_tool_reply(body, fault);
    let call = ToolCall {
        id: format!("call_{id}"),
        name: fault.call.clone().unwrap_or_default(),
        args: fault.args.clone().unwrap_or_else(|| "{}".to_string()),
    };
    if !stream {
        let ToolCall {
            id: call_id,
            name,
            args,
        } = call;
        let message = match &reply {
            Some(text) => json!({"role": "assistant", "content": text}),
            None => json!({"role": "assistant", "content": null, "tool_calls": [
                {"id": call_id, "type": "function", "function": {"name": name, "arguments": args}}]}),
        };
        let finish = if reply.is_some() {
            "stop"
        } else {
            "tool_calls"
        };
        let v = json!({
            "id": id, "object": "chat.completion", "created": openai::CREATED, "model": model,
            "system_fingerprint": openai::fingerprint(key),
            "choices": [{"index": 0, "message": message, "logprobs": null, "finish_reason": finish}],
            "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}
        });
        return json_resp(200, &v, &extra);
    }
    let events = tool_turn_events(id, model, key, reply.as_deref(), &call);
    let mut sse: Vec<String> = events.iter().map(openai::sse).collect();
    sse.push("data: [DONE]\n\n".to_string());
    paced(sse, fault.chunk_delay, extra)
}

/// The tool call a `call=NAME` turn makes.
struct ToolCall {
    id: String,
    name: String,
    args: String,
}

/// When the last message is a tool result: the reply that reports it (`reply=` or an echo).
fn after_tool_reply(body: &Value, fault: &Fault) -> Option<String> {
    let last = body
        .get("messages")
        .and_then(Value::as_array)
        .and_then(|m| m.last())?;
    if last.get("role").and_then(Value::as_str) != Some("tool") {
        return None;
    }
    let out = last
        .get("content")
        .map(openai::content_text)
        .unwrap_or_default();
    Some(
        fault
            .reply
            .clone()
            .unwrap_or_else(|| format!("The tool said: {}", out.trim())),
    )
}

/// A tool turn's stream chunks: the reply's text, or the call with its arguments in fragments.
fn tool_turn_events(
    id: &str,
    model: &str,
    key: &str,
    reply: Option<&str>,
    call: &ToolCall,
) -> Vec<Value> {
    let ToolCall {
        id: call_id,
        name,
        args,
    } = call;
    let mut events = vec![openai::chunk(
        id,
        model,
        key,
        json!({"role": "assistant", "content": null}),
        None,
        None,
    )];
    let finish = match reply {
        Some(text) => {
            for piece in openai::pieces(text, None) {
                events.push(openai::chunk(
                    id,
                    model,
                    key,
                    json!({"content": piece}),
                    None,
                    None,
                ));
            }
            "stop"
        }
        None => {
            // As real providers do: the call's id and name first, then its arguments in
            // several fragments (none of them valid JSON on its own).
            events.push(openai::chunk(
                id,
                model,
                key,
                json!({"tool_calls": [{"index": 0, "id": call_id, "type": "function",
                "function": {"name": name, "arguments": ""}}]}),
                None,
                None,
            ));
            for piece in anthropic::fragments(args, anthropic::ARG_FRAGMENTS) {
                events.push(openai::chunk(
                    id,
                    model,
                    key,
                    json!({"tool_calls": [{"index": 0, "function": {"arguments": piece}}]}),
                    None,
                    None,
                ));
            }
            "tool_calls"
        }
    };
    events.push(openai::chunk(id, model, key, json!({}), Some(finish), None));
    events.push(openai::chunk(
        id,
        model,
        key,
        json!({}),
        None,
        Some(json!({"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15})),
    ));
    events
}

/// An SSE response whose events are written one by one (each its own write), `delay` apart.
fn paced(
    events: Vec<String>,
    delay: Option<std::time::Duration>,
    extra: Vec<(&str, String)>,
) -> Resp {
    let (tx, rx) = mpsc::channel(16);
    tokio::spawn(async move {
        for (k, e) in events.into_iter().enumerate() {
            if k > 0 {
                if let Some(d) = delay {
                    tokio::time::sleep(d).await;
                }
            }
            if tx.send(Ok(Bytes::from(e))).await.is_err() {
                return;
            }
        }
    });
    sse_response(rx, &extra)
}

/// An Anthropic Messages turn: `call=NAME` (when the request offers that tool) answers with
/// a `tool_use` until the conversation ends with a tool result, then with text quoting it;
/// otherwise the echo (or `reply=`). Streams follow `chunks=`, `chunk_delay_ms=`, `truncate`.
fn messages_turn(
    body: &Value,
    seq: u64,
    model: &str,
    fault: &Fault,
    extra: Vec<(&str, String)>,
) -> Resp {
    let id = format!("msg_fake_{seq}");
    let tool = fault
        .call
        .as_deref()
        .filter(|name| anthropic::offers_tool(body, name));
    let turn = match (tool, anthropic::last_tool_result(body)) {
        (Some(_), Some(out)) => anthropic::Turn {
            blocks: vec![anthropic::Block::Text(
                fault
                    .reply
                    .clone()
                    .unwrap_or_else(|| format!("The tool said: {}", out.trim())),
            )],
            stop_reason: "end_turn",
        },
        (Some(name), None) => anthropic::Turn {
            blocks: vec![anthropic::Block::ToolUse {
                id: format!("toolu_fake_{seq}"),
                name: name.to_string(),
                args: fault.args.clone().unwrap_or_else(|| "{}".to_string()),
            }],
            stop_reason: "tool_use",
        },
        (None, _) => anthropic::Turn {
            blocks: vec![anthropic::Block::Text(fault.reply.clone().unwrap_or_else(
                || format!("echo: {}", anthropic::last_user_text(body)),
            ))],
            stop_reason: "end_turn",
        },
    };
    if body.get("stream").and_then(Value::as_bool) != Some(true) {
        return json_resp(200, &anthropic::message(body, &id, model, &turn), &extra);
    }
    let mut events = anthropic::events(body, &id, model, &turn, fault.chunks);
    if fault.truncate {
        // Cut before the final `message_delta` and `message_stop`.
        events.truncate(events.len().saturating_sub(2));
    }
    paced(events, fault.chunk_delay, extra)
}
