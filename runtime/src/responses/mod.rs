//! The OpenAI Responses API on any upstream: `POST /v1/responses` (streamed or not),
//! `GET`/`DELETE /v1/responses/{id}`, `GET /v1/responses/{id}/input_items`.
//!
//! Most providers speak only chat completions, and Codex CLI speaks only Responses, so the
//! gateway *bridges*: the Responses request is decoded into the canonical model
//! ([`request`], [`tools`]), sent to each route in its own protocol, and the answer is
//! encoded back as a Responses object or event stream ([`events`]). A provider with
//! `responses: native` instead gets the request untouched on its own `/responses`
//! ([`exchange`]).
//!
//! | module | holds |
//! |---|---|
//! | [`request`] | body → canonical request, echoed fields, input items as stored |
//! | [`tools`] | function / custom / namespace tools ⇄ chat functions; hosted tools left out |
//! | [`events`] | canonical events → Responses SSE and the response object |
//! | [`exchange`] | per-route encoding, answer translation, writing the stored copy |
//! | [`store`] | the KV record, `previous_response_id` history, `input_items` pages |
//!
//! ## Storage and its budget
//!
//! With `store` true (the API's default) and `responses_store` configured, each response is
//! written once to the KV binding `responses_store.kv` (on Workers; an in-memory map under
//! `apexc serve`) for `responses_store.ttl_seconds`. **The Workers free plan allows 1,000 KV
//! writes a day**: one per stored response (and one per delete). Clients that resend their
//! history, such as Codex CLI, send `store: false` and cost nothing. Without `responses_store`
//! the gateway still answers `store: true` requests — it just keeps nothing, and
//! `GET /v1/responses/{id}` says so with a 404. No API key is ever part of a stored entry.

pub mod events;
pub mod exchange;
pub mod request;
pub mod store;
pub mod tools;

use crate::errors::ApiError;
use crate::host::{Body, Host, HttpRequest, HttpResponse, Kv};
use crate::openai::{Endpoint, Routing};
use crate::router::log::RequestLog;
use crate::router::{forward, scrub, Runtime};
use crate::table::{Kind, Provider};
use bytes::Bytes;
use exchange::{ResponsesExchange, Saving};
use serde_json::{json, Value};
use std::borrow::Cow;
use std::rc::Rc;

