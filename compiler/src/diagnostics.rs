//! Diagnostics: what is wrong with a config, where, and how to fix it.
//!
//! Loading and validation only *collect* [`Diagnostic`]s into a [`Diagnostics`] set; nothing in
//! the loader prints. The set renders itself (its `Display`) the way rustc does:
//!
//! ```text
//! proxy.yaml:9:5: error: unknown key "bse_url" in provider "deepseek"; did you mean "base_url"?
//!   |
//! 9 |     bse_url: https://api.deepseek.com/v1
//!   |     ^^^^^^^
//! ```
//!
//! Source lines are shown with every API-key-looking value masked ([`Diagnostics::mask`]), so a
//! key that a user pasted into the file never reaches a terminal or a CI log through us.

use crate::text::escape_hidden;
use std::fmt;
use std::sync::Arc;

/// How bad a diagnostic is. Errors stop a config from loading; warnings do not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    Error,
    Warning,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        })
    }
}

/// A place in the source: 1-based line and column (counted in characters) and a length in
/// characters (the caret run; clamped to the end of the line when rendered). Line 0 means "no
/// place in the file" (e.g. the file could not be read).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Span {
    pub line: usize,
    pub col: usize,
    pub len: usize,
}

impl Span {
    pub fn new(line: usize, col: usize, len: usize) -> Span {
        Span { line, col, len }
    }

    /// No place in the file.
    pub fn none() -> Span {
        Span::default()
    }

    /// The first character of the file.
    pub fn start() -> Span {
        Span::new(1, 1, 1)
    }
}

/// One problem (or warning) with its place, message and an optional hint on how to fix it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub severity: Severity,
    pub span: Span,
    pub message: String,
    pub help: Option<String>,
}

