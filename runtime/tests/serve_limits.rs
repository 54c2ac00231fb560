//! `apexc serve`'s limits, seen from a raw socket the way an attacker sees them: a client
//! without a key is refused before its body is read, a stalled body is cut at the body
//! deadline, an oversized head gets 431, and connections over the cap wait until a slot frees.
//!
//! Every wait is a blocking read bounded by [`DEADLINE`], reached only when the behaviour
//! under test is broken; the one negative check (nothing answered while the slot is taken)
//! is a read that must time out, which a working cap makes certain.

use apex_runtime::hosts::native::{self, Options};
use apex_runtime::table::{Cooldown, Gateway, Kind, Model, Provider, Route, Strategy};
use std::collections::HashMap;
use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

const DEADLINE: Duration = Duration::from_secs(10);
const KEY: &str = "gw-test-key-0123456789";

/// A gateway with a key and one mock model.
fn gateway() -> &'static Gateway {
    static PROVIDERS: [Provider; 1] = [Provider {
        id: "mock",
        kind: Kind::Mock,
        base_url: "",
        api_keys: &[],
        api_version: None,
        headers: &[],
        timeout_ms: 30_000,
        native_responses: false,
        key_limits: &[],
        limits: apex_runtime::table::Limits::NONE,
        reset: apex_runtime::table::DailyReset::UTC,
    }];
    static ROUTES: [Route; 1] = [Route {
        provider: 0,
        model: "mock-1",
        weight: 1,
        max_tokens: None,
        limits: apex_runtime::table::Limits::NONE,
    }];
    static MODELS: [Model; 1] = [Model {
        name: "demo",
        strategy: Strategy::Random,
        routes: &ROUTES,
    }];
    Box::leak(Box::new(Gateway {
        name: "limits",
        auth_keys: &["GATEWAY_KEY"],
        clients: &[],
        providers: &PROVIDERS,
        models: &MODELS,
        aliases: &[],
        patterns: &[],
        responses_store: None,
        max_attempts: 1,
        cooldown: Cooldown::DEFAULT,
        pinning: apex_runtime::table::Pinning::Off,
    }))
}

fn start(tune: impl FnOnce(&mut Options)) -> native::Server {
    let mut options = Options::new("127.0.0.1:0".parse().expect("addr"));
    tune(&mut options);
    let secrets = HashMap::from([("GATEWAY_KEY".to_string(), KEY.to_string())]);
    native::spawn(gateway(), secrets, options).expect("gateway starts")
}

fn connect(server: &native::Server) -> TcpStream {
    let sock = TcpStream::connect(server.addr()).expect("connect");
    sock.set_read_timeout(Some(DEADLINE)).expect("timeout");
    sock
}

/// A chat request head announcing `len` body bytes, with or without the gateway key.
fn head(len: usize, key: bool) -> String {
    let auth = if key {
        format!("authorization: Bearer {KEY}\r\n")
    } else {
        String::new()
    };
    format!(
        "POST /v1/chat/completions HTTP/1.1\r\nhost: gateway.test\r\ncontent-type: application/json\r\n{auth}content-length: {len}\r\n\r\n"
    )
}

