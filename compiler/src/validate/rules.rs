//! Semantic rules: what a config must satisfy beyond its shape.
//!
//! The rules read the raw JSON value (not `Config`), so they run even when the shape is wrong
//! elsewhere and every problem is reported in one go. Each rule that owns a problem claims its
//! path (see [`Context::claim`]) so the schema pass does not report it a second time.

use super::context::Context;
use super::paths::subject;
use super::secrets::{
    how_to_store, is_secret_name, looks_like_api_key, secret_name_like, suggested_name,
};
use super::suggest::{did_you_mean, list};
use crate::diagnostics::Diagnostic;
use crate::load::yaml::Path;
use serde_json::{Map, Value};

/// Whether `fields` has `name`, or a misspelling of it that the schema pass reports as an unknown
/// key with "did you mean" (then "missing `name`" would only repeat that).
fn has_or_misspells(fields: &Map<String, Value>, name: &str) -> bool {
    fields.contains_key(name) || fields.keys().any(|k| did_you_mean(k, [name]).is_some())
}

fn path(parts: &[&str]) -> Path {
    parts.iter().map(|s| s.to_string()).collect()
}

fn child(p: &[String], seg: impl ToString) -> Path {
    let mut out = p.to_vec();
    out.push(seg.to_string());
    out
}

/// The kinds the rules know how to check; anything else is left to the schema's enum check.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    OpenAi,
    Azure,
    Mock,
    Anthropic,
}

fn kind_of(provider: &Value) -> Option<Kind> {
    match provider.get("kind")?.as_str()? {
        "openai" => Some(Kind::OpenAi),
        "azure-openai" => Some(Kind::Azure),
        "mock" => Some(Kind::Mock),
        "anthropic" => Some(Kind::Anthropic),
        _ => None,
    }
}

pub fn check(value: &Value, cx: &mut Context) {
    let Some(root) = value.as_object() else {
        cx.push(Diagnostic::error(
            cx.value_span(&[]),
            format!(
                "expected a mapping at the top level (name: ..., providers: ..., models: ...), got {}",
                describe_type(value)
            ),
        ));
        cx.claim(&[]);
        return;
    };
    let providers = check_providers(root, cx);
    check_auth(root, &providers, cx);
    check_models(root, &providers, cx);
    super::model_names::check(root, cx);
    super::clients::check(root, cx);
    check_deploy(root, cx);
}

/// Every id in `deploy.kv_namespaces` belongs to a KV binding the config uses: an id for a
/// binding nothing reads is most likely a typo of the one that is.
fn check_deploy(root: &Map<String, Value>, cx: &mut Context) {
    let Some(Value::Object(kv)) = root.get("deploy").and_then(|d| d.get("kv_namespaces")) else {
        return;
    };
    let used: Vec<&str> = root
        .get("responses_store")
        .and_then(|s| s.get("kv"))
        .and_then(Value::as_str)
        .into_iter()
        .collect();
    for binding in kv.keys().filter(|b| !used.contains(&b.as_str())) {
        let at = path(&["deploy", "kv_namespaces", binding]);
        let help = match did_you_mean(binding, used.iter().copied()) {
            Some(s) => format!("did you mean {s}?"),
            None if used.is_empty() => {
                "nothing in this config uses a KV namespace: remove it".to_string()
            }
            None => format!("the config's KV bindings: {}", used.join(", ")),
        };
        cx.push(
            Diagnostic::error(
                cx.key_span(&at),
                format!("deploy.kv_namespaces: no KV binding named {binding} in this config"),
            )
            .with_help(help),
        );
    }
}

/// Each provider id with its kind (when it is a known one).
struct ProviderInfo {
    id: String,
    kind: Option<Kind>,
}

