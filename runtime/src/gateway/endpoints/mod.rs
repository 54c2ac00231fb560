//! One module per endpoint family.

pub mod chat;
pub mod messages;
pub mod models;
pub mod responses;
