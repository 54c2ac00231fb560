//! The attempt engine: the plan, forwarding, retry and failover, cooldowns, stream supervision
//! and scrubbing. It knows no protocol: what is protocol-specific comes through
//! [`exchange::Exchange`].

pub mod answers;
pub mod cooldown;
pub mod engine;
pub mod exchange;
pub mod forward;
pub mod keepalive;
#[cfg(feature = "quotas")]
pub mod metered;
pub mod plan;
pub mod protocol;
pub mod quotas;
pub mod retry_after;
pub mod scrub;
pub mod streams;
