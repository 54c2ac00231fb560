//! JS `Request`/`Response` ⇄ the router's [`HttpRequest`]/[`HttpResponse`], with as few calls
//! across the JS↔wasm boundary as the job allows.
//!
//! Each call across costs far more than the same work inside wasm (argument conversion, a
//! string decoded or encoded, an object kept alive in the heap table), and the obvious
//! translation makes dozens per request: one per header read, two per header written, a
//! `Request` object built only to be fetched, the `cf` object copied both ways. So:
//!
//! - **Headers are read in one piece**: `Object.fromEntries(headers)` then `JSON.stringify`,
//!   one string into wasm, parsed there. They are written the same way: one JSON text, one
//!   `JSON.parse`, the object handed to `fetch`/`Response` as a header record.
//! - **`fetch(url, init)`** is called directly with the URL string (no `Request` object, no URL
//!   parse), and the upstream's body stays a `ReadableStream` the router may never open
//!   ([`UpstreamBody`]): a passthrough answer goes back to the platform without its bytes
//!   entering wasm.
//! - **The client's body** is read with one `arrayBuffer()` when its length is declared.

use super::stream::{self, byte_stream, js_error_text};
use crate::host::{is_hop_by_hop, MAX_REQUEST_BODY};
use crate::host::{
    read_stream, Body, ByteStream, FetchError, Headers, HttpRequest, HttpResponse, LocalFuture,
    PlatformBody,
};
use crate::hosts::refusals::{too_large, unreadable_body};
use bytes::{Bytes, BytesMut};
use futures_util::future::{select, Either};
use futures_util::StreamExt;
use std::time::Duration;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use worker::web_sys;

#[wasm_bindgen::prelude::wasm_bindgen]
extern "C" {
    /// The global `fetch`, taking the URL as a string. `catch`: a rejection or a synchronous
    /// throw becomes an `Err`, never an exception unwinding through wasm.
    #[wasm_bindgen(js_name = fetch, catch)]
    fn global_fetch(input: &str, init: &web_sys::RequestInit) -> Result<js_sys::Promise, JsValue>;
}

/// The Worker's request line and headers as the router's request, its body still empty: what
/// the router needs to refuse a request before a body byte is read
/// ([`Runtime::refuse_before_body`](crate::gateway::Runtime::refuse_before_body)).
pub(super) fn head(req: &web_sys::Request) -> HttpRequest {
    HttpRequest {
        method: req.method(),
        url: path_and_query(&req.url()),
        headers: read_headers(&req.headers()),
        body: Bytes::new(),
    }
}

