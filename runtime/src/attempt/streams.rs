//! Streamed answers that fail: before they start, and after.
//!
//! - **Before the first event** nothing has reached the client, so a stream that stalls or
//!   breaks can still fail over. [`first_chunk`] holds the response head back until the first
//!   non-empty chunk arrives, within what is left of the provider's `timeout_ms`.
//! - **After it started** the response head (200) is gone, so the failure must be told inside
//!   the stream, in the client's protocol. Two adapters split that job so a translator can sit
//!   between them:
//!
//! ```text
//! upstream bytes → scrub stage (whole lines only, credentials out; see `scrub`)
//!               → Checked (upstream protocol: a clean end without the end marker is an error)
//!               → [translator, when protocols differ: passes errors through]
//!               → Terminated (client protocol: the first error becomes a final error event)
//! ```
//!
//! For an OpenAI chat stream the final event is `data: {"error":{...}}` with no `[DONE]`
//! after it: the OpenAI SDKs raise on an `error` event, and any client sees the stream did
//! not finish normally. The event always starts on an event boundary: the scrub stage never
//! lets half a line out, and [`Terminated`] ends a line or event left open before writing it.
//! Never a silent cut (a truncated stream looks complete to a client
//! that does not check for `[DONE]`), never a hang on an upstream that is gone.

use crate::attempt::protocol::Protocol;
use crate::host::{ByteStream, Host, StreamError};
use bytes::Bytes;
use futures_core::Stream;
use futures_util::future::{select, Either};
use futures_util::StreamExt;
use std::pin::{pin, Pin};
use std::task::{Context, Poll};

/// How the wait for a stream's first chunk ended.
pub enum First {
    Chunk(Bytes),
    /// Nothing within the time left.
    Timeout,
    /// The stream failed or ended before any data.
    Broken,
}

/// The first non-empty chunk of `stream`, or why there is none within `wait_ms`.
pub async fn first_chunk<H: Host>(host: &H, stream: &mut ByteStream, wait_ms: u64) -> First {
    let next = async {
        loop {
            match stream.next().await {
                Some(Ok(b)) if b.is_empty() => continue,
                other => return other,
            }
        }
    };
    // The stream is polled first, so a chunk that is already there wins over a spent timer.
    match select(pin!(next), pin!(host.sleep(wait_ms))).await {
        Either::Left((Some(Ok(chunk)), _)) => First::Chunk(chunk),
        Either::Left((Some(Err(_)) | None, _)) => First::Broken,
        Either::Right(((), _)) => First::Timeout,
    }
}

/// How many trailing bytes [`Checked`] keeps to find the end marker.
const TAIL: usize = 32;

/// The upstream side: passes chunks through (starting with the one [`first_chunk`] took), and
/// turns a clean end that lacks the protocol's end marker into an error.
pub struct Checked {
    first: Option<Bytes>,
    inner: ByteStream,
    /// E.g. `[DONE]` for OpenAI chat SSE: the stream's last non-blank bytes must be this.
    end_marker: Option<&'static [u8]>,
    tail: [u8; TAIL],
    tail_len: usize,
    ended: bool,
}

impl Checked {
    pub fn new(first: Bytes, inner: ByteStream, end_marker: Option<&'static [u8]>) -> Self {
        Checked {
            first: Some(first),
            inner,
            end_marker,
            tail: [0; TAIL],
            tail_len: 0,
            ended: false,
        }
    }

    fn remember(&mut self, chunk: &[u8]) {
        if self.end_marker.is_none() {
            return;
        }
        if chunk.len() >= TAIL {
            if let Some(end) = chunk.get(chunk.len() - TAIL..) {
                self.tail.copy_from_slice(end);
                self.tail_len = TAIL;
            }
            return;
        }
        let keep = (TAIL - chunk.len()).min(self.tail_len);
        let old_start = self.tail_len - keep;
        self.tail.copy_within(old_start..self.tail_len, 0);
        if let Some(dst) = self.tail.get_mut(keep..keep + chunk.len()) {
            dst.copy_from_slice(chunk);
        }
        self.tail_len = keep + chunk.len();
    }

    fn ended_properly(&self) -> bool {
        let Some(marker) = self.end_marker else {
            return true;
        };
        let tail = self.tail.get(..self.tail_len).unwrap_or_default();
        let trimmed_len = tail.len()
            - tail
                .iter()
                .rev()
                .take_while(|b| b.is_ascii_whitespace())
                .count();
        tail.get(..trimmed_len).is_some_and(|t| t.ends_with(marker))
    }
}

