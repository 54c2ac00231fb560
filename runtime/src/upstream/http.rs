//! What every upstream request carries whatever its kind: the URL below the provider's base,
//! the common headers, and the header that carries the key.

use crate::host::Headers;
use crate::table::Kind;
use crate::upstream::call::Call;

/// `base` + the call's endpoint path + its suffix (a follow-up's `/{id}…?query`); `query`
/// (`api-version=…`) joined to the suffix's query when there is one.
pub fn url(base: &str, call: &Call<'_>, query: Option<&str>) -> String {
    let mut url = String::with_capacity(base.len() + 24 + call.suffix.len());
    url.push_str(base);
    url.push_str(call.endpoint.path());
    url.push_str(call.suffix);
    if let Some(q) = query {
        url.push(if call.suffix.contains('?') { '&' } else { '?' });
        url.push_str(q);
    }
    url
}

/// Headers every upstream request carries, in this order: content type, accept,
/// `accept-encoding: identity` (an encoded answer could not be checked for credentials, see
/// `attempt::scrub`), the kind's own `protocol` headers (e.g. `anthropic-version`), the
/// provider's static extra headers, and the key's header ([`auth_header`]).
pub fn common_headers(call: &Call<'_>, protocol: Headers) -> Headers {
    let accept = if call.stream {
        "text/event-stream"
    } else {
        "application/json"
    };
    let provider = call.provider;
    let mut headers = Vec::with_capacity(4 + protocol.len() + provider.headers.len());
    headers.push(("content-type".to_owned(), "application/json".to_owned()));
    headers.push(("accept".to_owned(), accept.to_owned()));
    headers.push(("accept-encoding".to_owned(), "identity".to_owned()));
    headers.extend(protocol);
    for (k, v) in provider.headers {
        headers.push(((*k).to_ascii_lowercase(), (*v).to_owned()));
    }
    headers.push(auth_header(provider.kind, call.key.unwrap_or_default()));
    headers
}

/// The header that carries a provider's key, as its kind expects it: the one place that knows.
pub fn auth_header(kind: Kind, key: &str) -> (String, String) {
    match kind {
        Kind::AzureOpenAi => ("api-key".to_owned(), key.to_owned()),
        Kind::Anthropic => ("x-api-key".to_owned(), key.to_owned()),
        Kind::OpenAi | Kind::Mock => ("authorization".to_owned(), format!("Bearer {key}")),
    }
}
