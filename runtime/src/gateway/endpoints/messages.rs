//! `POST /v1/messages` and `/v1/messages/count_tokens` on any upstream.
//!
//! [`MessagesExchange`] is the [`Exchange`] the attempt loop drives for a Messages request:
//!
//! - to a provider that speaks Messages (`anthropic`): the client's bytes with only `model`
//!   spliced (and `max_tokens` lowered when the route caps it), `anthropic-version` /
//!   `anthropic-beta` forwarded; the answer passes through untouched;
//! - to any other (OpenAI-compatible, Azure, mock): decoded once into the canonical request,
//!   encoded by the kind's codec per route ([`codec`]), and the answer translated back —
//!   streams event by event ([`translate`]), whole bodies at once.
//!
//! count_tokens goes to the endpoint of a provider that speaks Messages when the model has
//! one, and is otherwise estimated locally ([`count`]).

use crate::attempt::exchange::{
    decode_whole, translated, untranslatable, Attempt, Exchange, Outbound, Translated,
};
use crate::attempt::plan::Target;
use crate::attempt::protocol::Protocol;
use crate::errors::ApiError;
use crate::gateway::runtime::Runtime;
use crate::host::Host;
use crate::host::{Body, ByteStream, Headers, HttpRequest, HttpResponse};
use crate::log::RequestLog;
use crate::table::Provider;
use crate::upstream::codec::{self, Speaks};
use crate::upstream::Endpoint;
use crate::wire::anthropic::{count, decode, encode};
use crate::wire::canonical::stream::{replay, translate};
use crate::wire::canonical::Request;
use crate::wire::openai::Routing;
use bytes::Bytes;

/// `POST /v1/messages` and `/v1/messages/count_tokens`.
pub async fn serve<H: Host>(
    rt: &Runtime,
    host: &H,
    endpoint: Endpoint,
    req: &HttpRequest,
    log: &mut RequestLog,
) -> Result<HttpResponse, ApiError> {
    let id = format!("msg_{:08x}{:08x}", host.random_u32(), host.random_u32());
    let mut x = MessagesExchange::parse(endpoint, req, id)?;
    let model = x.routing.model.to_string();
    let mut resolved = rt.resolve_logged(&model, log)?;
    let counts = |t: &Target<'_>| {
        rt.gateway
            .providers
            .get(usize::from(t.provider))
            .is_some_and(|p| speaks_messages(p) && crate::upstream::compiled(p.kind))
    };
    if endpoint == Endpoint::CountTokens {
        // Upstreams that speak Messages count for real; otherwise the local estimate.
        resolved.targets.retain(counts);
        if resolved.targets.is_empty() {
            return count_locally(&x);
        }
    } else {
        x.prepare(
            resolved
                .targets
                .iter()
                .filter_map(|t| rt.gateway.providers.get(usize::from(t.provider))),
        )?;
    }
    Ok(crate::attempt::forward::forward(&rt.engine, host, &x, resolved, log).await)
}

fn speaks_messages(provider: &Provider) -> bool {
    codec::speaks(provider.kind) == Speaks::Messages
}

/// A Messages request on its way upstream.
pub struct MessagesExchange<'a> {
    endpoint: Endpoint,
    routing: Routing<'a>,
    body: &'a Bytes,
    /// `anthropic-version` / `anthropic-beta` from the client, for native upstreams.
    headers: Headers,
    /// The canonical request, when some route needs a translation.
    canonical: Option<Request>,
    /// The message id announced to the client on translated answers.
    id: String,
}

impl<'a> MessagesExchange<'a> {
    /// Reads what routing needs. The full decode happens in [`Self::prepare`], only when a
    /// route needs it.
    pub fn parse(endpoint: Endpoint, req: &'a HttpRequest, id: String) -> Result<Self, ApiError> {
        let routing = Routing::parse(&req.body, Some("messages"))?;
        let mut headers = Headers::new();
        for name in ["anthropic-version", "anthropic-beta"] {
            if let Some(v) = req.header(name) {
                headers.push((name.to_owned(), v.to_owned()));
            }
        }
        Ok(MessagesExchange {
            endpoint,
            routing,
            body: &req.body,
            headers,
            canonical: None,
            id,
        })
    }

