//! The native host over real HTTP: a gateway on 127.0.0.1:0 in front of a tiny upstream that
//! this test drives step by step, so "streamed, not buffered" is observed, not assumed.
//!
//! Synchronisation is by channels: the upstream sends chunk 1, the test reads it through the
//! gateway, then tells the upstream to send chunk 2. A gateway that buffered would never
//! deliver chunk 1 and the read fails at its (generous) deadline.

use apex_runtime::host::{Body, FetchError, Host, HttpRequest};
use apex_runtime::hosts::native::{self, NativeHost, Options};
use apex_runtime::table::{Gateway, Kind, Model, Provider, Route, Strategy};
use bytes::Bytes;
use futures_util::StreamExt;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::Frame;
use hyper_util::rt::TokioIo;
use std::collections::HashMap;
use std::convert::Infallible;
use std::io::{Read, Write};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, Mutex};

/// Upper bound for any single wait: reached only when the behaviour under test is broken.
const DEADLINE: Duration = Duration::from_secs(10);

const CHUNK_1: &str = "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"up-model\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"first-piece\"},\"finish_reason\":null}]}\n\n";
const CHUNK_2: &str = "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"up-model\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"second-piece\"},\"finish_reason\":\"stop\"}]}\n\ndata: [DONE]\n\n";

/// An upstream whose streamed answer waits for the test's go-ahead before its second chunk.
/// A request without `"stream":true` gets a whole JSON completion at once.
struct Upstream {
    addr: SocketAddr,
    go: mpsc::UnboundedSender<()>,
    /// TCP connections accepted so far.
    connections: Arc<AtomicUsize>,
}

const COMPLETION: &str = "{\"id\":\"c2\",\"object\":\"chat.completion\",\"created\":1,\"model\":\"up-model\",\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":\"whole\"},\"finish_reason\":\"stop\"}]}";

type UpstreamBody = http_body_util::combinators::BoxBody<Bytes, Infallible>;

fn start_upstream() -> Upstream {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind upstream");
    listener.set_nonblocking(true).expect("nonblocking");
    let addr = listener.local_addr().expect("addr");
    let (go, go_rx) = mpsc::unbounded_channel::<()>();
    let go_rx = Arc::new(Mutex::new(go_rx));
    let connections = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&connections);
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                counted.fetch_add(1, Ordering::SeqCst);
                let go_rx = Arc::clone(&go_rx);
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(
                        move |req: hyper::Request<hyper::body::Incoming>| {
                            let go_rx = Arc::clone(&go_rx);
                            async move {
                                let body =
                                    req.into_body().collect().await.expect("body").to_bytes();
                                let streamed =
                                    String::from_utf8_lossy(&body).contains("\"stream\":true");
                                Ok::<_, Infallible>(if streamed {
                                    two_step_stream(go_rx)
                                } else {
                                    hyper::Response::builder()
                                        .header("content-type", "application/json")
                                        .body(
                                            Full::new(Bytes::from_static(COMPLETION.as_bytes()))
                                                .boxed(),
                                        )
                                        .expect("response")
                                })
                            }
                        },
                    );
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
    });
    Upstream {
        addr,
        go,
        connections,
    }
}

/// SSE: chunk 1 at once, chunk 2 (and `[DONE]`) only after the test's go-ahead.
fn two_step_stream(
    go_rx: Arc<Mutex<mpsc::UnboundedReceiver<()>>>,
) -> hyper::Response<UpstreamBody> {
    let frames = futures_util::stream::unfold(0u8, move |step| {
        let go_rx = Arc::clone(&go_rx);
        async move {
            let text = match step {
                0 => CHUNK_1,
                1 => {
                    go_rx.lock().await.recv().await?;
                    CHUNK_2
                }
                _ => return None,
            };
            let frame: Result<Frame<Bytes>, Infallible> =
                Ok(Frame::data(Bytes::from_static(text.as_bytes())));
            Some((frame, step + 1))
        }
    });
    hyper::Response::builder()
        .header("content-type", "text/event-stream")
        .body(BodyExt::boxed(StreamBody::new(frames)))
        .expect("response")
}