fn check_providers(root: &Map<String, Value>, cx: &mut Context) -> Vec<ProviderInfo> {
    let Some(providers) = root.get("providers").and_then(Value::as_object) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (id, provider) in providers {
        let p = path(&["providers", id]);
        if id.is_empty() || id.contains('#') || id.contains(char::is_whitespace) {
            cx.push(
                Diagnostic::error(cx.key_span(&p), format!("invalid provider id \"{id}\": it must not be empty or contain \"#\" or spaces"))
                    .with_help("clients pick a provider directly with MODEL#PROVIDER, so the id must be a plain word like `deepseek`"),
            );
        }
        let kind = kind_of(provider);
        out.push(ProviderInfo {
            id: id.clone(),
            kind,
        });
        let Some(fields) = provider.as_object() else {
            continue;
        };
        check_base_url(&p, fields, kind, cx);
        check_provider_keys(&p, id, fields, kind, cx);
        if kind == Some(Kind::Azure) && !has_or_misspells(fields, "api_version") {
            cx.push(
                Diagnostic::error(cx.key_span(&p), format!("provider \"{id}\" (kind azure-openai) has no \"api_version\""))
                    .with_help("Azure OpenAI requires it on every request, e.g. api_version: 2025-01-01-preview"),
            );
        }
        if let Some(headers) = fields.get("headers").and_then(Value::as_object) {
            check_headers(&child(&p, "headers"), id, headers, cx);
        }
        check_timezone(&p, id, fields, cx);
        if fields.get("responses").and_then(Value::as_str) == Some("native")
            && kind.is_some()
            && kind != Some(Kind::OpenAi)
        {
            cx.push(
                Diagnostic::error(cx.value_span(&child(&p, "responses")), format!("provider \"{id}\": `responses: native` needs kind openai"))
                    .with_help("only an openai upstream's own {base_url}/responses can be passed through; leave `responses` out (bridge) for other kinds"),
            );
        }
    }
    out
}

/// `reset.timezone` must be an IANA name apexc's time zone database knows.
fn check_timezone(p: &[String], id: &str, fields: &Map<String, Value>, cx: &mut Context) {
    let at = child(&child(p, "reset"), "timezone");
    let tz = fields.get("reset").and_then(|r| r.get("timezone"));
    let Some(tz) = tz.and_then(Value::as_str) else {
        return;
    };
    if crate::codegen::timezone::known(tz) {
        return;
    }
    let names = crate::codegen::timezone::names();
    let help = match did_you_mean(tz, names.iter().map(String::as_str)) {
        Some(near) => format!("did you mean `{near}`?"),
        None => {
            "use an IANA time zone name such as `America/Los_Angeles`, `Europe/Berlin` or `UTC`"
                .to_owned()
        }
    };
    cx.push(
        Diagnostic::error(
            cx.value_span(&at),
            format!("provider \"{id}\": unknown time zone \"{tz}\""),
        )
        .with_help(help),
    );
}

fn check_base_url(p: &[String], fields: &Map<String, Value>, kind: Option<Kind>, cx: &mut Context) {
    let id = &p[1];
    let example = match kind {
        Some(Kind::Azure) => "https://NAME.openai.azure.com/openai/deployments/:model",
        Some(Kind::Anthropic) => "https://api.anthropic.com",
        _ => "https://api.deepseek.com/v1",
    };
    let Some(url) = fields.get("base_url") else {
        if matches!(kind, Some(Kind::OpenAi | Kind::Azure | Kind::Anthropic))
            && !has_or_misspells(fields, "base_url")
        {
            let kind_name = match kind {
                Some(Kind::Azure) => "azure-openai",
                Some(Kind::Anthropic) => "anthropic",
                _ => "openai",
            };
            cx.push(
                Diagnostic::error(
                    cx.key_span(p),
                    format!("provider \"{id}\" (kind {kind_name}) has no \"base_url\""),
                )
                .with_help(format!("add the API's base URL, e.g. base_url: {example}")),
            );
        }
        return;
    };
    let Some(url) = url.as_str() else { return }; // wrong type: the schema pass says so
    let at = child(p, "base_url");
    let problem = url_problem(url).or_else(|| {
        (kind == Some(Kind::Azure) && !url.contains(":model")).then(|| {
            "must contain `:model` where the deployment name goes (kind azure-openai)".to_string()
        })
    });
    if let Some(problem) = problem {
        if url.contains('@') {
            cx.mask(&at);
        }
        let help = match url.split_once("/deployments/") {
            Some((head, _)) if kind == Some(Kind::Azure) && url_problem(url).is_none() => {
                format!("did you mean base_url: {head}/deployments/:model? (each route's `model` is the deployment name)")
            }
            _ => format!("e.g. base_url: {example}"),
        };
        cx.push(
            Diagnostic::error(
                cx.value_span(&at),
                format!("\"base_url\" of provider \"{id}\" {problem}"),
            )
            .with_help(help),
        );
        cx.claim(&at);
    }
}

