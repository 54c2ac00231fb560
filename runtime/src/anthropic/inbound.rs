//! `POST /v1/messages` and `/v1/messages/count_tokens` on any upstream.
//!
//! [`MessagesExchange`] is the [`Exchange`] the attempt loop drives for a Messages request:
//!
//! - to an `anthropic` provider: the client's bytes with only `model` spliced (and
//!   `max_tokens` lowered when the route caps it), `anthropic-version` / `anthropic-beta`
//!   forwarded; the answer passes through untouched;
//! - to any other kind (OpenAI-compatible, Azure, mock): decoded once into the canonical
//!   request, encoded as chat completions per route, and the answer translated back —
//!   streams event by event ([`translate`]), whole bodies at once.
//!
//! count_tokens goes to an `anthropic` provider's own endpoint when the model has one, and
//! is otherwise estimated locally ([`super::count`]).

use super::{count, decode, encode};
use crate::canonical::stream::{replay, translate};
use crate::canonical::Request;
use crate::errors::ApiError;
use crate::host::{Body, ByteStream, Headers, HttpRequest, HttpResponse};
use crate::openai::chat_response;
use crate::openai::{chat_request, Endpoint, Routing};
use crate::router::exchange::{
    decode_whole, translated, untranslatable, ErrorShape, Exchange, Outbound, Translated,
};
use crate::router::plan::Target;
use crate::table::{Kind, Provider};
use bytes::Bytes;
use serde_json::Value;
use std::cell::OnceCell;

/// A Messages request on its way upstream.
pub struct MessagesExchange<'a> {
    endpoint: Endpoint,
    routing: Routing<'a>,
    body: &'a Bytes,
    /// `anthropic-version` / `anthropic-beta` from the client, for native upstreams.
    headers: Headers,
    /// The requested `max_tokens` (to apply a route's cap on the native path), read on the
    /// first capped route only: uncapped passthrough parses the body once, for routing.
    max_tokens: OnceCell<Option<u64>>,
    /// The canonical request, when some route needs a translation.
    canonical: Option<Request>,
    /// The message id announced to the client on translated answers.
    id: String,
}

impl<'a> MessagesExchange<'a> {
    /// Reads what routing needs. The full decode happens in [`Self::prepare`], only when a
    /// route needs it.
    pub fn parse(endpoint: Endpoint, req: &'a HttpRequest, id: String) -> Result<Self, ApiError> {
        let routing = Routing::parse(Endpoint::ChatCompletions, &req.body)?;
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
            max_tokens: OnceCell::new(),
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
        if providers.any(|p| p.kind != Kind::Anthropic) {
            self.canonical = Some(decode::request(self.body)?);
        }
        Ok(())
    }

    pub fn canonical(&self) -> Option<&Request> {
        self.canonical.as_ref()
    }

    /// The `max_tokens` the client asked for.
    fn asked_max_tokens(&self) -> Option<u64> {
        *self.max_tokens.get_or_init(|| {
            #[derive(serde::Deserialize)]
            struct Max {
                #[serde(default)]
                max_tokens: Option<u64>,
            }
            serde_json::from_slice::<Max>(self.body)
                .ok()
                .and_then(|m| m.max_tokens)
        })
    }

    /// The body for a native Anthropic upstream: model spliced, `max_tokens` capped.
    fn native_body(&self, target: &Target<'_>) -> Bytes {
        let body = self.routing.with_model(self.body, target.model);
        let Some(cap) = target_cap(target) else {
            return body;
        };
        if self
            .asked_max_tokens()
            .is_none_or(|asked| asked <= u64::from(cap))
        {
            return body;
        }
        let Ok(Value::Object(mut o)) = serde_json::from_slice::<Value>(&body) else {
            return body;
        };
        o.insert("max_tokens".into(), Value::from(cap));
        serde_json::to_vec(&o).map(Bytes::from).unwrap_or(body)
    }
}

/// The route's `max_tokens` cap.
fn target_cap(target: &Target<'_>) -> Option<u32> {
    target.max_tokens
}

impl Exchange for MessagesExchange<'_> {
    fn model(&self) -> &str {
        &self.routing.model
    }

    fn stream(&self) -> bool {
        self.endpoint == Endpoint::Messages && self.routing.stream
    }

    fn endpoint(&self) -> Endpoint {
        self.endpoint
    }

    fn encode(
        &self,
        provider: &'static Provider,
        target: &Target<'_>,
    ) -> Result<Outbound, ApiError> {
        if provider.kind == Kind::Anthropic {
            return Ok(Outbound {
                endpoint: self.endpoint,
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
        Ok(Outbound {
            endpoint: Endpoint::ChatCompletions,
            body: Bytes::from(chat_request::encode(req, target.model, target_cap(target))?),
            stream: req.stream,
            headers: Headers::new(),
        })
    }

    fn stream_body(&self, provider: &'static Provider, upstream: ByteStream) -> ByteStream {
        if provider.kind == Kind::Anthropic {
            return upstream;
        }
        translate(
            upstream,
            chat_response::StreamDecoder::new(self.id.clone(), self.routing.model.to_string()),
            encode::StreamEncoder::new(&self.routing.model),
        )
    }

    async fn respond(&self, provider: &'static Provider, mut resp: HttpResponse) -> HttpResponse {
        if provider.kind == Kind::Anthropic {
            return resp;
        }
        let mut answer = match decode_whole(&mut resp, chat_response::response).await {
            Ok(a) => a,
            Err(why) => return untranslatable(resp, ErrorShape::Anthropic, &why),
        };
        answer.id = self.id.clone();
        let body = if self.stream() {
            let mut enc = encode::StreamEncoder::new(&self.routing.model);
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
