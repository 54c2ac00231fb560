//! The [`Exchange`] for `POST /v1/responses`: what each route is sent and how its answer
//! becomes a Responses object or stream.
//!
//! - **Bridge** (the default): the canonical request goes out in the protocol the route's
//!   upstream speaks (its kind's codec: chat completions for `openai`, `azure-openai` and
//!   `mock`; Messages for `anthropic`), and the answer comes back through [`Encoder`]. A stored response is written to KV just
//!   before its final event leaves, so a client that reads `response.completed` and at once
//!   asks for the stored copy finds it.
//! - **Native** (`responses: native` on the provider): the client's bytes go to the upstream's
//!   own `/responses` with only `model` spliced, and come back untouched; the response id is
//!   remembered with the provider (never the key) so follow-up calls reach the same upstream.

use crate::attempt::exchange::{
    decode_whole, read_all, translated, untranslatable, Attempt, Exchange, Outbound, Translated,
};
use crate::attempt::plan::Target;
use crate::attempt::protocol::Protocol;
use crate::errors::ApiError;
use crate::gateway::endpoints::responses::store::{self, NativeHome};
use crate::host::{Body, ByteStream, Headers, HttpResponse, Kv, LocalFuture, StreamError};
use crate::table::Provider;
use crate::upstream::codec;
use crate::upstream::Endpoint;
use crate::wire::canonical::stream::{replay, translate, Encode};
use crate::wire::canonical::Request;
use crate::wire::openai::Routing;
use crate::wire::responses::events::{Encoder, Finished, Head, Slot};
use crate::wire::responses::tools::ToolMap;
use bytes::Bytes;
use futures_core::Stream;
use futures_util::StreamExt;
use serde_json::Value;
use std::cell::RefCell;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

/// Where and how a response is stored (absent: `store: false`, or no store configured).
#[derive(Clone)]
pub struct Saving {
    pub kv: Kv,
    pub ttl_seconds: u64,
    /// This request's input items (normalized, with ids).
    pub input: Rc<Vec<Value>>,
    /// The conversation before them (from `previous_response_id`).
    pub context: Rc<Vec<Value>>,
}

impl Saving {
    fn record_json(&self, response: &[u8], native: Option<&NativeHome>) -> String {
        let mut s = String::with_capacity(response.len() + 256);
        s.push_str("{\"v\":1,\"response\":");
        if response.is_empty() {
            s.push_str("null");
        } else {
            s.push_str(&String::from_utf8_lossy(response));
        }
        s.push_str(",\"input\":");
        s.push_str(&serde_json::to_string(&*self.input).unwrap_or_else(|_| "[]".into()));
        s.push_str(",\"context\":");
        s.push_str(&serde_json::to_string(&*self.context).unwrap_or_else(|_| "[]".into()));
        if let Some(n) = native {
            s.push_str(",\"native\":");
            s.push_str(
                &serde_json::json!({"provider": n.provider, "key": n.key_index}).to_string(),
            );
        }
        s.push('}');
        s
    }

    fn put(&self, id: &str, record: String) -> LocalFuture<Result<(), String>> {
        self.kv.put(&store::key(id), record, self.ttl_seconds)
    }
}

pub struct ResponsesExchange<'a> {
    pub req: Request,
    pub head: Rc<Head>,
    pub tools: Rc<ToolMap>,
    pub saving: Option<Saving>,
    /// The client's bytes and their model span (native passthrough).
    pub body: &'a Bytes,
    /// Parsed only when a route is native.
    pub routing: Option<Routing<'a>>,
    /// Whether a provider takes `/responses` natively.
    pub native: fn(&Provider) -> bool,
    /// The key a native continuation must use (`previous_response_id` on a native response).
    pub key: Option<usize>,
}

impl ResponsesExchange<'_> {
    /// The client's bytes for a native upstream: model spliced, `max_output_tokens` capped.
    fn native_body(&self, target: &Target<'_>) -> Bytes {
        let body = match &self.routing {
            Some(r) => r.with_model(self.body, target.model),
            None => self.body.clone(),
        };
        match target.max_tokens {
            Some(cap) => {
                const FIELDS: &[&str] = &["max_output_tokens"];
                crate::wire::token_cap::apply(&body, FIELDS, "max_output_tokens", cap)
            }
            None => body,
        }
    }

    fn encoder(&self, write: bool, slot: Slot) -> Encoder {
        Encoder::new(Rc::clone(&self.head), Rc::clone(&self.tools), write, slot)
    }
}