    /// Decodes the request into the canonical model when any of `providers` needs it. A
    /// request that cannot be translated is a 400 here, before any upstream is tried.
    pub fn prepare<'p>(
        &mut self,
        mut providers: impl Iterator<Item = &'p Provider>,
    ) -> Result<(), ApiError> {
        if providers.any(|p| !speaks_messages(p)) {
            self.canonical = Some(decode::request(self.body)?);
        }
        Ok(())
    }

    /// The Messages stream encoder for a translated answer, its `message_start` carrying the
    /// request's estimated input tokens.
    fn stream_encoder(&self) -> encode::StreamEncoder {
        let estimate = self
            .canonical
            .as_ref()
            .map_or(0, crate::wire::anthropic::count::estimate);
        encode::StreamEncoder::new(&self.routing.model).with_input_estimate(estimate)
    }

    pub fn canonical(&self) -> Option<&Request> {
        self.canonical.as_ref()
    }

    /// The body for a native Anthropic upstream: model spliced, `max_tokens` capped.
    fn native_body(&self, target: &Target<'_>) -> Bytes {
        let body = self.routing.with_model(self.body, target.model);
        match target.max_tokens {
            Some(cap) => crate::wire::token_cap::apply(&body, &["max_tokens"], "max_tokens", cap),
            None => body,
        }
    }
}

impl Exchange for MessagesExchange<'_> {
    fn model(&self) -> &str {
        &self.routing.model
    }

    fn stream(&self) -> bool {
        self.endpoint == Endpoint::Messages && self.routing.stream
    }

    fn protocol(&self) -> &'static dyn Protocol {
        &crate::gateway::protocols::MESSAGES
    }

    fn encode(
        &self,
        provider: &'static Provider,
        target: &Target<'_>,
    ) -> Result<Outbound, ApiError> {
        if speaks_messages(provider) {
            return Ok(Outbound {
                endpoint: self.endpoint,
                method: "POST",
                suffix: String::new(),
                body: if self.endpoint == Endpoint::Messages {
                    self.native_body(target)
                } else {
                    self.routing.with_model(self.body, target.model)
                },
                stream: self.stream(),
                headers: self.headers.clone(),
            });
        }
        if self.endpoint == Endpoint::CountTokens {
            return Err(ApiError::bad_request(
                None,
                format!("provider `{}` has no token counting endpoint.", provider.id),
            ));
        }
        let Some(req) = &self.canonical else {
            return Err(ApiError::server(
                "not_prepared",
                "the request was not decoded for translation".to_owned(),
            ));
        };
        let (endpoint, body) = codec::encode(provider.kind, req, target.model, target.max_tokens)?;
        Ok(Outbound {
            endpoint,
            method: "POST",
            suffix: String::new(),
            body: Bytes::from(body),
            stream: req.stream,
            headers: Headers::new(),
        })
    }

    fn stream_body(&self, at: Attempt, upstream: ByteStream) -> ByteStream {
        if speaks_messages(at.provider) {
            return upstream;
        }
        translate(
            upstream,
            codec::StreamDecoder::new(
                at.provider.kind,
                self.id.clone(),
                self.routing.model.to_string(),
            ),
            self.stream_encoder(),
        )
    }

    async fn respond(&self, at: Attempt, mut resp: HttpResponse) -> HttpResponse {
        if speaks_messages(at.provider) {
            return resp;
        }
        let kind = at.provider.kind;
        let mut answer = match decode_whole(&mut resp, |v| codec::response(kind, v)).await {
            Ok(a) => a,
            Err(why) => return untranslatable(resp, &why),
        };
        answer.id = self.id.clone();
        let body = if self.stream() {
            let mut enc = self.stream_encoder();
            Translated::Events(replay(&answer, &mut enc))
        } else {
            Translated::Json(
                encode::response(&answer, &self.routing.model)
                    .to_string()
                    .into_bytes(),
            )
        };
        translated(resp, body)
    }
}

/// The local count_tokens answer.
pub fn count_locally(x: &MessagesExchange<'_>) -> Result<HttpResponse, ApiError> {
    let owned;
    let req = match x.canonical() {
        Some(r) => r,
        None => {
            owned = decode::request(x.body)?;
            &owned
        }
    };
    let n = count::estimate(req);
    Ok(HttpResponse {
        status: 200,
        headers: vec![
            ("content-type".to_owned(), "application/json".to_owned()),
            ("x-apex-token-count".to_owned(), "estimate".to_owned()),
        ],
        body: Body::Bytes(Bytes::from(
            serde_json::json!({ "input_tokens": n }).to_string(),
        )),
    })
}
