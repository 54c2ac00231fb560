//! `apexc diff`: what a rebuild would change in an existing generated crate.
//!
//! Two views, both plain text that reads well in a CI log:
//! * per file, a unified diff between the file on disk and the newly generated one;
//! * a routing summary — models, routes, providers and gateway settings added, removed or
//!   changed — comparing the `apex-routing.json` a previous `apexc build` left in the crate with
//!   the routing of the new config. It names secrets, never their values (the crate never has
//!   any).

use crate::codegen::routing::{kind_name, strategy_name, ModelRouting, ProviderRouting, Routing};
use crate::codegen::{
    is_vendored, parse_manifest, runtime_id, slash_path, GeneratedCrate, RuntimeId, MANIFEST_FILE,
    ROUTING_FILE,
};
use std::fmt::Write as _;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

/// How one file differs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileChange {
    /// Generated now, not on disk.
    Added { path: PathBuf, new: String },
    /// On disk from a previous build (listed in its manifest), no longer generated.
    Removed { path: PathBuf, old: String },
    /// On disk with other content.
    Modified {
        path: PathBuf,
        old: String,
        new: String,
    },
}

impl FileChange {
    pub fn path(&self) -> &Path {
        match self {
            FileChange::Added { path, .. }
            | FileChange::Removed { path, .. }
            | FileChange::Modified { path, .. } => path,
        }
    }
}

/// Compares a generated crate with the directory `dir`. Files on disk that apexc did not
/// generate (not in the generated set nor in the old manifest) are ignored.
pub fn compare_files(generated: &GeneratedCrate, dir: &Path) -> io::Result<Vec<FileChange>> {
    let mut changes = Vec::new();
    for (rel, new) in &generated.files {
        match read_text(&dir.join(rel))? {
            Some(old) if &old == new => {}
            Some(old) => changes.push(FileChange::Modified {
                path: rel.clone(),
                old,
                new: new.clone(),
            }),
            None => changes.push(FileChange::Added {
                path: rel.clone(),
                new: new.clone(),
            }),
        }
    }
    if let Some(manifest) = read_text(&dir.join(MANIFEST_FILE))? {
        for rel in parse_manifest(&manifest) {
            if generated.files.contains_key(&rel) || rel.is_absolute() {
                continue;
            }
            if let Some(old) = read_text(&dir.join(&rel))? {
                changes.push(FileChange::Removed { path: rel, old });
            }
        }
    }
    changes.sort_by(|a, b| a.path().cmp(b.path()));
    Ok(changes)
}

