//! A chat stream's usage, when the gateway needs it and the client did not ask for it.
//!
//! An OpenAI-compatible upstream reports a stream's usage only when asked
//! (`stream_options.include_usage`), in one extra chunk before `[DONE]` whose `choices` is
//! empty. A route with a token limit needs that number (it corrects the estimate the request
//! was admitted with), so the gateway asks ([`ask`]) and, when the client had not, takes that
//! chunk out of what the client reads ([`strip`]): the client sees the stream it asked for.

use crate::host::{ByteStream, StreamError};
use crate::wire::sse;
use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use serde_json::Value;
use std::pin::Pin;
use std::task::{Context, Poll};

/// The body with `stream_options.include_usage: true`. A body without `stream_options` gets
/// the field spliced in front (every other byte unchanged); one with it is rewritten.
pub fn ask(body: &Bytes, has_stream_options: bool) -> Bytes {
    const FIELD: &[u8] = br#""stream_options":{"include_usage":true},"#;
    if !has_stream_options {
        if let Some(open) = body.iter().position(|b| *b == b'{') {
            let (head, tail) = body.split_at(open + 1);
            let mut out = Vec::with_capacity(body.len() + FIELD.len());
            out.extend_from_slice(head);
            out.extend_from_slice(FIELD);
            out.extend_from_slice(tail);
            return Bytes::from(out);
        }
        return body.clone();
    }
    let Ok(mut v) = serde_json::from_slice::<Value>(body) else {
        return body.clone();
    };
    if let Some(obj) = v.as_object_mut() {
        let options = obj
            .entry("stream_options")
            .or_insert_with(|| Value::Object(serde_json::Map::new()));
        if !options.is_object() {
            *options = Value::Object(serde_json::Map::new());
        }
        if let Some(o) = options.as_object_mut() {
            o.insert("include_usage".to_owned(), Value::Bool(true));
        }
    }
    serde_json::to_vec(&v)
        .map(Bytes::from)
        .unwrap_or_else(|_| body.clone())
}

/// `upstream` without its usage-only chunk. Every other event passes as soon as it is whole.
pub fn strip(upstream: ByteStream) -> ByteStream {
    Box::pin(Strip {
        upstream: Some(upstream),
        parser: sse::Parser::default(),
        events: Vec::new(),
    })
}

struct Strip {
    upstream: Option<ByteStream>,
    parser: sse::Parser,
    events: Vec<sse::Event>,
}

impl Strip {
    /// The completed events, minus the usage chunk, in wire form.
    fn take(&mut self) -> Bytes {
        let mut out = Vec::new();
        for ev in self.events.drain(..) {
            if is_usage_only(&ev.data) {
                continue;
            }
            if !ev.event.is_empty() {
                out.extend_from_slice(b"event: ");
                out.extend_from_slice(ev.event.as_bytes());
                out.push(b'\n');
            }
            // Data of several lines goes back as several `data:` lines, as it came.
            for line in ev.data.split('\n') {
                out.extend_from_slice(b"data: ");
                out.extend_from_slice(line.as_bytes());
                out.push(b'\n');
            }
            out.push(b'\n');
        }
        Bytes::from(out)
    }
}

/// `{"choices":[],"usage":{...}}`, the chunk `include_usage` adds.
fn is_usage_only(data: &str) -> bool {
    if !data.contains("\"usage\"") {
        return false;
    }
    #[derive(serde::Deserialize)]
    struct Chunk {
        #[serde(default)]
        choices: Option<Vec<serde::de::IgnoredAny>>,
        #[serde(default)]
        usage: Option<serde::de::IgnoredAny>,
    }
    serde_json::from_str::<Chunk>(data)
        .is_ok_and(|c| c.usage.is_some() && c.choices.is_some_and(|ch| ch.is_empty()))
}

impl Stream for Strip {
    type Item = Result<Bytes, StreamError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        loop {
            let Some(upstream) = this.upstream.as_mut() else {
                return Poll::Ready(None);
            };
            let fed = match upstream.poll_next_unpin(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Some(Ok(chunk))) => this.parser.feed(&chunk, &mut this.events),
                Poll::Ready(Some(Err(e))) => {
                    this.upstream = None;
                    return Poll::Ready(Some(Err(e)));
                }
                Poll::Ready(None) => {
                    this.upstream = None;
                    this.parser.finish(&mut this.events)
                }
            };
            if let Err(sse::TooLarge(n)) = fed {
                this.upstream = None;
                let why = format!("an upstream stream event of {n} bytes is too large");
                return Poll::Ready(Some(Err(StreamError(why))));
            }
            let out = this.take();
            if !out.is_empty() {
                return Poll::Ready(Some(Ok(out)));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn asking_splices_or_rewrites_the_options() {
        let body = Bytes::from_static(br#"{"model":"m","stream":true}"#);
        let asked = ask(&body, false);
        assert_eq!(
            &asked[..],
            br#"{"stream_options":{"include_usage":true},"model":"m","stream":true}"#
        );
        let body = Bytes::from_static(br#"{"model":"m","stream_options":{"include_usage":false}}"#);
        let v: Value = serde_json::from_slice(&ask(&body, true)).unwrap();
        assert_eq!(v["stream_options"]["include_usage"], Value::Bool(true));
        assert_eq!(v["model"], "m");
    }

    #[test]
    fn the_usage_chunk_goes_and_everything_else_stays_whatever_the_cuts() {
        let events = concat!(
            "data: {\"choices\":[{\"delta\":{\"content\":\"usage\"}}],\"usage\":null}\n\n",
            "event: note\ndata: two\ndata: lines\n\n",
            "data: {\"choices\":[],\"usage\":{\"total_tokens\":9}}\n\n",
            "data: [DONE]\n\n",
        );
        let want = concat!(
            "data: {\"choices\":[{\"delta\":{\"content\":\"usage\"}}],\"usage\":null}\n\n",
            "event: note\ndata: two\ndata: lines\n\n",
            "data: [DONE]\n\n",
        );
        for cut in 1..events.len() {
            let (a, b) = events.split_at(cut);
            let chunks: Vec<Result<Bytes, StreamError>> = vec![
                Ok(Bytes::copy_from_slice(a.as_bytes())),
                Ok(Bytes::copy_from_slice(b.as_bytes())),
            ];
            let out = futures::executor::block_on(
                strip(Box::pin(futures::stream::iter(chunks))).collect::<Vec<_>>(),
            );
            let text: String = out
                .into_iter()
                .map(|c| String::from_utf8(c.unwrap().to_vec()).unwrap())
                .collect();
            assert_eq!(text, want, "cut at {cut}");
        }
    }
}
