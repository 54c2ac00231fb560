//! `azure-openai`: the deployment is in the path (`:model` in `base_url` becomes the route's
//! model), the key goes in an `api-key` header, and `api-version` is a query parameter. Azure
//! ignores `model` in the body; it is kept (rewritten like any other kind) all the same.

use crate::errors::ApiError;
use crate::host::HttpRequest;
use crate::upstream::call::Call;
use crate::upstream::http::{common_headers, url};
use crate::wire::percent;

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
    let base = base.replace(":model", &percent::encode(call.model));
    let version = call
        .provider
        .api_version
        .map(|v| format!("api-version={}", percent::encode(v)));
    Ok(HttpRequest {
        method: call.method.to_owned(),
        url: url(&base, call, version.as_deref()),
        headers: common_headers(call, Vec::new()),
        body: call.body.clone(),
    })
}
