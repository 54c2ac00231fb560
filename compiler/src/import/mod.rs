//! Migration from the seed (Apex AI Proxy): its `wrangler-config.js` → `proxy.yaml` + `.dev.vars`.
//!
//! The seed kept its routing in two JavaScript objects that wrangler received as JSON env vars:
//!
//! ```text
//! providerConfig      = { ID: { base_url, api_keys: [KEY, ...] }, ... }
//! modelProviderConfig = { MODEL: { providers: [ { provider: ID, model, base_url?, api_key? }, ... ] } }
//! serviceApiKey       = 'KEY'                          (the gateway key, vars.SERVICE_API_KEY)
//! ```
//!
//! [`node`] evaluates the file with the machine's `node` and hands back those objects as JSON;
//! [`convert`] turns them into a config:
//! - every literal key becomes a secret name (`DEEPINFRA_KEY_1`); the values go to `.dev.vars`
//!   (never to the YAML, never to the terminal);
//! - a route that overrides `base_url`/`api_key` gets its own provider (`azure-2`), since a
//!   provider here is one endpoint with one pool of keys;
//! - Azure URLs become `kind: azure-openai` with `:model` where the deployment goes (the seed
//!   wrote `https://:name.azure.com/openai/deployments/:model`, or a deployment URL per route).
//!
//! Everything it did is listed in [`Imported::changes`] and [`Imported::todos`], by name only.

pub mod node;

use crate::devvars::DevVars;
use crate::validate::secrets::secret_name_like;
use crate::yaml_write::{flow_scalar, key, scalar};
use serde_json::{Map, Value};
use std::collections::{BTreeSet, HashMap};
use std::fmt::Write as _;

/// The result of a conversion.
#[derive(Debug, Default)]
pub struct Imported {
    /// The proxy.yaml text (without a modeline; see [`with_header`]).
    pub yaml: String,
    /// Secrets to append to `.dev.vars`: (name, value), only those not already there.
    pub new_secrets: Vec<(String, String)>,
    /// Secret names whose value `.dev.vars` already had.
    pub reused_secrets: Vec<String>,
    /// What was converted how, one line each (names, never values).
    pub changes: Vec<String>,
    /// What the user should look at.
    pub todos: Vec<String>,
}

/// The Azure OpenAI `api-version` the seed sent with deployment URLs.
const AZURE_API_VERSION: &str = "2025-01-01-preview";

/// One provider of the output config.
#[derive(Debug, Clone)]
struct Prov {
    id: String,
    kind: &'static str,
    base_url: String,
    api_version: Option<&'static str>,
    /// Key values (identity) and the secret names they got.
    key_values: Vec<String>,
    key_names: Vec<String>,
}

/// A seed endpoint after URL normalisation.
struct Endpoint {
    kind: &'static str,
    base_url: String,
    api_version: Option<&'static str>,
    /// The deployment from an Azure deployment URL, which becomes the route's model.
    deployment: Option<String>,
}

/// Secret names for key values: one name per distinct value, reusing the name `.dev.vars`
/// already has for a value, never reusing a name that holds another value.
struct KeyBook<'a> {
    existing: &'a DevVars,
    by_value: HashMap<String, String>,
    taken: BTreeSet<String>,
    new: Vec<(String, String)>,
    reused: Vec<String>,
}

impl<'a> KeyBook<'a> {
    fn new(existing: &'a DevVars) -> Self {
        let taken = existing.vars.keys().cloned().collect();
        KeyBook {
            existing,
            by_value: HashMap::new(),
            taken,
            new: Vec::new(),
            reused: Vec::new(),
        }
    }

