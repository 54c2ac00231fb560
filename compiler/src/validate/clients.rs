//! Named clients (`clients:`): each key identifies one caller, and an allowlist names models
//! that exist.

use super::context::Context;
use crate::diagnostics::Diagnostic;
use apex_runtime::table::{glob_matches, is_pattern};
use serde_json::{Map, Value};

pub(super) fn check(root: &Map<String, Value>, cx: &mut Context) {
    let Some(clients) = root.get("clients").and_then(Value::as_object) else {
        return;
    };
    let owners = key_owners(root);
    let models = public_names(root);
    for (name, client) in clients {
        let at = |field: &str| vec!["clients".to_owned(), name.clone(), field.to_owned()];
        if let Some(secret) = client.get("secret").and_then(Value::as_str) {
            let other = owners
                .iter()
                .find(|(s, owner)| s == secret && owner != &format!("client \"{name}\""));
            if let Some((_, owner)) = other {
                cx.push(
                    Diagnostic::error(
                        cx.value_span(&at("secret")),
                        format!(
                            "client \"{name}\" uses the secret {secret}, which {owner} uses too"
                        ),
                    )
                    .with_help(
                        "each key must say who is calling: give the client a secret of its own",
                    ),
                );
                cx.claim(&at("secret"));
            }
        }
        let Some(allowed) = client.get("models").and_then(Value::as_array) else {
            continue;
        };
        for (i, m) in allowed.iter().enumerate() {
            let Some(m) = m.as_str() else { continue };
            let reaches = |n: &String| {
                if is_pattern(m) {
                    glob_matches(m, n)
                } else {
                    n == m
                }
            };
            let routable = models.iter().any(reaches)
                || (!is_pattern(m) && models.iter().any(|n| is_pattern(n) && glob_matches(n, m)));
            if !routable {
                let mut p = at("models");
                p.push(i.to_string());
                cx.push(Diagnostic::warning(
                    cx.value_span(&p),
                    format!("client \"{name}\" may use \"{m}\", but no model, alias or pattern serves that name"),
                ));
            }
        }
    }
}

/// Every secret that is a key, with whose key it is.
fn key_owners(root: &Map<String, Value>) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let secret = |v: &Value| v.get("secret").and_then(Value::as_str).map(str::to_owned);
    for k in root
        .get("auth")
        .and_then(|a| a.get("keys"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        out.extend(secret(k).map(|s| (s, "auth.keys".to_owned())));
    }
    for (id, p) in root
        .get("providers")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
    {
        for k in p
            .get("api_keys")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            out.extend(secret(k).map(|s| (s, format!("provider \"{id}\""))));
        }
    }
    for (name, c) in root
        .get("clients")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
    {
        out.extend(secret(c).map(|s| (s, format!("client \"{name}\""))));
    }
    out
}

/// Model names and aliases, patterns included.
fn public_names(root: &Map<String, Value>) -> Vec<String> {
    let mut out = Vec::new();
    for (name, m) in root
        .get("models")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
    {
        out.push(name.clone());
        let aliases = m
            .get("aliases")
            .and_then(Value::as_array)
            .into_iter()
            .flatten();
        out.extend(aliases.filter_map(Value::as_str).map(str::to_owned));
    }
    out
}
