//! Quotas: declared limits (`limits` in the config) counted before a request is sent, so a
//! free tier's requests-per-day or tokens-per-minute are never overrun, and limits an upstream
//! announces in its headers honoured too.
//!
//! - [`counts`]: one scope's rolling minute and quota day.
//! - [`day`]: when a provider's day starts over (its `reset`).
//! - [`Ledger`]: the decision, once for every store: of the candidates an ask names, the one
//!   with the most headroom, reserved.
//! - [`Store`]: where counts live. [`Local`] keeps them in memory (a Worker isolate, or every
//!   thread of `apexc serve`, optionally saved on each change); other stores share them between
//!   processes, a Durable Object through the messages of [`remote`].
//!
//! The attempt engine asks once per route it tries (one round trip to a shared store on the
//! usual path, where the first route has room) and settles each attempt after it: an upstream
//! 429 gives its reservation back, a block an upstream announced is recorded.

mod ask;
pub mod counts;
pub mod day;
mod ledger;
pub mod remote;
pub mod usage;

pub use ask::{Ask, Grant, Scope, Settle};
pub use ledger::Ledger;

use crate::host::LocalFuture;
use std::sync::{Arc, Mutex};

/// The Durable Object a generated worker keeps its counts in: the binding's name in its
/// wrangler.toml, and the class its src/lib.rs exports (`hosts::workers::QuotaObject` inside).
pub const DURABLE_OBJECT_BINDING: &str = "APEX_QUOTAS";
pub const DURABLE_OBJECT_CLASS: &str = "ApexQuotas";

/// Where counts live.
pub trait Store {
    /// Settles `earlier` (corrections of answered requests, batched into this round trip),
    /// then reserves for `ask`.
    fn reserve(&self, ask: Ask, earlier: Vec<Settle>) -> LocalFuture<Result<Grant, String>>;
    fn settle(&self, settles: Vec<Settle>) -> LocalFuture<Result<(), String>>;
}

/// Called with the ledger after each change (under its lock), e.g. to save it.
pub type OnChange = Box<dyn Fn(&Ledger) + Send + Sync>;

/// Counts in memory, behind a lock so every thread of a process can share one.
#[derive(Default)]
pub struct Local {
    ledger: Mutex<Ledger>,
    on_change: Option<OnChange>,
}

impl Local {
    /// Starting from `ledger` (what a previous run saved), calling `on_change` after changes.
    pub fn new(ledger: Ledger, on_change: Option<OnChange>) -> Self {
        Local {
            ledger: Mutex::new(ledger),
            on_change,
        }
    }

    fn with<T>(&self, f: impl FnOnce(&mut Ledger) -> T) -> T {
        let mut ledger = self.ledger.lock().unwrap_or_else(|e| e.into_inner());
        let out = f(&mut ledger);
        if let Some(save) = &self.on_change {
            save(&ledger);
        }
        out
    }

    /// A copy of the counts as they are now (e.g. to save them).
    pub fn snapshot(&self) -> Ledger {
        self.ledger
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    pub fn reserve_now(&self, ask: &Ask, earlier: &[Settle]) -> Grant {
        self.with(|l| {
            earlier.iter().for_each(|s| l.settle(s));
            l.decide(ask)
        })
    }

    pub fn settle_now(&self, settles: &[Settle]) {
        self.with(|l| settles.iter().for_each(|s| l.settle(s)));
    }
}

impl Store for Arc<Local> {
    fn reserve(&self, ask: Ask, earlier: Vec<Settle>) -> LocalFuture<Result<Grant, String>> {
        let grant = self.reserve_now(&ask, &earlier);
        Box::pin(async move { Ok(grant) })
    }

    fn settle(&self, settles: Vec<Settle>) -> LocalFuture<Result<(), String>> {
        self.settle_now(&settles);
        Box::pin(async { Ok(()) })
    }
}