/// What is wrong with a base URL, if anything.
fn url_problem(url: &str) -> Option<String> {
    if url.contains(char::is_whitespace) {
        return Some("must not contain spaces".into());
    }
    let Some((scheme, rest)) = url.split_once("://") else {
        return Some(format!(
            "must be an http:// or https:// URL (got \"{url}\")"
        ));
    };
    if scheme != "https" && scheme != "http" {
        return Some(format!(
            "must start with https:// or http:// (got \"{scheme}://\")"
        ));
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    if authority.contains('@') {
        return Some("must not contain a user name or password; credentials go in api_keys".into());
    }
    let (host, port) = match authority.find(']') {
        Some(end) if authority.starts_with('[') => {
            (&authority[..=end], authority[end + 1..].strip_prefix(':'))
        }
        _ => match authority.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        },
    };
    if let Some(port) = port {
        if port.parse::<u16>().map_or(true, |p| p == 0) {
            return Some(format!("has an invalid port \"{port}\""));
        }
    }
    if host.is_empty() {
        return Some("has no host name".into());
    }
    let host_ok = host.starts_with('[') && host.ends_with(']')
        || host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.');
    if !host_ok {
        return Some(format!("has an invalid host name \"{host}\""));
    }
    if rest.contains(['?', '#']) {
        return Some("must not have a query string or a fragment (`?`, `#`)".into());
    }
    None
}

fn check_provider_keys(
    p: &[String],
    id: &str,
    fields: &Map<String, Value>,
    kind: Option<Kind>,
    cx: &mut Context,
) {
    let keys = fields.get("api_keys");
    if let Some(keys) = keys {
        check_secret_list(
            &child(p, "api_keys"),
            id,
            keys,
            &format!("the api_keys of provider \"{id}\""),
            cx,
        );
    }
    let empty = match keys {
        None | Some(Value::Null) => true,
        Some(Value::Array(items)) => items.is_empty(),
        _ => false,
    };
    if empty
        && matches!(kind, Some(Kind::OpenAi | Kind::Azure | Kind::Anthropic))
        && (keys.is_some() || !has_or_misspells(fields, "api_keys"))
    {
        let name = suggested_name(id, 0, 1);
        let at = if keys.is_some() {
            child(p, "api_keys")
        } else {
            p.to_vec()
        };
        cx.push(
            Diagnostic::error(
                cx.key_span(&at),
                format!("provider \"{id}\" has no API keys"),
            )
            .with_help(format!(
                "add api_keys: [{{ secret: {name} }}] and {}",
                store_only(&name)
            )),
        );
    }
}

fn store_only(name: &str) -> String {
    format!("store the key with `wrangler secret put {name}` (and {name}=<key> in .dev.vars for apexc serve/dev)")
}

