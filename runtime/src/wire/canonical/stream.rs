//! Stream translation: upstream SSE bytes → canonical events → client bytes, chunk by chunk.
//!
//! [`translate`] wraps an upstream body: each upstream chunk goes through the incremental
//! [`sse::Parser`], the protocol's [`Decode`]r and the client protocol's [`Encode`]r, and
//! whatever it produced leaves as one output chunk at once. Nothing waits for the end of the
//! stream; state is the parser's partial event plus the decoder's small bookkeeping.
//!
//! The first output chunk is the decoder's [`Decode::begin`] (a `message_start`, say), sent
//! before the upstream's first byte, so the client sees the stream open immediately.
//!
//! Failures: an upstream error event or an oversize event becomes the client protocol's error
//! event (the encoder writes it). A failed upstream *body* (dropped connection, or a clean end
//! without the protocol's end marker, see `attempt::streams::Checked`) is passed on as an
//! error after everything decoded before it, and `attempt::streams::Terminated` writes the
//! client's final error event — unless the decoder had already finished the turn.

use super::{events, Event, Response};
use crate::host::{ByteStream, StreamError};
use crate::wire::sse;
use bytes::Bytes;
use futures_core::Stream;
use futures_util::StreamExt;
use std::pin::Pin;
use std::task::{Context, Poll};

/// An upstream protocol's stream, read event by event.
pub trait Decode {
    /// Events to send before the upstream says anything.
    fn begin(&mut self, out: &mut Vec<Event>);
    /// One upstream SSE event.
    fn event(&mut self, ev: sse::Event, out: &mut Vec<Event>);
    /// The upstream stream ended (cleanly or not): close what is open.
    fn end(&mut self, out: &mut Vec<Event>);
}

/// A client protocol's stream, written event by event.
pub trait Encode {
    fn event(&mut self, ev: &Event, out: &mut Vec<u8>);
}

/// A whole answer as the client protocol's stream: the events a streaming upstream would have
/// sent ([`events::of_response`]), written by `encoder`.
pub fn replay(answer: &Response, encoder: &mut impl Encode) -> Vec<u8> {
    let mut out = Vec::new();
    for ev in events::of_response(answer) {
        encoder.event(&ev, &mut out);
    }
    out
}

/// The translated stream.
pub fn translate<D, E>(upstream: ByteStream, decoder: D, encoder: E) -> ByteStream
where
    D: Decode + Unpin + 'static,
    E: Encode + Unpin + 'static,
{
    Box::pin(Translate {
        upstream: Some(upstream),
        parser: sse::Parser::default(),
        decoder,
        encoder,
        sse_events: Vec::new(),
        events: Vec::new(),
        begun: false,
        over: false,
        pending_err: None,
    })
}

struct Translate<D, E> {
    upstream: Option<ByteStream>,
    parser: sse::Parser,
    decoder: D,
    encoder: E,
    sse_events: Vec<sse::Event>,
    events: Vec<Event>,
    begun: bool,
    /// The decoder finished the turn (or reported an error): nothing more goes out.
    over: bool,
    /// An upstream error to pass on after the bytes decoded before it.
    pending_err: Option<StreamError>,
}

impl<D: Decode, E: Encode> Translate<D, E> {
    fn encode(&mut self) -> Vec<u8> {
        let mut out = Vec::new();
        for ev in self.events.drain(..) {
            if matches!(ev, Event::Finish { .. } | Event::Error { .. }) {
                self.over = true;
            }
            self.encoder.event(&ev, &mut out);
        }
        out
    }

    fn decode_parsed(&mut self) {
        for ev in self.sse_events.drain(..) {
            self.decoder.event(ev, &mut self.events);
        }
    }

    fn fail(&mut self, message: String) {
        self.upstream = None;
        self.events.push(Event::Error { message });
    }

    /// Passes an upstream failure on, unless the turn is already over (an upstream that sent
    /// its own error event, then dropped the connection, needs no second error).
    fn upstream_failed(&mut self, e: StreamError) {
        self.upstream = None;
        if !self.over {
            self.pending_err = Some(e);
        }
    }
}

impl<D: Decode + Unpin, E: Encode + Unpin> Stream for Translate<D, E> {
    type Item = Result<Bytes, StreamError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if !this.begun {
            this.begun = true;
            this.decoder.begin(&mut this.events);
            let out = this.encode();
            if !out.is_empty() {
                return Poll::Ready(Some(Ok(Bytes::from(out))));
            }
        }
        loop {
            let Some(upstream) = this.upstream.as_mut() else {
                return Poll::Ready(this.pending_err.take().map(Err));
            };
            match upstream.poll_next_unpin(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Some(Ok(chunk))) => {
                    match this.parser.feed(&chunk, &mut this.sse_events) {
                        Ok(()) => this.decode_parsed(),
                        Err(sse::TooLarge(n)) => {
                            this.decode_parsed();
                            this.fail(format!(
                                "the upstream sent a stream event of more than {n} bytes"
                            ));
                        }
                    }
                }
                Poll::Ready(Some(Err(e))) => {
                    this.decode_parsed();
                    let out = this.encode();
                    this.upstream_failed(e);
                    if !out.is_empty() {
                        return Poll::Ready(Some(Ok(Bytes::from(out))));
                    }
                    continue;
                }
                Poll::Ready(None) => {
                    this.upstream = None;
                    if this.parser.finish(&mut this.sse_events).is_ok() {
                        this.decode_parsed();
                    }
                    this.decoder.end(&mut this.events);
                }
            }
            let out = this.encode();
            if !out.is_empty() {
                return Poll::Ready(Some(Ok(Bytes::from(out))));
            }
        }
    }
}
