//! The local estimate behind `POST /v1/messages/count_tokens` (upstreams that have no
//! counting endpoint of their own).
//!
//! No tokenizer ships in the worker (it would cost megabytes of wasm), so text is measured
//! by a one-pass scan that mimics how BPE tokenizers split text:
//!
//! - a run of ASCII letters costs `1 + (len - 1) / LETTERS_PER_TOKEN` tokens (common words are
//!   one token, long identifiers split);
//! - a run of digits costs one token per [`DIGITS_PER_TOKEN`];
//! - a run of spaces/tabs longer than one costs one token (indentation); a newline costs
//!   [`NEWLINE`];
//! - ASCII punctuation costs [`PUNCT`] each (pairs such as `",` often merge);
//! - other characters: CJK and similar one token each, the rest (accented letters...) count
//!   as letters.
//!
//! Plus fixed costs: [`PER_MESSAGE`] per message and block, [`TOOLS_PREAMBLE`] when tools are
//! offered (the system prompt Anthropic adds for tool use), [`PER_TOOL`] per tool on top of
//! its name, description and schema text, images by Anthropic's published formula
//! (`width × height / 750` after scaling to at most 1568 px on the long edge; dimensions read
//! from the PNG/GIF/JPEG/WebP header, [`IMAGE_UNKNOWN`] when unknown), PDFs at
//! [`PDF_PER_PAGE`] per page (pages estimated from size).
//!
//! Calibrated against the Claude tokenizer published on npm (`@anthropic-ai/tokenizer`; an
//! older Claude vocabulary — the only one available offline) on the Claude Code samples:
//! system +5.5%, messages −5%, tool descriptions +1.7%, tool schemas +7.3%, whole request
//! +2.9% (`runtime/tests/anthropic_count.rs` checks every part within 10%). Responses carry
//! `x-apex-token-count: estimate` so a client can tell it from an upstream's exact count.

use crate::wire::canonical::{Block, Request, Source};

pub const LETTERS_PER_TOKEN: usize = 6;
pub const DIGITS_PER_TOKEN: usize = 3;
pub const PUNCT: f64 = 0.4;
pub const NEWLINE: f64 = 0.5;
pub const PER_MESSAGE: f64 = 4.0;
pub const TOOLS_PREAMBLE: f64 = 346.0;
pub const PER_TOOL: f64 = 8.0;
pub const IMAGE_UNKNOWN: u64 = 1600;
pub const PDF_PER_PAGE: u64 = 1800;

/// The estimated input tokens of a request.
pub fn estimate(req: &Request) -> u64 {
    let mut n = 0.0;
    for s in &req.system {
        n += text(s) + PER_MESSAGE;
    }
    for m in &req.messages {
        n += PER_MESSAGE;
        for b in &m.content {
            n += block(b);
        }
    }
    if !req.tools.is_empty() {
        n += TOOLS_PREAMBLE;
        for t in &req.tools {
            n += PER_TOOL + text(&t.name);
            if let Some(d) = &t.description {
                n += text(d);
            }
            // The compact serialization the calibration used (whatever spacing the client sent).
            n += compact_json(t.schema.get());
        }
    }
    (n.round() as u64).max(1)
}

fn block(b: &Block) -> f64 {
    match b {
        Block::Text(t) => text(t),
        Block::Thinking { text: t, .. } => text(t),
        Block::RedactedThinking(d) => d.len() as f64 / 4.0,
        Block::ToolUse { name, input, .. } => PER_MESSAGE + text(name) + text(input),
        Block::ToolResult { content, .. } => PER_MESSAGE + content.iter().map(block).sum::<f64>(),
        Block::Image(source) => image(source) as f64,
        Block::Document { source, title } => {
            title.as_deref().map_or(0.0, text)
                + match source {
                    Source::Text(t) => text(t),
                    Source::Base64 { data, .. } => {
                        // ~3/4 of base64 is bytes; a text-heavy PDF page is ~60 KB.
                        let bytes = data.len() as u64 * 3 / 4;
                        ((bytes / 60_000).max(1) * PDF_PER_PAGE) as f64
                    }
                    Source::Url(_) => PDF_PER_PAGE as f64,
                }
        }
    }
}

/// The token estimate of a piece of text (see the module docs).
pub fn text(s: &str) -> f64 {
    memo::of(s, |s| {
        let mut c = Counter::default();
        c.feed(s);
        c.total()
    })
}

