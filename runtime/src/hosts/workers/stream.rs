//! A JS `ReadableStream` of bytes read from Rust, for the upstream bodies the router must look
//! at (streams it checks or translates, and bodies of unknown length).
//!
//! A small reader loop of its own rather than the `worker` crate's (`wasm-streams`), for two
//! things it does differently. A stream dropped before its end (the client went away, a
//! translation failed) is cancelled with one shared no-op rejection handler, where
//! `wasm-streams` leaks a fresh closure per cancelled stream — for a gateway, per disconnected
//! client, for the life of the isolate. And a finished stream's reader is just dropped: it
//! needs no `releaseLock()`, which in workerd rejects the reader's `closed` promise with a new
//! `TypeError` each time.

use crate::host::{ByteStream, StreamError};
use bytes::Bytes;
use futures_core::Stream;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use worker::web_sys;

#[wasm_bindgen]
extern "C" {
    /// A `ReadableStream` seen through the one call made on it here.
    type RawStream;
    /// `stream.getReader()`, with a throw (a locked stream) as an `Err`.
    #[wasm_bindgen(method, catch, js_name = getReader)]
    fn get_reader(this: &RawStream) -> Result<web_sys::ReadableStreamDefaultReader, JsValue>;

    /// What `reader.read()` resolves to.
    type ReadResult;
    #[wasm_bindgen(method, getter)]
    fn done(this: &ReadResult) -> bool;
    #[wasm_bindgen(method, getter)]
    fn value(this: &ReadResult) -> JsValue;

    /// A byte pipe: Rust writes, the platform reads. Either workerd's `IdentityTransformStream`
    /// (bytes handed through in native code) or a standard `TransformStream`.
    type Pipe;
    #[wasm_bindgen(constructor, catch, js_class = "IdentityTransformStream")]
    fn new_identity() -> Result<Pipe, JsValue>;
    #[wasm_bindgen(constructor, catch, js_class = "TransformStream")]
    fn new_transform(transformer: &JsValue, writable_strategy: &JsValue) -> Result<Pipe, JsValue>;
    #[wasm_bindgen(method, getter)]
    fn readable(this: &Pipe) -> web_sys::ReadableStream;
    #[wasm_bindgen(method, getter)]
    fn writable(this: &Pipe) -> web_sys::WritableStream;

    /// A promise, given a plain function as its rejection handler.
    type RawPromise;
    #[wasm_bindgen(method, js_name = catch)]
    fn catch_with(this: &RawPromise, on_rejected: &js_sys::Function) -> JsValue;
}

/// `stream` as the router's byte stream.
pub(super) fn byte_stream(stream: &web_sys::ReadableStream) -> ByteStream {
    match stream.unchecked_ref::<RawStream>().get_reader() {
        Ok(reader) => Box::pin(JsBytes {
            reader: Some(reader),
            pending: None,
        }),
        Err(e) => Box::pin(futures_util::stream::once(std::future::ready(Err(
            StreamError(js_error_text(&e)),
        )))),
    }
}

struct JsBytes {
    /// `None` once the stream ended or failed.
    reader: Option<web_sys::ReadableStreamDefaultReader>,
    /// The `read()` in flight.
    pending: Option<JsFuture>,
}

impl Stream for JsBytes {
    type Item = Result<Bytes, StreamError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        loop {
            let Some(reader) = &this.reader else {
                return Poll::Ready(None);
            };
            let read = this
                .pending
                .get_or_insert_with(|| JsFuture::from(reader.read()));
            let result = match Pin::new(read).poll(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(r) => r,
            };
            this.pending = None;
            let result: ReadResult = match result {
                Ok(v) => v.unchecked_into(),
                Err(e) => {
                    this.reader = None;
                    return Poll::Ready(Some(Err(StreamError(js_error_text(&e)))));
                }
            };
            if result.done() {
                // Dropped without `releaseLock()` (see the module docs).
                this.reader = None;
                return Poll::Ready(None);
            }
            match result.value().dyn_into::<js_sys::Uint8Array>() {
                Ok(chunk) if chunk.length() == 0 => continue,
                Ok(chunk) => return Poll::Ready(Some(Ok(Bytes::from(chunk.to_vec())))),
                Err(_) => {
                    // Still open: stop the upstream, as a drop would.
                    if let Some(reader) = this.reader.take() {
                        ignore(&reader.cancel());
                    }
                    return Poll::Ready(Some(Err(StreamError(
                        "the upstream body gave a chunk that is not bytes".to_owned(),
                    ))));
                }
            }
        }
    }
}

