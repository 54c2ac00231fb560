//! One scope's counts: a rolling minute at one-second resolution and the current quota day.
//!
//! A scope is whatever a limit counts against: one API key, a provider's whole account, or
//! one upstream model on a provider. Its counts are small (at most 60 buckets and a day
//! total) and serialise to a few hundred bytes of JSON, so every store — a mutex in-process,
//! a file, Redis, a Durable Object — keeps them the same way.

use crate::table::Limits;
use serde::{Deserialize, Serialize};

const WINDOW_S: u64 = 60;

/// What one scope has used.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    /// `(second, requests, tokens)` per second of the last minute that saw a request, oldest
    /// first (seconds since the epoch).
    #[serde(default, rename = "m")]
    pub minute: Vec<(u64, u32, u64)>,
    /// The quota day the day totals are for (see [`super::day`]).
    #[serde(default, rename = "d")]
    pub day: i64,
    #[serde(default, rename = "dr")]
    pub day_requests: u64,
    #[serde(default, rename = "dt")]
    pub day_tokens: u64,
    /// Learned from an upstream (`x-ratelimit-remaining-*: 0`): nothing is sent before this
    /// moment (ms since the epoch).
    #[serde(default, rename = "b", skip_serializing_if = "is_zero")]
    pub blocked_until: u64,
}

fn is_zero(v: &u64) -> bool {
    *v == 0
}

/// Whether a request fits: its headroom (the smallest share of any declared limit left after
/// it, 0..=1), or the moment it would fit.
pub type Room = Result<f64, u64>;

impl Counts {
    /// Forget what fell out of the minute and what belongs to an earlier day.
    pub fn roll(&mut self, now_ms: u64, day: i64) {
        let now_s = now_ms / 1000;
        self.minute
            .retain(|(s, _, _)| s.saturating_add(WINDOW_S) > now_s);
        if self.day != day {
            self.day = day;
            self.day_requests = 0;
            self.day_tokens = 0;
        }
    }

    /// Whether one more request of `tokens` fits under `limits` at `now_ms` (after [`roll`]);
    /// `day_ends_ms` is when the daily windows start over.
    ///
    /// [`roll`]: Counts::roll
    pub fn room(&self, limits: &Limits, tokens: u64, now_ms: u64, day_ends_ms: u64) -> Room {
        if self.blocked_until > now_ms {
            return Err(self.blocked_until);
        }
        let (used_r, used_t) = self
            .minute
            .iter()
            .fold((0u64, 0u64), |(r, t), (_, br, bt)| {
                (r + u64::from(*br), t.saturating_add(*bt))
            });
        let mut headroom = 1.0f64;
        let mut until = 0u64;
        let mut check = |limit: Option<u64>, used: u64, need: u64, free_at: &dyn Fn() -> u64| {
            let Some(limit) = limit else { return };
            // A request bigger than the whole limit still goes when nothing else is counted:
            // the estimate may be wrong, and the upstream is the judge.
            if used.saturating_add(need) > limit && used > 0 {
                until = until.max(free_at());
            } else {
                let left = limit.saturating_sub(used.saturating_add(need)) as f64;
                headroom = headroom.min(left / limit.max(1) as f64);
            }
        };
        let rpm = limits.rpm.map(u64::from);
        check(rpm, used_r, 1, &|| {
            self.minute_frees(used_r, 1, rpm, |b| u64::from(b.1))
        });
        check(limits.tpm, used_t, tokens, &|| {
            self.minute_frees(used_t, tokens, limits.tpm, |b| b.2)
        });
        check(limits.rpd.map(u64::from), self.day_requests, 1, &|| {
            day_ends_ms
        });
        check(limits.tpd, self.day_tokens, tokens, &|| day_ends_ms);
        if until > 0 {
            Err(until)
        } else {
            Ok(headroom)
        }
    }

    /// When enough of the minute's oldest buckets have expired for `need` more to fit.
    fn minute_frees(
        &self,
        used: u64,
        need: u64,
        limit: Option<u64>,
        amount: impl Fn(&(u64, u32, u64)) -> u64,
    ) -> u64 {
        let limit = limit.unwrap_or(u64::MAX);
        let mut left = used;
        for b in &self.minute {
            left = left.saturating_sub(amount(b));
            if left.saturating_add(need) <= limit {
                return ends_ms(b.0);
            }
        }
        self.minute.last().map_or(0, |b| ends_ms(b.0))
    }

