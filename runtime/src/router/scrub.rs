//! Removing credentials from upstream error bodies before a client sees them.
//!
//! Providers echo things back in errors: a key (or part of it) in "invalid key" messages, a
//! request URL with `?key=`. An upstream error body (and its header values) is only forwarded
//! after every occurrence of any key value the gateway knows (every provider's, not only the
//! one called: a misconfigured route may have sent another provider's key), every `sk-…`
//! style token (also masked ones, `sk-proj-ab**…**yz`), every `key=`/`token=`/`sig=`/
//! `secret=`/`password=` query value, every `Bearer …` token, every `…key: value` header echo
//! and every JSON `"…key": "value"` is replaced by `[redacted]`.

const REDACTED: &[u8] = b"[redacted]";

/// `body` with credentials replaced. `secrets` are the key values the gateway knows.
pub fn scrub(body: &[u8], secrets: &[String]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len());
    let mut i = 0;
    while let Some(rest) = body.get(i..).filter(|r| !r.is_empty()) {
        // The longest match: keys of one provider family share a prefix (`sk-proj-`), and
        // stopping at what one key has in common with another would show the rest.
        if let Some(n) = secrets
            .iter()
            .filter_map(|s| known_key_at(rest, s.as_bytes()))
            .max()
        {
            out.extend_from_slice(REDACTED);
            // A fragment of a key runs on to the end of its token (an echo that differs from
            // the key after some point still is key material).
            i += n + key_chars(rest.get(n..).unwrap_or_default());
            continue;
        }
        let at_word_start = i == 0 || body.get(i - 1).is_none_or(|b| !b.is_ascii_alphanumeric());
        if at_word_start && starts_with_ci(rest, b"sk-") {
            let n = masked_token_len(rest.get(3..).unwrap_or_default());
            if n >= 8 {
                out.extend_from_slice(REDACTED);
                i += 3 + n;
                continue;
            }
        }
        if starts_with_ci(rest, b"key\"") {
            if let Some((prefix, n)) = json_string_value(rest.get(4..).unwrap_or_default()) {
                out.extend_from_slice(rest.get(..4 + prefix).unwrap_or_default());
                out.extend_from_slice(REDACTED);
                i += 4 + prefix + n;
                continue;
            }
        }
        if let Some(p) = [
            &b"key="[..],
            b"token=",
            b"sig=",
            b"secret=",
            b"password=",
            b"bearer ",
            b"key: ",
        ]
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

/// Shortest piece of a known key that counts as the key: error messages that "mask" a key
/// often show its first or last characters (`alpha-se…`, `…lue-1111`).
const FRAGMENT: usize = 8;

/// Length of the known key `secret` (whole, or a fragment of ≥ [`FRAGMENT`] bytes from its
/// start or its end) at the start of `rest`.
fn known_key_at(rest: &[u8], secret: &[u8]) -> Option<usize> {
    if secret.len() < 4 {
        return None;
    }
    if rest.starts_with(secret) {
        return Some(secret.len());
    }
    if secret.len() < FRAGMENT + 4 {
        return None;
    }
    let common = rest.iter().zip(secret).take_while(|(a, b)| a == b).count();
    if common >= FRAGMENT {
        return Some(common);
    }
    let tail = secret.get(secret.len() - FRAGMENT..)?;
    rest.starts_with(tail).then_some(FRAGMENT)
}

/// Length of a run of the characters API keys are made of: letters, digits, `-`, `_`.
fn key_chars(s: &[u8]) -> usize {
    s.iter()
        .take_while(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_'))
        .count()
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

/// Like [`token_len`], also through `*` (keys shown masked: `sk-proj-ab****yz`).
fn masked_token_len(s: &[u8]) -> usize {
    s.iter()
        .take_while(|b| {
            b.is_ascii_alphanumeric()
                || matches!(b, b'-' | b'_' | b'.' | b'~' | b'+' | b'/' | b'=' | b'*')
        })
        .count()
}

/// After `…key"`: `: "value"` → (bytes up to the value, value length), when that is what
/// follows.
fn json_string_value(s: &[u8]) -> Option<(usize, usize)> {
    let mut i = s.iter().take_while(|b| b.is_ascii_whitespace()).count();
    if s.get(i) != Some(&b':') {
        return None;
    }
    i += 1;
    i += s
        .get(i..)?
        .iter()
        .take_while(|b| b.is_ascii_whitespace())
        .count();
    if s.get(i) != Some(&b'"') {
        return None;
    }
    i += 1;
    let n = s
        .get(i..)?
        .iter()
        .take_while(|b| **b != b'"' && **b != b'\\')
        .count();
    (n > 0).then_some((i, n))
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

    #[test]
    fn redacts_fragments_of_known_keys() {
        let k = "alpha-secret-value-1111";
        assert_eq!(s("key alpha-secr*****", &[k]), "key [redacted]*****");
        assert_eq!(s("key ****lue-1111.", &[k]), "key ****[redacted].");
        // Short common prefixes are just words.
        assert_eq!(s("alpha-s", &[k]), "alpha-s");
    }

    #[test]
    fn a_key_sharing_a_prefix_with_another_is_redacted_whole() {
        let a = "sk-proj-AAAAbbbbCCCCdddd";
        let b = "sk-proj-WWWWxxxxYYYYzzzz";
        for key in [a, b] {
            assert_eq!(
                s(&format!("bad key {key}."), &[a, b]),
                "bad key [redacted]."
            );
            assert_eq!(
                s(&format!("token=\"{key}\""), &[a, b]),
                "token=\"[redacted]\""
            );
        }
        // A known key's start, then something else: the whole token goes.
        assert_eq!(
            s("key sk-proj-AAAAbbXXXXXXXX here", &[a, b]),
            "key [redacted] here"
        );
    }

    #[test]
    fn redacts_masked_keys_header_echoes_and_json_fields() {
        assert_eq!(
            s(
                "Incorrect API key provided: sk-proj-ab12****************wxyz.",
                &[]
            ),
            "Incorrect API key provided: [redacted]"
        );
        assert_eq!(s("got x-api-key: abc123", &[]), "got x-api-key: [redacted]");
        assert_eq!(
            s(r#"{"api_key": "v4lue", "param":"key", "apiKey":"w"}"#, &[]),
            r#"{"api_key": "[redacted]", "param":"key", "apiKey":"[redacted]"}"#
        );
        assert_eq!(
            s("https://x.blob/y?sv=1&sig=AbC%2Bd&se=2", &[]),
            "https://x.blob/y?sv=1&sig=[redacted]&se=2"
        );
    }
}
