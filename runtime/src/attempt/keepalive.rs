//! Keepalives on quiet streams, and an end to streams whose upstream went silent for good.
//!
//! A reasoning model can think for minutes before its next event, and Cloudflare's edge (like
//! most proxies) cuts a connection that carried nothing for ~100 s. So while a streamed
//! answer is quiet, [`KeepAlive`] writes a keepalive every [`Policy::interval_ms`]:
//!
//! - Anthropic Messages: `event: ping` / `data: {"type": "ping"}`, the event Anthropic itself
//!   sends (SDKs and Claude Code skip it);
//! - OpenAI chat completions and Responses: an SSE comment `: keepalive`, which every SSE
//!   parser ignores by definition.
//!
//! A keepalive only ever goes **between whole events**: the wrapper watches the bytes it
//! passes on (passthrough chunks can end anywhere) and, when the timer fires in the middle of
//! an event, waits another interval instead.
//!
//! When nothing at all came from the upstream for [`Policy::idle_timeout_ms`], the stream ends
//! with an error, which the router's `Terminated` adapter turns into the client protocol's
//! final error event: a client is told, instead of waiting on a stream nobody feeds.
//!
//! Timers come from [`Host::timers`](crate::host::Host::timers): they must be `'static`
//! because a response stream outlives the handler (and its borrowed host). A new timer is
//! made for every wait and dropped when anything is written, so a timer never outlives the
//! poll of the body that armed it (Workers' `Delay` wakes only the task that first polled it).

use crate::host::{LocalFuture, StreamError, Timers};
use bytes::Bytes;
use futures_core::Stream;
use std::pin::Pin;
use std::task::{Context, Poll};

/// How quiet streams are treated. `0` turns a part off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// A keepalive after this long without anything written to the client.
    pub interval_ms: u64,
    /// The stream ends with an error after this long without data from the upstream
    /// (measured in whole intervals, or as one wait when keepalives are off).
    pub idle_timeout_ms: u64,
}

impl Policy {
    /// 15 s keepalives (well inside the edge's ~100 s idle cut); give up after 5 min of
    /// silence.
    pub const DEFAULT: Policy = Policy {
        interval_ms: 15_000,
        idle_timeout_ms: 300_000,
    };

    /// Neither keepalives nor an idle timeout.
    pub const OFF: Policy = Policy {
        interval_ms: 0,
        idle_timeout_ms: 0,
    };

    /// How often the wrapper wakes up: the keepalive interval, else the idle timeout.
    fn tick_ms(self) -> u64 {
        if self.interval_ms > 0 {
            self.interval_ms
        } else {
            self.idle_timeout_ms
        }
    }
}

/// `inner` with keepalives and an idle timeout per `policy`; `inner` itself when the policy
/// is off or the host has no timers.
pub fn wrap<S>(
    inner: S,
    policy: Policy,
    timers: Option<Timers>,
    keepalive: &'static [u8],
) -> Pin<Box<dyn Stream<Item = Result<Bytes, StreamError>>>>
where
    S: Stream<Item = Result<Bytes, StreamError>> + Unpin + 'static,
{
    match timers {
        Some(timers) if policy.tick_ms() > 0 => Box::pin(KeepAlive::new(
            inner,
            policy,
            timers,
            Bytes::from_static(keepalive),
        )),
        _ => Box::pin(inner),
    }
}

/// A stream that writes `keepalive` between events while `inner` is quiet, and fails once
/// `inner` stayed silent for the policy's idle timeout.
pub struct KeepAlive<S> {
    inner: S,
    policy: Policy,
    timers: Timers,
    keepalive: Bytes,
    /// The wait in progress (armed when `inner` is pending, dropped when anything is written).
    timer: Option<LocalFuture<()>>,
    /// Silence from `inner` so far, in whole ticks' worth of ms.
    quiet_ms: u64,
    /// The last bytes written, to tell whether the client is between two events.
    tail: Tail,
    done: bool,
}