/// A gateway with one OpenAI-kind model on `upstream` and one mock model.
fn gateway(upstream: SocketAddr, timeout_ms: u32) -> &'static Gateway {
    let base_url: &'static str = Box::leak(format!("http://{upstream}/v1").into_boxed_str());
    let providers: &'static [Provider] = Box::leak(Box::new([
        Provider {
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
        },
        Provider {
            id: "up",
            kind: Kind::OpenAi,
            base_url,
            api_keys: &["UP_KEY"],
            api_version: None,
            headers: &[],
            timeout_ms,
            native_responses: false,
            key_limits: &[],
            limits: apex_runtime::table::Limits::NONE,
            reset: apex_runtime::table::DailyReset::UTC,
        },
    ]));
    static ROUTES_DEMO: [Route; 1] = [Route {
        provider: 0,
        model: "mock-1",
        weight: 1,
        max_tokens: None,
        limits: apex_runtime::table::Limits::NONE,
    }];
    static ROUTES_UP: [Route; 1] = [Route {
        provider: 1,
        model: "up-model",
        weight: 1,
        max_tokens: None,
        limits: apex_runtime::table::Limits::NONE,
    }];
    let models: &'static [Model] = Box::leak(Box::new([
        Model {
            name: "demo",
            strategy: Strategy::Random,
            routes: &ROUTES_DEMO,
        },
        Model {
            name: "gpt-test",
            strategy: Strategy::Priority,
            routes: &ROUTES_UP,
        },
    ]));
    Box::leak(Box::new(Gateway {
        name: "test",
        auth_keys: &[],
        clients: &[],
        providers,
        models,
        aliases: &[],
        patterns: &[],
        responses_store: None,
        max_attempts: 1,
        cooldown: apex_runtime::table::Cooldown::DEFAULT,
        pinning: apex_runtime::table::Pinning::Off,
    }))
}

fn secrets() -> HashMap<String, String> {
    HashMap::from([("UP_KEY".to_string(), "sk-upstream-test".to_string())])
}

fn start_gateway(gateway: &'static Gateway) -> native::Server {
    native::spawn(
        gateway,
        secrets(),
        Options::new("127.0.0.1:0".parse().expect("addr")),
    )
    .expect("gateway starts")
}

/// Runs an async test body on a current-thread runtime with a LocalSet, as the host does.
fn run<F: std::future::Future<Output = ()>>(f: F) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    tokio::task::LocalSet::new().block_on(&rt, f);
}

type Sender = hyper::client::conn::http1::SendRequest<Full<Bytes>>;

/// One client connection to `addr`.
async fn connect(addr: SocketAddr) -> Sender {
    let stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .expect("handshake");
    tokio::task::spawn_local(async move {
        let _ = conn.await;
    });
    sender
}

fn request(method: &str, path: &str, body: &str) -> hyper::Request<Full<Bytes>> {
    hyper::Request::builder()
        .method(method)
        .uri(path)
        .header("host", "gateway.test")
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body.to_owned())))
        .expect("request")
}

/// Reads body frames until the text so far contains `needle`; fails at the deadline.
async fn read_until<B>(body: &mut B, seen: &mut String, needle: &str)
where
    B: hyper::body::Body<Data = Bytes> + Unpin,
    B::Error: std::fmt::Debug,
{
    let reading = async {
        while !seen.contains(needle) {
            match body.frame().await {
                Some(Ok(frame)) => {
                    if let Ok(data) = frame.into_data() {
                        seen.push_str(&String::from_utf8_lossy(&data));
                    }
                }
                Some(Err(e)) => panic!("body failed before {needle:?}: {e:?}; got {seen:?}"),
                None => panic!("body ended before {needle:?}; got {seen:?}"),
            }
        }
    };
    tokio::time::timeout(DEADLINE, reading)
        .await
        .unwrap_or_else(|_| panic!("{needle:?} did not arrive; got so far {seen:?}"));
}

