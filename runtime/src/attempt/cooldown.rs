//! Which keys and routes are resting, per isolate (per thread natively).
//!
//! Two kinds of rest, because they mean different things:
//!
//! - **A key** (provider, key index) that answered 429 is rate limited: that key, not the
//!   provider, sits out for as long as the upstream asked ([`retry_after`](super::retry_after)),
//!   capped at `max_ms`, or `default_ms` when the upstream did not say. The provider's other
//!   keys stay in use.
//! - **A route** whose upstream keeps failing (5xx, 408, timeouts, connect errors) is broken:
//!   after [`FAILURES_BEFORE_REST`] failures in a row it rests 1 s, then 2 s, 4 s... up to
//!   `max_ms`; the first success ends the streak. A single failure does not bench a route (one
//!   stray 500 should not cost every other request a detour), but the request that saw it has
//!   already moved on. A route's health is its provider's: what breaks a route — an unreachable
//!   host, an overloaded service — breaks every model on that provider alike.
//!
//! State is one `AtomicU64` ("resting until", ms since the epoch, 0 = never) per key and an
//! `AtomicU64` + `AtomicU32` per provider, allocated once in [`Cooldowns::new`]. Reading it is a
//! handful of relaxed loads per route — O(routes + keys of the tried routes), no allocation —
//! and nothing is written on the success path unless a failure streak has to be cleared.
//! Atomics rather than `Cell`s keep [`Runtime`](super::Runtime) `Sync`, at the price of nothing:
//! relaxed loads and stores compile to plain moves, on wasm32 too.
//!
//! ## Why the state is not shared across isolates
//!
//! A Workers location runs several isolates; each learns about a 429 on its own. Sharing would
//! mean, per request, one read of shared state before the first attempt (and a write after each
//! failure):
//!
//! - **Cache API** (`caches.default`): a `match` costs ~1–5 ms and is one more operation against
//!   the free plan's 50 subrequests per request; writes are eventually visible, per data
//!   centre only. The read would be paid by *every* request to save the *first* request per
//!   isolate a detour after a peer already saw the 429.
//! - **Durable Object**: strongly consistent, but a round trip to wherever the object lives
//!   (often another location: 10–100 ms), billed per request (free plan: 100,000 requests/day,
//!   the same budget as the Worker itself), and a single object serialises every request of
//!   the gateway.
//!
//! What a miss costs instead: one extra upstream attempt per isolate per cooldown window (the
//! 429 or 5xx it gets moves the request on to the next key or route within the same request,
//! usually in well under 100 ms, and the isolate then knows too). With a handful of warm
//! isolates per location that is a few extra subrequests per cooldown window, against a
//! several-millisecond tax on every request. Not worth it on the free plan; isolate-local
//! state is what is built. (Were it ever needed, the place is a `Host` method that loads and
//! stores the `until` values, so the router would not change.)

use crate::table::Gateway;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering::Relaxed};

/// Failures in a row before a route rests.
pub const FAILURES_BEFORE_REST: u32 = 2;
/// The first rest of a failing route; each further failure doubles it.
pub const FIRST_BACKOFF_MS: u64 = 1000;

/// How long rests last: the gateway's `cooldown` bounds (5 s default, 60 s max unless
/// configured).
pub type Bounds = crate::table::Cooldown;

/// Why something cannot be tried right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rest {
    /// Every key is rate limited (429).
    RateLimited,
    /// The route failed repeatedly.
    Failing,
}

/// A route that cannot be tried now, and when it can again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Resting {
    pub until_ms: u64,
    pub why: Rest,
}

struct Health {
    until: AtomicU64,
    failures: AtomicU32,
}

/// The per-isolate rest table of one gateway.
pub struct Cooldowns {
    /// `key_base[p]..key_base[p + 1]` are provider `p`'s slots in `keys`.
    key_base: Box<[u32]>,
    keys: Box<[AtomicU64]>,
    routes: Box<[Health]>,
    bounds: Bounds,
}

impl Cooldowns {
    pub fn new(gateway: &Gateway, bounds: Bounds) -> Self {
        let mut key_base = Vec::with_capacity(gateway.providers.len() + 1);
        let mut total: u32 = 0;
        for p in gateway.providers {
            key_base.push(total);
            // Keyless kinds (mock) still get one slot, so indexing stays uniform.
            total = total.saturating_add(p.api_keys.len().max(1) as u32);
        }
        key_base.push(total);
        Cooldowns {
            key_base: key_base.into_boxed_slice(),
            keys: (0..total).map(|_| AtomicU64::new(0)).collect(),
            routes: gateway
                .providers
                .iter()
                .map(|_| Health {
                    until: AtomicU64::new(0),
                    failures: AtomicU32::new(0),
                })
                .collect(),
            bounds,
        }
    }

