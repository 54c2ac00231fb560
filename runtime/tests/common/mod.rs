//! Shared by the router tests: a static gateway table and a fake host that records upstream
//! requests and answers from a script.
#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use apex_runtime::gateway::Runtime;
use apex_runtime::host::{Body, FetchError, Host, HttpRequest, HttpResponse};
use apex_runtime::table::{Cooldown, Gateway, Kind, Model, Pinning, Provider, Route, Strategy};
use bytes::Bytes;
use futures::StreamExt;
use std::cell::{Cell, RefCell};
use std::collections::{HashMap, VecDeque};
use std::rc::Rc;

pub const ALPHA_KEY_1: &str = "alpha-secret-value-1111";
pub const ALPHA_KEY_2: &str = "alpha-secret-value-2222";
pub const BETA_KEY: &str = "beta-secret-value-3333";
pub const AZURE_KEY: &str = "azure-secret-value-4444";
pub const GW_KEY: &str = "gw-key-aaaa";
pub const GW_KEY_2: &str = "gw-key-bbbb";
/// Every key value the test gateways know: what no answer may ever show.
#[allow(dead_code)]
pub const ALL_KEYS: [&str; 6] = [
    ALPHA_KEY_1,
    ALPHA_KEY_2,
    BETA_KEY,
    AZURE_KEY,
    GW_KEY,
    GW_KEY_2,
];

pub const fn provider(
    id: &'static str,
    kind: Kind,
    base_url: &'static str,
    api_keys: &'static [&'static str],
) -> Provider {
    Provider {
        id,
        kind,
        base_url,
        api_keys,
        api_version: None,
        headers: &[],
        timeout_ms: 1000,
        native_responses: false,
        key_limits: &[],
        limits: apex_runtime::table::Limits::NONE,
        reset: apex_runtime::table::DailyReset::UTC,
    }
}

const fn route(provider: u16, model: &'static str, weight: u32) -> Route {
    Route {
        provider,
        model,
        weight,
        max_tokens: None,
        limits: apex_runtime::table::Limits::NONE,
    }
}

pub static PROVIDERS: [Provider; 4] = [
    Provider {
        headers: &[("X-Extra", "on")],
        ..provider(
            "alpha",
            Kind::OpenAi,
            "https://alpha.example/v1",
            &["ALPHA_KEY_1", "ALPHA_KEY_2"],
        )
    },
    provider(
        "beta",
        Kind::OpenAi,
        "https://beta.example/v1",
        &["BETA_KEY"],
    ),
    Provider {
        api_version: Some("2025-01-01-preview"),
        timeout_ms: 2500,
        ..provider(
            "azure",
            Kind::AzureOpenAi,
            "https://az.example/openai/deployments/:model",
            &["AZURE_KEY"],
        )
    },
    provider("mock", Kind::Mock, "", &[]),
];

/// Sorted by name, as the compiler emits them.
pub static MODELS: [Model; 7] = [
    Model {
        name: "chat-azure",
        strategy: Strategy::Random,
        routes: &[route(2, "gpt-4o-mini", 1)],
    },
    Model {
        name: "chat-pri",
        strategy: Strategy::Priority,
        routes: &[route(0, "a-model", 1), route(1, "b-model", 1)],
    },
    Model {
        name: "chat-rand",
        strategy: Strategy::Random,
        routes: &[route(0, "a-model", 1), route(1, "b-model", 1)],
    },
    Model {
        name: "chat-rr",
        strategy: Strategy::RoundRobin,
        routes: &[route(0, "a-model", 1), route(1, "b-model", 1)],
    },
    Model {
        name: "chat-w",
        strategy: Strategy::Weighted,
        routes: &[route(0, "a-model", 3), route(1, "b-model", 1)],
    },
    Model {
        name: "demo",
        strategy: Strategy::Random,
        routes: &[route(3, "mock-1", 1)],
    },
    Model {
        name: "org/model-x",
        strategy: Strategy::Random,
        routes: &[route(0, "x", 1)],
    },
];

const fn gateway(
    name: &'static str,
    auth_keys: &'static [&'static str],
    max_attempts: u32,
    pinning: Pinning,
) -> Gateway {
    Gateway {
        name,
        auth_keys,
        clients: &[],
        providers: &PROVIDERS,
        models: &MODELS,
        aliases: &[],
        patterns: &[],
        responses_store: None,
        max_attempts,
        cooldown: Cooldown::DEFAULT,
        pinning,
    }
}

/// With `model#provider` open to any model on any provider (`provider_pinning: any`).
pub static GATEWAY: Gateway = gateway("test-gw", &["GW_KEY", "GW_KEY_2"], 3, Pinning::Any);

/// The same providers without auth and with a higher attempt bound.
pub static OPEN_GATEWAY: Gateway = gateway("open-gw", &[], 5, Pinning::Any);

