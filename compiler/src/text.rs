//! Characters that must never pass through us raw: C0/C1 controls (newlines included),
//! bidirectional controls (U+202E turns `gpj.exe` into `exe.jpg` on screen), format characters
//! (zero-width spaces and joiners, the BOM, tag characters) and the Unicode line and paragraph
//! separators.
//!
//! A config name can travel to generated Rust (where rustc refuses bidi controls even in a
//! comment, and a newline ends a comment), to `wrangler.toml`, to a terminal and to a CI log,
//! where they hide or forge text. No provider id, model name or secret name needs one, so the
//! loader refuses them ([`crate::validate`]), and every place that prints a name escapes them
//! anyway: diagnostics and generated comments.

use std::borrow::Cow;

/// Whether `c` is one of the characters above.
pub fn is_hidden(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{00ad}'
                | '\u{061c}'
                | '\u{180e}'
                | '\u{200b}'..='\u{200f}'
                | '\u{2028}'..='\u{202e}'
                | '\u{2060}'..='\u{206f}'
                | '\u{feff}'
                | '\u{fff9}'..='\u{fffb}'
                | '\u{0600}'..='\u{0605}'
                | '\u{06dd}'
                | '\u{070f}'
                | '\u{0890}'..='\u{0891}'
                | '\u{08e2}'
                | '\u{110bd}'
                | '\u{110cd}'
                | '\u{13430}'..='\u{1343f}'
                | '\u{1bca0}'..='\u{1bca3}'
                | '\u{1d173}'..='\u{1d17a}'
                | '\u{e0000}'..='\u{e007f}'
        )
}

/// The first hidden character of `s`, if any.
pub fn first_hidden(s: &str) -> Option<char> {
    s.chars().find(|&c| is_hidden(c))
}

/// `s` with every hidden character written as `\u{202e}`, so it shows (and cannot act).
pub fn escape_hidden(s: &str) -> Cow<'_, str> {
    if first_hidden(s).is_none() {
        return Cow::Borrowed(s);
    }
    Cow::Owned(
        s.chars()
            .map(|c| {
                if is_hidden(c) {
                    format!("\\u{{{:x}}}", c as u32)
                } else {
                    c.to_string()
                }
            })
            .collect(),
    )
}

/// "U+202E (a bidirectional control)": how diagnostics name a hidden character.
pub fn describe(c: char) -> String {
    let what = match c {
        _ if c.is_control() => "a control character",
        '\u{061c}'
        | '\u{200e}'
        | '\u{200f}'
        | '\u{202a}'..='\u{202e}'
        | '\u{2066}'..='\u{2069}' => "a bidirectional control",
        '\u{2028}' | '\u{2029}' => "a line separator",
        _ => "an invisible format character",
    };
    format!("U+{:04X} ({what})", c as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_only_what_hides() {
        assert_eq!(escape_hidden("deepseek-R1 通义 é"), "deepseek-R1 通义 é");
        assert_eq!(escape_hidden("a\u{202e}b\nc"), "a\\u{202e}b\\u{a}c");
        assert_eq!(describe('\u{202e}'), "U+202E (a bidirectional control)");
        assert_eq!(describe('\u{7}'), "U+0007 (a control character)");
        assert!(is_hidden('\u{feff}') && is_hidden('\u{e0041}') && !is_hidden('\u{a0}'));
    }
}
