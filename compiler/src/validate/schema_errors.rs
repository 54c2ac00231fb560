//! The config against the generated JSON Schema, with each validator error rewritten for people.
//!
//! The raw errors (`"bse_url" was unexpected`, `"opneai" is not one of [...]`) say what failed
//! in schema terms; the rewrites say where, in the config's own words (`provider "deepseek"`),
//! and what would fix it (`did you mean "base_url"?`). Expected types, enum values and field
//! descriptions are read from the schema itself, so a new field or kind needs no change here.

use super::paths::{container, subject};
use super::rules::describe_type;
use super::secrets::looks_like_api_key;
use super::suggest::{did_you_mean, list};
use crate::diagnostics::{Diagnostic, Diagnostics};
use crate::load::yaml::{Path, SpanMap};
use jsonschema::error::ValidationErrorKind;
use serde_json::Value;
use std::sync::OnceLock;

struct Compiled {
    schema: Value,
    validator: Option<jsonschema::Validator>,
}

fn compiled() -> &'static Compiled {
    static COMPILED: OnceLock<Compiled> = OnceLock::new();
    COMPILED.get_or_init(|| {
        let schema = crate::schema::schema_value();
        let validator = jsonschema::options()
            .with_draft(jsonschema::Draft::Draft202012)
            .should_validate_formats(false)
            .build(&schema)
            .ok();
        Compiled { schema, validator }
    })
}

pub fn check(value: &Value, spans: &SpanMap, claimed: &[Path], diags: &mut Diagnostics) {
    let compiled = compiled();
    let Some(validator) = &compiled.validator else {
        // Only a broken build can get here; a test compiles the schema.
        diags.push(Diagnostic::error(
            crate::diagnostics::Span::start(),
            "internal error: the config schema does not compile",
        ));
        return;
    };
    let is_claimed = |p: &[String]| claimed.iter().any(|c| p.starts_with(c));
    let mut out = Vec::new();
    for err in validator.iter_errors(value) {
        let path: Path = err
            .instance_path()
            .iter()
            .map(|seg| seg.to_string())
            .collect();
        let cx = ErrorContext {
            schema: &compiled.schema,
            value,
            spans,
            path: &path,
        };
        match err.kind() {
            ValidationErrorKind::AdditionalProperties { unexpected } => {
                for key in unexpected {
                    let at = child(&path, key);
                    if !is_claimed(&at) {
                        out.push(cx.unknown_key(key, &at));
                    }
                }
            }
            ValidationErrorKind::Required { property } => {
                let name = property.as_str().unwrap_or_default();
                if !is_claimed(&child(&path, name)) {
                    out.push(cx.missing(name));
                }
            }
            // `model#provider` and the like are checked by the rules, with better words.
            ValidationErrorKind::PropertyNames { .. } => {}
            kind if !is_claimed(&path) => out.push(cx.other(kind, &err.masked().to_string())),
            _ => {}
        }
    }
    for d in out {
        diags.push(d);
    }
}

fn child(p: &[String], seg: &str) -> Path {
    let mut out = p.to_vec();
    out.push(seg.to_string());
    out
}

struct ErrorContext<'a> {
    schema: &'a Value,
    value: &'a Value,
    spans: &'a SpanMap,
    path: &'a [String],
}

