//! The routing a config describes, with every default applied: the one intermediate form that
//! `src/routes.rs` is emitted from and that `apex-routing.json` records.
//!
//! `apexc build` writes this structure into the generated crate as `apex-routing.json` so that a
//! later `apexc diff` can tell what a new config changes in *routing* (models, routes, providers),
//! not only which bytes of which file change. It holds secret **names** only: the config model
//! has no place for a key value, so none can reach this file.

use crate::config::{self, Config, Limits, ProviderKind, Strategy};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Version of the `apex-routing.json` layout. Bump when a field changes meaning.
pub const FORMAT: u32 = 1;

/// The routing of one gateway, defaults applied.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Routing {
    /// Layout version of this record ([`FORMAT`]).
    pub format: u32,
    /// Worker name.
    pub name: String,
    /// Secret names of the gateway keys. Empty (and no clients): an open gateway.
    pub auth_keys: Vec<String>,
    /// Named clients, by name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub clients: Vec<ClientRouting>,
    pub max_attempts: u32,
    /// Cooldown bounds; absent from the record when they are the defaults.
    #[serde(default, skip_serializing_if = "CooldownRouting::is_default")]
    pub cooldown: CooldownRouting,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub responses_store: Option<StoreRouting>,
    /// What `model#provider` may reach; absent from the record when off (the default).
    #[serde(default, skip_serializing_if = "is_off")]
    pub provider_pinning: config::ProviderPinning,
    /// Providers in table order (sorted by id); routes refer to them by position in the
    /// generated tables and by id here.
    pub providers: Vec<ProviderRouting>,
    /// Models sorted by name (byte order, the order the router binary-searches).
    pub models: Vec<ModelRouting>,
}

/// How long rate-limited keys and failing routes rest, in ms, defaults applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CooldownRouting {
    pub default_ms: u64,
    pub max_ms: u64,
}

impl Default for CooldownRouting {
    fn default() -> Self {
        CooldownRouting {
            default_ms: u64::from(config::DEFAULT_COOLDOWN_SECONDS) * 1000,
            max_ms: u64::from(config::DEFAULT_MAX_COOLDOWN_SECONDS) * 1000,
        }
    }
}

fn is_off(p: &config::ProviderPinning) -> bool {
    *p == config::ProviderPinning::Off
}

impl CooldownRouting {
    pub fn is_default(&self) -> bool {
        *self == CooldownRouting::default()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoreRouting {
    pub kv: String,
    pub ttl_seconds: u64,
    /// The namespace's id from `deploy.kv_namespaces` (absent: wrangler creates one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kv_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProviderRouting {
    pub id: String,
    pub kind: ProviderKind,
    /// Without trailing slashes; empty for `mock` without a `base_url`.
    pub base_url: String,
    /// Secret names, in config order.
    pub api_keys: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_version: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    pub timeout_ms: u32,
    /// `responses: native` (absent: bridged).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub native_responses: bool,
    /// Each key's declared limits, in `api_keys` order (absent: no key declares any).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub key_limits: Vec<Limits>,
    /// The account's declared limits (absent: none).
    #[serde(default, skip_serializing_if = "is_unlimited")]
    pub limits: Limits,
    /// When daily limits start over (absent: midnight UTC).
    #[serde(default, skip_serializing_if = "ResetRouting::is_default")]
    pub reset: ResetRouting,
}

/// A provider's daily reset: minutes past local midnight in an IANA time zone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResetRouting {
    pub at_minute: u16,
    pub timezone: String,
}

impl Default for ResetRouting {
    fn default() -> Self {
        ResetRouting {
            at_minute: 0,
            timezone: "UTC".to_owned(),
        }
    }
}

impl ResetRouting {
    pub fn is_default(&self) -> bool {
        *self == ResetRouting::default()
    }

