//! How long an upstream asks us to stay away, read from its response headers.
//!
//! Providers say it in different ways; all of them mean "this key (or route) works again in N
//! milliseconds":
//!
//! | header | form | who sends it |
//! |---|---|---|
//! | `retry-after-ms` | milliseconds, may be fractional | OpenAI, Azure OpenAI |
//! | `retry-after` | delay-seconds or an HTTP date (RFC 9110 §10.2.3) | most |
//! | `x-ratelimit-reset-requests` / `-tokens` | Go durations: `1s`, `6m0s`, `20ms`, `2m59.56s` | OpenAI, Groq, DeepInfra |
//!
//! The first one present wins, in that order. Of the two `x-ratelimit-reset-*` values the one
//! whose `x-ratelimit-remaining-*` is `0` is the limit that was hit; when neither says so, the
//! longer one is taken (retrying too early only earns another 429).

use crate::host::Headers;

/// Milliseconds until the upstream accepts requests again, if its headers say.
pub fn delay_ms(headers: &Headers, now_ms: u64) -> Option<u64> {
    let get = |name: &str| {
        headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.trim())
    };
    if let Some(ms) = get("retry-after-ms").and_then(parse_number) {
        return Some(ms as u64);
    }
    if let Some(v) = get("retry-after") {
        if let Some(s) = parse_number(v) {
            return Some((s * 1000.0) as u64);
        }
        if let Some(at) = http_date_ms(v) {
            return Some(at.saturating_sub(now_ms));
        }
    }
    let requests = get("x-ratelimit-reset-requests").and_then(duration_ms);
    let tokens = get("x-ratelimit-reset-tokens").and_then(duration_ms);
    let exhausted = |name: &str| get(name).is_some_and(|v| v == "0");
    match (
        exhausted("x-ratelimit-remaining-requests"),
        exhausted("x-ratelimit-remaining-tokens"),
    ) {
        (true, false) if requests.is_some() => requests,
        (false, true) if tokens.is_some() => tokens,
        _ => requests.max(tokens),
    }
}

/// On an answer that succeeded: how long the key has nothing left, when the upstream says its
/// requests or tokens are used up (`x-ratelimit-remaining-*: 0` with the matching
/// `x-ratelimit-reset-*`, as OpenAI, Groq and OpenRouter send them). The next request on the
/// key would earn a 429, so it is not sent before then.
pub fn spent_ms(headers: &Headers) -> Option<u64> {
    let get = |name: &str| {
        headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.trim())
    };
    let spent = |remaining: &str, reset: &str| {
        get(remaining)
            .is_some_and(|v| v == "0")
            .then(|| get(reset).and_then(duration_ms))
            .flatten()
    };
    let requests = spent(
        "x-ratelimit-remaining-requests",
        "x-ratelimit-reset-requests",
    );
    let tokens = spent("x-ratelimit-remaining-tokens", "x-ratelimit-reset-tokens");
    requests.max(tokens)
}

/// A non-negative finite decimal number.
fn parse_number(s: &str) -> Option<f64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return None;
    }
    s.parse::<f64>().ok().filter(|v| v.is_finite())
}

/// A Go-style duration (`1h2m3.5s`, `20ms`, `6m0s`) or a bare number of seconds, in ms.
pub fn duration_ms(s: &str) -> Option<u64> {
    let s = s.trim();
    if let Some(secs) = parse_number(s) {
        return Some((secs * 1000.0) as u64);
    }
    let mut total = 0.0f64;
    let mut rest = s;
    while !rest.is_empty() {
        let num_len = rest
            .bytes()
            .take_while(|b| b.is_ascii_digit() || *b == b'.')
            .count();
        let value = parse_number(rest.get(..num_len)?)?;
        rest = rest.get(num_len..)?;
        let unit_len = rest
            .bytes()
            .take_while(|b| !b.is_ascii_digit() && *b != b'.')
            .count();
        let unit_ms = match rest.get(..unit_len)? {
            "h" => 3_600_000.0,
            "m" => 60_000.0,
            "s" => 1000.0,
            "ms" => 1.0,
            "us" | "µs" => 0.001,
            "ns" => 0.000_001,
            _ => return None,
        };
        total += value * unit_ms;
        rest = rest.get(unit_len..)?;
    }
    (total.is_finite() && !s.is_empty()).then_some(total as u64)
}

