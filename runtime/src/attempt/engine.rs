//! The attempt engine's per-isolate state: what survives from one request to the next.

use crate::attempt::cooldown::Cooldowns;
use crate::attempt::keepalive::Policy;
use crate::attempt::quotas::{self, Quotas};
use crate::table::Gateway;
use std::sync::atomic::{AtomicU32, Ordering};

/// The engine for one gateway: key rotation, cooldowns and the keepalive policy. Create one per
/// process / isolate (the gateway's [`Runtime`](crate::gateway::Runtime) holds it) and reuse
/// it for every request.
pub struct Engine {
    pub gateway: &'static Gateway,
    /// Key rotation per provider (same index as `gateway.providers`).
    key_ticks: Box<[AtomicU32]>,
    /// Rate-limited keys and failing routes (see [`crate::attempt::cooldown`]).
    pub cooldowns: Cooldowns,
    /// Keepalives on quiet streams and when to give up on a silent upstream
    /// ([`crate::attempt::keepalive`]); [`Policy::DEFAULT`] unless a host or test sets another.
    pub keepalive: Policy,
    /// Where declared limits are counted; `None` when no provider declares any.
    pub quotas: Option<Quotas>,
}

impl Engine {
    pub fn new(gateway: &'static Gateway) -> Self {
        Engine {
            gateway,
            key_ticks: counters(gateway.providers.len()),
            cooldowns: Cooldowns::new(gateway, gateway.cooldown),
            keepalive: Policy::DEFAULT,
            quotas: quotas::for_gateway(gateway),
        }
    }

    /// Count declared limits in `store` (shared with other threads or isolates) instead of
    /// per isolate. Nothing changes for a gateway that declares none.
    #[cfg(feature = "quotas")]
    pub fn use_quota_store(&mut self, store: std::rc::Rc<dyn crate::quota::Store>) {
        if self.quotas.is_some() {
            self.quotas = Some(Quotas::new(store));
        }
    }

    /// The next position in `provider`'s key rotation.
    pub fn next_key_tick(&self, provider: u16) -> u32 {
        self.key_ticks
            .get(usize::from(provider))
            .map_or(0, |c| c.fetch_add(1, Ordering::Relaxed))
    }
}

/// `n` counters at 0.
pub fn counters(n: usize) -> Box<[AtomicU32]> {
    (0..n).map(|_| AtomicU32::new(0)).collect()
}
