//! Upstream kinds: how one attempt is put on the wire for each protocol family.
//!
//! | module | holds |
//! |---|---|
//! | [`call`] | the attempt as kinds see it ([`Call`]), the endpoint it asks for, what a kind makes of it |
//! | [`codec`] | the protocol each kind speaks; the canonical request and answers in it |
//! | [`kind`] | which kinds this build carries; the dispatch of a call to its kind |
//! | [`http`] | URL, common headers and the key's header, for every kind and every path |
//! | `openai`, `azure`, `anthropic`, `mock` | one kind each, behind its cargo feature |
//!
//! Adding a kind: its module here (with its codec when it speaks a protocol of its own), its
//! arms in [`kind`] and [`codec`], its `Kind` in `table.rs`, its cargo feature, and the
//! compiler's kind list. Endpoints ask [`codec::speaks`] which protocol a route takes, never
//! which kind it is, so nothing outside `upstream/` changes.
//!
//! Each kind lives in its own module behind its cargo feature, so a gateway whose config does
//! not use a kind carries none of its code. A table that names a kind whose feature is off (a
//! hand-edited crate, a mismatched build) gets a clear 500, never a panic.

pub mod call;
pub mod codec;
// What every networked kind's requests carry.
#[cfg(any(
    feature = "kind-openai",
    feature = "kind-azure-openai",
    feature = "kind-anthropic"
))]
pub mod http;
pub mod kind;

#[cfg(feature = "kind-anthropic")]
pub mod anthropic;
#[cfg(feature = "kind-azure-openai")]
pub mod azure;
#[cfg(feature = "kind-mock")]
pub mod mock;
#[cfg(feature = "kind-openai")]
pub mod openai;

pub use call::{Call, Endpoint, Prepared};
pub use kind::{compiled, needs_key, not_compiled, prepare};
