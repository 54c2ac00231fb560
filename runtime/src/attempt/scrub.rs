//! The scrub stage: every byte an upstream sends passes here before a client, a log line or
//! the response store sees it.
//!
//! A deployed gateway is a public URL in front of the user's paid keys, and upstreams echo
//! what they were sent: a key (or part of it) in an "invalid key" message, a request URL with
//! `?key=`, an `authorization` header, an SSE error event inside a 200 stream, a JSON string
//! with the key escaped (`\/`, `\u002d`). So the router never looks at an upstream answer
//! before [`stage`] has cleaned it, on every path (attempts, native follow-ups), whatever the
//! status:
//!
//! - **headers**: credential-named ones dropped ([`credential_header`]), the others' values
//!   cleaned ([`Scope::All`]);
//! - **body**: cleaned line by line as it streams ([`Scrubbed`]): memory is bounded by the
//!   longest line (an SSE event's line, or a one-line JSON body), never the whole stream, and
//!   a line leaves only once it is complete, so a key split across chunks is still seen;
//! - **content encodings**: the gateway asks for `identity`; a body still encoded (`gzip`…)
//!   cannot be read, so it is never forwarded: an error answer keeps its status with a body of
//!   the gateway's, a success becomes a 502 (and fails over). (The Workers host hands over
//!   bodies the platform already decoded, and drops the header.)
//!
//! What counts as a credential ([`clean`]): every value of a key the gateway knows
//! ([`Secrets`]: every provider's and the gateway's own, not only the one called), whole or any
//! 8-byte run of it; on error answers and header values ([`Scope::All`]) also every `sk-…`
//! style token (masked ones too, `sk-proj-ab**…**yz`), every `key=`/`token=`/`sig=`/`secret=`/
//! `password=` query value, every `Bearer …` token, every `…key: value` header echo and every
//! JSON `"…key": "value"`. Success bodies get only the known-key pass: the heuristics would
//! rewrite ordinary model output ("monkey: …"). JSON escapes of printable ASCII are decoded
//! before matching, so an escaped key is seen as the key; bytes with nothing to redact leave
//! exactly as they came.

use crate::host::{Body, ByteStream, Headers, HttpResponse, StreamError};
use bytes::Bytes;
use futures_core::Stream;
use std::borrow::Cow;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

const REDACTED: &[u8] = b"[redacted]";

/// Shortest run of a known key that counts as the key: error messages that "mask" a key often
/// show its first or last characters (`alpha-se…`, `…lue-1111`).
pub const FRAGMENT: usize = 8;

/// Longest line [`Scrubbed`] holds while waiting for its end (the largest body read whole).
pub const MAX_LINE: usize = crate::attempt::exchange::MAX_TRANSLATED_BODY;

/// Which rules apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Known key values only (success bodies).
    Known,
    /// Known keys and every credential-looking token (error bodies, header values).
    All,
}

/// The key values the gateway knows, ready for matching.
#[derive(Debug, Default)]
pub struct Secrets {
    /// Whole values (at least 4 bytes).
    whole: Vec<Vec<u8>>,
    /// Every [`FRAGMENT`]-byte run of every value, as a little-endian u64, sorted.
    runs: Vec<u64>,
    /// Bit per first two bytes of a run: most positions are ruled out with one lookup.
    pairs: Vec<u64>,
}

impl Secrets {
    pub fn new<I: IntoIterator<Item = String>>(values: I) -> Self {
        let mut s = Secrets {
            pairs: vec![0; 1024],
            ..Secrets::default()
        };
        for v in values {
            let v = v.into_bytes();
            if v.len() < 4 {
                continue;
            }
            for w in v.windows(FRAGMENT) {
                if let Some(run) = run_at(w) {
                    s.runs.push(run);
                    let p = pair_at(w);
                    if let Some(slot) = s.pairs.get_mut(p / 64) {
                        *slot |= 1 << (p % 64);
                    }
                }
            }
            s.whole.push(v);
        }
        s.runs.sort_unstable();
        s.runs.dedup();
        s
    }

    /// Length of a known key (whole, or a run of ≥ [`FRAGMENT`] bytes of one) at the start of
    /// `rest`; the longest whole match wins (keys of one family share a prefix).
    fn at(&self, rest: &[u8]) -> Option<usize> {
        let whole = self
            .whole
            .iter()
            .filter(|w| rest.starts_with(w))
            .map(Vec::len)
            .max();
        if whole.is_some() {
            return whole;
        }
        let head = rest.get(..FRAGMENT)?;
        let p = pair_at(head);
        let bit = self
            .pairs
            .get(p / 64)
            .is_some_and(|b| b & (1 << (p % 64)) != 0);
        if !bit {
            return None;
        }
        let run = run_at(head)?;
        self.runs.binary_search(&run).ok().map(|_| FRAGMENT)
    }
}