impl Exchange for ResponsesExchange<'_> {
    fn model(&self) -> &str {
        &self.req.model
    }

    fn stream(&self) -> bool {
        self.req.stream
    }

    fn protocol(&self) -> &'static dyn Protocol {
        &crate::gateway::protocols::RESPONSES
    }

    fn key(&self) -> Option<usize> {
        self.key
    }

    fn encode(
        &self,
        provider: &'static Provider,
        target: &Target<'_>,
    ) -> Result<Outbound, ApiError> {
        if (self.native)(provider) {
            return Ok(Outbound {
                endpoint: Endpoint::Responses,
                method: "POST",
                suffix: String::new(),
                body: self.native_body(target),
                stream: self.req.stream,
                headers: Headers::new(),
            });
        }
        let (endpoint, body) =
            codec::encode(provider.kind, &self.req, target.model, target.max_tokens)?;
        Ok(Outbound {
            endpoint,
            method: "POST",
            suffix: String::new(),
            body: Bytes::from(body),
            stream: self.req.stream,
            headers: Headers::new(),
        })
    }

    fn stream_body(&self, at: Attempt, upstream: ByteStream) -> ByteStream {
        let provider = at.provider;
        if (self.native)(provider) {
            let home = NativeHome::of(at);
            return Box::pin(NativeTap::new(upstream, home, self.saving.clone()));
        }
        let slot: Slot = Rc::new(RefCell::new(None));
        let shared = Rc::new(RefCell::new(self.encoder(true, Rc::clone(&slot))));
        let encoder = SharedEncoder(Rc::clone(&shared));
        let decoder =
            codec::StreamDecoder::new(provider.kind, self.head.id.clone(), self.req.model.clone());
        let translated = translate(upstream, decoder, encoder);
        Box::pin(SaveOnFinish {
            inner: translated,
            encoder: shared,
            slot,
            id: self.head.id.clone(),
            saving: self.saving.clone(),
            pending: None,
        })
    }

    async fn respond(&self, at: Attempt, mut resp: HttpResponse) -> HttpResponse {
        let provider = at.provider;
        if (self.native)(provider) {
            let raw = match read_all(std::mem::replace(&mut resp.body, Body::Empty)).await {
                Ok(raw) => raw,
                Err(why) => return untranslatable(resp, &why),
            };
            if let Some(saving) = &self.saving {
                let id = serde_json::from_slice::<Value>(&raw)
                    .ok()
                    .and_then(|v| v.get("id").and_then(Value::as_str).map(str::to_owned));
                if let Some(id) = id {
                    let home = NativeHome::of(at);
                    let _ = saving.put(&id, saving.record_json(b"", Some(&home))).await;
                }
            }
            resp.body = Body::Bytes(raw);
            return resp;
        }
        let decoded = decode_whole(&mut resp, |v| codec::response(provider.kind, v)).await;
        let answer = match decoded {
            Ok(a) => a,
            Err(why) => return untranslatable(resp, &why),
        };
        let slot: Slot = Rc::new(RefCell::new(None));
        let mut enc = self.encoder(self.req.stream, Rc::clone(&slot));
        let events = replay(&answer, &mut enc);
        let finished = slot.borrow_mut().take();
        let Some(finished) = finished else {
            return untranslatable(resp, "the upstream answer did not complete");
        };
        if let Some(saving) = &self.saving {
            let _ = saving
                .put(&self.head.id, saving.record_json(&finished.response, None))
                .await;
        }
        let body = if self.req.stream {
            Translated::Events(events)
        } else {
            Translated::Json(finished.response)
        };
        translated(resp, body)
    }
}

/// A store write in flight and the chunk that waits for it: the chunk with a response's final
/// (or, native, first) event leaves only once its record is written.
type Held = (LocalFuture<Result<(), String>>, Bytes);

