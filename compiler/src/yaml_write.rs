//! Writing `proxy.yaml` text (for `apexc init` and `apexc import`).
//!
//! The configs we write are small and shaped by hand (comments, flow-style routes), so this is
//! not a general YAML emitter: it only decides how to write one string scalar so that it reads
//! back as the same string, in a block or a flow (`{ ... }`) context. Plain when that is
//! unambiguous, else a double-quoted JSON string (which is valid YAML).

/// `s` as a YAML scalar that reads back as the string `s` in block context
/// (`key: VALUE`).
pub fn scalar(s: &str) -> String {
    if plain_ok(s, false) {
        s.to_string()
    } else {
        quoted(s)
    }
}

/// `s` as a YAML scalar inside a flow mapping or sequence (`{ model: VALUE }`), where `,`,
/// `[]{}` and `:` also end a plain scalar.
pub fn flow_scalar(s: &str) -> String {
    if plain_ok(s, true) {
        s.to_string()
    } else {
        quoted(s)
    }
}

/// `s` as a mapping key.
pub fn key(s: &str) -> String {
    flow_scalar(s)
}

fn quoted(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| format!("\"{}\"", s.escape_default()))
}

/// Whether `s` can be written unquoted. Deliberately conservative: letters, digits and a few
/// punctuation marks, not starting with an indicator, and not something YAML would read as a
/// number, boolean or null.
fn plain_ok(s: &str, flow: bool) -> bool {
    if s.is_empty() || s.trim() != s {
        return false;
    }
    let allowed =
        |c: char| c.is_ascii_alphanumeric() || "-_./@+~".contains(c) || (!flow && c == ':');
    if !s.chars().all(allowed) {
        return false;
    }
    // `key: value` and `key:` are mappings, not strings.
    if s.ends_with(':') {
        return false;
    }
    let first = s.chars().next().unwrap_or(' ');
    if "-?:,[]{}#&*!|>'\"%@`~".contains(first)
        && !(first == '-' && s.len() > 1 && !s.starts_with("- "))
    {
        return false;
    }
    if first == '-' && s[1..].starts_with(|c: char| c.is_ascii_digit() || c == '.') {
        return false;
    }
    !looks_like_non_string(s)
}

/// YAML 1.1/1.2 words and numbers that a loader would not read as a string.
fn looks_like_non_string(s: &str) -> bool {
    let lower = s.to_ascii_lowercase();
    if [
        "true", "false", "yes", "no", "on", "off", "y", "n", "null", "~", ".nan", ".inf", "-.inf",
        "+.inf",
    ]
    .contains(&lower.as_str())
    {
        return true;
    }
    let digits = s.trim_start_matches(['+', '-']);
    digits.starts_with(|c: char| c.is_ascii_digit() || c == '.')
        && digits
            .chars()
            .all(|c| c.is_ascii_hexdigit() || "._xXoObB+-eE".contains(c))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_where_unambiguous_quoted_otherwise() {
        assert_eq!(scalar("deepseek-chat"), "deepseek-chat");
        assert_eq!(
            scalar("https://api.deepseek.com/v1"),
            "https://api.deepseek.com/v1"
        );
        assert_eq!(
            flow_scalar("deepseek-ai/DeepSeek-R1"),
            "deepseek-ai/DeepSeek-R1"
        );
        assert_eq!(flow_scalar("qwen:7b"), "\"qwen:7b\"");
        assert_eq!(scalar("true"), "\"true\"");
        assert_eq!(scalar("3.5"), "\"3.5\"");
        assert_eq!(scalar("1e3"), "\"1e3\"");
        assert_eq!(scalar("2025-01-01-preview"), "2025-01-01-preview");
        assert_eq!(scalar("a b"), "\"a b\"");
        assert_eq!(scalar("#x"), "\"#x\"");
        assert_eq!(scalar("-x"), "-x");
        assert_eq!(scalar(""), "\"\"");
        assert_eq!(scalar("say \"hi\""), "\"say \\\"hi\\\"\"");
    }
}
