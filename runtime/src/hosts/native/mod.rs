//! The native host: the gateway as an ordinary HTTP server (`apexc serve`, tests, self-hosting).
//!
//! Shape: one listening socket shared by `threads` worker threads. Each thread owns a
//! current-thread tokio runtime with a `LocalSet` (the router's futures are `!Send`, exactly as
//! in a Worker isolate), its own [`Runtime`](crate::gateway::Runtime) (round-robin counters and
//! cooldowns are per thread, as they are per isolate on Workers), and its own pooled upstream
//! client. Every accepted connection is one local task speaking HTTP/1.1 with keep-alive.
//! Nothing crosses threads on the request path, so there are no locks to wait on.

mod client;
pub mod kv;
mod options;
#[cfg(feature = "quotas")]
pub mod quota_file;
#[cfg(feature = "quotas")]
mod quota_redis;
mod quotas;
#[cfg(feature = "quotas")]
mod redis;
mod server;

pub use client::NativeHost;
pub use options::{Options, BODY_TIMEOUT, HEADER_TIMEOUT, MAX_CONNECTIONS, MAX_HEADER_BYTES};
#[cfg(feature = "quotas")]
pub use redis::Url as RedisUrl;

use crate::table::Gateway;
use std::collections::HashMap;
use std::io;
use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::thread::JoinHandle;
use tokio::sync::watch;

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
    let quotas = quotas::shared(gateway, &options)?;
    let mut threads = Vec::new();
    for i in 0..options.threads.max(1) {
        let listener = listener.try_clone()?;
        let secrets = Arc::clone(&secrets);
        let stop = stop_rx.clone();
        let opts = options.clone();
        let slots = Arc::clone(&slots);
        let quotas = quotas.clone();
        let thread = std::thread::Builder::new()
            .name(format!("apex-http-{i}"))
            .spawn(move || {
                let run = server::run_thread(gateway, quotas, secrets, listener, opts, slots, stop);
                if let Err(e) = run {
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
