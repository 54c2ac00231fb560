//! Incremental Server-Sent Events: a parser fed chunk by chunk, and the writer's framing.
//!
//! Upstream streams arrive in arbitrary pieces: an event may be split across chunks (even
//! inside a UTF-8 character or between `\r` and `\n`), and one chunk may carry several events.
//! [`Parser::feed`] takes each chunk as it comes and yields every event completed by it, so a
//! translated event leaves the gateway as soon as its last byte arrived.
//!
//! Memory is bounded by the largest single event: only the current incomplete line and the
//! current event's data are kept, and an event over [`Parser::new`]'s limit is an error rather
//! than unbounded growth. Follows the WHATWG framing: `\n`, `\r\n` or `\r` line ends; `:`
//! comments; `data` lines joined with `\n`; one optional space after the colon; `id` and
//! `retry` ignored (nothing here replays streams).

/// An SSE comment: ignored by every SSE parser by definition, so it keeps any stream alive.
pub const COMMENT: &[u8] = b": keepalive\n\n";

/// One dispatched event.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Event {
    /// The `event:` field; empty when absent (the SSE default type, `message`).
    pub event: String,
    /// The `data:` lines, joined with `\n`.
    pub data: String,
}

/// An event grew past the parser's limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TooLarge(pub usize);

/// Default bound on one event (line + data): far above any real LLM stream event.
pub const DEFAULT_MAX_EVENT: usize = 8 * 1024 * 1024;

/// The incremental parser. One per stream.
#[derive(Debug)]
pub struct Parser {
    /// The current line, not yet terminated.
    line: Vec<u8>,
    event: String,
    data: String,
    /// A `data` field was seen in the current event (an empty `data:` still dispatches).
    has_data: bool,
    /// The previous chunk ended in `\r`: a `\n` opening the next chunk belongs to it.
    after_cr: bool,
    max: usize,
}

impl Default for Parser {
    fn default() -> Self {
        Self::new(DEFAULT_MAX_EVENT)
    }
}

impl Parser {
    pub fn new(max_event_bytes: usize) -> Self {
        Parser {
            line: Vec::new(),
            event: String::new(),
            data: String::new(),
            has_data: false,
            after_cr: false,
            max: max_event_bytes,
        }
    }

    /// Consumes one chunk; pushes every event it completes onto `out`.
    pub fn feed(&mut self, mut chunk: &[u8], out: &mut Vec<Event>) -> Result<(), TooLarge> {
        if self.after_cr {
            self.after_cr = false;
            if let Some(rest) = chunk.strip_prefix(b"\n") {
                chunk = rest;
            }
        }
        while let Some(pos) = line_end(chunk) {
            let (head, tail) = chunk.split_at(pos);
            let is_cr = tail.first() == Some(&b'\r');
            let mut rest = tail.get(1..).unwrap_or_default();
            if is_cr {
                match rest.first() {
                    Some(b'\n') => rest = rest.get(1..).unwrap_or_default(),
                    None => self.after_cr = true,
                    Some(_) => {}
                }
            }
            if self.line.is_empty() {
                self.line_done(head, out)?;
            } else {
                self.line.extend_from_slice(head);
                let line = std::mem::take(&mut self.line);
                self.line_done(&line, out)?;
                self.line = line;
                self.line.clear();
            }
            chunk = rest;
        }
        self.line.extend_from_slice(chunk);
        if self.line.len() + self.data.len() > self.max {
            return Err(TooLarge(self.line.len() + self.data.len()));
        }
        Ok(())
    }

    /// The stream ended: a last event not followed by a blank line still counts.
    pub fn finish(&mut self, out: &mut Vec<Event>) -> Result<(), TooLarge> {
        if !self.line.is_empty() {
            let line = std::mem::take(&mut self.line);
            self.line_done(&line, out)?;
        }
        self.line_done(b"", out)
    }

    fn line_done(&mut self, line: &[u8], out: &mut Vec<Event>) -> Result<(), TooLarge> {
        if line.is_empty() {
            if self.has_data {
                if self.data.ends_with('\n') {
                    self.data.pop();
                }
                out.push(Event {
                    event: std::mem::take(&mut self.event),
                    data: std::mem::take(&mut self.data),
                });
            }
            self.event.clear();
            self.data.clear();
            self.has_data = false;
            return Ok(());
        }
        if line.first() == Some(&b':') {
            return Ok(());
        }
        let (field, value) = match line.iter().position(|b| *b == b':') {
            Some(i) => {
                let (f, v) = line.split_at(i);
                let v = v.get(1..).unwrap_or_default();
                (f, v.strip_prefix(b" ").unwrap_or(v))
            }
            None => (line, &b""[..]),
        };
        match field {
            b"data" => {
                if self.data.len() + value.len() > self.max {
                    return Err(TooLarge(self.data.len() + value.len()));
                }
                // One allocation for the usual one-line event (and none for the `\n`).
                self.data.reserve(value.len() + 1);
                push_lossy(&mut self.data, value);
                self.data.push('\n');
                self.has_data = true;
            }
            b"event" => {
                self.event.clear();
                push_lossy(&mut self.event, value);
            }
            _ => {}
        }
        Ok(())
    }
}

