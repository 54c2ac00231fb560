//! The JSON Schema of `proxy.yaml`, generated from the config types in [`crate::config`].
//!
//! The committed `schemas/apex.schema.json` is exactly [`schema_json`]'s output (a test fails
//! when it is stale). Editors use it for completion and hover; the loader validates every config
//! against it before any semantic check, so the schema and the loader never disagree.
//!
//! schemars' raw output is tidied for editors and for good diagnostics:
//! - `Option<T>` fields lose their `null` alternative (writing `auth:` with nothing after it is a
//!   mistake, not a way to say "no auth"), so a wrong value fails with a plain type error instead
//!   of an opaque `anyOf` failure;
//! - enums whose variants carry doc comments come out of schemars as `oneOf` of `const`s; they
//!   become a plain `enum` (with `enumDescriptions` for hover), which validators and editors
//!   both report better.
//!
//! Then hints for editors (yaml-language-server and VS Code read them; validators ignore them):
//! - `markdownDescription` / `markdownEnumDescriptions`: the doc comments with their hard line
//!   wraps joined, so hover and completion docs read as paragraphs with `code` rendered;
//! - `defaultSnippets` on providers, models, routes and secret references, so completing a new
//!   provider id offers a whole provider block (kind, base_url, api_keys).

use crate::config::Config;
use serde_json::{Map, Value};

/// The schema's `$id`. A URN rather than a URL: the schema is shipped in the repository
/// (`schemas/apex.schema.json`), not served from anywhere.
pub const SCHEMA_ID: &str = "urn:apexc:schema:apex.schema.json";

/// The schema as a JSON value.
pub fn schema_value() -> Value {
    let generator = schemars::generate::SchemaSettings::draft2020_12().into_generator();
    let root = generator.into_root_schema_for::<Config>();
    let mut value = root.to_value();
    tidy(&mut value);
    editor_hints(&mut value);
    if let Value::Object(map) = &mut value {
        // Put the identifying keywords first, in a fixed order.
        let mut out = Map::new();
        out.insert(
            "$schema".into(),
            Value::String("https://json-schema.org/draft/2020-12/schema".into()),
        );
        out.insert("$id".into(), Value::String(SCHEMA_ID.into()));
        for (k, v) in std::mem::take(map) {
            if k != "$schema" && k != "$id" {
                out.insert(k, v);
            }
        }
        *map = out;
    }
    value
}

/// The schema as pretty JSON with a trailing newline: what `apexc schema` prints and what
/// `schemas/apex.schema.json` holds.
pub fn schema_json() -> String {
    let mut s = serde_json::to_string_pretty(&schema_value()).unwrap_or_default();
    s.push('\n');
    s
}

