//! JSON kept as text ([`RawJson`]), and JSON written straight into bytes ([`Writer`]).
//!
//! Big parts of a request pass through a translation unchanged (tool schemas: ~15 KB in a
//! Claude Code request). Parsing them into a `serde_json::Value` tree only to serialize the
//! tree again costs an allocation per node and a copy per string; in wasm that was most of a
//! translated request's CPU. [`RawJson`] holds such a part as the client's JSON text; the
//! decoders that keep it read bodies through `wire::lenient`.

use serde::{Deserialize, Deserializer};
use serde::{Serialize, Serializer};
use serde_json::value::RawValue;
use serde_json::Value;

/// A JSON value as text (valid JSON, as the client wrote it or as we serialized it).
#[derive(Debug, Clone)]
pub struct RawJson(Box<RawValue>);

impl RawJson {
    /// The JSON text.
    pub fn get(&self) -> &str {
        self.0.get()
    }

    /// `value` serialized.
    pub fn from_value(value: &Value) -> Self {
        match serde_json::value::to_raw_value(value) {
            Ok(raw) => RawJson(raw),
            Err(_) => Self::null(),
        }
    }

    /// A JSON literal of ours (`null` if it is not valid JSON, which the tests rule out).
    pub fn literal(json: &'static str) -> Self {
        match RawValue::from_string(json.to_owned()) {
            Ok(raw) => RawJson(raw),
            Err(_) => Self::null(),
        }
    }

    pub fn null() -> Self {
        RawJson(RawValue::NULL.to_owned())
    }

    /// The value as a tree (for the rare encoder that needs one).
    pub fn to_value(&self) -> Value {
        serde_json::from_str(self.get()).unwrap_or(Value::Null)
    }
}

impl From<Box<RawValue>> for RawJson {
    fn from(raw: Box<RawValue>) -> Self {
        RawJson(raw)
    }
}

impl PartialEq for RawJson {
    fn eq(&self, other: &Self) -> bool {
        self.get() == other.get()
    }
}

impl Serialize for RawJson {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}

impl<'de> Deserialize<'de> for RawJson {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Box::<RawValue>::deserialize(d).map(RawJson)
    }
}

/// Whether any of the eight bytes of `w` is a control character, `"` or `\\` (the classic
/// "has a zero byte" test, exact as a yes/no answer; wasm has 64-bit integers too).
fn needs_escape(w: u64) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let zero_byte = |x: u64| x.wrapping_sub(ONES) & !x & HIGH;
    let control = w.wrapping_sub(ONES * 0x20) & !w & HIGH;
    let quote = zero_byte(w ^ (ONES * u64::from(b'"')));
    let backslash = zero_byte(w ^ (ONES * u64::from(b'\\')));
    control | quote | backslash != 0
}

/// A JSON text written straight into bytes: the encoders' alternative to building a `Value`
/// tree (every string cloned into it) and serializing that. Strings are escaped exactly as
/// serde_json does; [`RawJson`] is copied as is.
///
/// Commas are implicit: [`Writer::key`] and [`Writer::item`] put one before anything that
/// does not open its object or array.
#[derive(Debug, Default)]
pub struct Writer {
    pub buf: Vec<u8>,
}

impl Writer {
    pub fn with_capacity(n: usize) -> Self {
        Writer {
            buf: Vec::with_capacity(n),
        }
    }

    fn comma(&mut self) {
        if !matches!(self.buf.last(), None | Some(b'{' | b'[' | b':')) {
            self.buf.push(b',');
        }
    }

    /// `{`
    pub fn open(&mut self) {
        self.buf.push(b'{');
    }

    /// `}`
    pub fn close(&mut self) {
        self.buf.push(b'}');
    }

    /// `[`
    pub fn open_list(&mut self) {
        self.buf.push(b'[');
    }

    /// `]`
    pub fn close_list(&mut self) {
        self.buf.push(b']');
    }

    /// A member's key (the value is written next). `key` must need no escaping.
    pub fn key(&mut self, key: &str) {
        self.comma();
        self.buf.push(b'"');
        self.buf.extend_from_slice(key.as_bytes());
        self.buf.extend_from_slice(b"\":");
    }

    /// Starts an array element (the value is written next).
    pub fn item(&mut self) {
        self.comma();
    }

    /// JSON text written as is (a literal of ours, or valid JSON from the client).
    pub fn raw(&mut self, json: &str) {
        self.buf.extend_from_slice(json.as_bytes());
    }

