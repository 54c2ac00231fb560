//! Where a request goes, by method and path: every endpoint the gateway serves, in one table.

/// An endpoint of the gateway.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route<'a> {
    ChatCompletions,
    Embeddings,
    Messages,
    CountTokens,
    ListModels,
    GetModel(&'a str),
    /// `POST /v1/responses`.
    CreateResponse,
    /// `GET`/`DELETE /v1/responses/{id}`.
    Response(&'a str),
    /// `GET /v1/responses/{id}/input_items`.
    ResponseItems(&'a str),
}

/// Every endpoint, as the 404 for an unknown path lists them.
pub const SERVED: &str = "POST /v1/chat/completions, POST /v1/embeddings, POST /v1/messages, \
     POST /v1/messages/count_tokens, POST /v1/responses, GET|DELETE /v1/responses/{id}, \
     GET /v1/responses/{id}/input_items, GET /v1/models and GET /v1/models/{model}";

impl<'a> Route<'a> {
    /// The endpoint at `path` and the methods it allows.
    pub fn of(path: &'a str) -> Option<(Route<'a>, &'static str)> {
        const POST: &str = "POST, OPTIONS";
        const GET: &str = "GET, OPTIONS";
        Some(match path {
            "/v1/chat/completions" => (Route::ChatCompletions, POST),
            "/v1/embeddings" => (Route::Embeddings, POST),
            "/v1/messages" => (Route::Messages, POST),
            "/v1/messages/count_tokens" => (Route::CountTokens, POST),
            "/v1/models" => (Route::ListModels, GET),
            "/v1/responses" => (Route::CreateResponse, POST),
            _ => {
                if let Some(id) = path.strip_prefix("/v1/models/").filter(|id| !id.is_empty()) {
                    return Some((Route::GetModel(id), GET));
                }
                let rest = path.strip_prefix("/v1/responses/")?;
                match rest.split_once('/') {
                    None if !rest.is_empty() => (Route::Response(rest), "GET, DELETE, OPTIONS"),
                    Some((id, "input_items")) if !id.is_empty() => (Route::ResponseItems(id), GET),
                    _ => return None,
                }
            }
        })
    }

    /// Whether `method` is one this endpoint answers (OPTIONS aside: preflights are answered
    /// before routing).
    pub fn allows(self, method: &str) -> bool {
        match self {
            Route::ListModels | Route::GetModel(_) | Route::ResponseItems(_) => method == "GET",
            Route::Response(_) => method == "GET" || method == "DELETE",
            _ => method == "POST",
        }
    }
}

/// Whether answers on `path` speak Anthropic's protocol (errors included): everything under
/// `/v1/messages`, so an unknown `/v1/messages/...` path gets an error its SDK can read.
pub fn is_anthropic(path: &str) -> bool {
    path == "/v1/messages" || path.starts_with("/v1/messages/")
}

/// The path of an inbound URL: no query or fragment, no trailing slash, no scheme/authority
/// (tolerated when a host passes an absolute URL).
pub fn path_of(url: &str) -> &str {
    let url = match url.find("://") {
        Some(i) => url
            .get(i + 3..)
            .and_then(|rest| rest.find('/').and_then(|j| rest.get(j..)))
            .unwrap_or("/"),
        None => url,
    };
    let path = url.split(['?', '#']).next().unwrap_or(url);
    if path.len() > 1 {
        path.strip_suffix('/').unwrap_or(path)
    } else {
        path
    }
}

/// The query of an inbound URL (without `?` and fragment), `""` when it has none.
pub fn query_of(url: &str) -> &str {
    let query = url.split_once('?').map_or("", |(_, q)| q);
    query.split('#').next().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths() {
        assert_eq!(path_of("/v1/models/"), "/v1/models");
        assert_eq!(path_of("/v1/models?x=1"), "/v1/models");
        assert_eq!(path_of("http://h:1/v1/models/a/b"), "/v1/models/a/b");
        assert_eq!(path_of("/"), "/");
        assert_eq!(query_of("/v1/responses/r/input_items?limit=2#x"), "limit=2");
    }

    #[test]
    fn routes() {
        assert_eq!(
            Route::of("/v1/responses/r1").map(|r| r.0),
            Some(Route::Response("r1"))
        );
        assert_eq!(
            Route::of("/v1/responses/r1/input_items").map(|r| r.0),
            Some(Route::ResponseItems("r1"))
        );
        assert_eq!(Route::of("/v1/responses/r1/other"), None);
        assert_eq!(
            Route::of("/v1/models/a/b").map(|r| r.0),
            Some(Route::GetModel("a/b"))
        );
        assert!(is_anthropic("/v1/messages/batches"));
        assert!(!is_anthropic("/v1/messagesx"));
    }
}