    /// The name for `value`; `base` is the name's stem (`DEEPINFRA_KEY`), `numbered` whether to
    /// count from `_1`.
    fn name_for(&mut self, value: &str, base: &str, numbered: bool) -> String {
        if let Some(n) = self.by_value.get(value) {
            return n.clone();
        }
        let mut existing: Vec<&String> = self
            .existing
            .vars
            .iter()
            .filter(|(_, v)| *v == value)
            .map(|(k, _)| k)
            .collect();
        existing.sort();
        if let Some(n) = existing.first() {
            let n = (*n).clone();
            self.by_value.insert(value.to_string(), n.clone());
            self.reused.push(n.clone());
            return n;
        }
        let name = self.free_name(base, numbered);
        self.by_value.insert(value.to_string(), name.clone());
        self.new.push((name.clone(), value.to_string()));
        name
    }

    /// A name no value has, reserved from now on.
    fn free_name(&mut self, base: &str, numbered: bool) -> String {
        let mut i = 1;
        let name = loop {
            let candidate = if numbered || i > 1 {
                format!("{base}_{i}")
            } else {
                base.to_string()
            };
            if !self.taken.contains(&candidate) {
                break candidate;
            }
            i += 1;
        };
        self.taken.insert(name.clone());
        name
    }
}

/// The seed's objects, as [`node`] returns them.
#[derive(Debug, Default)]
pub struct Seed {
    pub name: Option<String>,
    pub provider_config: Option<Map<String, Value>>,
    pub model_provider_config: Option<Map<String, Value>>,
    pub service_api_key: Option<String>,
    pub kv_binding: Option<String>,
}

impl Seed {
    /// Reads the shim's JSON output.
    pub fn from_json(v: &Value) -> Seed {
        let obj = |k: &str| v.get(k).and_then(Value::as_object).cloned();
        Seed {
            name: v.get("name").and_then(Value::as_str).map(str::to_string),
            provider_config: obj("providerConfig"),
            model_provider_config: obj("modelProviderConfig"),
            service_api_key: v
                .get("serviceApiKey")
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .map(str::to_string),
            kv_binding: v
                .get("kv_namespaces")
                .and_then(Value::as_array)
                .and_then(|a| a.first())
                .and_then(|ns| ns.get("binding"))
                .and_then(Value::as_str)
                .map(str::to_string),
        }
    }
}

/// Converts the seed's objects. `existing` is the `.dev.vars` the secrets will be appended to
/// (names are chosen not to clash with it, and a value it already holds keeps its name).
pub fn convert(seed: &Seed, existing: &DevVars, source_name: &str) -> Result<Imported, String> {
    let models = seed.model_provider_config.as_ref().ok_or_else(|| {
        format!("{source_name} has no modelProviderConfig (looked for an export, a top-level const, and config.vars.MODEL_PROVIDER_CONFIG)")
    })?;
    let declared = seed.provider_config.clone().unwrap_or_default();
    let mut w = Work {
        out: Imported::default(),
        book: KeyBook::new(existing),
        provs: Vec::new(),
        declared: &declared,
    };
    // 1. Providers declared in providerConfig, in file order.
    w.declared_providers();
    // 2. Models and their routes.
    let mut yaml_models = String::new();
    let mut routes_total = 0;
    for (public, m) in models {
        if public.contains('#') || public.trim().is_empty() {
            w.out.todos.push(format!("model \"{public}\": a public name cannot contain \"#\" (clients use MODEL#PROVIDER): skipped"));
            continue;
        }
        let routes = w.routes_of(public, m);
        if routes.is_empty() {
            w.out
                .todos
                .push(format!("model \"{public}\" has no usable routes: skipped"));
            continue;
        }
        routes_total += routes.len();
        let _ = writeln!(yaml_models, "  {}:", key(public));
        let _ = writeln!(yaml_models, "    routes:");
        for (p, m) in &routes {
            let _ = writeln!(
                yaml_models,
                "      - {{ provider: {}, model: {} }}",
                flow_scalar(p),
                flow_scalar(m)
            );
        }
    }
    if routes_total == 0 {
        return Err(format!(
            "{source_name}: no model has a usable route; nothing to convert"
        ));
    }
    // 3. The gateway key.
    let gateway = w.gateway_key(seed);
    // 4. The text.
    let mut y = w.head(seed, gateway.as_deref());
    w.write_providers(&mut y);
    y.push_str(
        "# The seed picked a route uniformly at random; that is the default `strategy: random`.\n",
    );
    y.push_str("# Others: round-robin, weighted (with each route's weight), priority (first healthy route).\n");
    y.push_str("models:\n");
    y.push_str(&yaml_models);
    let mut out = w.out;
    out.yaml = y;
    out.new_secrets = std::mem::take(&mut w.book.new);
    out.reused_secrets = w.book.reused;
    Ok(out)
}

