//! The attempt plan: in which order a request tries a model's routes, which key of a
//! provider goes first, and what a failed attempt leads to.
//!
//! Pure functions over the routes and a random source, so strategies are testable without a
//! host. Resting routes are removed before [`order`] runs (see `forward`), so a `weighted`
//! model whose heavy route rests splits its traffic over the others by their weights, and a
//! `priority` model falls through to its first route that is up.

use crate::table::{Limits, Strategy};

/// One candidate route for this request: a provider and the model name it knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Target<'a> {
    /// Index into `Gateway::providers`.
    pub provider: u16,
    pub model: &'a str,
    pub weight: u32,
    /// The route's cap on `max_tokens` (translated and Messages requests are clamped to it).
    pub max_tokens: Option<u32>,
    /// The route's declared limits (its upstream model on its provider).
    pub limits: Limits,
}

/// What a request resolved to: the candidate routes and how to order them.
pub struct Resolved<'a> {
    pub targets: Vec<Target<'a>>,
    pub strategy: Strategy,
    pub tick: u32,
}

/// The order in which `targets` are tried.
///
/// - `Random`: a uniform shuffle.
/// - `RoundRobin`: rotated by `tick` (a per-model counter the caller advances per request).
/// - `Weighted`: weighted sampling without replacement (the first pick is proportional to
///   weight; the rest are the failover order).
/// - `Priority`: as listed.
pub fn order(
    strategy: Strategy,
    targets: &[Target<'_>],
    tick: u32,
    rand: &mut dyn FnMut() -> u32,
) -> Vec<usize> {
    let n = targets.len();
    let mut idx: Vec<usize> = (0..n).collect();
    if n < 2 {
        return idx;
    }
    match strategy {
        Strategy::Priority => {}
        Strategy::RoundRobin => idx.rotate_left(tick as usize % n),
        Strategy::Random => {
            for i in (1..n).rev() {
                let j = rand() as usize % (i + 1);
                idx.swap(i, j);
            }
        }
        Strategy::Weighted => {
            let mut remaining = idx;
            idx = Vec::with_capacity(n);
            while !remaining.is_empty() {
                let weight = |i: &usize| u64::from(targets.get(*i).map_or(1, |t| t.weight.max(1)));
                let total: u64 = remaining.iter().map(weight).sum();
                let mut r = u64::from(rand()) % total.max(1);
                let mut pick = 0;
                for (pos, i) in remaining.iter().enumerate() {
                    let w = weight(i);
                    if r < w {
                        pick = pos;
                        break;
                    }
                    r -= w;
                }
                idx.push(remaining.remove(pick));
            }
        }
    }
    idx
}

/// Key indices of a provider with `n` keys, starting at `tick` and wrapping: spreads requests
/// round-robin over keys, and a rate-limited key falls over to the next.
pub fn keys(n: usize, tick: u32) -> impl Iterator<Item = usize> {
    let start = if n == 0 { 0 } else { tick as usize % n };
    (0..n).map(move |k| (start + k) % n)
}

/// Whether an upstream status is worth another attempt elsewhere: rate limited (429), broken
/// (5xx) or too slow to read the request (408). Other 4xx are about the request itself (bad
/// body, auth, unknown model): another route would say the same, so they go back at once.
pub const fn retryable_status(status: u16) -> bool {
    status == 429 || status == 408 || status >= 500
}

/// What to try after a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// Another key of the same provider (this key is rate limited or missing).
    Key,
    /// The next route (the provider is down, slow or broken).
    Route,
}

/// The next step after an attempt answered a retryable `status` (429 → another key of the
/// same provider; 5xx / 408 → another route).
pub const fn after_status(status: u16) -> Next {
    if status == 429 {
        Next::Key
    } else {
        Next::Route
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(provider: u16, weight: u32) -> Target<'static> {
        Target {
            provider,
            model: "m",
            weight,
            max_tokens: None,
            limits: Limits::NONE,
        }
    }

    #[test]
    fn priority_keeps_order_and_round_robin_rotates() {
        let ts = [t(0, 1), t(1, 1), t(2, 1)];
        let mut r = || 7;
        assert_eq!(order(Strategy::Priority, &ts, 5, &mut r), vec![0, 1, 2]);
        assert_eq!(order(Strategy::RoundRobin, &ts, 0, &mut r), vec![0, 1, 2]);
        assert_eq!(order(Strategy::RoundRobin, &ts, 4, &mut r), vec![1, 2, 0]);
    }

    #[test]
    fn every_strategy_is_a_permutation() {
        let ts = [t(0, 3), t(1, 1), t(2, 2), t(3, 1)];
        let mut seed = 12345u32;
        let mut r = move || {
            seed ^= seed << 13;
            seed ^= seed >> 17;
            seed ^= seed << 5;
            seed
        };
        for s in [
            Strategy::Random,
            Strategy::Weighted,
            Strategy::RoundRobin,
            Strategy::Priority,
        ] {
            for tick in 0..20 {
                let mut o = order(s, &ts, tick, &mut r);
                o.sort_unstable();
                assert_eq!(o, vec![0, 1, 2, 3]);
            }
        }
    }

    #[test]
    fn keys_wrap() {
        assert_eq!(keys(3, 4).collect::<Vec<_>>(), vec![1, 2, 0]);
        assert_eq!(keys(0, 4).count(), 0);
    }
}
