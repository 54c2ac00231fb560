//! `azure-openai`: the deployment is in the path (`:model` in `base_url` becomes the route's
//! model), the key goes in an `api-key` header, and `api-version` is a query parameter. Azure
//! ignores `model` in the body; it is kept (rewritten like any other kind) all the same.

use super::{common_headers, Call};
use crate::errors::ApiError;
use crate::host::HttpRequest;

pub fn request(call: &Call<'_>) -> Result<HttpRequest, ApiError> {
    let base = call.provider.base_url.trim_end_matches('/');
    // `.` and `..` are unreserved, and URL parsers resolve them even percent-encoded
    // (`%2e%2e`): as a deployment they would climb out of `/deployments/`. `apexc check`
    // refuses them in routes; a client can still send one with `model#provider`.
    if matches!(call.model, "." | "..") {
        return Err(ApiError::bad_request(
            Some("model"),
            format!(
                "`{}` cannot be an Azure deployment name (it is a relative path segment).",
                call.model
            ),
        ));
    }
    let deployment = percent_encode_segment(call.model);
    let mut url = base.replace(":model", &deployment);
    url.push_str(call.endpoint.path());
    if let Some(v) = call.provider.api_version {
        url.push_str("?api-version=");
        url.push_str(&percent_encode_segment(v));
    }
    Ok(HttpRequest {
        method: "POST".to_owned(),
        url,
        headers: common_headers(call, Vec::new()),
        body: call.body.clone(),
    })
}

/// Percent-encodes everything but RFC 3986 unreserved characters, so a deployment name
/// cannot change the shape of the URL.
fn percent_encode_segment(s: &str) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(char::from(
                HEX.get(usize::from(b >> 4)).copied().unwrap_or(b'0'),
            ));
            out.push(char::from(
                HEX.get(usize::from(b & 15)).copied().unwrap_or(b'0'),
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn encodes_segments() {
        assert_eq!(super::percent_encode_segment("a b/c"), "a%20b%2Fc");
        assert_eq!(super::percent_encode_segment("DeepSeek-R1"), "DeepSeek-R1");
    }
}
