//! Running the attempt plan against upstreams.
//!
//! 1. Routes that are resting ([`cooldown`](crate::attempt::cooldown)) sit out while any other
//!    route can be tried. When all of them rest, a short wait (≤ [`MAX_WAIT_MS`]) is waited
//!    out; a longer one is answered at once: 429 when rate limits are the reason, else 503,
//!    with a `Retry-After` of the earliest recovery.
//! 2. The remaining routes are ordered by the model's strategy ([`plan::order`]); within a
//!    route the provider's keys rotate, rate-limited keys skipped (or the one key the exchange
//!    is bound to, [`Exchange::key`]).
//! 3. Each attempt: success goes to the exchange (passthrough or translation; a stream's head
//!    waits for its first event, see [`streams`]). A 429 rests the key and tries the
//!    provider's next key; a 5xx, 408, timeout or connect error counts against the route and
//!    moves to the next route; any other 4xx goes back at once. At most
//!    `gateway.max_attempts` attempts.
//! 4. Every upstream answer, success or error, passes the scrub stage ([`fetch_scrubbed`], see
//!    [`scrub`]) before anything here reads it: headers, body and stream events are cleaned of
//!    every credential the gateway knows.
//!
//! What the client gets back is built in [`answers`](crate::attempt::answers): every answer
//! carries `x-apex-attempts`, and `x-apex-provider` once a provider answered.

use crate::attempt::answers::{self, Failure};
use crate::attempt::cooldown::{Rest, Resting};
use crate::attempt::engine::Engine;
use crate::attempt::exchange::{Attempt, Exchange, Outbound};
use crate::attempt::plan::{self, Next, Resolved, Target};
use crate::attempt::quotas::{self, Held, Outcome, Pick, Until};
use crate::attempt::retry_after;
use crate::attempt::scrub::{self, Secrets};
use crate::attempt::streams::{self, Checked, First, Terminated};
use crate::errors::ApiError;
use crate::host::{Body, FetchError, Host, HttpResponse};
use crate::log::RequestLog;
use crate::table::Provider;
use crate::upstream::{self, Call, Endpoint, Prepared};
use std::rc::Rc;

/// Longest wait for a resting route before the request is answered with 429/503 instead.
/// Short enough that a client's own timeout never fires first.
pub const MAX_WAIT_MS: u64 = 1000;

/// Runs `x` over the routes `resolved` names; the client's answer.
pub async fn forward<H: Host, X: Exchange>(
    engine: &Engine,
    host: &H,
    x: &X,
    resolved: Resolved<'_>,
    log: &mut RequestLog,
) -> HttpResponse {
    let mut run = Run {
        engine,
        host,
        x,
        // The clock is read once per upstream answer (plus once when the request arrived and
        // once when it leaves): reads cost a syscall or a JS call.
        now: log.started_ms(),
        log,
        attempts: 0,
        notes: Vec::new(),
        last: None,
        refused: None,
        exhausted: None,
        rested: None,
        tap: None,
        secrets: None,
    };
    let targets = match run.routes_up(resolved.targets).await {
        Ok(t) => t,
        Err(resp) => return resp,
    };
    let order = plan::order(resolved.strategy, &targets, resolved.tick, &mut || {
        host.random_u32()
    });
    for target in order.iter().filter_map(|i| targets.get(*i)) {
        match run.route(target).await {
            Step::Answer(resp) => return resp,
            Step::NextRoute => {}
            Step::OutOfAttempts => break,
        }
    }
    run.give_up().await
}

/// One request's walk over its routes.
struct Run<'r, H, X> {
    engine: &'r Engine,
    host: &'r H,
    x: &'r X,
    log: &'r mut RequestLog,
    now: u64,
    attempts: u32,
    /// Why each failed attempt or skipped route failed, for the final error.
    notes: Vec<String>,
    last: Option<Failure>,
    /// The answer when no route could even be tried (a kind not compiled, an exchange that
    /// cannot encode for a route).
    refused: Option<ApiError>,
    /// The soonest moment a route out of quota has room again, when one was.
    exhausted: Option<Until>,
    /// The soonest end of a rest that began while this request waited on its reservation.
    rested: Option<Resting>,
    /// For the attempt in flight, when its reservation counts tokens: what its answer
    /// reports it cost corrects the estimate.
    tap: Option<quotas::Tap>,
    /// Read from the host on the first upstream call, then shared by every scrub of this
    /// request.
    secrets: Option<Rc<Secrets>>,
}

