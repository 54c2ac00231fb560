//! The OpenAI Responses API on any upstream: `POST /v1/responses` (streamed or not),
//! `GET`/`DELETE /v1/responses/{id}`, `GET /v1/responses/{id}/input_items`.
//!
//! Most providers speak only chat completions, and Codex CLI speaks only Responses, so the
//! gateway *bridges*: the Responses request is decoded into the canonical model
//! (`wire::responses::request`, `wire::responses::tools`), sent to each route in its own protocol, and the answer is
//! encoded back as a Responses object or event stream (`wire::responses::events`). A provider with
//! `responses: native` instead gets the request untouched on its own `/responses`
//! ([`exchange`]).
//!
//! | module | holds |
//! |---|---|
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

pub mod exchange;
pub mod follow_up;
pub mod store;

use crate::attempt::plan::Resolved;
use crate::errors::ApiError;
use crate::gateway::runtime::Runtime;
use crate::host::{Body, Host, HttpRequest, HttpResponse, Kv};
use crate::log::RequestLog;
use crate::wire::openai::Routing;
use crate::wire::responses::{events, request};
use bytes::Bytes;
use exchange::{ResponsesExchange, Saving};
use serde_json::{json, Value};
use std::rc::Rc;

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

/// `POST /v1/responses`.
pub async fn create<H: Host>(
    rt: &Runtime,
    host: &H,
    req: &HttpRequest,
    log: &mut RequestLog,
) -> Result<HttpResponse, ApiError> {
    let mut parsed = request::parse(&req.body)?;
    let model = parsed.req.model.clone();
    let mut resolved = rt.resolve_logged(&model, log)?;
    let store = store_of(rt, host);
    let (context, key) = match &parsed.previous_response_id {
        Some(prev) => previous(rt, &store, prev, &model, &mut resolved).await?,
        None => (Vec::new(), None),
    };
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
            .is_some_and(crate::upstream::codec::serves_responses)
    });
    let routing = if any_native {
        Some(Routing::parse(&req.body, None)?)
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
        native: crate::upstream::codec::serves_responses,
        key,
    };
    Ok(crate::attempt::forward::forward(&rt.engine, host, &x, resolved, log).await)
}

/// What `previous_response_id` continues from: the stored conversation (bridged), or — for a
/// response an upstream keeps itself (native) — that upstream and the key whose account holds
/// it, with `resolved` narrowed to its routes.
async fn previous(
    rt: &Runtime,
    store: &Result<(Kv, u64), ApiError>,
    prev: &str,
    model: &str,
    resolved: &mut Resolved<'_>,
) -> Result<(Vec<Value>, Option<usize>), ApiError> {
    let (kv, _) = store.as_ref().map_err(|_| {
        ApiError::bad_request(
            Some("previous_response_id"),
            "`previous_response_id` needs stored responses, and this gateway has no \
             `responses_store` configured; send the whole conversation in `input` instead."
                .to_owned(),
        )
    })?;
    let Some(record) = store::load(kv, prev).await else {
        // OpenAI's answer, so SDKs raise the same exception: 400, not 404.
        let mut e = ApiError::bad_request(
            Some("previous_response_id"),
            format!(
                "Previous response with id '{prev}' not found. Responses created with \
                 `store: false` are never kept, and stored ones expire."
            ),
        );
        e.code = Some("previous_response_not_found");
        return Err(e);
    };
    let Some(home) = &record.native else {
        return Ok((record.conversation(), None));
    };
    // The upstream keeps that conversation: continue on the same provider and key.
    resolved.targets.retain(|t| {
        rt.gateway
            .providers
            .get(usize::from(t.provider))
            .is_some_and(|p| p.id == home.provider && crate::upstream::codec::serves_responses(p))
    });
    if resolved.targets.is_empty() {
        return Err(ApiError::bad_request(
            Some("previous_response_id"),
            format!(
                "response '{prev}' was served natively by provider `{}`, which model \
                 `{model}` does not route to.",
                home.provider
            ),
        ));
    }
    Ok((Vec::new(), Some(home.key_index)))
}

/// `GET`/`DELETE /v1/responses/{id}` and (`items`) `GET /v1/responses/{id}/input_items`.
pub async fn stored<H: Host>(
    rt: &Runtime,
    host: &H,
    req: &HttpRequest,
    id: &str,
    items: bool,
    log: &mut RequestLog,
) -> Result<HttpResponse, ApiError> {
    let id = crate::wire::percent::decode(id);
    let query = crate::gateway::paths::query_of(&req.url);
    let (kv, ttl) = store_of(rt, host)?;
    let Some(record) = store::load(&kv, &id).await else {
        return Err(not_found(&id, ttl));
    };
    if let Some(home) = &record.native {
        let call = follow_up::Call {
            method: &req.method,
            id: &id,
            items,
            query,
            home,
        };
        let resp = follow_up::send(rt, host, call, log).await?;
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

fn json(status: u16, v: &Value) -> HttpResponse {
    HttpResponse {
        status,
        headers: vec![("content-type".to_owned(), "application/json".to_owned())],
        body: Body::Bytes(Bytes::from(v.to_string())),
    }
}