/// What a conversion builds up: the report, the secret names handed out, the providers.
struct Work<'a> {
    out: Imported,
    book: KeyBook<'a>,
    provs: Vec<Prov>,
    declared: &'a Map<String, Value>,
}

impl Work<'_> {
    fn declared_providers(&mut self) {
        for (id, p) in self.declared {
            let Some(base) = p.get("base_url").and_then(Value::as_str) else {
                self.out
                    .todos
                    .push(format!("providerConfig.{id} has no base_url: skipped"));
                continue;
            };
            let keys = key_values(p, &format!("providerConfig.{id}"), &mut self.out.todos);
            let ep = endpoint(id, base, &mut self.out.todos);
            let prov = add_provider(&mut self.provs, &mut self.book, id, ep, keys);
            self.out
                .changes
                .push(describe_provider(&self.provs[prov], "from providerConfig"));
        }
    }

    /// The usable routes of model `public`, as (provider id, upstream model).
    fn routes_of(&mut self, public: &str, m: &Value) -> Vec<(String, String)> {
        let entries = m.get("providers").and_then(Value::as_array);
        let mut routes = Vec::new();
        for (i, e) in entries.into_iter().flatten().enumerate() {
            if let Some(r) = self.route(public, i, e) {
                routes.push(r);
            }
        }
        routes
    }

    /// One route entry: its provider (declared, or one made from the entry's own base_url and
    /// keys), and the model it asks for.
    fn route(&mut self, public: &str, i: usize, e: &Value) -> Option<(String, String)> {
        let at = format!("modelProviderConfig[\"{public}\"].providers[{i}]");
        let todos = &mut self.out.todos;
        let Some(pid) = e.get("provider").and_then(Value::as_str) else {
            todos.push(format!("{at} has no provider: skipped"));
            return None;
        };
        let upstream_model = e
            .get("model")
            .and_then(Value::as_str)
            .unwrap_or(public)
            .to_string();
        let decl = self.declared.get(pid);
        let own_base = e.get("base_url").and_then(Value::as_str);
        let own_keys = e.get("api_key").is_some() || e.get("api_keys").is_some();
        let base =
            own_base.or_else(|| decl.and_then(|d| d.get("base_url")).and_then(Value::as_str));
        let Some(base) = base else {
            todos.push(format!(
                "{at}: provider \"{pid}\" has no base_url here or in providerConfig: skipped"
            ));
            return None;
        };
        let keys = if own_keys {
            key_values(e, &at, todos)
        } else {
            decl.map(|d| key_values(d, &format!("providerConfig.{pid}"), todos))
                .unwrap_or_default()
        };
        let ep = endpoint(pid, base, todos);
        let model = ep.deployment.clone().unwrap_or(upstream_model.clone());
        if ep
            .deployment
            .as_deref()
            .is_some_and(|d| d != upstream_model)
        {
            todos.push(format!(
                "model \"{public}\": the route to {pid} names model \"{upstream_model}\" but its URL names deployment \"{model}\"; the route uses the deployment"
            ));
        }
        let before = self.provs.len();
        let idx = add_provider(&mut self.provs, &mut self.book, pid, ep, keys);
        if self.provs.len() > before {
            let why = if self.declared.contains_key(pid) {
                let mut what = Vec::new();
                if own_base.is_some() {
                    what.push("base_url");
                }
                if own_keys {
                    what.push("api_key");
                }
                format!(
                    "for model \"{public}\", whose route overrides {} of \"{pid}\"",
                    what.join(" and ")
                )
            } else {
                format!("from the routes of model \"{public}\"")
            };
            self.out
                .changes
                .push(describe_provider(&self.provs[idx], &why));
        }
        Some((self.provs[idx].id.clone(), model))
    }

    /// The secret name of the seed's gateway key, if it had one.
    fn gateway_key(&mut self, seed: &Seed) -> Option<String> {
        let gateway = seed
            .service_api_key
            .as_ref()
            .map(|v| self.book.name_for(v, "GATEWAY_KEY", false));
        if let Some(g) = &gateway {
            self.out.changes.push(format!(
                "gateway key (serviceApiKey / SERVICE_API_KEY) -> auth.keys: secret {g}"
            ));
        } else {
            self.out.todos.push("no serviceApiKey: the gateway is open to anyone with its URL; add auth: { keys: [{ secret: GATEWAY_KEY }] }".into());
        }
        gateway
    }

    /// The config's first lines: name, auth, pinning, the responses store.
    fn head(&mut self, seed: &Seed, gateway: Option<&str>) -> String {
        let mut y = String::new();
        let name = worker_name(seed.name.as_deref());
        let _ = writeln!(y, "name: {}", scalar(&name));
        if let Some(g) = gateway {
            let _ = writeln!(y, "# Clients send this key as `Authorization: Bearer <key>` (as with the seed) or `x-api-key`.");
            let _ = writeln!(y, "auth:\n  keys: [{{ secret: {g} }}]");
        }
        // The seed let every client address `model#provider`; keep it, within each model's routes.
        let _ = writeln!(y, "# The seed let clients pick a provider with `model#provider`: `routes` keeps that for each\n# model's own providers (`any` would let every key holder send any model name to any provider).");
        let _ = writeln!(y, "provider_pinning: routes");
        self.out.changes.push(
            "model#provider addressing -> provider_pinning: routes (each model's own providers; `any` is the seed's unrestricted form)".into(),
        );
        if let Some(kv) = &seed.kv_binding {
            let kv_name = if kv.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                && !kv.starts_with(|c: char| c.is_ascii_digit())
            {
                kv.clone()
            } else {
                "RESPONSES_KV".to_string()
            };
            let _ = writeln!(y, "# Stored responses (POST /v1/responses with store: true), as the seed's kv_namespaces did.");
            let _ = writeln!(y, "responses_store: {{ kv: {kv_name} }}");
            self.out.changes.push(format!(
                "kv_namespaces binding {kv} -> responses_store.kv {kv_name}"
            ));
        }
        y
    }

    /// `providers:`, each with its kind, URL and key secrets (a keyless one gets a name to set).
    fn write_providers(&mut self, y: &mut String) {
        y.push_str("# Each provider is one endpoint with its pool of keys (secret names; the keys are in .dev.vars).\n");
        y.push_str("providers:\n");
        for p in &self.provs {
            let _ = writeln!(y, "  {}:", key(&p.id));
            let _ = writeln!(y, "    kind: {}", p.kind);
            let _ = writeln!(y, "    base_url: {}", scalar(&p.base_url));
            if let Some(v) = p.api_version {
                let _ = writeln!(y, "    api_version: {}", scalar(v));
            }
            if p.key_names.is_empty() {
                // A provider without keys does not load; name the secret so the user sees what to set.
                let name = self.book.free_name(&format!("{}_KEY", stem(&p.id)), false);
                self.out.todos.push(format!(
                    "provider {} had no API key in the seed's file: set {name} in .dev.vars",
                    p.id
                ));
                let _ = writeln!(y, "    api_keys: [{{ secret: {name} }}]");
            } else {
                let list: Vec<String> = p
                    .key_names
                    .iter()
                    .map(|n| format!("{{ secret: {n} }}"))
                    .collect();
                let _ = writeln!(y, "    api_keys: [{}]", list.join(", "));
            }
        }
    }
}

