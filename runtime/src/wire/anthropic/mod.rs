//! The Anthropic Messages API: `POST /v1/messages` (also `?beta=true`) and
//! `POST /v1/messages/count_tokens`, in front of any upstream.
//!
//! | module | holds |
//! |---|---|
//! | [`decode`] | Messages request → canonical |
//! | [`encode`] | canonical response / events → Messages body / SSE |
//! | [`errors`] | the `{"type":"error",...}` shape and re-shaping other errors into it |
//! | [`count`] | the local token estimate behind count_tokens |
//!
//! Nothing here is gated: any gateway may receive Messages requests (clients pick the
//! protocol, not the config). Talking Messages *to* an Anthropic upstream for other clients
//! is the `anthropic` kind's, in `upstream::anthropic::codec` (behind `kind-anthropic`).

pub mod count;
pub mod decode;
pub mod encode;
pub mod errors;