/// `model#provider` as a config without `provider_pinning` has it: refused.
pub static UNPINNED_GATEWAY: Gateway =
    gateway("unpinned-gw", &["GW_KEY", "GW_KEY_2"], 3, Pinning::Off);

/// `provider_pinning: routes`: only a public model's own routes.
pub static ROUTES_PINNED_GATEWAY: Gateway =
    gateway("routes-gw", &["GW_KEY", "GW_KEY_2"], 3, Pinning::Routes);

type Scripted = Result<HttpResponse, FetchError>;

/// A host whose upstream is a script: each `fetch` records the request and returns the next
/// scripted answer (200 `{"ok":true}` when the script is empty).
///
/// Time is virtual: `now_ms` reads a clock that only moves when a test says so
/// ([`FakeHost::advance`], a scripted upstream latency) or when the router sleeps — a sleep
/// that gets polled jumps the clock forward and resolves at once, so timeouts and cooldown
/// waits are tested without waiting.
pub struct FakeHost {
    pub secrets: RefCell<HashMap<&'static str, String>>,
    pub requests: RefCell<Vec<(HttpRequest, u32)>>,
    /// (latency before the answer, the answer)
    pub script: RefCell<VecDeque<(u64, Scripted)>>,
    /// Virtual clock, ms since the epoch.
    pub clock: Cell<u64>,
    /// Every sleep the router asked for, in ms.
    pub sleeps: RefCell<Vec<u64>>,
    /// Every line handed to `Host::log`.
    pub logs: RefCell<Vec<String>>,
    /// The KV store every binding name opens (see [`FakeKv`]).
    pub kv: Rc<FakeKv>,
    rng: Cell<u32>,
}

/// An in-memory KV namespace that counts writes (TTL recorded, not enforced).
#[derive(Default)]
pub struct FakeKv {
    pub entries: RefCell<HashMap<String, (String, u64)>>,
    pub writes: Cell<u32>,
}

impl apex_runtime::host::KvStore for FakeKv {
    fn get(&self, key: &str) -> apex_runtime::host::LocalFuture<Option<String>> {
        let v = self.entries.borrow().get(key).map(|(v, _)| v.clone());
        Box::pin(std::future::ready(v))
    }
    fn put(
        &self,
        key: &str,
        value: String,
        ttl_seconds: u64,
    ) -> apex_runtime::host::LocalFuture<Result<(), String>> {
        self.writes.set(self.writes.get() + 1);
        self.entries
            .borrow_mut()
            .insert(key.to_owned(), (value, ttl_seconds));
        Box::pin(std::future::ready(Ok(())))
    }
    fn delete(&self, key: &str) -> apex_runtime::host::LocalFuture<Result<(), String>> {
        self.entries.borrow_mut().remove(key);
        Box::pin(std::future::ready(Ok(())))
    }
}

/// Where the fake clock starts: 2026-01-01T00:00:00Z.
pub const START_MS: u64 = 1_767_225_600_000;

impl FakeHost {
    pub fn new() -> Self {
        let secrets = HashMap::from([
            ("ALPHA_KEY_1", ALPHA_KEY_1.to_owned()),
            ("ALPHA_KEY_2", ALPHA_KEY_2.to_owned()),
            ("BETA_KEY", BETA_KEY.to_owned()),
            ("AZURE_KEY", AZURE_KEY.to_owned()),
            ("GW_KEY", GW_KEY.to_owned()),
            ("GW_KEY_2", GW_KEY_2.to_owned()),
        ]);
        FakeHost {
            secrets: RefCell::new(secrets),
            requests: RefCell::new(Vec::new()),
            script: RefCell::new(VecDeque::new()),
            clock: Cell::new(START_MS),
            sleeps: RefCell::new(Vec::new()),
            logs: RefCell::new(Vec::new()),
            kv: Rc::new(FakeKv::default()),
            rng: Cell::new(0x9E37_79B9),
        }
    }

    pub fn then(&self, answer: Scripted) -> &Self {
        self.then_after(0, answer)
    }

    /// An answer that arrives `latency_ms` after the request (on the virtual clock).
    pub fn then_after(&self, latency_ms: u64, answer: Scripted) -> &Self {
        self.script.borrow_mut().push_back((latency_ms, answer));
        self
    }

    /// A status with extra headers (`retry-after`, ...).
    pub fn then_with(&self, status: u16, headers: &[(&str, &str)], body: &str) -> &Self {
        let mut resp = response(status, body);
        for (k, v) in headers {
            resp.headers.push((k.to_string(), v.to_string()));
        }
        self.then(Ok(resp))
    }

    pub fn advance(&self, ms: u64) {
        self.clock.set(self.clock.get() + ms);
    }

    pub fn now(&self) -> u64 {
        self.clock.get()
    }

