//! Upstream answers read for what they cost: the bytes pass on unchanged while a
//! [`Meter`](crate::quota::usage::Meter) looks for their `usage`, and when the body is done
//! (or dropped: the client went away) `report` is called with it, once (`attempt::quotas`
//! records the difference from the estimate the reservation was made with). Only answers
//! whose reservation counts tokens are metered.

use crate::host::{Body, ByteStream, StreamError};
use crate::quota::usage::Meter;
use bytes::Bytes;
use futures_util::Stream;
use std::pin::Pin;
use std::task::{Context, Poll};

/// `body`, metered. A whole body is read at once; a stream as it goes by.
pub fn body<R: FnOnce(&Meter) + Unpin + 'static>(body: Body, report: R) -> Body {
    match body {
        Body::Empty => Body::Empty,
        Body::Bytes(b) => {
            let mut meter = Meter::new();
            meter.feed(&b);
            report(&meter);
            Body::Bytes(b)
        }
        Body::Stream(s) => Body::Stream(stream(s, report)),
        // Metering needs the bytes: the platform's handle becomes a stream through the gateway.
        Body::Platform(p) => Body::Stream(stream(p.into_stream(), report)),
    }
}

/// `inner`, metered.
pub fn stream<R: FnOnce(&Meter) + Unpin + 'static>(inner: ByteStream, report: R) -> ByteStream {
    Box::pin(Metered {
        inner,
        meter: Meter::new(),
        report: Some(report),
    })
}

struct Metered<R: FnOnce(&Meter)> {
    inner: ByteStream,
    meter: Meter,
    /// Taken when the cost is reported (once).
    report: Option<R>,
}

impl<R: FnOnce(&Meter)> Metered<R> {
    fn report(&mut self) {
        if let Some(report) = self.report.take() {
            report(&self.meter);
        }
    }
}

impl<R: FnOnce(&Meter) + Unpin> Stream for Metered<R> {
    type Item = Result<Bytes, StreamError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        let next = this.inner.as_mut().poll_next(cx);
        match &next {
            Poll::Ready(Some(Ok(chunk))) => this.meter.feed(chunk),
            Poll::Ready(Some(Err(_)) | None) => this.report(),
            Poll::Pending => {}
        }
        next
    }
}

impl<R: FnOnce(&Meter)> Drop for Metered<R> {
    fn drop(&mut self) {
        self.report();
    }
}