/// A list of secret references (`api_keys`, `auth.keys`): each entry must be `{ secret: NAME }`.
/// `owner` names the provider (or `GATEWAY`) for suggested secret names; `whose` says in words
/// whose list it is.
fn check_secret_list(at: &[String], owner: &str, keys: &Value, whose: &str, cx: &mut Context) {
    match keys {
        Value::String(s) => {
            literal_or_bare_name(at, s, &suggested_name(owner, 0, 1), whose, cx);
            cx.claim(at);
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                let item_at = child(at, i);
                let suggestion = suggested_name(owner, i, items.len());
                match item {
                    Value::String(s) => {
                        literal_or_bare_name(&item_at, s, &suggestion, whose, cx);
                        cx.claim(&item_at);
                    }
                    Value::Object(fields) => {
                        if let Some(Value::String(s)) = fields.get("secret") {
                            check_secret_name(
                                &child(&item_at, "secret"),
                                s,
                                &suggestion,
                                whose,
                                cx,
                            );
                        }
                    }
                    _ => {}
                }
            }
        }
        _ => {}
    }
}

/// A plain string where `{ secret: NAME }` belongs: a pasted key, or a name missing its braces.
fn literal_or_bare_name(at: &[String], s: &str, suggestion: &str, whose: &str, cx: &mut Context) {
    if is_secret_name(s) {
        cx.push(
            Diagnostic::error(
                cx.value_span(at),
                format!("\"{s}\" in {whose} must be written as a secret reference"),
            )
            .with_help(format!("write {{ secret: {s} }}")),
        );
    } else {
        literal_key(at, s, suggestion, whose, cx);
    }
}

fn literal_key(at: &[String], s: &str, suggestion: &str, whose: &str, cx: &mut Context) {
    cx.mask(at);
    cx.push(
        Diagnostic::error(
            cx.value_span(at),
            format!("an API key is written in plain text in {whose} (\"{}\"); keys must never be in the config", crate::diagnostics::mask_secret(s)),
        )
        .with_help(how_to_store(suggestion)),
    );
}

fn check_secret_name(at: &[String], s: &str, suggestion: &str, whose: &str, cx: &mut Context) {
    if is_secret_name(s) {
        return;
    }
    cx.claim(at);
    if looks_like_api_key(s) {
        literal_key(at, s, suggestion, whose, cx);
        return;
    }
    let mut d = Diagnostic::error(
        cx.value_span(at),
        format!("invalid secret name \"{s}\" in {whose}: use upper-case letters, digits and underscores, starting with a letter"),
    );
    if let Some(fixed) = secret_name_like(s) {
        d = d.with_help(format!("did you mean {fixed}?"));
    }
    cx.push(d);
}

/// Header names that carry credentials.
const CREDENTIAL_HEADERS: &[&str] = &[
    "authorization",
    "proxy-authorization",
    "api-key",
    "x-api-key",
    "cookie",
];

fn check_headers(at: &[String], id: &str, headers: &Map<String, Value>, cx: &mut Context) {
    for (name, value) in headers {
        let lower = name.to_ascii_lowercase();
        let credential_name = CREDENTIAL_HEADERS.contains(&lower.as_str())
            || ["key", "token", "secret", "password"]
                .iter()
                .any(|w| lower.contains(w));
        let Some(text) = value.as_str() else { continue };
        if !credential_name && !looks_like_api_key(text) {
            continue;
        }
        let h = child(at, name);
        cx.mask(&h);
        cx.claim(&h);
        let secret = suggested_name(id, 0, 1);
        cx.push(
            Diagnostic::error(
                cx.value_span(&h),
                format!("header \"{name}\" of provider \"{id}\" carries a credential (\"{}\"); credentials must not be in the config", crate::diagnostics::mask_secret(text)),
            )
            .with_help(format!(
                "remove the header and list the key under api_keys: [{{ secret: {secret} }}] (the gateway sends it the way the provider's kind expects); {}",
                store_only(&secret)
            )),
        );
    }
}

