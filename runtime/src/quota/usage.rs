//! What an answer says it cost: the `usage` objects in an upstream body, found as the bytes go
//! by, whatever the protocol and whether it is one JSON document or a stream of events.
//!
//! A token limit is checked before sending against an estimate (the request's size); this is
//! the correction once the answer is in. Every protocol the gateway reads names its counts in
//! a `"usage"` object: OpenAI chat and embeddings (`prompt_tokens`, `completion_tokens`,
//! `total_tokens`), Responses and Anthropic (`input_tokens`, `output_tokens`; an Anthropic
//! stream spreads them over `message_start` and `message_delta`). The meter keeps the largest
//! of each it sees, so a stream's running totals are not added up twice.
//!
//! The scan needs no parse of the whole body: it looks for the bytes `"usage"` followed by
//! `:` and `{`, and parses only that object. The key inside a JSON string is escaped
//! (`\"usage\"`), so generated text cannot fake one.

use serde_json::Value;

const KEY: &[u8] = b"\"usage\"";
/// A usage object longer than this is not one (a few hundred bytes at most in practice).
const MAX_OBJECT: usize = 4096;

/// Where the scan is.
#[derive(Debug, Clone, PartialEq, Eq)]
enum State {
    /// Looking for the key; `matched` bytes of it seen so far.
    Key { matched: usize },
    /// After the key: whitespace and `:` until `{`.
    Colon { seen_colon: bool },
    /// Inside the object.
    Object {
        depth: usize,
        in_string: bool,
        escaped: bool,
    },
}

/// Largest counts seen so far.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Meter {
    state: Option<State>,
    object: Vec<u8>,
    input: u64,
    output: u64,
    total: u64,
    seen: bool,
}

impl Meter {
    pub fn new() -> Self {
        Meter::default()
    }

    /// Feeds the next bytes of the body.
    pub fn feed(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.step(b);
        }
    }

    /// The tokens the answer reported (input and output), when it reported any.
    pub fn tokens(&self) -> Option<u64> {
        self.seen
            .then(|| self.total.max(self.input.saturating_add(self.output)))
    }

    fn step(&mut self, b: u8) {
        let state = self.state.take().unwrap_or(State::Key { matched: 0 });
        self.state = Some(match state {
            State::Key { matched } => match_key(matched, b),
            State::Colon { seen_colon } => match (b, seen_colon) {
                (b' ' | b'\t' | b'\r' | b'\n', _) => State::Colon { seen_colon },
                (b':', false) => State::Colon { seen_colon: true },
                (b'{', true) => {
                    self.object.clear();
                    self.object.push(b);
                    State::Object {
                        depth: 1,
                        in_string: false,
                        escaped: false,
                    }
                }
                // `"usage": null`, or the word in some other place: look again.
                _ => match_key(0, b),
            },
            State::Object {
                depth,
                in_string,
                escaped,
            } => self.in_object(b, depth, in_string, escaped),
        });
    }

    fn in_object(&mut self, b: u8, depth: usize, in_string: bool, escaped: bool) -> State {
        if self.object.len() >= MAX_OBJECT {
            return State::Key { matched: 0 };
        }
        self.object.push(b);
        let depth = match (in_string, escaped, b) {
            (true, false, b'\\') => {
                return State::Object {
                    depth,
                    in_string,
                    escaped: true,
                }
            }
            (true, false, b'"') | (false, _, b'"') => {
                return State::Object {
                    depth,
                    in_string: !in_string,
                    escaped: false,
                }
            }
            (true, _, _) => {
                return State::Object {
                    depth,
                    in_string,
                    escaped: false,
                }
            }
            (false, _, b'{') => depth + 1,
            (false, _, b'}') => depth - 1,
            (false, _, _) => depth,
        };
        if depth == 0 {
            self.count();
            return State::Key { matched: 0 };
        }
        State::Object {
            depth,
            in_string: false,
            escaped: false,
        }
    }

    /// The object just closed: its counts.
    fn count(&mut self) {
        let Ok(Value::Object(usage)) = serde_json::from_slice::<Value>(&self.object) else {
            return;
        };
        let field = |names: &[&str]| {
            names
                .iter()
                .filter_map(|n| usage.get(*n).and_then(Value::as_u64))
                .max()
        };
        let input = field(&["prompt_tokens", "input_tokens"]);
        let output = field(&["completion_tokens", "output_tokens"]);
        let total = field(&["total_tokens"]);
        if input.is_none() && output.is_none() && total.is_none() {
            return;
        }
        self.seen = true;
        self.input = self.input.max(input.unwrap_or(0));
        self.output = self.output.max(output.unwrap_or(0));
        self.total = self.total.max(total.unwrap_or(0));
    }
}

/// The key's next byte: one more matched, the whole key (on to the colon), or start over.
fn match_key(matched: usize, b: u8) -> State {
    if KEY.get(matched) == Some(&b) {
        if matched + 1 == KEY.len() {
            return State::Colon { seen_colon: false };
        }
        return State::Key {
            matched: matched + 1,
        };
    }
    // A quote can start the key again.
    State::Key {
        matched: usize::from(b == b'"'),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meter(parts: &[&str]) -> Option<u64> {
        let mut m = Meter::new();
        parts.iter().for_each(|p| m.feed(p.as_bytes()));
        m.tokens()
    }

    #[test]
    fn a_whole_chat_answer_reports_its_total() {
        let body = r#"{"id":"x","choices":[{"message":{"content":"hi"}}],
            "usage" : { "prompt_tokens": 12, "completion_tokens": 30, "total_tokens": 42,
            "prompt_tokens_details": {"cached_tokens": 0} }}"#;
        assert_eq!(meter(&[body]), Some(42));
    }

    #[test]
    fn a_stream_cut_anywhere_reads_the_same() {
        let events = concat!(
            "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"usage\":{\"input_tokens\":25,\"output_tokens\":1}}}\n\n",
            "event: content_block_delta\ndata: {\"delta\":{\"text\":\"a \\\"usage\\\": {\\\"total_tokens\\\": 9999}\"}}\n\n",
            "event: message_delta\ndata: {\"type\":\"message_delta\",\"usage\":{\"output_tokens\":15}}\n\n",
        );
        assert_eq!(meter(&[events]), Some(40));
        for cut in 1..events.len() {
            let (a, b) = events.split_at(cut);
            assert_eq!(meter(&[a, b]), Some(40), "cut at {cut}");
        }
    }

    #[test]
    fn an_openai_stream_reports_usage_in_its_last_chunk_only() {
        let events = concat!(
            "data: {\"choices\":[{\"delta\":{\"content\":\"x\"}}],\"usage\":null}\n\n",
            "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":7,\"total_tokens\":12}}\n\n",
            "data: [DONE]\n\n",
        );
        assert_eq!(meter(&[events]), Some(12));
    }

    #[test]
    fn no_usage_or_a_broken_one_reports_nothing() {
        assert_eq!(meter(&["{\"choices\":[]}"]), None);
        assert_eq!(meter(&["{\"usage\": null}"]), None);
        assert_eq!(meter(&["{\"usage\": {\"prompt_tokens\": \"many\"}}"]), None);
        let huge = format!("{{\"usage\": {{\"x\": \"{}\"}}}}", "a".repeat(MAX_OBJECT));
        assert_eq!(meter(&[&huge]), None);
    }
}
