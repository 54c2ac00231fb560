//! Running the attempt plan against upstreams and shaping what comes back.
//!
//! Success passes through untouched (status, content type, body bytes, streamed as they
//! arrive). A non-retryable 4xx goes back as the upstream said it, scrubbed of credentials.
//! 429 / 5xx / timeouts / connect errors move on to the next key or route, at most
//! `gateway.max_attempts` times.

use super::plan::{self, Next, Target};
use super::scrub::scrub;
use super::Runtime;
use crate::errors::ApiError;
use crate::host::{Body, FetchError, Headers, Host, HttpResponse};
use crate::kinds::{self, Call, Prepared};
use crate::openai::{Endpoint, Routing};
use crate::table::{Provider, Strategy};
use bytes::Bytes;
use futures_util::StreamExt;

/// Most bytes of an upstream error body read for scrubbing and forwarding.
const MAX_ERROR_BODY: usize = 1024 * 1024;

/// What the request resolved to: the candidate routes and how to order them.
pub struct Resolved<'a> {
    pub targets: Vec<Target<'a>>,
    pub strategy: Strategy,
    pub tick: u32,
}

/// The last failed attempt, kept for the final answer.
enum Failure {
    Status(HttpResponse, &'static Provider),
    Timeout,
    Connect,
}

pub async fn forward<H: Host>(
    rt: &Runtime,
    host: &H,
    endpoint: Endpoint,
    routing: &Routing<'_>,
    body: &Bytes,
    resolved: Resolved<'_>,
) -> HttpResponse {
    let gateway = rt.gateway;
    let order = plan::order(
        resolved.strategy,
        &resolved.targets,
        resolved.tick,
        &mut || host.random_u32(),
    );
    let max_attempts = gateway.max_attempts.max(1);
    let mut attempts: u32 = 0;
    let mut notes: Vec<String> = Vec::new();
    let mut last: Option<Failure> = None;
    let mut not_compiled: Option<ApiError> = None;

    'routes: for target in order.iter().filter_map(|i| resolved.targets.get(*i)) {
        let Some(provider) = gateway.providers.get(usize::from(target.provider)) else {
            continue;
        };
        if !kinds::compiled(provider.kind) {
            not_compiled = Some(kinds::not_compiled(provider));
            continue;
        }
        let needs_key = kinds::needs_key(provider.kind);
        let n_keys = if needs_key {
            provider.api_keys.len()
        } else {
            1
        };
        if n_keys == 0 {
            notes.push(format!("{}: no api_keys configured", provider.id));
            continue;
        }
        let tick = if n_keys > 1 {
            rt.next_key_tick(target.provider)
        } else {
            0
        };
        let upstream_body = routing.with_model(body, target.model);
        for k in plan::keys(n_keys, tick) {
            if attempts >= max_attempts {
                break 'routes;
            }
            let key = if needs_key {
                let Some(name) = provider.api_keys.get(k) else {
                    continue;
                };
                match host.secret(name) {
                    Some(v) => Some(v),
                    None => {
                        notes.push(format!("{}: secret {name} is not set", provider.id));
                        continue;
                    }
                }
            } else {
                None
            };
            let call = Call {
                provider,
                endpoint,
                model: target.model,
                key: key.as_deref(),
                body: upstream_body.clone(),
                stream: routing.stream,
            };
            let prepared = match kinds::prepare(call) {
                Ok(p) => p,
                Err(e) => {
                    not_compiled = Some(e);
                    continue 'routes;
                }
            };
            attempts += 1;
            let result = match prepared {
                Prepared::Local(resp) => Ok(resp),
                Prepared::Fetch(req) => host.fetch(req, provider.timeout_ms).await,
            };
            match result {
                Ok(resp) if resp.status < 400 => return pass_through(resp, provider, attempts),
                Ok(resp) if !plan::retryable_status(resp.status) => {
                    return upstream_error(host, resp, provider, attempts).await;
                }
                Ok(resp) => {
                    notes.push(format!("{}: HTTP {}", provider.id, resp.status));
                    let next = plan::after_status(resp.status);
                    last = Some(Failure::Status(resp, provider));
                    match next {
                        Next::Key => continue,
                        Next::Route => continue 'routes,
                    }
                }
                Err(FetchError::Timeout) => {
                    notes.push(format!(
                        "{}: no response within {} ms",
                        provider.id, provider.timeout_ms
                    ));
                    last = Some(Failure::Timeout);
                    continue 'routes;
                }
                Err(FetchError::Connect(why)) => {
                    let known: Vec<String> = key.into_iter().collect();
                    let why = String::from_utf8_lossy(&scrub(why.as_bytes(), &known)).into_owned();
                    notes.push(format!("{}: connection failed ({why})", provider.id));
                    last = Some(Failure::Connect);
                    continue 'routes;
                }
            }
        }
    }