/// What a route (or one attempt on it) leads to.
enum Step {
    Answer(HttpResponse),
    NextRoute,
    OutOfAttempts,
}

/// What one attempt with one key led to.
enum Tried {
    Answer(HttpResponse),
    NextKey,
    NextRoute,
}

impl<H: Host, X: Exchange> Run<'_, H, X> {
    /// The targets that can be tried now, once a short wait for resting ones is over; or the
    /// answer when all of them rest for longer.
    async fn routes_up<'t>(
        &mut self,
        mut targets: Vec<Target<'t>>,
    ) -> Result<Vec<Target<'t>>, HttpResponse> {
        if let Some(rest) = all_resting(self.engine, &targets, self.now) {
            let wait = rest.until_ms.saturating_sub(self.now);
            if wait > MAX_WAIT_MS {
                return Err(answers::resting(self.x.model(), rest, self.now));
            }
            self.host.sleep(wait).await;
            let after = self.host.now_ms();
            self.log.wait_ms = after.saturating_sub(self.now);
            self.now = after;
            if let Some(rest) = all_resting(self.engine, &targets, self.now) {
                return Err(answers::resting(self.x.model(), rest, self.now));
            }
        }
        let (engine, now) = (self.engine, self.now);
        targets.retain(|t| {
            let n_keys = provider_of(engine, t).map_or(1, key_count);
            engine
                .cooldowns
                .route_resting(t.provider, n_keys, now)
                .is_none()
        });
        Ok(targets)
    }

    /// Every attempt `target` gets: its provider's keys in rotation until one answers, the
    /// route fails, or the attempts run out.
    async fn route(&mut self, target: &Target<'_>) -> Step {
        let Some(provider) = provider_of(self.engine, target) else {
            return Step::NextRoute;
        };
        if !upstream::compiled(provider.kind) {
            self.refused = Some(upstream::not_compiled(provider));
            return Step::NextRoute;
        }
        let n_keys = key_count(provider);
        if n_keys == 0 {
            self.notes
                .push(format!("{}: no api_keys configured", provider.id));
            return Step::NextRoute;
        }
        let tick = if n_keys > 1 {
            self.engine.next_key_tick(target.provider)
        } else {
            0
        };
        let outbound = match self.x.encode(provider, target) {
            Ok(o) => o,
            Err(e) => {
                self.refused = Some(e);
                return Step::NextRoute;
            }
        };
        let bound = self.x.key();
        let mut left: Vec<usize> = plan::keys(n_keys, tick)
            .filter(|k| bound.is_none_or(|b| b == *k))
            .collect();
        loop {
            if self.attempts >= self.engine.gateway.max_attempts.max(1) {
                return Step::OutOfAttempts;
            }
            let (k, held) = match self.pick(target, provider, &outbound, &mut left).await {
                Pick::Key(k, held) => (k, held),
                Pick::Exhausted(until) => {
                    self.notes.push(format!("{}: out of quota", provider.id));
                    self.exhausted = quotas::sooner(self.exhausted.take(), until);
                    return Step::NextRoute;
                }
                Pick::Nothing => return Step::NextRoute,
            };
            // Another request may have rested this key or route while the reservation was on
            // its way to a shared store: then it is not sent to, and the reservation goes back.
            if let Some((skip, rest)) = self.went_resting(target, n_keys, k) {
                if let Some(held) = held {
                    let quotas = self.engine.quotas.as_ref();
                    quotas::settle(quotas, held, Outcome::NotSent, self.now, self.log).await;
                }
                let sooner = self.rested.filter(|r| r.until_ms <= rest.until_ms);
                self.rested = Some(sooner.unwrap_or(rest));
                match skip {
                    Tried::NextRoute => return Step::NextRoute,
                    _ => continue,
                }
            }
            match self.attempt(target, provider, &outbound, k, held).await {
                Tried::Answer(resp) => return Step::Answer(resp),
                Tried::NextKey => {}
                Tried::NextRoute => return Step::NextRoute,
            }
        }
    }

    /// `Some` when route `target` or its key `k` began to rest since this request looked
    /// (`NextRoute` for the route, `NextKey` for the key alone), with until when.
    fn went_resting(
        &self,
        target: &Target<'_>,
        n_keys: usize,
        k: usize,
    ) -> Option<(Tried, Resting)> {
        let cooldowns = &self.engine.cooldowns;
        if let Some(rest) = cooldowns.route_resting(target.provider, n_keys, self.now) {
            return Some((Tried::NextRoute, rest));
        }
        let until_ms = cooldowns.key_until(target.provider, k);
        let rest = Resting {
            until_ms,
            why: Rest::RateLimited,
        };
        (until_ms > self.now).then_some((Tried::NextKey, rest))
    }

    /// The key of `left` to try next: not resting, and with room under the declared limits
    /// (the one with the most, reserved) when the route counts.
    async fn pick(
        &mut self,
        target: &Target<'_>,
        provider: &'static Provider,
        outbound: &Outbound,
        left: &mut Vec<usize>,
    ) -> Pick {
        let (cooldowns, now) = (&self.engine.cooldowns, self.now);
        left.retain(|k| cooldowns.key_ready(target.provider, *k, now));
        let quotas = self.engine.quotas.as_ref().filter(|_| self.x.counted());
        // About 4 bytes a token: what a limit on tokens is checked against before the answer
        // says what the request really cost.
        let tokens = outbound.body.len() as u64 / 4;
        quotas::pick(quotas, provider, target, left, tokens, now, self.log).await
    }

    /// One upstream call with key `k`, and what its answer leads to; a reservation it held
    /// is settled by how it went.
    async fn attempt(
        &mut self,
        target: &Target<'_>,
        provider: &'static Provider,
        outbound: &Outbound,
        k: usize,
        held: Option<Held>,
    ) -> Tried {
        let quotas = self.engine.quotas.as_ref();
        self.tap = held.as_ref().and_then(|h| quotas::tap(quotas, h));
        let (tried, outcome) = match self.prepare(target, provider, outbound, k) {
            Ok(prepared) => self.send(target, provider, outbound, k, prepared).await,
            Err(tried) => (tried, Outcome::NotSent),
        };
        self.tap = None;
        if let Some(held) = held {
            let quotas = self.engine.quotas.as_ref();
            quotas::settle(quotas, held, outcome, self.now, self.log).await;
        }
        tried
    }

    /// The upstream request for key `k`, or where to go instead (its secret is not set, the
    /// kind cannot make this call).
    fn prepare(
        &mut self,
        target: &Target<'_>,
        provider: &'static Provider,
        outbound: &Outbound,
        k: usize,
    ) -> Result<Prepared, Tried> {
        let key = if upstream::needs_key(provider.kind) {
            let name = provider.api_keys.get(k).ok_or(Tried::NextKey)?;
            let Some(value) = self.host.secret(name) else {
                self.notes
                    .push(format!("{}: secret {name} is not set", provider.id));
                return Err(Tried::NextKey);
            };
            Some(value)
        } else {
            None
        };
        let call = Call {
            provider,
            endpoint: outbound.endpoint,
            method: outbound.method,
            suffix: &outbound.suffix,
            model: target.model,
            key: key.as_deref(),
            body: outbound.body.clone(),
            stream: outbound.stream,
            headers: &outbound.headers,
        };
        upstream::prepare(call).map_err(|e| {
            self.refused = Some(e);
            Tried::NextRoute
        })
    }

    /// Send `prepared` and read what its answer leads to.
    async fn send(
        &mut self,
        target: &Target<'_>,
        provider: &'static Provider,
        outbound: &Outbound,
        k: usize,
        prepared: Prepared,
    ) -> (Tried, Outcome) {
        let needs_key = upstream::needs_key(provider.kind);
        let started = self.now;
        self.attempts += 1;
        self.log.attempts = self.attempts;
        self.log.provider = Some(provider.id);
        self.log.key = needs_key.then_some(k);
        let result = match prepared {
            Prepared::Local(resp) => Ok(resp),
            Prepared::Fetch(req) => {
                let secrets = self.secrets();
                fetch_scrubbed(self.host, req, provider.timeout_ms, &secrets).await
            }
        };
        self.now = self.host.now_ms();
        self.log.upstream_ms += self.now.saturating_sub(started);
        let at = Attempt {
            provider,
            key: needs_key.then_some(k),
        };
        match result {
            Ok(resp) if resp.status < 400 => {
                let outcome = self.spent(target, k, &resp);
                let tried = self.succeeded(target, outbound, at, started, resp).await;
                (tried, outcome)
            }
            Ok(resp) if !plan::retryable_status(resp.status) => {
                // The upstream is up and judged the request: its verdict goes back as is.
                self.engine.cooldowns.succeeded(target.provider);
                let resp = answers::upstream_error(self.host, resp, provider, self.attempts).await;
                (Tried::Answer(resp), Outcome::Answered)
            }
            Ok(resp) => self.retryable(target, provider, k, resp),
            Err(e) => {
                // A connection that never opened cannot have been counted upstream.
                let outcome = match e {
                    FetchError::Connect(_) => Outcome::NotSent,
                    FetchError::Timeout => Outcome::Answered,
                };
                self.unreachable(target, provider, e);
                (Tried::NextRoute, outcome)
            }
        }
    }

    /// A success whose headers say the key has nothing left: it rests until the upstream's
    /// reset, declared limits or not.
    fn spent(&self, target: &Target<'_>, k: usize, resp: &HttpResponse) -> Outcome {
        match retry_after::spent_ms(&resp.headers) {
            Some(ms) => {
                let cooldowns = &self.engine.cooldowns;
                cooldowns.spent(target.provider, k, self.now, ms);
                Outcome::Spent { ms }
            }
            None => Outcome::Answered,
        }
    }

    /// A success: streamed (once its first event is in) or handed to the exchange whole.
    async fn succeeded(
        &mut self,
        target: &Target<'_>,
        outbound: &Outbound,
        at: Attempt,
        started: u64,
        mut resp: HttpResponse,
    ) -> Tried {
        let provider = at.provider;
        if self.x.stream() {
            match std::mem::replace(&mut resp.body, Body::Empty).opened() {
                Body::Stream(upstream) => {
                    match self.supervise(outbound, at, started, upstream).await {
                        Ok(client) => resp.body = Body::Stream(client),
                        Err((failure, why)) => {
                            self.notes.push(format!("{}: {why}", provider.id));
                            self.engine
                                .cooldowns
                                .failed(target.provider, self.now, None);
                            self.last = Some(failure);
                            return Tried::NextRoute;
                        }
                    }
                    self.engine.cooldowns.succeeded(target.provider);
                    return Tried::Answer(answers::pass_through(resp, provider, self.attempts));
                }
                // Asked for a stream, answered in one piece: the exchange replays it.
                whole => resp.body = whole,
            }
        }
        self.engine.cooldowns.succeeded(target.provider);
        if let Some(tap) = self.tap.take() {
            resp.body = quotas::metered_body(std::mem::replace(&mut resp.body, Body::Empty), tap);
        }
        let resp = self.x.respond(at, resp).await;
        Tried::Answer(answers::pass_through(resp, provider, self.attempts))
    }

    /// A successful upstream stream, once its first event arrived: checked for a proper end,
    /// translated by the exchange, kept alive while quiet, ended with the client protocol's
    /// error event if the upstream fails half-way. `Err` says how and why it never started.
    async fn supervise(
        &mut self,
        outbound: &Outbound,
        at: Attempt,
        started: u64,
        mut upstream: crate::host::ByteStream,
    ) -> Result<crate::host::ByteStream, (Failure, String)> {
        let provider = at.provider;
        let answered = self.now;
        let spent = answered.saturating_sub(started);
        let left = u64::from(provider.timeout_ms).saturating_sub(spent);
        let first = streams::first_chunk(self.host, &mut upstream, left).await;
        self.now = self.host.now_ms();
        self.log.upstream_ms += self.now.saturating_sub(answered);
        let chunk = match first {
            First::Chunk(chunk) => chunk,
            First::Timeout => {
                let why = format!("no stream event within {} ms", provider.timeout_ms);
                return Err((Failure::Timeout, why));
            }
            First::Broken => {
                let why = "the stream ended before its first event".to_owned();
                return Err((Failure::Connect, why));
            }
        };
        // A Responses stream ends with an event, not a marker.
        let marker = if outbound.endpoint == Endpoint::Responses {
            None
        } else {
            upstream::codec::stream_end_marker(provider.kind)
        };
        let mut checked: crate::host::ByteStream = Box::pin(Checked::new(chunk, upstream, marker));
        if let Some(tap) = self.tap.take() {
            checked = quotas::metered_stream(checked, tap);
        }
        let client = self.x.stream_body(at, checked);
        let protocol = self.x.protocol();
        // Keepalives while it is quiet; an error (→ the final error event) once the upstream
        // fell silent.
        let client = crate::attempt::keepalive::wrap(
            client,
            self.engine.keepalive,
            self.host.timers(),
            protocol.keepalive(),
        );
        Ok(Box::pin(Terminated::new(client, provider.id, protocol)))
    }

    /// A 429 or 5xx: rest the key (429: the upstream did not count the request) or count
    /// against the route, and move on.
    fn retryable(
        &mut self,
        target: &Target<'_>,
        provider: &'static Provider,
        k: usize,
        resp: HttpResponse,
    ) -> (Tried, Outcome) {
        self.notes
            .push(format!("{}: HTTP {}", provider.id, resp.status));
        let asked = retry_after::delay_ms(&resp.headers, self.now);
        let next = plan::after_status(resp.status);
        let cooldowns = &self.engine.cooldowns;
        self.last = Some(Failure::Status(resp, provider));
        match next {
            Next::Key => {
                let rest_ms = cooldowns.rate_limited(target.provider, k, self.now, asked);
                (Tried::NextKey, Outcome::Refused { rest_ms })
            }
            Next::Route => {
                cooldowns.failed(target.provider, self.now, asked);
                (Tried::NextRoute, Outcome::Answered)
            }
        }
    }

    /// No answer at all: a timeout or a connection that failed.
    fn unreachable(&mut self, target: &Target<'_>, provider: &'static Provider, e: FetchError) {
        let note = match e {
            FetchError::Timeout => {
                self.last = Some(Failure::Timeout);
                format!("no response within {} ms", provider.timeout_ms)
            }
            FetchError::Connect(why) => {
                self.last = Some(Failure::Connect);
                let why = scrub::clean_text(&why, &self.secrets());
                format!("connection failed ({why})")
            }
        };
        self.notes.push(format!("{}: {note}", provider.id));
        self.engine
            .cooldowns
            .failed(target.provider, self.now, None);
    }

    /// The answer once every route failed or none could be tried.
    async fn give_up(self) -> HttpResponse {
        let failed = answers::Failed {
            model: self.x.model(),
            attempts: self.attempts,
            notes: &self.notes,
        };
        match (self.last, self.exhausted) {
            (Some(last), _) => answers::failed(self.host, last, &failed).await,
            (None, Some(until)) => answers::out_of_quota(&failed, quotas::moment(until), self.now),
            (None, None) => match self.rested {
                Some(rest) => answers::resting(self.x.model(), rest, self.now),
                None => answers::not_tried(self.refused, &failed),
            },
        }
    }

    fn secrets(&mut self) -> Rc<Secrets> {
        let (engine, host) = (self.engine, self.host);
        Rc::clone(self.secrets.get_or_insert_with(|| secrets_of(engine, host)))
    }
}