fn check_auth(root: &Map<String, Value>, providers: &[ProviderInfo], cx: &mut Context) {
    match root.get("auth") {
        None => {
            // An open gateway in front of paid providers spends the owner's keys for anyone.
            if providers
                .iter()
                .any(|p| matches!(p.kind, Some(Kind::OpenAi | Kind::Azure | Kind::Anthropic)))
            {
                let at = if root.contains_key("name") {
                    path(&["name"])
                } else {
                    Vec::new()
                };
                cx.push(
                    Diagnostic::warning(cx.key_span(&at), "no \"auth\": anyone who finds the gateway's URL can use it, on your provider keys")
                        .with_help(format!("add auth: {{ keys: [{{ secret: GATEWAY_KEY }}] }} and {}", store_only("GATEWAY_KEY"))),
                );
            }
        }
        Some(Value::Object(auth)) => {
            let at = path(&["auth", "keys"]);
            match auth.get("keys") {
                Some(Value::Array(items)) if items.is_empty() => {
                    cx.push(
                        Diagnostic::error(
                            cx.key_span(&at),
                            "\"auth.keys\" is empty: no client could call the gateway",
                        )
                        .with_help(format!(
                            "list at least one key, e.g. keys: [{{ secret: GATEWAY_KEY }}], and {}",
                            store_only("GATEWAY_KEY")
                        )),
                    );
                }
                Some(keys) => check_secret_list(&at, "GATEWAY", keys, "auth.keys", cx),
                None => {}
            }
        }
        Some(_) => {}
    }
}

/// Which providers the routes name, and whether one names none that exists.
struct Uses {
    used: Vec<bool>,
    unknown_seen: bool,
}

fn check_models(root: &Map<String, Value>, providers: &[ProviderInfo], cx: &mut Context) {
    let mut uses = Uses {
        used: vec![false; providers.len()],
        unknown_seen: false,
    };
    if root
        .get("models")
        .and_then(Value::as_object)
        .is_some_and(Map::is_empty)
    {
        cx.push(
            Diagnostic::error(
                cx.key_span(&path(&["models"])),
                "no models: clients would have nothing to call",
            )
            .with_help("add at least one public model name with its routes under `models`"),
        );
        return; // every provider is "unused" then; saying so would add nothing
    }
    if let Some(models) = root.get("models").and_then(Value::as_object) {
        let ids: Vec<&str> = providers.iter().map(|p| p.id.as_str()).collect();
        for (name, model) in models {
            let m = path(&["models", name]);
            check_model_name(name, &m, cx);
            let Some(fields) = model.as_object() else {
                continue;
            };
            let routes_at = child(&m, "routes");
            let routes = fields.get("routes");
            let no_routes = match routes {
                None | Some(Value::Null) => true,
                Some(Value::Array(items)) => items.is_empty(),
                _ => false,
            };
            if no_routes && (routes.is_some() || !has_or_misspells(fields, "routes")) {
                let at = if routes.is_some() {
                    routes_at.clone()
                } else {
                    m.clone()
                };
                cx.push(
                    Diagnostic::error(cx.key_span(&at), format!("model \"{name}\" has no routes"))
                        .with_help("add at least one, e.g. routes: [{ provider: PROVIDER_ID, model: UPSTREAM_MODEL }]"),
                );
                cx.claim(&routes_at);
                continue;
            }
            if no_routes {
                cx.claim(&routes_at); // misspelled: the schema pass names the misspelling
                continue;
            }
            // An unknown strategy is the schema pass's to report; no weight warning on top of it.
            let strategy = fields.get("strategy").map_or(Some("random"), |s| {
                s.as_str()
                    .filter(|s| ["random", "round-robin", "weighted", "priority"].contains(s))
            });
            let Some(routes) = routes.and_then(Value::as_array) else {
                continue;
            };
            for (i, route) in routes.iter().enumerate() {
                let at = child(&routes_at, i);
                let route = RouteAt {
                    model: name,
                    strategy,
                    at: &at,
                    route,
                };
                check_route(&route, providers, &ids, &mut uses, cx);
            }
        }
    }
    // A route naming an unknown provider is likely a misspelling of an "unused" one: one
    // error is enough.
    if uses.unknown_seen {
        return;
    }
    for (p, used) in providers.iter().zip(uses.used) {
        if !used {
            let at = path(&["providers", &p.id]);
            cx.push(Diagnostic::warning(
                cx.key_span(&at),
                format!("provider \"{}\" is not used by any model", p.id),
            ));
        }
    }
}

