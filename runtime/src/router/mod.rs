//! The request path shared by every host:
//! CORS preflight → gateway auth → endpoint by path → routing fields of the body → model
//! lookup → attempt plan → upstream calls → response (+ CORS headers on everything).
//!
//! | module | holds |
//! |---|---|
//! | [`auth`] | gateway keys, constant-time comparison |
//! | [`cors`] | preflight answer and the headers on every response |
//! | [`models`] | `GET /v1/models[/{id}]` |
//! | [`plan`] | route order per strategy, key order, what a failure leads to |
//! | [`forward`] | the attempt loop, passthrough and upstream-error shaping |
//! | [`exchange`] | the seam between an inbound protocol and the attempt loop |
//! | [`cooldown`] | which keys (429) and routes (repeated failures) rest, per isolate |
//! | [`retry_after`] | how long an upstream asked us to stay away |
//! | [`streams`] | first-event timeout, mid-stream failures as a final error event |
//! | [`log`] | the one structured log line per request |
//! | [`scrub`] | the stage every upstream answer passes first: credentials out of headers, bodies, events |

pub mod auth;
pub mod cooldown;
pub mod cors;
pub mod exchange;
pub mod forward;
pub mod log;
pub mod models;
pub mod plan;
pub mod retry_after;
pub mod scrub;
pub mod streams;

use crate::errors::{ApiError, MAX_BODY_BYTES};
use crate::host::{Body, Host, HttpRequest, HttpResponse};
use crate::openai::{Endpoint, Routing};
use crate::table::{Gateway, Pinning, Strategy};
use bytes::Bytes;
use forward::Resolved;
use log::RequestLog;
use plan::Target;
use std::borrow::Cow;
use std::sync::atomic::{AtomicU32, Ordering};

/// A gateway plus its per-isolate state (round-robin counters). Create one per process /
/// isolate and reuse it for every request.
pub struct Runtime {
    pub gateway: &'static Gateway,
    /// Round-robin position per model (same index as `gateway.models`).
    model_ticks: Box<[AtomicU32]>,
    /// Key rotation per provider (same index as `gateway.providers`).
    key_ticks: Box<[AtomicU32]>,
    /// `GET /v1/models`, built once.
    models_body: Bytes,
    /// Rate-limited keys and failing routes (see [`cooldown`]).
    pub cooldowns: cooldown::Cooldowns,
    /// Keepalives on quiet streams and when to give up on a silent upstream
    /// ([`crate::keepalive`]); [`Policy::DEFAULT`](crate::keepalive::Policy::DEFAULT) unless a
    /// host or test sets another.
    pub keepalive: crate::keepalive::Policy,
}