/// The header `apexc import` puts above the converted config.
pub fn with_header(
    imported: &Imported,
    schema: &str,
    source: &str,
    dev_vars: &str,
    out_name: &str,
) -> String {
    format!(
        "# yaml-language-server: $schema={schema}\n\
         #\n\
         # Converted by `apexc import` from {source} (Apex AI Proxy). API keys are not in this file:\n\
         # each is a secret name, with its value in {dev_vars} (keep it out of git). Upload them to\n\
         # the Worker with `apexc secrets push {out_name}`.\n{}",
        imported.yaml
    )
}

/// The literal key values of a provider or route entry (`api_keys: [...]` or `api_key`).
fn key_values(v: &Value, at: &str, todos: &mut Vec<String>) -> Vec<String> {
    let mut out = Vec::new();
    let mut push = |k: &Value, where_: String| match k.as_str() {
        Some(s) if !s.trim().is_empty() => {
            if !out.iter().any(|o| o == s) {
                out.push(s.to_string());
            }
        }
        _ => todos.push(format!(
            "{where_} is not a string key (undefined? an env lookup?): skipped"
        )),
    };
    if let Some(Value::Array(keys)) = v.get("api_keys") {
        for (i, k) in keys.iter().enumerate() {
            push(k, format!("{at}.api_keys[{i}]"));
        }
    } else if let Some(k) = v.get("api_keys") {
        push(k, format!("{at}.api_keys"));
    }
    if let Some(k) = v.get("api_key") {
        push(k, format!("{at}.api_key"));
    }
    out
}

