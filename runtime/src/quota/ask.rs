//! What a store is asked and answers: the types every store shares.

use crate::table::Limits;
use serde::{Deserialize, Serialize};

/// One thing a limit counts against: a key (`key:SECRET`), a provider's account
/// (`provider:ID`) or an upstream model on a provider (`model:ID:MODEL`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Scope {
    /// Stable across rebuilds (a secret's name, not its position).
    pub name: String,
    pub limits: Limits,
    /// The quota day now, and when it ends, by the provider's reset rule.
    pub day: i64,
    pub day_ends_ms: u64,
}

/// A reservation request: which of `candidates` (each a list of indices into `scopes`) should
/// carry a request of about `tokens` tokens at `now_ms`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ask {
    pub now_ms: u64,
    pub tokens: u64,
    pub scopes: Vec<Scope>,
    pub candidates: Vec<Vec<usize>>,
}

impl Ask {
    /// The names of the scopes `candidate` counts in (what reserving it changes).
    pub fn scope_names(&self, candidate: usize) -> Vec<String> {
        self.candidates
            .get(candidate)
            .into_iter()
            .flatten()
            .filter_map(|i| self.scopes.get(*i))
            .map(|s| s.name.clone())
            .collect()
    }
}

/// The answer to an [`Ask`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Grant {
    /// This candidate is reserved.
    Go { candidate: usize },
    /// None fits; the soonest one will is at `until_ms`.
    Exhausted { until_ms: u64 },
}

/// A correction after an attempt: counts to add (negative: give back) at the moment of the
/// reservation, and a block an upstream announced (0: none).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Settle {
    pub scopes: Vec<String>,
    pub at_ms: u64,
    pub day: i64,
    pub requests: i64,
    pub tokens: i64,
    pub blocked_until: u64,
}