fn provider_of(engine: &Engine, t: &Target<'_>) -> Option<&'static Provider> {
    engine.gateway.providers.get(usize::from(t.provider))
}

/// How many keys an attempt on `provider` can choose from (1 for keyless kinds).
fn key_count(provider: &Provider) -> usize {
    if upstream::needs_key(provider.kind) {
        provider.api_keys.len()
    } else {
        1
    }
}

/// `Some` when no target can be tried at `now`: the earliest recovery, and whether rate limits
/// are the only reason (→ 429) or not (→ 503).
fn all_resting(engine: &Engine, targets: &[Target<'_>], now: u64) -> Option<Resting> {
    let mut earliest: Option<Resting> = None;
    for t in targets {
        let n_keys = provider_of(engine, t).map_or(1, key_count);
        let rest = engine.cooldowns.route_resting(t.provider, n_keys, now)?;
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

/// Every key value the gateway can send anywhere: all providers' keys, the gateway's own and
/// its clients'.
pub(crate) fn secrets_of<H: Host>(engine: &Engine, host: &H) -> Rc<Secrets> {
    Rc::new(Secrets::new(
        engine
            .gateway
            .providers
            .iter()
            .flat_map(|p| p.api_keys.iter())
            .chain(engine.gateway.auth_keys.iter())
            .chain(engine.gateway.clients.iter().map(|c| &c.secret))
            .filter_map(|n| host.secret(n)),
    ))
}

/// One upstream call: the request as [`upstream`] built it, the answer through the scrub stage
/// before anyone reads it.
async fn fetch_scrubbed<H: Host>(
    host: &H,
    req: crate::host::HttpRequest,
    timeout_ms: u32,
    secrets: &Rc<Secrets>,
) -> Result<HttpResponse, FetchError> {
    let resp = host.fetch(req, timeout_ms).await?;
    Ok(scrub::stage(resp, secrets).await)
}
