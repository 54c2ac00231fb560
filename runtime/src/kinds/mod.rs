//! Upstream kinds: how one attempt is put on the wire for each protocol family.
//!
//! Each kind lives in its own module behind its cargo feature, so a gateway whose config does
//! not use a kind carries none of its code. A table that names a kind whose feature is off (a
//! hand-edited crate, a mismatched build) gets a clear 500, never a panic.

#[cfg(feature = "kind-anthropic")]
pub mod anthropic;
#[cfg(feature = "kind-azure-openai")]
pub mod azure;
#[cfg(feature = "kind-mock")]
pub mod mock;
#[cfg(feature = "kind-openai")]
pub mod openai;

use crate::errors::ApiError;
use crate::host::{HttpRequest, HttpResponse};
use crate::openai::Endpoint;
use crate::table::{Kind, Provider};
use bytes::Bytes;

/// One upstream attempt, decided by the router.
#[derive(Debug)]
pub struct Call<'a> {
    pub provider: &'static Provider,
    pub endpoint: Endpoint,
    /// The model name the upstream knows (already spliced into `body`).
    pub model: &'a str,
    /// The API key value, for kinds that need one.
    pub key: Option<&'a str>,
    pub body: Bytes,
    pub stream: bool,
    /// Client headers the exchange passes on (e.g. `anthropic-beta`); kinds use what they know.
    pub headers: &'a [(String, String)],
}

/// What a kind makes of a call.
#[derive(Debug)]
pub enum Prepared {
    /// Send this request with `Host::fetch`.
    Fetch(HttpRequest),
    /// Answered in process (the `mock` kind): no network.
    Local(HttpResponse),
}

/// Whether attempts on this kind need one of the provider's API keys.
pub const fn needs_key(kind: Kind) -> bool {
    !matches!(kind, Kind::Mock)
}

/// Whether this build carries the code of `kind`.
pub const fn compiled(kind: Kind) -> bool {
    match kind {
        Kind::OpenAi => cfg!(feature = "kind-openai"),
        Kind::AzureOpenAi => cfg!(feature = "kind-azure-openai"),
        Kind::Mock => cfg!(feature = "kind-mock"),
        Kind::Anthropic => cfg!(feature = "kind-anthropic"),
    }
}

/// The 500 for a kind this gateway was built without.
pub fn not_compiled(provider: &Provider) -> ApiError {
    ApiError::server(
        "kind_not_compiled",
        format!(
            "provider `{}` has kind `{}`, which is not compiled into this gateway \
             (rebuild it with apexc build, which enables the kinds the config uses).",
            provider.id,
            provider.kind.as_str()
        ),
    )
}

/// Encodes a call for its provider's kind.
pub fn prepare(call: Call<'_>) -> Result<Prepared, ApiError> {
    match call.provider.kind {
        #[cfg(feature = "kind-openai")]
        Kind::OpenAi => Ok(Prepared::Fetch(openai::request(&call))),
        #[cfg(feature = "kind-azure-openai")]
        Kind::AzureOpenAi => azure::request(&call).map(Prepared::Fetch),
        #[cfg(feature = "kind-anthropic")]
        Kind::Anthropic => Ok(Prepared::Fetch(anthropic::request(&call))),
        #[cfg(feature = "kind-mock")]
        Kind::Mock => Ok(Prepared::Local(mock::respond(&call))),
        #[allow(unreachable_patterns)]
        _ => Err(not_compiled(call.provider)),
    }
}

/// Headers every upstream request carries, in this order: content type, accept, the kind's
/// own `protocol` headers (e.g. `anthropic-version`), the provider's static extra headers, and
/// the key's header ([`auth_header`]).
#[cfg(any(
    feature = "kind-openai",
    feature = "kind-azure-openai",
    feature = "kind-anthropic"
))]
fn common_headers(call: &Call<'_>, protocol: crate::host::Headers) -> crate::host::Headers {
    let accept = if call.stream {
        "text/event-stream"
    } else {
        "application/json"
    };
    let mut headers = headers_for(call.provider, accept, protocol.len());
    headers.insert(
        0,
        ("content-type".to_owned(), "application/json".to_owned()),
    );
    let extra = headers.split_off(3);
    headers.extend(protocol);
    headers.extend(extra);
    headers.push(auth_header(
        call.provider.kind,
        call.key.unwrap_or_default(),
    ));
    headers
}

/// The header that carries a provider's key, as its kind expects it: the one place that knows,
/// for attempts and follow-ups alike.
pub fn auth_header(kind: Kind, key: &str) -> (String, String) {
    match kind {
        Kind::AzureOpenAi => ("api-key".to_owned(), key.to_owned()),
        Kind::Anthropic => ("x-api-key".to_owned(), key.to_owned()),
        Kind::OpenAi | Kind::Mock => ("authorization".to_owned(), format!("Bearer {key}")),
    }
}

/// `accept`, `accept-encoding: identity` (an encoded answer could not be checked for
/// credentials, see `router::scrub`), then the provider's static extra headers.
fn headers_for(provider: &Provider, accept: &str, room: usize) -> crate::host::Headers {
    let mut headers = Vec::with_capacity(5 + room + provider.headers.len());
    headers.push(("accept".to_owned(), accept.to_owned()));
    headers.push(("accept-encoding".to_owned(), "identity".to_owned()));
    for (k, v) in provider.headers {
        headers.push(((*k).to_ascii_lowercase(), (*v).to_owned()));
    }
    headers
}

/// A body-less follow-up request (`GET`/`DELETE` of a natively stored response) to `url` on
/// `provider`, with the same headers as its attempts: the provider's extra headers, identity
/// encoding, and the key as the kind sends it.
pub fn follow_up(provider: &Provider, key: &str, method: &str, url: String) -> HttpRequest {
    let mut headers = headers_for(provider, "application/json", 0);
    headers.push(auth_header(provider.kind, key));
    HttpRequest {
        method: method.to_owned(),
        url,
        headers,
        body: Bytes::new(),
    }
}
