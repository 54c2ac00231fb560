//! The Workers host: the generated crate's `#[event(fetch)]` calls [`fetch`], which runs the
//! router inside the isolate and hands its response back to the Workers runtime.
//!
//! - One [`Runtime`] per isolate and gateway, created on first use and kept (round-robin
//!   counters and cooldowns live as long as the isolate does).
//! - Requests and responses cross the JS↔wasm boundary as few times as they can (see
//!   [`http`]): every call across it costs CPU time the Worker is billed for, and a gateway
//!   makes several per request.
//! - Upstream calls use the global `fetch` with an `AbortController`: if no response headers
//!   arrive within the provider's `timeout_ms`, the call is aborted (it stops counting against
//!   the isolate) and reported as [`FetchError::Timeout`].
//! - Streamed bodies stay streams in both directions, and an upstream body the router passes
//!   through untouched is handed back to the platform without being read at all.

mod http;
mod kv;
#[cfg(feature = "quotas")]
mod quotas;
mod stream;

#[cfg(feature = "quotas")]
pub use quotas::QuotaObject;

use crate::gateway::Runtime;
use crate::host::{FetchError, Host, HttpRequest, HttpResponse};
use crate::table::Gateway;
use std::cell::RefCell;
use std::future::Future;
use std::time::Duration;
use worker::web_sys;

thread_local! {
    /// The isolate's runtimes, by gateway address (one in practice: a worker has one gateway).
    static RUNTIMES: RefCell<Vec<(usize, &'static Runtime)>> = const { RefCell::new(Vec::new()) };
    /// Secrets read so far, by binding name. An isolate's bindings never change (a new secret
    /// value is a new deployment, hence new isolates), and reading one from `env` costs a few
    /// calls across the boundary on every request otherwise.
    static SECRETS: RefCell<Vec<(&'static str, Option<String>)>> = const { RefCell::new(Vec::new()) };
}

fn runtime_for(gateway: &'static Gateway, env: &worker::Env) -> &'static Runtime {
    let key = gateway as *const Gateway as usize;
    RUNTIMES.with(|cell| {
        let mut runtimes = cell.borrow_mut();
        if let Some((_, rt)) = runtimes.iter().find(|(k, _)| *k == key) {
            return *rt;
        }
        #[cfg_attr(not(feature = "quotas"), allow(unused_mut))]
        let mut rt = Runtime::new(gateway);
        // Declared limits are counted in the worker's Durable Object (see `quotas`).
        #[cfg(feature = "quotas")]
        rt.engine
            .use_quota_store(std::rc::Rc::new(quotas::DurableStore::new(env)));
        #[cfg(not(feature = "quotas"))]
        let _ = env;
        // Leaked on purpose: it lives as long as the isolate, which is the point.
        let rt: &'static Runtime = Box::leak(Box::new(rt));
        runtimes.push((key, rt));
        rt
    })
}

/// Serve one request of the Worker's fetch event.
pub async fn fetch(
    gateway: &'static Gateway,
    req: web_sys::Request,
    env: worker::Env,
) -> worker::Result<web_sys::Response> {
    let runtime = runtime_for(gateway, &env);
    let host = WorkersHost { env };
    let mut request = http::head(&req);
    // Auth from the head alone: a client without a key is answered before its body is read.
    let response = match runtime.refuse_before_body(&host, &request) {
        Some(refused) => refused,
        None => match http::body(&req, &request.headers).await {
            Ok(body) => {
                request.body = body;
                runtime.handle(&host, request).await
            }
            Err(refusal) => refusal,
        },
    };
    http::outbound(response)
}

/// The platform services a Worker gives the router.
pub struct WorkersHost {
    env: worker::Env,
}

impl WorkersHost {
    pub fn new(env: worker::Env) -> Self {
        WorkersHost { env }
    }

    fn read_secret(&self, name: &str) -> Option<String> {
        // Deployed keys are secrets; `wrangler dev` also exposes `.dev.vars` entries as
        // secrets, and a `[vars]` entry is accepted so a local setup can use plain vars.
        self.env
            .secret(name)
            .ok()
            .map(|s| s.to_string())
            .or_else(|| self.env.var(name).ok().map(|v| v.to_string()))
    }
}

impl Host for WorkersHost {
    fn secret(&self, name: &str) -> Option<String> {
        if let Some(known) = SECRETS.with(|c| {
            c.borrow()
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| v.clone())
        }) {
            return known;
        }
        let value = self.read_secret(name);
        // The names come from the gateway's static tables, so there are a handful; a name
        // outside them (never asked today) is read every time rather than kept.
        SECRETS.with(|c| {
            let mut cache = c.borrow_mut();
            if cache.len() < 256 {
                cache.push((Box::leak(name.to_owned().into_boxed_str()), value.clone()));
            }
        });
        value
    }

    fn fetch(
        &self,
        req: HttpRequest,
        timeout_ms: u32,
    ) -> impl Future<Output = Result<HttpResponse, FetchError>> {
        http::upstream_fetch(req, timeout_ms)
    }

    fn now_ms(&self) -> u64 {
        js_sys::Date::now() as u64
    }

    fn random_u32(&self) -> u32 {
        (js_sys::Math::random() * 4_294_967_296.0) as u32
    }

    fn sleep(&self, ms: u64) -> impl Future<Output = ()> {
        worker::Delay::from(Duration::from_millis(ms))
    }

    // A `Delay` wakes the task that first polled it; `keepalive` makes a fresh one per wait.
    fn timers(&self) -> Option<crate::host::Timers> {
        Some(std::rc::Rc::new(|ms| {
            Box::pin(worker::Delay::from(Duration::from_millis(ms))) as crate::host::LocalFuture<()>
        }))
    }

    fn log(&self, line: &dyn std::fmt::Display) {
        worker::console_log!("{line}");
    }

    fn kv(&self, binding: &str) -> Option<crate::host::Kv> {
        let store = self.env.kv(binding).ok()?;
        Some(std::rc::Rc::new(kv::WorkersKv(store)))
    }
}
