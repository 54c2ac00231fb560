//! The native host: the gateway as an ordinary HTTP server (`apexc serve`, tests, self-hosting).
//!
//! Shape: one listening socket shared by `threads` worker threads. Each thread owns a
//! current-thread tokio runtime with a `LocalSet` (the router's futures are `!Send`, exactly as
//! in a Worker isolate), its own [`Runtime`](crate::router::Runtime) (round-robin counters and
//! cooldowns are per thread, as they are per isolate on Workers), and its own pooled upstream
//! client. Every accepted connection is one local task speaking HTTP/1.1 with keep-alive.
//! Nothing crosses threads on the request path, so there are no locks to wait on.

mod client;
pub mod kv;
mod server;

pub use client::NativeHost;

use crate::table::Gateway;
use std::collections::HashMap;
use std::io;
use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;
use tokio::sync::watch;

/// How to run the server.
#[derive(Debug, Clone)]
pub struct Options {
    /// Where to listen; port 0 picks a free port (see [`Server::addr`]).
    pub listen: SocketAddr,
    /// Worker threads, each with its own event loop (at least 1). Default 1: measured on a
    /// 2-core machine, one thread already adds only ~60-80 µs p50 per request over calling
    /// the upstream directly (≈40k req/s through the gateway), and a second thread did not
    /// raise throughput there. More threads also split per-isolate state (round-robin
    /// counters, cooldowns) into one copy per thread.
    pub threads: usize,
    /// Largest accepted request body; bigger ones get 413 without being read.
    pub max_body: usize,
    /// How long a client may take to send its whole body once the headers are in; past it the
    /// request gets 408 and the connection is closed. A stalled upload would otherwise hold
    /// its connection slot and its partial body for ever.
    pub body_timeout: Duration,
    /// How long a client may take to send a request's headers (also how long an idle
    /// keep-alive connection stays open); past it the connection is closed.
    pub header_timeout: Duration,
    /// Largest request head (request line and headers); a bigger one gets 431.
    pub max_header_bytes: usize,
    /// Most client connections open at once, over all threads. Further clients wait in the
    /// listen backlog (the kernel's, costing this process nothing) until one closes.
    pub max_connections: usize,
    /// One line per request on stderr (method, path, status, model, provider, attempts, time).
    pub access_log: bool,
}

/// Defaults for [`Options`]: generous for any real client (SDKs send their whole body at once;
/// headers are a few KiB), tight enough that 1,024 stalled or oversized clients cannot take
/// the process's memory or time.
pub const BODY_TIMEOUT: Duration = Duration::from_secs(30);
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(30);
pub const MAX_HEADER_BYTES: usize = 64 * 1024;
pub const MAX_CONNECTIONS: usize = 1024;

impl Options {
    pub fn new(listen: SocketAddr) -> Self {
        Options {
            listen,
            threads: 1,
            max_body: super::MAX_REQUEST_BODY,
            body_timeout: BODY_TIMEOUT,
            header_timeout: HEADER_TIMEOUT,
            max_header_bytes: MAX_HEADER_BYTES,
            max_connections: MAX_CONNECTIONS,
            access_log: false,
        }
    }
}

/// A running server. Dropping it (or [`Server::shutdown`]) stops accepting and ends every
/// worker thread; connections still open are closed.
pub struct Server {
    addr: SocketAddr,
    stop: Option<watch::Sender<bool>>,
    threads: Vec<JoinHandle<()>>,
}

impl Server {
    /// The address actually bound (the real port when `listen` asked for port 0).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stop the server and wait for its threads to finish.
    pub fn shutdown(mut self) {
        self.stop_and_join();
    }

    fn stop_and_join(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(true);
        }
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop_and_join();
    }
}

/// Bind and start serving in background threads; returns once the socket is listening.
pub fn spawn(
    gateway: &'static Gateway,
    secrets: HashMap<String, String>,
    options: Options,
) -> io::Result<Server> {
    let listener = TcpListener::bind(options.listen)?;
    listener.set_nonblocking(true)?;
    let addr = listener.local_addr()?;
    let secrets = Arc::new(secrets);
    let (stop_tx, stop_rx) = watch::channel(false);
    // One count over all threads, so the cap is the process's.
    let slots = Arc::new(tokio::sync::Semaphore::new(options.max_connections.max(1)));
    let mut threads = Vec::new();
    for i in 0..options.threads.max(1) {
        let listener = listener.try_clone()?;
        let secrets = Arc::clone(&secrets);
        let stop = stop_rx.clone();
        let opts = options.clone();
        let slots = Arc::clone(&slots);
        let thread = std::thread::Builder::new()
            .name(format!("apex-http-{i}"))
            .spawn(move || {
                if let Err(e) = server::run_thread(gateway, secrets, listener, opts, slots, stop) {
                    eprintln!("apexc serve: worker thread failed: {e}");
                }
            })?;
        threads.push(thread);
    }
    Ok(Server {
        addr,
        stop: Some(stop_tx),
        threads,
    })
}

/// Serve until Ctrl-C or SIGTERM. `ready` is called with the bound address once the socket
/// accepts connections (before that, nothing is printed).
pub fn serve(
    gateway: &'static Gateway,
    secrets: HashMap<String, String>,
    options: Options,
    ready: impl FnOnce(SocketAddr),
) -> io::Result<()> {
    let signals = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let server = spawn(gateway, secrets, options)?;
    ready(server.addr());
    signals.block_on(wait_for_stop_signal())?;
    server.shutdown();
    Ok(())
}

async fn wait_for_stop_signal() -> io::Result<()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut term = signal(SignalKind::terminate())?;
        tokio::select! {
            r = tokio::signal::ctrl_c() => r,
            _ = term.recv() => Ok(()),
        }
    }
    #[cfg(not(unix))]
    {
        tokio::signal::ctrl_c().await
    }
}
