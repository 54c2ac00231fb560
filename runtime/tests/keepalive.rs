//! Keepalives on quiet streams and the idle timeout, through the router, on a virtual clock.
//!
//! The host's timers and the scripted upstream body both wait on one virtual clock; the
//! driver polls, and when everything is pending moves the clock to the earliest instant
//! anything waits for. So "the upstream says nothing for 40 s" takes no time, and every chunk
//! the client receives carries the virtual instant it was written at.
#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]
mod anthropic_support;
mod common;

use anthropic_support::{chat_sse, delta, messages, GATEWAY};
use apex_runtime::attempt::keepalive::Policy;
use apex_runtime::gateway::Runtime;
use apex_runtime::host::{
    Body, ByteStream, FetchError, Host, HttpRequest, HttpResponse, LocalFuture, StreamError, Timers,
};
use apex_runtime::wire::anthropic::errors::PING as ANTHROPIC_PING;
use apex_runtime::wire::sse::COMMENT as SSE_COMMENT;
use bytes::Bytes;
use common::FakeHost;
use futures::StreamExt;
use serde_json::json;
use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::future::Future;
use std::pin::{pin, Pin};
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

/// Virtual time, and the instants pending futures wait for.
#[derive(Default)]
struct Clock {
    now: Cell<u64>,
    wanted: RefCell<Vec<u64>>,
}

/// Resolves once the clock reaches `at`.
struct Timer {
    clock: Rc<Clock>,
    at: u64,
}

impl Future for Timer {
    type Output = ();
    fn poll(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<()> {
        if self.clock.now.get() >= self.at {
            Poll::Ready(())
        } else {
            self.clock.wanted.borrow_mut().push(self.at);
            Poll::Pending
        }
    }
}

/// An upstream body whose chunks arrive at fixed virtual instants; after the last one it
/// ends, or (`hang`) never says anything again.
struct Timed {
    clock: Rc<Clock>,
    items: VecDeque<(u64, Bytes)>,
    hang: bool,
}

impl futures::Stream for Timed {
    type Item = Result<Bytes, StreamError>;
    fn poll_next(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        match this.items.front() {
            Some((at, _)) if *at <= this.clock.now.get() => {
                Poll::Ready(this.items.pop_front().map(|(_, b)| Ok(b)))
            }
            Some((at, _)) => {
                this.clock.wanted.borrow_mut().push(*at);
                Poll::Pending
            }
            None if this.hang => Poll::Pending,
            None => Poll::Ready(None),
        }
    }
}

/// The shared fake host (secrets, recorded requests, scripted answers) on the virtual clock,
/// with `'static` timers.
struct ClockHost {
    inner: FakeHost,
    clock: Rc<Clock>,
}

impl ClockHost {
    fn new() -> Self {
        ClockHost {
            inner: FakeHost::new(),
            clock: Rc::new(Clock::default()),
        }
    }

    /// The upstream answers 200 with an SSE body of `chunks` (each at its instant, in ms).
    fn upstream_stream(&self, chunks: &[(u64, String)], hang: bool) {
        let body: ByteStream = Box::pin(Timed {
            clock: self.clock.clone(),
            items: chunks
                .iter()
                .map(|(at, s)| (*at, Bytes::from(s.clone())))
                .collect(),
            hang,
        });
        self.inner.then(Ok(HttpResponse {
            status: 200,
            headers: vec![("content-type".into(), "text/event-stream".into())],
            body: Body::Stream(body),
        }));
    }

    /// Runs `fut` to completion, moving the clock whenever nothing can progress.
    fn drive<F: Future>(&self, fut: F) -> F::Output {
        let mut fut = pin!(fut);
        let mut cx = Context::from_waker(Waker::noop());
        loop {
            if let Poll::Ready(v) = fut.as_mut().poll(&mut cx) {
                return v;
            }
            let now = self.clock.now.get();
            let next = self
                .clock
                .wanted
                .take()
                .into_iter()
                .filter(|t| *t > now)
                .min();
            self.clock
                .now
                .set(next.expect("stuck: pending, and nothing waits for a later instant"));
        }
    }

