//! Faults: the ways a real provider misbehaves, as a small spec string.
//!
//! A spec is `key=value` pairs separated by `;` (or `&`), e.g. `status=429;retry_after=2` or
//! `chunk_delay_ms=300;chunks=5`. A test attaches one to a request in any of these ways
//! (the first found is used whole; specs from different places are not merged):
//!
//! 1. the `x-fake-fault` request header (direct calls; gateways usually do not forward it),
//! 2. `[[fake:SPEC]]` anywhere in a message's text (travels through a gateway in the body),
//! 3. a rule set with `POST /_control` matching the model and/or API key,
//! 4. the upstream model name itself: everything after its first `?`
//!    (`echo?status=500` in a route of the gateway's config).

use std::time::Duration;

/// How the connection is cut.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Drop {
    /// Close the connection without writing any response.
    Before,
    /// Send the status line, headers and part of the body, then reset.
    Mid,
}

/// Everything a request can be told to do wrong. The default is a well-behaved upstream.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Fault {
    /// Answer with this status (and an OpenAI-shaped error body unless `body` is set).
    pub status: Option<u16>,
    /// Raw response body to send with `status`.
    pub body: Option<String>,
    /// `Retry-After` header value (seconds).
    pub retry_after: Option<String>,
    /// Wait this long before sending the status line.
    pub delay: Option<Duration>,
    /// Wait this long before each streamed content event but the first.
    pub chunk_delay: Option<Duration>,
    /// Stream exactly this many content events (`"0 "`, `"1 "`, ...) instead of the echo's words.
    pub chunks: Option<usize>,
    /// Cut the connection.
    pub drop: Option<Drop>,
    /// With `drop=mid`: how many content events go out before the cut (default: half).
    pub drop_after: Option<usize>,
    /// End the stream without the finish event and without `data: [DONE]`.
    pub truncate: bool,
    /// Answer 200 with a body that is not JSON.
    pub garbage: bool,
    /// Replace the reply text (default `echo: <last user message>`).
    pub reply: Option<String>,
    /// Answer with a call of this tool (when the request offers a tool of that name and its
    /// last message is not already a tool result: then the reply is text quoting that result,
    /// so a tool loop ends; a request without the tool, like a client's side call for a
    /// title, gets the ordinary reply).
    pub call: Option<String>,
    /// The call's arguments (JSON text; default `{}`). Streamed after the call's id and name,
    /// in several fragments (`anthropic::ARG_FRAGMENTS`), none valid JSON alone.
    pub args: Option<String>,
    /// Streams: after the headers, wait this long before the first event (a provider that
    /// accepts the request and then stalls: what a first-event timeout is for).
    pub first_delay: Option<Duration>,
    /// Extra response headers, `header=NAME:VALUE` (repeatable), e.g. `header=retry-after-ms:1500`
    /// or `header=x-ratelimit-reset-requests:2s`.
    pub headers: Vec<(String, String)>,
    /// With `status`: the error quotes the caller's credentials back, as careless providers
    /// do: the key in the message (whole and masked), the request URL with `?key=`, a JSON
    /// `api_key` field, and headers carrying both. For tests of the gateway's scrubbing.
    pub leak: bool,
    /// `usage_tokens=N`: the usage reports N completion tokens, whatever the reply's length
    /// (a provider's own count; what a gateway's token limits must follow).
    pub usage_tokens: Option<u64>,
    /// `hostile=MODE`: one of the ways a hostile upstream tries to get the key to the client
    /// (see `crate::hostile`).
    pub hostile: Option<String>,
}