/// The estimate of a JSON text as its compact serialization would measure (whitespace
/// between tokens left out, whatever spacing the client sent), read in place: no tree.
fn compact_json(json: &str) -> f64 {
    memo::of(json, |json| {
        let mut c = Counter::default();
        let (mut in_string, mut escaped, mut from) = (false, false, 0);
        for (i, b) in json.bytes().enumerate() {
            if in_string {
                match b {
                    _ if escaped => escaped = false,
                    b'\\' => escaped = true,
                    b'"' => in_string = false,
                    _ => {}
                }
            } else if b == b'"' {
                in_string = true;
            } else if matches!(b, b' ' | b'\t' | b'\n' | b'\r') {
                c.feed(json.get(from..i).unwrap_or_default());
                from = i + 1;
            }
        }
        c.feed(json.get(from..).unwrap_or_default());
        c.total()
    })
}

/// Estimates of long texts already measured in this isolate (or thread), by a hash of the
/// whole text. A client sends the same system prompt, tools and history with every turn of
/// a conversation (Claude Code: ~85 KB a request), and measuring them is a scan that costs
/// about as much as decoding the request; hashing them is a tenth of that. The hash is 64
/// bits plus the length: a collision would only misstate an estimate.
mod memo {
    use std::cell::RefCell;
    use std::collections::HashMap;

    /// Shorter texts are measured every time (a scan is as cheap as a lookup).
    const MIN_LEN: usize = 512;
    /// Entries kept before the memo starts over (about 30 KB).
    const MAX_ENTRIES: usize = 1024;

    thread_local! {
        static MEMO: RefCell<HashMap<(u64, usize), f64>> = RefCell::new(HashMap::new());
    }

    pub fn of(s: &str, measure: impl FnOnce(&str) -> f64) -> f64 {
        if s.len() < MIN_LEN {
            return measure(s);
        }
        let key = (hash(s.as_bytes()), s.len());
        if let Some(n) = MEMO.with(|m| m.borrow().get(&key).copied()) {
            return n;
        }
        let n = measure(s);
        MEMO.with(|m| {
            let mut m = m.borrow_mut();
            if m.len() >= MAX_ENTRIES {
                m.clear();
            }
            m.insert(key, n);
        });
        n
    }

    /// A fast 64-bit hash over 8-byte words (FxHash's multiply-rotate), then a final mix.
    fn hash(bytes: &[u8]) -> u64 {
        const K: u64 = 0x517c_c1b7_2722_0a95;
        let mut h: u64 = 0;
        let mut words = bytes.chunks_exact(8);
        for w in &mut words {
            let mut b = [0u8; 8];
            b.copy_from_slice(w);
            h = (h.rotate_left(5) ^ u64::from_le_bytes(b)).wrapping_mul(K);
        }
        for &b in words.remainder() {
            h = (h.rotate_left(5) ^ u64::from(b)).wrapping_mul(K);
        }
        h ^= h >> 33;
        h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
        h ^ (h >> 33)
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn remembers_long_texts_only_and_by_content() {
            let long = "word ".repeat(200);
            let calls = std::cell::Cell::new(0);
            let measure = |s: &str| {
                calls.set(calls.get() + 1);
                s.len() as f64
            };
            assert_eq!(of(&long, measure), 1000.0);
            assert_eq!(of(&long.clone(), measure), 1000.0);
            assert_eq!(calls.get(), 1, "the second, equal text is remembered");
            let other = format!("{}x", &long[..999]);
            assert_eq!(of(&other, measure), 1000.0);
            assert_eq!(calls.get(), 2, "same length, other content: measured");
            assert_eq!(of("short", measure), 5.0);
            assert_eq!(of("short", measure), 5.0);
            assert_eq!(calls.get(), 4, "short texts are measured every time");
        }
    }
}

/// The scan behind [`text`]: the run being measured (letters, digits or blanks) and what the
/// runs and single characters before it came to. Counts are whole numbers until
/// [`Counter::total`], so pieces of one text (see [`compact_json`]) add up exactly.
#[derive(Default)]
struct Counter {
    tokens: u64,
    punct: u64,
    newlines: u64,
    run: Run,
    len: usize,
}

#[derive(Default, Clone, Copy, PartialEq, Eq)]
enum Run {
    #[default]
    None,
    Letters,
    Digits,
    Blanks,
}

impl Counter {
    fn feed(&mut self, s: &str) {
        for c in s.chars() {
            let run = match c {
                'a'..='z' | 'A'..='Z' => Run::Letters,
                '0'..='9' => Run::Digits,
                ' ' | '\t' => Run::Blanks,
                _ => {
                    self.single(c);
                    continue;
                }
            };
            if run != self.run {
                self.flush();
                self.run = run;
            }
            self.len += 1;
        }
    }

    /// A character that is not a letter, digit or blank of ASCII.
    fn single(&mut self, c: char) {
        self.flush();
        if c == '\n' || c == '\r' {
            self.newlines += 1;
        } else if c.is_ascii() {
            self.punct += 1;
        } else if is_wide(c) {
            self.tokens += 1;
        } else {
            // Accented and other letters: a letter run that counts them double.
            self.run = Run::Letters;
            self.len = 2;
        }
    }

