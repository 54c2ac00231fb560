//! The Workers host: the generated crate's `#[event(fetch)]` calls [`fetch`], which runs the
//! router inside the isolate and hands its response back to the Workers runtime.
//!
//! - One [`Runtime`] per isolate and gateway, created on first use and kept (round-robin
//!   counters and cooldowns live as long as the isolate does).
//! - Upstream calls use the global `fetch` with an `AbortController`: if no response headers
//!   arrive within the provider's `timeout_ms`, the call is aborted (it stops counting against
//!   the isolate) and reported as [`FetchError::Timeout`].
//! - Streamed bodies stay streams in both directions: an upstream `ReadableStream` becomes a
//!   [`ByteStream`](crate::host::ByteStream), and a streamed router response becomes the
//!   Worker's response body via `Response::from_stream`, so each chunk leaves as it arrives.

use crate::host::{Body, FetchError, Headers, Host, HttpRequest, HttpResponse, StreamError};
use crate::hosts::{is_hop_by_hop, too_large, unreadable_body, MAX_REQUEST_BODY};
use crate::router::Runtime;
use crate::table::Gateway;
use bytes::{Bytes, BytesMut};
use futures_util::future::{select, Either};
use futures_util::StreamExt;
use std::cell::RefCell;
use std::future::Future;
use std::time::Duration;