    /// Count `requests` and `tokens` (negative: give back) at `at_ms`, a moment of `day`.
    /// What falls outside the minute or the day is no longer counted and is left alone.
    pub fn add(&mut self, at_ms: u64, day: i64, requests: i64, tokens: i64) {
        // A bucket for a second already out of the minute is dropped by the next `roll`.
        let s = at_ms / 1000;
        let pos = self.minute.partition_point(|b| b.0 < s);
        match self.minute.get_mut(pos) {
            Some(b) if b.0 == s => {
                b.1 = apply_u32(b.1, requests);
                b.2 = apply(b.2, tokens);
            }
            _ if requests > 0 || tokens > 0 => {
                let bucket = (s, apply_u32(0, requests), apply(0, tokens));
                self.minute.insert(pos, bucket);
            }
            _ => {}
        }
        if self.day == day {
            self.day_requests = apply(self.day_requests, requests);
            self.day_tokens = apply(self.day_tokens, tokens);
        }
    }
}

/// When a bucket of second `s` leaves the minute, in ms (saturating: counts loaded from a
/// file are outside input).
fn ends_ms(s: u64) -> u64 {
    s.saturating_add(WINDOW_S).saturating_mul(1000)
}

fn apply(v: u64, d: i64) -> u64 {
    if d >= 0 {
        v.saturating_add(d.unsigned_abs())
    } else {
        v.saturating_sub(d.unsigned_abs())
    }
}

fn apply_u32(v: u32, d: i64) -> u32 {
    u32::try_from(apply(u64::from(v), d)).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    const RPM2: Limits = Limits {
        rpm: Some(2),
        ..Limits::NONE
    };

    #[test]
    fn the_minute_rolls_per_second() {
        let mut c = Counts::default();
        c.add(10_000, 0, 1, 0);
        c.add(30_500, 0, 1, 0);
        assert_eq!(c.room(&RPM2, 0, 31_000, u64::MAX), Err(70_000));
        c.roll(70_000, 0);
        assert!(c.room(&RPM2, 0, 70_000, u64::MAX).is_ok());
    }

    #[test]
    fn the_day_limit_waits_for_the_reset() {
        let l = Limits {
            rpd: Some(1),
            ..Limits::NONE
        };
        let mut c = Counts::default();
        c.roll(1_000, 7);
        assert_eq!(c.room(&l, 0, 1_000, 99_000), Ok(0.0));
        c.add(1_000, 7, 1, 0);
        assert_eq!(c.room(&l, 0, 2_000, 99_000), Err(99_000));
        c.roll(99_000, 8);
        assert_eq!(c.room(&l, 0, 99_000, 199_000), Ok(0.0));
    }

    #[test]
    fn headroom_is_the_tightest_share_left() {
        let l = Limits {
            rpd: Some(4),
            tpm: Some(1000),
            ..Limits::NONE
        };
        let mut c = Counts::default();
        c.add(0, 0, 1, 100);
        // After this request: rpd 2/4 left, tpm 800/1000 left.
        assert_eq!(c.room(&l, 100, 1, u64::MAX), Ok(0.5));
    }

    #[test]
    fn an_oversized_request_goes_only_into_an_empty_window() {
        let l = Limits {
            tpm: Some(100),
            ..Limits::NONE
        };
        let mut c = Counts::default();
        assert!(c.room(&l, 500, 0, u64::MAX).is_ok());
        c.add(0, 0, 1, 500);
        assert_eq!(c.room(&l, 500, 1_000, u64::MAX), Err(60_000));
    }

    #[test]
    fn giving_back_undoes_a_reservation() {
        let mut c = Counts::default();
        c.add(5_000, 3, 1, 40);
        c.add(5_200, 3, -1, -40);
        assert_eq!((c.day_requests, c.day_tokens), (0, 0));
        assert_eq!(c.minute, vec![(5, 0, 0)]);
        // A settlement for another day does not touch today's totals.
        c.add(5_300, 2, 1, 1);
        assert_eq!(c.day_requests, 0);
    }

    #[test]
    fn a_learned_block_holds_until_its_reset() {
        let c = Counts {
            blocked_until: 9_000,
            ..Counts::default()
        };
        assert_eq!(c.room(&Limits::NONE, 0, 8_999, u64::MAX), Err(9_000));
        assert!(c.room(&Limits::NONE, 0, 9_000, u64::MAX).is_ok());
    }
}