/// An IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`) as ms since the Unix epoch.
pub fn http_date_ms(s: &str) -> Option<u64> {
    let mut parts = s.split_ascii_whitespace();
    let _weekday = parts.next()?;
    let day: u32 = parts.next()?.parse().ok()?;
    let month = match parts.next()? {
        "Jan" => 1,
        "Feb" => 2,
        "Mar" => 3,
        "Apr" => 4,
        "May" => 5,
        "Jun" => 6,
        "Jul" => 7,
        "Aug" => 8,
        "Sep" => 9,
        "Oct" => 10,
        "Nov" => 11,
        "Dec" => 12,
        _ => return None,
    };
    let year: i64 = parts.next()?.parse().ok()?;
    let mut hms = parts.next()?.split(':').map(|p| p.parse::<u64>().ok());
    let (h, m, sec) = (hms.next()??, hms.next()??, hms.next()??);
    if parts.next()? != "GMT" || !(1..=31).contains(&day) || h > 23 || m > 59 || sec > 60 {
        return None;
    }
    let days = days_from_civil(year, month, day);
    let secs = days.checked_mul(86_400)? + (h * 3600 + m * 60 + sec) as i64;
    u64::try_from(secs).ok()?.checked_mul(1000)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = i64::from((m + 9) % 12);
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(pairs: &[(&str, &str)]) -> Headers {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn durations() {
        assert_eq!(duration_ms("1s"), Some(1000));
        assert_eq!(duration_ms("6m0s"), Some(360_000));
        assert_eq!(duration_ms("20ms"), Some(20));
        assert_eq!(duration_ms("2m59.56s"), Some(179_560));
        assert_eq!(duration_ms("1h"), Some(3_600_000));
        assert_eq!(duration_ms("7"), Some(7000));
        assert_eq!(duration_ms("soon"), None);
        assert_eq!(duration_ms(""), None);
        assert_eq!(duration_ms("5x"), None);
    }

    #[test]
    fn http_dates() {
        assert_eq!(
            http_date_ms("Sun, 06 Nov 1994 08:49:37 GMT"),
            Some(784_111_777_000)
        );
        assert_eq!(http_date_ms("Thu, 01 Jan 1970 00:00:00 GMT"), Some(0));
        assert_eq!(http_date_ms("Sun, 06 Nov 1994 08:49:37 PST"), None);
        assert_eq!(http_date_ms("tomorrow"), None);
    }

    #[test]
    fn a_success_that_used_up_the_key_says_until_when() {
        let spent = |hs: &[(&str, &str)]| spent_ms(&h(hs));
        assert_eq!(
            spent(&[
                ("x-ratelimit-remaining-requests", "0"),
                ("x-ratelimit-reset-requests", "2m59.56s"),
                ("x-ratelimit-remaining-tokens", "5000"),
                ("x-ratelimit-reset-tokens", "1s"),
            ]),
            Some(179_560)
        );
        assert_eq!(
            spent(&[
                ("x-ratelimit-remaining-requests", "3"),
                ("x-ratelimit-reset-requests", "2s"),
            ]),
            None
        );
        // Spent without a reset: nothing to go by (a 429 will say).
        assert_eq!(spent(&[("x-ratelimit-remaining-tokens", "0")]), None);
    }

    #[test]
    fn precedence() {
        let now = 784_111_770_000;
        assert_eq!(delay_ms(&h(&[("retry-after", "3")]), now), Some(3000));
        assert_eq!(
            delay_ms(
                &h(&[("retry-after", "3"), ("retry-after-ms", "250.5")]),
                now
            ),
            Some(250)
        );
        assert_eq!(
            delay_ms(&h(&[("retry-after", "Sun, 06 Nov 1994 08:49:37 GMT")]), now),
            Some(7000)
        );
        // A date in the past: come back now.
        assert_eq!(
            delay_ms(
                &h(&[("retry-after", "Sun, 06 Nov 1994 08:49:37 GMT")]),
                now + 60_000
            ),
            Some(0)
        );
        assert_eq!(
            delay_ms(
                &h(&[
                    ("x-ratelimit-reset-requests", "1s"),
                    ("x-ratelimit-reset-tokens", "6m0s"),
                    ("x-ratelimit-remaining-requests", "0"),
                    ("x-ratelimit-remaining-tokens", "1200"),
                ]),
                now
            ),
            Some(1000)
        );
        assert_eq!(
            delay_ms(
                &h(&[
                    ("x-ratelimit-reset-requests", "1s"),
                    ("x-ratelimit-reset-tokens", "20ms"),
                ]),
                now
            ),
            Some(1000)
        );
        assert_eq!(delay_ms(&h(&[("retry-after", "later")]), now), None);
        assert_eq!(delay_ms(&h(&[]), now), None);
    }
}
