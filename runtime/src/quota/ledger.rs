//! The quota decision, written once: every store loads the counts an ask names, runs
//! [`Ledger::decide`] on them and keeps the result.

use super::ask::{Ask, Grant, Settle};
use super::counts::Counts;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// Counts by scope name.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Ledger {
    pub scopes: HashMap<String, Counts>,
}

impl Ledger {
    /// Of the ask's candidates, the one with the most headroom that fits (the first of equals),
    /// reserved: one request and the estimated tokens counted in each of its scopes. Or, when
    /// none fits, the soonest moment one will.
    pub fn decide(&mut self, ask: &Ask) -> Grant {
        for scope in &ask.scopes {
            self.scopes
                .entry(scope.name.clone())
                .or_default()
                .roll(ask.now_ms, scope.day);
        }
        let mut best: Option<(usize, f64)> = None;
        let mut soonest = u64::MAX;
        for (i, candidate) in ask.candidates.iter().enumerate() {
            match self.room(ask, candidate) {
                Ok(h) if best.is_none_or(|(_, b)| h > b) => best = Some((i, h)),
                Ok(_) => {}
                Err(until) => soonest = soonest.min(until),
            }
        }
        let Some((chosen, _)) = best else {
            return Grant::Exhausted { until_ms: soonest };
        };
        for s in ask
            .candidates
            .get(chosen)
            .into_iter()
            .flatten()
            .filter_map(|i| ask.scopes.get(*i))
        {
            if let Some(c) = self.scopes.get_mut(&s.name) {
                c.add(
                    ask.now_ms,
                    s.day,
                    1,
                    i64::try_from(ask.tokens).unwrap_or(i64::MAX),
                );
            }
        }
        Grant::Go { candidate: chosen }
    }

    /// A candidate's headroom: the least of its scopes'; it fits only when all of them do, and
    /// waits for the last of them to clear.
    fn room(&self, ask: &Ask, candidate: &[usize]) -> Result<f64, u64> {
        let mut headroom = 1.0f64;
        let mut until = 0u64;
        for s in candidate.iter().filter_map(|i| ask.scopes.get(*i)) {
            let counts = self.scopes.get(&s.name);
            let room = counts.map_or(Ok(1.0), |c| {
                c.room(&s.limits, ask.tokens, ask.now_ms, s.day_ends_ms)
            });
            match room {
                Ok(h) => headroom = headroom.min(h),
                Err(u) => until = until.max(u),
            }
        }
        if until > 0 {
            Err(until)
        } else {
            Ok(headroom)
        }
    }

    /// What an attempt turned out to cost (or a block an upstream announced).
    pub fn settle(&mut self, s: &Settle) {
        for name in &s.scopes {
            let counts = self.scopes.entry(name.clone()).or_default();
            counts.add(s.at_ms, s.day, s.requests, s.tokens);
            counts.blocked_until = counts.blocked_until.max(s.blocked_until);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::quota::ask::Scope;
    use crate::table::Limits;

    fn key(name: &str, rpd: u32) -> Scope {
        Scope {
            name: name.to_owned(),
            limits: Limits {
                rpd: Some(rpd),
                ..Limits::NONE
            },
            day: 1,
            day_ends_ms: 50_000,
        }
    }

    fn ask(now_ms: u64) -> Ask {
        Ask {
            now_ms,
            tokens: 10,
            scopes: vec![key("key:A", 3), key("key:B", 2)],
            candidates: vec![vec![0], vec![1]],
        }
    }

    #[test]
    fn keys_are_used_by_headroom_until_every_one_is_spent() {
        // rpd 3 and 2: after one each, A has 1/3 left and B none after a second; equal
        // headroom goes to the first.
        let mut l = Ledger::default();
        let picks: Vec<Grant> = (0..6).map(|i| l.decide(&ask(i * 100))).collect();
        let go = |c| Grant::Go { candidate: c };
        assert_eq!(
            picks,
            vec![
                go(0),
                go(1),
                go(0),
                go(0),
                go(1),
                Grant::Exhausted { until_ms: 50_000 }
            ]
        );
    }

    #[test]
    fn a_candidate_fits_only_when_all_its_scopes_do() {
        let mut l = Ledger::default();
        let shared = key("provider:p", 1);
        let a = Ask {
            now_ms: 0,
            tokens: 0,
            scopes: vec![key("key:A", 5), key("key:B", 5), shared],
            candidates: vec![vec![0, 2], vec![1, 2]],
        };
        assert_eq!(l.decide(&a), Grant::Go { candidate: 0 });
        assert_eq!(l.decide(&a), Grant::Exhausted { until_ms: 50_000 });
    }

    #[test]
    fn a_settlement_gives_back_what_an_upstream_refused() {
        let mut l = Ledger::default();
        assert_eq!(l.decide(&ask(0)), Grant::Go { candidate: 0 });
        l.settle(&Settle {
            scopes: vec!["key:A".into()],
            at_ms: 0,
            day: 1,
            requests: -1,
            tokens: -10,
            blocked_until: 0,
        });
        assert_eq!(l.scopes.get("key:A").map(|c| c.day_requests), Some(0));
    }

    #[test]
    fn the_ledger_survives_a_round_trip_through_json() {
        let mut l = Ledger::default();
        l.decide(&ask(1_000));
        let text = serde_json::to_string(&l).unwrap_or_default();
        let back: Ledger = serde_json::from_str(&text).unwrap_or_default();
        assert_eq!(back, l);
    }
}
