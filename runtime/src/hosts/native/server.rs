//! The server side of the native host: accept loop, one HTTP/1.1 connection task per client,
//! request in (bounded body), response out (streamed bodies written frame by frame as the
//! router yields them), and the optional access log.

use super::client::NativeHost;
use super::options::Options;
use crate::gateway::Runtime;
use crate::host::is_hop_by_hop;
use crate::host::{Body, ByteStream, HttpRequest, HttpResponse};
use crate::hosts::refusals::{body_timeout, too_large, unreadable_body};
use crate::table::Gateway;
use bytes::Bytes;
use http_body_util::{BodyExt, Limited};
use hyper::body::{Frame, Incoming, SizeHint};
use hyper::header::{HeaderName, HeaderValue, CONTENT_LENGTH};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::collections::HashMap;
use std::convert::Infallible;
use std::io;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tokio::sync::{watch, Semaphore};
use tokio::task::LocalSet;

/// Everything a connection task needs; one per worker thread.
struct Shared {
    runtime: Runtime,
    host: NativeHost,
    options: Options,
}

/// One worker thread's life: an event loop accepting from the shared listener until `stop`.
pub(super) fn run_thread(
    gateway: &'static Gateway,
    quotas: super::quotas::SharedQuotas,
    secrets: Arc<HashMap<String, String>>,
    listener: std::net::TcpListener,
    options: Options,
    slots: Arc<Semaphore>,
    mut stop: watch::Receiver<bool>,
) -> io::Result<()> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let local = LocalSet::new();
    local.block_on(&rt, async move {
        let listener = tokio::net::TcpListener::from_std(listener)?;
        let shared = Rc::new(Shared {
            // A clone: `quotas` itself lives as long as this thread (its saver writes the
            // counts file while any thread serves, and a last time after the last one).
            runtime: super::quotas::install(Runtime::new(gateway), quotas.clone()),
            host: NativeHost::new(secrets)?.with_log(options.access_log),
            options,
        });
        while !*stop.borrow() {
            // A connection slot first: over the cap, clients wait in the kernel's backlog.
            let slot = tokio::select! {
                // A send or the sender's drop both mean: stop.
                _ = stop.changed() => break,
                slot = Arc::clone(&slots).acquire_owned() => match slot {
                    Ok(slot) => slot,
                    Err(_) => break, // closed: never, the server owns it
                },
            };
            tokio::select! {
                _ = stop.changed() => break,
                accepted = listener.accept() => match accepted {
                    Ok((stream, _peer)) => {
                        let _ = stream.set_nodelay(true);
                        let shared = Rc::clone(&shared);
                        tokio::task::spawn_local(async move {
                            serve_connection(shared, stream).await;
                            drop(slot);
                        });
                    }
                    // Out of file descriptors and the like: the listener stays usable, so wait a
                    // moment instead of spinning on the same error.
                    Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
                },
            }
        }
        Ok(())
    })
}

async fn serve_connection(shared: Rc<Shared>, stream: tokio::net::TcpStream) {
    let (header_timeout, max_header) = (
        shared.options.header_timeout,
        shared.options.max_header_bytes,
    );
    let service = service_fn(move |req| {
        let shared = Rc::clone(&shared);
        async move { Ok::<_, Infallible>(handle(&shared, req).await) }
    });
    // Errors here are the client's doing (reset, malformed request, idle timeout): nothing to
    // report beyond closing the connection, which dropping it does.
    let _ = http1::Builder::new()
        .timer(TokioTimer::new())
        .keep_alive(true)
        .header_read_timeout(header_timeout)
        .max_header_size(max_header)
        .serve_connection(TokioIo::new(stream), service)
        .await;
}

