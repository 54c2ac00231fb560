//! `GET /v1/models` and `GET /v1/models/{id}`: the public model names, OpenAI-shaped.

use crate::errors::ApiError;
use crate::table::Gateway;
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
pub fn list_body(gateway: &Gateway) -> Bytes {
    let list = List {
        object: "list",
        data: gateway
            .models
            .iter()
            .map(|m| object(gateway, m.name))
            .collect(),
    };
    serde_json::to_vec(&list)
        .map(Bytes::from)
        .unwrap_or_default()
}

/// One model, or the OpenAI-shaped 404.
pub fn one_body(gateway: &'static Gateway, id: &str) -> Result<Bytes, ApiError> {
    let model = gateway
        .model(id)
        .ok_or_else(|| ApiError::unknown_model(id))?;
    serde_json::to_vec(&object(gateway, model.name))
        .map(Bytes::from)
        .map_err(|e| ApiError::server("serialize", e.to_string()))
}

/// `%XX`-decodes a path segment (model ids with `/` may arrive as `%2F`). Invalid escapes are
/// kept as written.
pub fn percent_decode(s: &str) -> String {
    if !s.contains('%') {
        return s.to_owned();
    }
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        let hex = |j: usize| bytes.get(j).and_then(|c| char::from(*c).to_digit(16));
        if let (b'%', Some(hi), Some(lo)) = (b, hex(i + 1), hex(i + 2)) {
            out.push((hi * 16 + lo) as u8);
            i += 3;
        } else {
            out.push(b);
            i += 1;
        }
    }
    String::from_utf8(out).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}
