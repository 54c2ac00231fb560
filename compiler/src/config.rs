//! The `proxy.yaml` model: what a user writes.
//!
//! These types are the single source of truth for the config format: `schemas/apex.schema.json`
//! is generated from them (doc comments become the descriptions editors show on hover), and
//! the loader deserializes into them once validation has passed. Spellings here are a public
//! contract: tests, examples and users' files depend on them.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// An apexc gateway: providers, the secrets that hold their API keys, and the public model
/// names clients ask for. `apexc build` compiles it into a Cloudflare Worker.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "apexc gateway config (proxy.yaml)")]
pub struct Config {
    /// Worker name: lower-case letters, digits and dashes (it becomes the `name` in
    /// wrangler.toml and the subdomain on workers.dev).
    #[schemars(regex(pattern = r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$"))]
    pub name: String,

    /// Who may call the gateway. Without it the gateway is open to anyone who knows its URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth: Option<Auth>,

    /// Named clients, each with a gateway key of its own (a laptop's Claude Code, a CI job, a
    /// friend): which models it may use and its budget. Its key is accepted like `auth.keys`;
    /// logs name the client, never its key.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[schemars(extend("propertyNames" = { "pattern": "^[A-Za-z0-9][A-Za-z0-9_.-]*$" }))]
    pub clients: BTreeMap<String, Client>,

    /// Where stored Responses (`POST /v1/responses` with `store: true`) are kept. On Workers
    /// this is a KV namespace; mind the free plan's 1,000 KV writes per day (one per stored
    /// response).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub responses_store: Option<ResponsesStore>,

    /// State of your Cloudflare account that a rebuild must keep: the ids of resources the
    /// worker is bound to. apexc writes them into the generated wrangler.toml, so they survive
    /// every `apexc build` (wrangler.toml is generated: an id added there by hand would not).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deploy: Option<Deploy>,

    /// Most upstream attempts (keys and routes tried) for one request. Each attempt is a
    /// Workers subrequest (the free plan allows 50 per request). Default 3.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 50))]
    pub max_attempts: Option<u32>,

    /// How long rate-limited keys and failing routes sit out. A key that answers 429 rests
    /// for as long as the upstream asks (`Retry-After`, `retry-after-ms`,
    /// `x-ratelimit-reset-*`); a route that keeps failing (5xx, timeouts) rests 1 s, 2 s,
    /// 4 s... Both are capped by `max_seconds`. Defaults: 5 s and 60 s.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cooldown: Option<Cooldown>,

    /// Whether clients may choose a provider themselves by writing `"model": "MODEL#PROVIDER"`
    /// (default `off`). Anyone with a gateway key can try it, so it is off unless you allow it:
    /// `routes` lets MODEL be a public model and PROVIDER one of its routes' providers (the
    /// request then uses only those routes); `any` also sends any other model name to any
    /// provider as written (the seed project's direct addressing: every key holder can then
    /// spend any model on your provider keys).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider_pinning: Option<ProviderPinning>,

    /// What only `apexc serve` reads (the generated worker ignores it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub serve: Option<Serve>,

    /// Upstream providers by id. The id is how routes refer to a provider, and what clients
    /// write after `#` to address one directly (`DeepSeek-R1#deepseek`) when
    /// `provider_pinning` allows it.
    #[schemars(extend("propertyNames" = { "pattern": "^[^#\\s]+$" }))]
    pub providers: BTreeMap<String, Provider>,

    /// Public model names clients send in `model`, each with the routes that can serve it.
    /// A name cannot contain `#` (clients write `MODEL#PROVIDER` to pick a provider). A name
    /// with `*` (any run of characters) or `?` (one character) is a pattern: a name no model
    /// or alias has goes to the most specific pattern that matches it (the most literal
    /// characters, then the fewest `*`), and `"*"` alone takes every name nothing else does.
    /// `GET /v1/models` lists the exact names and aliases.
    #[schemars(extend("propertyNames" = { "pattern": "^[^#\\s]([^#]*[^#\\s])?$" }))]
    pub models: BTreeMap<String, Model>,
}

/// What `MODEL#PROVIDER` in a request may reach (see `provider_pinning` at the top level).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ProviderPinning {
    /// Refused (403): the gateway alone chooses providers.
    #[default]
    Off,
    /// Only a public model's own routes on that provider.
    Routes,
    /// Also any model name, sent to that provider as written.
    Any,
}