/// A file's text; `None` when it does not exist. Invalid UTF-8 is shown lossily.
fn read_text(path: &Path) -> io::Result<Option<String>> {
    match fs::read(path) {
        Ok(bytes) => Ok(Some(String::from_utf8_lossy(&bytes).into_owned())),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// The routing a previous build recorded in `dir`, if it left a readable `apex-routing.json`.
pub fn previous_routing(dir: &Path) -> Result<Option<Routing>, String> {
    let path = dir.join(ROUTING_FILE);
    match read_text(&path) {
        Ok(None) => Ok(None),
        Ok(Some(text)) => Routing::from_json(&text).map(Some).map_err(|e| {
            format!(
                "{} is not a routing record apexc can read: {e}",
                path.display()
            )
        }),
        Err(e) => Err(format!("cannot read {}: {e}", path.display())),
    }
}

/// The runtime vendored in the crate at `dir`, read from the files its manifest lists under
/// `vendor/apex-runtime/`; `None` when it has none (e.g. a crate from an apexc before vendoring).
pub fn runtime_on_disk(dir: &Path) -> Option<RuntimeId> {
    let manifest = read_text(&dir.join(MANIFEST_FILE)).ok()??;
    let mut files = Vec::new();
    for rel in parse_manifest(&manifest) {
        if is_vendored(&rel) {
            if let Ok(Some(text)) = read_text(&dir.join(&rel)) {
                files.push((slash_path(&rel), text));
            }
        }
    }
    runtime_id(files.iter().map(|(p, c)| (p.as_str(), c.as_str())))
}

/// The summary line for a change of vendored runtime (an apexc upgrade, or a runtime edited by
/// hand), `None` when both are the same.
pub fn runtime_change(old: Option<&RuntimeId>, new: Option<&RuntimeId>) -> Option<RoutingChange> {
    let (sign, text) = match (old, new) {
        (Some(a), Some(b)) if a == b => return None,
        (Some(a), Some(b)) if a.version == b.version => (
            Sign::Changed,
            format!(
                "runtime apex-runtime {}: source {} -> {} (same version, other source: \
                 another build of apexc, or vendor/ edited by hand)",
                a.version, a.fingerprint, b.fingerprint
            ),
        ),
        (Some(a), Some(b)) => (Sign::Changed, format!("runtime {a} -> {b}")),
        (None, Some(b)) => (Sign::Added, format!("runtime {b}, vendored")),
        (Some(a), None) => (Sign::Removed, format!("runtime {a}")),
        (None, None) => return None,
    };
    Some(RoutingChange { sign, text })
}

/// One line of the routing summary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoutingChange {
    pub sign: Sign,
    /// e.g. `model DeepSeek-R1: route azure/DeepSeek-R1 weight 2 -> 3`.
    pub text: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sign {
    Added,
    Removed,
    Changed,
}

impl Sign {
    fn symbol(self) -> char {
        match self {
            Sign::Added => '+',
            Sign::Removed => '-',
            Sign::Changed => '~',
        }
    }
}

fn push(out: &mut Vec<RoutingChange>, sign: Sign, text: String) {
    out.push(RoutingChange { sign, text });
}

/// Every routing difference between `old` and `new`, gateway settings first, then models,
/// then providers, each group in name order.
pub fn routing_changes(old: &Routing, new: &Routing) -> Vec<RoutingChange> {
    let mut out = Vec::new();
    gateway_changes(old, new, &mut out);
    model_changes(old, new, &mut out);
    provider_changes(old, new, &mut out);
    out
}

fn gateway_changes(old: &Routing, new: &Routing, out: &mut Vec<RoutingChange>) {
    if old.name != new.name {
        push(
            out,
            Sign::Changed,
            format!("worker name {} -> {}", old.name, new.name),
        );
    }
    if old.auth_keys != new.auth_keys {
        let text = match (old.auth_keys.is_empty(), new.auth_keys.is_empty()) {
            (true, false) => format!(
                "auth: now required ({})",
                list_changes(&old.auth_keys, &new.auth_keys)
            ),
            (false, true) => {
                "auth: REMOVED, the gateway is now open to anyone with its URL".to_string()
            }
            _ => format!(
                "auth keys: {}",
                list_changes(&old.auth_keys, &new.auth_keys)
            ),
        };
        push(out, Sign::Changed, text);
    }
    if old.max_attempts != new.max_attempts {
        push(
            out,
            Sign::Changed,
            format!("max_attempts {} -> {}", old.max_attempts, new.max_attempts),
        );
    }
    if old.provider_pinning != new.provider_pinning {
        push(
            out,
            Sign::Changed,
            format!(
                "provider_pinning {} -> {}",
                old.provider_pinning.as_str(),
                new.provider_pinning.as_str()
            ),
        );
    }
    if old.cooldown != new.cooldown {
        push(
            out,
            Sign::Changed,
            format!(
                "cooldown {}/{} ms -> {}/{} ms (default/max)",
                old.cooldown.default_ms,
                old.cooldown.max_ms,
                new.cooldown.default_ms,
                new.cooldown.max_ms
            ),
        );
    }
    store_changes(old, new, out);
    client_changes(old, new, out);
}

/// Clients added, removed, or given other models or limits (by name; secrets by name only).
fn client_changes(old: &Routing, new: &Routing, out: &mut Vec<RoutingChange>) {
    for c in &new.clients {
        match old.clients.iter().find(|o| o.name == c.name) {
            None => push(
                out,
                Sign::Added,
                format!("client {} (key {})", c.name, c.secret),
            ),
            Some(o) if o != c => push(
                out,
                Sign::Changed,
                format!("client {}: key, models or limits", c.name),
            ),
            Some(_) => {}
        }
    }
    for o in old
        .clients
        .iter()
        .filter(|o| !new.clients.iter().any(|c| c.name == o.name))
    {
        push(out, Sign::Removed, format!("client {}", o.name));
    }
}

fn store_changes(old: &Routing, new: &Routing, out: &mut Vec<RoutingChange>) {
    match (&old.responses_store, &new.responses_store) {
        (None, Some(s)) => push(
            out,
            Sign::Added,
            format!("responses_store (KV {}, ttl {} s)", s.kv, s.ttl_seconds),
        ),
        (Some(s), None) => push(out, Sign::Removed, format!("responses_store (KV {})", s.kv)),
        (Some(a), Some(b)) if a != b => {
            let mut parts = Vec::new();
            if a.kv != b.kv {
                parts.push(format!("kv {} -> {}", a.kv, b.kv));
            }
            if a.ttl_seconds != b.ttl_seconds {
                parts.push(format!(
                    "ttl_seconds {} -> {}",
                    a.ttl_seconds, b.ttl_seconds
                ));
            }
            if a.kv_id != b.kv_id {
                let show = |id: &Option<String>| {
                    id.clone()
                        .unwrap_or_else(|| "none (wrangler creates one)".into())
                };
                parts.push(format!(
                    "kv namespace id {} -> {}",
                    show(&a.kv_id),
                    show(&b.kv_id)
                ));
            }
            push(
                out,
                Sign::Changed,
                format!("responses_store: {}", parts.join(", ")),
            );
        }
        _ => {}
    }
}

fn model_changes(old: &Routing, new: &Routing, out: &mut Vec<RoutingChange>) {
    for m in &new.models {
        match old.models.iter().find(|o| o.name == m.name) {
            None => push(
                out,
                Sign::Added,
                format!(
                    "model {} ({}): {}",
                    m.name,
                    strategy_name(m.strategy),
                    route_list(m)
                ),
            ),
            Some(o) => {
                for text in model_diff(o, m) {
                    push(out, Sign::Changed, format!("model {}: {text}", m.name));
                }
            }
        }
    }
    for o in &old.models {
        if !new.models.iter().any(|m| m.name == o.name) {
            push(
                out,
                Sign::Removed,
                format!("model {} (clients asking for it will get 404)", o.name),
            );
        }
    }
}

fn route_list(m: &ModelRouting) -> String {
    let routes: Vec<String> = m
        .routes
        .iter()
        .map(|r| {
            if m.strategy == crate::config::Strategy::Weighted {
                format!("{}/{} (weight {})", r.provider, r.model, r.weight)
            } else {
                format!("{}/{}", r.provider, r.model)
            }
        })
        .collect();
    routes.join(", ")
}

/// Route-level differences of one model. Routes are matched by (provider, upstream model).
fn model_diff(old: &ModelRouting, new: &ModelRouting) -> Vec<String> {
    let mut out = Vec::new();
    if old.strategy != new.strategy {
        out.push(format!(
            "strategy {} -> {}",
            strategy_name(old.strategy),
            strategy_name(new.strategy)
        ));
    }
    for a in new.aliases.iter().filter(|a| !old.aliases.contains(a)) {
        out.push(format!("alias {a} added"));
    }
    for a in old.aliases.iter().filter(|a| !new.aliases.contains(a)) {
        out.push(format!("alias {a} removed"));
    }
    let key = |r: &crate::codegen::routing::RouteRouting| (r.provider.clone(), r.model.clone());
    let mut unmatched_old: Vec<&crate::codegen::routing::RouteRouting> =
        old.routes.iter().collect();
    let mut kept_order_old = Vec::new();
    let mut kept_order_new = Vec::new();
    for r in &new.routes {
        match unmatched_old.iter().position(|o| key(o) == key(r)) {
            Some(i) => {
                let o = unmatched_old.remove(i);
                if o.weight != r.weight {
                    out.push(format!(
                        "route {}/{} weight {} -> {}",
                        r.provider, r.model, o.weight, r.weight
                    ));
                }
                if o.limits != r.limits {
                    out.push(format!(
                        "route {}/{} limits {} -> {}",
                        r.provider,
                        r.model,
                        o.limits.describe(),
                        r.limits.describe()
                    ));
                }
                if o.max_tokens != r.max_tokens {
                    let show = |m: Option<u32>| m.map_or("none".to_owned(), |n| n.to_string());
                    out.push(format!(
                        "route {}/{} max_tokens {} -> {}",
                        r.provider,
                        r.model,
                        show(o.max_tokens),
                        show(r.max_tokens)
                    ));
                }
                kept_order_new.push(key(r));
            }
            None => out.push(format!(
                "+ route {}/{} (weight {})",
                r.provider, r.model, r.weight
            )),
        }
    }
    for o in &unmatched_old {
        out.push(format!("- route {}/{}", o.provider, o.model));
    }
    for o in &old.routes {
        if kept_order_new.contains(&key(o)) {
            kept_order_old.push(key(o));
        }
    }
    if kept_order_old != kept_order_new {
        let order: Vec<String> = new
            .routes
            .iter()
            .map(|r| format!("{}/{}", r.provider, r.model))
            .collect();
        out.push(format!("routes reordered: {}", order.join(", ")));
    }
    out
}

fn provider_changes(old: &Routing, new: &Routing, out: &mut Vec<RoutingChange>) {
    for p in &new.providers {
        match old.providers.iter().find(|o| o.id == p.id) {
            None => push(
                out,
                Sign::Added,
                format!("provider {} ({})", p.id, provider_brief(p)),
            ),
            Some(o) => {
                let parts = provider_diff(o, p);
                if !parts.is_empty() {
                    push(
                        out,
                        Sign::Changed,
                        format!("provider {}: {}", p.id, parts.join("; ")),
                    );
                }
            }
        }
    }
    for o in &old.providers {
        if !new.providers.iter().any(|p| p.id == o.id) {
            push(
                out,
                Sign::Removed,
                format!("provider {} ({})", o.id, provider_brief(o)),
            );
        }
    }
}

fn provider_brief(p: &ProviderRouting) -> String {
    let mut s = kind_name(p.kind).to_string();
    if !p.base_url.is_empty() {
        let _ = write!(s, ", {}", p.base_url);
    }
    let n = p.api_keys.len();
    if p.kind != crate::config::ProviderKind::Mock {
        let _ = write!(s, ", {n} key{}", if n == 1 { "" } else { "s" });
    }
    if p.limits.any() {
        let _ = write!(s, ", limits {}", p.limits.describe());
    }
    if !p.key_limits.is_empty() {
        let _ = write!(s, ", key limits {}", key_limits_text(p));
    }
    if !p.reset.is_default() {
        let _ = write!(s, ", reset {}", reset_text(&p.reset));
    }
    s
}

/// `rpm 10, rpd 1000`, or `none`.
/// `K1: rpd 3; K2: rpd 2` (secret names, never values).
fn key_limits_text(p: &ProviderRouting) -> String {
    if p.key_limits.is_empty() {
        return "none".to_owned();
    }
    let parts: Vec<String> = p
        .api_keys
        .iter()
        .zip(&p.key_limits)
        .map(|(k, l)| format!("{k}: {}", l.describe()))
        .collect();
    parts.join("; ")
}

/// `00:00 America/Los_Angeles`.
fn reset_text(r: &crate::codegen::routing::ResetRouting) -> String {
    format!(
        "{:02}:{:02} {}",
        r.at_minute / 60,
        r.at_minute % 60,
        r.timezone
    )
}

fn provider_diff(old: &ProviderRouting, new: &ProviderRouting) -> Vec<String> {
    let mut out = Vec::new();
    if old.kind != new.kind {
        out.push(format!(
            "kind {} -> {}",
            kind_name(old.kind),
            kind_name(new.kind)
        ));
    }
    if old.base_url != new.base_url {
        out.push(format!(
            "base_url {} -> {}",
            or_none(&old.base_url),
            or_none(&new.base_url)
        ));
    }
    if old.api_keys != new.api_keys {
        out.push(format!(
            "api_keys {} -> {} ({})",
            old.api_keys.len(),
            new.api_keys.len(),
            list_changes(&old.api_keys, &new.api_keys)
        ));
    }
    if old.api_version != new.api_version {
        out.push(format!(
            "api_version {} -> {}",
            old.api_version.as_deref().unwrap_or("(none)"),
            new.api_version.as_deref().unwrap_or("(none)")
        ));
    }
    if old.headers != new.headers {
        let old_names: Vec<String> = old.headers.keys().cloned().collect();
        let new_names: Vec<String> = new.headers.keys().cloned().collect();
        let changed: Vec<&String> = new
            .headers
            .iter()
            .filter(|(k, v)| old.headers.get(*k).is_some_and(|o| o != *v))
            .map(|(k, _)| k)
            .collect();
        let mut text = format!("headers {}", list_changes(&old_names, &new_names));
        if !changed.is_empty() {
            let names: Vec<&str> = changed.iter().map(|s| s.as_str()).collect();
            let _ = write!(text, ", changed {}", names.join(", "));
        }
        out.push(text);
    }
    if old.timeout_ms != new.timeout_ms {
        out.push(format!(
            "timeout_ms {} -> {}",
            old.timeout_ms, new.timeout_ms
        ));
    }
    if old.limits != new.limits {
        out.push(format!(
            "limits {} -> {}",
            old.limits.describe(),
            new.limits.describe()
        ));
    }
    if old.key_limits != new.key_limits {
        out.push(format!(
            "key limits {} -> {}",
            key_limits_text(old),
            key_limits_text(new)
        ));
    }
    if old.reset != new.reset {
        out.push(format!(
            "reset {} -> {}",
            reset_text(&old.reset),
            reset_text(&new.reset)
        ));
    }
    if old.native_responses != new.native_responses {
        let mode = |native: bool| if native { "native" } else { "bridge" };
        out.push(format!(
            "responses {} -> {}",
            mode(old.native_responses),
            mode(new.native_responses)
        ));
    }
    out
}

fn or_none(s: &str) -> &str {
    if s.is_empty() {
        "(none)"
    } else {
        s
    }
}

/// "added B, removed A" / "reordered" for two lists of names.
fn list_changes(old: &[String], new: &[String]) -> String {
    let added: Vec<&str> = new
        .iter()
        .filter(|n| !old.contains(n))
        .map(String::as_str)
        .collect();
    let removed: Vec<&str> = old
        .iter()
        .filter(|n| !new.contains(n))
        .map(String::as_str)
        .collect();
    let mut parts = Vec::new();
    if !added.is_empty() {
        parts.push(format!("added {}", added.join(", ")));
    }
    if !removed.is_empty() {
        parts.push(format!("removed {}", removed.join(", ")));
    }
    if parts.is_empty() {
        parts.push("reordered".to_string());
    }
    parts.join(", ")
}

/// Terminal styling for the report: ANSI colours, or none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Style {
    pub color: bool,
}

impl Style {
    fn paint(self, code: &str, text: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }
}

/// A unified diff of one file change, with headers `--- <dir>/<path>` / `+++ generated`.
pub fn render_file_change(change: &FileChange, dir_label: &str, style: Style) -> String {
    let rel = slash_path(change.path());
    let on_disk = format!("{}/{rel}", dir_label.trim_end_matches('/'));
    let (old, new, old_header, new_header) = match change {
        FileChange::Added { new, .. } => (
            "",
            new.as_str(),
            format!("{on_disk} (not on disk)"),
            "generated".to_string(),
        ),
        FileChange::Removed { old, .. } => (
            old.as_str(),
            "",
            on_disk,
            "generated (no longer generated)".to_string(),
        ),
        FileChange::Modified { old, new, .. } => {
            (old.as_str(), new.as_str(), on_disk, "generated".to_string())
        }
    };
    let diff = similar::TextDiff::from_lines(old, new);
    let mut out = String::new();
    out.push_str(&style.paint("1", &format!("--- {old_header}")));
    out.push('\n');
    out.push_str(&style.paint("1", &format!("+++ {new_header}")));
    out.push('\n');
    for hunk in diff.unified_diff().context_radius(3).iter_hunks() {
        out.push_str(&style.paint("36", &hunk.header().to_string()));
        out.push('\n');
        for change in hunk.iter_changes() {
            let (sign, code) = match change.tag() {
                similar::ChangeTag::Delete => ('-', Some("31")),
                similar::ChangeTag::Insert => ('+', Some("32")),
                similar::ChangeTag::Equal => (' ', None),
            };
            let mut line = format!("{sign}{}", change.value().trim_end_matches(['\n', '\r']));
            if change.missing_newline() {
                line.push_str("\n\\ No newline at end of file");
            }
            match code {
                Some(code) => out.push_str(&style.paint(code, &line)),
                None => out.push_str(&line),
            }
            out.push('\n');
        }
    }
    out
}

/// The routing summary block.
pub fn render_routing(changes: &[RoutingChange], style: Style) -> String {
    let mut out = String::new();
    for c in changes {
        let code = match c.sign {
            Sign::Added => "32",
            Sign::Removed => "31",
            Sign::Changed => "33",
        };
        out.push_str("  ");
        out.push_str(&style.paint(code, &format!("{} {}", c.sign.symbol(), c.text)));
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codegen::routing::{ModelRouting, RouteRouting};
    use crate::config::{ProviderKind, Strategy};

    fn routing() -> Routing {
        let provider = |id: &str| ProviderRouting {
            id: id.into(),
            kind: ProviderKind::OpenAi,
            base_url: format!("https://{id}.example/v1"),
            api_keys: vec![format!("{}_KEY", id.to_uppercase())],
            api_version: None,
            headers: Default::default(),
            timeout_ms: 30000,
            native_responses: false,
            key_limits: Vec::new(),
            limits: Default::default(),
            reset: Default::default(),
        };
        let route = |p: &str, m: &str| RouteRouting {
            provider: p.into(),
            model: m.into(),
            weight: 1,
            max_tokens: None,
            limits: Default::default(),
        };
        Routing {
            format: 1,
            name: "gw".into(),
            auth_keys: vec!["GATEWAY_KEY".into()],
            clients: Vec::new(),
            max_attempts: 3,
            cooldown: Default::default(),
            provider_pinning: Default::default(),
            responses_store: None,
            providers: vec![provider("a"), provider("b")],
            models: vec![ModelRouting {
                name: "m".into(),
                strategy: Strategy::Priority,
                aliases: Vec::new(),
                routes: vec![route("a", "x"), route("b", "y")],
            }],
        }
    }

    fn texts(old: &Routing, new: &Routing) -> Vec<String> {
        routing_changes(old, new)
            .into_iter()
            .map(|c| format!("{} {}", c.sign.symbol(), c.text))
            .collect()
    }

    #[test]
    fn identical_routing_has_no_changes() {
        assert!(routing_changes(&routing(), &routing()).is_empty());
    }

    #[test]
    fn reordering_priority_routes_is_a_change() {
        let old = routing();
        let mut new = routing();
        new.models[0].routes.reverse();
        assert_eq!(texts(&old, &new), ["~ model m: routes reordered: b/y, a/x"]);
    }

    #[test]
    fn added_and_removed_routes_are_named() {
        let old = routing();
        let mut new = routing();
        new.models[0].routes[1] = RouteRouting {
            provider: "b".into(),
            model: "z".into(),
            weight: 2,
            max_tokens: None,
            limits: Default::default(),
        };
        assert_eq!(
            texts(&old, &new),
            [
                "~ model m: + route b/z (weight 2)",
                "~ model m: - route b/y"
            ]
        );
    }

    #[test]
    fn dropping_auth_is_called_out() {
        let old = routing();
        let mut new = routing();
        new.auth_keys.clear();
        assert_eq!(
            texts(&old, &new),
            ["~ auth: REMOVED, the gateway is now open to anyone with its URL"]
        );
    }

    #[test]
    fn provider_key_changes_name_secrets_only() {
        let old = routing();
        let mut new = routing();
        new.providers[1].api_keys.push("B_KEY_2".into());
        new.providers[1].kind = ProviderKind::AzureOpenAi;
        assert_eq!(
            texts(&old, &new),
            ["~ provider b: kind openai -> azure-openai; api_keys 1 -> 2 (added B_KEY_2)"]
        );
    }

    #[test]
    fn unified_diff_has_the_promised_headers() {
        let change = FileChange::Modified {
            path: "src/routes.rs".into(),
            old: "a\nb\n".into(),
            new: "a\nc\n".into(),
        };
        let text = render_file_change(&change, "gateway/", Style { color: false });
        assert_eq!(
            text,
            "--- gateway/src/routes.rs\n+++ generated\n@@ -1,2 +1,2 @@\n a\n-b\n+c\n"
        );
    }
}
