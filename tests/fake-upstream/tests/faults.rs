//! The fake upstream over real sockets: each fault does to a client what it says.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Upstream {
    child: Child,
    addr: String,
}

impl Drop for Upstream {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start() -> Upstream {
    let mut child = Command::new(env!("CARGO_BIN_EXE_fake-upstream"))
        .args(["--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .spawn()
        .expect("start fake-upstream");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("read first line");
    let addr = line
        .trim()
        .strip_prefix("listening on http://")
        .expect("listening line")
        .to_string();
    Upstream { child, addr }
}

/// Sends one request (Connection: close) and returns everything read, and whether reading
/// ended in an error (a reset) rather than a clean close.
fn call(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (String, bool) {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    req.push_str(body);
    s.write_all(req.as_bytes()).expect("write");
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    let mut failed = false;
    loop {
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(_) => {
                failed = true;
                break;
            }
        }
    }
    (String::from_utf8_lossy(&out).into_owned(), failed)
}

const CHAT: &str = r#"{"model":"echo","messages":[{"role":"user","content":"hi you"}]}"#;

#[test]
fn echoes_the_last_user_message_and_reports_model_and_key() {
    let up = start();
    let (resp, _) = call(
        &up.addr,
        "POST",
        "/v1/chat/completions",
        &[("authorization", "Bearer sk-t")],
        CHAT,
    );
    assert!(resp.starts_with("HTTP/1.1 200"), "{resp}");
    assert!(resp.contains(r#""content":"echo: hi you""#), "{resp}");
    assert!(resp.contains("x-fake-key: sk-t"), "{resp}");
    assert!(
        resp.contains(r#""system_fingerprint":"fake:sk-t""#),
        "{resp}"
    );
}

#[test]
fn status_fault_with_retry_after() {
    let up = start();
    let (resp, _) = call(
        &up.addr,
        "POST",
        "/v1/chat/completions",
        &[("x-fake-fault", "status=429;retry_after=7")],
        CHAT,
    );
    assert!(resp.starts_with("HTTP/1.1 429"), "{resp}");
    assert!(
        resp.to_ascii_lowercase().contains("retry-after: 7"),
        "{resp}"
    );
    assert!(resp.contains("rate_limit_error"), "{resp}");
}

#[test]
fn drop_before_sends_nothing() {
    let up = start();
    let (resp, _) = call(
        &up.addr,
        "POST",
        "/v1/chat/completions",
        &[("x-fake-fault", "drop=before")],
        CHAT,
    );
    assert_eq!(resp, "");
}

#[test]
fn delay_holds_back_the_status_line() {
    let up = start();
    let t = Instant::now();
    let (resp, _) = call(
        &up.addr,
        "POST",
        "/v1/chat/completions",
        &[("x-fake-fault", "delay_ms=300")],
        CHAT,
    );
    assert!(t.elapsed() >= Duration::from_millis(300));
    assert!(resp.starts_with("HTTP/1.1 200"));
}

#[test]
fn stream_faults_truncate_and_cut() {
    let up = start();
    let body =
        r#"{"model":"echo?chunks=4","stream":true,"messages":[{"role":"user","content":"x"}]}"#;
    let (whole, failed) = call(&up.addr, "POST", "/v1/chat/completions", &[], body);
    assert!(
        !failed && whole.contains("data: [DONE]") && whole.contains(r#""finish_reason":"stop""#),
        "{whole}"
    );

    let (trunc, _) = call(
        &up.addr,
        "POST",
        "/v1/chat/completions",
        &[("x-fake-fault", "truncate;chunks=4")],
        body,
    );
    assert!(trunc.contains(r#""content":"3 ""#), "{trunc}");
    assert!(
        !trunc.contains("[DONE]") && !trunc.contains(r#""finish_reason":"stop""#),
        "{trunc}"
    );

    let (cut, _) = call(
        &up.addr,
        "POST",
        "/v1/chat/completions",
        &[("x-fake-fault", "drop=mid;drop_after=2;chunks=4")],
        body,
    );
    assert!(cut.contains(r#""content":"1 ""#), "{cut}");
    assert!(!cut.contains(r#""content":"2 ""#), "{cut}");
    // A chunked body cut off: no terminating zero-length chunk.
    assert!(!cut.ends_with("0\r\n\r\n"), "{cut}");
}

#[test]
fn control_rules_apply_a_limited_number_of_times_and_requests_are_recorded() {
    let up = start();
    let (ok, _) = call(
        &up.addr,
        "POST",
        "/_control",
        &[],
        r#"{"model":"echo","key":"k1","fault":"status=503","times":1}"#,
    );
    assert!(ok.starts_with("HTTP/1.1 200"), "{ok}");
    let (first, _) = call(
        &up.addr,
        "POST",
        "/v1/chat/completions",
        &[("authorization", "Bearer k1")],
        CHAT,
    );
    let (second, _) = call(
        &up.addr,
        "POST",
        "/v1/chat/completions",
        &[("authorization", "Bearer k1")],
        CHAT,
    );
    assert!(first.starts_with("HTTP/1.1 503"), "{first}");
    assert!(second.starts_with("HTTP/1.1 200"), "{second}");

    let (log, _) = call(&up.addr, "GET", "/_requests", &[], "");
    let json = log.split("\r\n\r\n").nth(1).unwrap_or("");
    let v: serde_json::Value = serde_json::from_str(json).expect("requests JSON");
    let reqs = v.as_array().expect("array");
    assert_eq!(reqs.len(), 2, "control calls are not recorded: {v}");
    assert_eq!(reqs[0]["headers"]["authorization"], "Bearer k1");
    assert_eq!(reqs[0]["body"]["model"], "echo");
}

#[test]
fn embeddings_and_models() {
    let up = start();
    let (emb, _) = call(
        &up.addr,
        "POST",
        "/v1/embeddings",
        &[],
        r#"{"model":"e","input":["a","b"],"dimensions":4}"#,
    );
    let v: serde_json::Value =
        serde_json::from_str(emb.split("\r\n\r\n").nth(1).unwrap_or("")).expect("json");
    assert_eq!(v["data"].as_array().map(Vec::len), Some(2));
    assert_eq!(v["data"][0]["embedding"].as_array().map(Vec::len), Some(4));
    let (models, _) = call(&up.addr, "GET", "/v1/models", &[], "");
    assert!(models.contains(r#""id":"echo""#), "{models}");
}

#[test]
fn first_delay_stalls_a_stream_after_its_headers() {
    let up = start();
    let mut s = TcpStream::connect(&up.addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let body = r#"{"model":"echo?first_delay_ms=400;chunks=2","stream":true,"messages":[{"role":"user","content":"x"}]}"#;
    let req = format!(
        "POST /v1/chat/completions HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{body}",
        up.addr,
        body.len()
    );
    let t = Instant::now();
    s.write_all(req.as_bytes()).expect("write");
    let mut buf = [0u8; 4096];
    let n = s.read(&mut buf).expect("read head");
    let head = String::from_utf8_lossy(&buf[..n]).into_owned();
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(
        t.elapsed() < Duration::from_millis(300),
        "headers came late: {:?}",
        t.elapsed()
    );
    assert!(
        !head.contains("data:"),
        "the first event came with the headers: {head}"
    );
    let mut rest = Vec::new();
    s.read_to_end(&mut rest).expect("read events");
    assert!(t.elapsed() >= Duration::from_millis(400));
    assert!(String::from_utf8_lossy(&rest).contains("data: [DONE]"));
}

#[test]
fn extra_headers_and_leaky_errors() {
    let up = start();
    let (resp, _) = call(
        &up.addr,
        "POST",
        "/v1/chat/completions",
        &[
            ("authorization", "Bearer sk-leaky-0123456789"),
            ("x-fake-fault", "status=401;leak;header=retry-after-ms:1500"),
        ],
        CHAT,
    );
    assert!(resp.starts_with("HTTP/1.1 401"), "{resp}");
    assert!(resp.contains("retry-after-ms: 1500"), "{resp}");
    assert!(resp.contains("?key=sk-leaky-0123456789"), "{resp}");
    assert!(
        resp.contains(r#""api_key":"sk-leaky-0123456789""#),
        "{resp}"
    );
    assert!(resp.contains("sk-leaky...6789"), "{resp}");
    assert!(resp.contains(r#"token="sk-leaky-0123456789""#), "{resp}");
}