/// The held chunk once its write settled, `Pending` while it runs, `None` when nothing is
/// held. A failed write costs the stored copy, never the answer.
fn release(
    pending: &mut Option<Held>,
    cx: &mut Context<'_>,
) -> Option<Poll<Option<Result<Bytes, StreamError>>>> {
    let (write, _) = pending.as_mut()?;
    if write.as_mut().poll(cx).is_pending() {
        return Some(Poll::Pending);
    }
    Some(Poll::Ready(pending.take().map(|(_, chunk)| Ok(chunk))))
}

/// The encoder, shared between the translator and [`SaveOnFinish`].
struct SharedEncoder(Rc<RefCell<Encoder>>);

impl Encode for SharedEncoder {
    fn event(&mut self, ev: &crate::wire::canonical::Event, out: &mut Vec<u8>) {
        self.0.borrow_mut().event(ev, out);
    }
}

/// The translated stream, which stores the response (when asked to) before the chunk holding
/// its final event leaves. A failed upstream body (passed on by the translator as an error)
/// becomes `response.failed` here, where the encoder's state (sequence numbers, items) is.
struct SaveOnFinish {
    inner: ByteStream,
    encoder: Rc<RefCell<Encoder>>,
    slot: Slot,
    id: String,
    saving: Option<Saving>,
    pending: Option<Held>,
}

impl Stream for SaveOnFinish {
    type Item = Result<Bytes, StreamError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if let Some(held) = release(&mut this.pending, cx) {
            return held;
        }
        let polled = match this.inner.poll_next_unpin(cx) {
            Poll::Ready(Some(Err(e))) => {
                let mut out = Vec::new();
                let message = format!(
                    "the upstream failed in the middle of this response ({}); it is incomplete. Retry the request.",
                    e.0
                );
                this.encoder
                    .borrow_mut()
                    .event(&crate::wire::canonical::Event::Error { message }, &mut out);
                Poll::Ready(Some(Ok(Bytes::from(out))))
            }
            other => other,
        };
        match polled {
            Poll::Ready(Some(Ok(chunk))) => {
                let finished: Option<Finished> = this.slot.borrow_mut().take();
                let saving = if finished.is_some() {
                    this.saving.take()
                } else {
                    None
                };
                match (finished, saving) {
                    (Some(f), Some(saving)) => {
                        let write = saving.put(&this.id, saving.record_json(&f.response, None));
                        this.pending = Some((write, chunk));
                        Pin::new(this).poll_next(cx)
                    }
                    _ => Poll::Ready(Some(Ok(chunk))),
                }
            }
            other => other,
        }
    }
}

/// A native Responses stream, passed through untouched; the response id in its first event
/// is remembered with the provider (when storing), so follow-up calls find the upstream.
struct NativeTap {
    inner: ByteStream,
    home: NativeHome,
    saving: Option<Saving>,
    parser: crate::wire::sse::Parser,
    pending: Option<Held>,
}

impl NativeTap {
    fn new(inner: ByteStream, home: NativeHome, saving: Option<Saving>) -> Self {
        NativeTap {
            inner,
            home,
            saving,
            parser: crate::wire::sse::Parser::default(),
            pending: None,
        }
    }
}

impl Stream for NativeTap {
    type Item = Result<Bytes, StreamError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if let Some(held) = release(&mut this.pending, cx) {
            return held;
        }
        match this.inner.poll_next_unpin(cx) {
            Poll::Ready(Some(Ok(chunk))) => {
                if this.saving.is_some() {
                    let mut events = Vec::new();
                    if this.parser.feed(&chunk, &mut events).is_err() {
                        this.saving = None;
                    }
                    let id = events.iter().find_map(|e| {
                        serde_json::from_str::<Value>(&e.data).ok().and_then(|v| {
                            v.pointer("/response/id")
                                .and_then(Value::as_str)
                                .map(str::to_owned)
                        })
                    });
                    if let Some((id, saving)) = id.and_then(|id| Some((id, this.saving.take()?))) {
                        let home = this.home.clone();
                        let write = saving.put(&id, saving.record_json(b"", Some(&home)));
                        this.pending = Some((write, chunk));
                        return Pin::new(this).poll_next(cx);
                    }
                }
                Poll::Ready(Some(Ok(chunk)))
            }
            other => other,
        }
    }
}
