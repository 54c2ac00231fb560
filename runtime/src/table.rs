//! The routing tables a gateway runs on.
//!
//! `apexc build` emits one `static GATEWAY: Gateway` as plain Rust literals (see the generated
//! crate's `src/routes.rs`), so a deployed worker never parses configuration at run time.
//! `apexc serve` builds the same structure from a loaded config and leaks it, so both hosts run
//! the router over identical `&'static` data.
//!
//! Secrets appear here only by *name* (`"DEEPSEEK_KEY_1"`): the host resolves names to values
//! per request (Worker secrets, or the environment / `.dev.vars` for `apexc serve`).

/// A whole gateway: what one `proxy.yaml` describes.
#[derive(Debug)]
pub struct Gateway {
    /// Worker name (`name:` in the config).
    pub name: &'static str,
    /// Secret names of the gateway keys clients must present. Empty, and no `clients`: no
    /// auth (open gateway).
    pub auth_keys: &'static [&'static str],
    /// Named clients, each with a key of its own, the models it may use and its budget.
    pub clients: &'static [Client],
    /// Providers, sorted by id (the config holds them in a map). Routes refer to them by index.
    pub providers: &'static [Provider],
    /// Public models, **sorted by name** (the router binary-searches this slice). A name with
    /// `*` or `?` is a glob pattern (see `patterns`).
    pub models: &'static [Model],
    /// Other names clients may send for a model: `(alias, index into models)`, **sorted by
    /// alias**.
    pub aliases: &'static [(&'static str, u16)],
    /// The models whose name is a glob pattern, as indices into `models`, **the most specific
    /// first**: a name that is no model's and no alias goes to the first pattern it matches.
    pub patterns: &'static [u16],
    /// Where stored Responses live, when the config asks for it.
    pub responses_store: Option<ResponsesStore>,
    /// Upper bound on upstream attempts per request (each is a Workers subrequest).
    pub max_attempts: u32,
    /// How long rate-limited keys and failing routes rest.
    pub cooldown: Cooldown,
    /// What `model#provider` in a request may reach (`provider_pinning` in the config).
    pub pinning: Pinning,
}

/// What a client may reach by naming a provider itself (`"model": "MODEL#PROVIDER"`). Any
/// holder of a gateway key can try it, so it is off unless the config's author turns it on:
/// with `Any`, a key holder can send any model name to any provider, on the owner's keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pinning {
    /// Refused with 403: the gateway alone chooses providers (the default).
    Off,
    /// `MODEL#PROVIDER` where MODEL is a public model with routes on PROVIDER: only those
    /// routes. Nothing else.
    Routes,
    /// Also any other name, sent to PROVIDER as written (the seed project's direct addressing).
    Any,
}

/// Bounds on cooldowns (`cooldown` in the config; the policy is in `attempt::cooldown`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cooldown {
    /// A 429 that does not say how long to wait rests its key this long.
    pub default_ms: u64,
    /// No rest is longer, whatever an upstream asks for.
    pub max_ms: u64,
}

impl Cooldown {
    /// 5 s when the upstream does not say, at most 60 s.
    pub const DEFAULT: Cooldown = Cooldown {
        default_ms: 5_000,
        max_ms: 60_000,
    };
}

/// One upstream provider.
#[derive(Debug)]
pub struct Provider {
    /// The provider's id in the config (`providers.<id>`); used in `model#provider` addressing
    /// and reported in the `x-apex-provider` response header.
    pub id: &'static str,
    pub kind: Kind,
    /// Base URL, without a trailing slash (e.g. `https://api.deepseek.com/v1`). For
    /// `azure-openai` it contains `:model`, replaced by the route's model (the deployment).
    pub base_url: &'static str,
    /// Secret names of this provider's API keys. Empty only for `mock`.
    pub api_keys: &'static [&'static str],
    /// `api-version` query value (azure-openai).
    pub api_version: Option<&'static str>,
    /// Extra static headers sent on every upstream request.
    pub headers: &'static [(&'static str, &'static str)],
    /// Time allowed to the first byte of the upstream answer.
    pub timeout_ms: u32,
    /// `responses: native` in the config: `POST /v1/responses` goes to the upstream's own
    /// `/responses` untouched instead of being bridged to chat completions.
    pub native_responses: bool,
    /// Declared limits of each key, in `api_keys` order; empty when no key declares any.
    pub key_limits: &'static [Limits],
    /// Declared limits of the whole account (every key together).
    pub limits: Limits,
    /// When this provider's daily windows (`rpd`, `tpd`) start over.
    pub reset: DailyReset,
}

