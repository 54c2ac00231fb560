//! Which quota day a moment falls in, by a provider's [`DailyReset`].
//!
//! Providers reset daily counters at a fixed local time (Gemini: midnight Pacific). The
//! compiler resolves the config's time zone into a table of UTC offsets, so here a day is
//! plain arithmetic: shift to local time, subtract the reset time, divide by 24 h.

use crate::table::DailyReset;

pub const DAY_MS: u64 = 86_400_000;
const MINUTE_MS: i64 = 60_000;

/// The quota day `now` falls in (days since the epoch, counted from reset to reset) and the
/// moment it ends (ms since the epoch, UTC).
pub fn day_of(reset: &DailyReset, now: u64) -> (i64, u64) {
    let day_ms = DAY_MS as i64;
    let at = i64::from(reset.at_minute) * MINUTE_MS;
    let local = |t: i64| t + offset_minutes(reset, t) * MINUTE_MS - at;
    let now = i64::try_from(now).unwrap_or(i64::MAX / 2);
    let day = local(now).div_euclid(day_ms);
    // The next reset in UTC, at the offset in force then (a DST change in between moves it).
    let boundary = (day + 1) * day_ms + at;
    let mut end = boundary - offset_minutes(reset, now) * MINUTE_MS;
    end = boundary - offset_minutes(reset, end) * MINUTE_MS;
    if end <= now {
        end = now + 1;
    }
    (day, u64::try_from(end).unwrap_or(0))
}

/// Local time's offset from UTC at `t`, in minutes.
fn offset_minutes(reset: &DailyReset, t: i64) -> i64 {
    let offsets = reset.offsets;
    let after = offsets.partition_point(|(from, _)| i64::try_from(*from).unwrap_or(i64::MAX) <= t);
    let entry = if after == 0 {
        offsets.first()
    } else {
        offsets.get(after - 1)
    };
    entry.map_or(0, |(_, m)| i64::from(*m))
}

#[cfg(test)]
mod tests {
    use super::*;

    // 2026-03-08 10:00 UTC: US DST starts (PST -8 → PDT -7); 2026-11-01 09:00 UTC: it ends.
    const LA: DailyReset = DailyReset {
        at_minute: 0,
        offsets: &[
            (1_762_074_000_000, -480),
            (1_772_964_000_000, -420),
            (1_793_523_600_000, -480),
        ],
    };

    fn ms(y_m_d_h_m: &str) -> u64 {
        // Tests give UTC instants as "2026-12-07T08:00".
        let (d, t) = y_m_d_h_m.split_once('T').unwrap_or_default();
        let p: Vec<i64> = d.split('-').map(|x| x.parse().unwrap_or(0)).collect();
        let (h, m) = t.split_once(':').unwrap_or_default();
        let (y, mo, da) = (p[0], p[1], p[2]);
        // Days from civil (Howard Hinnant's algorithm).
        let y = if mo <= 2 { y - 1 } else { y };
        let era = y.div_euclid(400);
        let yoe = y - era * 400;
        let mp = (mo + 9) % 12;
        let doy = (153 * mp + 2) / 5 + da - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        let days = era * 146_097 + doe - 719_468;
        let h: i64 = h.parse().unwrap_or(0);
        let m: i64 = m.parse().unwrap_or(0);
        ((days * 24 + h) * 60 + m) as u64 * 60_000
    }

    #[test]
    fn utc_days_start_at_midnight_utc() {
        let (d1, end) = day_of(&DailyReset::UTC, ms("2026-12-07T23:59"));
        assert_eq!(end, ms("2026-12-08T00:00"));
        let (d2, _) = day_of(&DailyReset::UTC, ms("2026-12-08T00:00"));
        assert_eq!(d2, d1 + 1);
    }

    #[test]
    fn pacific_midnight_is_eight_utc_in_winter_and_seven_in_summer() {
        let (winter, end) = day_of(&LA, ms("2026-12-07T07:59"));
        assert_eq!(end, ms("2026-12-07T08:00"));
        assert_eq!(day_of(&LA, ms("2026-12-07T08:00")).0, winter + 1);
        let (_, end) = day_of(&LA, ms("2026-07-01T12:00"));
        assert_eq!(end, ms("2026-07-02T07:00"));
    }

    #[test]
    fn the_day_dst_starts_ends_at_the_new_offset() {
        // 2026-03-08 local: starts 08:00 UTC (PST), ends 07:00 UTC next day (PDT): 23 h long.
        let (_, end) = day_of(&LA, ms("2026-03-08T12:00"));
        assert_eq!(end, ms("2026-03-09T07:00"));
    }

    #[test]
    fn a_reset_hour_shifts_the_day() {
        let r = DailyReset {
            at_minute: 9 * 60 + 30,
            offsets: &[(0, 60)],
        };
        // 09:30 at UTC+1 is 08:30 UTC.
        let (_, end) = day_of(&r, ms("2026-12-07T08:00"));
        assert_eq!(end, ms("2026-12-07T08:30"));
    }
}
