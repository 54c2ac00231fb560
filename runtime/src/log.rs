//! The one structured log line per request.
//!
//! Filled in as the request goes (the attempt loop records the provider, key index, attempts
//! and upstream time) and handed to [`Host::log`](crate::host::Host::log) once the response
//! head is ready. It is a JSON object on one line, so Workers Logs and `jq` index its fields:
//!
//! ```text
//! {"msg":"apex request","method":"POST","path":"/v1/chat/completions","status":200,"model":"chat","provider":"deepseek","key":1,"attempts":2,"upstream_ms":412,"wait_ms":0,"overhead_ms":1}
//! ```
//!
//! What it can hold is fixed by its fields: names from the static table, numbers, the method,
//! the path without its query (where a careless client might put a key), and the client's
//! model name. No header, body or key value has a field to go into; a key is only
//! ever named by its index in the provider's `api_keys`.
//!
//! Times are the host clock's milliseconds: `upstream_ms` is the time spent in upstream calls
//! (to response headers, and to the first event for streams), `wait_ms` the time spent
//! waiting out a cooldown, `overhead_ms` everything else the gateway spent before answering.

use std::borrow::Cow;
use std::fmt;

/// One request's log record.
#[derive(Debug, Default)]
pub struct RequestLog {
    started_ms: u64,
    finished_ms: u64,
    pub method: Cow<'static, str>,
    pub path: Cow<'static, str>,
    pub status: u16,
    /// The public model (or the `model` value as sent, for direct addressing).
    pub model: Option<Cow<'static, str>>,
    /// The provider that gave the final answer (or the last one tried).
    pub provider: Option<&'static str>,
    /// Index of the key used in that provider's `api_keys`.
    pub key: Option<usize>,
    pub attempts: u32,
    pub upstream_ms: u64,
    pub wait_ms: u64,
    /// Why the shared quota store could not be used (the request counted per isolate).
    pub quota_fallback: Option<String>,
    /// The named client that sent it (by its key), if one did.
    pub client: Option<&'static crate::table::Client>,
}

impl RequestLog {
    /// `path` without its query. Known methods and paths are kept without allocating.
    pub fn start(now_ms: u64, method: &str, path: &str) -> Self {
        RequestLog {
            started_ms: now_ms,
            method: known_or_owned(method, METHODS),
            path: known_or_owned(path, PATHS),
            ..RequestLog::default()
        }
    }

    /// When the request arrived (host clock).
    pub fn started_ms(&self) -> u64 {
        self.started_ms
    }

    pub fn finish(&mut self, status: u16, now_ms: u64) {
        self.status = status;
        self.finished_ms = now_ms;
    }

    /// Time the gateway itself spent: total minus upstream and cooldown waits.
    pub fn overhead_ms(&self) -> u64 {
        self.finished_ms
            .saturating_sub(self.started_ms)
            .saturating_sub(self.upstream_ms)
            .saturating_sub(self.wait_ms)
    }
}

impl fmt::Display for RequestLog {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(r#"{"msg":"apex request","method":"#)?;
        json_string(f, &self.method)?;
        f.write_str(r#","path":"#)?;
        json_string(f, &self.path)?;
        write!(f, r#","status":{}"#, self.status)?;
        if let Some(m) = &self.model {
            f.write_str(r#","model":"#)?;
            json_string(f, m)?;
        }
        if let Some(p) = self.provider {
            f.write_str(r#","provider":"#)?;
            json_string(f, p)?;
        }
        if let Some(k) = self.key {
            write!(f, r#","key":{k}"#)?;
        }
        if let Some(c) = self.client {
            f.write_str(r#","client":"#)?;
            json_string(f, c.name)?;
        }
        if let Some(why) = &self.quota_fallback {
            f.write_str(r#","quota_fallback":"#)?;
            json_string(f, why)?;
        }
        write!(
            f,
            r#","attempts":{},"upstream_ms":{},"wait_ms":{},"overhead_ms":{}}}"#,
            self.attempts,
            self.upstream_ms,
            self.wait_ms,
            self.overhead_ms()
        )
    }
}

const METHODS: &[&str] = &["GET", "POST", "OPTIONS", "DELETE", "HEAD", "PUT", "PATCH"];
const PATHS: &[&str] = &[
    "/v1/chat/completions",
    "/v1/embeddings",
    "/v1/models",
    "/v1/messages",
    "/v1/messages/count_tokens",
    "/v1/responses",
];

/// `s` as one of the `known` statics, or an owned copy (at most 200 characters).
fn known_or_owned(s: &str, known: &[&'static str]) -> Cow<'static, str> {
    match known.iter().find(|k| **k == s) {
        Some(k) => Cow::Borrowed(k),
        None => Cow::Owned(s.chars().take(200).collect()),
    }
}

/// A JSON string literal, written without allocating.
fn json_string(f: &mut fmt::Formatter<'_>, s: &str) -> fmt::Result {
    use fmt::Write;
    f.write_char('"')?;
    for c in s.chars() {
        match c {
            '"' => f.write_str("\\\"")?,
            '\\' => f.write_str("\\\\")?,
            c if (c as u32) < 0x20 => write!(f, "\\u{:04x}", c as u32)?,
            c => f.write_char(c)?,
        }
    }
    f.write_char('"')
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn one_json_line() {
        let mut log = RequestLog::start(1000, "POST", "/v1/chat/completions");
        log.model = Some(Cow::Owned("a\"b\n".to_owned()));
        log.provider = Some("beta");
        log.key = Some(1);
        log.attempts = 2;
        log.upstream_ms = 30;
        log.wait_ms = 5;
        log.finish(200, 1040);
        let line = log.to_string();
        assert!(!line.contains('\n'));
        let v: serde_json::Value = serde_json::from_str(&line).unwrap_or_default();
        assert_eq!(v["model"], "a\"b\n");
        assert_eq!(v["provider"], "beta");
        assert_eq!(v["key"], 1);
        assert_eq!(v["status"], 200);
        assert_eq!(v["attempts"], 2);
        assert_eq!(v["overhead_ms"], 5);
        assert_eq!(v["method"], "POST");
        assert_eq!(v["path"], "/v1/chat/completions");
    }
}