/// Declared quota limits (`limits` in the config): requests and tokens per rolling minute and
/// per day. `None`: no limit of that kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "quotas", derive(serde::Serialize, serde::Deserialize))]
pub struct Limits {
    pub rpm: Option<u32>,
    pub rpd: Option<u32>,
    pub tpm: Option<u64>,
    pub tpd: Option<u64>,
}

impl Limits {
    pub const NONE: Limits = Limits {
        rpm: None,
        rpd: None,
        tpm: None,
        tpd: None,
    };

    /// Whether any limit is declared.
    pub const fn any(&self) -> bool {
        self.rpm.is_some() || self.rpd.is_some() || self.tpm.is_some() || self.tpd.is_some()
    }
}

/// When a provider's day starts (`reset` in the config): at `at_minute` past local midnight in
/// a time zone whose UTC offsets the compiler wrote out as a table (so the worker carries no
/// time zone database).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DailyReset {
    /// Minutes after local midnight (`daily_at: "00:00"` is 0).
    pub at_minute: u16,
    /// `(from, offset)`: from `from` (ms since the epoch, UTC) on, local time is UTC +
    /// `offset` minutes. Sorted by `from`; the first entry covers everything before it too,
    /// the last everything after. Empty: UTC.
    pub offsets: &'static [(u64, i32)],
}

impl DailyReset {
    /// Midnight UTC (the default).
    pub const UTC: DailyReset = DailyReset {
        at_minute: 0,
        offsets: &[],
    };
}

/// What protocol and auth an upstream speaks. A kind's code is compiled in only when its
/// cargo feature (`kind-openai`, `kind-azure-openai`, `kind-mock`, `kind-anthropic`) is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Any OpenAI-compatible endpoint: `Authorization: Bearer`, `{base_url}/chat/completions`.
    OpenAi,
    /// Azure OpenAI: `api-key` header, `?api-version=`, deployment in the path.
    AzureOpenAi,
    /// Built in, no network: deterministic answers for quickstarts and smoke tests.
    Mock,
    /// Anthropic Messages: `x-api-key`, `anthropic-version`, `{base_url}/v1/messages`.
    Anthropic,
}

impl Kind {
    /// The spelling used in `proxy.yaml`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Kind::OpenAi => "openai",
            Kind::AzureOpenAi => "azure-openai",
            Kind::Mock => "mock",
            Kind::Anthropic => "anthropic",
        }
    }
}

/// A public model name and the upstream routes that can serve it.
#[derive(Debug)]
pub struct Model {
    pub name: &'static str,
    pub strategy: Strategy,
    /// Never empty (the compiler rejects a model without routes).
    pub routes: &'static [Route],
}

/// One way to serve a public model: a provider and the model name it knows.
#[derive(Debug)]
pub struct Route {
    /// Index into [`Gateway::providers`].
    pub provider: u16,
    /// The model name sent upstream.
    pub model: &'static str,
    /// Relative share for the `weighted` strategy (≥ 1).
    pub weight: u32,
    /// Cap on `max_tokens` for requests this route serves (`max_tokens` in the config).
    pub max_tokens: Option<u32>,
    /// Declared limits of this upstream model on its provider (every key together).
    pub limits: Limits,
}

/// How a model's routes are ordered for each request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strategy {
    Random,
    RoundRobin,
    Weighted,
    Priority,
}

/// A named client of the gateway (`clients:` in the config).
#[derive(Debug)]
pub struct Client {
    /// What logs and usage call it (never its key).
    pub name: &'static str,
    /// The secret holding its gateway key.
    pub secret: &'static str,
    /// The model names it may ask for, glob patterns allowed; empty: every model.
    pub models: &'static [&'static str],
    /// Its budget, counted like a provider's limits (a UTC day).
    pub limits: Limits,
}

impl Client {
    /// Whether it may ask for `model` (a public name as the client sent it, `#provider` off).
    pub fn allows(&self, model: &str) -> bool {
        self.models.is_empty() || self.models.iter().any(|p| glob_matches(p, model))
    }
}

