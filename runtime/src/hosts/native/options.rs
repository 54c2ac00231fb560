//! How `apexc serve`'s server runs: where it listens, its threads and its limits.

use std::net::SocketAddr;
use std::time::Duration;

/// How to run the server.
#[derive(Debug, Clone)]
pub struct Options {
    /// Where to listen; port 0 picks a free port (see `Server::addr`).
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
    /// Where declared limits' counts are kept across restarts (only used when the gateway
    /// declares limits; `None`: in memory). Every thread shares one set of counts either way.
    pub quota_state: Option<std::path::PathBuf>,
    /// A Redis server: declared limits' counts are kept there instead, shared with every other
    /// process that names the same server and gateway (`quota_state` is then unused).
    #[cfg(feature = "quotas")]
    pub quota_redis: Option<super::redis::Url>,
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
            max_body: crate::host::MAX_REQUEST_BODY,
            body_timeout: BODY_TIMEOUT,
            header_timeout: HEADER_TIMEOUT,
            max_header_bytes: MAX_HEADER_BYTES,
            max_connections: MAX_CONNECTIONS,
            access_log: false,
            quota_state: None,
            #[cfg(feature = "quotas")]
            quota_redis: None,
        }
    }
}
