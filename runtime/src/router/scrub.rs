//! Removing credentials from upstream error bodies before a client sees them.
//!
//! Providers echo things back in errors: a key (or part of it) in "invalid key" messages, a
//! request URL with `?key=`. An upstream error body is only forwarded after every occurrence
//! of the provider's own key values, every `sk-…` style token, every `key=`/`token=` query
//! value and every `Bearer …` token is replaced by `[redacted]`.

const REDACTED: &[u8] = b"[redacted]";

/// `body` with credentials replaced. `secrets` are the key values the gateway knows.
pub fn scrub(body: &[u8], secrets: &[String]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len());
    let mut i = 0;
    while let Some(rest) = body.get(i..).filter(|r| !r.is_empty()) {
        if let Some(s) = secrets
            .iter()
            .find(|s| s.len() >= 4 && rest.starts_with(s.as_bytes()))
        {
            out.extend_from_slice(REDACTED);
            i += s.len();
            continue;
        }
        let at_word_start = i == 0 || body.get(i - 1).is_none_or(|b| !b.is_ascii_alphanumeric());
        if at_word_start && starts_with_ci(rest, b"sk-") {
            let n = token_len(rest.get(3..).unwrap_or_default());
            if n >= 8 {
                out.extend_from_slice(REDACTED);
                i += 3 + n;
                continue;
            }
        }
        if let Some(p) = [&b"key="[..], b"token=", b"bearer "]
            .into_iter()
            .find(|p| starts_with_ci(rest, p))
        {
            out.extend_from_slice(rest.get(..p.len()).unwrap_or_default());
            i += p.len();
            let value = body.get(i..).unwrap_or_default();
            let n = if p.ends_with(b" ") {
                token_len(value)
            } else {
                value_len(value)
            };
            if n > 0 {
                out.extend_from_slice(REDACTED);
                i += n;
            }
            continue;
        }
        if let Some(b) = rest.first() {
            out.push(*b);
        }
        i += 1;
    }
    out
}

fn starts_with_ci(s: &[u8], prefix: &[u8]) -> bool {
    s.get(..prefix.len())
        .is_some_and(|h| h.eq_ignore_ascii_case(prefix))
}

/// Length of a token: letters, digits, `-`, `_`, `.`, `~`, `+`, `/`, `=`.
fn token_len(s: &[u8]) -> usize {
    s.iter()
        .take_while(|b| {
            b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~' | b'+' | b'/' | b'=')
        })
        .count()
}

/// Length of a query value: up to the next delimiter.
fn value_len(s: &[u8]) -> usize {
    s.iter()
        .take_while(|b| {
            !b.is_ascii_whitespace()
                && !matches!(
                    b,
                    b'&' | b'"' | b'\'' | b'<' | b'>' | b'\\' | b',' | b';' | b')' | b'#'
                )
        })
        .count()
}

#[cfg(test)]
mod tests {
    use super::scrub;

    fn s(body: &str, secrets: &[&str]) -> String {
        let secrets: Vec<String> = secrets.iter().map(|s| s.to_string()).collect();
        String::from_utf8(scrub(body.as_bytes(), &secrets)).unwrap_or_default()
    }

    #[test]
    fn redacts() {
        assert_eq!(
            s("bad key abcd1234xyz here", &["abcd1234xyz"]),
            "bad key [redacted] here"
        );
        assert_eq!(
            s("Incorrect API key sk-proj-AbC123456789", &[]),
            "Incorrect API key [redacted]"
        );
        assert_eq!(s("task-abcdefghij", &[]), "task-abcdefghij");
        assert_eq!(
            s(
                r#"{"url":"https://x/y?api-version=1&key=SECRET123&a=b"}"#,
                &[]
            ),
            r#"{"url":"https://x/y?api-version=1&key=[redacted]&a=b"}"#
        );
        assert_eq!(s("api_key=zz", &[]), "api_key=[redacted]");
        assert_eq!(
            s("Authorization: Bearer abc.def", &[]),
            "Authorization: Bearer [redacted]"
        );
    }
}