impl Stream for Checked {
    type Item = Result<Bytes, StreamError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if let Some(first) = this.first.take() {
            this.remember(&first);
            return Poll::Ready(Some(Ok(first)));
        }
        if this.ended {
            return Poll::Ready(None);
        }
        match this.inner.as_mut().poll_next(cx) {
            Poll::Ready(Some(Ok(chunk))) => {
                this.remember(&chunk);
                Poll::Ready(Some(Ok(chunk)))
            }
            Poll::Ready(Some(Err(e))) => {
                this.ended = true;
                Poll::Ready(Some(Err(e)))
            }
            Poll::Ready(None) => {
                this.ended = true;
                if this.ended_properly() {
                    Poll::Ready(None)
                } else {
                    Poll::Ready(Some(Err(StreamError(
                        "the upstream ended the stream before it was complete".to_owned(),
                    ))))
                }
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

/// The client side: passes chunks through; the first error becomes the protocol's final error event and
/// ends the stream. The message names the provider, never the upstream's own error text (which
/// could carry a URL or a key).
pub struct Terminated<S = ByteStream> {
    inner: S,
    provider: &'static str,
    protocol: &'static dyn Protocol,
    ended: bool,
    /// Line ends at the end of what went out so far (2: an event boundary, or nothing sent).
    trailing_newlines: u8,
}

impl<S> Terminated<S> {
    pub fn new(inner: S, provider: &'static str, protocol: &'static dyn Protocol) -> Self {
        Terminated {
            inner,
            provider,
            protocol,
            ended: false,
            trailing_newlines: 2,
        }
    }

    fn sent(&mut self, chunk: &[u8]) {
        let mut n: u8 = 0;
        for b in chunk.iter().rev() {
            match b {
                b'\r' => {}
                b'\n' if n < 2 => n += 1,
                b'\n' => break,
                _ => {
                    self.trailing_newlines = n;
                    return;
                }
            }
        }
        // Only line ends (or nothing): they add to those before.
        self.trailing_newlines = self.trailing_newlines.saturating_add(n).min(2);
    }

    /// The final error event, starting on a fresh event boundary: a stream cut after a line
    /// but before its event's blank line would otherwise glue the two into one event.
    fn final_event(&self, message: &str) -> Bytes {
        let event = self.protocol.stream_error_event(message);
        let pad: &[u8] = match self.trailing_newlines {
            0 => b"\n\n",
            1 => b"\n",
            _ => return event,
        };
        let mut out = Vec::with_capacity(pad.len() + event.len());
        out.extend_from_slice(pad);
        out.extend_from_slice(&event);
        Bytes::from(out)
    }
}

impl<S: Stream<Item = Result<Bytes, StreamError>> + Unpin> Stream for Terminated<S> {
    type Item = Result<Bytes, StreamError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if this.ended {
            return Poll::Ready(None);
        }
        match Pin::new(&mut this.inner).poll_next(cx) {
            Poll::Ready(Some(Err(_))) => {
                this.ended = true;
                let message = format!(
                    "The upstream provider `{}` failed in the middle of this stream; the \
                     response is incomplete. Retry the request.",
                    this.provider
                );
                Poll::Ready(Some(Ok(this.final_event(&message))))
            }
            Poll::Ready(None) => {
                this.ended = true;
                Poll::Ready(None)
            }
            Poll::Ready(Some(Ok(chunk))) => {
                this.sent(&chunk);
                Poll::Ready(Some(Ok(chunk)))
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::stream;

    fn collect(s: impl Stream<Item = Result<Bytes, StreamError>>) -> Vec<Result<Bytes, String>> {
        futures::executor::block_on(s.map(|r| r.map_err(|e| e.0)).collect())
    }

    fn chunks(items: Vec<Result<&'static str, &'static str>>) -> ByteStream {
        Box::pin(stream::iter(items.into_iter().map(|r| {
            r.map(|s| Bytes::from_static(s.as_bytes()))
                .map_err(|e| StreamError(e.to_owned()))
        })))
    }

    const DONE: Option<&'static [u8]> = Some(b"data: [DONE]");

    #[test]
    fn a_complete_stream_passes_untouched() {
        let s = Checked::new(
            Bytes::from_static(b"data: {}\n\n"),
            chunks(vec![Ok("data: [DO"), Ok("NE]\n"), Ok("\n")]),
            DONE,
        );
        let out = collect(s);
        assert_eq!(out.len(), 4);
        assert!(out.iter().all(Result::is_ok));
    }

    #[test]
    fn a_stream_without_its_end_marker_is_an_error() {
        let s = Checked::new(
            Bytes::from_static(b"data: {}\n\n"),
            chunks(vec![Ok("data: {\"x\":1}\n\n")]),
            DONE,
        );
        let out = collect(s);
        assert!(matches!(out.last(), Some(Err(_))));
        // No marker required: a clean end is fine.
        let s = Checked::new(Bytes::from_static(b"{}"), chunks(vec![]), None);
        assert!(collect(s).iter().all(Result::is_ok));
    }

    /// A protocol whose final error event is `data: {"error":{"message":…}}`.
    struct Plain;
    impl Protocol for Plain {
        fn shape_error(&self, resp: crate::host::HttpResponse) -> crate::host::HttpResponse {
            resp
        }
        fn stream_error_event(&self, message: &str) -> Bytes {
            Bytes::from(format!(
                "data: {{\"error\":{{\"message\":{message:?}}}}}\n\n"
            ))
        }
        fn keepalive(&self) -> &'static [u8] {
            b""
        }
    }

    #[test]
    fn the_first_error_becomes_the_last_event() {
        let s = Terminated::new(
            chunks(vec![Ok("data: {}\n\n"), Err("reset"), Ok("never")]),
            "beta",
            &Plain,
        );
        let out: Vec<_> = collect(s)
            .into_iter()
            .map(|r| r.unwrap_or_default())
            .collect();
        assert_eq!(out.len(), 2);
        let last = String::from_utf8_lossy(out.get(1).map_or(&[][..], |b| &b[..])).into_owned();
        assert!(last.starts_with("data: {\"error\":{"), "{last}");
        assert!(last.ends_with("}}\n\n"));
        assert!(last.contains("beta") && !last.contains("reset"));
        assert!(!last.contains("[DONE]"));
    }
}