/// Everything the server sends until it closes (or the deadline passes).
fn answer(sock: &mut TcpStream) -> String {
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match sock.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == ErrorKind::ConnectionReset && !out.is_empty() => break,
            Err(e) => panic!(
                "no answer ({e}); got so far {:?}",
                String::from_utf8_lossy(&out)
            ),
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The first response on `sock` (its status line and headers, and a JSON body when there is
/// one), read without waiting for the connection to close.
fn first_response(sock: &mut TcpStream) -> String {
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    while !complete(&out) {
        match sock.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) => panic!(
                "no answer ({e}); got so far {:?}",
                String::from_utf8_lossy(&out)
            ),
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Whether `bytes` hold a whole response with a `content-length` body.
fn complete(bytes: &[u8]) -> bool {
    let text = String::from_utf8_lossy(bytes);
    let Some((head, body)) = text.split_once("\r\n\r\n") else {
        return false;
    };
    let len = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-length: ")
                .map(str::to_owned)
        })
        .and_then(|v| v.trim().parse::<usize>().ok())
        .unwrap_or(0);
    body.len() >= len
}

#[test]
fn a_request_without_a_key_is_refused_before_its_body_is_read() {
    let server = start(|_| {});
    let mut sock = connect(&server);
    // 1 MiB announced (within the body limit), not one byte of it sent: the 401 must come
    // from the head alone.
    sock.write_all(head(1024 * 1024, false).as_bytes())
        .expect("send head");
    let got = answer(&mut sock);
    assert!(got.starts_with("HTTP/1.1 401"), "got {got:?}");
    assert!(got.contains("invalid_api_key"), "got {got:?}");
    assert!(
        got.contains("access-control-allow-origin"),
        "CORS as usual: {got:?}"
    );
}

#[test]
fn an_anthropic_client_without_a_key_gets_anthropics_error_shape_before_its_body() {
    let server = start(|_| {});
    let mut sock = connect(&server);
    let req = "POST /v1/messages HTTP/1.1\r\nhost: gateway.test\r\ncontent-type: application/json\r\ncontent-length: 5000\r\n\r\n";
    sock.write_all(req.as_bytes()).expect("send head");
    let got = answer(&mut sock);
    assert!(got.starts_with("HTTP/1.1 401"), "got {got:?}");
    assert!(
        got.contains("\"type\":\"authentication_error\""),
        "got {got:?}"
    );
}

#[test]
fn a_stalled_body_is_cut_at_the_body_deadline() {
    let server = start(|o| o.body_timeout = Duration::from_millis(300));
    let mut sock = connect(&server);
    sock.write_all(head(1000, true).as_bytes())
        .expect("send head");
    sock.write_all(b"{\"model\":\"demo\",")
        .expect("send a first piece");
    // ...and nothing more: the gateway must answer and close on its own.
    let got = answer(&mut sock);
    assert!(got.starts_with("HTTP/1.1 408"), "got {got:?}");
    assert!(
        got.contains("\"type\":\"invalid_request_error\""),
        "got {got:?}"
    );
}

#[test]
fn a_head_over_the_limit_gets_431() {
    let server = start(|o| o.max_header_bytes = 16 * 1024);
    let mut sock = connect(&server);
    let big = "x".repeat(32 * 1024);
    let req = format!(
        "GET /v1/models HTTP/1.1\r\nhost: gateway.test\r\nx-padding: {big}\r\nauthorization: Bearer {KEY}\r\n\r\n"
    );
    sock.write_all(req.as_bytes()).expect("send head");
    let got = answer(&mut sock);
    assert!(got.starts_with("HTTP/1.1 431"), "got {got:?}");
}

#[test]
fn connections_over_the_cap_wait_until_a_slot_frees() {
    let server = start(|o| o.max_connections = 1);
    let models = format!(
        "GET /v1/models HTTP/1.1\r\nhost: gateway.test\r\nauthorization: Bearer {KEY}\r\n\r\n"
    );
    // The first client is served, and keeps its connection (keep-alive): the only slot.
    let mut first = connect(&server);
    first.write_all(models.as_bytes()).expect("send");
    let got = first_response(&mut first);
    assert!(got.starts_with("HTTP/1.1 200"), "got {got:?}");
    // The second connects (the kernel queues it) and asks; nothing comes while the slot is taken.
    let mut second = connect(&server);
    second.write_all(models.as_bytes()).expect("send");
    second
        .set_read_timeout(Some(Duration::from_millis(500)))
        .expect("timeout");
    let mut byte = [0u8; 1];
    match second.read(&mut byte) {
        Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
        other => panic!("a connection over the cap was served at once: {other:?}"),
    }
    // The first leaves: the second is served.
    drop(first);
    second.set_read_timeout(Some(DEADLINE)).expect("timeout");
    let got = first_response(&mut second);
    assert!(got.starts_with("HTTP/1.1 200"), "got {got:?}");
}
