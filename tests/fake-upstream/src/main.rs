//! `fake-upstream`: an OpenAI-compatible upstream for tests and benchmarks.
//!
//! It answers `POST /v1/chat/completions` (plain and SSE), `POST /v1/embeddings`,
//! `GET /v1/models`, and Anthropic's `POST /v1/messages` (plain and SSE) and
//! `POST /v1/messages/count_tokens` (see [`anthropic`]) deterministically from the request,
//! misbehaves on demand (see [`fault`]), and remembers what it received (`GET /_requests`)
//! so tests can assert on what a gateway sent upstream.
//!
//! ```text
//! fake-upstream --listen 127.0.0.1:0        # prints `listening on http://127.0.0.1:PORT`
//!               [--threads N] [--no-record]
//! ```
//!
//! Control endpoints: `GET /_health`, `GET|DELETE /_requests`,
//! `POST /_control {"model"?, "key"?, "fault": "status=500", "times"?, "after"?}` (or `{"rules": [...]}`),
//! `DELETE /_control`.

mod anthropic;
mod fault;
mod handler;
mod hostile;
mod openai;
mod state;

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use std::io::Write;
use std::sync::Arc;

struct Opts {
    listen: String,
    threads: usize,
    record: bool,
}

fn parse_args() -> Result<Opts, String> {
    let mut o = Opts {
        listen: "127.0.0.1:0".into(),
        threads: 2,
        record: true,
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--listen" => o.listen = args.next().ok_or("--listen needs ADDR")?,
            "--threads" => {
                o.threads = args
                    .next()
                    .and_then(|t| t.parse().ok())
                    .ok_or("--threads needs a number")?
            }
            "--no-record" => o.record = false,
            "-h" | "--help" => {
                println!("fake-upstream [--listen 127.0.0.1:0] [--threads N] [--no-record]");
                std::process::exit(0);
            }
            other => return Err(format!("unknown argument `{other}`")),
        }
    }
    Ok(o)
}

fn main() {
    let opts = match parse_args() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("fake-upstream: {e}");
            std::process::exit(2);
        }
    };
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(opts.threads.max(1))
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("fake-upstream: cannot start runtime: {e}");
            std::process::exit(1);
        }
    };
    if let Err(e) = rt.block_on(serve(opts)) {
        eprintln!("fake-upstream: {e}");
        std::process::exit(1);
    }
}

async fn serve(opts: Opts) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(&opts.listen).await?;
    let addr = listener.local_addr()?;
    println!("listening on http://{addr}");
    std::io::stdout().flush()?;
    let state = Arc::new(state::State::new(opts.record));
    loop {
        let (stream, _) = tokio::select! {
            r = listener.accept() => r?,
            _ = tokio::signal::ctrl_c() => return Ok(()),
        };
        let _ = stream.set_nodelay(true);
        let state = state.clone();
        tokio::spawn(async move {
            let svc = service_fn(move |req| handler::handle(state.clone(), req));
            // Errors here are injected drops or clients going away: nothing to report.
            let _ = http1::Builder::new()
                .keep_alive(true)
                .serve_connection(TokioIo::new(stream), svc)
                .await;
        });
    }
}
