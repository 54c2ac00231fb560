// The stream half shared by chat_stream and messages_stream: upstream bytes, cut into
// chunks, through the SSE parser and a decoder; the canonical events go to every client
// encoder (Messages, chat, Responses) and to the collector of non-streamed answers.
#![allow(dead_code)]

use apex_runtime::wire::canonical::events::Collector;
use apex_runtime::wire::canonical::stream::{Decode, Encode};
use apex_runtime::wire::canonical::Event;
use apex_runtime::wire::responses::events::{Encoder as ResponsesEncoder, Head};
use apex_runtime::wire::{anthropic, openai::chat_response, sse};
use std::rc::Rc;

pub fn run<D: Decode>(mut decoder: D, data: &[u8]) {
    let chunks = super::common::chunks(data);
    let mut parser = sse::Parser::default();
    let mut events: Vec<Event> = Vec::new();
    decoder.begin(&mut events);
    let mut sse_events = Vec::new();
    for c in chunks {
        if parser.feed(c, &mut sse_events).is_err() {
            break;
        }
        for ev in sse_events.drain(..) {
            decoder.event(ev, &mut events);
        }
    }
    let _ = parser.finish(&mut sse_events);
    for ev in sse_events.drain(..) {
        decoder.event(ev, &mut events);
    }
    decoder.end(&mut events);

    let mut messages = anthropic::encode::StreamEncoder::new("client-model");
    let mut chat = chat_response::StreamEncoder::new("client-model", 1, true);
    let head = Rc::new(Head {
        id: "resp_fuzz".into(),
        created_at: 1,
        echo_json: "{}".into(),
    });
    let slot = Rc::default();
    let mut responses = ResponsesEncoder::new(head, Rc::default(), true, slot);
    let (mut m_out, mut c_out, mut r_out) = (Vec::new(), Vec::new(), Vec::new());
    let mut collector = Collector::default();
    for ev in &events {
        Encode::event(&mut messages, ev, &mut m_out);
        chat.event(ev, &mut c_out);
        responses.event(ev, &mut r_out);
        collector.push(ev.clone());
    }
    super::common::assert_sse_json(&m_out, "the Messages encoder");
    super::common::assert_sse_json(&c_out, "the chat encoder");
    super::common::assert_sse_json(&r_out, "the Responses encoder");
    if let Ok(resp) = collector.finish() {
        let _ = anthropic::encode::response(&resp, "client-model");
        let _ = chat_response::encode(&resp, "client-model", 1);
    }
}