/// Stored Responses (`POST /v1/responses` with `store: true`).
#[derive(Debug)]
pub struct ResponsesStore {
    /// KV namespace binding name on Workers.
    pub kv: &'static str,
    pub ttl_seconds: u64,
}

/// A route whose upstream model is this sends the name the client asked for (a pattern's or
/// an alias's route passing `claude-sonnet-4-5` through as written).
pub const CLIENT_MODEL: &str = "{model}";

impl Gateway {
    /// The model a client's `name` asks for: its own name, an alias, or else the most specific
    /// pattern that matches it.
    pub fn model_index(&self, name: &str) -> Option<usize> {
        // `MODEL#PROVIDER` is pinning (no model name holds `#`): not a name a pattern takes.
        if name.contains('#') {
            return None;
        }
        if let Ok(i) = self.models.binary_search_by(|m| m.name.cmp(name)) {
            return Some(i);
        }
        if let Ok(i) = self.aliases.binary_search_by(|(a, _)| (*a).cmp(name)) {
            return self.aliases.get(i).map(|(_, m)| usize::from(*m));
        }
        self.patterns.iter().map(|i| usize::from(*i)).find(|i| {
            self.models
                .get(*i)
                .is_some_and(|m| glob_matches(m.name, name))
        })
    }

    /// The model a client's `name` asks for (see [`Gateway::model_index`]).
    pub fn model(&self, name: &str) -> Option<&'static Model>
    where
        Self: 'static,
    {
        let models: &'static [Model] = self.models;
        self.model_index(name).and_then(|i| models.get(i))
    }

    /// The names a client can send as written: every model that is not a pattern, and every
    /// alias (what `GET /v1/models` lists).
    pub fn concrete_names(&self) -> impl Iterator<Item = &'static str>
    where
        Self: 'static,
    {
        let models: &'static [Model] = self.models;
        let aliases: &'static [(&'static str, u16)] = self.aliases;
        models
            .iter()
            .map(|m| m.name)
            .filter(|n| !is_pattern(n))
            .chain(aliases.iter().map(|(a, _)| *a))
    }

    /// The provider with this id.
    pub fn provider(&self, id: &str) -> Option<(u16, &'static Provider)> {
        let providers: &'static [Provider] = self.providers;
        providers
            .iter()
            .enumerate()
            .find(|(_, p)| p.id == id)
            .map(|(i, p)| (i as u16, p))
    }
}

/// Whether a model name is a glob pattern.
pub fn is_pattern(name: &str) -> bool {
    name.contains(['*', '?'])
}

/// Whether `name` matches `pattern`: `*` is any run of characters (none included), `?` one
/// character; everything else is itself. Linear in practice: one backtrack point, the last `*`.
pub fn glob_matches(pattern: &str, name: &str) -> bool {
    let (p, n): (Vec<char>, Vec<char>) = (pattern.chars().collect(), name.chars().collect());
    let (mut pi, mut ni) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ni < n.len() {
        match p.get(pi) {
            Some('*') => {
                star = Some((pi, ni));
                pi += 1;
            }
            Some(c) if *c == '?' || Some(c) == n.get(ni) => {
                pi += 1;
                ni += 1;
            }
            _ => match star {
                Some((sp, sn)) => {
                    pi = sp + 1;
                    ni = sn + 1;
                    star = Some((sp, sn + 1));
                }
                None => return false,
            },
        }
    }
    p.get(pi..)
        .is_some_and(|rest| rest.iter().all(|c| *c == '*'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_match_runs_and_single_characters() {
        let yes = [
            ("claude-*", "claude-sonnet-4-5"),
            ("claude-*", "claude-"),
            ("*", ""),
            ("gpt-4o*", "gpt-4o"),
            ("gpt-4o*", "gpt-4o-mini"),
            ("*-mini", "gpt-4o-mini"),
            ("a*b*c", "aXbYbZc"),
            ("o?-mini", "o3-mini"),
            ("*sonnet*", "claude-3-5-sonnet-latest"),
        ];
        for (p, n) in yes {
            assert!(glob_matches(p, n), "{p} should match {n}");
        }
        let no = [
            ("claude-*", "claude"),
            ("gpt-4o*", "gpt-4"),
            ("o?-mini", "o-mini"),
            ("a*b*c", "aXbYbZ"),
            ("*-mini", "gpt-4o-mini-2024"),
        ];
        for (p, n) in no {
            assert!(!glob_matches(p, n), "{p} should not match {n}");
        }
    }
}