async fn handle(shared: &Shared, req: hyper::Request<Incoming>) -> hyper::Response<OutBody> {
    let (parts, incoming) = req.into_parts();
    let url = parts
        .uri
        .path_and_query()
        .map(|pq| pq.as_str())
        .unwrap_or("/")
        .to_owned();
    let mut log = shared.options.access_log.then(|| AccessLog {
        method: parts.method.as_str().to_owned(),
        path: url.split('?').next().unwrap_or("/").to_owned(),
        status: 0,
        model: None,
        provider: None,
        attempts: None,
        started: Instant::now(),
        muted: None,
    });
    if let Some(log) = log.as_mut() {
        log.muted = Some(shared.host.router_logs());
    }
    let mut request = HttpRequest {
        method: parts.method.as_str().to_owned(),
        url,
        headers: header_pairs(&parts.headers),
        body: Bytes::new(),
    };
    // Auth first, from the head alone: a client without a key costs no body read.
    if let Some(refused) = shared.runtime.refuse_before_body(&shared.host, &request) {
        return finish(refused, log);
    }
    request.body = match read_body(&shared.options, &parts.headers, incoming).await {
        Ok(body) => body,
        Err(refused) => {
            // The router never saw it: the host's own line is the only one.
            if let Some(log) = log.as_mut() {
                log.muted = None;
            }
            return finish(refused, log);
        }
    };
    // The access line names the model only when it is written at all: once the router logs
    // its own line it is muted, and reading `model` here would parse every body a second time.
    let body_for_log = log.as_ref().map(|_| request.body.clone());
    let response = shared.runtime.handle(&shared.host, request).await;
    if let (Some(log), Some(body)) = (log.as_mut(), body_for_log) {
        if !log.is_muted() {
            log.model = model_of(&body);
        }
    }
    finish(response, log)
}

/// The request headers as the router's pairs.
fn header_pairs(headers: &hyper::HeaderMap) -> Vec<(String, String)> {
    headers
        .iter()
        .map(|(name, value)| {
            (
                name.as_str().to_owned(),
                String::from_utf8_lossy(value.as_bytes()).into_owned(),
            )
        })
        .collect()
}

/// The whole request body, within the size limit and the body deadline, or the refusal: 413
/// when the declared length (before a byte is read) or the bytes sent pass the limit, 408 when
/// the client has not sent it all by the deadline, 400 when the connection failed mid-body.
async fn read_body(
    options: &Options,
    headers: &hyper::HeaderMap,
    incoming: Incoming,
) -> Result<Bytes, HttpResponse> {
    let max = options.max_body;
    let declared = headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > max as u64) {
        return Err(too_large());
    }
    let read = Limited::new(incoming, max).collect();
    match tokio::time::timeout(options.body_timeout, read).await {
        Ok(Ok(collected)) => Ok(collected.to_bytes()),
        Ok(Err(e)) if e.is::<http_body_util::LengthLimitError>() => Err(too_large()),
        Ok(Err(_)) => Err(unreadable_body()),
        Err(_elapsed) => Err(body_timeout()),
    }
}

/// The router's response as hyper's. A streamed body stays a stream: each item becomes one
/// data frame, written as soon as it is yielded.
fn finish(response: HttpResponse, mut log: Option<AccessLog>) -> hyper::Response<OutBody> {
    let mut out = hyper::Response::new(OutBody::Empty);
    *out.status_mut() =
        hyper::StatusCode::from_u16(response.status).unwrap_or(hyper::StatusCode::BAD_GATEWAY);
    let headers = out.headers_mut();
    for (name, value) in &response.headers {
        // The length is hyper's to write (from the body), as are the connection headers.
        if is_hop_by_hop(name) || name == "content-length" {
            continue;
        }
        if let (Ok(n), Ok(v)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            headers.append(n, v);
        }
    }
    if let Some(log) = log.as_mut() {
        log.status = response.status;
        log.provider = response.header("x-apex-provider").map(str::to_owned);
        log.attempts = response.header("x-apex-attempts").map(str::to_owned);
        if let Some(model) = response.header("x-apex-model") {
            log.model = Some(model.to_owned());
        }
    }
    *out.body_mut() = match response.body.opened() {
        // `opened` leaves no platform handle; the arm only completes the match.
        Body::Empty | Body::Platform(_) => {
            drop(log);
            OutBody::Empty
        }
        Body::Bytes(b) => {
            drop(log);
            OutBody::Full(Some(b))
        }
        // Logged when the stream ends (or the client goes away), so the line has the total time.
        Body::Stream(stream) => OutBody::Stream { stream, _log: log },
    };
    out
}

