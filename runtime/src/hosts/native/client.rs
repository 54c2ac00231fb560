//! [`NativeHost`]: the [`Host`] the native server gives the router — a pooled HTTP/1.1 client
//! (plain http and https via rustls with the webpki roots), secrets from a map fixed at startup,
//! the system clock and a small PRNG.

use crate::host::is_hop_by_hop;
use crate::host::{Body, FetchError, Host, HttpRequest, HttpResponse, StreamError};
use bytes::Bytes;
use futures_util::StreamExt;
use http_body_util::{BodyExt, Full};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use std::cell::Cell;
use std::collections::HashMap;
use std::future::Future;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

type Pool = Client<HttpsConnector<HttpConnector>, Full<Bytes>>;

/// Idle upstream connections are kept this long for reuse (upstreams such as OpenAI close
/// theirs after a few minutes; reusing one saves a TCP + TLS handshake per request).
const POOL_IDLE: Duration = Duration::from_secs(90);

/// Platform services for the router on a native thread. Cheap to share by reference; one per
/// worker thread (the PRNG state is a `Cell`).
pub struct NativeHost {
    client: Pool,
    secrets: Arc<HashMap<String, String>>,
    rng: Cell<u64>,
    /// Whether [`Host::log`] lines go to stderr (the server's `access_log` option).
    log: bool,
    /// Set once the router has written a line through [`Host::log`]: from then on the server's
    /// own access line is redundant and left out (see `server::AccessLog`).
    router_logs: Rc<Cell<bool>>,
}

impl NativeHost {
    /// A host whose secrets are `secrets` (name → value). Must be used inside a tokio runtime:
    /// upstream connections run as tasks on it.
    pub fn new(secrets: Arc<HashMap<String, String>>) -> std::io::Result<Self> {
        let mut http = HttpConnector::new();
        http.enforce_http(false); // the TLS layer above handles https URLs
        http.set_nodelay(true);
        http.set_connect_timeout(Some(Duration::from_secs(10)));
        let roots = rustls::RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        };
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map(|b| b.with_root_certificates(roots).with_no_client_auth());
        let tls = tls.map_err(|e| std::io::Error::other(format!("TLS setup: {e}")))?;
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(POOL_IDLE)
            .build(connector);
        Ok(NativeHost {
            client,
            secrets,
            rng: Cell::new(seed()),
            log: false,
            router_logs: Rc::new(Cell::new(false)),
        })
    }

    /// Shared flag: has the router started logging requests itself?
    pub(super) fn router_logs(&self) -> Rc<Cell<bool>> {
        Rc::clone(&self.router_logs)
    }

    /// Print the router's per-request log line on stderr (off by default).
    pub fn with_log(mut self, on: bool) -> Self {
        self.log = on;
        self
    }
}

impl Host for NativeHost {
    fn secret(&self, name: &str) -> Option<String> {
        self.secrets.get(name).cloned()
    }

    fn kv(&self, binding: &str) -> Option<crate::host::Kv> {
        Some(super::kv::open(binding))
    }

    fn fetch(
        &self,
        req: HttpRequest,
        timeout_ms: u32,
    ) -> impl Future<Output = Result<HttpResponse, FetchError>> {
        let request = to_hyper_request(req);
        let client = self.client.clone();
        async move {
            let request = request?;
            let limit = Duration::from_millis(u64::from(timeout_ms));
            let response = match tokio::time::timeout(limit, client.request(request)).await {
                Err(_) => return Err(FetchError::Timeout),
                Ok(Err(e)) => return Err(FetchError::Connect(describe(&e))),
                Ok(Ok(r)) => r,
            };
            let (parts, incoming) = response.into_parts();
            let headers = parts
                .headers
                .iter()
                .filter(|(name, _)| !is_hop_by_hop(name.as_str()))
                .map(|(name, value)| {
                    (
                        name.as_str().to_owned(),
                        String::from_utf8_lossy(value.as_bytes()).into_owned(),
                    )
                })
                .collect();
            let stream = incoming
                .into_data_stream()
                .map(|r| r.map_err(|e| StreamError(describe(&e))));
            Ok(HttpResponse {
                status: parts.status.as_u16(),
                headers,
                body: Body::Stream(Box::pin(stream)),
            })
        }
    }

    fn now_ms(&self) -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0)
    }

    fn random_u32(&self) -> u32 {
        // xorshift64*: plenty for spreading load over routes and keys; not for secrets.
        let mut x = self.rng.get();
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.rng.set(x);
        (x.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 32) as u32
    }

    fn sleep(&self, ms: u64) -> impl Future<Output = ()> {
        tokio::time::sleep(Duration::from_millis(ms))
    }

    fn timers(&self) -> Option<crate::host::Timers> {
        Some(std::rc::Rc::new(|ms| {
            Box::pin(tokio::time::sleep(Duration::from_millis(ms))) as crate::host::LocalFuture<()>
        }))
    }

    fn log(&self, line: &dyn std::fmt::Display) {
        if self.log {
            self.router_logs.set(true);
            eprintln!("{line}");
        }
    }
}

fn to_hyper_request(req: HttpRequest) -> Result<hyper::Request<Full<Bytes>>, FetchError> {
    let mut builder = hyper::Request::builder()
        .method(req.method.as_str())
        .uri(req.url.as_str());
    for (name, value) in &req.headers {
        // hyper writes host, content-length and the connection headers itself.
        if is_hop_by_hop(name) || name == "host" || name == "content-length" {
            continue;
        }
        builder = builder.header(name.as_str(), value.as_str());
    }
    builder
        .body(Full::new(req.body))
        // Never echo the header values: one of them carries the API key.
        .map_err(|_| FetchError::Connect("invalid upstream request (method, URL or header)".into()))
}

/// An error and its causes on one line (hyper's top-level messages alone say little, e.g.
/// "client error (Connect)").
fn describe(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let text = c.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        cause = c.source();
    }
    out
}

fn seed() -> u64 {
    let mut buf = [0u8; 8];
    if getrandom::fill(&mut buf).is_ok() {
        let s = u64::from_le_bytes(buf);
        if s != 0 {
            return s;
        }
    }
    let t = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    t | 1 // xorshift must not start at 0
}
