//! The [`Exchange`] for OpenAI requests (`/v1/chat/completions`, `/v1/embeddings`).
//!
//! Upstreams that speak chat (`upstream::codec::speaks`: openai, azure-openai, mock) get the client's
//! bytes with only `model` spliced, and their answers pass through untouched. Any other
//! (feature `chat-translated`, which such kinds enable) gets the chat request decoded into the
//! canonical model and encoded by its kind's codec, and its answers — whole or streamed —
//! translated back to chat completions.

use crate::attempt::exchange::{Attempt, Exchange, Outbound};
use crate::attempt::plan::Target;
use crate::attempt::protocol::Protocol;
use crate::errors::ApiError;
use crate::gateway::runtime::Runtime;
use crate::host::{ByteStream, Headers, Host, HttpRequest, HttpResponse};
use crate::log::RequestLog;
use crate::table::Provider;
#[cfg(feature = "chat-translated")]
use crate::upstream::codec::{self, Speaks};
use crate::upstream::Endpoint;
use crate::wire::openai::Routing;
use bytes::Bytes;

/// `POST /v1/chat/completions` and `POST /v1/embeddings`.
pub async fn serve<H: Host>(
    rt: &Runtime,
    host: &H,
    endpoint: Endpoint,
    req: &HttpRequest,
    log: &mut RequestLog,
) -> Result<HttpResponse, ApiError> {
    let required = match endpoint {
        Endpoint::Embeddings => "input",
        _ => "messages",
    };
    let routing = Routing::parse(&req.body, Some(required))?;
    let resolved = rt.resolve_logged(&routing.model, log)?;
    let x = OpenAiExchange::new(endpoint, &routing, &req.body, host.now_ms());
    Ok(crate::attempt::forward::forward(&rt.engine, host, &x, resolved, log).await)
}

pub struct OpenAiExchange<'a> {
    endpoint: Endpoint,
    routing: &'a Routing<'a>,
    body: &'a Bytes,
    /// The last passthrough encoded asked the upstream for a stream's usage the client did
    /// not ask for (a token limit needs it): its usage chunk is taken out again.
    #[cfg(feature = "quotas")]
    asked_usage: std::cell::Cell<bool>,
    #[cfg(feature = "chat-translated")]
    translated: translate::Lazy,
}

impl<'a> OpenAiExchange<'a> {
    /// `now_ms` stamps translated answers (`created`).
    pub fn new(endpoint: Endpoint, routing: &'a Routing<'a>, body: &'a Bytes, now_ms: u64) -> Self {
        #[cfg(not(feature = "chat-translated"))]
        let _ = now_ms;
        OpenAiExchange {
            endpoint,
            routing,
            body,
            #[cfg(feature = "quotas")]
            asked_usage: std::cell::Cell::new(false),
            #[cfg(feature = "chat-translated")]
            translated: translate::Lazy::new(now_ms / 1000, routing.asks_usage()),
        }
    }
}

impl OpenAiExchange<'_> {
    /// The client's bytes with the route's model spliced in and, on chat, its `max_tokens`
    /// cap applied (to `max_completion_tokens` too, which newer clients send instead).
    fn passthrough_body(&self, provider: &Provider, target: &Target<'_>) -> Bytes {
        let body = self.routing.with_model(self.body, target.model);
        let body = match target.max_tokens {
            Some(cap) if self.endpoint == Endpoint::ChatCompletions => {
                const FIELDS: &[&str] = &["max_completion_tokens", "max_tokens"];
                crate::wire::token_cap::apply(&body, FIELDS, "max_tokens", cap)
            }
            _ => body,
        };
        self.with_usage_asked(provider, target, body)
    }

    /// A stream on a route with a token limit asks for its usage (see `stream_usage`).
    #[cfg(feature = "quotas")]
    fn with_usage_asked(&self, provider: &Provider, target: &Target<'_>, body: Bytes) -> Bytes {
        let ask = self.routing.stream
            && !self.routing.asks_usage()
            && crate::attempt::quotas::meters_tokens(provider, target);
        self.asked_usage.set(ask);
        if !ask {
            return body;
        }
        let has = self.routing.has_stream_options();
        crate::wire::openai::stream_usage::ask(&body, has)
    }

    #[cfg(not(feature = "quotas"))]
    fn with_usage_asked(&self, _: &Provider, _: &Target<'_>, body: Bytes) -> Bytes {
        body
    }
}

