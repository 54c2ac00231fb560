//! A route's `max_tokens` cap on a body that otherwise passes through untouched.
//!
//! Same-protocol traffic is not re-serialized: the cap is spliced in by byte range, like the
//! model name. A body whose top-level keys cannot be read borrowed (escapes in a key) takes
//! the slow path through a full parse.

use bytes::Bytes;
use serde_json::value::RawValue;
use serde_json::Value;
use std::collections::HashMap;

/// `body` with every one of `fields` present lowered to `cap` when it asks for more, and
/// `add: cap` inserted when none of them is present. Unchanged when nothing is over the cap,
/// and when `body` is not a JSON object (the upstream says what is wrong with it).
pub fn apply(body: &Bytes, fields: &[&str], add: &str, cap: u32) -> Bytes {
    let Ok(top) = serde_json::from_slice::<HashMap<&str, &RawValue>>(body) else {
        return slow(body, fields, add, cap);
    };
    let present: Vec<&RawValue> = fields.iter().filter_map(|f| top.get(f).copied()).collect();
    if present.is_empty() {
        let Some(open) = body.iter().position(|b| *b == b'{') else {
            return body.clone();
        };
        let sep = if top.is_empty() { "" } else { "," };
        let insert = format!("{}:{cap}{sep}", crate::wire::openai::quote(add));
        return splice(body, &[(open + 1, open + 1, insert)]);
    }
    let mut edits: Vec<(usize, usize, String)> = present
        .iter()
        .filter(|raw| over(raw, cap))
        .filter_map(|raw| span_in(body, raw).map(|(s, e)| (s, e, cap.to_string())))
        .collect();
    edits.sort();
    splice(body, &edits)
}

/// Whether a JSON value is a number over `cap` (a non-number is the upstream's to refuse).
fn over(raw: &RawValue, cap: u32) -> bool {
    serde_json::from_str::<f64>(raw.get()).is_ok_and(|n| n > f64::from(cap))
}

/// The byte range of `raw` in `body` (it borrows from it); checked rather than assumed.
fn span_in(body: &[u8], raw: &RawValue) -> Option<(usize, usize)> {
    let start = (raw.get().as_ptr() as usize).checked_sub(body.as_ptr() as usize)?;
    let end = start.checked_add(raw.get().len())?;
    (body.get(start..end) == Some(raw.get().as_bytes())).then_some((start, end))
}

/// `body` with each `(start, end)` range (in order, not overlapping) replaced.
fn splice(body: &Bytes, edits: &[(usize, usize, String)]) -> Bytes {
    if edits.is_empty() {
        return body.clone();
    }
    let mut out = Vec::with_capacity(body.len() + 32);
    let mut at = 0;
    for (start, end, with) in edits {
        out.extend_from_slice(body.get(at..*start).unwrap_or_default());
        out.extend_from_slice(with.as_bytes());
        at = *end;
    }
    out.extend_from_slice(body.get(at..).unwrap_or_default());
    Bytes::from(out)
}

/// Through a full parse: only for bodies the borrowed read could not take.
fn slow(body: &Bytes, fields: &[&str], add: &str, cap: u32) -> Bytes {
    let Ok(Value::Object(mut o)) = serde_json::from_slice::<Value>(body) else {
        return body.clone();
    };
    let mut any = false;
    for f in fields {
        if let Some(v) = o.get_mut(*f) {
            any = true;
            if v.as_f64().is_some_and(|n| n > f64::from(cap)) {
                *v = Value::from(cap);
            }
        }
    }
    if !any {
        o.insert(add.to_owned(), Value::from(cap));
    }
    serde_json::to_vec(&o)
        .map(Bytes::from)
        .unwrap_or_else(|_| body.clone())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::apply;
    use bytes::Bytes;

    fn capped(body: &str, fields: &[&str], add: &str) -> String {
        let out = apply(&Bytes::from(body.to_owned()), fields, add, 100);
        String::from_utf8(out.to_vec()).unwrap()
    }

    #[test]
    fn lowers_adds_and_leaves_alone() {
        let f = &["max_completion_tokens", "max_tokens"];
        assert_eq!(
            capped(r#"{"model":"m", "max_tokens": 4096 }"#, f, "max_tokens"),
            r#"{"model":"m", "max_tokens": 100 }"#
        );
        assert_eq!(
            capped(
                r#"{"max_completion_tokens":500,"max_tokens":50}"#,
                f,
                "max_tokens"
            ),
            r#"{"max_completion_tokens":100,"max_tokens":50}"#
        );
        assert_eq!(
            capped(r#" {"model":"m"}"#, f, "max_tokens"),
            r#" {"max_tokens":100,"model":"m"}"#
        );
        assert_eq!(capped("{}", f, "max_tokens"), r#"{"max_tokens":100}"#);
        assert_eq!(
            capped(r#"{"max_tokens":7}"#, f, "max_tokens"),
            r#"{"max_tokens":7}"#
        );
        assert_eq!(capped("[1]", f, "max_tokens"), "[1]");
        // An escaped key: the slow path, same result.
        let v: serde_json::Value =
            serde_json::from_str(&capped(r#"{"m\u0061x_tokens":900,"x":1}"#, f, "max_tokens"))
                .unwrap();
        assert_eq!(v["max_tokens"], 100);
        // Every output is JSON.
        for body in [r#"{"a":1}"#, "{ }", r#"{"max_tokens":1e9}"#] {
            serde_json::from_str::<serde_json::Value>(&capped(body, f, "max_tokens")).unwrap();
        }
    }
}
