//! `GET /v1/models` and `GET /v1/models/{id}`: the public model names, OpenAI-shaped.

use crate::errors::ApiError;
use crate::table::{Client, Gateway};
use bytes::Bytes;
use serde::Serialize;

#[derive(Serialize)]
struct ModelObject<'a> {
    id: &'a str,
    object: &'static str,
    /// OpenAI's creation timestamp; models here are config entries, so a fixed 0.
    created: u64,
    owned_by: &'a str,
}

#[derive(Serialize)]
struct List<'a> {
    object: &'static str,
    data: Vec<ModelObject<'a>>,
}

fn object<'a>(gateway: &'a Gateway, id: &'a str) -> ModelObject<'a> {
    ModelObject {
        id,
        object: "model",
        created: 0,
        owned_by: gateway.name,
    }
}

/// The list body. Built once per isolate: the table never changes.
pub fn list_body(gateway: &'static Gateway) -> Bytes {
    list_of(gateway, gateway.concrete_names())
}

/// The list a client with an allowlist gets: the names it may use.
pub fn list_body_for(gateway: &'static Gateway, client: &Client) -> Bytes {
    list_of(
        gateway,
        gateway.concrete_names().filter(|n| client.allows(n)),
    )
}

fn list_of(gateway: &Gateway, names: impl Iterator<Item = &'static str>) -> Bytes {
    let list = List {
        object: "list",
        data: names.map(|n| object(gateway, n)).collect(),
    };
    serde_json::to_vec(&list)
        .map(Bytes::from)
        .unwrap_or_default()
}

/// One model (`id` as it is in the path, percent-encoded or not): any name a request could
/// use (an alias, a name a pattern matches, as asked), or the 404 (also for a name outside the
/// calling client's allowlist).
pub fn one_body(
    gateway: &'static Gateway,
    id: &str,
    client: Option<&Client>,
) -> Result<Bytes, ApiError> {
    let id = crate::wire::percent::decode(id);
    let allowed = client.is_none_or(|c| c.allows(&id));
    if !allowed || gateway.model_index(&id).is_none() {
        return Err(ApiError::unknown_model(&id));
    }
    serde_json::to_vec(&object(gateway, &id))
        .map(Bytes::from)
        .map_err(|e| ApiError::server("serialize", e.to_string()))
}