impl ProviderPinning {
    /// The spelling in proxy.yaml.
    pub fn as_str(self) -> &'static str {
        match self {
            ProviderPinning::Off => "off",
            ProviderPinning::Routes => "routes",
            ProviderPinning::Any => "any",
        }
    }
}

/// Bounds on cooldowns (see `cooldown` at the top level).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Cooldown {
    /// Seconds a key rests after a 429 that does not say how long to wait (default 5).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 3600))]
    pub default_seconds: Option<u32>,

    /// Longest rest of a key or route, whatever the upstream asks for (default 60). While
    /// everything a model can use rests, its requests get 429/503 with `Retry-After`, so keep
    /// this short enough for your clients.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 3600))]
    pub max_seconds: Option<u32>,
}

/// Gateway authentication.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Auth {
    /// Keys clients may present, as `Authorization: Bearer <key>` or `x-api-key: <key>`.
    /// Each names a secret (`wrangler secret put NAME`); the key itself is never in this file.
    pub keys: Vec<SecretRef>,
}

/// One named client of the gateway (see `clients` at the top level).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Client {
    /// The secret holding this client's gateway key (`wrangler secret put NAME`), sent as
    /// `Authorization: Bearer <key>` or `x-api-key: <key>`.
    #[schemars(regex(pattern = r"^[A-Z][A-Z0-9_]*$"))]
    pub secret: String,

    /// The model names it may ask for; glob patterns allowed (`claude-*`). Default: every
    /// model. Anything else is refused with 403 in the client's protocol.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub models: Vec<String>,

    /// Its budget: requests and tokens a minute and a (UTC) day, counted like a provider's
    /// limits; over it, the client gets 429 with `Retry-After`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limits: Option<Limits>,
}

/// Settings of `apexc serve`, the gateway as a native process.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Serve {
    /// Where declared `limits` are counted. Default: in the process, saved to a file
    /// (`apexc serve --state`, `.apexc-state.json` beside the config). With several serve
    /// processes behind one load balancer, name a Redis (or Valkey) server all of them reach:
    /// a limit is then the fleet's, not each process's. On Workers the counts are always in
    /// the worker's Durable Object.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quota_store: Option<QuotaStore>,
}

/// A shared store for quota counts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct QuotaStore {
    /// The secret holding the server's URL, `redis://[[USER]:PASSWORD@]HOST[:PORT][/DB]`
    /// (plain TCP: a server on loopback or a private network; `rediss://` is refused). Read
    /// like every secret of `apexc serve`: the environment, then `.dev.vars`. It is not a
    /// Worker secret: `apexc secrets push` leaves it out.
    pub redis: SecretRef,
}

/// A reference to a secret by name. On Workers: `wrangler secret put NAME`. For `apexc serve`
/// and `apexc dev`: an environment variable or a line `NAME=value` in `.dev.vars` beside the
/// config.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SecretRef {
    /// Secret name: upper-case letters, digits and underscores, starting with a letter
    /// (e.g. `DEEPSEEK_KEY_1`).
    #[schemars(regex(pattern = r"^[A-Z][A-Z0-9_]*$"))]
    pub secret: String,
}

/// A provider API key: the secret that holds it, and the limits its free or paid tier has.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ApiKey {
    /// Secret name: upper-case letters, digits and underscores, starting with a letter
    /// (e.g. `GROQ_KEY_1`).
    #[schemars(regex(pattern = r"^[A-Z][A-Z0-9_]*$"))]
    pub secret: String,

    /// This key's own limits (free tiers usually count per key).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limits: Option<Limits>,
}

/// Quota limits, as providers publish them. Minute windows are rolling (the last 60 s); day
/// windows start over at the provider's `reset`. A request is admitted on an estimate of its
/// tokens (about 4 bytes a token); the answer's reported usage then corrects the count.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    /// Requests per minute.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub rpm: Option<u32>,
    /// Requests per day.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub rpd: Option<u32>,
    /// Tokens per minute (input and output).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub tpm: Option<u64>,
    /// Tokens per day (input and output).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub tpd: Option<u64>,
}