    /// A string value.
    pub fn string(&mut self, s: &str) {
        self.buf.push(b'"');
        self.string_contents(s);
        self.buf.push(b'"');
    }

    /// Several strings written as one string value (no joined copy is made).
    pub fn joined<'s>(&mut self, parts: impl IntoIterator<Item = &'s str>, separator: &str) {
        self.buf.push(b'"');
        for (i, p) in parts.into_iter().enumerate() {
            if i > 0 {
                self.string_contents(separator);
            }
            self.string_contents(p);
        }
        self.buf.push(b'"');
    }

    /// The escaped contents of a string (no quotes): runs that need no escape are found
    /// eight bytes at a time and copied in one go.
    pub fn string_contents(&mut self, s: &str) {
        let bytes = s.as_bytes();
        let mut start = 0;
        let mut i = 0;
        loop {
            while let Some(word) = bytes
                .get(i..i + 8)
                .and_then(|w| <[u8; 8]>::try_from(w).ok())
            {
                if needs_escape(u64::from_le_bytes(word)) {
                    break;
                }
                i += 8;
            }
            // A word with something to escape (or the tail): byte by byte.
            let end = (i + 8).min(bytes.len());
            if i >= end {
                break;
            }
            for (j, &b) in bytes.get(i..end).unwrap_or_default().iter().enumerate() {
                if b >= 0x20 && b != b'"' && b != b'\\' {
                    continue;
                }
                self.buf
                    .extend_from_slice(bytes.get(start..i + j).unwrap_or_default());
                start = i + j + 1;
                self.escape(b);
            }
            i = end;
        }
        self.buf
            .extend_from_slice(bytes.get(start..).unwrap_or_default());
    }

    /// The escape sequence of a byte that needs one (as serde_json writes it).
    fn escape(&mut self, b: u8) {
        match b {
            b'"' => self.buf.extend_from_slice(b"\\\""),
            b'\\' => self.buf.extend_from_slice(b"\\\\"),
            b'\n' => self.buf.extend_from_slice(b"\\n"),
            b'\r' => self.buf.extend_from_slice(b"\\r"),
            b'\t' => self.buf.extend_from_slice(b"\\t"),
            0x08 => self.buf.extend_from_slice(b"\\b"),
            0x0c => self.buf.extend_from_slice(b"\\f"),
            _ => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                self.buf.extend_from_slice(b"\\u00");
                self.buf
                    .push(HEX.get(usize::from(b >> 4)).copied().unwrap_or(b'0'));
                self.buf
                    .push(HEX.get(usize::from(b & 0xf)).copied().unwrap_or(b'0'));
            }
        }
    }

    pub fn bool(&mut self, v: bool) {
        self.raw(if v { "true" } else { "false" });
    }

    pub fn uint(&mut self, v: u64) {
        self.raw(&v.to_string());
    }

    /// A number as serde_json writes it (`null` when not finite, as `json!` gives).
    pub fn float(&mut self, v: f64) {
        match serde_json::Number::from_f64(v) {
            Some(n) => self.raw(&n.to_string()),
            None => self.raw("null"),
        }
    }

    /// A `Value` (small parts that are trees anyway).
    pub fn value(&mut self, v: &Value) {
        self.raw(&v.to_string());
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn strings_escape_like_serde_json() {
        let all: String = (0u8..0x80)
            .map(char::from)
            .chain("é😀\u{2028}".chars())
            .collect();
        for s in ["", "plain", "a\"b\\c\n", all.as_str()] {
            let mut w = Writer::default();
            w.string(s);
            assert_eq!(
                String::from_utf8(w.buf).unwrap(),
                serde_json::to_string(s).unwrap()
            );
        }
        let mut w = Writer::default();
        w.open();
        w.key("a");
        w.open_list();
        w.item();
        w.joined(["x", "y\n"], "\n\n");
        w.item();
        w.float(0.5);
        w.close_list();
        w.key("b");
        w.uint(3);
        w.close();
        assert_eq!(
            String::from_utf8(w.buf).unwrap(),
            r#"{"a":["x\n\ny\n",0.5],"b":3}"#
        );
    }

    #[test]
    fn literals_are_valid() {
        assert_eq!(
            RawJson::literal(r#"{"type":"object"}"#).get(),
            r#"{"type":"object"}"#
        );
        assert_eq!(RawJson::literal("{").get(), "null");
    }
}