#[test]
fn a_streamed_upstream_answer_reaches_the_client_chunk_by_chunk() {
    let upstream = start_upstream();
    let server = start_gateway(gateway(upstream.addr, 30_000));
    run(async move {
        let mut client = connect(server.addr()).await;
        let resp = client
            .send_request(request(
                "POST",
                "/v1/chat/completions",
                r#"{"model":"gpt-test","stream":true,"messages":[{"role":"user","content":"hi"}]}"#,
            ))
            .await
            .expect("response head");
        assert_eq!(resp.status(), 200);
        let mut body = resp.into_body();
        let mut seen = String::new();
        read_until(&mut body, &mut seen, "first-piece").await;
        assert!(
            !seen.contains("second-piece"),
            "the upstream has not sent chunk 2 yet"
        );
        upstream.go.send(()).expect("upstream alive");
        read_until(&mut body, &mut seen, "second-piece").await;
        read_until(&mut body, &mut seen, "[DONE]").await;
    });
}

#[test]
fn the_host_client_streams_an_upstream_body_as_it_arrives() {
    let upstream = start_upstream();
    run(async move {
        let host = NativeHost::new(Arc::new(secrets())).expect("host");
        let resp = host
            .fetch(
                HttpRequest {
                    method: "POST".into(),
                    url: format!("http://{}/v1/chat/completions", upstream.addr),
                    headers: vec![("content-type".into(), "application/json".into())],
                    body: Bytes::from_static(b"{\"stream\":true}"),
                },
                5_000,
            )
            .await
            .expect("upstream answers");
        assert_eq!(resp.status, 200);
        assert_eq!(resp.header("content-type"), Some("text/event-stream"));
        let Body::Stream(mut stream) = resp.body else {
            panic!("an upstream body is a stream")
        };
        let first = tokio::time::timeout(DEADLINE, stream.next())
            .await
            .expect("chunk 1 arrives while chunk 2 is held back")
            .expect("a chunk")
            .expect("no error");
        assert_eq!(first, CHUNK_1.as_bytes());
        upstream.go.send(()).expect("upstream alive");
        let mut rest = Vec::new();
        while let Some(chunk) = tokio::time::timeout(DEADLINE, stream.next())
            .await
            .expect("chunk 2")
        {
            rest.extend_from_slice(&chunk.expect("no error"));
        }
        assert_eq!(rest, CHUNK_2.as_bytes());
    });
}

#[test]
fn an_upstream_silent_past_timeout_ms_is_a_fetch_timeout() {
    // Accepts connections (the kernel does, via the backlog) but never answers.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = silent.local_addr().expect("addr");
    run(async move {
        let host = NativeHost::new(Arc::new(secrets())).expect("host");
        let started = std::time::Instant::now();
        let result = host
            .fetch(
                HttpRequest {
                    method: "GET".into(),
                    url: format!("http://{addr}/v1/models"),
                    headers: vec![],
                    body: Bytes::new(),
                },
                200,
            )
            .await;
        assert!(matches!(result, Err(FetchError::Timeout)), "got {result:?}");
        assert!(started.elapsed() < DEADLINE);
    });
    drop(silent);
}

#[test]
fn a_refused_connection_is_a_connect_error() {
    let addr = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr")
    }; // closed again: nothing listens there now
    run(async move {
        let host = NativeHost::new(Arc::new(secrets())).expect("host");
        let result = host
            .fetch(
                HttpRequest {
                    method: "GET".into(),
                    url: format!("http://{addr}/v1/models"),
                    headers: vec![],
                    body: Bytes::new(),
                },
                5_000,
            )
            .await;
        assert!(
            matches!(result, Err(FetchError::Connect(_))),
            "got {result:?}"
        );
    });
}