impl ErrorContext<'_> {
    /// The schema describing the value at `self.path`.
    fn schema_here(&self) -> Option<&Value> {
        schema_at(self.schema, self.path)
    }

    fn instance(&self) -> Option<&Value> {
        self.path.iter().try_fold(self.value, |v, seg| match v {
            Value::Object(m) => m.get(seg),
            Value::Array(a) => seg.parse::<usize>().ok().and_then(|i| a.get(i)),
            _ => None,
        })
    }

    fn last(&self) -> &str {
        self.path.last().map(String::as_str).unwrap_or("")
    }

    fn unknown_key(&self, key: &str, at: &[String]) -> Diagnostic {
        let known: Vec<&str> = self
            .schema_here()
            .and_then(|s| s.get("properties"))
            .and_then(Value::as_object)
            .map(|p| p.keys().map(String::as_str).collect())
            .unwrap_or_default();
        let span = self.spans.nearest(at).key_or_value();
        let message = format!("unknown key \"{key}\" {}", container(self.path));
        match did_you_mean(key, known.iter().copied()) {
            Some(near) => Diagnostic::error(span, format!("{message}; did you mean \"{near}\"?")),
            None => Diagnostic::error(span, message)
                .with_help(format!("expected one of: {}", list(&known))),
        }
    }

    fn missing(&self, name: &str) -> Diagnostic {
        let span = self.spans.nearest(self.path).key_or_value();
        let message = if self.path.is_empty() {
            format!("missing \"{name}\" at the top level")
        } else {
            format!("{} has no \"{name}\"", subject(self.path))
        };
        let description = self
            .schema_here()
            .and_then(|s| s.pointer(&format!("/properties/{name}/description")))
            .and_then(Value::as_str)
            .map(first_sentence);
        match description {
            Some(d) => Diagnostic::error(span, message).with_help(format!("{name}: {d}")),
            None => Diagnostic::error(span, message),
        }
    }

    fn other(&self, kind: &ValidationErrorKind, raw: &str) -> Diagnostic {
        // An empty value (`auth:` with nothing after it) has no characters to point at: point
        // at its key.
        let place = self.spans.nearest(self.path);
        let value_span = if self.instance().is_some_and(Value::is_null) {
            place.key_or_value()
        } else {
            place.value
        };
        let subject = subject(self.path);
        let got = self.instance().map(shown).unwrap_or_default();
        let message = match kind {
            ValidationErrorKind::Type { .. } => {
                let expected = self.schema_here().map(expected_type).unwrap_or_else(|| "another type".into());
                let actual = self.instance().map(describe_type).unwrap_or("something else");
                format!("{subject}: expected {expected}, got {actual}")
            }
            ValidationErrorKind::Enum { .. } => {
                let options: Vec<&str> = self
                    .schema_here()
                    .and_then(|s| s.get("enum"))
                    .and_then(Value::as_array)
                    .map(|a| a.iter().filter_map(Value::as_str).collect())
                    .unwrap_or_default();
                let mut m = format!("{subject} must be one of: {} (got {got})", list(&options));
                if let Some(near) = self.instance().and_then(Value::as_str).and_then(|s| did_you_mean(s, options.iter().copied())) {
                    m.push_str(&format!("; did you mean \"{near}\"?"));
                }
                m
            }
            ValidationErrorKind::Pattern { .. } => return self.pattern(value_span),
            ValidationErrorKind::Minimum { limit } | ValidationErrorKind::ExclusiveMinimum { limit } => {
                match self.last() {
                    "weight" => format!("{subject} must be greater than 0 (got {got})"),
                    "ttl_seconds" => format!("{subject} must be at least {limit} seconds, the shortest time KV keeps an entry (got {got})"),
                    _ => format!("{subject} must be at least {limit} (got {got})"),
                }
            }
            ValidationErrorKind::Maximum { limit } | ValidationErrorKind::ExclusiveMaximum { limit } => {
                format!("{subject} must be at most {limit} (got {got})")
            }
            ValidationErrorKind::MinItems { .. } => format!("{subject} must not be empty"),
            _ => format!("{subject}: {raw}"),
        };
        Diagnostic::error(value_span, message)
    }

    fn pattern(&self, span: crate::diagnostics::Span) -> Diagnostic {
        let s = self.instance().and_then(Value::as_str).unwrap_or_default();
        let subject = subject(self.path);
        match (self.path.len(), self.last()) {
            (1, "name") => {
                let d = Diagnostic::error(
                    span,
                    format!("invalid worker name \"{s}\": use lower-case letters, digits and dashes (at most 63, not starting or ending with a dash)"),
                );
                match worker_name_like(s) {
                    Some(fixed) => d.with_help(format!("did you mean \"{fixed}\"?")),
                    None => d,
                }
            }
            (_, "kv") => Diagnostic::error(
                span,
                format!("invalid KV binding name \"{s}\": use letters, digits and underscores, not starting with a digit"),
            )
            .with_help("e.g. kv: RESPONSES_KV"),
            (_, "secret") => Diagnostic::error(
                span,
                format!("invalid secret name in {subject}: use upper-case letters, digits and underscores, starting with a letter"),
            ),
            _ => Diagnostic::error(span, format!("{subject} has an invalid value {}", shown(self.instance().unwrap_or(&Value::Null)))),
        }
    }
}