/// Where a request goes, by method and path.
enum Route<'a> {
    Upstream(Endpoint),
    ListModels,
    GetModel(&'a str),
    /// `/v1/responses[/{id}[/input_items]]` (see [`crate::responses`]).
    Responses(crate::responses::Path<'a>),
}

impl Runtime {
    pub fn new(gateway: &'static Gateway) -> Self {
        let counters = |n: usize| (0..n).map(|_| AtomicU32::new(0)).collect::<Box<[_]>>();
        Runtime {
            gateway,
            model_ticks: counters(gateway.models.len()),
            key_ticks: counters(gateway.providers.len()),
            models_body: models::list_body(gateway),
            cooldowns: cooldown::Cooldowns::new(gateway, gateway.cooldown),
            keepalive: crate::keepalive::Policy::DEFAULT,
        }
    }

    /// Serve one inbound request. Never panics; every failure becomes an OpenAI-shaped error.
    pub async fn handle<H: Host>(&self, host: &H, req: HttpRequest) -> HttpResponse {
        let mut log = RequestLog::start(host.now_ms(), &req.method, path_of(&req.url));
        let anthropic = is_anthropic_path(&req.url);
        let resp = if req.method == "OPTIONS" {
            cors::preflight(&req)
        } else {
            match self.serve(host, req, &mut log).await {
                Ok(r) => r,
                Err(e) => e.into_response(),
            }
        };
        finish(host, resp, anthropic, log)
    }

    /// The answer to a request that can be refused from its head alone: one that fails gateway
    /// auth. Hosts call this with the request line and headers (body still empty) and read the
    /// body only on `None`, so a client without a key costs no body memory and no read time.
    /// The answer is the one [`Runtime::handle`] would give (same check, shape, CORS headers and
    /// log line); `handle` checks auth again, which costs a few comparisons.
    pub fn refuse_before_body<H: Host>(
        &self,
        host: &H,
        head: &HttpRequest,
    ) -> Option<HttpResponse> {
        if head.method == "OPTIONS" {
            return None; // a preflight carries no key, by design
        }
        let refused = auth::check(self.gateway, host, head).err()?;
        let log = RequestLog::start(host.now_ms(), &head.method, path_of(&head.url));
        Some(finish(
            host,
            refused.into_response(),
            is_anthropic_path(&head.url),
            log,
        ))
    }

    async fn serve<H: Host>(
        &self,
        host: &H,
        req: HttpRequest,
        log: &mut RequestLog,
    ) -> Result<HttpResponse, ApiError> {
        auth::check(self.gateway, host, &req)?;
        let path = path_of(&req.url);
        let route = match (route_of(path), req.method.as_str()) {
            (Some((route, _)), m) if method_matches(&route, m) => route,
            (Some((_, allow)), m) => return Err(ApiError::method_not_allowed(m, path, allow)),
            (None, m) => return Err(ApiError::unknown_path(m, path)),
        };
        match route {
            Route::ListModels => Ok(json_ok(self.models_body.clone())),
            Route::GetModel(id) => {
                models::one_body(self.gateway, &models::percent_decode(id)).map(json_ok)
            }
            Route::Responses(crate::responses::Path::Create) => {
                if req.body.len() > MAX_BODY_BYTES {
                    return Err(ApiError::too_large(req.body.len()));
                }
                crate::responses::create(self, host, &req, log).await
            }
            Route::Responses(p) => crate::responses::stored(self, host, &req, p).await,
            Route::Upstream(endpoint @ (Endpoint::Messages | Endpoint::CountTokens)) => {
                if req.body.len() > MAX_BODY_BYTES {
                    return Err(ApiError::too_large(req.body.len()));
                }
                self.messages(host, endpoint, &req, log).await
            }
            Route::Upstream(endpoint) => {
                if req.body.len() > MAX_BODY_BYTES {
                    return Err(ApiError::too_large(req.body.len()));
                }
                let routing = Routing::parse(endpoint, &req.body)?;
                log.model = Some(match self.gateway.model(&routing.model) {
                    Some(m) => Cow::Borrowed(m.name),
                    None => Cow::Owned(routing.model.to_string()),
                });
                let resolved = self.resolve(&routing.model)?;
                let x = crate::openai::inbound::OpenAiExchange::new(
                    endpoint,
                    &routing,
                    &req.body,
                    host.now_ms(),
                );
                Ok(forward::forward(self, host, &x, resolved, log).await)
            }
        }
    }

    /// `POST /v1/messages` and `/v1/messages/count_tokens` (see [`crate::anthropic`]).
    async fn messages<H: Host>(
        &self,
        host: &H,
        endpoint: Endpoint,
        req: &HttpRequest,
        log: &mut RequestLog,
    ) -> Result<HttpResponse, ApiError> {
        use crate::anthropic::inbound::{count_locally, MessagesExchange};
        use crate::table::Kind;
        let id = format!("msg_{:08x}{:08x}", host.random_u32(), host.random_u32());
        let mut x = MessagesExchange::parse(endpoint, req, id)?;
        let model = exchange::Exchange::model(&x).to_owned();
        log.model = Some(match self.gateway.model(&model) {
            Some(m) => Cow::Borrowed(m.name),
            None => Cow::Owned(model.clone()),
        });
        let resolved = self.resolve(&model)?;
        let providers = || {
            resolved
                .targets
                .iter()
                .filter_map(|t| self.gateway.providers.get(usize::from(t.provider)))
        };
        if endpoint == Endpoint::CountTokens {
            // Anthropic upstreams count for real; otherwise the local estimate.
            let native =
                providers().any(|p| p.kind == Kind::Anthropic && crate::kinds::compiled(p.kind));
            if !native {
                return count_locally(&x);
            }
            let mut resolved = resolved;
            resolved.targets.retain(|t| {
                self.gateway
                    .providers
                    .get(usize::from(t.provider))
                    .is_some_and(|p| p.kind == Kind::Anthropic)
            });
            return Ok(forward::forward(self, host, &x, resolved, log).await);
        }
        x.prepare(providers())?;
        Ok(forward::forward(self, host, &x, resolved, log).await)
    }

    /// The routes for a `model` value: a public model, or `model#provider` as far as the
    /// gateway's [`Pinning`] allows.
    pub(crate) fn resolve<'a>(&self, name: &'a str) -> Result<Resolved<'a>, ApiError> {
        if let Some(i) = self.model_index(name) {
            return self
                .model_routes(i, |_| true)
                .ok_or_else(|| ApiError::unknown_model(name));
        }
        let Some((model_name, provider_id)) = name.rsplit_once('#') else {
            return Err(ApiError::unknown_model(name));
        };
        let gateway = self.gateway;
        if gateway.pinning == Pinning::Off {
            return Err(ApiError::pinning_disabled(name, model_name));
        }
        let Some((p, _)) = gateway.provider(provider_id) else {
            let known: Vec<&str> = gateway.providers.iter().map(|p| p.id).collect();
            return Err(ApiError::unknown_provider(provider_id, &known.join(", ")));
        };
        if model_name.is_empty() {
            return Err(ApiError::unknown_model(name));
        }
        // A public model on that provider: only its routes there.
        let pinned = self
            .model_index(model_name)
            .and_then(|i| self.model_routes(i, |r| r.provider == p));
        match (pinned, gateway.pinning) {
            (Some(resolved), _) => Ok(resolved),
            (None, Pinning::Any) => Ok(Resolved {
                // Any other name goes to the provider as written (the seed's direct addressing).
                targets: vec![Target {
                    provider: p,
                    model: model_name,
                    weight: 1,
                    max_tokens: None,
                }],
                strategy: Strategy::Priority,
                tick: 0,
            }),
            (None, _) => Err(ApiError::pinning_not_routed(model_name, provider_id)),
        }
    }

    /// Model `i`'s routes that `keep` keeps, in its strategy; `None` when none is left.
    fn model_routes(
        &self,
        i: usize,
        keep: impl Fn(&crate::table::Route) -> bool,
    ) -> Option<Resolved<'static>> {
        let model = self.gateway.models.get(i)?;
        let targets: Vec<Target<'static>> = model
            .routes
            .iter()
            .filter(|r| keep(r))
            .map(target_of)
            .collect();
        if targets.is_empty() {
            return None;
        }
        Some(Resolved {
            targets,
            strategy: model.strategy,
            tick: self.model_tick(i, model.strategy),
        })
    }

    fn model_index(&self, name: &str) -> Option<usize> {
        self.gateway
            .models
            .binary_search_by(|m| m.name.cmp(name))
            .ok()
    }

    fn model_tick(&self, i: usize, strategy: Strategy) -> u32 {
        if strategy != Strategy::RoundRobin {
            return 0;
        }
        self.model_ticks
            .get(i)
            .map_or(0, |c| c.fetch_add(1, Ordering::Relaxed))
    }

    pub(crate) fn next_key_tick(&self, provider: u16) -> u32 {
        self.key_ticks
            .get(usize::from(provider))
            .map_or(0, |c| c.fetch_add(1, Ordering::Relaxed))
    }
}