impl Drop for JsBytes {
    fn drop(&mut self) {
        if let Some(reader) = self.reader.take() {
            // Not read to its end: tell the upstream to stop. The promise's outcome does not
            // matter; a rejection is handled so it is not reported as unhandled.
            ignore(&reader.cancel());
        }
    }
}

/// One no-op rejection handler per isolate (a `Closure` per cancel would be one more
/// allocation kept alive for each).
fn ignore_rejection() -> js_sys::Function {
    thread_local! {
        static IGNORE: js_sys::Function =
            wasm_bindgen::closure::Closure::<dyn Fn(JsValue)>::new(|_: JsValue| {})
                .into_js_value()
                .unchecked_into();
    }
    IGNORE.with(Clone::clone)
}

/// How many chunks a standard `TransformStream` pipe holds before the writer waits.
const PIPE_CHUNKS: u32 = 16;

/// A JS `ReadableStream` fed from `stream`, for a streamed response body.
///
/// Push, not pull: a task writes each chunk into a pipe as it comes, waiting on the writer's
/// `ready` when the client has not taken the last one yet. In workerd the pipe is an
/// `IdentityTransformStream`, whose bytes never go through JS. The pull source behind the
/// `worker` crate's `Response::from_stream` (`wasm-streams`) answers every read with a promise
/// made in Rust; side by side (bench/cpu_ab.py) the push pipe saved ~0.1 ms of CPU per
/// streamed response, and a standard `TransformStream` saved nothing. When the client goes
/// away the pipe errors; the task sees it at its next write (the next chunk, or a keepalive at
/// most 15 s later), stops, and dropping `stream` cancels the upstream.
pub(super) fn readable_from(stream: ByteStream) -> Result<web_sys::ReadableStream, JsValue> {
    let pipe = match Pipe::new_identity() {
        Ok(pipe) => pipe,
        // Not workerd: the standard pipe, holding a few chunks.
        Err(_) => {
            let strategy = js_sys::JSON::parse(&format!("{{\"highWaterMark\":{PIPE_CHUNKS}}}"))?;
            Pipe::new_transform(&JsValue::UNDEFINED, &strategy)?
        }
    };
    let writer = pipe.writable().get_writer()?;
    wasm_bindgen_futures::spawn_local(pump(stream, writer));
    Ok(pipe.readable())
}

async fn pump(mut stream: ByteStream, writer: web_sys::WritableStreamDefaultWriter) {
    use futures_util::StreamExt;
    while let Some(item) = stream.next().await {
        let chunk = match item {
            Ok(chunk) if chunk.is_empty() => continue,
            Ok(chunk) => chunk,
            Err(e) => {
                // The client sees the body fail, as with a broken connection.
                ignore(&writer.abort_with_reason(&JsValue::from_str(&e.0)));
                return;
            }
        };
        match writer.desired_size() {
            // The pipe has room.
            Ok(Some(room)) if room > 0.0 => {}
            // Full: wait until the client takes some (an error: it went away).
            Ok(Some(_)) => {
                if JsFuture::from(writer.ready()).await.is_err() {
                    return;
                }
            }
            // Errored or closed: the client went away.
            _ => return,
        }
        ignore(&writer.write_with_chunk(&js_sys::Uint8Array::from(chunk.as_ref())));
    }
    ignore(&writer.close());
}

/// A promise whose outcome does not matter, kept from being reported as an unhandled rejection.
fn ignore(promise: &js_sys::Promise) {
    let _ = promise
        .unchecked_ref::<RawPromise>()
        .catch_with(&ignore_rejection());
}

/// A JS exception's message, for an error the router reports (it scrubs key material).
pub(super) fn js_error_text(e: &JsValue) -> String {
    if let Some(err) = e.dyn_ref::<js_sys::Error>() {
        return String::from(err.message());
    }
    e.as_string()
        .unwrap_or_else(|| "the platform refused the call".to_owned())
}
