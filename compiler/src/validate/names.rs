//! No key or string in a config may hold a hidden character (see [`crate::text`]): every name
//! in it can reach generated Rust, `wrangler.toml`, a terminal or a CI log, and none needs one.
//! One rule over the whole document rather than one per field, so a field added later is
//! covered too.

use super::context::Context;
use super::paths::{each_text, subject, Text};
use crate::diagnostics::Diagnostic;
use crate::text::{describe, first_hidden};
use serde_json::Value;

const HELP: &str = "no name or value in a config needs one: such characters hide or reorder text \
                    on screen and break the generated crate; retype it without them";

pub(super) fn refuse_hidden_characters(value: &Value, cx: &mut Context) {
    each_text(value, &mut |path, text| {
        let (Text::Key(s) | Text::Value(s)) = text;
        let Some(c) = first_hidden(s) else {
            return;
        };
        let (span, what) = match text {
            Text::Value(_) => (cx.value_span(path), subject(path)),
            Text::Key(_) => (cx.key_span(path), format!("the name of {}", subject(path))),
        };
        let d = Diagnostic::error(span, format!("{what} contains {}", describe(c)));
        cx.push(d.with_help(HELP));
        cx.claim(path);
    });
}