/// Everything on the Anthropic paths answers in Anthropic's error shape.
fn is_anthropic_path(url: &str) -> bool {
    matches!(
        route_of(path_of(url)),
        Some((
            Route::Upstream(Endpoint::Messages | Endpoint::CountTokens),
            _
        ))
    )
}

/// What every answer gets on its way out: the protocol's error shape, CORS headers, the log line.
fn finish<H: Host>(
    host: &H,
    mut resp: HttpResponse,
    anthropic: bool,
    mut log: RequestLog,
) -> HttpResponse {
    if anthropic {
        resp = crate::anthropic::errors::reshape(resp);
    }
    cors::add_headers(&mut resp.headers);
    log.finish(resp.status, host.now_ms());
    host.log(&log);
    resp
}

/// A configured route as the attempt plan sees it.
fn target_of(r: &'static crate::table::Route) -> Target<'static> {
    Target {
        provider: r.provider,
        model: r.model,
        weight: r.weight,
        max_tokens: r.max_tokens,
    }
}

/// The path of an inbound URL: no query or fragment, no trailing slash, no scheme/authority
/// (tolerated when a host passes an absolute URL).
fn path_of(url: &str) -> &str {
    let url = match url.find("://") {
        Some(i) => url
            .get(i + 3..)
            .and_then(|rest| rest.find('/').and_then(|j| rest.get(j..)))
            .unwrap_or("/"),
        None => url,
    };
    let path = url.split(['?', '#']).next().unwrap_or(url);
    if path.len() > 1 {
        path.strip_suffix('/').unwrap_or(path)
    } else {
        path
    }
}

/// The endpoint at `path` and the methods it allows.
fn route_of(path: &str) -> Option<(Route<'_>, &'static str)> {
    match path {
        "/v1/chat/completions" => {
            Some((Route::Upstream(Endpoint::ChatCompletions), "POST, OPTIONS"))
        }
        "/v1/embeddings" => Some((Route::Upstream(Endpoint::Embeddings), "POST, OPTIONS")),
        "/v1/messages" => Some((Route::Upstream(Endpoint::Messages), "POST, OPTIONS")),
        "/v1/messages/count_tokens" => {
            Some((Route::Upstream(Endpoint::CountTokens), "POST, OPTIONS"))
        }
        "/v1/models" => Some((Route::ListModels, "GET, OPTIONS")),
        _ if path.starts_with("/v1/responses") => {
            crate::responses::Path::of(path).map(|(p, allow)| (Route::Responses(p), allow))
        }
        _ => path
            .strip_prefix("/v1/models/")
            .filter(|id| !id.is_empty())
            .map(|id| (Route::GetModel(id), "GET, OPTIONS")),
    }
}

fn method_matches(route: &Route<'_>, method: &str) -> bool {
    match route {
        Route::Upstream(_) => method == "POST",
        Route::ListModels | Route::GetModel(_) => method == "GET",
        Route::Responses(p) => p.allows(method),
    }
}

fn json_ok(body: Bytes) -> HttpResponse {
    HttpResponse {
        status: 200,
        headers: vec![("content-type".to_owned(), "application/json".to_owned())],
        body: Body::Bytes(body),
    }
}

#[cfg(test)]
mod tests {
    use super::path_of;

    #[test]
    fn paths() {
        assert_eq!(path_of("/v1/models/"), "/v1/models");
        assert_eq!(path_of("/v1/models?x=1"), "/v1/models");
        assert_eq!(path_of("http://h:1/v1/models/a/b"), "/v1/models/a/b");
        assert_eq!(path_of("/"), "/");
    }
}
