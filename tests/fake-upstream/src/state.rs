//! What the fake upstream remembers: the requests it received (`GET /_requests`) and the
//! fault rules tests set (`POST /_control`).

use crate::fault::Fault;
use serde_json::{json, Value};
use std::sync::Mutex;

/// Most requests kept; older ones are forgotten so a long benchmark cannot grow memory.
const MAX_RECORDED: usize = 10_000;

/// One request as received, headers and all (tests assert on what the gateway sent).
#[derive(Debug, Clone)]
pub struct Recorded {
    pub seq: u64,
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Value,
    pub received_ms: f64,
}

impl Recorded {
    pub fn to_json(&self) -> Value {
        let mut headers = serde_json::Map::new();
        for (k, v) in &self.headers {
            match headers.get_mut(k) {
                Some(Value::String(prev)) => {
                    prev.push_str(", ");
                    prev.push_str(v);
                }
                _ => {
                    headers.insert(k.clone(), Value::String(v.clone()));
                }
            }
        }
        json!({
            "seq": self.seq, "method": self.method, "path": self.path,
            "headers": headers, "body": self.body, "received_ms": self.received_ms,
        })
    }
}

/// A fault applied to requests that match `model` and/or `key` (absent = any), at most
/// `times` times (absent = for ever), once `after` of them went through untouched: a
/// provider's own limit (`{"key": K, "after": 3, "fault": "status=429"}` is rpd 3 on key K).
#[derive(Debug, Clone)]
pub struct Rule {
    pub model: Option<String>,
    pub key: Option<String>,
    pub fault: Fault,
    pub times: Option<u64>,
    pub after: u64,
}

impl Rule {
    pub fn from_json(v: &Value) -> Result<Rule, String> {
        let s = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
        let spec = s("fault").ok_or("a rule needs `fault` (a spec string)")?;
        Ok(Rule {
            model: s("model"),
            key: s("key"),
            fault: Fault::parse(&spec)?,
            times: v.get("times").and_then(Value::as_u64),
            after: v.get("after").and_then(Value::as_u64).unwrap_or(0),
        })
    }
}

#[derive(Default)]
pub struct State {
    pub record: bool,
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    next_seq: u64,
    requests: std::collections::VecDeque<Recorded>,
    rules: Vec<Rule>,
}

impl State {
    pub fn new(record: bool) -> State {
        State {
            record,
            inner: Mutex::new(Inner::default()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A poisoned lock only means another request panicked; the data is still usable.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Stores a request (when recording) and returns its sequence number.
    pub fn record(&self, mut r: Recorded) -> u64 {
        let mut inner = self.lock();
        inner.next_seq += 1;
        let seq = inner.next_seq;
        if self.record {
            r.seq = seq;
            if inner.requests.len() >= MAX_RECORDED {
                inner.requests.pop_front();
            }
            inner.requests.push_back(r);
        }
        seq
    }

    pub fn requests_json(&self) -> Value {
        Value::Array(self.lock().requests.iter().map(Recorded::to_json).collect())
    }

    pub fn clear_requests(&self) {
        self.lock().requests.clear();
    }

    pub fn add_rules(&self, rules: Vec<Rule>) {
        self.lock().rules.extend(rules);
    }

    pub fn clear_rules(&self) {
        self.lock().rules.clear();
    }

    /// The first rule matching this model and key; consumes one of its `after` (and is not
    /// applied) or of its `times`.
    pub fn take_rule(&self, model: &str, key: &str) -> Option<Fault> {
        let mut inner = self.lock();
        let idx = inner.rules.iter().position(|r| {
            r.model.as_deref().is_none_or(|m| m == model)
                && r.key.as_deref().is_none_or(|k| k == key)
        })?;
        let rule = inner.rules.get_mut(idx)?;
        if rule.after > 0 {
            rule.after -= 1;
            return None;
        }
        let fault = rule.fault.clone();
        if let Some(t) = rule.times.as_mut() {
            *t = t.saturating_sub(1);
            if *t == 0 {
                inner.rules.remove(idx);
            }
        }
        Some(fault)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_match_and_expire() {
        let st = State::new(true);
        st.add_rules(vec![Rule::from_json(
            &json!({"model": "m", "fault": "status=500", "times": 2}),
        )
        .unwrap()]);
        assert_eq!(st.take_rule("other", "k"), None);
        assert_eq!(st.take_rule("m", "k").unwrap().status, Some(500));
        assert_eq!(st.take_rule("m", "k").unwrap().status, Some(500));
        assert_eq!(st.take_rule("m", "k"), None);
    }

    #[test]
    fn a_rule_with_after_lets_that_many_through_first() {
        let st = State::new(true);
        st.add_rules(vec![Rule::from_json(
            &json!({"key": "k", "after": 2, "fault": "status=429"}),
        )
        .unwrap()]);
        assert_eq!(st.take_rule("m", "k"), None);
        assert_eq!(st.take_rule("m", "other"), None);
        assert_eq!(st.take_rule("m", "k"), None);
        assert_eq!(st.take_rule("m", "k").unwrap().status, Some(429));
        assert_eq!(st.take_rule("m", "k").unwrap().status, Some(429));
    }
}
