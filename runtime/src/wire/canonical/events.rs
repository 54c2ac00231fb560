//! Moving between a whole [`Response`] and its [`Event`] sequence.
//!
//! - [`of_response`]: an upstream answered with one JSON body but the client asked for a
//!   stream: the answer is replayed as the events a streaming upstream would have sent.
//! - [`Collector`]: the reverse, for a client that wants one body from an upstream stream.

use super::{Block, BlockStart, Delta, Event, Response, Stop, Usage};

/// The event sequence of a complete response: start, each block, finish.
pub fn of_response(r: &Response) -> Vec<Event> {
    let mut out = Vec::with_capacity(2 + 3 * r.content.len());
    out.push(Event::Start {
        id: r.id.clone(),
        model: r.model.clone(),
    });
    let mut index = 0u32;
    for block in &r.content {
        let (start, deltas): (BlockStart, Vec<Delta>) = match block {
            Block::Text(t) => (BlockStart::Text, vec![Delta::Text(t.clone())]),
            Block::Thinking { text, signature } => {
                let mut d = vec![Delta::Thinking(text.clone())];
                if let Some(s) = signature {
                    d.push(Delta::Signature(s.clone()));
                }
                (BlockStart::Thinking, d)
            }
            Block::RedactedThinking(data) => (BlockStart::RedactedThinking(data.clone()), vec![]),
            Block::ToolUse { id, name, input } => (
                BlockStart::ToolUse {
                    id: id.clone(),
                    name: name.clone(),
                },
                vec![Delta::ToolInput(input.clone())],
            ),
            // Not produced by models.
            Block::Image(_) | Block::Document { .. } | Block::ToolResult { .. } => continue,
        };
        out.push(Event::BlockStart {
            index,
            block: start,
        });
        for delta in deltas {
            out.push(Event::Delta { index, delta });
        }
        out.push(Event::BlockStop { index });
        index += 1;
    }
    out.push(Event::Finish {
        stop: r.stop.clone(),
        usage: r.usage,
    });
    out
}

/// Builds a [`Response`] from events.
#[derive(Debug, Default)]
pub struct Collector {
    pub id: String,
    pub model: String,
    pub content: Vec<Block>,
    pub stop: Option<Stop>,
    pub usage: Usage,
    pub error: Option<String>,
}

impl Collector {
    pub fn push(&mut self, event: Event) {
        match event {
            Event::Start { id, model } => {
                self.id = id;
                self.model = model;
            }
            Event::BlockStart { block, .. } => self.content.push(match block {
                BlockStart::Text => Block::Text(String::new()),
                BlockStart::Thinking => Block::Thinking {
                    text: String::new(),
                    signature: None,
                },
                BlockStart::RedactedThinking(d) => Block::RedactedThinking(d),
                BlockStart::ToolUse { id, name } => Block::ToolUse {
                    id,
                    name,
                    input: String::new(),
                },
            }),
            Event::Delta { delta, .. } => match (self.content.last_mut(), delta) {
                (Some(Block::Text(t)), Delta::Text(d)) => t.push_str(&d),
                (Some(Block::Thinking { text, .. }), Delta::Thinking(d)) => text.push_str(&d),
                (Some(Block::Thinking { signature, .. }), Delta::Signature(s)) => {
                    signature.get_or_insert_with(String::new).push_str(&s);
                }
                (Some(Block::ToolUse { input, .. }), Delta::ToolInput(d)) => input.push_str(&d),
                _ => {}
            },
            Event::BlockStop { .. } | Event::Ping => {}
            Event::Finish { stop, usage } => {
                self.stop = Some(stop);
                self.usage = usage;
            }
            Event::Error { message } => self.error = Some(message),
        }
    }

    /// The response, or the upstream's error message.
    pub fn finish(self) -> Result<Response, String> {
        if let Some(e) = self.error {
            return Err(e);
        }
        let Some(stop) = self.stop else {
            return Err("the upstream stream ended before the response was complete".to_owned());
        };
        Ok(Response {
            id: self.id,
            model: self.model,
            content: self.content,
            stop,
            usage: self.usage,
        })
    }
}
