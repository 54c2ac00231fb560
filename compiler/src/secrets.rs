//! The secrets a config needs, where each one's local value comes from, and how to upload them
//! (for `apexc secrets` and `apexc secrets push`).
//!
//! Values are handled as little as possible: they are looked up (environment first, then
//! `.dev.vars`, the same order `apexc serve` uses), serialised into one JSON object in memory and
//! written to `wrangler secret bulk`'s stdin. Nothing here prints or stores a value.

use crate::config::{Config, ProviderKind};
use crate::devvars::DevVars;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// One secret the config references, with what uses it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Need {
    pub name: String,
    /// e.g. `["auth.keys", "provider deepseek"]`.
    pub used_by: Vec<String>,
}

/// Every secret `config` references, sorted by name.
pub fn needs(config: &Config) -> Vec<Need> {
    let mut by_name: BTreeMap<String, Vec<String>> = BTreeMap::new();
    if let Some(auth) = &config.auth {
        for k in &auth.keys {
            push_use(&mut by_name, &k.secret, "auth.keys".to_string());
        }
    }
    for (id, p) in &config.providers {
        if p.kind == ProviderKind::Mock {
            continue;
        }
        for k in &p.api_keys {
            push_use(&mut by_name, &k.secret, format!("provider {id}"));
        }
    }
    by_name
        .into_iter()
        .map(|(name, used_by)| Need { name, used_by })
        .collect()
}

fn push_use(map: &mut BTreeMap<String, Vec<String>>, name: &str, what: String) {
    let uses = map.entry(name.to_string()).or_default();
    if !uses.contains(&what) {
        uses.push(what);
    }
}

/// Where a secret's local value was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Environment,
    DevVars,
}

/// Where `name`'s value is: the environment (non-empty), else `.dev.vars`.
pub fn source_of(name: &str, file: &DevVars) -> Option<Source> {
    if std::env::var_os(name).is_some_and(|v| !v.is_empty()) {
        Some(Source::Environment)
    } else if file.vars.get(name).is_some_and(|v| !v.is_empty()) {
        Some(Source::DevVars)
    } else {
        None
    }
}

/// `name`'s value, looked up like [`source_of`].
pub fn value_of(name: &str, file: &DevVars) -> Option<String> {
    match source_of(name, file)? {
        Source::Environment => std::env::var(name).ok(),
        Source::DevVars => file.vars.get(name).cloned(),
    }
}

/// The JSON object `wrangler secret bulk` reads: `{"NAME": "value", ...}`.
pub fn bulk_json(values: &[(String, String)]) -> String {
    let map: serde_json::Map<String, serde_json::Value> = values
        .iter()
        .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
        .collect();
    serde_json::Value::Object(map).to_string()
}

/// How to run wrangler: `wrangler` on PATH, else the one `npm install` put in `crate_dir` (a
/// generated crate), else the shared tools dir's (scripts/setup.sh and `apexc dev` install it
/// there), else `npx --yes wrangler@VERSION`.
pub fn wrangler_command(crate_dir: Option<&Path>) -> (PathBuf, Vec<String>) {
    if let Some(found) = on_path("wrangler") {
        return (found, Vec::new());
    }
    if let Some(local) = crate_dir
        .map(|d| d.join("node_modules/.bin/wrangler"))
        .filter(|p| is_executable(p))
    {
        return (crate::build::absolute(&local), Vec::new());
    }
    let local = crate::toolchain::tools_dir().join("node_modules/.bin/wrangler");
    if local.is_file() {
        return (local, Vec::new());
    }
    (
        PathBuf::from("npx"),
        vec![
            "--yes".into(),
            format!("wrangler@{}", crate::codegen::files::WRANGLER_VERSION),
        ],
    )
}

/// The first executable `name` on PATH.
fn on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| is_executable(p))
}

fn is_executable(p: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        p.metadata()
            .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    }
    #[cfg(not(unix))]
    {
        p.is_file()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn needs_lists_each_name_once_with_its_users() {
        let loaded = crate::load::load_str(
            "p.yaml",
            "name: g\nauth: { keys: [{ secret: GW }] }\nproviders:\n  a: { kind: openai, base_url: https://a.example/v1, api_keys: [{ secret: K1 }, { secret: SHARED }] }\n  b: { kind: openai, base_url: https://b.example/v1, api_keys: [{ secret: SHARED }] }\n  m: { kind: mock }\nmodels:\n  x: { routes: [{ provider: a, model: x }, { provider: b, model: x }, { provider: m, model: x }] }\n",
        )
        .unwrap_or_else(|d| panic!("{d}"));
        let n = needs(&loaded.config);
        let names: Vec<&str> = n.iter().map(|n| n.name.as_str()).collect();
        assert_eq!(names, ["GW", "K1", "SHARED"]);
        assert_eq!(n[2].used_by, ["provider a", "provider b"]);
    }

    #[test]
    fn bulk_json_is_one_object() {
        let j = bulk_json(&[("A".into(), "x\"y".into()), ("B".into(), "z".into())]);
        let v: serde_json::Value = serde_json::from_str(&j).unwrap();
        assert_eq!(v["A"], "x\"y");
        assert_eq!(v.as_object().unwrap().len(), 2);
    }
}