    /// Every chunk the client receives, with the instant it was written.
    fn read(&self, resp: HttpResponse) -> Vec<(u64, String)> {
        let Body::Stream(mut s) = resp.body else {
            panic!("not a stream: {:?}", resp.body)
        };
        let mut out = Vec::new();
        while let Some(chunk) = self.drive(s.next()) {
            out.push((
                self.clock.now.get(),
                String::from_utf8(chunk.unwrap().to_vec()).unwrap(),
            ));
        }
        out
    }

    fn handle(&self, policy: Policy, req: HttpRequest) -> HttpResponse {
        let mut rt = Runtime::new(&GATEWAY);
        rt.engine.keepalive = policy;
        let resp = self.drive(rt.handle(self, req));
        assert_eq!(resp.status, 200);
        resp
    }
}

impl Host for ClockHost {
    fn secret(&self, name: &str) -> Option<String> {
        self.inner.secret(name)
    }
    fn fetch(
        &self,
        req: HttpRequest,
        timeout_ms: u32,
    ) -> impl Future<Output = Result<HttpResponse, FetchError>> {
        self.inner.fetch(req, timeout_ms)
    }
    fn now_ms(&self) -> u64 {
        self.clock.now.get()
    }
    fn random_u32(&self) -> u32 {
        self.inner.random_u32()
    }
    fn sleep(&self, ms: u64) -> impl Future<Output = ()> {
        Timer {
            clock: self.clock.clone(),
            at: self.clock.now.get() + ms,
        }
    }
    fn timers(&self) -> Option<Timers> {
        let clock = self.clock.clone();
        Some(Rc::new(move |ms| {
            Box::pin(Timer {
                clock: clock.clone(),
                at: clock.now.get() + ms,
            }) as LocalFuture<()>
        }))
    }
}

fn text_chunk(t: &str) -> String {
    format!("data: {}\n\n", delta(json!({"content": t}), None))
}

fn stream_messages() -> HttpRequest {
    messages(
        r#"{"model":"claude-sonnet-4-5","max_tokens":100,"stream":true,
            "messages":[{"role":"user","content":"think long"}]}"#,
    )
}

fn stream_chat() -> HttpRequest {
    common::post(
        "/v1/chat/completions",
        r#"{"model":"claude-sonnet-4-5","stream":true,"messages":[{"role":"user","content":"hi"}]}"#,
    )
}

/// The instants at which the client got exactly `keepalive`.
fn keepalives(chunks: &[(u64, String)], keepalive: &[u8]) -> Vec<u64> {
    chunks
        .iter()
        .filter(|(_, c)| c.as_bytes() == keepalive)
        .map(|(t, _)| *t)
        .collect()
}