/// The request's body, up to [`MAX_REQUEST_BODY`]. A bigger body is refused with 413 as soon
/// as the limit is passed, or at once when its declared length already says so.
pub(super) async fn body(req: &web_sys::Request, headers: &Headers) -> Result<Bytes, HttpResponse> {
    let declared = headers
        .iter()
        .find(|(k, _)| k == "content-length")
        .and_then(|(_, v)| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_REQUEST_BODY as u64) {
        return Err(too_large());
    }
    if declared.is_some() {
        // A declared length within the limit: one read of the whole buffer.
        let buffer = match req.array_buffer() {
            Ok(promise) => JsFuture::from(promise).await,
            Err(e) => Err(e),
        };
        let Ok(buffer) = buffer else {
            return Err(unreadable_body());
        };
        let bytes = js_sys::Uint8Array::new(&buffer);
        if bytes.length() as usize > MAX_REQUEST_BODY {
            return Err(too_large());
        }
        return Ok(Bytes::from(bytes.to_vec()));
    }
    let Some(stream) = req.body() else {
        return Ok(Bytes::new());
    };
    // Chunk by chunk, so an undeclared body over the limit is refused as soon as it passes it.
    let mut stream = byte_stream(&stream);
    let mut buf = BytesMut::new();
    while let Some(chunk) = stream.next().await {
        let Ok(chunk) = chunk else {
            return Err(unreadable_body());
        };
        if buf.len() + chunk.len() > MAX_REQUEST_BODY {
            return Err(too_large());
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(buf.freeze())
}

/// The path and query of a serialized WHATWG URL (`https://host/p?q#f` → `/p?q`). The platform
/// gives the request's absolute URL, of a special scheme, whose serialization always has a path.
fn path_and_query(url: &str) -> String {
    let after_scheme = url.find("://").map_or(0, |i| i + 3);
    let rest = url.get(after_scheme..).unwrap_or_default();
    let path = rest.find('/').and_then(|i| rest.get(i..)).unwrap_or("/");
    path.split_once('#').map_or(path, |(p, _)| p).to_owned()
}

/// One upstream call: `fetch(url, init)`, given up on (and aborted) after `timeout_ms` without
/// response headers.
pub(super) async fn upstream_fetch(
    req: HttpRequest,
    timeout_ms: u32,
) -> Result<HttpResponse, FetchError> {
    let init = web_sys::RequestInit::new();
    init.set_method(&req.method);
    let headers = header_record(&req.headers, |name| {
        is_hop_by_hop(name) || name == "host" || name == "content-length"
    })
    // Never echo the value: it may be an API key.
    .map_err(|name| FetchError::Connect(format!("invalid upstream header {name}")))?;
    init.set_headers(&headers);
    if !req.body.is_empty() {
        init.set_body(&js_sys::Uint8Array::from(req.body.as_ref()));
    }
    let controller =
        web_sys::AbortController::new().map_err(|e| FetchError::Connect(js_error_text(&e)))?;
    init.set_signal(Some(&controller.signal()));

    let promise =
        global_fetch(&req.url, &init).map_err(|e| FetchError::Connect(js_error_text(&e)))?;
    let sending = std::pin::pin!(JsFuture::from(promise));
    let deadline = std::pin::pin!(worker::Delay::from(Duration::from_millis(u64::from(
        timeout_ms
    ))));
    let resp: web_sys::Response = match select(sending, deadline).await {
        Either::Left((Ok(value), _)) => value
            .dyn_into()
            .map_err(|_| FetchError::Connect("fetch gave no Response".into()))?,
        Either::Left((Err(e), _)) => return Err(FetchError::Connect(js_error_text(&e))),
        Either::Right(((), _)) => {
            controller.abort();
            return Err(FetchError::Timeout);
        }
    };

    let mut headers = read_headers(&resp.headers());
    // The platform decodes a `gzip`/`br` body as it is read, so what the router gets is never
    // encoded: the header no longer describes it (the scrub stage refuses encoded bodies).
    headers.retain(|(name, _)| !is_hop_by_hop(name) && name != "content-encoding");
    let length = headers
        .iter()
        .find(|(k, _)| k == "content-length")
        .and_then(|(_, v)| v.parse::<u64>().ok());
    let body = match resp.body() {
        // Held, not read: a passthrough hands it straight back (see `outbound`).
        Some(stream) => Body::Platform(Box::new(UpstreamBody { stream, length })),
        // No body at all (204, HEAD...).
        None => Body::Empty,
    };
    Ok(HttpResponse {
        status: resp.status(),
        headers,
        body,
    })
}

/// The router's response as the Worker's. Streams are handed over as streams, and a held
/// upstream body as the upstream's own stream.
pub(super) fn outbound(response: HttpResponse) -> worker::Result<web_sys::Response> {
    let streamed = matches!(response.body, Body::Stream(_) | Body::Platform(_));
    let init = web_sys::ResponseInit::new();
    init.set_status(response.status);
    // The runtime frames the body itself; a stale length would truncate or stall it. A header
    // the platform would reject is dropped rather than failing the whole response.
    let skip = |name: &str| is_hop_by_hop(name) || (streamed && name == "content-length");
    let headers = header_record(&response.headers, skip)
        .or_else(|_| header_record(&valid_only(&response.headers), skip))
        .map_err(|name| worker::Error::RustError(format!("invalid response header {name}")))?;
    init.set_headers(&headers);
    let made = match response.body {
        Body::Empty => web_sys::Response::new_with_opt_str_and_init(None, &init),
        Body::Bytes(b) => {
            let bytes = js_sys::Uint8Array::from(b.as_ref());
            web_sys::Response::new_with_opt_js_u8_array_and_init(Some(&bytes), &init)
        }
        Body::Platform(held) => match held.into_any().downcast::<UpstreamBody>() {
            Ok(upstream) => web_sys::Response::new_with_opt_readable_stream_and_init(
                Some(&upstream.stream),
                &init,
            ),
            // Only this host makes platform bodies; anything else has no bytes to give.
            Err(_) => web_sys::Response::new_with_opt_str_and_init(None, &init),
        },
        Body::Stream(stream) => stream::readable_from(stream).and_then(|readable| {
            web_sys::Response::new_with_opt_readable_stream_and_init(Some(&readable), &init)
        }),
    };
    made.map_err(|e| worker::Error::RustError(js_error_text(&e)))
}

/// An upstream's `ReadableStream`, not yet read. Returned to the platform as the client's body
/// when the router passes the answer through, so those bytes never cross into wasm; read
/// only when the router must look at them (streams, translations, errors).
struct UpstreamBody {
    stream: web_sys::ReadableStream,
    /// The upstream's `content-length`, when it sent one.
    length: Option<u64>,
}

impl PlatformBody for UpstreamBody {
    fn into_stream(self: Box<Self>) -> ByteStream {
        byte_stream(&self.stream)
    }

    /// A body of declared length within `cap` in one `arrayBuffer()` (one crossing instead of
    /// a reader's promise per chunk); any other piece by piece, so a big one is refused early.
    fn read_all(self: Box<Self>, cap: usize) -> LocalFuture<Result<Bytes, String>> {
        if self.length.is_none_or(|n| n > cap as u64) {
            return Box::pin(read_stream(self.into_stream(), cap));
        }
        Box::pin(async move {
            let failed = |e: JsValue| format!("the upstream body failed: {}", js_error_text(&e));
            let whole = web_sys::Response::new_with_opt_readable_stream(Some(&self.stream))
                .and_then(|r| r.array_buffer())
                .map_err(failed)?;
            let buffer = JsFuture::from(whole).await.map_err(failed)?;
            let bytes = js_sys::Uint8Array::new(&buffer);
            if bytes.length() as usize > cap {
                return Err(format!("the upstream body is over {cap} bytes"));
            }
            Ok(Bytes::from(bytes.to_vec()))
        })
    }

    fn into_any(self: Box<Self>) -> Box<dyn std::any::Any> {
        self
    }
}

/// Every header of a JS `Headers`, names lower-case (as `Headers` keeps them), in one crossing.
/// `Headers` already joins repeated fields with `, ` (all but `set-cookie`, which a gateway
/// does not forward).
fn read_headers(headers: &web_sys::Headers) -> Headers {
    let text = js_sys::Object::from_entries(headers.as_ref())
        .and_then(|o| js_sys::JSON::stringify(&o))
        .map(String::from);
    match text.as_deref().map(serde_json::from_str::<HeaderList>) {
        Ok(Ok(list)) => list.0,
        // Not expected; the slow way (two calls per header) still gets every header.
        _ => header_pairs(headers),
    }
}

/// Every header of a JS `Headers`, one entry at a time.
fn header_pairs(headers: &web_sys::Headers) -> Headers {
    let Ok(Some(entries)) = js_sys::try_iter(headers.as_ref()) else {
        return Headers::new();
    };
    entries
        .filter_map(|entry| {
            let pair: js_sys::Array = entry.ok()?.dyn_into().ok()?;
            Some((pair.get(0).as_string()?, pair.get(1).as_string()?))
        })
        .collect()
}

/// Headers as a JS header record (`{"name": "value"}`) made by one `JSON.parse`, leaving out
/// the names `skip` says. Repeated names are joined with `, ` (a record has one value per
/// name). `Err(name)`: a header `fetch` or `Response` would refuse.
fn header_record(headers: &Headers, skip: impl Fn(&str) -> bool) -> Result<JsValue, String> {
    let mut merged: Vec<(&str, String)> = Vec::with_capacity(headers.len());
    for (name, value) in headers {
        if skip(name) {
            continue;
        }
        if !valid_header(name, value) {
            return Err(name.clone());
        }
        match merged
            .iter_mut()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
        {
            Some((_, v)) => {
                v.push_str(", ");
                v.push_str(value);
            }
            None => merged.push((name, value.clone())),
        }
    }
    let mut json = Vec::with_capacity(merged.iter().map(|(n, v)| n.len() + v.len() + 6).sum());
    json.push(b'{');
    for (i, (name, value)) in merged.iter().enumerate() {
        if i > 0 {
            json.push(b',');
        }
        // Writing a string into a Vec cannot fail.
        let _ = serde_json::to_writer(&mut json, name);
        json.push(b':');
        let _ = serde_json::to_writer(&mut json, value);
    }
    json.push(b'}');
    let text = std::str::from_utf8(&json).unwrap_or("{}");
    js_sys::JSON::parse(text).map_err(|_| "(record)".to_owned())
}

/// The headers `fetch` and `Response` accept.
fn valid_only(headers: &Headers) -> Headers {
    headers
        .iter()
        .filter(|(n, v)| valid_header(n, v))
        .cloned()
        .collect()
}

/// A field name is a token; a value has no CR, LF or NUL and only code points a `ByteString`
/// holds (≤ U+00FF).
fn valid_header(name: &str, value: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
        && value
            .chars()
            .all(|c| c != '\r' && c != '\n' && c != '\0' && u32::from(c) <= 0xFF)
}

/// A JSON object of strings as an ordered list of pairs.
struct HeaderList(Headers);

impl<'de> serde::Deserialize<'de> for HeaderList {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Pairs;
        impl<'de> serde::de::Visitor<'de> for Pairs {
            type Value = HeaderList;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an object of strings")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<HeaderList, A::Error> {
                let mut out = Vec::with_capacity(map.size_hint().unwrap_or(16));
                while let Some(pair) = map.next_entry::<String, String>()? {
                    out.push(pair);
                }
                Ok(HeaderList(out))
            }
        }
        d.deserialize_map(Pairs)
    }
}