    let summary = || {
        format!(
            "{} upstream attempt{} failed: {}.",
            attempts,
            if attempts == 1 { "" } else { "s" },
            notes.join("; ")
        )
    };
    let mut resp = match last {
        Some(Failure::Status(resp, provider)) => {
            return upstream_error(host, resp, provider, attempts).await;
        }
        Some(Failure::Timeout) => ApiError::gateway_timeout(summary()).into_response(),
        Some(Failure::Connect) => ApiError::bad_gateway(summary()).into_response(),
        None => match not_compiled {
            Some(e) => e.into_response(),
            None => ApiError::unavailable(format!(
                "no route could be tried for model `{}`: {}.",
                routing.model,
                if notes.is_empty() {
                    "no routes".to_owned()
                } else {
                    notes.join("; ")
                }
            ))
            .into_response(),
        },
    };
    resp.headers
        .push(("x-apex-attempts".to_owned(), attempts.to_string()));
    resp
}

/// A successful upstream answer, as it came (minus hop-by-hop headers and cookies).
fn pass_through(resp: HttpResponse, provider: &Provider, attempts: u32) -> HttpResponse {
    let mut headers = forwardable(resp.headers);
    mark(&mut headers, provider, attempts);
    HttpResponse {
        status: resp.status,
        headers,
        body: resp.body,
    }
}

/// An upstream error answer: same status, body scrubbed of credentials.
async fn upstream_error<H: Host>(
    host: &H,
    resp: HttpResponse,
    provider: &Provider,
    attempts: u32,
) -> HttpResponse {
    let raw = read_capped(resp.body, MAX_ERROR_BODY).await;
    let secrets: Vec<String> = provider
        .api_keys
        .iter()
        .filter_map(|n| host.secret(n))
        .collect();
    let body = scrub(&raw, &secrets);
    let mut headers = forwardable(resp.headers);
    headers.retain(|(k, _)| k != "content-encoding");
    mark(&mut headers, provider, attempts);
    HttpResponse {
        status: resp.status,
        headers,
        body: Body::Bytes(Bytes::from(body)),
    }
}

fn mark(headers: &mut Headers, provider: &Provider, attempts: u32) {
    headers.push(("x-apex-provider".to_owned(), provider.id.to_owned()));
    headers.push(("x-apex-attempts".to_owned(), attempts.to_string()));
}

/// Upstream headers minus those that describe the upstream connection (hop-by-hop, length:
/// the host frames the body itself), cookies, and CORS (the gateway sets its own).
fn forwardable(mut headers: Headers) -> Headers {
    headers.retain(|(k, _)| {
        let k = k.as_str();
        !(matches!(
            k,
            "connection"
                | "keep-alive"
                | "proxy-authenticate"
                | "proxy-authorization"
                | "proxy-connection"
                | "te"
                | "trailer"
                | "transfer-encoding"
                | "upgrade"
                | "content-length"
                | "set-cookie"
                | "set-cookie2"
        ) || k.starts_with("access-control-"))
    });
    headers
}

/// The body, up to `cap` bytes.
async fn read_capped(body: Body, cap: usize) -> Vec<u8> {
    match body {
        Body::Empty => Vec::new(),
        Body::Bytes(b) => b.get(..cap.min(b.len())).unwrap_or_default().to_vec(),
        Body::Stream(mut s) => {
            let mut out = Vec::new();
            while let Some(Ok(chunk)) = s.next().await {
                let room = cap.saturating_sub(out.len());
                out.extend_from_slice(chunk.get(..room.min(chunk.len())).unwrap_or_default());
                if out.len() >= cap {
                    break;
                }
            }
            out
        }
    }
}