fn check_model_name(name: &str, m: &[String], cx: &mut Context) {
    if name.contains('#') {
        cx.push(
            Diagnostic::error(cx.key_span(m), format!("invalid model name \"{name}\": a public model name cannot contain \"#\""))
                .with_help("clients write MODEL#PROVIDER to pick a provider directly, so \"#\" separates the two"),
        );
    } else if name.trim().is_empty() || name.trim() != name {
        cx.push(Diagnostic::error(
            cx.key_span(m),
            format!(
                "invalid model name \"{name}\": it must not be empty or start or end with a space"
            ),
        ));
    }
}

/// One route of a model, where it is in the file.
struct RouteAt<'a> {
    model: &'a str,
    /// The model's strategy when it is a known one.
    strategy: Option<&'a str>,
    at: &'a [String],
    route: &'a Value,
}

/// The route's provider exists (and, for Azure, its deployment is one path segment); a
/// weight outside a weighted model is a warning.
fn check_route(
    r: &RouteAt<'_>,
    providers: &[ProviderInfo],
    ids: &[&str],
    uses: &mut Uses,
    cx: &mut Context,
) {
    if let Some(Value::String(provider)) = r.route.get("provider") {
        match ids.iter().position(|id| id == provider) {
            Some(idx) => {
                uses.used[idx] = true;
                if providers[idx].kind == Some(Kind::Azure) {
                    check_deployment(r.at, r.route, cx);
                }
            }
            None => {
                uses.unknown_seen = true;
                unknown_provider(&child(r.at, "provider"), provider, ids, cx)
            }
        }
    }
    let weighted = r
        .route
        .get("weight")
        .and_then(Value::as_u64)
        .is_some_and(|w| w >= 1);
    if let Some(strategy) = r.strategy.filter(|s| weighted && *s != "weighted") {
        let w = child(r.at, "weight");
        cx.push(
            Diagnostic::warning(
                cx.key_span(&w),
                format!(
                    "\"weight\" has no effect: model \"{}\" uses strategy {strategy}",
                    r.model
                ),
            )
            .with_help("set strategy: weighted to share traffic by weight"),
        );
    }
}

/// An azure-openai route's model is the deployment, one segment of the upstream URL path: `.`
/// or `..` would resolve to another path (even percent-encoded), so neither can be one.
fn check_deployment(r: &[String], route: &Value, cx: &mut Context) {
    let Some(model @ ("." | "..")) = route.get("model").and_then(Value::as_str) else {
        return;
    };
    let at = child(r, "model");
    cx.push(
        Diagnostic::error(
            cx.value_span(&at),
            format!(
                "\"{model}\" cannot be an Azure deployment name: it is a relative path segment"
            ),
        )
        .with_help("write the deployment's name as Azure shows it (e.g. gpt-4o-mini)"),
    );
    cx.claim(&at);
}

fn unknown_provider(at: &[String], provider: &str, ids: &[&str], cx: &mut Context) {
    let mut message = format!(
        "unknown provider \"{provider}\" in {}",
        subject(&at[..at.len() - 1])
    );
    if let Some(near) = did_you_mean(provider, ids.iter().copied()) {
        message.push_str(&format!("; did you mean \"{near}\"?"));
    }
    let help = if ids.is_empty() {
        "no providers are defined: add one under `providers`".to_string()
    } else {
        format!("providers defined in this file: {}", list(ids))
    };
    cx.push(Diagnostic::error(cx.value_span(at), message).with_help(help));
    cx.claim(at);
}

/// "a string", "a list", "nothing"... for "expected X, got Y" messages.
pub fn describe_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "nothing (an empty value)",
        Value::Bool(_) => "true/false",
        Value::Number(n) if n.as_f64().is_some_and(|f| n.is_f64() && f.fract() != 0.0) => {
            "a number with a fraction"
        }
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a mapping",
    }
}