#[test]
fn a_quiet_anthropic_stream_gets_pings_between_its_events() {
    let host = ClockHost::new();
    let done = chat_sse(&[delta(json!({}), Some("stop"))]);
    host.upstream_stream(
        &[
            (0, text_chunk("Hel")),
            (40_000, text_chunk("lo")),
            (40_000, done),
        ],
        false,
    );
    let chunks = host.read(host.handle(Policy::DEFAULT, stream_messages()));

    assert_eq!(keepalives(&chunks, ANTHROPIC_PING), [15_000, 30_000]);
    // The pings sit between whole events, and the rest of the stream is what it would be.
    let body: String = chunks.iter().map(|(_, c)| c.as_str()).collect();
    let mut parser = apex_runtime::wire::sse::Parser::default();
    let mut events = Vec::new();
    parser.feed(body.as_bytes(), &mut events).unwrap();
    parser.finish(&mut events).unwrap();
    let names: Vec<&str> = events.iter().map(|e| e.event.as_str()).collect();
    let first_ping = names.iter().position(|n| *n == "ping").unwrap();
    assert_eq!(names[first_ping + 1], "ping");
    assert_eq!(names[first_ping - 1], "content_block_delta", "{names:?}");
    assert_eq!(names[first_ping + 2], "content_block_delta", "{names:?}");
    assert_eq!(names.last(), Some(&"message_stop"));
    let text: String = events
        .iter()
        .filter(|e| e.event == "content_block_delta")
        .map(|e| {
            serde_json::from_str::<serde_json::Value>(&e.data).unwrap()["delta"]["text"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(text, "Hello");
}

#[test]
fn a_chat_passthrough_gets_comments_but_never_inside_an_event() {
    let host = ClockHost::new();
    let second = text_chunk("partial");
    let (head, rest) = second.split_at(20);
    host.upstream_stream(
        &[
            (0, text_chunk("whole")),
            // Quiet for 20 s between events: one keepalive at 15 s.
            (20_000, head.to_owned()),
            // Quiet for 40 s inside an event: nothing may be written into it. The scrub stage
            // holds the incomplete line until its end arrives, so the client's stream stays
            // between events and keeps getting keepalives.
            (60_000, rest.to_owned()),
            (60_000, "data: [DONE]\n\n".to_owned()),
        ],
        false,
    );
    let chunks = host.read(host.handle(Policy::DEFAULT, stream_chat()));
    assert_eq!(keepalives(&chunks, SSE_COMMENT), [15_000, 30_000, 45_000]);
    let body: String = chunks.iter().map(|(_, c)| c.as_str()).collect();
    assert!(
        body.contains(&second),
        "the cut event arrives whole: {body}"
    );
    assert!(body.ends_with("data: [DONE]\n\n"));
}

#[test]
fn a_silent_upstream_ends_the_stream_with_an_error_event() {
    let host = ClockHost::new();
    host.upstream_stream(&[(0, text_chunk("Hel"))], true);
    let chunks = host.read(host.handle(Policy::DEFAULT, stream_messages()));

    let pings = keepalives(&chunks, ANTHROPIC_PING);
    assert_eq!(pings.len(), 19, "one every 15 s until 5 min");
    let (at, last) = chunks.last().unwrap();
    assert_eq!(*at, 300_000);
    assert!(last.starts_with("event: error\n"), "{last}");
    assert!(last.contains("\"type\":\"api_error\""), "{last}");
}

#[test]
fn a_shorter_policy_is_followed_and_off_means_off() {
    let host = ClockHost::new();
    host.upstream_stream(
        &[(0, text_chunk("a")), (2_500, "data: [DONE]\n\n".to_owned())],
        false,
    );
    let policy = Policy {
        interval_ms: 1_000,
        idle_timeout_ms: 0,
    };
    let chunks = host.read(host.handle(policy, stream_chat()));
    assert_eq!(keepalives(&chunks, SSE_COMMENT), [1_000, 2_000]);

    let host = ClockHost::new();
    host.upstream_stream(
        &[
            (0, text_chunk("a")),
            (90_000, "data: [DONE]\n\n".to_owned()),
        ],
        false,
    );
    let chunks = host.read(host.handle(Policy::OFF, stream_chat()));
    assert_eq!(chunks.len(), 2, "{chunks:?}");
    assert!(keepalives(&chunks, SSE_COMMENT).is_empty());

    // Idle timeout alone: no keepalives, an error event after it.
    let host = ClockHost::new();
    host.upstream_stream(&[(0, text_chunk("a"))], true);
    let policy = Policy {
        interval_ms: 0,
        idle_timeout_ms: 10_000,
    };
    let chunks = host.read(host.handle(policy, stream_chat()));
    assert_eq!(chunks.len(), 2, "{chunks:?}");
    assert_eq!(chunks[1].0, 10_000);
    assert!(
        chunks[1].1.starts_with("data: {\"error\":"),
        "{}",
        chunks[1].1
    );
}