/// Finds the provider with this endpoint and these keys, or adds one (id `ID`, else `ID-2`...).
fn add_provider(
    provs: &mut Vec<Prov>,
    book: &mut KeyBook,
    id: &str,
    ep: Endpoint,
    keys: Vec<String>,
) -> usize {
    let same = |p: &Prov| {
        p.kind == ep.kind
            && p.base_url == ep.base_url
            && p.api_version == ep.api_version
            && p.key_values == keys
    };
    if let Some(i) = provs.iter().position(same) {
        return i;
    }
    let base_id = provider_id(id);
    let mut n = 1;
    let final_id = loop {
        let candidate = if n == 1 {
            base_id.clone()
        } else {
            format!("{base_id}-{n}")
        };
        if !provs.iter().any(|p| p.id == candidate) {
            break candidate;
        }
        n += 1;
    };
    let stem = format!("{}_KEY", stem(&final_id));
    let key_names = keys.iter().map(|v| book.name_for(v, &stem, true)).collect();
    provs.push(Prov {
        id: final_id,
        kind: ep.kind,
        base_url: ep.base_url,
        api_version: ep.api_version,
        key_values: keys,
        key_names,
    });
    provs.len() - 1
}

fn describe_provider(p: &Prov, why: &str) -> String {
    let keys = if p.key_names.is_empty() {
        "no keys".to_string()
    } else {
        format!(
            "key{} -> secret{} {}",
            plural(p.key_names.len()),
            plural(p.key_names.len()),
            p.key_names.join(", ")
        )
    };
    format!(
        "provider {} ({}, {}) {why}: {keys}",
        p.id, p.kind, p.base_url
    )
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

/// A provider id the config accepts: no `#`, no whitespace.
fn provider_id(id: &str) -> String {
    let s: String = id
        .trim()
        .chars()
        .map(|c| {
            if c == '#' || c.is_whitespace() {
                '-'
            } else {
                c
            }
        })
        .collect();
    if s.is_empty() {
        "provider".into()
    } else {
        s
    }
}

/// The secret-name stem for a provider id (`azure-2` → `AZURE_2`).
fn stem(id: &str) -> String {
    secret_name_like(id).unwrap_or_else(|| {
        format!(
            "P_{}",
            secret_name_like(&format!("x{id}")).unwrap_or_default()
        )
    })
}

/// A worker name from the seed's `config.name`: lower-case letters, digits and dashes.
fn worker_name(name: Option<&str>) -> String {
    let raw = name.unwrap_or("apex-ai-proxy").to_ascii_lowercase();
    let mut s: String = raw
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    while s.contains("--") {
        s = s.replace("--", "-");
    }
    let s = s.trim_matches('-');
    let s: String = s.chars().take(63).collect();
    let s = s.trim_matches('-').to_string();
    if s.is_empty() {
        "apex-ai-proxy".into()
    } else {
        s
    }
}

/// Normalises a seed base URL for provider `id`: trims `/`, fills the `:name` placeholder, and
/// recognises Azure endpoints.
fn endpoint(id: &str, base: &str, todos: &mut Vec<String>) -> Endpoint {
    let mut url = base.trim().trim_end_matches('/').to_string();
    if url.contains(":name") {
        url = url.replace(":name", "your-resource-name");
        let note = format!("provider {id}: the seed's URL placeholder `:name` became `your-resource-name`: put your Azure resource name there");
        if !todos.contains(&note) {
            todos.push(note);
        }
    }
    let host = url
        .split("://")
        .nth(1)
        .unwrap_or("")
        .split(['/', ':'])
        .next()
        .unwrap_or("")
        .to_ascii_lowercase();
    let azure = id.to_ascii_lowercase().contains("azure")
        || host.ends_with(".azure.com")
        || host.ends_with(".azure-api.net");
    if !azure {
        return Endpoint {
            kind: "openai",
            base_url: url,
            api_version: None,
            deployment: None,
        };
    }
    if url.contains(":model") {
        return Endpoint {
            kind: "azure-openai",
            base_url: url,
            api_version: Some(AZURE_API_VERSION),
            deployment: None,
        };
    }
    if let Some((head, rest)) = url.split_once("/openai/deployments/") {
        let dep = rest.split('/').next().unwrap_or("").to_string();
        return Endpoint {
            kind: "azure-openai",
            base_url: format!("{head}/openai/deployments/:model"),
            api_version: Some(AZURE_API_VERSION),
            deployment: (!dep.is_empty()).then_some(dep),
        };
    }
    if url.ends_with("/models") {
        let note = format!(
            "provider {id}: {url} is an Azure AI model-inference endpoint; it is imported as kind openai (Bearer key, no api-version). If requests fail, use the resource's OpenAI endpoint https://NAME.openai.azure.com/openai/deployments/:model with kind azure-openai"
        );
        todos.push(note);
        return Endpoint {
            kind: "openai",
            base_url: url,
            api_version: None,
            deployment: None,
        };
    }
    // A bare resource URL (`https://NAME.openai.azure.com`): the seed appended the deployment path.
    let path_start = url
        .find("://")
        .map(|i| i + 3)
        .and_then(|i| url[i..].find('/').map(|j| i + j));
    let root = match path_start {
        Some(i) => url[..i].to_string(),
        None => url.clone(),
    };
    Endpoint {
        kind: "azure-openai",
        base_url: format!("{root}/openai/deployments/:model"),
        api_version: Some(AZURE_API_VERSION),
        deployment: None,
    }
}

/// `.dev.vars` lines for new secrets (appended by the caller).
pub fn dev_vars_lines(secrets: &[(String, String)]) -> String {
    let mut s = String::new();
    for (name, value) in secrets {
        let _ = writeln!(s, "{name}={}", dotenv_value(value));
    }
    s
}

/// A value as `.dev.vars` readers (wrangler, [`crate::devvars`]) read it back unchanged.
fn dotenv_value(v: &str) -> String {
    if !v.is_empty()
        && v.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.:/+=@,".contains(c))
    {
        return v.to_string();
    }
    let escaped = v
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n");
    format!("\"{escaped}\"")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn seed(v: Value) -> Seed {
        Seed::from_json(&v)
    }

    #[test]
    fn readme_shape_moves_keys_and_splits_overrides() {
        let s = seed(json!({
            "providerConfig": {
                "aliyuncs": { "base_url": "https://dashscope.aliyuncs.com/compatible-mode/v1", "api_keys": ["zzv-ali-1", "zzv-ali-2"] },
                "azure": { "base_url": "https://:name.azure.com/openai/deployments/:model", "api_keys": ["zzv-az"] }
            },
            "modelProviderConfig": {
                "DeepSeek-R1": { "providers": [
                    { "provider": "aliyuncs", "model": "deepseek-r1" },
                    { "provider": "azure", "base_url": "https://custom.azure.com/openai/deployments/DeepSeek-R1", "api_key": "zzv-az-custom", "model": "DeepSeek-R1" }
                ]},
                "gpt-4o-mini": { "providers": [ { "provider": "azure", "model": "gpt-4o-mini" } ] }
            },
            "serviceApiKey": "zzv-gw"
        }));
        let out = convert(&s, &DevVars::default(), "w.js").unwrap();
        let loaded = crate::load::load_str("p.yaml", &out.yaml)
            .unwrap_or_else(|d| panic!("{d}\n{}", out.yaml));
        let c = &loaded.config;
        assert_eq!(
            c.providers["azure-2"].base_url.as_deref(),
            Some("https://custom.azure.com/openai/deployments/:model")
        );
        assert_eq!(
            c.providers["azure"].base_url.as_deref(),
            Some("https://your-resource-name.azure.com/openai/deployments/:model")
        );
        let names: Vec<&str> = out.new_secrets.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            [
                "ALIYUNCS_KEY_1",
                "ALIYUNCS_KEY_2",
                "AZURE_KEY_1",
                "AZURE_2_KEY_1",
                "GATEWAY_KEY"
            ]
        );
        assert!(!out.yaml.contains("zzv-"), "{}", out.yaml);
        assert!(out
            .changes
            .iter()
            .chain(&out.todos)
            .all(|c| !c.contains("zzv-")));
    }

    #[test]
    fn values_already_in_dev_vars_keep_their_names() {
        let s = seed(json!({
            "modelProviderConfig": { "m": { "providers": [
                { "provider": "deepseek", "base_url": "https://api.deepseek.com/v1", "api_key": "k-ds", "model": "deepseek-chat" }
            ]}}
        }));
        let existing = crate::devvars::parse("MY_DS=k-ds\nDEEPSEEK_KEY_1=other\n");
        let out = convert(&s, &existing, "w.js").unwrap();
        assert!(out.new_secrets.is_empty());
        assert_eq!(out.reused_secrets, ["MY_DS"]);
        assert!(out.yaml.contains("{ secret: MY_DS }"));
        // A name taken by another value is skipped.
        let s2 = seed(json!({
            "modelProviderConfig": { "m": { "providers": [
                { "provider": "deepseek", "base_url": "https://api.deepseek.com/v1", "api_key": "k-new", "model": "deepseek-chat" }
            ]}}
        }));
        let out2 = convert(&s2, &existing, "w.js").unwrap();
        assert_eq!(out2.new_secrets[0].0, "DEEPSEEK_KEY_2");
    }

    #[test]
    fn dev_vars_values_round_trip() {
        let lines = dev_vars_lines(&[
            ("A".into(), "plain-1".into()),
            ("B".into(), "with space \"q\" #x".into()),
        ]);
        let parsed = crate::devvars::parse(&lines);
        assert_eq!(parsed.vars["A"], "plain-1");
        assert_eq!(parsed.vars["B"], "with space \"q\" #x");
    }
}