/// A value quoted back in a message, unless it might be a key.
fn shown(v: &Value) -> String {
    match v {
        Value::String(s) if looks_like_api_key(s) => {
            format!("\"{}\"", crate::diagnostics::mask_secret(s))
        }
        Value::String(s) if s.chars().count() > 60 => "a long string".into(),
        Value::String(s) => format!("\"{s}\""),
        // `1e3` is 1000 to a reader, not "1000.0".
        Value::Number(n) => match n.as_f64() {
            Some(f) if n.is_f64() && f.fract() == 0.0 && f.abs() < 1e15 => format!("{}", f as i64),
            _ => n.to_string(),
        },
        Value::Bool(b) => b.to_string(),
        other => describe_type(other).to_string(),
    }
}

fn expected_type(schema: &Value) -> String {
    if schema.get("enum").is_some() {
        return "one of the listed words".into();
    }
    let one = |t: &str| match t {
        "object" => "a mapping",
        "array" => "a list",
        "string" => "a string",
        "integer" => "a whole number",
        "number" => "a number",
        "boolean" => "true or false",
        "null" => "nothing",
        _ => "another type",
    };
    match schema.get("type") {
        Some(Value::String(t))
            if t == "array"
                && schema
                    .pointer("/items/$ref")
                    .and_then(Value::as_str)
                    .is_some_and(|r| r == "#/$defs/SecretRef" || r == "#/$defs/ApiKey") =>
        {
            "a list of secret references like [{ secret: NAME }]".into()
        }
        Some(Value::String(t))
            if t == "object" && schema.pointer("/properties/secret").is_some() =>
        {
            "a secret reference like { secret: NAME }".into()
        }
        Some(Value::String(t)) => one(t).into(),
        Some(Value::Array(ts)) => ts
            .iter()
            .filter_map(Value::as_str)
            .map(one)
            .collect::<Vec<_>>()
            .join(" or "),
        _ => "another type".into(),
    }
}

/// The schema node for the instance at `path`, following `$ref`s.
pub fn schema_at<'a>(root: &'a Value, path: &[String]) -> Option<&'a Value> {
    let mut node = resolve(root, root);
    for seg in path {
        let next = node
            .get("properties")
            .and_then(|p| p.get(seg))
            .or_else(|| node.get("additionalProperties").filter(|v| v.is_object()))
            .or_else(|| node.get("items"))?;
        node = resolve(root, next);
    }
    Some(node)
}

fn resolve<'a>(root: &'a Value, mut node: &'a Value) -> &'a Value {
    for _ in 0..16 {
        let Some(target) = node
            .get("$ref")
            .and_then(Value::as_str)
            .and_then(|r| r.strip_prefix('#'))
        else {
            break;
        };
        match root.pointer(target) {
            Some(n) => node = n,
            None => break,
        }
    }
    node
}

fn first_sentence(text: &str) -> String {
    let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
    match flat.find(". ") {
        Some(i) => flat[..=i].to_string(),
        None => flat,
    }
}

/// A valid worker name made from `s` (`My Gateway` → `my-gateway`), if one can be.
fn worker_name_like(s: &str) -> Option<String> {
    let mut out = String::new();
    for c in s.trim().chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    let out = out.trim_matches('-').chars().take(63).collect::<String>();
    let out = out.trim_end_matches('-').to_string();
    (!out.is_empty()).then_some(out)
}
