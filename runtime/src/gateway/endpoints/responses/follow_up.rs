//! Follow-ups on a natively served response (`GET`/`DELETE /v1/responses/{id}`,
//! `GET …/input_items`): sent to the provider that served it, with the key whose account
//! holds it, through the attempt engine like every upstream call — the same URL, headers and
//! auth as the kind builds for attempts, the scrub stage, the `x-apex-*` headers, cooldowns.

use crate::attempt::exchange::{Attempt, Exchange, Outbound};
use crate::attempt::plan::{Resolved, Target};
use crate::attempt::protocol::Protocol;
use crate::errors::ApiError;
use crate::gateway::endpoints::responses::store::NativeHome;
use crate::gateway::runtime::Runtime;
use crate::host::{ByteStream, Headers, Host, HttpResponse};
use crate::log::RequestLog;
use crate::table::{Provider, Strategy};
use crate::upstream::Endpoint;
use bytes::Bytes;

/// What the client asked of a stored response.
pub struct Call<'a> {
    pub method: &'a str,
    pub id: &'a str,
    /// `…/input_items`.
    pub items: bool,
    /// The client's query (`after`, `limit`, `order`…), passed on.
    pub query: &'a str,
    pub home: &'a NativeHome,
}

/// Sends `call` to the response's home provider.
pub async fn send<H: Host>(
    rt: &Runtime,
    host: &H,
    call: Call<'_>,
    log: &mut RequestLog,
) -> Result<HttpResponse, ApiError> {
    let Some((index, _)) = rt.gateway.provider(&call.home.provider) else {
        return Err(ApiError::unavailable(format!(
            "response '{}' was served by provider `{}`, which this gateway no longer has.",
            call.id, call.home.provider
        )));
    };
    let method = if call.method == "DELETE" {
        "DELETE"
    } else {
        "GET"
    };
    let mut suffix = format!("/{}", crate::wire::percent::encode(call.id));
    if call.items {
        suffix.push_str("/input_items");
    }
    if !call.query.is_empty() {
        suffix.push('?');
        suffix.push_str(call.query);
    }
    let x = FollowUp {
        method,
        suffix,
        provider: &call.home.provider,
        key: call.home.key_index,
    };
    let resolved = Resolved {
        targets: vec![Target {
            provider: index,
            model: "",
            weight: 1,
            max_tokens: None,
            limits: crate::table::Limits::NONE,
        }],
        strategy: Strategy::Priority,
        tick: 0,
    };
    Ok(crate::attempt::forward::forward(&rt.engine, host, &x, resolved, log).await)
}

struct FollowUp<'a> {
    method: &'static str,
    suffix: String,
    provider: &'a str,
    key: usize,
}

impl Exchange for FollowUp<'_> {
    /// No model: the provider names what could not be reached.
    fn model(&self) -> &str {
        self.provider
    }

    fn stream(&self) -> bool {
        false
    }

    fn counted(&self) -> bool {
        false
    }

    fn protocol(&self) -> &'static dyn Protocol {
        &crate::gateway::protocols::RESPONSES
    }

    fn key(&self) -> Option<usize> {
        Some(self.key)
    }

    fn encode(&self, _: &'static Provider, _: &Target<'_>) -> Result<Outbound, ApiError> {
        Ok(Outbound {
            endpoint: Endpoint::Responses,
            method: self.method,
            suffix: self.suffix.clone(),
            body: Bytes::new(),
            stream: false,
            headers: Headers::new(),
        })
    }

    fn stream_body(&self, _: Attempt, upstream: ByteStream) -> ByteStream {
        upstream
    }

    async fn respond(&self, _: Attempt, resp: HttpResponse) -> HttpResponse {
        resp
    }
}
