//! Errors the gateway itself produces, in the OpenAI shape every OpenAI client parses:
//! `{"error":{"message":"…","type":"…","param":null,"code":"…"}}`.
//!
//! Messages are written for the person reading the client's exception: they say what was
//! wrong and what to do. They may name providers, models and secret *names*; they never
//! contain a secret value.

use crate::host::{Body, HttpResponse};
use bytes::Bytes;
use serde::Serialize;

/// Largest request body the gateway accepts: the hosts' limit (they enforce it before
/// buffering; the router checks again so every host gets the same answer).
pub const MAX_BODY_BYTES: usize = crate::host::MAX_REQUEST_BODY;

/// An error response about to be sent to the client.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: u16,
    /// OpenAI `type`: `invalid_request_error`, `api_error`, `server_error`...
    pub kind: &'static str,
    /// OpenAI `code` (machine-readable), when there is one.
    pub code: Option<&'static str>,
    /// The request field at fault, when there is one.
    pub param: Option<&'static str>,
    pub message: String,
    /// Extra response headers (`allow` on a 405).
    pub headers: Vec<(String, String)>,
}

#[derive(Serialize)]
struct Envelope<'a> {
    error: Inner<'a>,
}

#[derive(Serialize)]
struct Inner<'a> {
    message: &'a str,
    #[serde(rename = "type")]
    kind: &'a str,
    param: Option<&'a str>,
    code: Option<&'a str>,
}

impl ApiError {
    pub fn new(
        status: u16,
        kind: &'static str,
        code: Option<&'static str>,
        message: String,
    ) -> Self {
        ApiError {
            status,
            kind,
            code,
            param: None,
            message,
            headers: Vec::new(),
        }
    }

    /// An error with `status`, typed the way OpenAI types that status: for an upstream's error
    /// re-shaped for an OpenAI client.
    pub fn for_status(status: u16, message: String) -> Self {
        let (kind, code) = match status {
            401 => ("authentication_error", Some("invalid_api_key")),
            403 => ("permission_error", None),
            404 => ("invalid_request_error", Some("not_found")),
            413 => ("invalid_request_error", Some("request_too_large")),
            429 => ("rate_limit_error", Some("rate_limit_exceeded")),
            400..=499 => ("invalid_request_error", None),
            503 | 529 => ("api_error", Some("overloaded")),
            _ => ("api_error", Some("upstream_error")),
        };
        Self::new(status, kind, code, message)
    }

    /// 400: the request body is not what the endpoint needs.
    pub fn bad_request(param: Option<&'static str>, message: String) -> Self {
        ApiError {
            param,
            ..Self::new(400, "invalid_request_error", None, message)
        }
    }

    /// 400: the body is not JSON (or not a JSON object).
    pub fn bad_json(detail: &str) -> Self {
        Self::bad_request(
            None,
            format!(
                "We could not parse the JSON body of your request ({detail}). \
                 The body must be a JSON object sent with content-type: application/json."
            ),
        )
    }

    /// 401: no gateway key, or a key that matches none of the configured ones.
    pub fn unauthorized(presented: bool) -> Self {
        let message = if presented {
            "Incorrect API key provided. Send one of this gateway's keys as \
             `Authorization: Bearer <key>` or `x-api-key: <key>`."
        } else {
            "You didn't provide an API key. Send one of this gateway's keys as \
             `Authorization: Bearer <key>` or `x-api-key: <key>`."
        };
        Self::new(
            401,
            "invalid_request_error",
            Some("invalid_api_key"),
            message.to_owned(),
        )
    }

    /// 404: a model name that is not in the table.
    pub fn unknown_model(model: &str) -> Self {
        ApiError {
            param: Some("model"),
            ..Self::new(
                404,
                "invalid_request_error",
                Some("model_not_found"),
                format!(
                    "The model `{model}` does not exist on this gateway. \
                     GET /v1/models lists the models it serves."
                ),
            )
        }
    }

    /// 403: `model#provider` on a gateway whose config does not allow pinning a provider.
    /// 403: a named client asked for a model outside its allowlist.
    pub fn model_not_allowed(client: &crate::table::Client, model: &str) -> Self {
        ApiError {
            param: Some("model"),
            ..Self::new(
                403,
                "permission_error",
                Some("model_not_allowed"),
                format!(
                    "this key (client `{}`) may not use model `{model}`; it may use: {}.",
                    client.name,
                    client.models.join(", ")
                ),
            )
        }
    }