fn run_at(w: &[u8]) -> Option<u64> {
    let a: [u8; 8] = w.get(..FRAGMENT)?.try_into().ok()?;
    Some(u64::from_le_bytes(a))
}

fn pair_at(w: &[u8]) -> usize {
    let a = usize::from(w.first().copied().unwrap_or(0));
    let b = usize::from(w.get(1).copied().unwrap_or(0));
    (a << 8 | b) & 0xffff
}

/// `body` with credentials replaced; borrowed when there was nothing to replace.
pub fn clean<'a>(body: &'a [u8], secrets: &Secrets, scope: Scope) -> Cow<'a, [u8]> {
    // An escaped key is still the key: matching runs on the text with its escapes decoded,
    // and when that finds something, what leaves is the decoded (equivalent JSON) text,
    // redacted. Otherwise the bytes leave as they came.
    let plain = if body.contains(&b'\\') {
        unescape(body)
    } else {
        None
    };
    match redact(plain.as_deref().unwrap_or(body), secrets, scope) {
        Some(out) => Cow::Owned(out),
        None => Cow::Borrowed(body),
    }
}

/// `body` with every JSON escape of a printable ASCII character but `"` and `\` (`\/`,
/// `\u002B`, `\u0041`) replaced by the character itself; `None` when there is none.
fn unescape(body: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(body.len());
    let mut i = 0;
    let mut changed = false;
    while let Some(&b) = body.get(i) {
        if b == b'\\' {
            match body.get(i + 1) {
                Some(b'/') => {
                    out.push(b'/');
                    i += 2;
                    changed = true;
                    continue;
                }
                Some(b'u') => {
                    let c = body
                        .get(i + 2..i + 6)
                        .filter(|h| h.iter().all(u8::is_ascii_hexdigit))
                        .and_then(|h| std::str::from_utf8(h).ok())
                        .and_then(|h| u8::from_str_radix(h, 16).ok())
                        .filter(|c| (0x20..0x7f).contains(c) && *c != b'"' && *c != b'\\');
                    if let Some(c) = c {
                        out.push(c);
                        i += 6;
                        changed = true;
                        continue;
                    }
                }
                _ => {}
            }
            // Any other escape stays as it is, both bytes (`\\` must not start another).
            out.extend_from_slice(body.get(i..(i + 2).min(body.len())).unwrap_or_default());
            i += 2;
            continue;
        }
        out.push(b);
        i += 1;
    }
    changed.then_some(out)
}

/// The body with credentials replaced, or `None` when it holds none.
fn redact(body: &[u8], secrets: &Secrets, scope: Scope) -> Option<Vec<u8>> {
    let mut out: Option<Vec<u8>> = None;
    // Bytes of `body` before `i` not yet copied to `out` start at `copied`.
    let mut copied = 0;
    let mut i = 0;
    while let Some(rest) = body.get(i..).filter(|r| !r.is_empty()) {
        let Some((keep, skip)) = match_at(body, i, rest, secrets, scope) else {
            i += 1;
            continue;
        };
        let o = out.get_or_insert_with(|| Vec::with_capacity(body.len()));
        o.extend_from_slice(body.get(copied..i + keep).unwrap_or_default());
        o.extend_from_slice(REDACTED);
        i += keep + skip;
        copied = i;
    }
    let mut o = out?;
    o.extend_from_slice(body.get(copied..).unwrap_or_default());
    Some(o)
}

