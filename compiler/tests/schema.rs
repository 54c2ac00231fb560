//! The JSON Schema of proxy.yaml: committed, complete, and what the loader enforces.
//!
//! When `committed_schema_is_up_to_date` fails after a change to `compiler/src/config.rs`,
//! regenerate the file with
//!
//! ```text
//! cargo run -p apexc -- schema > schemas/apex.schema.json
//! ```

use apexc::schema::{schema_json, schema_value};
use serde_json::Value;
use std::path::Path;
use std::process::Command;

fn committed_path() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../schemas/apex.schema.json")
}

#[test]
fn committed_schema_is_up_to_date() {
    let committed = std::fs::read_to_string(committed_path()).unwrap_or_default();
    assert!(
        committed == schema_json(),
        "schemas/apex.schema.json is stale (the config types changed). Regenerate it with:\n\n    \
         cargo run -p apexc -- schema > schemas/apex.schema.json\n"
    );
}

#[test]
fn apexc_schema_prints_the_committed_schema() {
    let out = Command::new(env!("CARGO_BIN_EXE_apexc"))
        .arg("schema")
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(String::from_utf8(out.stdout).unwrap(), schema_json());
}

#[test]
fn schema_identifies_itself() {
    let s = schema_value();
    assert_eq!(s["$schema"], "https://json-schema.org/draft/2020-12/schema");
    assert!(s["$id"].as_str().is_some_and(|id| !id.is_empty()));
    assert!(s["title"]
        .as_str()
        .is_some_and(|t| t.contains("proxy.yaml")));
    assert!(jsonschema::meta::is_valid(&s), "not a valid 2020-12 schema");
}

/// Calls `f(path, object_schema)` for every schema object in the tree.
fn walk(v: &Value, path: &str, f: &mut dyn FnMut(&str, &serde_json::Map<String, Value>)) {
    match v {
        Value::Object(map) => {
            f(path, map);
            for (k, child) in map {
                walk(child, &format!("{path}/{k}"), f);
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                walk(child, &format!("{path}/{i}"), f);
            }
        }
        _ => {}
    }
}

#[test]
fn every_field_and_type_has_a_description() {
    let s = schema_value();
    let mut missing = Vec::new();
    let mut fields = 0;
    walk(&s, "#", &mut |path, map| {
        if let Some(Value::Object(props)) = map.get("properties") {
            for (name, prop) in props {
                fields += 1;
                if prop
                    .get("description")
                    .and_then(Value::as_str)
                    .is_none_or(str::is_empty)
                {
                    missing.push(format!("{path}/properties/{name}"));
                }
            }
        }
        if let Some(Value::Array(values)) = map.get("enum") {
            let described = map
                .get("enumDescriptions")
                .and_then(Value::as_array)
                .map_or(0, Vec::len);
            if described != values.len() {
                missing.push(format!("{path} (enumDescriptions)"));
            }
        }
    });
    for (name, def) in s["$defs"].as_object().unwrap() {
        if def.get("description").is_none() {
            missing.push(format!("#/$defs/{name}"));
        }
    }
    assert!(fields >= 20, "walked only {fields} fields");
    assert!(
        missing.is_empty(),
        "no description (add a doc comment in config.rs): {missing:?}"
    );
}

#[test]
fn every_object_rejects_unknown_keys() {
    let s = schema_value();
    let mut open = Vec::new();
    walk(&s, "#", &mut |path, map| {
        if map.contains_key("properties")
            && map.get("additionalProperties") != Some(&Value::Bool(false))
        {
            open.push(path.to_string());
        }
    });
    assert!(
        open.is_empty(),
        "objects without additionalProperties: false: {open:?}"
    );
}

#[test]
fn closed_sets_are_enums() {
    let s = schema_value();
    assert_eq!(
        s["$defs"]["ProviderKind"]["enum"],
        serde_json::json!(["openai", "azure-openai", "mock", "anthropic"])
    );
    assert_eq!(
        s["$defs"]["Strategy"]["enum"],
        serde_json::json!(["random", "round-robin", "weighted", "priority"])
    );
}

#[test]
fn optional_fields_do_not_accept_null() {
    // `auth:` with nothing after it is a mistake the schema (and so the editor) must flag.
    let s = schema_value();
    let v = jsonschema::validator_for(&s).unwrap();
    let config = serde_json::json!({
        "name": "gw", "auth": null,
        "providers": { "mock": { "kind": "mock" } },
        "models": { "demo": { "routes": [{ "provider": "mock", "model": "m" }] } }
    });
    assert!(!v.is_valid(&config));
}

#[test]
fn schema_accepts_every_example() {
    let s = schema_value();
    let v = jsonschema::validator_for(&s).unwrap();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples");
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "yaml") {
            continue;
        }
        let loaded = apexc::load::load_path(&path).unwrap_or_else(|d| panic!("{d}"));
        let value = serde_json::to_value(&loaded.config).unwrap();
        let errors: Vec<String> = v.iter_errors(&value).map(|e| e.to_string()).collect();
        assert!(errors.is_empty(), "{}: {errors:?}", path.display());
    }
}