impl Limits {
    /// `rpm 10, rpd 250` (or `none`), for people: `apexc diff`, the generated README.
    pub fn describe(&self) -> String {
        let parts: Vec<String> = [
            ("rpm", self.rpm.map(u64::from)),
            ("rpd", self.rpd.map(u64::from)),
            ("tpm", self.tpm),
            ("tpd", self.tpd),
        ]
        .into_iter()
        .filter_map(|(name, v)| v.map(|v| format!("{name} {v}")))
        .collect();
        if parts.is_empty() {
            "none".to_owned()
        } else {
            parts.join(", ")
        }
    }

    /// Whether any limit is set.
    pub fn any(&self) -> bool {
        self.rpm.is_some() || self.rpd.is_some() || self.tpm.is_some() || self.tpd.is_some()
    }
}

/// When a provider's day starts over.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Reset {
    /// Local time of day the daily limits reset, `HH:MM` (24-hour).
    #[schemars(regex(pattern = r"^([01][0-9]|2[0-3]):[0-5][0-9]$"))]
    pub daily_at: String,

    /// IANA time zone of `daily_at`, e.g. `America/Los_Angeles` (Gemini's free tier resets at
    /// midnight Pacific). Default `UTC`. Daylight saving time is followed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
}

/// Storage for the Responses API: `POST /v1/responses` with `store: true` (the API default)
/// keeps the response and its input items here, for `GET /v1/responses/{id}`,
/// `input_items` and `previous_response_id`. Budget: every stored response is one KV write,
/// and the Workers free plan allows 1,000 KV writes a day (clients that send `store: false`,
/// like Codex CLI, cost none). Without this setting responses are answered but not kept.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ResponsesStore {
    /// KV namespace binding name (e.g. `RESPONSES_KV`). `apexc serve` keeps responses in memory.
    #[schemars(regex(pattern = r"^[A-Za-z_][A-Za-z0-9_]*$"))]
    pub kv: String,

    /// How long a stored response lives, in seconds (default 86400, one day; KV's minimum is 60).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 60))]
    pub ttl_seconds: Option<u64>,
}

/// Ids of account resources bound to the worker (see `deploy` at the top level).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Deploy {
    /// KV namespace id (32 hex digits) by binding name, e.g. `RESPONSES_KV:
    /// 0f2ac74b498b48028cb68387c421e279`. `npx wrangler kv namespace list` shows the ids. A
    /// binding without an id here gets a new namespace at the first `wrangler deploy`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[schemars(extend("propertyNames" = { "pattern": "^[A-Za-z_][A-Za-z0-9_]*$" }))]
    #[schemars(extend("additionalProperties" = { "type": "string", "pattern": "^[0-9a-f]{32}$" }))]
    pub kv_namespaces: BTreeMap<String, String>,
}

/// One upstream provider: where it is, how to authenticate, what protocol it speaks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Provider {
    /// What the upstream speaks: `openai` (any OpenAI-compatible endpoint), `azure-openai`,
    /// or `mock` (built in, no network, deterministic answers).
    pub kind: ProviderKind,

    /// Base URL of the API, e.g. `https://api.deepseek.com/v1` (requests go to
    /// `{base_url}/chat/completions`). For `azure-openai`:
    /// `https://NAME.openai.azure.com/openai/deployments/:model` (`:model` becomes the route's
    /// model). Not used by `mock`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(url)]
    pub base_url: Option<String>,

    /// API keys, each a secret name, optionally with the key's own `limits`. Requests are
    /// spread over them, and a rate-limited or spent key is skipped. Required for every kind
    /// but `mock`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub api_keys: Vec<ApiKey>,

    /// Limits of the whole account, every key together (for providers that count per account,
    /// not per key). Requests are counted before they are sent: one that would go over is
    /// sent on another key or route, or answered 429 with `Retry-After` when none has room.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limits: Option<Limits>,

    /// When this provider's daily limits (`rpd`, `tpd`) start over. Default: midnight UTC.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reset: Option<Reset>,

    /// `api-version` query parameter (`azure-openai`), e.g. `2025-01-01-preview`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_version: Option<String>,

    /// Extra headers sent with every upstream request (not for credentials: use `api_keys`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,

    /// Milliseconds to wait for the upstream's first byte before trying the next route
    /// (default 30000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 600000))]
    pub timeout_ms: Option<u32>,

    /// How `POST /v1/responses` reaches this provider (default `bridge`): `bridge` translates
    /// Responses to the provider's chat completions (any provider; tools, streaming and stored
    /// responses handled by the gateway); `native` sends it untouched to the provider's own
    /// `{base_url}/responses` (`openai` upstreams that have the Responses API, e.g. OpenAI
    /// itself), remembering which provider served each response id so follow-up
    /// GET/DELETE/input_items calls reach it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub responses: Option<ResponsesMode>,
}

