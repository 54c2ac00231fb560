//! A time zone as a table of UTC offsets, so a worker needs no time zone database: a
//! provider's daily reset (`reset: { daily_at, timezone }`) becomes `table::DailyReset`, whose
//! offsets the runtime binary-searches.
//!
//! The table covers [`FROM`] to [`UNTIL`] from the time zone database bundled with apexc
//! (jiff's copy of IANA tzdb): every daylight-saving change in between. Before and after, the
//! nearest offset holds; a rebuild with a newer apexc picks up rule changes.

use jiff::tz::TimeZone;
use jiff::Timestamp;

/// 2020-01-01T00:00:00Z.
const FROM: i64 = 1_577_836_800;
/// 2050-01-01T00:00:00Z.
const UNTIL: i64 = 2_524_608_000;

/// Whether `name` is a time zone apexc knows.
pub fn known(name: &str) -> bool {
    name == "UTC" || TimeZone::get(name).is_ok()
}

/// Every time zone name apexc knows (for "did you mean").
pub fn names() -> Vec<String> {
    jiff::tz::db().available().map(|n| n.to_string()).collect()
}

/// `(from_ms, offset_minutes)` for `name`, sorted; empty for UTC (and for an unknown name,
/// which validation rejects before codegen runs).
pub fn offsets(name: &str) -> Vec<(u64, i32)> {
    let Ok(tz) = TimeZone::get(name) else {
        return Vec::new();
    };
    let (Ok(from), Ok(until)) = (Timestamp::from_second(FROM), Timestamp::from_second(UNTIL))
    else {
        return Vec::new();
    };
    let minutes = |o: jiff::tz::Offset| o.seconds() / 60;
    let mut out: Vec<(u64, i32)> = vec![(FROM as u64 * 1000, minutes(tz.to_offset(from)))];
    for t in tz.following(from) {
        if t.timestamp() >= until {
            break;
        }
        let m = minutes(t.offset());
        if out.last().is_some_and(|(_, last)| *last == m) {
            continue;
        }
        let ms = u64::try_from(t.timestamp().as_millisecond()).unwrap_or(0);
        out.push((ms, m));
    }
    if out.iter().all(|(_, m)| *m == 0) {
        return Vec::new();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn los_angeles_changes_twice_a_year() {
        let o = offsets("America/Los_Angeles");
        // 2026-03-08T10:00Z: PDT begins; 2026-11-01T09:00Z: PST again.
        assert!(o.contains(&(1_772_964_000_000, -420)), "{o:?}");
        assert!(o.contains(&(1_793_523_600_000, -480)), "{o:?}");
        assert_eq!(o.first().map(|x| x.1), Some(-480));
        assert!(o.len() > 50 && o.len() < 70, "{}", o.len());
    }

    #[test]
    fn utc_and_zones_without_dst_are_short() {
        assert_eq!(offsets("UTC"), Vec::new());
        assert_eq!(offsets("Etc/UTC"), Vec::new());
        assert_eq!(offsets("Asia/Tokyo"), vec![(FROM as u64 * 1000, 540)]);
        assert!(known("Europe/Berlin") && known("UTC") && !known("Mars/Olympus"));
    }
}
