//! The OpenAI Responses API's wire format: requests into the canonical model, canonical
//! events out as Responses events and objects.

pub mod events;
pub mod request;
pub mod tools;
