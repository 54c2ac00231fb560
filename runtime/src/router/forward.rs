//! Running the attempt plan against upstreams and shaping what comes back.
//!
//! 1. Routes that are resting ([`cooldown`](super::cooldown)) sit out while any other route
//!    can be tried. When all of them rest, a short wait (≤ [`MAX_WAIT_MS`]) is waited out;
//!    a longer one is answered at once: 429 when rate limits are the reason, else 503, with a
//!    `Retry-After` of the earliest recovery.
//! 2. The remaining routes are ordered by the model's strategy ([`plan::order`]); within a
//!    route the provider's keys rotate, rate-limited keys skipped.
//! 3. Each attempt: success passes through untouched (status, content type, body bytes,
//!    streamed as they arrive; a stream's head waits for its first event, see
//!    [`streams`](super::streams)). A 429 rests the key and tries the provider's next key; a
//!    5xx, 408, timeout or connect error counts against the route and moves to the next
//!    route; any other 4xx goes back at once. At most `gateway.max_attempts` attempts.
//! 4. Every upstream answer, success or error, passes the scrub stage ([`call`], see
//!    [`scrub`]) before anything here reads it: headers, body and stream events are cleaned of
//!    every credential the gateway knows. Every answer carries `x-apex-attempts`, and
//!    `x-apex-provider` once a provider answered.

use super::cooldown::{Rest, Resting};
use super::exchange::Exchange;
use super::log::RequestLog;
use super::plan::{self, Next, Target};
use super::retry_after;
use super::scrub::{self, Secrets};
use super::streams::{self, Checked, First, Terminated};
use super::Runtime;
use crate::errors::ApiError;
use crate::host::{Body, FetchError, Headers, Host, HttpResponse};
use crate::kinds::{self, Call, Prepared};
use crate::openai::Endpoint;
use crate::table::{Kind, Provider, Strategy};
use bytes::Bytes;
use futures_util::StreamExt;
use std::rc::Rc;

/// Most bytes of an upstream error body read for scrubbing and forwarding.
const MAX_ERROR_BODY: usize = 1024 * 1024;

/// Longest wait for a resting route before the request is answered with 429/503 instead.
/// Short enough that a client's own timeout never fires first.
pub const MAX_WAIT_MS: u64 = 1000;

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

/// The event a stream of this endpoint ends with when its upstream fails after it started.
fn stream_error_event(endpoint: Endpoint) -> fn(&str) -> Bytes {
    match endpoint {
        Endpoint::Messages | Endpoint::CountTokens => crate::anthropic::encode::error_event,
        Endpoint::Responses => crate::responses::events::error_event,
        _ => streams::openai_error_event,
    }
}

/// What the last non-blank bytes of a complete upstream stream are, per kind.
const fn stream_end_marker(kind: Kind) -> Option<&'static [u8]> {
    match kind {
        Kind::OpenAi | Kind::AzureOpenAi | Kind::Mock => Some(b"data: [DONE]"),
        Kind::Anthropic => Some(b"\"message_stop\"}"),
    }
}

/// How many keys an attempt on `provider` can choose from (1 for keyless kinds).
fn key_count(provider: &Provider) -> usize {
    if kinds::needs_key(provider.kind) {
        provider.api_keys.len()
    } else {
        1
    }
}