    pub fn bounds(&self) -> Bounds {
        self.bounds
    }

    fn key_slot(&self, provider: u16, key: usize) -> Option<&AtomicU64> {
        let p = usize::from(provider);
        let base = *self.key_base.get(p)? as usize;
        let end = *self.key_base.get(p + 1)? as usize;
        let i = base.checked_add(key).filter(|i| *i < end)?;
        self.keys.get(i)
    }

    /// Until when this key is rate limited (0 or a past time: usable now).
    pub fn key_until(&self, provider: u16, key: usize) -> u64 {
        self.key_slot(provider, key).map_or(0, |a| a.load(Relaxed))
    }

    /// Whether this key may be used at `now`.
    pub fn key_ready(&self, provider: u16, key: usize, now: u64) -> bool {
        self.key_until(provider, key) <= now
    }

    /// `None` when the route can be tried at `now` (its provider is healthy and at least one
    /// of its `n_keys` keys is not rate limited); otherwise when it can be again.
    pub fn route_resting(&self, provider: u16, n_keys: usize, now: u64) -> Option<Resting> {
        let route_until = self
            .routes
            .get(usize::from(provider))
            .map_or(0, |h| h.until.load(Relaxed));
        if route_until > now {
            return Some(Resting {
                until_ms: route_until,
                why: Rest::Failing,
            });
        }
        let mut earliest = u64::MAX;
        for k in 0..n_keys.max(1) {
            let until = self.key_until(provider, k);
            if until <= now {
                return None;
            }
            earliest = earliest.min(until);
        }
        Some(Resting {
            until_ms: earliest,
            why: Rest::RateLimited,
        })
    }

    /// Record a 429 on a key; `asked_ms` is what the upstream's headers asked for. Returns
    /// how long the key rests.
    pub fn rate_limited(&self, provider: u16, key: usize, now: u64, asked_ms: Option<u64>) -> u64 {
        let rest = asked_ms
            .unwrap_or(self.bounds.default_ms)
            .min(self.bounds.max_ms);
        if let Some(slot) = self.key_slot(provider, key) {
            // Concurrent 429s: the later recovery wins.
            slot.fetch_max(now.saturating_add(rest), Relaxed);
        }
        rest
    }

    /// Record that a key's upstream announced it has nothing left for `ms` (see
    /// [`retry_after::spent_ms`](super::retry_after::spent_ms)). Not capped by `max_ms`: the
    /// upstream said exactly when, and anything sooner earns a 429. At most a day.
    pub fn spent(&self, provider: u16, key: usize, now: u64, ms: u64) {
        if let Some(slot) = self.key_slot(provider, key) {
            slot.fetch_max(now.saturating_add(ms.min(86_400_000)), Relaxed);
        }
    }

    /// Record a failed attempt on a route (5xx, 408, timeout, connect error, broken stream).
    /// `asked_ms`: a `Retry-After` that came with the failure, honoured at once.
    ///
    /// A failure that arrives while the route already rests came from a request sent before
    /// the rest began (under load, every request in flight to a broken upstream fails at about
    /// the same time): it says nothing new, so it does not lengthen the streak. Otherwise 30
    /// concurrent failures would count as 30 in a row and bench the route for `max_ms` at once
    /// instead of 1 s, 2 s, 4 s...
    pub fn failed(&self, provider: u16, now: u64, asked_ms: Option<u64>) {
        let Some(h) = self.routes.get(usize::from(provider)) else {
            return;
        };
        if h.until.load(Relaxed) > now {
            if let Some(asked) = asked_ms {
                h.until
                    .fetch_max(now.saturating_add(asked.min(self.bounds.max_ms)), Relaxed);
            }
            return;
        }
        let failures = h.failures.fetch_add(1, Relaxed).saturating_add(1);
        let backoff = if failures >= FAILURES_BEFORE_REST {
            let doublings = (failures - FAILURES_BEFORE_REST).min(20);
            FIRST_BACKOFF_MS << doublings
        } else {
            0
        };
        let rest = backoff.max(asked_ms.unwrap_or(0)).min(self.bounds.max_ms);
        if rest > 0 {
            h.until.fetch_max(now.saturating_add(rest), Relaxed);
        }
    }