/// Applies the rewrites described in the module docs, everywhere in the tree.
fn tidy(value: &mut Value) {
    match value {
        Value::Object(map) => {
            drop_null_type(map);
            bound_unsigned(map);
            unwrap_nullable_any_of(map);
            const_one_of_to_enum(map);
            for v in map.values_mut() {
                tidy(v);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(tidy),
        _ => {}
    }
}

/// `"type": ["string", "null"]` → `"type": "string"`.
fn drop_null_type(map: &mut Map<String, Value>) {
    if let Some(Value::Array(types)) = map.get_mut("type") {
        types.retain(|t| t != "null");
        if types.len() == 1 {
            let only = types.remove(0);
            map.insert("type".into(), only);
        }
    }
}

/// `"anyOf": [X, {"type": "null"}]` → X's keywords merged into the parent.
fn unwrap_nullable_any_of(map: &mut Map<String, Value>) {
    let Some(Value::Array(alts)) = map.get("anyOf") else {
        return;
    };
    let is_null = |v: &Value| v.get("type").is_some_and(|t| t == "null");
    if alts.len() != 2 || !alts.iter().any(is_null) {
        return;
    }
    let Some(Value::Array(alts)) = map.remove("anyOf") else {
        return;
    };
    for alt in alts {
        if is_null(&alt) {
            continue;
        }
        if let Value::Object(inner) = alt {
            for (k, v) in inner {
                map.entry(k).or_insert(v);
            }
        }
    }
}

/// `"oneOf": [{"const": a, "description": da}, ...]` → `"enum": [a, ...]` plus
/// `"enumDescriptions": [da, ...]`.
fn const_one_of_to_enum(map: &mut Map<String, Value>) {
    let Some(Value::Array(alts)) = map.get("oneOf") else {
        return;
    };
    if alts.is_empty() || !alts.iter().all(|a| a.get("const").is_some()) {
        return;
    }
    let Some(Value::Array(alts)) = map.remove("oneOf") else {
        return;
    };
    let consts: Vec<Value> = alts
        .iter()
        .filter_map(|a| a.get("const").cloned())
        .collect();
    let descriptions: Vec<Value> = alts
        .iter()
        .map(|a| {
            a.get("description")
                .cloned()
                .unwrap_or(Value::String(String::new()))
        })
        .collect();
    if consts.iter().all(Value::is_string) {
        map.insert("type".into(), Value::String("string".into()));
    }
    map.insert("enum".into(), Value::Array(consts));
    map.insert("enumDescriptions".into(), Value::Array(descriptions));
}

/// `"format": "uint32"` without a `maximum` gets one, so a number too large for the config
/// type is a schema error with a line and column, not a late deserialization failure.
fn bound_unsigned(map: &mut Map<String, Value>) {
    let max = match map.get("format").and_then(Value::as_str) {
        Some("uint32") => Value::from(u32::MAX),
        Some("uint64") => Value::from(u64::MAX),
        _ => return,
    };
    map.entry("maximum").or_insert(max);
}

/// Adds the editor-only keywords described in the module docs.
fn editor_hints(value: &mut Value) {
    add_markdown(value);
    let snippets = [
        (
            "Provider",
            serde_json::json!([
                { "label": "openai-compatible provider", "description": "Any OpenAI-compatible API (DeepSeek, Groq, OpenRouter, DashScope...)",
                  "body": { "kind": "openai", "base_url": "https://${1:api.example.com/v1}", "api_keys": [{ "secret": "${2:PROVIDER_KEY}" }] } },
                { "label": "azure-openai provider", "description": "Azure OpenAI: each route's model is a deployment name",
                  "body": { "kind": "azure-openai", "base_url": "https://${1:resource}.openai.azure.com/openai/deployments/:model", "api_version": "${2:2025-01-01-preview}", "api_keys": [{ "secret": "${3:AZURE_KEY}" }] } },
                { "label": "anthropic provider", "description": "Anthropic Messages API",
                  "body": { "kind": "anthropic", "base_url": "https://api.anthropic.com", "api_keys": [{ "secret": "${1:ANTHROPIC_KEY}" }] } },
                { "label": "mock provider", "description": "Built in: no network, no keys", "body": { "kind": "mock" } }
            ]),
        ),
        (
            "Model",
            serde_json::json!([
                { "label": "model with routes", "body": { "routes": [{ "provider": "$1", "model": "$2" }] } }
            ]),
        ),
        (
            "Route",
            serde_json::json!([
                { "label": "route", "body": { "provider": "$1", "model": "$2" } }
            ]),
        ),
        (
            "SecretRef",
            serde_json::json!([
                { "label": "secret reference", "body": { "secret": "${1:NAME_KEY}" } }
            ]),
        ),
        (
            "ApiKey",
            serde_json::json!([
                { "label": "API key", "body": { "secret": "${1:NAME_KEY}" } },
                { "label": "API key with limits", "body": { "secret": "${1:NAME_KEY}", "limits": { "rpd": "^${2:1000}" } } }
            ]),
        ),
    ];
    for (def, list) in snippets {
        if let Some(Value::Object(map)) = value.pointer_mut(&format!("/$defs/{def}")) {
            map.insert("defaultSnippets".into(), list);
        }
    }
}

/// `markdownDescription` beside every `description`, `markdownEnumDescriptions` beside every
/// `enumDescriptions`, with single line breaks (doc-comment wrapping) joined.
fn add_markdown(value: &mut Value) {
    match value {
        Value::Object(map) => {
            if let Some(Value::String(d)) = map.get("description") {
                let md = unwrap_lines(d);
                map.insert("markdownDescription".into(), Value::String(md));
            }
            if let Some(Value::Array(ds)) = map.get("enumDescriptions") {
                let md: Vec<Value> = ds
                    .iter()
                    .map(|d| Value::String(unwrap_lines(d.as_str().unwrap_or(""))))
                    .collect();
                map.insert("markdownEnumDescriptions".into(), Value::Array(md));
            }
            for v in map.values_mut() {
                add_markdown(v);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(add_markdown),
        _ => {}
    }
}

/// Joins lines within a paragraph; blank lines stay paragraph breaks.
fn unwrap_lines(text: &str) -> String {
    text.split("\n\n")
        .map(|para| {
            para.split('\n')
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect::<Vec<_>>()
        .join("\n\n")
}
