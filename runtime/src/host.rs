//! The seam between the router and the platform it runs on.
//!
//! The router is written once against [`Host`]; `hosts::workers` implements it with the
//! `worker` crate (Fetch, secrets, KV) and `hosts::native` with tokio/hyper. Futures are not
//! `Send`: a Worker isolate is single-threaded, and the native host runs each connection on a
//! `LocalSet`, so both execute the same code the same way.

use bytes::Bytes;
use futures_core::Stream;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;

/// A body that arrives (or leaves) piece by piece. Each item is forwarded as soon as it exists.
pub type ByteStream = Pin<Box<dyn Stream<Item = Result<Bytes, StreamError>>>>;

/// A failure in the middle of a body stream (connection dropped, upstream reset...).
#[derive(Debug, Clone)]
pub struct StreamError(pub String);

/// An HTTP body: absent, whole, streamed, or still held by the platform.
pub enum Body {
    Empty,
    Bytes(Bytes),
    Stream(ByteStream),
    /// An upstream body the platform has not handed over yet (a Worker's `ReadableStream`).
    /// When the router passes an answer through untouched (chat or embeddings to a same-protocol
    /// upstream, not streamed) the host gives this handle straight back to the platform, so the
    /// bytes never cross into the router; a path that must read it calls [`Body::opened`].
    Platform(Box<dyn PlatformBody>),
}

/// A body handle owned by the host that made it (see [`Body::Platform`]).
pub trait PlatformBody {
    /// The bytes, as a stream the router can read.
    fn into_stream(self: Box<Self>) -> ByteStream;
    /// The whole body, or why not: it failed, or it is over `cap` bytes. A host may do this in
    /// one step where reading a stream piece by piece costs more (a Worker's `arrayBuffer()`).
    fn read_all(self: Box<Self>, cap: usize) -> LocalFuture<Result<Bytes, String>> {
        Box::pin(read_stream(self.into_stream(), cap))
    }
    /// The handle itself, for the host to take back (it downcasts to its own type).
    fn into_any(self: Box<Self>) -> Box<dyn std::any::Any>;
}

/// A whole stream, up to `cap` bytes (an error past that, without reading further).
pub async fn read_stream(mut stream: ByteStream, cap: usize) -> Result<Bytes, String> {
    use futures_util::StreamExt;
    let mut out = Vec::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| format!("the upstream body failed: {}", e.0))?;
        out.extend_from_slice(&chunk);
        if out.len() > cap {
            return Err(format!("the upstream body is over {cap} bytes"));
        }
    }
    Ok(Bytes::from(out))
}

impl Body {
    /// The same body, readable by the router: a platform handle becomes a stream.
    pub fn opened(self) -> Body {
        match self {
            Body::Platform(p) => Body::Stream(p.into_stream()),
            other => other,
        }
    }
}

impl std::fmt::Debug for Body {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Body::Empty => f.write_str("Body::Empty"),
            Body::Bytes(b) => write!(f, "Body::Bytes({} bytes)", b.len()),
            Body::Stream(_) => f.write_str("Body::Stream"),
            Body::Platform(_) => f.write_str("Body::Platform"),
        }
    }
}

/// Header names are lower-case ASCII.
pub type Headers = Vec<(String, String)>;

/// A request as the router sees it: inbound from a client, or outbound to an upstream.
#[derive(Debug)]
pub struct HttpRequest {
    /// Upper-case method (`GET`, `POST`, ...).
    pub method: String,
    /// Inbound: path with query (`/v1/models?x=1`). Outbound: absolute URL.
    pub url: String,
    pub headers: Headers,
    pub body: Bytes,
}

/// A response: to the client, or from an upstream.
#[derive(Debug)]
pub struct HttpResponse {
    pub status: u16,
    pub headers: Headers,
    pub body: Body,
}

/// Why an upstream call produced no response.
#[derive(Debug, Clone)]
pub enum FetchError {
    /// No response headers within the provider's `timeout_ms`.
    Timeout,
    /// DNS, connect, TLS or protocol failure before a response arrived.
    Connect(String),
}

