//! Where the engine meets [`crate::quota`]: which key of a route carries a request when its
//! provider declares limits, and what each attempt turned out to cost.
//!
//! Once a gateway declares limits anywhere, every route with keys goes through the store: a
//! key without limits of its own is a scope too, for the rests its upstream asks for, so what
//! one isolate learned from a 429 every isolate honours. A config without limits compiles
//! none of this (feature `quotas`): its keys rotate and rest per isolate.

use crate::attempt::plan::Target;
use crate::log::RequestLog;
use crate::table::Provider;

/// What carries the next attempt on a route.
pub enum Pick {
    /// This key, with the reservation it holds (when the route counts).
    Key(usize, Option<Held>),
    /// Every key left is out of quota until this moment.
    Exhausted(Until),
    /// No key left.
    Nothing,
}

/// How an attempt that held a reservation ended.
pub enum Outcome {
    /// Answered (counted as reserved).
    Answered,
    /// Refused with 429: the upstream did not count it; the key rests `rest_ms`.
    Refused { rest_ms: u64 },
    /// Never reached the upstream (its secret is not set, the kind cannot make the call, the
    /// connection failed): given back.
    NotSent,
    /// The upstream said the key has nothing left for `ms`.
    Spent { ms: u64 },
}

#[cfg(feature = "quotas")]
pub use with_quotas::*;
#[cfg(not(feature = "quotas"))]
pub use without_quotas::*;

#[cfg(not(feature = "quotas"))]
mod without_quotas {
    use super::*;

    /// Nothing: this build has no quota code (no provider declares limits).
    pub enum Quotas {}

    /// Nothing is held without quotas.
    pub enum Held {}

    /// No route is ever out of quota without quotas: the engine's out-of-quota answer is dead
    /// code the compiler drops (a config without limits pays no byte for it).
    pub enum Until {}

    pub fn moment(until: Until) -> u64 {
        match until {}
    }

    pub fn sooner(_: Option<Until>, until: Until) -> Option<Until> {
        match until {}
    }

    pub fn for_gateway(_: &crate::table::Gateway) -> Option<Quotas> {
        None
    }

    /// No limit counts tokens without quotas.
    pub const fn meters_tokens(_: &Provider, _: &Target<'_>) -> bool {
        false
    }

    /// Nothing to meter without quotas.
    pub enum Tap {}

    pub fn tap(_: Option<&Quotas>, held: &Held) -> Option<Tap> {
        match *held {}
    }

    pub fn metered_body(_: crate::host::Body, tap: Tap) -> crate::host::Body {
        match tap {}
    }

    pub fn metered_stream(_: crate::host::ByteStream, tap: Tap) -> crate::host::ByteStream {
        match tap {}
    }

    /// The first key left: nothing to await (a ready future, no state of its own).
    pub fn pick(
        _: Option<&Quotas>,
        _: &'static Provider,
        _: &Target<'_>,
        left: &mut Vec<usize>,
        _: u64,
        _: u64,
        _: &mut RequestLog,
    ) -> std::future::Ready<Pick> {
        std::future::ready(if left.is_empty() {
            Pick::Nothing
        } else {
            Pick::Key(left.remove(0), None)
        })
    }

    pub fn settle(
        _: Option<&Quotas>,
        held: Held,
        _: Outcome,
        _: u64,
        _: &mut RequestLog,
    ) -> std::future::Ready<()> {
        match held {}
    }
}

#[cfg(feature = "quotas")]
mod with_quotas {
    use super::*;
    use crate::quota::{day, Ask, Grant, Local, Scope, Settle, Store};
    use crate::table::{Gateway, Limits};
    use std::cell::RefCell;
    use std::rc::Rc;
    use std::sync::Arc;

    /// A moment (ms since the epoch) a route out of quota has room again.
    pub type Until = u64;

    pub fn moment(until: Until) -> u64 {
        until
    }

    /// The sooner of two moments.
    pub fn sooner(known: Option<Until>, until: Until) -> Option<Until> {
        Some(known.map_or(until, |k| k.min(until)))
    }

    /// The store a gateway's counts live in, the per-isolate counts used when it fails, and
    /// the corrections of answered requests waiting for the next round trip to the store.
    pub struct Quotas {
        store: Rc<dyn Store>,
        fallback: Arc<Local>,
        pending: Rc<RefCell<Vec<Settle>>>,
    }

    impl Quotas {
        pub fn new(store: Rc<dyn Store>) -> Self {
            Quotas {
                store,
                fallback: Arc::new(Local::default()),
                pending: Rc::default(),
            }
        }

        /// The corrections waiting, taken (they go with the next message).
        fn take_pending(&self) -> Vec<Settle> {
            self.pending
                .try_borrow_mut()
                .map(|mut p| std::mem::take(&mut *p))
                .unwrap_or_default()
        }
    }