impl<S> KeepAlive<S> {
    pub fn new(inner: S, policy: Policy, timers: Timers, keepalive: Bytes) -> Self {
        KeepAlive {
            inner,
            policy,
            timers,
            keepalive,
            timer: None,
            quiet_ms: 0,
            tail: Tail::default(),
            done: false,
        }
    }
}

impl<S> Stream for KeepAlive<S>
where
    S: Stream<Item = Result<Bytes, StreamError>> + Unpin,
{
    type Item = Result<Bytes, StreamError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if this.done {
            return Poll::Ready(None);
        }
        match Pin::new(&mut this.inner).poll_next(cx) {
            Poll::Ready(Some(Ok(chunk))) => {
                this.tail.push(&chunk);
                this.quiet_ms = 0;
                this.timer = None;
                return Poll::Ready(Some(Ok(chunk)));
            }
            Poll::Ready(other) => {
                this.done = other.is_none();
                this.timer = None;
                return Poll::Ready(other);
            }
            Poll::Pending => {}
        }
        let tick = this.policy.tick_ms();
        loop {
            let timers = &this.timers;
            let timer = this.timer.get_or_insert_with(|| timers(tick));
            match timer.as_mut().poll(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(()) => {
                    this.timer = None;
                    this.quiet_ms = this.quiet_ms.saturating_add(tick);
                    let idle = this.policy.idle_timeout_ms;
                    if idle > 0 && this.quiet_ms >= idle {
                        this.done = true;
                        return Poll::Ready(Some(Err(StreamError(format!(
                            "no data from the upstream for {} s",
                            this.quiet_ms / 1000
                        )))));
                    }
                    if this.policy.interval_ms > 0 && this.tail.between_events() {
                        return Poll::Ready(Some(Ok(this.keepalive.clone())));
                    }
                    // In the middle of an event (or keepalives off): wait another tick.
                }
            }
        }
    }
}

/// The last (up to) four bytes written.
#[derive(Default)]
struct Tail {
    bytes: [u8; 4],
    len: usize,
}

impl Tail {
    fn push(&mut self, chunk: &[u8]) {
        let last = chunk
            .get(chunk.len().saturating_sub(4)..)
            .unwrap_or_default();
        for &b in last {
            if self.len < 4 {
                if let Some(slot) = self.bytes.get_mut(self.len) {
                    *slot = b;
                }
                self.len += 1;
            } else {
                self.bytes.rotate_left(1);
                self.bytes[3] = b;
            }
        }
    }

    /// Nothing written yet, or the last event is complete (a blank line ends an SSE event:
    /// `\n\n`, `\r\n\r\n` or `\r\r`).
    fn between_events(&self) -> bool {
        let t = self.bytes.get(..self.len).unwrap_or_default();
        t.is_empty() || t.ends_with(b"\n\n") || t.ends_with(b"\r\n\r\n") || t.ends_with(b"\r\r")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tail_of(chunks: &[&[u8]]) -> bool {
        let mut t = Tail::default();
        for c in chunks {
            t.push(c);
        }
        t.between_events()
    }

    #[test]
    fn tells_event_boundaries_across_chunks() {
        assert!(tail_of(&[]));
        assert!(tail_of(&[b"data: {}\n\n"]));
        assert!(tail_of(&[b"data: {}\n", b"\n"]));
        assert!(tail_of(&[b"data: {}\r\n\r\n"]));
        assert!(tail_of(&[b"data: {}\r", b"\n", b"\r", b"\n"]));
        assert!(!tail_of(&[b"data: {}\n"]));
        assert!(!tail_of(&[b"data: {}\n\n", b"event: x\ndata: {\"a\""]));
        assert!(!tail_of(&[b"data: {}\n\n", b"e"]));
        assert!(!tail_of(&[b"\n\n", b"data: 1\n"]));
    }
}