/// `Some` when no target can be tried at `now`: the earliest recovery, and whether rate limits
/// are the only reason (→ 429) or not (→ 503).
fn all_resting(rt: &Runtime, targets: &[Target<'_>], now: u64) -> Option<Resting> {
    let mut earliest: Option<Resting> = None;
    for t in targets {
        let n_keys = rt
            .gateway
            .providers
            .get(usize::from(t.provider))
            .map_or(1, key_count);
        let rest = rt.cooldowns.route_resting(t.provider, n_keys, now)?;
        earliest = Some(match earliest {
            None => rest,
            Some(e) => Resting {
                until_ms: e.until_ms.min(rest.until_ms),
                why: if e.why == Rest::RateLimited && rest.why == Rest::RateLimited {
                    Rest::RateLimited
                } else {
                    Rest::Failing
                },
            },
        });
    }
    earliest
}

pub async fn forward<H: Host, X: Exchange>(
    rt: &Runtime,
    host: &H,
    x: &X,
    resolved: Resolved<'_>,
    log: &mut RequestLog,
) -> HttpResponse {
    let gateway = rt.gateway;
    let cooldowns = &rt.cooldowns;
    let mut targets = resolved.targets;

    // The clock is read once per upstream answer (plus once when the request arrived and once
    // when it leaves, in `Runtime::handle`): reads cost a syscall or a JS call.
    let mut now = log.started_ms();
    if let Some(rest) = all_resting(rt, &targets, now) {
        let wait = rest.until_ms.saturating_sub(now);
        if wait > MAX_WAIT_MS {
            return resting_answer(x.model(), rest, now);
        }
        host.sleep(wait).await;
        let after = host.now_ms();
        log.wait_ms = after.saturating_sub(now);
        now = after;
        if let Some(rest) = all_resting(rt, &targets, now) {
            return resting_answer(x.model(), rest, now);
        }
    }
    targets.retain(|t| {
        let n_keys = gateway
            .providers
            .get(usize::from(t.provider))
            .map_or(1, key_count);
        cooldowns.route_resting(t.provider, n_keys, now).is_none()
    });

    let order = plan::order(resolved.strategy, &targets, resolved.tick, &mut || {
        host.random_u32()
    });
    let max_attempts = gateway.max_attempts.max(1);
    let mut attempts: u32 = 0;
    let mut notes: Vec<String> = Vec::new();
    let mut last: Option<Failure> = None;
    let mut not_compiled: Option<ApiError> = None;
    // Read from the host on the first upstream call, then shared by every scrub of this request.
    let mut secrets: Option<Rc<Secrets>> = None;

    'routes: for target in order.iter().filter_map(|i| targets.get(*i)) {
        let Some(provider) = gateway.providers.get(usize::from(target.provider)) else {
            continue;
        };
        if !kinds::compiled(provider.kind) {
            not_compiled = Some(kinds::not_compiled(provider));
            continue;
        }
        let needs_key = kinds::needs_key(provider.kind);
        let n_keys = key_count(provider);
        if n_keys == 0 {
            notes.push(format!("{}: no api_keys configured", provider.id));
            continue;
        }
        let tick = if n_keys > 1 {
            rt.next_key_tick(target.provider)
        } else {
            0
        };
        let outbound = match x.encode(provider, target) {
            Ok(o) => o,
            Err(e) => {
                not_compiled = Some(e);
                continue;
            }
        };
        for k in plan::keys(n_keys, tick) {
            if attempts >= max_attempts {
                break 'routes;
            }
            let started = now;
            if !cooldowns.key_ready(target.provider, k, started) {
                continue;
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
                endpoint: outbound.endpoint,
                model: target.model,
                key: key.as_deref(),
                body: outbound.body.clone(),
                stream: outbound.stream,
                headers: &outbound.headers,
            };
            let prepared = match kinds::prepare(call) {
                Ok(p) => p,
                Err(e) => {
                    not_compiled = Some(e);
                    continue 'routes;
                }
            };
            attempts += 1;
            log.attempts = attempts;
            log.provider = Some(provider.id);
            log.key = needs_key.then_some(k);
            let result = match prepared {
                Prepared::Local(resp) => Ok(resp),
                Prepared::Fetch(req) => {
                    let secrets = secrets.get_or_insert_with(|| secrets_of(rt, host));
                    self::call(host, req, provider.timeout_ms, secrets).await
                }
            };
            let answered = host.now_ms();
            now = answered;
            log.upstream_ms += answered.saturating_sub(started);
            match result {
                Ok(mut resp) if resp.status < 400 => {
                    let mut streamed = false;
                    if x.stream() {
                        resp.body = std::mem::replace(&mut resp.body, Body::Empty).opened();
                        if let Body::Stream(mut upstream) = resp.body {
                            let spent = answered.saturating_sub(started);
                            let left = u64::from(provider.timeout_ms).saturating_sub(spent);
                            let first = streams::first_chunk(host, &mut upstream, left).await;
                            now = host.now_ms();
                            log.upstream_ms += now.saturating_sub(answered);
                            match first {
                                First::Chunk(chunk) => {
                                    let checked = Checked::new(
                                        chunk,
                                        upstream,
                                        // A Responses stream ends with an event, not a marker.
                                        if outbound.endpoint == Endpoint::Responses {
                                            None
                                        } else {
                                            stream_end_marker(provider.kind)
                                        },
                                    );
                                    let client = x.stream_body(provider, Box::pin(checked));
                                    // Keepalives while it is quiet; an error (→ the final
                                    // error event below) once the upstream fell silent.
                                    let client = crate::keepalive::wrap(
                                        client,
                                        rt.keepalive,
                                        host.timers(),
                                        x.endpoint(),
                                    );
                                    resp.body = Body::Stream(Box::pin(Terminated::new(
                                        client,
                                        provider.id,
                                        stream_error_event(x.endpoint()),
                                    )));
                                    streamed = true;
                                }
                                First::Timeout => {
                                    notes.push(format!(
                                        "{}: no stream event within {} ms",
                                        provider.id, provider.timeout_ms
                                    ));
                                    cooldowns.failed(target.provider, now, None);
                                    last = Some(Failure::Timeout);
                                    continue 'routes;
                                }
                                First::Broken => {
                                    notes.push(format!(
                                        "{}: the stream ended before its first event",
                                        provider.id
                                    ));
                                    cooldowns.failed(target.provider, now, None);
                                    last = Some(Failure::Connect);
                                    continue 'routes;
                                }
                            }
                        }
                    }
                    cooldowns.succeeded(target.provider);
                    if !streamed {
                        resp = x.respond(provider, resp).await;
                    }
                    return pass_through(resp, provider, attempts);
                }
                Ok(resp) if !plan::retryable_status(resp.status) => {
                    // The upstream is up and judged the request: its verdict goes back as is.
                    cooldowns.succeeded(target.provider);
                    return upstream_error(host, resp, provider, attempts).await;
                }
                Ok(resp) => {
                    notes.push(format!("{}: HTTP {}", provider.id, resp.status));
                    let asked = retry_after::delay_ms(&resp.headers, answered);
                    let next = plan::after_status(resp.status);
                    match next {
                        Next::Key => {
                            cooldowns.rate_limited(target.provider, k, answered, asked);
                        }
                        Next::Route => cooldowns.failed(target.provider, answered, asked),
                    }
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
                    cooldowns.failed(target.provider, answered, None);
                    last = Some(Failure::Timeout);
                    continue 'routes;
                }
                Err(FetchError::Connect(why)) => {
                    let secrets = secrets.get_or_insert_with(|| secrets_of(rt, host));
                    let why = scrub::clean_text(&why, secrets);
                    notes.push(format!("{}: connection failed ({why})", provider.id));
                    cooldowns.failed(target.provider, answered, None);
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
                x.model(),
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

/// The answer when every route rests: 429 when they are all rate limited, else 503; either
/// way with `Retry-After` (whole seconds, rounded up) of the earliest recovery.
fn resting_answer(model: &str, rest: Resting, now: u64) -> HttpResponse {
    let secs = rest.until_ms.saturating_sub(now).div_ceil(1000).max(1);
    let mut e = match rest.why {
        Rest::RateLimited => ApiError::new(
            429,
            "rate_limit_error",
            Some("rate_limit_exceeded"),
            format!(
                "Every upstream key for model `{}` is rate limited; the first one is available \
                 again in {secs} s. Retry after that.",
                model
            ),
        ),
        Rest::Failing => ApiError::new(
            503,
            "api_error",
            Some("upstreams_unavailable"),
            format!(
                "Every upstream route for model `{}` failed recently and is resting; the first \
                 one is tried again in {secs} s. Retry after that.",
                model
            ),
        ),
    };
    e.headers.push(("retry-after".to_owned(), secs.to_string()));
    e.headers
        .push(("x-apex-attempts".to_owned(), "0".to_owned()));
    e.into_response()
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

/// Every key value the gateway can send anywhere: all providers' keys and the gateway's own.
pub(crate) fn secrets_of<H: Host>(rt: &Runtime, host: &H) -> Rc<Secrets> {
    Rc::new(Secrets::new(
        rt.gateway
            .providers
            .iter()
            .flat_map(|p| p.api_keys.iter())
            .chain(rt.gateway.auth_keys.iter())
            .filter_map(|n| host.secret(n)),
    ))
}

/// One upstream call, for every path that makes one (attempts, native follow-ups): the
/// request as [`kinds`] built it, the answer through the scrub stage before anyone reads it.
pub(crate) async fn call<H: Host>(
    host: &H,
    req: crate::host::HttpRequest,
    timeout_ms: u32,
    secrets: &Rc<Secrets>,
) -> Result<HttpResponse, FetchError> {
    let resp = host.fetch(req, timeout_ms).await?;
    Ok(scrub::stage(resp, secrets).await)
}

/// An upstream error answer: same status, headers and body (already scrubbed, see [`call`]).
async fn upstream_error<H: Host>(
    host: &H,
    resp: HttpResponse,
    provider: &Provider,
    attempts: u32,
) -> HttpResponse {
    // An error body that trickles in must not hold the client: bounded like the headers were.
    let raw = {
        let read = std::pin::pin!(read_capped(resp.body, MAX_ERROR_BODY));
        let timer = std::pin::pin!(host.sleep(u64::from(provider.timeout_ms)));
        match futures_util::future::select(read, timer).await {
            futures_util::future::Either::Left((raw, _)) => raw,
            futures_util::future::Either::Right(((), _)) => Vec::new(),
        }
    };
    let mut headers = forwardable(resp.headers);
    mark(&mut headers, provider, attempts);
    HttpResponse {
        status: resp.status,
        headers,
        body: Body::Bytes(Bytes::from(raw)),
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
    match body.opened() {
        Body::Empty | Body::Platform(_) => Vec::new(),
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