    /// Ends the current run, adding what it costs.
    fn flush(&mut self) {
        self.tokens += match self.run {
            Run::None => 0,
            Run::Letters => 1 + (self.len.saturating_sub(1) / LETTERS_PER_TOKEN) as u64,
            Run::Digits => self.len.div_ceil(DIGITS_PER_TOKEN) as u64,
            Run::Blanks => u64::from(self.len > 1),
        };
        self.run = Run::None;
        self.len = 0;
    }

    fn total(mut self) -> f64 {
        self.flush();
        self.tokens as f64 + self.punct as f64 * PUNCT + self.newlines as f64 * NEWLINE
    }
}

/// Scripts whose characters are roughly a token each.
fn is_wide(c: char) -> bool {
    matches!(u32::from(c),
        0x1100..=0x11FF | 0x2E80..=0x9FFF | 0xAC00..=0xD7AF | 0xF900..=0xFAFF | 0x1F000..=0x1FAFF)
}

/// Image tokens by Anthropic's formula.
fn image(source: &Source) -> u64 {
    let Source::Base64 { data, .. } = source else {
        return IMAGE_UNKNOWN;
    };
    let head = base64_prefix(data, 64 * 1024);
    let Some((w, h)) = dimensions(&head) else {
        return IMAGE_UNKNOWN;
    };
    let (mut w, mut h) = (w as f64, h as f64);
    let long = w.max(h);
    if long > 1568.0 {
        let k = 1568.0 / long;
        w *= k;
        h *= k;
    }
    ((w * h / 750.0).ceil() as u64).clamp(1, IMAGE_UNKNOWN)
}

/// Width and height from an image header.
fn dimensions(b: &[u8]) -> Option<(u32, u32)> {
    let be16 =
        |i: usize| -> Option<u32> { Some(u32::from(*b.get(i)?) << 8 | u32::from(*b.get(i + 1)?)) };
    let le16 =
        |i: usize| -> Option<u32> { Some(u32::from(*b.get(i)?) | u32::from(*b.get(i + 1)?) << 8) };
    let be32 = |i: usize| -> Option<u32> { Some(be16(i)? << 16 | be16(i + 2)?) };
    if b.starts_with(b"\x89PNG") {
        return Some((be32(16)?, be32(20)?));
    }
    if b.starts_with(b"GIF8") {
        return Some((le16(6)?, le16(8)?));
    }
    if b.starts_with(b"RIFF") && b.get(8..12) == Some(b"WEBP") {
        return match b.get(12..16)? {
            b"VP8X" => {
                let w = le16(24)? | u32::from(*b.get(26)?) << 16;
                let h = le16(27)? | u32::from(*b.get(29)?) << 16;
                Some((w + 1, h + 1))
            }
            b"VP8 " => Some((le16(26)? & 0x3FFF, le16(28)? & 0x3FFF)),
            b"VP8L" => {
                let bits = u32::from(*b.get(21)?)
                    | u32::from(*b.get(22)?) << 8
                    | u32::from(*b.get(23)?) << 16
                    | u32::from(*b.get(24)?) << 24;
                Some(((bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1))
            }
            _ => None,
        };
    }
    if b.starts_with(&[0xFF, 0xD8]) {
        let mut i = 2;
        while i + 9 < b.len() {
            if *b.get(i)? != 0xFF {
                return None;
            }
            let marker = *b.get(i + 1)?;
            let len = be16(i + 2)? as usize;
            if matches!(marker, 0xC0..=0xC3 | 0xC5..=0xC7 | 0xC9..=0xCB | 0xCD..=0xCF) {
                return Some((be16(i + 7)?, be16(i + 5)?));
            }
            i += 2 + len;
        }
    }
    None
}

/// Decodes up to `max` bytes from the start of a base64 string (invalid input stops early).
fn base64_prefix(data: &str, max: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(max.min(data.len()));
    let mut acc = 0u32;
    let mut bits = 0;
    for c in data.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            _ => break,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            if out.len() >= max {
                break;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn png_and_gif_dimensions() {
        // 1x1 PNG.
        let png = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==";
        assert_eq!(dimensions(&base64_prefix(png, 1024)), Some((1, 1)));
        assert_eq!(dimensions(b"GIF89a\x20\x03\x58\x02"), Some((800, 600)));
        let t = image(&Source::Base64 {
            media_type: "image/png".into(),
            data: png.into(),
        });
        assert_eq!(t, 1);
    }

    #[test]
    fn text_costs_grow_with_content() {
        assert!(text("hello world") >= 2.0);
        assert!(text("hello world") < 4.0);
        assert!(text("你好世界") >= 4.0);
        assert!(text(&"word ".repeat(1000)) > 900.0);
    }
}