impl Fault {
    /// Parses a spec. Unknown keys are an error so a typo in a test fails loudly.
    pub fn parse(spec: &str) -> Result<Fault, String> {
        let mut f = Fault::default();
        for part in spec.split([';', '&']) {
            let part = part.trim();
            if part.is_empty() {
                continue;
            }
            let (key, value) = match part.split_once('=') {
                Some((k, v)) => (k.trim(), v.trim()),
                None => (part, ""),
            };
            let num = |v: &str| {
                v.parse::<u64>()
                    .map_err(|_| format!("fault `{key}`: `{v}` is not a number"))
            };
            match key {
                "status" => f.status = Some(num(value)? as u16),
                "body" => f.body = Some(value.to_string()),
                "retry_after" => f.retry_after = Some(value.to_string()),
                "delay_ms" => f.delay = Some(Duration::from_millis(num(value)?)),
                "chunk_delay_ms" => f.chunk_delay = Some(Duration::from_millis(num(value)?)),
                "chunks" => f.chunks = Some(num(value)? as usize),
                "drop" => {
                    f.drop = Some(match value {
                        "before" | "" => Drop::Before,
                        "mid" => Drop::Mid,
                        other => return Err(format!("fault `drop`: `{other}` (want before|mid)")),
                    })
                }
                "drop_after" => f.drop_after = Some(num(value)? as usize),
                "truncate" => f.truncate = true,
                "garbage" => f.garbage = true,
                "reply" => f.reply = Some(value.to_string()),
                "call" => f.call = Some(value.to_string()),
                "args" => f.args = Some(value.to_string()),
                "first_delay_ms" => f.first_delay = Some(Duration::from_millis(num(value)?)),
                "header" => match value.split_once(':') {
                    Some((name, v)) if !name.trim().is_empty() => f
                        .headers
                        .push((name.trim().to_ascii_lowercase(), v.trim().to_string())),
                    _ => return Err(format!("fault `header`: `{value}` (want NAME:VALUE)")),
                },
                "leak" => f.leak = true,
                "usage_tokens" => f.usage_tokens = Some(num(value)?),
                "hostile" if crate::hostile::MODES.contains(&value) => {
                    f.hostile = Some(value.to_string())
                }
                "hostile" => {
                    return Err(format!(
                        "fault `hostile`: `{value}` (want one of {})",
                        crate::hostile::MODES.join("|")
                    ))
                }
                other => return Err(format!("unknown fault key `{other}`")),
            }
        }
        Ok(f)
    }
}

/// Finds `[[fake:SPEC]]` in a text.
pub fn directive_in(text: &str) -> Option<&str> {
    let start = text.find("[[fake:")? + "[[fake:".len();
    let len = text.get(start..)?.find("]]")?;
    text.get(start..start + len)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_key() {
        let f = Fault::parse("status=429; retry_after=2;delay_ms=5&chunk_delay_ms=300;chunks=4;drop=mid;drop_after=1;truncate;garbage;reply=hi;body={}")
            .unwrap();
        assert_eq!(f.status, Some(429));
        assert_eq!(f.retry_after.as_deref(), Some("2"));
        assert_eq!(f.delay, Some(Duration::from_millis(5)));
        assert_eq!(f.chunk_delay, Some(Duration::from_millis(300)));
        assert_eq!(f.chunks, Some(4));
        assert_eq!(f.drop, Some(Drop::Mid));
        assert_eq!(f.drop_after, Some(1));
        assert!(f.truncate && f.garbage);
        assert_eq!(f.reply.as_deref(), Some("hi"));
        assert_eq!(f.body.as_deref(), Some("{}"));
    }

    #[test]
    fn parses_stall_headers_and_leak() {
        let f = Fault::parse("first_delay_ms=700;header=Retry-After-Ms: 1500;header=x-a:b:c;leak")
            .unwrap();
        assert_eq!(f.first_delay, Some(Duration::from_millis(700)));
        assert_eq!(
            f.headers,
            vec![
                ("retry-after-ms".to_string(), "1500".to_string()),
                ("x-a".to_string(), "b:c".to_string())
            ]
        );
        assert!(f.leak);
        assert!(Fault::parse("header=novalue").is_err());
    }

    #[test]
    fn rejects_typos() {
        assert!(Fault::parse("stauts=500").is_err());
        assert!(Fault::parse("status=abc").is_err());
        assert_eq!(Fault::parse("").unwrap(), Fault::default());
    }

    #[test]
    fn finds_directive_in_text() {
        assert_eq!(
            directive_in("hello [[fake:status=500]] there"),
            Some("status=500")
        );
        assert_eq!(directive_in("hello [[fake:status=500"), None);
        assert_eq!(directive_in("plain"), None);
    }
}
