//! The inbound protocols, as the attempt engine and the gateway's own answers see them: one
//! [`Protocol`] each, for its error shape, its final stream error event and its keepalive.

use crate::attempt::protocol::Protocol;
use crate::host::HttpResponse;
use crate::wire::{anthropic, openai, responses, sse};
use bytes::Bytes;

/// OpenAI chat completions and embeddings.
pub struct Chat;
/// Anthropic Messages (and count_tokens).
pub struct Messages;
/// OpenAI Responses.
pub struct Responses;

pub static CHAT: Chat = Chat;
pub static MESSAGES: Messages = Messages;
pub static RESPONSES: Responses = Responses;

impl Protocol for Chat {
    fn shape_error(&self, resp: HttpResponse) -> HttpResponse {
        openai::errors::reshape(resp)
    }
    fn stream_error_event(&self, message: &str) -> Bytes {
        openai::errors::stream_error_event(message)
    }
    fn keepalive(&self) -> &'static [u8] {
        sse::COMMENT
    }
}

impl Protocol for Messages {
    fn shape_error(&self, resp: HttpResponse) -> HttpResponse {
        anthropic::errors::reshape(resp)
    }
    fn stream_error_event(&self, message: &str) -> Bytes {
        anthropic::encode::error_event(message)
    }
    fn keepalive(&self) -> &'static [u8] {
        anthropic::errors::PING
    }
}

impl Protocol for Responses {
    fn shape_error(&self, resp: HttpResponse) -> HttpResponse {
        openai::errors::reshape(resp)
    }
    fn stream_error_event(&self, message: &str) -> Bytes {
        responses::events::error_event(message)
    }
    fn keepalive(&self) -> &'static [u8] {
        sse::COMMENT
    }
}

/// The protocol answers on `path` speak, for the gateway's own errors (which come before any
/// endpoint decided): Anthropic's under `/v1/messages`, OpenAI's everywhere else.
pub fn of_path(path: &str) -> &'static dyn Protocol {
    if crate::gateway::paths::is_anthropic(path) {
        &MESSAGES
    } else {
        &CHAT
    }
}
