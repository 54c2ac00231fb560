//! What the attempt engine answers: an upstream's answer on its way to the client, and the
//! engine's own answers when no upstream gave one.

use crate::attempt::cooldown::{Rest, Resting};
use crate::errors::ApiError;
use crate::host::{is_hop_by_hop, Body, Headers, Host, HttpResponse};
use crate::table::Provider;
use bytes::Bytes;
use futures_util::StreamExt;

/// Most bytes of an upstream error body read for scrubbing and forwarding.
const MAX_ERROR_BODY: usize = 1024 * 1024;

/// The last failed attempt, kept for the final answer.
pub enum Failure {
    Status(HttpResponse, &'static Provider),
    Timeout,
    Connect,
}

/// What the final error says of the attempts made.
pub struct Failed<'a> {
    pub model: &'a str,
    pub attempts: u32,
    pub notes: &'a [String],
}

impl Failed<'_> {
    fn summary(&self) -> String {
        format!(
            "{} upstream attempt{} failed: {}.",
            self.attempts,
            if self.attempts == 1 { "" } else { "s" },
            self.notes.join("; ")
        )
    }
}

/// The answer after the last attempt failed: the upstream's own error when it gave one, else
/// 504 (timeout) or 502 (connection) naming every attempt.
pub async fn failed<H: Host>(host: &H, last: Failure, f: &Failed<'_>) -> HttpResponse {
    let e = match last {
        Failure::Status(resp, provider) => {
            return upstream_error(host, resp, provider, f.attempts).await;
        }
        Failure::Timeout => ApiError::gateway_timeout(f.summary()),
        Failure::Connect => ApiError::bad_gateway(f.summary()),
    };
    with_attempts(e.into_response(), f.attempts)
}

/// The answer when no attempt was made: why the routes could not be tried.
pub fn not_tried(refused: Option<ApiError>, f: &Failed<'_>) -> HttpResponse {
    let e = refused.unwrap_or_else(|| {
        ApiError::unavailable(format!(
            "no route could be tried for model `{}`: {}.",
            f.model,
            if f.notes.is_empty() {
                "no routes".to_owned()
            } else {
                f.notes.join("; ")
            }
        ))
    });
    with_attempts(e.into_response(), f.attempts)
}

/// The answer when every route rests: 429 when they are all rate limited, else 503; either
/// way with `Retry-After` (whole seconds, rounded up) of the earliest recovery.
pub fn resting(model: &str, rest: Resting, now: u64) -> HttpResponse {
    let secs = rest.until_ms.saturating_sub(now).div_ceil(1000).max(1);
    let mut e = match rest.why {
        Rest::RateLimited => ApiError::new(
            429,
            "rate_limit_error",
            Some("rate_limit_exceeded"),
            format!(
                "Every upstream key for model `{model}` is rate limited; the first one is \
                 available again in {secs} s. Retry after that."
            ),
        ),
        Rest::Failing => ApiError::new(
            503,
            "api_error",
            Some("upstreams_unavailable"),
            format!(
                "Every upstream route for model `{model}` failed recently and is resting; the \
                 first one is tried again in {secs} s. Retry after that."
            ),
        ),
    };
    e.headers.push(("retry-after".to_owned(), secs.to_string()));
    with_attempts(e.into_response(), 0)
}

/// The answer when every route the request could take is out of its declared quota: 429 with
/// `Retry-After` (whole seconds, rounded up) of the soonest moment one has room again. A
/// daily limit can make that hours: the client learns exactly when.
pub fn out_of_quota(f: &Failed<'_>, until_ms: u64, now: u64) -> HttpResponse {
    let secs = until_ms.saturating_sub(now).div_ceil(1000).max(1);
    let mut e = ApiError::new(
        429,
        "rate_limit_error",
        Some("quota_exhausted"),
        format!(
            "Every upstream route for model `{}` has used its declared quota ({}); the first \
             one has room again in {secs} s. Retry after that.",
            f.model,
            f.notes.join("; ")
        ),
    );
    e.headers.push(("retry-after".to_owned(), secs.to_string()));
    with_attempts(e.into_response(), f.attempts)
}

/// A successful upstream answer, as the exchange made it (minus hop-by-hop headers and
/// cookies).
pub fn pass_through(resp: HttpResponse, provider: &Provider, attempts: u32) -> HttpResponse {
    let mut headers = forwardable(resp.headers);
    mark(&mut headers, provider, attempts);
    HttpResponse {
        status: resp.status,
        headers,
        body: resp.body,
    }
}

/// An upstream error answer: same status, headers and body (already scrubbed), read into
/// memory so the gateway can put it in the client's shape.
pub async fn upstream_error<H: Host>(
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

fn with_attempts(mut resp: HttpResponse, attempts: u32) -> HttpResponse {
    resp.headers
        .push(("x-apex-attempts".to_owned(), attempts.to_string()));
    resp
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
        !(is_hop_by_hop(k)
            || matches!(k, "content-length" | "set-cookie" | "set-cookie2")
            || k.starts_with("access-control-"))
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