    /// What an answered attempt's body reports it cost, recorded against its reservation once
    /// the body is read (see `attempt::metered`).
    pub struct Tap {
        pending: Rc<RefCell<Vec<Settle>>>,
        held: Held,
    }

    /// A tap for the answer to `held`, when a limit on tokens counts it.
    pub fn tap(quotas: Option<&Quotas>, held: &Held) -> Option<Tap> {
        let q = quotas.filter(|_| held.counts_tokens)?;
        Some(Tap {
            pending: q.pending.clone(),
            held: held.clone(),
        })
    }

    /// `body`, metered for `tap`.
    pub fn metered_body(body: crate::host::Body, tap: Tap) -> crate::host::Body {
        crate::attempt::metered::body(body, move |m| tap.report(m))
    }

    /// `stream`, metered for `tap`.
    pub fn metered_stream(stream: crate::host::ByteStream, tap: Tap) -> crate::host::ByteStream {
        crate::attempt::metered::stream(stream, move |m| tap.report(m))
    }

    impl Tap {
        /// Queues the difference between what the answer reported and the estimate; nothing
        /// when it reported nothing (the estimate stands). It is settled with this isolate's
        /// next reservation, so it costs no round trip of its own.
        pub fn report(self, meter: &crate::quota::usage::Meter) {
            let Some(used) = meter.tokens() else { return };
            let delta = i64::try_from(used)
                .unwrap_or(i64::MAX)
                .saturating_sub(i64::try_from(self.held.tokens).unwrap_or(i64::MAX));
            if delta == 0 {
                return;
            }
            if let Ok(mut pending) = self.pending.try_borrow_mut() {
                pending.extend(self.held.settles(&self.held.scopes, 0, delta, 0));
            }
        }
    }

    /// Whether some provider, key, route or client of `gateway` declares limits.
    pub fn declared(gateway: &Gateway) -> bool {
        gateway.clients.iter().any(|c| c.limits.any())
            || gateway
                .providers
                .iter()
                .any(|p| p.limits.any() || p.key_limits.iter().any(Limits::any))
            || gateway
                .models
                .iter()
                .flat_map(|m| m.routes)
                .any(|r| r.limits.any())
    }

    /// Per-isolate counts, when `gateway` declares limits.
    pub fn for_gateway(gateway: &Gateway) -> Option<Quotas> {
        declared(gateway).then(|| Quotas::new(Rc::new(Arc::new(Local::default()))))
    }

    /// A reservation an attempt in flight holds.
    #[derive(Clone)]
    pub struct Held {
        /// The scopes it counted in, the key's first, each with the quota day it counted in
        /// (a provider's `reset` and a client's UTC day can differ).
        scopes: Vec<(String, i64)>,
        at_ms: u64,
        tokens: u64,
        /// One of its scopes limits tokens: the answer's usage corrects the estimate.
        counts_tokens: bool,
    }

    /// Whether a limit on tokens counts attempts on `target` (their answers' usage is read).
    pub fn meters_tokens(provider: &Provider, target: &Target<'_>) -> bool {
        let tokens = |l: &Limits| l.tpm.is_some() || l.tpd.is_some();
        tokens(&provider.limits) || tokens(&target.limits) || provider.key_limits.iter().any(tokens)
    }

    /// Whether attempts on a route go through the store: on every route with keys, once the
    /// gateway declares limits anywhere (there is a store at all). A route without limits of
    /// its own still shares the rests its keys' upstream asked for (a 429's `Retry-After`,
    /// `x-ratelimit-remaining-*: 0`), so every isolate and every restart honours what one of
    /// them learned rather than learning the same 429 again.
    fn counted(provider: &Provider) -> bool {
        !provider.api_keys.is_empty()
    }

    /// The key of `left` (cooldowns already applied) to try next: the one with the most
    /// headroom, reserved, when the route counts; else the first.
    pub async fn pick(
        quotas: Option<&Quotas>,
        provider: &'static Provider,
        target: &Target<'_>,
        left: &mut Vec<usize>,
        tokens: u64,
        now: u64,
        log: &mut RequestLog,
    ) -> Pick {
        if left.is_empty() {
            return Pick::Nothing;
        }
        let budget = log.client.is_some_and(|c| c.limits.any());
        let Some(q) = quotas.filter(|_| budget || counted(provider)) else {
            return Pick::Key(left.remove(0), None);
        };
        let ask = ask_for(provider, target, left, tokens, now, log.client);
        let earlier = q.take_pending();
        let grant = match q.store.reserve(ask.clone(), earlier.clone()).await {
            Ok(g) => g,
            Err(why) => {
                log.quota_fallback = Some(why);
                q.fallback.reserve_now(&ask, &earlier)
            }
        };
        match grant {
            Grant::Go { candidate } if candidate < left.len() => {
                let held = held(&ask, candidate);
                Pick::Key(left.remove(candidate), Some(held))
            }
            Grant::Go { .. } => Pick::Nothing,
            Grant::Exhausted { until_ms } => {
                left.clear();
                Pick::Exhausted(until_ms)
            }
        }
    }

