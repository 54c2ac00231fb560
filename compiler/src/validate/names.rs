//! No key or string in a config may hold a hidden character (see [`crate::text`]): every name
//! in it can reach generated Rust, `wrangler.toml`, a terminal or a CI log, and none needs one.
//! One rule over the whole document rather than one per field, so a field added later is
//! covered too.

use super::paths::subject;
use super::rules::Context;
use crate::diagnostics::Diagnostic;
use crate::load::yaml::Path;
use crate::text::{describe, first_hidden};
use serde_json::Value;

const HELP: &str = "no name or value in a config needs one: such characters hide or reorder text \
                    on screen and break the generated crate; retype it without them";

pub(super) fn refuse_hidden_characters(value: &Value, cx: &mut Context) {
    walk(value, &mut Vec::new(), cx);
}

fn walk(value: &Value, path: &mut Path, cx: &mut Context) {
    match value {
        Value::String(s) => {
            if let Some(c) = first_hidden(s) {
                let d = Diagnostic::error(
                    cx.value_span(path),
                    format!("{} contains {}", subject(path), describe(c)),
                );
                cx.push(d.with_help(HELP));
                cx.claim(path);
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                path.push(i.to_string());
                walk(item, path, cx);
                path.pop();
            }
        }
        Value::Object(map) => {
            for (k, v) in map {
                path.push(k.clone());
                if let Some(c) = first_hidden(k) {
                    let d = Diagnostic::error(
                        cx.key_span(path),
                        format!("the name of {} contains {}", subject(path), describe(c)),
                    );
                    cx.push(d.with_help(HELP));
                    cx.claim(path);
                }
                walk(v, path, cx);
                path.pop();
            }
        }
        _ => {}
    }
}