impl Diagnostic {
    pub fn error(span: Span, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            severity: Severity::Error,
            span,
            message: message.into(),
            help: None,
        }
    }

    pub fn warning(span: Span, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            severity: Severity::Warning,
            span,
            message: message.into(),
            help: None,
        }
    }

    pub fn with_help(mut self, help: impl Into<String>) -> Diagnostic {
        self.help = Some(help.into());
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

/// All diagnostics for one file, with what is needed to render them: the file name as the user
/// typed it, the source text, and the regions of the source that must never be shown.
#[derive(Debug, Clone)]
pub struct Diagnostics {
    name: String,
    source: Arc<str>,
    items: Vec<Diagnostic>,
    masks: Vec<Span>,
    unreadable: bool,
}

impl Diagnostics {
    /// An empty set for the file `name` whose text is `source`.
    pub fn new(name: impl Into<String>, source: impl Into<Arc<str>>) -> Diagnostics {
        Diagnostics {
            name: name.into(),
            source: source.into(),
            items: Vec::new(),
            masks: Vec::new(),
            unreadable: false,
        }
    }

    /// The single diagnostic for a file that could not be read at all.
    pub fn unreadable(name: impl Into<String>, reason: impl Into<String>) -> Diagnostics {
        let mut d = Diagnostics::new(name, "");
        d.push(Diagnostic::error(Span::none(), reason));
        d.unreadable = true;
        d
    }

    /// True when the file could not be read (`apexc check` exits 2 then, not 1).
    pub fn is_unreadable(&self) -> bool {
        self.unreadable
    }

    /// The file name as given by the caller.
    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn push(&mut self, diagnostic: Diagnostic) {
        self.items.push(diagnostic);
    }

    /// Never show the characters at `span` (an API key pasted into the file): rendered source
    /// lines show a masked form instead.
    pub fn mask(&mut self, span: Span) {
        if !self.masks.contains(&span) {
            self.masks.push(span);
        }
    }

    /// Number of diagnostics (errors and warnings).
    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    pub fn error_count(&self) -> usize {
        self.items.iter().filter(|d| d.is_error()).count()
    }

    pub fn warning_count(&self) -> usize {
        self.items.len() - self.error_count()
    }

    pub fn has_errors(&self) -> bool {
        self.items.iter().any(Diagnostic::is_error)
    }

    /// The diagnostics in source order (errors and warnings interleaved by position).
    pub fn iter(&self) -> impl Iterator<Item = &Diagnostic> {
        self.items.iter()
    }

    /// Puts the diagnostics in source order; equal positions keep the order they were found in.
    pub fn sort(&mut self) {
        self.items.sort_by_key(|d| (d.span.line, d.span.col));
    }

    /// "2 errors, 1 warning" (or "1 error", "no problems").
    pub fn counts(&self) -> String {
        fn plural(n: usize, word: &str) -> String {
            format!("{n} {word}{}", if n == 1 { "" } else { "s" })
        }
        match (self.error_count(), self.warning_count()) {
            (0, 0) => "no problems".to_string(),
            (e, 0) => plural(e, "error"),
            (0, w) => plural(w, "warning"),
            (e, w) => format!("{}, {}", plural(e, "error"), plural(w, "warning")),
        }
    }

    /// Line `n` (1-based) of the source with masked regions replaced and tabs shown as spaces,
    /// plus where the span `col..col+len` of the original line lands in the shown line.
    fn display_line(&self, n: usize, col: usize, len: usize) -> (String, usize, usize) {
        let Some(line) = n.checked_sub(1).and_then(|i| self.source.lines().nth(i)) else {
            return (String::new(), 0, len);
        };
        // One character for one, so carets stay in place: a tab shows as a space, anything
        // else that would hide or reorder text (see `crate::text`) as U+FFFD.
        let mut chars: Vec<char> = line
            .chars()
            .map(|c| match c {
                '\t' => ' ',
                c if crate::text::is_hidden(c) => '\u{fffd}',
                c => c,
            })
            .collect();
        let mut start = col.saturating_sub(1);
        let mut carets = len;
        let mut masks: Vec<Span> = self.masks.iter().filter(|m| m.line == n).copied().collect();
        // Whatever found the problem, a key-looking token never shows: this also covers lines
        // validation never saw (a syntax error) or looked into (a URL's query string).
        for (at, len) in key_tokens(&chars) {
            let overlaps = |m: &Span| {
                let m0 = m.col.saturating_sub(1);
                at < m0 + m.len && m0 < at + len
            };
            if !masks.iter().any(overlaps) {
                masks.push(Span::new(n, at + 1, len));
            }
        }
        // Right to left, so earlier replacements do not move later ones.
        masks.sort_by_key(|m| std::cmp::Reverse(m.col));
        for m in masks {
            let m_start = m.col.saturating_sub(1).min(chars.len());
            let m_end = (m_start + m.len).min(chars.len());
            let masked: Vec<char> = mask_region(&chars[m_start..m_end]);
            let (old_len, new_len) = (m_end - m_start, masked.len());
            if start == m_start {
                carets = new_len;
            } else if start >= m_end {
                start = start - old_len + new_len;
            } else if start < m_start && m_start < start + carets {
                carets = (carets + new_len).saturating_sub(old_len).max(1);
            }
            chars.splice(m_start..m_end, masked);
        }
        (chars.into_iter().collect(), start, carets)
    }

    fn render_one(&self, f: &mut fmt::Formatter<'_>, d: &Diagnostic) -> fmt::Result {
        let Span { line, col, len } = d.span;
        // Messages quote names from the file: never let one act on the terminal.
        let name = escape_hidden(&self.name);
        let message = mask_key_tokens(&escape_hidden(&d.message));
        let help = d
            .help
            .as_deref()
            .map(|h| mask_key_tokens(&escape_hidden(h)));
        if line == 0 {
            writeln!(f, "{name}: {}: {message}", d.severity)?;
            if let Some(help) = &help {
                writeln!(f, "  = help: {help}")?;
            }
            return Ok(());
        }
        writeln!(f, "{name}:{line}:{col}: {}: {message}", d.severity)?;
        let (text, start, len) = self.display_line(line, col, len);
        let gutter = line.to_string().len();
        let pad = " ".repeat(gutter);
        let width = text.chars().count();
        let start = start.min(width);
        // A span that runs past the end of its line (a multi-line value) stops there; a span at
        // the very end of a line (an empty value) still gets one caret.
        let carets = len.min(width.saturating_sub(start)).max(1);
        writeln!(f, "{pad} |")?;
        if text.is_empty() {
            writeln!(f, "{line} |")?;
        } else {
            writeln!(f, "{line} | {text}")?;
        }
        writeln!(f, "{pad} | {}{}", " ".repeat(start), "^".repeat(carets))?;
        if let Some(help) = &help {
            writeln!(f, "{pad} = help: {help}")?;
        }
        Ok(())
    }
}

impl fmt::Display for Diagnostics {
    /// Every diagnostic, in order, separated by blank lines.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.items.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            self.render_one(f, d)?;
        }
        Ok(())
    }
}