    pub fn then_status(&self, status: u16, body: &str) -> &Self {
        self.then(Ok(response(status, body)))
    }

    pub fn urls(&self) -> Vec<String> {
        self.requests
            .borrow()
            .iter()
            .map(|(r, _)| r.url.clone())
            .collect()
    }

    /// The upstream host names hit so far, in order (`alpha.example`, ...).
    pub fn hosts(&self) -> Vec<String> {
        self.urls()
            .iter()
            .map(|u| {
                u.trim_start_matches("https://")
                    .split('/')
                    .next()
                    .unwrap()
                    .to_owned()
            })
            .collect()
    }
}

impl Host for FakeHost {
    fn secret(&self, name: &str) -> Option<String> {
        self.secrets.borrow().get(name).cloned()
    }

    fn fetch(
        &self,
        req: HttpRequest,
        timeout_ms: u32,
    ) -> impl std::future::Future<Output = Scripted> {
        self.requests.borrow_mut().push((req, timeout_ms));
        let (latency, next) = self
            .script
            .borrow_mut()
            .pop_front()
            .unwrap_or_else(|| (0, Ok(response(200, r#"{"ok":true}"#))));
        self.advance(latency);
        std::future::ready(next)
    }

    fn now_ms(&self) -> u64 {
        self.clock.get()
    }

    // Lazy: the clock moves only if the sleep is actually polled (in a race with a stream
    // that already has data, it is not).
    async fn sleep(&self, ms: u64) {
        self.sleeps.borrow_mut().push(ms);
        self.advance(ms);
    }

    fn log(&self, line: &dyn std::fmt::Display) {
        self.logs.borrow_mut().push(line.to_string());
    }

    fn kv(&self, _binding: &str) -> Option<apex_runtime::host::Kv> {
        Some(self.kv.clone())
    }

    fn random_u32(&self) -> u32 {
        // xorshift32: deterministic but well spread.
        let mut x = self.rng.get();
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        self.rng.set(x);
        x
    }
}

pub fn response(status: u16, body: &str) -> HttpResponse {
    HttpResponse {
        status,
        headers: vec![("content-type".into(), "application/json".into())],
        body: Body::Bytes(Bytes::from(body.to_owned())),
    }
}

pub fn request(method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> HttpRequest {
    HttpRequest {
        method: method.to_owned(),
        url: path.to_owned(),
        headers: headers
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        body: Bytes::from(body.to_owned()),
    }
}

/// An authorized POST.
pub fn post(path: &str, body: &str) -> HttpRequest {
    let auth = format!("Bearer {GW_KEY}");
    request(
        "POST",
        path,
        &[
            ("authorization", &auth),
            ("content-type", "application/json"),
        ],
        body,
    )
}

pub fn get(path: &str) -> HttpRequest {
    let auth = format!("Bearer {GW_KEY}");
    request("GET", path, &[("authorization", &auth)], "")
}

pub fn chat(model: &str) -> String {
    format!(r#"{{"model":"{model}","messages":[{{"role":"user","content":"hi"}}]}}"#)
}

pub fn run(gateway: &'static Gateway, host: &FakeHost, req: HttpRequest) -> HttpResponse {
    let rt = Runtime::new(gateway);
    futures::executor::block_on(rt.handle(host, req))
}

pub fn body_of(resp: HttpResponse) -> Vec<u8> {
    match resp.body.opened() {
        Body::Empty | Body::Platform(_) => Vec::new(),
        Body::Bytes(b) => b.to_vec(),
        Body::Stream(mut s) => futures::executor::block_on(async move {
            let mut out = Vec::new();
            while let Some(chunk) = s.next().await {
                out.extend_from_slice(&chunk.unwrap());
            }
            out
        }),
    }
}

pub fn json_of(resp: HttpResponse) -> serde_json::Value {
    let body = body_of(resp);
    serde_json::from_slice(&body)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&body)))
}

pub fn header<'a>(resp: &'a HttpResponse, name: &str) -> Option<&'a str> {
    resp.header(name)
}

/// Asserts the OpenAI error shape and returns the error object.
pub fn assert_error(resp: HttpResponse, status: u16) -> serde_json::Value {
    assert_eq!(resp.status, status, "status");
    assert_eq!(resp.header("content-type"), Some("application/json"));
    assert_eq!(resp.header("access-control-allow-origin"), Some("*"));
    let v = json_of(resp);
    let e = v
        .get("error")
        .unwrap_or_else(|| panic!("no error object: {v}"))
        .clone();
    assert!(
        e["message"].as_str().is_some_and(|m| !m.is_empty()),
        "message: {e}"
    );
    assert!(e["type"].is_string(), "type: {e}");
    assert!(
        e.get("param").is_some() && e.get("code").is_some(),
        "param/code present: {e}"
    );
    e
}