impl Exchange for OpenAiExchange<'_> {
    fn model(&self) -> &str {
        &self.routing.model
    }

    fn stream(&self) -> bool {
        self.routing.stream
    }

    fn protocol(&self) -> &'static dyn Protocol {
        &crate::gateway::protocols::CHAT
    }

    fn encode(
        &self,
        provider: &'static Provider,
        target: &Target<'_>,
    ) -> Result<Outbound, ApiError> {
        #[cfg(feature = "chat-translated")]
        if codec::speaks(provider.kind) != Speaks::Chat {
            return self
                .translated
                .encode(provider, self.endpoint, self.body, target);
        }
        Ok(Outbound {
            endpoint: self.endpoint,
            method: "POST",
            suffix: String::new(),
            body: self.passthrough_body(provider, target),
            stream: self.routing.stream,
            headers: Headers::new(),
        })
    }

    fn stream_body(&self, at: Attempt, upstream: ByteStream) -> ByteStream {
        #[cfg(feature = "chat-translated")]
        if codec::speaks(at.provider.kind) != Speaks::Chat {
            return self
                .translated
                .stream_body(at.provider, &self.routing.model, upstream);
        }
        let _ = at;
        #[cfg(feature = "quotas")]
        if self.asked_usage.get() {
            return crate::wire::openai::stream_usage::strip(upstream);
        }
        upstream
    }

    async fn respond(&self, at: Attempt, resp: HttpResponse) -> HttpResponse {
        #[cfg(feature = "chat-translated")]
        if codec::speaks(at.provider.kind) != Speaks::Chat {
            return self
                .translated
                .respond(at.provider, &self.routing.model, self.routing.stream, resp)
                .await;
        }
        let _ = at;
        resp
    }
}

/// Chat ⇄ canonical ⇄ the upstream's protocol, for kinds that do not speak chat.
#[cfg(feature = "chat-translated")]
mod translate {
    use crate::attempt::exchange::{
        decode_whole, translated, untranslatable, Outbound, Translated,
    };
    use crate::attempt::plan::Target;
    use crate::errors::ApiError;
    use crate::host::{ByteStream, Headers, HttpResponse};
    use crate::table::Provider;
    use crate::upstream::codec;
    use crate::upstream::Endpoint;
    use crate::wire::canonical::stream::{replay, translate};
    use crate::wire::canonical::Request;
    use crate::wire::openai::{chat_request, chat_response};
    use bytes::Bytes;
    use std::cell::OnceCell;

    /// The chat request decoded once, on the first route that needs it.
    pub struct Lazy {
        request: OnceCell<Result<Request, ApiError>>,
        created: u64,
        /// The client asked for a stream's usage (`stream_options.include_usage`).
        include_usage: bool,
    }

    impl Lazy {
        pub fn new(created: u64, include_usage: bool) -> Self {
            Lazy {
                request: OnceCell::new(),
                created,
                include_usage,
            }
        }

        fn request(&self, body: &[u8]) -> Result<&Request, ApiError> {
            self.request
                .get_or_init(|| chat_request::decode(body))
                .as_ref()
                .map_err(Clone::clone)
        }

        pub fn encode(
            &self,
            provider: &Provider,
            endpoint: Endpoint,
            body: &[u8],
            target: &Target<'_>,
        ) -> Result<Outbound, ApiError> {
            if endpoint != Endpoint::ChatCompletions {
                return Err(ApiError::bad_request(
                    None,
                    format!(
                        "`{}` providers serve chat completions only (no embeddings).",
                        provider.kind.as_str()
                    ),
                ));
            }
            let req = self.request(body)?;
            let (endpoint, body) =
                codec::encode(provider.kind, req, target.model, target.max_tokens)?;
            Ok(Outbound {
                endpoint,
                method: "POST",
                suffix: String::new(),
                body: Bytes::from(body),
                stream: req.stream,
                headers: Headers::new(),
            })
        }

        fn include_usage(&self) -> bool {
            self.include_usage
        }

        pub fn stream_body(&self, provider: &Provider, model: &str, up: ByteStream) -> ByteStream {
            translate(
                up,
                codec::StreamDecoder::new(provider.kind, String::new(), model.to_owned()),
                chat_response::StreamEncoder::new(model, self.created, self.include_usage()),
            )
        }

        pub async fn respond(
            &self,
            provider: &Provider,
            model: &str,
            stream: bool,
            mut resp: HttpResponse,
        ) -> HttpResponse {
            let kind = provider.kind;
            let answer = match decode_whole(&mut resp, |v| codec::response(kind, v)).await {
                Ok(a) => a,
                Err(why) => return untranslatable(resp, &why),
            };
            let body = if stream {
                let mut enc =
                    chat_response::StreamEncoder::new(model, self.created, self.include_usage());
                Translated::Events(replay(&answer, &mut enc))
            } else {
                Translated::Json(
                    chat_response::encode(&answer, model, self.created)
                        .to_string()
                        .into_bytes(),
                )
            };
            translated(resp, body)
        }
    }
}
