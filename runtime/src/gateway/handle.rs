//! One request through the gateway: CORS preflight → gateway auth → the endpoint, by path →
//! its handler in [`endpoints`](crate::gateway::endpoints) → on the way out, whatever the
//! answer: errors in the client's protocol shape, `x-apex-attempts`, CORS headers, the log line.

use crate::errors::{ApiError, MAX_BODY_BYTES};
use crate::gateway::endpoints::{chat, messages, models, responses};
use crate::gateway::paths::{path_of, Route, SERVED};
use crate::gateway::runtime::Runtime;
use crate::gateway::{auth, cors, protocols};
use crate::host::{Body, Host, HttpRequest, HttpResponse};
use crate::log::RequestLog;
use crate::upstream::Endpoint;
use bytes::Bytes;

impl Runtime {
    /// Serve one inbound request. Never panics; every failure becomes an error answer in the
    /// client's protocol.
    pub async fn handle<H: Host>(&self, host: &H, req: HttpRequest) -> HttpResponse {
        let mut log = RequestLog::start(host.now_ms(), &req.method, path_of(&req.url));
        let path = path_of(&req.url).to_owned();
        let resp = if req.method == "OPTIONS" {
            cors::preflight(&req)
        } else {
            match self.serve(host, req, &mut log).await {
                Ok(r) => r,
                Err(e) => e.into_response(),
            }
        };
        finish(host, resp, &path, log)
    }

    /// The answer to a request that can be refused from its head alone: one that fails gateway
    /// auth. Hosts call this with the request line and headers (body still empty) and read the
    /// body only on `None`, so a client without a key costs no body memory and no read time.
    /// The answer is the one [`Runtime::handle`] would give (same check, shape, CORS headers and
    /// log line); `handle` checks auth again, which costs a few comparisons.
    pub fn refuse_before_body<H: Host>(
        &self,
        host: &H,
        head: &HttpRequest,
    ) -> Option<HttpResponse> {
        if head.method == "OPTIONS" {
            return None; // a preflight carries no key, by design
        }
        let refused = auth::check(self.gateway, host, head).err()?;
        let path = path_of(&head.url);
        let log = RequestLog::start(host.now_ms(), &head.method, path);
        Some(finish(host, refused.into_response(), path, log))
    }

    async fn serve<H: Host>(
        &self,
        host: &H,
        req: HttpRequest,
        log: &mut RequestLog,
    ) -> Result<HttpResponse, ApiError> {
        log.client = auth::check(self.gateway, host, &req)?;
        let path = path_of(&req.url);
        let route = match Route::of(path) {
            Some((route, _)) if route.allows(&req.method) => route,
            Some((_, allow)) => {
                return Err(ApiError::method_not_allowed(&req.method, path, allow));
            }
            None => return Err(ApiError::unknown_path(&req.method, path, SERVED)),
        };
        if req.method == "POST" && req.body.len() > MAX_BODY_BYTES {
            return Err(ApiError::too_large(req.body.len()));
        }
        match route {
            Route::ChatCompletions => {
                chat::serve(self, host, Endpoint::ChatCompletions, &req, log).await
            }
            Route::Embeddings => chat::serve(self, host, Endpoint::Embeddings, &req, log).await,
            Route::Messages => messages::serve(self, host, Endpoint::Messages, &req, log).await,
            Route::CountTokens => {
                messages::serve(self, host, Endpoint::CountTokens, &req, log).await
            }
            Route::ListModels => Ok(json_ok(match log.client {
                // A client with an allowlist sees what it may use.
                Some(c) if !c.models.is_empty() => models::list_body_for(self.gateway, c),
                _ => self.models_body.clone(),
            })),
            Route::GetModel(id) => models::one_body(self.gateway, id, log.client).map(json_ok),
            Route::CreateResponse => responses::create(self, host, &req, log).await,
            Route::Response(id) => responses::stored(self, host, &req, id, false, log).await,
            Route::ResponseItems(id) => responses::stored(self, host, &req, id, true, log).await,
        }
    }
}

/// What every answer gets on its way out: an error in the shape of the protocol its path
/// speaks, `x-apex-attempts` (`0` when the gateway answered without trying an upstream), CORS
/// headers, the log line.
fn finish<H: Host>(host: &H, resp: HttpResponse, path: &str, mut log: RequestLog) -> HttpResponse {
    let mut resp = protocols::of_path(path).shape_error(resp);
    if !resp.headers.iter().any(|(k, _)| k == "x-apex-attempts") {
        resp.headers
            .push(("x-apex-attempts".to_owned(), "0".to_owned()));
    }
    cors::add_headers(&mut resp.headers);
    log.finish(resp.status, host.now_ms());
    host.log(&log);
    resp
}

fn json_ok(body: Bytes) -> HttpResponse {
    HttpResponse {
        status: 200,
        headers: vec![("content-type".to_owned(), "application/json".to_owned())],
        body: Body::Bytes(body),
    }
}