/// The response body hyper writes.
enum OutBody {
    Empty,
    Full(Option<Bytes>),
    Stream {
        stream: ByteStream,
        _log: Option<AccessLog>,
    },
}

/// A stream that failed mid-way; hyper then cuts the connection, which is how a client learns
/// a streamed response is incomplete.
#[derive(Debug)]
struct StreamFailed(String);

impl std::fmt::Display for StreamFailed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "response stream failed: {}", self.0)
    }
}

impl std::error::Error for StreamFailed {}

impl hyper::body::Body for OutBody {
    type Data = Bytes;
    type Error = StreamFailed;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, StreamFailed>>> {
        match self.get_mut() {
            OutBody::Empty => Poll::Ready(None),
            OutBody::Full(b) => Poll::Ready(b.take().map(|b| Ok(Frame::data(b)))),
            OutBody::Stream { stream, .. } => loop {
                match stream.as_mut().poll_next(cx) {
                    // An empty chunk would read as the end of a chunked body: skip it.
                    Poll::Ready(Some(Ok(b))) if b.is_empty() => continue,
                    Poll::Ready(Some(Ok(b))) => return Poll::Ready(Some(Ok(Frame::data(b)))),
                    Poll::Ready(Some(Err(e))) => return Poll::Ready(Some(Err(StreamFailed(e.0)))),
                    Poll::Ready(None) => return Poll::Ready(None),
                    Poll::Pending => return Poll::Pending,
                }
            },
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            OutBody::Empty | OutBody::Full(None) => true,
            OutBody::Full(Some(_)) | OutBody::Stream { .. } => false,
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            OutBody::Empty | OutBody::Full(None) => SizeHint::with_exact(0),
            OutBody::Full(Some(b)) => SizeHint::with_exact(b.len() as u64),
            OutBody::Stream { .. } => SizeHint::default(),
        }
    }
}

/// One access-log line, written to stderr when dropped: after a whole body was handed to
/// hyper, or when a stream ends or its client disconnects. Holds no header or body content
/// beyond the model name, so no key can reach the log.
///
/// Once the router writes its own structured line per request (through `Host::log`), this
/// line is left out for routed requests (`muted`) and kept only for requests the host refused
/// before the router saw them (413, unreadable body).
struct AccessLog {
    muted: Option<Rc<std::cell::Cell<bool>>>,
    method: String,
    path: String,
    status: u16,
    model: Option<String>,
    provider: Option<String>,
    attempts: Option<String>,
    started: Instant,
}

impl AccessLog {
    fn is_muted(&self) -> bool {
        self.muted.as_ref().is_some_and(|m| m.get())
    }
}

impl Drop for AccessLog {
    fn drop(&mut self) {
        if self.is_muted() {
            return;
        }
        let ms = self.started.elapsed().as_secs_f64() * 1000.0;
        eprintln!(
            "{} {} {} model={} provider={} attempts={} {:.1}ms",
            self.method,
            self.path,
            self.status,
            self.model.as_deref().unwrap_or("-"),
            self.provider.as_deref().unwrap_or("-"),
            self.attempts.as_deref().unwrap_or("-"),
            ms
        );
    }
}

/// The `model` field of a JSON request body, for the access log only.
fn model_of(body: &[u8]) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct ModelOnly {
        model: Option<String>,
    }
    if body.first() != Some(&b'{') {
        return None;
    }
    let model = serde_json::from_slice::<ModelOnly>(body).ok()?.model?;
    // Log a readable name, not whatever a client managed to put there.
    Some(
        model
            .chars()
            .take(100)
            .map(|c| if c.is_control() || c == ' ' { '_' } else { c })
            .collect(),
    )
}
