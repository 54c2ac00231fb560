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
            n += text(&t.schema.to_value().to_string());
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
    let mut n = 0.0;
    let mut letters = 0usize;
    let mut digits = 0usize;
    let mut spaces = 0usize;
    let flush = |n: &mut f64, letters: &mut usize, digits: &mut usize, spaces: &mut usize| {
        if *letters > 0 {
            *n += 1.0 + ((*letters - 1) / LETTERS_PER_TOKEN) as f64;
            *letters = 0;
        }
        if *digits > 0 {
            *n += digits.div_ceil(DIGITS_PER_TOKEN) as f64;
            *digits = 0;
        }
        if *spaces > 1 {
            *n += 1.0;
        }
        *spaces = 0;
    };
    for c in s.chars() {
        if c.is_ascii_alphabetic() {
            if digits > 0 || spaces > 0 {
                let mut l = 0;
                flush(&mut n, &mut l, &mut digits, &mut spaces);
            }
            letters += 1;
        } else if c.is_ascii_digit() {
            if letters > 0 || spaces > 0 {
                let mut d = 0;
                flush(&mut n, &mut letters, &mut d, &mut spaces);
            }
            digits += 1;
        } else if c == ' ' || c == '\t' {
            if letters > 0 || digits > 0 {
                let mut sp = 0;
                flush(&mut n, &mut letters, &mut digits, &mut sp);
            }
            spaces += 1;
        } else {
            flush(&mut n, &mut letters, &mut digits, &mut spaces);
            if c == '\n' || c == '\r' {
                n += NEWLINE;
            } else if c.is_ascii() {
                n += PUNCT;
            } else if is_wide(c) {
                n += 1.0;
            } else {
                letters += 2;
            }
        }
    }
    flush(&mut n, &mut letters, &mut digits, &mut spaces);
    n
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
