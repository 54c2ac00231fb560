//! CORS: browsers may call the gateway from any origin (auth is by key, never by cookie), so
//! preflights are answered for any path and every response allows any origin.

use crate::host::{Body, Headers, HttpRequest, HttpResponse};

const ALLOW_METHODS: &str = "GET, POST, DELETE, OPTIONS";
const ALLOW_HEADERS: &str = "authorization, x-api-key, content-type, accept, \
anthropic-version, anthropic-beta, anthropic-dangerous-direct-browser-access, \
openai-organization, openai-project, openai-beta, \
x-stainless-arch, x-stainless-lang, x-stainless-os, x-stainless-package-version, \
x-stainless-runtime, x-stainless-runtime-version, x-stainless-retry-count, x-stainless-timeout, \
x-stainless-async, x-stainless-helper-method, x-stainless-read-timeout, x-stainless-poll-helper";
const EXPOSE_HEADERS: &str = "x-apex-provider, x-apex-attempts, x-request-id";

/// The 204 answer to `OPTIONS` on any path. Headers the browser asks for that are not in the
/// fixed list (newer `openai-*` / `x-stainless-*` ones) are allowed too, when they are plain
/// header names.
pub fn preflight(req: &HttpRequest) -> HttpResponse {
    let mut allow = String::from(ALLOW_HEADERS);
    if let Some(requested) = req.header("access-control-request-headers") {
        for name in requested.split(',').map(str::trim) {
            let token = !name.is_empty()
                && name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
            let lower = name.to_ascii_lowercase();
            if token && !ALLOW_HEADERS.split(", ").any(|h| h == lower) {
                allow.push_str(", ");
                allow.push_str(&lower);
            }
        }
    }
    HttpResponse {
        status: 204,
        headers: vec![
            (
                "access-control-allow-methods".to_owned(),
                ALLOW_METHODS.to_owned(),
            ),
            ("access-control-allow-headers".to_owned(), allow),
            ("access-control-max-age".to_owned(), "86400".to_owned()),
        ],
        body: Body::Empty,
    }
}

/// Adds the headers every response carries.
pub fn add_headers(headers: &mut Headers) {
    headers.push(("access-control-allow-origin".to_owned(), "*".to_owned()));
    headers.push((
        "access-control-expose-headers".to_owned(),
        EXPOSE_HEADERS.to_owned(),
    ));
}
