//! The Anthropic Messages API: `POST /v1/messages` (also `?beta=true`) and
//! `POST /v1/messages/count_tokens`, in front of any upstream.
//!
//! | module | holds |
//! |---|---|
//! | [`decode`] | Messages request → canonical |
//! | [`encode`] | canonical response / events → Messages body / SSE |
//! | [`errors`] | the `{"type":"error",...}` shape and re-shaping other errors into it |
//! | [`count`] | the local token estimate behind count_tokens |
//! | [`upstream`] | (`kind-anthropic`) talking Messages to an Anthropic upstream for other clients |
//!
//! What is gated: any gateway may receive Messages requests (clients pick the protocol, not
//! the config), so the inbound side (decode, encode, errors, count, the chat translation it
//! needs in `openai::chat_request` / `chat_response`) is always compiled. The `anthropic`
//! upstream kind and everything only it needs (Messages encoding for other clients, the
//! Messages response/stream decoder, chat encoding of its answers) is behind `kind-anthropic`.

pub mod count;
pub mod decode;
pub mod encode;
pub mod errors;
#[cfg(feature = "kind-anthropic")]
pub mod upstream;