#[test]
fn the_router_answers_504_when_the_upstream_times_out() {
    let silent = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let server = start_gateway(gateway(silent.local_addr().expect("addr"), 200));
    run(async move {
        let mut client = connect(server.addr()).await;
        let resp = client
            .send_request(request(
                "POST",
                "/v1/chat/completions",
                r#"{"model":"gpt-test","messages":[{"role":"user","content":"hi"}]}"#,
            ))
            .await
            .expect("response head");
        assert_eq!(resp.status(), 504);
    });
    drop(silent);
}

#[test]
fn a_body_over_10_mib_is_refused_with_413_before_it_is_sent() {
    let upstream = start_upstream();
    let server = start_gateway(gateway(upstream.addr, 30_000));
    // Raw socket: announce 11 MiB, send none of it. The answer must come anyway.
    let mut sock = std::net::TcpStream::connect(server.addr()).expect("connect");
    sock.set_read_timeout(Some(DEADLINE)).expect("timeout");
    write!(
        sock,
        "POST /v1/chat/completions HTTP/1.1\r\nhost: gateway.test\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
        11 * 1024 * 1024
    )
    .expect("send head");
    let mut answer = Vec::new();
    let _ = sock.read_to_end(&mut answer); // the server closes: the body was never read
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 413"), "got {answer:?}");
    assert!(
        answer.contains("\"type\":\"invalid_request_error\""),
        "got {answer:?}"
    );
    assert!(answer.contains("10 MiB"), "got {answer:?}");
}

#[test]
fn one_connection_serves_several_requests() {
    let upstream = start_upstream();
    let server = start_gateway(gateway(upstream.addr, 30_000));
    run(async move {
        let mut client = connect(server.addr()).await;
        for _ in 0..3 {
            client.ready().await.expect("connection still open");
            let resp = client
                .send_request(request("GET", "/v1/models", ""))
                .await
                .expect("response on the same connection");
            assert!(resp.status().as_u16() < 600);
            let _ = resp.into_body().collect().await.expect("whole body");
        }
    });
}

#[test]
fn the_mock_model_answers_through_the_native_host() {
    let upstream = start_upstream();
    let server = start_gateway(gateway(upstream.addr, 30_000));
    run(async move {
        let mut client = connect(server.addr()).await;
        let resp = client
            .send_request(request(
                "POST",
                "/v1/chat/completions",
                r#"{"model":"demo","messages":[{"role":"user","content":"ping pong"}]}"#,
            ))
            .await
            .expect("response head");
        assert_eq!(resp.status(), 200);
        let body = resp.into_body().collect().await.expect("body").to_bytes();
        let text = String::from_utf8_lossy(&body);
        assert!(text.contains("mock reply: ping pong"), "got {text}");
    });
}

#[test]
fn shutdown_stops_accepting() {
    let upstream = start_upstream();
    let server = start_gateway(gateway(upstream.addr, 30_000));
    let addr = server.addr();
    server.shutdown();
    assert!(
        std::net::TcpStream::connect(addr).is_err(),
        "nothing listens after shutdown"
    );
}

#[test]
fn upstream_connections_are_pooled_and_reused() {
    let upstream = start_upstream();
    run(async move {
        let host = NativeHost::new(Arc::new(secrets())).expect("host");
        for _ in 0..3 {
            let resp = host
                .fetch(
                    HttpRequest {
                        method: "POST".into(),
                        url: format!("http://{}/v1/chat/completions", upstream.addr),
                        headers: vec![("content-type".into(), "application/json".into())],
                        body: Bytes::from_static(b"{\"model\":\"up-model\"}"),
                    },
                    5_000,
                )
                .await
                .expect("upstream answers");
            assert_eq!(resp.status, 200);
            let Body::Stream(mut stream) = resp.body else {
                panic!("an upstream body is a stream")
            };
            let mut whole = Vec::new();
            while let Some(chunk) = stream.next().await {
                whole.extend_from_slice(&chunk.expect("no error"));
            }
            assert_eq!(whole, COMPLETION.as_bytes());
        }
        assert_eq!(
            upstream.connections.load(Ordering::SeqCst),
            1,
            "three sequential calls should share one kept-alive connection"
        );
    });
}