    /// Record a success on a route: its failure streak ends.
    pub fn succeeded(&self, provider: u16) {
        if let Some(h) = self.routes.get(usize::from(provider)) {
            // Load first: the common case (no streak) writes nothing.
            if h.failures.load(Relaxed) != 0 {
                h.failures.store(0, Relaxed);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::{Kind, Provider};

    const fn p(id: &'static str, keys: &'static [&'static str]) -> Provider {
        Provider {
            id,
            kind: Kind::OpenAi,
            base_url: "https://x",
            api_keys: keys,
            api_version: None,
            headers: &[],
            timeout_ms: 1000,
            native_responses: false,
            key_limits: &[],
            limits: crate::table::Limits::NONE,
            reset: crate::table::DailyReset::UTC,
        }
    }

    static PROVIDERS: [Provider; 2] = [p("a", &["K1", "K2"]), p("b", &["K3"])];
    static GW: Gateway = Gateway {
        name: "t",
        auth_keys: &[],
        clients: &[],
        providers: &PROVIDERS,
        models: &[],
        aliases: &[],
        patterns: &[],
        responses_store: None,
        max_attempts: 3,
        cooldown: Bounds::DEFAULT,
        pinning: crate::table::Pinning::Off,
    };

    #[test]
    fn a_rate_limited_key_rests_then_returns() {
        let c = Cooldowns::new(&GW, Bounds::DEFAULT);
        assert_eq!(c.rate_limited(0, 1, 1000, Some(2000)), 2000);
        assert!(c.key_ready(0, 0, 1000));
        assert!(!c.key_ready(0, 1, 2999));
        assert!(c.key_ready(0, 1, 3000));
        // One key left: the route is still usable.
        assert_eq!(c.route_resting(0, 2, 1500), None);
        c.rate_limited(0, 0, 1000, None);
        assert_eq!(
            c.route_resting(0, 2, 1500),
            Some(Resting {
                until_ms: 3000,
                why: Rest::RateLimited
            })
        );
        // Other providers are untouched; out-of-range keys are ignored.
        assert_eq!(c.route_resting(1, 1, 1500), None);
        c.rate_limited(1, 7, 1000, None);
        assert_eq!(c.route_resting(1, 1, 1500), None);
    }

    #[test]
    fn rests_are_capped_and_defaulted() {
        let c = Cooldowns::new(
            &GW,
            Bounds {
                default_ms: 100,
                max_ms: 500,
            },
        );
        assert_eq!(c.rate_limited(1, 0, 0, Some(3_600_000)), 500);
        assert_eq!(c.rate_limited(0, 0, 0, None), 100);
    }

    #[test]
    fn failing_routes_back_off_exponentially_and_recover() {
        let c = Cooldowns::new(&GW, Bounds::DEFAULT);
        c.failed(1, 0, None);
        assert_eq!(c.route_resting(1, 1, 0), None, "one failure does not bench");
        c.failed(1, 0, None);
        assert_eq!(c.route_resting(1, 1, 999).map(|r| r.until_ms), Some(1000));
        c.failed(1, 1000, None);
        assert_eq!(c.route_resting(1, 1, 1000).map(|r| r.until_ms), Some(3000));
        c.failed(1, 3000, None);
        assert_eq!(c.route_resting(1, 1, 3000).map(|r| r.until_ms), Some(7000));
        // Each rest over, the next failure doubles it, up to max.
        let mut now = 7000;
        for _ in 0..40 {
            c.failed(1, now, None);
            now = c.route_resting(1, 1, now).map_or(now, |r| r.until_ms);
        }
        c.failed(1, now, None);
        assert_eq!(
            c.route_resting(1, 1, now).map(|r| r.until_ms),
            Some(now + 60_000),
            "capped at max"
        );
        c.succeeded(1);
        now += 60_000;
        c.failed(1, now, None);
        assert_eq!(c.route_resting(1, 1, now), None, "streak reset");
    }

    #[test]
    fn failures_of_requests_sent_before_a_rest_do_not_lengthen_it() {
        let c = Cooldowns::new(&GW, Bounds::DEFAULT);
        c.failed(1, 0, None);
        c.failed(1, 0, None);
        // 30 requests that were in flight when the rest began fail too.
        for t in 0..30 {
            c.failed(1, 10 + t, None);
        }
        assert_eq!(c.route_resting(1, 1, 10).map(|r| r.until_ms), Some(1000));
        // The next failure after the rest is the third in a row: 2 s.
        c.failed(1, 1000, None);
        assert_eq!(c.route_resting(1, 1, 1000).map(|r| r.until_ms), Some(3000));
        // A Retry-After that comes with a failure during a rest still counts.
        c.failed(1, 1500, Some(5000));
        assert_eq!(c.route_resting(1, 1, 1500).map(|r| r.until_ms), Some(6500));
    }

    #[test]
    fn a_retry_after_on_a_failure_is_honoured_at_once() {
        let c = Cooldowns::new(&GW, Bounds::DEFAULT);
        c.failed(0, 0, Some(4000));
        assert_eq!(
            c.route_resting(0, 2, 0),
            Some(Resting {
                until_ms: 4000,
                why: Rest::Failing
            })
        );
    }
}