/// What a `/v1/responses...` path asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Path<'a> {
    Create,
    One(&'a str),
    InputItems(&'a str),
}

impl<'a> Path<'a> {
    /// The Responses path at `path` and the methods it allows.
    pub fn of(path: &'a str) -> Option<(Path<'a>, &'static str)> {
        if path == "/v1/responses" {
            return Some((Path::Create, "POST, OPTIONS"));
        }
        let rest = path.strip_prefix("/v1/responses/")?;
        match rest.split_once('/') {
            None if !rest.is_empty() => Some((Path::One(rest), "GET, DELETE, OPTIONS")),
            Some((id, "input_items")) if !id.is_empty() => {
                Some((Path::InputItems(id), "GET, OPTIONS"))
            }
            _ => None,
        }
    }

    pub fn allows(self, method: &str) -> bool {
        match self {
            Path::Create => method == "POST",
            Path::One(_) => method == "GET" || method == "DELETE",
            Path::InputItems(_) => method == "GET",
        }
    }
}

/// Whether `provider` serves `/responses` itself (`responses: native`).
/// Only `openai` upstreams: Azure's Responses API is per resource, not per deployment, and
/// its URL does not follow from a deployment `base_url`.
pub fn native(provider: &Provider) -> bool {
    provider.native_responses && provider.kind == Kind::OpenAi
}

/// A fresh id with `prefix`: 128 random bits in hex.
fn new_id<H: Host>(host: &H, prefix: &str) -> String {
    let mut s = String::with_capacity(prefix.len() + 33);
    s.push_str(prefix);
    s.push('_');
    for _ in 0..4 {
        s.push_str(&format!("{:08x}", host.random_u32()));
    }
    s
}

/// The configured store: its namespace and TTL. `Err` when no `responses_store` is
/// configured, or its binding is missing on this host.
fn store_of<H: Host>(rt: &Runtime, host: &H) -> Result<(Kv, u64), ApiError> {
    let Some(cfg) = &rt.gateway.responses_store else {
        return Err(ApiError::new(
            404,
            "invalid_request_error",
            Some("not_found"),
            "this gateway keeps no responses: it has no `responses_store` configured (set \
             `responses_store: { kv: BINDING, ttl_seconds: N }` in its config to store them)."
                .to_owned(),
        ));
    };
    match host.kv(cfg.kv) {
        Some(kv) => Ok((kv, cfg.ttl_seconds)),
        None => Err(ApiError::server(
            "store_unavailable",
            format!(
                "the responses store's KV binding `{}` is not bound to this worker (add it to \
                 wrangler.toml's [[kv_namespaces]]).",
                cfg.kv
            ),
        )),
    }
}

fn not_found(id: &str, ttl: u64) -> ApiError {
    ApiError::new(
        404,
        "invalid_request_error",
        Some("not_found"),
        format!(
            "Response with id '{id}' not found. Stored responses expire {ttl} seconds after \
             they are created, and responses created with `store: false` are never kept."
        ),
    )
}

/// `POST /v1/responses`.
pub async fn create<H: Host>(
    rt: &Runtime,
    host: &H,
    req: &HttpRequest,
    log: &mut RequestLog,
) -> Result<HttpResponse, ApiError> {
    let mut parsed = request::parse(&req.body)?;
    let model = parsed.req.model.clone();
    log.model = Some(match rt.gateway.model(&model) {
        Some(m) => Cow::Borrowed(m.name),
        None => Cow::Owned(model.clone()),
    });
    let mut resolved = rt.resolve(&model)?;

    let store = store_of(rt, host);
    let mut context: Vec<Value> = Vec::new();
    if let Some(prev) = &parsed.previous_response_id {
        let (kv, ttl) = store.as_ref().map_err(|_| {
            ApiError::bad_request(
                Some("previous_response_id"),
                "`previous_response_id` needs stored responses, and this gateway has no \
                 `responses_store` configured; send the whole conversation in `input` instead."
                    .to_owned(),
            )
        })?;
        let Some(record) = store::load(kv, prev).await else {
            let mut e = not_found(prev, *ttl);
            e.message = format!("Previous response with id '{prev}' not found.");
            e.param = Some("previous_response_id");
            return Err(e);
        };
        match &record.native {
            // The upstream keeps that conversation: continue on the same provider.
            Some(home) => {
                resolved.targets.retain(|t| {
                    rt.gateway
                        .providers
                        .get(usize::from(t.provider))
                        .is_some_and(|p| p.id == home.provider && native(p))
                });
                if resolved.targets.is_empty() {
                    return Err(ApiError::bad_request(
                        Some("previous_response_id"),
                        format!(
                            "response '{prev}' was served natively by provider `{}`, which \
                             model `{model}` does not route to.",
                            home.provider
                        ),
                    ));
                }
            }
            None => context = record.conversation(),
        }
    }

    let id = new_id(host, "resp");
    let input: Vec<Value> = std::mem::take(&mut parsed.input)
        .into_iter()
        .map(|item| request::normalize(item, |prefix| new_id(host, prefix)))
        .collect();
    {
        let items: Vec<&Value> = context.iter().chain(input.iter()).collect();
        request::to_messages(&mut parsed.req, parsed.instructions.as_ref(), &items)?;
    }
    let head = Rc::new(events::Head {
        id,
        created_at: host.now_ms() / 1000,
        echo_json: std::mem::take(&mut parsed.echo_json),
    });
    let saving = match (&store, parsed.store) {
        (Ok((kv, ttl)), true) => Some(Saving {
            kv: Rc::clone(kv),
            ttl_seconds: *ttl,
            input: Rc::new(input),
            context: Rc::new(context),
        }),
        _ => None,
    };
    let any_native = resolved.targets.iter().any(|t| {
        rt.gateway
            .providers
            .get(usize::from(t.provider))
            .is_some_and(native)
    });
    let routing = if any_native {
        Some(Routing::parse(Endpoint::Responses, &req.body)?)
    } else {
        None
    };
    let x = ResponsesExchange {
        req: parsed.req,
        head,
        tools: Rc::new(parsed.tools),
        saving,
        body: &req.body,
        routing,
        native,
    };
    Ok(forward::forward(rt, host, &x, resolved, log).await)
}

/// `GET`/`DELETE /v1/responses/{id}` and `GET /v1/responses/{id}/input_items`.
pub async fn stored<H: Host>(
    rt: &Runtime,
    host: &H,
    req: &HttpRequest,
    path: Path<'_>,
) -> Result<HttpResponse, ApiError> {
    let (id, items) = match path {
        Path::One(id) => (id, false),
        Path::InputItems(id) => (id, true),
        Path::Create => return Err(ApiError::unknown_path(&req.method, "/v1/responses")),
    };
    let id = crate::router::models::percent_decode(id);
    let query = req.url.split_once('?').map_or("", |(_, q)| q);
    let query = query.split('#').next().unwrap_or_default();
    let (kv, ttl) = store_of(rt, host)?;
    let Some(record) = store::load(&kv, &id).await else {
        return Err(not_found(&id, ttl));
    };
    if let Some(home) = &record.native {
        let resp = native_follow_up(rt, host, &req.method, &id, items, query, home).await?;
        if req.method == "DELETE" && resp.status < 300 {
            let _ = kv.delete(&store::key(&id)).await;
        }
        return Ok(resp);
    }
    if items {
        let page = store::Page::parse(query).map_err(|m| ApiError::bad_request(None, m))?;
        return Ok(json(200, &store::list_page(&record.input, &page)));
    }
    if req.method == "DELETE" {
        kv.delete(&store::key(&id))
            .await
            .map_err(|e| ApiError::server("store_failed", format!("could not delete: {e}")))?;
        return Ok(json(
            200,
            &json!({"id": id, "object": "response", "deleted": true}),
        ));
    }
    Ok(json(200, &record.response))
}

fn json(status: u16, v: &Value) -> HttpResponse {
    HttpResponse {
        status,
        headers: vec![("content-type".to_owned(), "application/json".to_owned())],
        body: Body::Bytes(Bytes::from(v.to_string())),
    }
}

/// A follow-up call for a natively served response, sent to the provider that served it.
async fn native_follow_up<H: Host>(
    rt: &Runtime,
    host: &H,
    method: &str,
    id: &str,
    items: bool,
    query: &str,
    home: &store::NativeHome,
) -> Result<HttpResponse, ApiError> {
    let Some((_, provider)) = rt.gateway.provider(&home.provider) else {
        return Err(ApiError::unavailable(format!(
            "response '{id}' was served by provider `{}`, which this gateway no longer has.",
            home.provider
        )));
    };
    let key = provider
        .api_keys
        .get(home.key_index)
        .or_else(|| provider.api_keys.first())
        .and_then(|name| host.secret(name))
        .ok_or_else(|| {
            ApiError::unavailable(format!("provider `{}` has no usable API key.", provider.id))
        })?;
    let mut url = native_base(provider);
    url.push_str("/responses/");
    url.push_str(&percent_encode(id));
    if items {
        url.push_str("/input_items");
    }
    let mut q: Vec<String> = Vec::new();
    if !query.is_empty() {
        q.push(query.to_owned());
    }
    if provider.kind == Kind::AzureOpenAi {
        if let Some(v) = provider.api_version {
            q.push(format!("api-version={v}"));
        }
    }
    if !q.is_empty() {
        url.push('?');
        url.push_str(&q.join("&"));
    }
    // The same request builder and scrub stage as every attempt: the answer is cleaned of
    // credentials before it is read.
    let out = crate::kinds::follow_up(provider, &key, method, url);
    let secrets = forward::secrets_of(rt, host);
    let resp = forward::call(host, out, provider.timeout_ms, &secrets)
        .await
        .map_err(|e| match e {
            crate::host::FetchError::Timeout => ApiError::gateway_timeout(format!(
                "provider `{}` did not answer within {} ms.",
                provider.id, provider.timeout_ms
            )),
            crate::host::FetchError::Connect(_) => {
                ApiError::bad_gateway(format!("could not reach provider `{}`.", provider.id))
            }
        })?;
    let body = crate::router::exchange::read_all(resp.body)
        .await
        .map_err(|why| ApiError::bad_gateway(scrub::clean_text(&why, &secrets)))?;
    let ctype = resp
        .headers
        .iter()
        .find(|(k, _)| k == "content-type")
        .map_or_else(|| "application/json".to_owned(), |(_, v)| v.clone());
    Ok(HttpResponse {
        status: resp.status,
        headers: vec![
            ("content-type".to_owned(), ctype),
            ("x-apex-provider".to_owned(), provider.id.to_owned()),
        ],
        body: Body::Bytes(body),
    })
}

/// The URL the provider's Responses API lives under: `base_url` for `openai`; the
/// resource's `/openai` root for `azure-openai` (Responses is not per deployment).
fn native_base(provider: &Provider) -> String {
    let base = provider.base_url.trim_end_matches('/');
    match provider.kind {
        Kind::AzureOpenAi => match base.find("/openai/") {
            Some(i) => format!("{}/openai", base.get(..i).unwrap_or(base)),
            None => base.to_owned(),
        },
        _ => base.to_owned(),
    }
}

/// Percent-encodes all but RFC 3986 unreserved characters (an id cannot reshape the URL).
fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