thread_local! {
    /// The isolate's runtimes, by gateway address (one in practice: a worker has one gateway).
    static RUNTIMES: RefCell<Vec<(usize, &'static Runtime)>> = const { RefCell::new(Vec::new()) };
}

fn runtime_for(gateway: &'static Gateway) -> &'static Runtime {
    let key = gateway as *const Gateway as usize;
    RUNTIMES.with(|cell| {
        let mut runtimes = cell.borrow_mut();
        if let Some((_, rt)) = runtimes.iter().find(|(k, _)| *k == key) {
            return *rt;
        }
        // Leaked on purpose: it lives as long as the isolate, which is the point.
        let rt: &'static Runtime = Box::leak(Box::new(Runtime::new(gateway)));
        runtimes.push((key, rt));
        rt
    })
}

/// Serve one request of the Worker's fetch event.
pub async fn fetch(
    gateway: &'static Gateway,
    req: worker::Request,
    env: worker::Env,
) -> worker::Result<worker::Response> {
    let runtime = runtime_for(gateway);
    let response = match inbound(req).await {
        Ok(request) => runtime.handle(&WorkersHost { env }, request).await,
        Err(refusal) => refusal,
    };
    outbound(response)
}

/// The platform services a Worker gives the router.
pub struct WorkersHost {
    env: worker::Env,
}

impl WorkersHost {
    pub fn new(env: worker::Env) -> Self {
        WorkersHost { env }
    }
}

impl Host for WorkersHost {
    fn secret(&self, name: &str) -> Option<String> {
        // Deployed keys are secrets; `wrangler dev` also exposes `.dev.vars` entries as
        // secrets, and a `[vars]` entry is accepted so a local setup can use plain vars.
        self.env
            .secret(name)
            .ok()
            .map(|s| s.to_string())
            .or_else(|| self.env.var(name).ok().map(|v| v.to_string()))
    }

    fn fetch(
        &self,
        req: HttpRequest,
        timeout_ms: u32,
    ) -> impl Future<Output = Result<HttpResponse, FetchError>> {
        upstream_fetch(req, timeout_ms)
    }

    fn now_ms(&self) -> u64 {
        worker::Date::now().as_millis()
    }

    fn random_u32(&self) -> u32 {
        (js_sys::Math::random() * 4_294_967_296.0) as u32
    }

    fn sleep(&self, ms: u64) -> impl Future<Output = ()> {
        worker::Delay::from(Duration::from_millis(ms))
    }

    // A `Delay` wakes the task that first polled it; `keepalive` makes a fresh one per wait.
    fn timers(&self) -> Option<crate::host::Timers> {
        Some(std::rc::Rc::new(|ms| {
            Box::pin(worker::Delay::from(Duration::from_millis(ms))) as crate::host::LocalFuture<()>
        }))
    }

    fn log(&self, line: &dyn std::fmt::Display) {
        worker::console_log!("{line}");
    }

    fn kv(&self, binding: &str) -> Option<crate::host::Kv> {
        let store = self.env.kv(binding).ok()?;
        Some(std::rc::Rc::new(WorkersKv(store)))
    }
}

/// A Workers KV namespace binding. Workers KV refuses a TTL under 60 s, so shorter ones are
/// raised to 60. Every put is one of the free plan's 1,000 daily writes.
struct WorkersKv(worker::kv::KvStore);

impl crate::host::KvStore for WorkersKv {
    fn get(&self, key: &str) -> crate::host::LocalFuture<Option<String>> {
        let read = self.0.get(key);
        Box::pin(async move { read.text().await.ok().flatten() })
    }

    fn put(
        &self,
        key: &str,
        value: String,
        ttl_seconds: u64,
    ) -> crate::host::LocalFuture<Result<(), String>> {
        let write = self.0.put(key, value);
        Box::pin(async move {
            write
                .map_err(|e| e.to_string())?
                .expiration_ttl(ttl_seconds.max(60))
                .execute()
                .await
                .map_err(|e| e.to_string())
        })
    }

    fn delete(&self, key: &str) -> crate::host::LocalFuture<Result<(), String>> {
        let store = self.0.clone();
        let key = key.to_owned();
        Box::pin(async move { store.delete(&key).await.map_err(|e| e.to_string()) })
    }
}

async fn upstream_fetch(req: HttpRequest, timeout_ms: u32) -> Result<HttpResponse, FetchError> {
    let headers = worker::Headers::new();
    for (name, value) in &req.headers {
        if is_hop_by_hop(name) || name == "host" || name == "content-length" {
            continue;
        }
        // Never echo the value: it may be an API key.
        headers
            .append(name, value)
            .map_err(|_| FetchError::Connect(format!("invalid upstream header {name}")))?;
    }
    let mut init = worker::RequestInit::new();
    init.with_method(worker::Method::from(req.method.clone()))
        .with_headers(headers);
    if !req.body.is_empty() {
        init.with_body(Some(js_sys::Uint8Array::from(req.body.as_ref()).into()));
    }
    let request = worker::Request::new_with_init(&req.url, &init)
        .map_err(|_| FetchError::Connect("invalid upstream URL or method".into()))?;

    let controller = worker::AbortController::default();
    let signal = controller.signal();
    let call = worker::Fetch::Request(request);
    let sending = std::pin::pin!(call.send_with_signal(&signal));
    let deadline = std::pin::pin!(worker::Delay::from(Duration::from_millis(u64::from(
        timeout_ms
    ))));
    let mut resp = match select(sending, deadline).await {
        Either::Left((Ok(resp), _)) => resp,
        Either::Left((Err(e), _)) => return Err(FetchError::Connect(e.to_string())),
        Either::Right(((), _)) => {
            controller.abort();
            return Err(FetchError::Timeout);
        }
    };

    let status = resp.status_code();
    let headers: Headers = resp
        .headers()
        .entries()
        .filter(|(name, _)| !is_hop_by_hop(name))
        .collect();
    let body = match resp.stream() {
        Ok(stream) => Body::Stream(Box::pin(stream.map(|chunk| {
            chunk
                .map(Bytes::from)
                .map_err(|e| StreamError(e.to_string()))
        }))),
        // No body at all (204, HEAD...).
        Err(_) => Body::Empty,
    };
    Ok(HttpResponse {
        status,
        headers,
        body,
    })
}

/// The Worker's request as the router's, with the body read up to [`MAX_REQUEST_BODY`]. A
/// bigger body is refused with 413 as soon as the limit is passed (or at once, when its
/// declared length already says so).
async fn inbound(mut req: worker::Request) -> Result<HttpRequest, HttpResponse> {
    let method = req.method().to_string();
    let url = match req.url() {
        Ok(u) => match u.query() {
            Some(q) => format!("{}?{q}", u.path()),
            None => u.path().to_owned(),
        },
        Err(_) => req.path(),
    };
    let headers: Headers = req.headers().entries().collect();
    let declared = headers
        .iter()
        .find(|(k, _)| k == "content-length")
        .and_then(|(_, v)| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_REQUEST_BODY as u64) {
        return Err(too_large());
    }
    let body = match req.stream() {
        Err(_) => Bytes::new(), // no body
        Ok(mut stream) => {
            let mut buf = BytesMut::new();
            while let Some(chunk) = stream.next().await {
                let Ok(chunk) = chunk else {
                    return Err(unreadable_body());
                };
                if buf.len() + chunk.len() > MAX_REQUEST_BODY {
                    return Err(too_large());
                }
                buf.extend_from_slice(&chunk);
            }
            buf.freeze()
        }
    };
    Ok(HttpRequest {
        method,
        url,
        headers,
        body,
    })
}

/// The router's response as the Worker's. Streams are handed over as streams.
fn outbound(response: HttpResponse) -> worker::Result<worker::Response> {
    let streamed = matches!(response.body, Body::Stream(_));
    let headers = worker::Headers::new();
    for (name, value) in &response.headers {
        // The runtime frames the body itself; a stale length would truncate or stall it.
        if is_hop_by_hop(name) || (streamed && name == "content-length") {
            continue;
        }
        // A header the platform rejects is dropped rather than failing the whole response.
        let _ = headers.append(name, value);
    }
    let out = match response.body {
        Body::Empty => worker::Response::empty()?,
        Body::Bytes(b) => worker::Response::from_bytes(b.to_vec())?,
        Body::Stream(stream) => worker::Response::from_stream(stream.map(|chunk| {
            chunk
                .map(Vec::from)
                .map_err(|e| worker::Error::RustError(e.0))
        }))?,
    };
    Ok(out.with_status(response.status).with_headers(headers))
}