    /// Record how the attempt that held `held` ended.
    pub async fn settle(
        quotas: Option<&Quotas>,
        held: Held,
        outcome: Outcome,
        now: u64,
        log: &mut RequestLog,
    ) {
        let Some(q) = quotas else { return };
        let (give_back, block_ms) = match outcome {
            Outcome::Answered => return,
            Outcome::Refused { rest_ms } => (true, rest_ms),
            Outcome::NotSent => (true, 0),
            Outcome::Spent { ms } => (false, ms.min(day::DAY_MS)),
        };
        let mut settles = q.take_pending();
        if block_ms > 0 {
            // A block is the key's alone (its scope comes first).
            let key = held.scopes.get(..1).unwrap_or_default();
            settles.extend(held.settles(key, 0, 0, now.saturating_add(block_ms)));
        }
        if give_back {
            let tokens = -i64::try_from(held.tokens).unwrap_or(i64::MAX);
            settles.extend(held.settles(&held.scopes, -1, tokens, 0));
        }
        if let Err(why) = q.store.settle(settles.clone()).await {
            log.quota_fallback = Some(why);
            q.fallback.settle_now(&settles);
        }
    }

    fn held(ask: &Ask, candidate: usize) -> Held {
        let chosen = ask.candidates.get(candidate).into_iter().flatten();
        let counts_tokens = chosen
            .filter_map(|i| ask.scopes.get(*i))
            .any(|s| s.limits.tpm.is_some() || s.limits.tpd.is_some());
        let scopes = ask
            .candidates
            .get(candidate)
            .into_iter()
            .flatten()
            .filter_map(|i| ask.scopes.get(*i))
            .map(|s| (s.name.clone(), s.day))
            .collect();
        Held {
            scopes,
            at_ms: ask.now_ms,
            tokens: ask.tokens,
            counts_tokens,
        }
    }

    impl Held {
        /// `requests`, `tokens` and a block on `scopes` (some of this reservation's), as
        /// settlements: one per quota day among them.
        fn settles(
            &self,
            scopes: &[(String, i64)],
            requests: i64,
            tokens: i64,
            blocked_until: u64,
        ) -> Vec<Settle> {
            let mut out: Vec<Settle> = Vec::with_capacity(1);
            for (name, day) in scopes {
                match out.iter_mut().find(|s| s.day == *day) {
                    Some(s) => s.scopes.push(name.clone()),
                    None => out.push(Settle {
                        scopes: vec![name.clone()],
                        at_ms: self.at_ms,
                        day: *day,
                        requests,
                        tokens,
                        blocked_until,
                    }),
                }
            }
            out
        }
    }

    /// One candidate per key of `keys`: the key's scope first, then the account's, the
    /// upstream model's and the calling client's when they declare limits.
    fn ask_for(
        provider: &Provider,
        target: &Target<'_>,
        keys: &[usize],
        tokens: u64,
        now: u64,
        client: Option<&crate::table::Client>,
    ) -> Ask {
        let (day, day_ends_ms) = day::day_of(&provider.reset, now);
        let scope = |name: String, limits: Limits| Scope {
            name,
            limits,
            day,
            day_ends_ms,
        };
        let mut scopes = Vec::with_capacity(keys.len() + 2);
        if provider.limits.any() {
            scopes.push(scope(format!("provider:{}", provider.id), provider.limits));
        }
        if target.limits.any() {
            let name = format!("model:{}:{}", provider.id, target.model);
            scopes.push(scope(name, target.limits));
        }
        if let Some(c) = client.filter(|c| c.limits.any()) {
            // A client's budget is a UTC day, whichever provider serves it.
            let (day, day_ends_ms) = day::day_of(&crate::table::DailyReset::UTC, now);
            scopes.push(Scope {
                name: format!("client:{}", c.name),
                limits: c.limits,
                day,
                day_ends_ms,
            });
        }
        let shared: Vec<usize> = (0..scopes.len()).collect();
        let mut candidates = Vec::with_capacity(keys.len());
        for k in keys {
            let limits = provider.key_limits.get(*k).copied().unwrap_or_default();
            candidates.push(
                std::iter::once(scopes.len())
                    .chain(shared.iter().copied())
                    .collect(),
            );
            scopes.push(scope(key_scope(provider, *k), limits));
        }
        Ask {
            now_ms: now,
            tokens,
            scopes,
            candidates,
        }
    }

    /// A key's scope name: its secret's name, which survives reordering `api_keys`.
    fn key_scope(provider: &Provider, k: usize) -> String {
        match provider.api_keys.get(k) {
            Some(secret) => format!("key:{secret}"),
            None => format!("key:{}#{k}", provider.id),
        }
    }
}