impl std::error::Error for Diagnostics {}

/// A secret shown safely: only a recognisable non-secret prefix survives (an auth scheme such
/// as `Bearer `, a vendor tag such as `sk-` or `gsk_`), the rest is a fixed run of `*` that
/// does not even give away the key's length.
pub fn mask_secret(secret: &str) -> String {
    let (scheme, rest) = ["Bearer ", "bearer ", "Basic "]
        .iter()
        .find_map(|p| secret.strip_prefix(p).map(|rest| (*p, rest)))
        .unwrap_or(("", secret));
    let tag_len = rest
        .find(['-', '_'])
        .filter(|&i| i <= 4 && rest[..i].chars().all(|c| c.is_ascii_alphanumeric()))
        .map_or(0, |i| i + 1);
    format!("{scheme}{}********", &rest[..tag_len])
}

/// Where the tokens of `chars` that look like API keys are: (start, length) in characters. A
/// token is a run of letters, digits and `-_./+~`, so a key stands alone after `=`, `:`, `@`, a
/// quote or a bracket.
fn key_tokens(chars: &[char]) -> Vec<(usize, usize)> {
    let in_token = |c: char| c.is_alphanumeric() || "-_./+~".contains(c);
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        if !in_token(chars[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < chars.len() && in_token(chars[i]) {
            i += 1;
        }
        let token: String = chars[start..i].iter().collect();
        if crate::key_shape::looks_like_api_key(&token) {
            out.push((start, i - start));
        }
    }
    out
}

/// `text` with every key-looking token masked ([`mask_secret`]): for messages and hints, which
/// may quote a value from the file.
fn mask_key_tokens(text: &str) -> String {
    let mut chars: Vec<char> = text.chars().collect();
    for (at, len) in key_tokens(&chars).into_iter().rev() {
        let token: String = chars[at..at + len].iter().collect();
        chars.splice(at..at + len, mask_secret(&token).chars());
    }
    chars.into_iter().collect()
}

/// A masked source region, keeping the quotes of a quoted scalar so the line still reads as YAML.
fn mask_region(region: &[char]) -> Vec<char> {
    match (region.first(), region.last()) {
        (Some(&q), Some(&end)) if region.len() >= 2 && (q == '"' || q == '\'') && end == q => {
            let inner: String = region[1..region.len() - 1].iter().collect();
            std::iter::once(q)
                .chain(mask_secret(&inner).chars())
                .chain(std::iter::once(q))
                .collect()
        }
        _ => mask_secret(&region.iter().collect::<String>())
            .chars()
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_all_but_a_vendor_prefix() {
        assert_eq!(mask_secret("sk-abcdef1234567890"), "sk-********");
        assert_eq!(mask_secret("gsk_abcdef1234567890"), "gsk_********");
        assert_eq!(mask_secret("0123456789abcdef0123456789abcdef"), "********");
        assert_eq!(mask_secret("Bearer sk-live-123"), "Bearer sk-********");
        assert_eq!(mask_secret("abcdefghijk-123"), "********");
    }

    #[test]
    fn renders_masked_lines_with_carets_in_place() {
        let src = "keys: [\"sk-abcdef1234567890abcdef\", x]\n";
        let mut d = Diagnostics::new("p.yaml", src);
        let quoted = "\"sk-abcdef1234567890abcdef\"";
        d.mask(Span::new(1, src.find(quoted).unwrap() + 1, quoted.len()));
        d.push(Diagnostic::error(
            Span::new(1, src.find('x').unwrap() + 1, 1),
            "bad",
        ));
        let out = d.to_string();
        assert!(!out.contains("abcdef"), "{out}");
        let shown = "keys: [\"sk-********\", x]";
        let caret = " ".repeat(shown.find('x').unwrap()) + "^";
        assert!(
            out.contains(&format!("1 | {shown}\n  | {caret}\n")),
            "{out}"
        );
    }
}