    pub fn pinning_disabled(name: &str, model: &str) -> Self {
        ApiError {
            param: Some("model"),
            ..Self::new(
                403,
                "invalid_request_error",
                Some("provider_pinning_disabled"),
                format!(
                    "`{name}` names a provider after `#`, which this gateway does not allow: \
                     it chooses providers itself. Send the model as `{model}`. (The gateway's \
                     owner can allow it with `provider_pinning: routes` in its config.)"
                ),
            )
        }
    }

    /// 403: `model#provider` where the model has no route on that provider, on a gateway that
    /// pins only to a model's own routes (`provider_pinning: routes`).
    pub fn pinning_not_routed(model: &str, provider: &str) -> Self {
        ApiError {
            param: Some("model"),
            ..Self::new(
                403,
                "invalid_request_error",
                Some("provider_pinning_not_routed"),
                format!(
                    "`{model}#{provider}`: this gateway lets `#provider` pick only among the \
                     providers a public model routes to, and `{model}` has no route on \
                     `{provider}`. GET /v1/models lists the public models."
                ),
            )
        }
    }

    /// 404: `model#provider` with a provider id that is not configured.
    pub fn unknown_provider(provider: &str, known: &str) -> Self {
        ApiError {
            param: Some("model"),
            ..Self::new(
                404,
                "invalid_request_error",
                Some("provider_not_found"),
                format!(
                    "The provider `{provider}` (after `#` in the model name) does not exist on \
                     this gateway. Known providers: {known}."
                ),
            )
        }
    }

    /// 404: no endpoint at this path.
    pub fn unknown_path(method: &str, path: &str, served: &str) -> Self {
        Self::new(
            404,
            "invalid_request_error",
            Some("unknown_url"),
            format!("Invalid URL ({method} {path}). This gateway serves {served}."),
        )
    }

    /// 405: the path exists but not for this method.
    pub fn method_not_allowed(method: &str, path: &str, allow: &'static str) -> Self {
        let mut e = Self::new(
            405,
            "invalid_request_error",
            Some("method_not_allowed"),
            format!("{method} is not allowed on {path}; allowed: {allow}."),
        );
        e.headers.push(("allow".to_owned(), allow.to_owned()));
        e
    }

    /// 413: the body is over [`MAX_BODY_BYTES`].
    pub fn too_large(len: usize) -> Self {
        Self::new(
            413,
            "invalid_request_error",
            Some("request_too_large"),
            format!(
                "The request body is {len} bytes; this gateway accepts at most {MAX_BODY_BYTES} bytes."
            ),
        )
    }

    /// 500: the gateway cannot serve this because of how it was built or configured.
    pub fn server(code: &'static str, message: String) -> Self {
        Self::new(500, "server_error", Some(code), message)
    }

    /// 502: every attempt failed without a usable upstream answer.
    pub fn bad_gateway(message: String) -> Self {
        Self::new(502, "api_error", Some("upstream_error"), message)
    }

    /// 503: no attempt could be made at all.
    pub fn unavailable(message: String) -> Self {
        Self::new(503, "api_error", Some("no_route_available"), message)
    }

    /// 504: the last attempt timed out.
    pub fn gateway_timeout(message: String) -> Self {
        Self::new(504, "api_error", Some("upstream_timeout"), message)
    }

    /// The JSON body, `{"error":{...}}`.
    pub fn body(&self) -> Bytes {
        let envelope = Envelope {
            error: Inner {
                message: &self.message,
                kind: self.kind,
                param: self.param,
                code: self.code,
            },
        };
        // Serializing plain strings into a Vec cannot fail; fall back to a fixed body anyway.
        match serde_json::to_vec(&envelope) {
            Ok(v) => Bytes::from(v),
            Err(_) => Bytes::from_static(
                br#"{"error":{"message":"internal error","type":"server_error","param":null,"code":null}}"#,
            ),
        }
    }

    pub fn into_response(self) -> HttpResponse {
        let body = self.body();
        let mut headers = self.headers;
        headers.push(("content-type".to_owned(), "application/json".to_owned()));
        HttpResponse {
            status: self.status,
            headers,
            body: Body::Bytes(body),
        }
    }
}

impl From<ApiError> for HttpResponse {
    fn from(e: ApiError) -> Self {
        e.into_response()
    }
}
