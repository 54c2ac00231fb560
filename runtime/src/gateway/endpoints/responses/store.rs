//! Stored responses: one KV entry per response, keyed `resp:{id}`.
//!
//! An entry holds what the follow-up endpoints need, and never a credential:
//!
//! ```json
//! {"v":1, "response":{...the object as last sent...}, "input":[items of this request],
//!  "context":[every item before them, when chained], "native":{"provider":"azure","key":0}}
//! ```
//!
//! - `GET /v1/responses/{id}` returns `response`; `input_items` pages through `input`.
//! - `previous_response_id` continues from `context + input + response.output`, in one read
//!   (each entry carries its whole conversation, so a chain of N turns is never N reads).
//! - `native` marks a response that an upstream with its own Responses API produced: the
//!   provider id and the *index* of the key used (the key itself is never stored), so GET,
//!   DELETE and `input_items` go to the same upstream project.
//!
//! Budget: each stored response is exactly one KV write (deleting is another). The Workers
//! free plan allows 1,000 KV writes a day, so a gateway serving more than ~1,000 `store: true`
//! responses a day needs a paid plan — or clients that send `store: false`, as Codex CLI
//! does (it resends the whole conversation each turn and needs no storage). Entries expire
//! after `responses_store.ttl_seconds` (at least 60 s on Workers).

use crate::host::Kv;
use serde_json::{json, Value};

/// The KV key of a response id.
pub fn key(id: &str) -> String {
    format!("resp:{id}")
}

/// Where a natively served response lives upstream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NativeHome {
    pub provider: String,
    pub key_index: usize,
}

impl NativeHome {
    /// The provider and key that served `at`: a follow-up must reach the same account.
    pub fn of(at: crate::attempt::exchange::Attempt) -> Self {
        NativeHome {
            provider: at.provider.id.to_owned(),
            key_index: at.key.unwrap_or(0),
        }
    }
}

/// One stored response.
#[derive(Debug, Clone)]
pub struct Record {
    pub response: Value,
    pub input: Vec<Value>,
    pub context: Vec<Value>,
    pub native: Option<NativeHome>,
}

impl Record {
    pub fn to_json(&self) -> String {
        let mut v = json!({
            "v": 1,
            "response": self.response,
            "input": self.input,
            "context": self.context,
        });
        if let (Some(n), Value::Object(o)) = (&self.native, &mut v) {
            o.insert(
                "native".into(),
                json!({"provider": n.provider, "key": n.key_index}),
            );
        }
        v.to_string()
    }

    pub fn from_json(s: &str) -> Option<Record> {
        let mut v: Value = serde_json::from_str(s).ok()?;
        let o = v.as_object_mut()?;
        let list = |x: Option<Value>| match x {
            Some(Value::Array(a)) => a,
            _ => Vec::new(),
        };
        let native = o.get("native").and_then(|n| {
            Some(NativeHome {
                provider: n.get("provider")?.as_str()?.to_owned(),
                key_index: usize::try_from(n.get("key")?.as_u64()?).ok()?,
            })
        });
        Some(Record {
            response: o.remove("response").unwrap_or(Value::Null),
            input: list(o.remove("input")),
            context: list(o.remove("context")),
            native,
        })
    }

    /// The conversation a follow-up continues: context, input, then output.
    pub fn conversation(&self) -> Vec<Value> {
        let output = self
            .response
            .get("output")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let mut all = Vec::with_capacity(self.context.len() + self.input.len() + output.len());
        all.extend(self.context.iter().cloned());
        all.extend(self.input.iter().cloned());
        all.extend(output);
        all
    }
}

pub async fn load(kv: &Kv, id: &str) -> Option<Record> {
    let raw = kv.get(&key(id)).await?;
    Record::from_json(&raw)
}

/// Paging parameters of `GET /v1/responses/{id}/input_items`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    pub limit: usize,
    /// `true`: oldest first. The API default is newest first.
    pub ascending: bool,
    pub after: Option<String>,
}

impl Page {
    /// From the query string. Out-of-range values are errors (the API's behaviour).
    pub fn parse(query: &str) -> Result<Page, String> {
        let mut page = Page {
            limit: 20,
            ascending: false,
            after: None,
        };
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let v = crate::wire::percent::decode(v);
            match k {
                "limit" => {
                    page.limit = match v.parse::<usize>() {
                        Ok(n) if (1..=100).contains(&n) => n,
                        _ => {
                            return Err(format!(
                                "`limit` must be an integer from 1 to 100, got `{v}`."
                            ))
                        }
                    }
                }
                "order" => {
                    page.ascending = match v.as_str() {
                        "asc" => true,
                        "desc" => false,
                        _ => return Err(format!("`order` must be `asc` or `desc`, got `{v}`.")),
                    }
                }
                "after" if !v.is_empty() => page.after = Some(v),
                _ => {}
            }
        }
        Ok(page)
    }
}

/// One page of a list, as an OpenAI list object.
pub fn list_page(items: &[Value], page: &Page) -> Value {
    let ordered: Vec<&Value> = if page.ascending {
        items.iter().collect()
    } else {
        items.iter().rev().collect()
    };
    let start = match &page.after {
        Some(after) => ordered
            .iter()
            .position(|i| i.get("id").and_then(Value::as_str) == Some(after.as_str()))
            .map_or(ordered.len(), |p| p + 1),
        None => 0,
    };
    let rest = ordered.get(start..).unwrap_or_default();
    let data: Vec<&Value> = rest.iter().take(page.limit).copied().collect();
    // The API documents both as strings, so an empty page has empty ones.
    let id_of = |v: Option<&&Value>| {
        v.and_then(|i| i.get("id"))
            .cloned()
            .unwrap_or_else(|| Value::String(String::new()))
    };
    json!({
        "object": "list",
        "data": data,
        "first_id": id_of(data.first()),
        "last_id": id_of(data.last()),
        "has_more": rest.len() > data.len(),
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    #[test]
    fn record_round_trip_and_conversation() {
        let r = Record {
            response: json!({"id": "resp_1", "output": [{"id": "o1"}]}),
            input: vec![json!({"id": "i1"})],
            context: vec![json!({"id": "c1"})],
            native: Some(NativeHome {
                provider: "az".into(),
                key_index: 1,
            }),
        };
        let back = Record::from_json(&r.to_json()).unwrap();
        assert_eq!(back.native, r.native);
        let ids: Vec<_> = back
            .conversation()
            .iter()
            .map(|v| v["id"].clone())
            .collect();
        assert_eq!(ids, [json!("c1"), json!("i1"), json!("o1")]);
    }

    #[test]
    fn pages() {
        let items: Vec<Value> = (0..5).map(|i| json!({"id": format!("i{i}")})).collect();
        let p = Page::parse("limit=2&order=asc&after=i1").unwrap();
        let v = list_page(&items, &p);
        assert_eq!(v["first_id"], "i2");
        assert_eq!(v["last_id"], "i3");
        assert_eq!(v["has_more"], true);
        let v = list_page(&items, &Page::parse("").unwrap());
        assert_eq!(v["first_id"], "i4");
        assert_eq!(v["has_more"], false);
        assert!(Page::parse("limit=0").is_err());
        assert!(Page::parse("order=up").is_err());
    }
}