/// A credential at `i` (`rest` = `body[i..]`): how many bytes of the match to keep (a
/// `key=` prefix) and how many after them to replace.
fn match_at(
    body: &[u8],
    i: usize,
    rest: &[u8],
    secrets: &Secrets,
    scope: Scope,
) -> Option<(usize, usize)> {
    if let Some(n) = secrets.at(rest) {
        // A fragment of a key runs on to the end of its token (an echo that differs from the
        // key after some point still is key material).
        return Some((0, n + key_chars(rest.get(n..).unwrap_or_default())));
    }
    if scope == Scope::Known {
        return None;
    }
    let at_word_start = i == 0 || body.get(i - 1).is_none_or(|b| !b.is_ascii_alphanumeric());
    if at_word_start && starts_with_ci(rest, b"sk-") {
        let n = masked_token_len(rest.get(3..).unwrap_or_default());
        if n >= 8 {
            return Some((0, 3 + n));
        }
    }
    if starts_with_ci(rest, b"key\"") {
        if let Some((prefix, n)) = json_string_value(rest.get(4..).unwrap_or_default()) {
            return Some((4 + prefix, n));
        }
    }
    let p = [
        &b"key="[..],
        b"token=",
        b"sig=",
        b"secret=",
        b"password=",
        b"bearer ",
        b"key: ",
    ]
    .into_iter()
    .find(|p| starts_with_ci(rest, p))?;
    let value = rest.get(p.len()..).unwrap_or_default();
    let n = if p.ends_with(b" ") {
        token_len(value)
    } else {
        value_len(value)
    };
    (n > 0).then_some((p.len(), n))
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

/// Headers an upstream should never send back, and the gateway never forwards: anything
/// named like a credential (`authorization`, `api-key`, `x-api-key`, `x-goog-api-key`,
/// `x-…-key`, `…-token`, `…-secret`).
pub fn credential_header(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    n.ends_with("authorization")
        || n.ends_with("key")
        || n.ends_with("-token")
        || n.ends_with("secret")
        || n.contains("api-key")
        || n.contains("apikey")
}

/// Upstream headers minus credential-named ones, every other value cleaned.
pub fn clean_headers(mut headers: Headers, secrets: &Secrets) -> Headers {
    headers.retain(|(k, _)| !credential_header(k));
    for (_, v) in headers.iter_mut() {
        if let Cow::Owned(c) = clean(v.as_bytes(), secrets, Scope::All) {
            *v = String::from_utf8_lossy(&c).into_owned();
        }
    }
    headers
}

/// The scrub stage for one upstream answer (see the module docs): clean headers, a body
/// that is cleaned as it is read, and no encoded body the gateway could not read.
///
/// A successful answer that is not an event stream is read whole here, in one step where the
/// host can (a Worker's `arrayBuffer()`), and handed on as bytes: the client waits for all of
/// it anyway, and a buffer goes back to the platform far more cheaply than a stream pumped
/// through the router chunk by chunk. Error answers stay lazy: most are judged by status and
/// dropped, or read only up to the router's error-body cap.
pub async fn stage(mut resp: HttpResponse, secrets: &Rc<Secrets>) -> HttpResponse {
    let scope = if resp.status >= 400 {
        Scope::All
    } else {
        Scope::Known
    };
    resp.headers = clean_headers(std::mem::take(&mut resp.headers), secrets);
    let encoding = resp
        .header("content-encoding")
        .map(|e| e.trim().to_ascii_lowercase())
        .filter(|e| !e.is_empty() && e != "identity");
    if let Some(encoding) = encoding {
        return encoded(resp, &encoding);
    }
    let sse = resp.header("content-type").is_some_and(|t| {
        t.trim_start()
            .to_ascii_lowercase()
            .starts_with("text/event-stream")
    });
    let inner: ByteStream = match std::mem::replace(&mut resp.body, Body::Empty) {
        Body::Empty => return resp,
        Body::Bytes(b) => {
            resp.body = Body::Bytes(clean_bytes(b, secrets, scope));
            return resp;
        }
        Body::Stream(s) => s,
        Body::Platform(p) if !sse && resp.status < 400 => match p.read_all(MAX_LINE).await {
            Ok(b) => {
                resp.body = Body::Bytes(clean_bytes(b, secrets, scope));
                return resp;
            }
            Err(why) => Box::pin(futures_util::stream::once(
                async move { Err(StreamError(why)) },
            )),
        },
        // A body read whole anyway (not an event stream) in one step where the host can.
        Body::Platform(p) if !sse => Box::pin(futures_util::stream::once(async move {
            p.read_all(MAX_LINE).await.map_err(StreamError)
        })),
        Body::Platform(p) => p.into_stream(),
    };
    resp.body = Body::Stream(Box::pin(Scrubbed {
        inner,
        secrets: Rc::clone(secrets),
        scope,
        sse,
        held: Vec::new(),
        done: false,
    }));
    resp
}

/// `b` cleaned; the same buffer when there was nothing to redact.
fn clean_bytes(b: Bytes, secrets: &Secrets, scope: Scope) -> Bytes {
    match clean(&b, secrets, scope) {
        Cow::Borrowed(_) => b,
        Cow::Owned(c) => Bytes::from(c),
    }
}

/// An answer whose body is still encoded: never forwarded unread (see the module docs).
fn encoded(mut resp: HttpResponse, encoding: &str) -> HttpResponse {
    let message = format!(
        "the upstream sent a `{encoding}`-encoded body although the gateway asked for \
         `accept-encoding: identity`; it is not forwarded, since the gateway cannot check it \
         for credentials."
    );
    resp.headers
        .retain(|(k, _)| !matches!(k.as_str(), "content-encoding" | "content-type"));
    resp.headers
        .push(("content-type".to_owned(), "application/json".to_owned()));
    if resp.status < 400 {
        resp.status = 502;
    }
    resp.body = Body::Bytes(
        crate::errors::ApiError::new(resp.status, "api_error", Some("upstream_encoding"), message)
            .body(),
    );
    resp
}

/// A body cleaned line by line (see [`stage`]). A line leaves once its end arrived; the
/// unterminated rest at the end leaves too, except in an event stream, where an incomplete
/// last event was cut mid-way and is dropped (SSE clients never dispatch one either) unless
/// it is a whole line already (`data: [DONE]` without its newline). A failed body drops what
/// it holds, so what went out always ends on a line boundary.
pub struct Scrubbed {
    inner: ByteStream,
    secrets: Rc<Secrets>,
    scope: Scope,
    sse: bool,
    held: Vec<u8>,
    done: bool,
}

impl Scrubbed {
    fn cleaned(&self, line: Bytes) -> Bytes {
        clean_bytes(line, &self.secrets, self.scope)
    }

    /// The held bytes plus `chunk` up to its last line end; the rest is held.
    fn lines(&mut self, chunk: Bytes) -> Result<Bytes, StreamError> {
        let Some(end) = chunk.iter().rposition(|b| matches!(b, b'\n' | b'\r')) else {
            self.held.extend_from_slice(&chunk);
            if self.held.len() > MAX_LINE {
                return Err(StreamError(format!(
                    "an upstream line is over {MAX_LINE} bytes"
                )));
            }
            return Ok(Bytes::new());
        };
        let line = chunk.slice(..end + 1);
        let rest = chunk.slice(end + 1..);
        let line = if self.held.is_empty() {
            line
        } else {
            let mut joined = std::mem::take(&mut self.held);
            joined.extend_from_slice(&line);
            Bytes::from(joined)
        };
        self.held.extend_from_slice(&rest);
        Ok(self.cleaned(line))
    }

    /// What the end of the body leaves of the held bytes.
    fn last(&mut self) -> Option<Bytes> {
        let rest = std::mem::take(&mut self.held);
        if rest.is_empty() || (self.sse && !whole_sse_line(&rest)) {
            return None;
        }
        Some(self.cleaned(Bytes::from(rest)))
    }
}

/// An unterminated last SSE line that is complete anyway: `data: [DONE]`, or `data:` with a
/// whole JSON value.
fn whole_sse_line(line: &[u8]) -> bool {
    let Some(data) = line.strip_prefix(b"data:") else {
        return false;
    };
    let data = data.strip_prefix(b" ").unwrap_or(data);
    data == b"[DONE]" || serde_json::from_slice::<serde::de::IgnoredAny>(data).is_ok()
}

impl Stream for Scrubbed {
    type Item = Result<Bytes, StreamError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        loop {
            if this.done {
                return Poll::Ready(None);
            }
            match this.inner.as_mut().poll_next(cx) {
                Poll::Ready(Some(Ok(chunk))) => match this.lines(chunk) {
                    Ok(out) if out.is_empty() => continue,
                    Ok(out) => return Poll::Ready(Some(Ok(out))),
                    Err(e) => {
                        this.done = true;
                        this.held.clear();
                        return Poll::Ready(Some(Err(e)));
                    }
                },
                Poll::Ready(Some(Err(e))) => {
                    this.done = true;
                    this.held.clear();
                    let why = clean(e.0.as_bytes(), &this.secrets, Scope::All);
                    let why = String::from_utf8_lossy(&why).into_owned();
                    return Poll::Ready(Some(Err(StreamError(why))));
                }
                Poll::Ready(None) => {
                    this.done = true;
                    return Poll::Ready(this.last().map(Ok));
                }
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}

/// `text` cleaned with every rule, as text (connect errors and other upstream messages).
pub fn clean_text(text: &str, secrets: &Secrets) -> String {
    String::from_utf8_lossy(&clean(text.as_bytes(), secrets, Scope::All)).into_owned()
}

/// `body` with every rule, for tests and callers with the values at hand.
pub fn scrub(body: &[u8], secrets: &[String]) -> Vec<u8> {
    clean(body, &Secrets::new(secrets.iter().cloned()), Scope::All).into_owned()
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
    fn redacts_json_escaped_keys() {
        let k = "sk-ab/cd+ef-1234567890";
        for echo in [
            r"sk-ab\/cd+ef-1234567890",
            r"sk\u002dab/cd\u002Bef\u002d1234567890",
            r"\u0073\u006b\u002d\u0061\u0062\u002f\u0063\u0064\u002b\u0065\u0066-1234567890",
        ] {
            let out = s(&format!(r#"{{"m":"bad {echo}","n":"x {k}"}}"#), &[k]);
            assert_eq!(
                out, r#"{"m":"bad [redacted]","n":"x [redacted]"}"#,
                "{echo}"
            );
        }
        // Escapes with nothing behind them leave the bytes as they were.
        assert_eq!(
            s(r#"{"m":"a\u002db \"q\" \\u0041"}"#, &[k]),
            r#"{"m":"a\u002db \"q\" \\u0041"}"#
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
