//! "Did you mean ...?": the closest known spelling to a mistyped word.

/// The candidate closest to `word`, if it is close enough to be a plausible typo: same letters
/// ignoring case and `-`/`_`, or within a small edit distance (about one edit per three letters).
pub fn did_you_mean<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let norm = |s: &str| s.to_lowercase().replace(['-', '_', ' '], "");
    let w = norm(word);
    let limit = (word.chars().count() / 3).max(1);
    candidates
        .into_iter()
        .filter(|c| *c != word)
        .map(|c| {
            let nc = norm(c);
            let d = if nc == w {
                0
            } else if w.len() >= 3 && nc.starts_with(&w) {
                // "azure" for "azure-openai": a prefix is a plausible shorthand.
                1
            } else {
                strsim::damerau_levenshtein(&word.to_lowercase(), &c.to_lowercase())
            };
            (d, c)
        })
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// `a, b, c` from a list of names.
pub fn list(names: &[&str]) -> String {
    names.join(", ")
}

#[cfg(test)]
mod tests {
    use super::did_you_mean;

    #[test]
    fn finds_near_misses_only() {
        let keys = [
            "kind",
            "base_url",
            "api_keys",
            "api_version",
            "headers",
            "timeout_ms",
        ];
        assert_eq!(did_you_mean("bse_url", keys), Some("base_url"));
        assert_eq!(did_you_mean("apiKeys", keys), Some("api_keys"));
        assert_eq!(
            did_you_mean("opneai", ["openai", "azure-openai", "mock"]),
            Some("openai")
        );
        assert_eq!(
            did_you_mean("round_robin", ["random", "round-robin"]),
            Some("round-robin")
        );
        assert_eq!(
            did_you_mean("azure", ["openai", "azure-openai", "mock"]),
            Some("azure-openai")
        );
        assert_eq!(did_you_mean("colour", keys), None);
    }
}