    fn of(reset: Option<&config::Reset>) -> ResetRouting {
        let Some(r) = reset else {
            return ResetRouting::default();
        };
        let (h, m) = r.daily_at.split_once(':').unwrap_or(("0", "0"));
        let minutes = |s: &str| s.parse::<u16>().unwrap_or(0);
        ResetRouting {
            at_minute: minutes(h) * 60 + minutes(m),
            timezone: r.timezone.clone().unwrap_or_else(|| "UTC".to_owned()),
        }
    }
}

fn is_unlimited(l: &Limits) -> bool {
    !l.any()
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClientRouting {
    pub name: String,
    pub secret: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub models: Vec<String>,
    #[serde(default, skip_serializing_if = "is_unlimited")]
    pub limits: Limits,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelRouting {
    pub name: String,
    pub strategy: Strategy,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<String>,
    pub routes: Vec<RouteRouting>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RouteRouting {
    /// Provider id.
    pub provider: String,
    /// Model name sent upstream.
    pub model: String,
    pub weight: u32,
    /// Cap on `max_tokens` (absent: none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u32>,
    /// Declared limits of this upstream model (absent: none).
    #[serde(default, skip_serializing_if = "is_unlimited")]
    pub limits: Limits,
}

impl Routing {
    /// Applies the defaults of the config format (timeout 30000 ms, 3 attempts, weight 1,
    /// TTL 86400 s) and fixes the table order.
    pub fn from_config(config: &Config) -> Routing {
        Routing {
            format: FORMAT,
            name: config.name.clone(),
            auth_keys: config
                .auth
                .as_ref()
                .map(|a| a.keys.iter().map(|k| k.secret.clone()).collect())
                .unwrap_or_default(),
            clients: config
                .clients
                .iter()
                .map(|(name, c)| ClientRouting {
                    name: name.clone(),
                    secret: c.secret.clone(),
                    models: c.models.clone(),
                    limits: c.limits.unwrap_or_default(),
                })
                .collect(),
            max_attempts: config.max_attempts.unwrap_or(config::DEFAULT_MAX_ATTEMPTS),
            cooldown: {
                let (default_ms, max_ms) = config.cooldown_ms();
                CooldownRouting { default_ms, max_ms }
            },
            provider_pinning: config.provider_pinning.unwrap_or_default(),
            responses_store: config.responses_store.as_ref().map(|s| StoreRouting {
                kv: s.kv.clone(),
                ttl_seconds: s.ttl_seconds.unwrap_or(config::DEFAULT_TTL_SECONDS),
                kv_id: config
                    .deploy
                    .as_ref()
                    .and_then(|d| d.kv_namespaces.get(&s.kv))
                    .cloned(),
            }),
            // BTreeMap iteration: sorted by id, so the same config always yields the same indices.
            providers: config
                .providers
                .iter()
                .map(|(id, p)| ProviderRouting {
                    id: id.clone(),
                    kind: p.kind,
                    base_url: p
                        .base_url
                        .as_deref()
                        .unwrap_or("")
                        .trim_end_matches('/')
                        .to_string(),
                    api_keys: p.api_keys.iter().map(|k| k.secret.clone()).collect(),
                    api_version: p.api_version.clone(),
                    headers: p.headers.clone(),
                    timeout_ms: p.timeout_ms.unwrap_or(config::DEFAULT_TIMEOUT_MS),
                    native_responses: p.responses == Some(config::ResponsesMode::Native),
                    key_limits: key_limits(&p.api_keys),
                    limits: p.limits.unwrap_or_default(),
                    reset: ResetRouting::of(p.reset.as_ref()),
                })
                .collect(),
            models: config
                .models
                .iter()
                .map(|(name, m)| ModelRouting {
                    name: name.clone(),
                    strategy: m.strategy,
                    aliases: m.aliases.clone(),
                    routes: m
                        .routes
                        .iter()
                        .map(|r| RouteRouting {
                            provider: r.provider.clone(),
                            model: r.model.clone(),
                            weight: r.weight.unwrap_or(1),
                            max_tokens: r.max_tokens,
                            limits: r.limits.unwrap_or_default(),
                        })
                        .collect(),
                })
                .collect(),
        }
    }

    /// The runtime's alias table: `(alias, index of its model)`, sorted by alias.
    pub fn alias_table(&self) -> Vec<(&str, u16)> {
        let mut table: Vec<(&str, u16)> = self
            .models
            .iter()
            .enumerate()
            .flat_map(|(i, m)| m.aliases.iter().map(move |a| (a.as_str(), i as u16)))
            .collect();
        table.sort();
        table
    }

    /// The runtime's pattern table: the indices of the models whose name is a pattern, in the
    /// order they are tried ([`pattern_precedence`]).
    pub fn pattern_order(&self) -> Vec<u16> {
        let mut order: Vec<(usize, &str)> = self
            .models
            .iter()
            .enumerate()
            .filter(|(_, m)| apex_runtime::table::is_pattern(&m.name))
            .map(|(i, m)| (i, m.name.as_str()))
            .collect();
        order.sort_by(|a, b| pattern_precedence(a.1, b.1));
        order.into_iter().map(|(i, _)| i as u16).collect()
    }

    /// Whether any provider, key or route declares limits (the runtime's `quotas` feature).
    pub fn has_limits(&self) -> bool {
        self.clients.iter().any(|c| c.limits.any())
            || self
                .providers
                .iter()
                .any(|p| p.limits.any() || p.key_limits.iter().any(Limits::any))
            || self
                .models
                .iter()
                .flat_map(|m| &m.routes)
                .any(|r| r.limits.any())
    }

    /// Position of a provider in the tables.
    pub fn provider_index(&self, id: &str) -> Option<usize> {
        self.providers.iter().position(|p| p.id == id)
    }

    /// Every secret name the gateway reads, each once: gateway keys first, then provider keys
    /// in table order (`mock` reads none). This is the list a user must `wrangler secret put`.
    pub fn secret_names(&self) -> Vec<String> {
        let mut seen = Vec::<String>::new();
        let all = self.auth_keys.iter().chain(
            self.providers
                .iter()
                .filter(|p| p.kind != ProviderKind::Mock)
                .flat_map(|p| p.api_keys.iter()),
        );
        for name in all {
            if !seen.contains(name) {
                seen.push(name.clone());
            }
        }
        seen
    }

    /// The provider kinds in use, in a fixed order (openai, azure-openai, mock).
    pub fn kinds(&self) -> Vec<ProviderKind> {
        [
            ProviderKind::OpenAi,
            ProviderKind::AzureOpenAi,
            ProviderKind::Mock,
            ProviderKind::Anthropic,
        ]
        .into_iter()
        .filter(|k| self.providers.iter().any(|p| p.kind == *k))
        .collect()
    }

    /// `apex-routing.json` content: pretty JSON with a trailing newline.
    pub fn to_json(&self) -> String {
        // Serializing plain strings, numbers and maps cannot fail.
        let mut s = serde_json::to_string_pretty(self).unwrap_or_default();
        s.push('\n');
        s
    }

    /// Reads an `apex-routing.json` written by `apexc build`.
    pub fn from_json(s: &str) -> Result<Routing, serde_json::Error> {
        serde_json::from_str(s)
    }
}

/// Each key's limits in order, or nothing when no key declares any.
fn key_limits(keys: &[config::ApiKey]) -> Vec<Limits> {
    if keys.iter().all(|k| k.limits.is_none_or(|l| !l.any())) {
        return Vec::new();
    }
    keys.iter().map(|k| k.limits.unwrap_or_default()).collect()
}

/// The spelling of a kind in `proxy.yaml` (and the suffix of its runtime feature).
pub fn kind_name(kind: ProviderKind) -> &'static str {
    match kind {
        ProviderKind::OpenAi => "openai",
        ProviderKind::AzureOpenAi => "azure-openai",
        ProviderKind::Mock => "mock",
        ProviderKind::Anthropic => "anthropic",
    }
}

/// The spelling of a strategy in `proxy.yaml`.
pub fn strategy_name(strategy: Strategy) -> &'static str {
    match strategy {
        Strategy::Random => "random",
        Strategy::RoundRobin => "round-robin",
        Strategy::Weighted => "weighted",
        Strategy::Priority => "priority",
    }
}

/// Which of two patterns a name both match goes to: the one with more literal characters
/// (more specific), then the one with fewer `*`, then the first in name order.
pub fn pattern_precedence(a: &str, b: &str) -> std::cmp::Ordering {
    let literal = |p: &str| p.chars().filter(|c| !matches!(c, '*' | '?')).count();
    let stars = |p: &str| p.chars().filter(|c| *c == '*').count();
    literal(b)
        .cmp(&literal(a))
        .then(stars(a).cmp(&stars(b)))
        .then(a.cmp(b))
}
