//! The protocols on the wire: request and response codecs, the canonical model they translate
//! through, and server-sent events. Pure functions of bytes and values: nothing here routes,
//! retries or knows a host.

pub mod anthropic;
pub mod canonical;
pub mod error_body;
pub mod lenient;
pub mod openai;
pub mod percent;
pub mod responses;
pub mod sse;
pub mod token_cap;