/// How the Responses API reaches a provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum ResponsesMode {
    /// Translate to chat completions (the provider needs no Responses API).
    #[serde(rename = "bridge")]
    Bridge,
    /// Pass through to the provider's own `/responses`.
    #[serde(rename = "native")]
    Native,
}

/// The protocol family of an upstream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum ProviderKind {
    /// Any OpenAI-compatible endpoint (DeepSeek, DashScope, DeepInfra, Groq, OpenRouter, ...):
    /// `Authorization: Bearer`, `{base_url}/chat/completions`.
    #[serde(rename = "openai")]
    OpenAi,
    /// Azure OpenAI: `api-key` header, `api-version` query, deployment in the path.
    #[serde(rename = "azure-openai")]
    AzureOpenAi,
    /// Built-in fake provider: no network, no keys, deterministic answers.
    #[serde(rename = "mock")]
    Mock,
    /// Anthropic's Messages API: `x-api-key` + `anthropic-version`, `{base_url}/v1/messages`
    /// (base_url e.g. `https://api.anthropic.com`). Messages clients pass through untouched;
    /// OpenAI chat clients are translated.
    #[serde(rename = "anthropic")]
    Anthropic,
}

/// A public model and how to serve it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Model {
    /// How routes are ordered for each request (default `random`). Whatever the order, a
    /// failed route falls over to the next one.
    #[serde(default)]
    pub strategy: Strategy,

    /// Other names clients may send for this model (a client's dated or vendor-prefixed
    /// names, e.g. `claude-sonnet-4-5-20250929`). Each is one exact name, unique among model
    /// names and aliases.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<String>,

    /// Upstream routes that serve this model. At least one.
    #[schemars(length(min = 1))]
    pub routes: Vec<Route>,
}

/// How a model's routes are chosen.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Strategy {
    /// Uniformly random order, per request.
    #[default]
    Random,
    /// Each request starts at the next route in turn.
    RoundRobin,
    /// Random, in proportion to each route's `weight`.
    Weighted,
    /// Always the first healthy route in the order listed.
    Priority,
}

/// One way to serve a model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Route {
    /// Id of a provider under `providers`.
    pub provider: String,
    /// The model name this provider knows (sent upstream in `model`; the deployment name for
    /// `azure-openai`).
    pub model: String,
    /// Relative share of traffic for the `weighted` strategy (default 1, must be > 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub weight: Option<u32>,
    /// Upper bound on `max_tokens` for requests served by this route (a larger request is
    /// lowered to it; one without `max_tokens` gets it). For upstreams with a small output
    /// limit, since clients such as Claude Code ask for 32000 or more.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub max_tokens: Option<u32>,
    /// Limits of this upstream model on its provider, every key together (providers such as
    /// Groq and Gemini publish limits per model).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limits: Option<Limits>,
}

pub const DEFAULT_MAX_ATTEMPTS: u32 = 3;
pub const DEFAULT_TIMEOUT_MS: u32 = 30_000;
pub const DEFAULT_TTL_SECONDS: u64 = 86_400;
pub const DEFAULT_COOLDOWN_SECONDS: u32 = 5;
pub const DEFAULT_MAX_COOLDOWN_SECONDS: u32 = 60;

impl Config {
    /// The cooldown bounds in milliseconds, defaults applied: (default, max). A default
    /// above the max is capped by it.
    pub fn cooldown_ms(&self) -> (u64, u64) {
        let c = self.cooldown.as_ref();
        let max = c
            .and_then(|c| c.max_seconds)
            .unwrap_or(DEFAULT_MAX_COOLDOWN_SECONDS);
        let default = c
            .and_then(|c| c.default_seconds)
            .unwrap_or(DEFAULT_COOLDOWN_SECONDS)
            .min(max);
        (u64::from(default) * 1000, u64::from(max) * 1000)
    }
}
