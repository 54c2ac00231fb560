//! Loading `proxy.yaml`: text → validated [`Config`], or every problem at once.
//!
//! ```text
//! text ──yaml::parse──▶ JSON value + SpanMap (syntax errors, duplicate keys)
//!      ──validate────▶ schema errors + semantic rules, each mapped back to line:col
//!      ──serde_json──▶ Config (cannot fail once validation passed)
//! ```
//!
//! Nothing here prints: callers get a [`Loaded`] (with any warnings) or a [`Diagnostics`] set
//! to render. `apexc check`, `build`, `diff`, `serve` and `dev` all load through here, so they
//! accept and reject exactly the same files.

pub mod yaml;

use crate::config::{Config, ProviderKind};
use crate::diagnostics::{Diagnostic, Diagnostics, Span};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// A config that passed validation.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub config: Config,
    /// The path as the caller gave it (for `load_str`, the name).
    pub path: PathBuf,
    /// The source text.
    pub source: String,
    /// Warnings (never errors): e.g. an open gateway without `auth`.
    pub warnings: Diagnostics,
}

impl Loaded {
    /// Every distinct secret name the config references (gateway keys, provider API keys), sorted.
    pub fn secret_names(&self) -> BTreeSet<&str> {
        secret_names(&self.config)
    }

    /// "4 providers, 4 models, 9 routes, 8 secrets".
    pub fn summary(&self) -> String {
        let c = &self.config;
        let routes: usize = c.models.values().map(|m| m.routes.len()).sum();
        let n = |count: usize, word: &str| {
            format!("{count} {word}{}", if count == 1 { "" } else { "s" })
        };
        format!(
            "{}, {}, {}, {}",
            n(c.providers.len(), "provider"),
            n(c.models.len(), "model"),
            n(routes, "route"),
            n(self.secret_names().len(), "secret")
        )
    }
}

/// Every distinct secret name `config` references, sorted.
pub fn secret_names(config: &Config) -> BTreeSet<&str> {
    let auth = config
        .auth
        .iter()
        .flat_map(|a| a.keys.iter().map(|k| k.secret.as_str()));
    let providers = config
        .providers
        .values()
        .filter(|p| p.kind != ProviderKind::Mock)
        .flat_map(|p| p.api_keys.iter().map(|k| k.secret.as_str()));
    let clients = config.clients.values().map(|c| c.secret.as_str());
    auth.chain(providers).chain(clients).collect()
}

/// Reads and loads the file at `path`. Diagnostics name the file as `path` was written.
/// A file that cannot be read gives one diagnostic for which
/// [`Diagnostics::is_unreadable`] is true.
pub fn load_path(path: &Path) -> Result<Loaded, Diagnostics> {
    let name = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|e| {
        Diagnostics::unreadable(&name, format!("cannot read the file: {}", io_reason(&e)))
    })?;
    let src = String::from_utf8(bytes).map_err(|_| {
        Diagnostics::unreadable(&name, "cannot read the file: it is not UTF-8 text")
    })?;
    let mut loaded = load_str(&name, &src)?;
    loaded.path = path.to_path_buf();
    Ok(loaded)
}

fn io_reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file".to_string(),
        std::io::ErrorKind::PermissionDenied => "permission denied".to_string(),
        _ => {
            // Drop the " (os error N)" tail std adds.
            let s = e.to_string();
            s.split(" (os error").next().unwrap_or(&s).to_string()
        }
    }
}

/// Loads config text; `name` is what diagnostics call the file.
pub fn load_str(name: &str, src: &str) -> Result<Loaded, Diagnostics> {
    let mut diags = Diagnostics::new(name, src);
    let config = load_into(src, &mut diags);
    diags.sort();
    match config {
        Some(config) if !diags.has_errors() => Ok(Loaded {
            config,
            path: PathBuf::from(name),
            source: src.to_string(),
            warnings: diags,
        }),
        _ => Err(diags),
    }
}

fn load_into(src: &str, diags: &mut Diagnostics) -> Option<Config> {
    let doc = yaml::parse(src, diags)?;
    let Some(value) = doc.value.as_ref().filter(|v| !v.is_null()) else {
        diags.push(
            Diagnostic::error(Span::start(), "the file is empty")
                .with_help("a config needs at least `name`, `providers` and `models`; see examples/quickstart.yaml"),
        );
        return None;
    };
    crate::validate::validate(value, &doc.spans, diags);
    if diags.has_errors() {
        return None;
    }
    match serde_json::from_value::<Config>(value.clone()) {
        Ok(config) => Some(config),
        Err(e) => {
            // Validation should have caught anything serde rejects; say so rather than hide it.
            diags.push(Diagnostic::error(
                Span::start(),
                format!("invalid config: {e}"),
            ));
            None
        }
    }
}
