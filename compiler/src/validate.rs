//! Validation of a parsed config: everything wrong with it, each with its place in the file.
//!
//! Two passes over the JSON value the YAML became:
//! 1. [`rules`] (and [`names`]: no hidden characters anywhere): semantic checks the schema cannot express (a route naming an unknown
//!    provider, a provider without keys, an API key pasted where a secret name belongs, URLs...).
//!    Where a rule explains a problem better than the schema would, it *claims* the path, and
//!    the schema pass stays quiet about it: one problem, one message.
//! 2. [`schema_errors`]: the value against the generated JSON Schema (the one editors use), each
//!    raw validator error rewritten into a message a user can act on.
//!
//! Nothing here prints; diagnostics are pushed into a [`Diagnostics`] set.

mod clients;
mod context;
pub mod model_names;
mod names;
mod paths;
mod rules;
mod schema_errors;
pub mod secrets;
mod suggest;

use crate::diagnostics::Diagnostics;
use crate::load::yaml::SpanMap;
use serde_json::Value;

/// Runs every check on `value` (the whole config), pushing diagnostics into `diags`.
pub fn validate(value: &Value, spans: &SpanMap, diags: &mut Diagnostics) {
    let mut cx = context::Context::new(spans, diags);
    secrets::mask_key_lookalikes(value, &mut cx);
    names::refuse_hidden_characters(value, &mut cx);
    rules::check(value, &mut cx);
    let claimed = cx.into_claimed();
    schema_errors::check(value, spans, &claimed, diags);
}