/// What a platform gives the router.
pub trait Host {
    /// The value of a secret by name (Worker secret; env var or `.dev.vars` natively).
    fn secret(&self, name: &str) -> Option<String>;
    /// One upstream HTTP call. Resolves when response headers arrive; the body may stream.
    /// Must give up with [`FetchError::Timeout`] after `timeout_ms`.
    fn fetch(
        &self,
        req: HttpRequest,
        timeout_ms: u32,
    ) -> impl Future<Output = Result<HttpResponse, FetchError>>;
    /// Milliseconds since the Unix epoch.
    fn now_ms(&self) -> u64;
    /// A random number (for the `random` and `weighted` strategies).
    fn random_u32(&self) -> u32;
    /// Resolves after `ms` milliseconds. The router uses it to bound the wait for a stream's
    /// first event and to wait out a short cooldown; it never sleeps on the success path.
    fn sleep(&self, ms: u64) -> impl Future<Output = ()>;
    /// One structured line per request (see `crate::log`): JSON, no key material. Native:
    /// stderr when the access log is on; Workers: `console.log`. Formatting happens only here,
    /// so a host that drops the line pays nothing for it.
    fn log(&self, line: &dyn std::fmt::Display) {
        let _ = line;
    }
    /// The key-value namespace bound as `binding` (a Workers KV binding; an in-memory map
    /// natively), or `None` when the platform has none by that name. Stored Responses live
    /// here (see `responses::store`). The default is no storage at all.
    fn kv(&self, binding: &str) -> Option<Kv> {
        let _ = binding;
        None
    }
    /// A source of `'static` timers, or `None` when the platform has none. Unlike
    /// [`Host::sleep`], what it makes may outlive the request handler: a response stream uses
    /// it after the handler returned, to write keepalives while the upstream is quiet and to
    /// give up on one that went silent (see `crate::attempt::keepalive`). The default has none: no
    /// keepalives, no idle timeout.
    fn timers(&self) -> Option<Timers> {
        None
    }
}

/// Makes a timer that resolves after the given number of milliseconds (see [`Host::timers`]).
pub type Timers = Rc<dyn Fn(u64) -> LocalFuture<()>>;

/// A future that owns everything it needs: it may outlive the call that made it (a response
/// stream writes its stored copy after the handler returned).
pub type LocalFuture<T> = Pin<Box<dyn Future<Output = T>>>;

/// A shared handle on one key-value namespace.
pub type Kv = Rc<dyn KvStore>;

/// One key-value namespace. Values are UTF-8 text (JSON in practice). Reads may be stale by
/// the platform's consistency window (Workers KV: up to 60 s in other locations).
pub trait KvStore {
    /// The value, or `None` when absent, expired, or unreadable.
    fn get(&self, key: &str) -> LocalFuture<Option<String>>;
    /// Store `value` under `key` for `ttl_seconds` (Workers KV raises anything below 60 to 60).
    fn put(&self, key: &str, value: String, ttl_seconds: u64) -> LocalFuture<Result<(), String>>;
    fn delete(&self, key: &str) -> LocalFuture<Result<(), String>>;
}

impl HttpRequest {
    /// First value of a header (name lower-case).
    pub fn header(&self, name: &str) -> Option<&str> {
        find_header(&self.headers, name)
    }
}

impl HttpResponse {
    /// First value of a header (name lower-case).
    pub fn header(&self, name: &str) -> Option<&str> {
        find_header(&self.headers, name)
    }
}

fn find_header<'a>(headers: &'a Headers, name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// Largest request body a gateway accepts (10 MiB): bigger bodies get 413 before the rest is
/// read. Chat requests with long histories and inline images stay far below it.
pub const MAX_REQUEST_BODY: usize = 10 * 1024 * 1024;

/// Headers that describe one HTTP connection rather than the message (RFC 9110 §7.6.1). A host
/// never copies them between connections: each side's HTTP stack writes its own.
pub fn is_hop_by_hop(name: &str) -> bool {
    matches!(
        name,
        "connection"
            | "keep-alive"
            | "proxy-connection"
            | "transfer-encoding"
            | "te"
            | "trailer"
            | "upgrade"
            | "proxy-authenticate"
            | "proxy-authorization"
    )
}