/// Appends `bytes` as text, invalid UTF-8 replaced. `str::from_utf8` first: it checks ASCII
/// a word at a time, where `from_utf8_lossy` walks every byte (a third of the parser's time).
fn push_lossy(out: &mut String, bytes: &[u8]) {
    match std::str::from_utf8(bytes) {
        Ok(s) => out.push_str(s),
        Err(_) => out.push_str(&String::from_utf8_lossy(bytes)),
    }
}

/// The position of the first `\n` or `\r` in `s`. Stream events are long lines (a JSON
/// chunk each), so this looks at eight bytes per step (plain integer arithmetic, which wasm
/// has too) and at single bytes only for the last few and the word that holds the match.
fn line_end(s: &[u8]) -> Option<usize> {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    let mut words = s.chunks_exact(8);
    let mut at = 0;
    for w in words.by_ref() {
        let mut b = [0u8; 8];
        b.copy_from_slice(w);
        let x = u64::from_le_bytes(b);
        // A zero byte in `x ^ (c * LO)` is a byte equal to `c` (the classic "has zero byte"
        // test; it can flag a byte after a real match, never miss one, so the bytes are then
        // looked at one by one).
        let (n, r) = (x ^ (u64::from(b'\n') * LO), x ^ (u64::from(b'\r') * LO));
        if ((n.wrapping_sub(LO) & !n) | (r.wrapping_sub(LO) & !r)) & HI != 0 {
            break;
        }
        at += 8;
    }
    s.get(at..)?
        .iter()
        .position(|b| *b == b'\n' || *b == b'\r')
        .map(|p| at + p)
}

/// Appends one event in wire form: `event: NAME\ndata: DATA\n\n` (no `event:` line when
/// `name` is empty). `data` must be one line (JSON from serde_json always is).
pub fn write(out: &mut Vec<u8>, name: &str, data: &[u8]) {
    if !name.is_empty() {
        out.extend_from_slice(b"event: ");
        out.extend_from_slice(name.as_bytes());
        out.push(b'\n');
    }
    out.extend_from_slice(b"data: ");
    out.extend_from_slice(data);
    out.extend_from_slice(b"\n\n");
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    fn parse_in_pieces(input: &[u8], piece: usize) -> Vec<Event> {
        let mut p = Parser::default();
        let mut out = Vec::new();
        for c in input.chunks(piece.max(1)) {
            p.feed(c, &mut out).unwrap();
        }
        p.finish(&mut out).unwrap();
        out
    }

    #[test]
    fn any_split_gives_the_same_events() {
        let input = "event: a\r\ndata: {\"x\":\"é\"}\r\n\r\n: comment\n\ndata:one\ndata: two\n\n\
                     event: b\rdata: last\r\r"
            .as_bytes();
        let whole = parse_in_pieces(input, input.len());
        assert_eq!(
            whole,
            vec![
                Event {
                    event: "a".into(),
                    data: "{\"x\":\"é\"}".into()
                },
                Event {
                    event: String::new(),
                    data: "one\ntwo".into()
                },
                Event {
                    event: "b".into(),
                    data: "last".into()
                },
            ]
        );
        for n in 1..input.len() {
            assert_eq!(parse_in_pieces(input, n), whole, "pieces of {n}");
        }
    }

    #[test]
    fn line_end_finds_the_first_line_break_anywhere() {
        let naive = |s: &[u8]| s.iter().position(|b| *b == b'\n' || *b == b'\r');
        for len in 0..40 {
            for at in 0..len {
                for brk in [b'\n', b'\r'] {
                    let mut s: Vec<u8> = (0..len).map(|i| b"a\x0b\x0c\x8d\xff"[i % 5]).collect();
                    s[at] = brk;
                    if at + 3 < len {
                        s[at + 3] = b'\n';
                    }
                    assert_eq!(line_end(&s), naive(&s), "{s:?}");
                    assert_eq!(line_end(&s), Some(at));
                }
            }
            let s = vec![b'x'; len];
            assert_eq!(line_end(&s), None);
        }
    }

    #[test]
    fn unterminated_last_event_and_limits() {
        assert_eq!(
            parse_in_pieces(b"data: [DONE]", 3),
            vec![Event {
                event: String::new(),
                data: "[DONE]".into()
            }]
        );
        let mut p = Parser::new(16);
        let mut out = Vec::new();
        assert!(p.feed(&[b'x'; 40], &mut out).is_err());
    }
}
