//! The quota counts `apexc serve` shares between its threads: in the process (saved to a file,
//! see `quota_file`), or in Redis shared with other processes (`quota_redis`); nothing when
//! the runtime is built without the `quotas` feature.

use super::options::Options;
use crate::table::Gateway;
use std::io;
#[cfg(feature = "quotas")]
use std::sync::Arc;

/// Where the quota counts are, handed to every thread: one set for all of them, so a declared
/// limit is the process's, or with Redis every process's.
#[cfg(feature = "quotas")]
#[derive(Clone)]
pub(super) enum SharedQuotas {
    /// The gateway declares no limits.
    Off,
    /// In the process; the saver (with a state file) writes them while a clone lives.
    Process {
        local: Arc<crate::quota::Local>,
        _saver: Option<Arc<super::quota_file::Saver>>,
    },
    /// Each thread opens its own connection; keys are prefixed with the gateway's name.
    Redis(super::redis::Url, &'static str),
}
/// Nothing to share: this build has no quota code.
#[cfg(not(feature = "quotas"))]
#[derive(Clone)]
pub(super) struct SharedQuotas;

#[cfg(feature = "quotas")]
pub(super) fn shared(gateway: &'static Gateway, options: &Options) -> io::Result<SharedQuotas> {
    if !crate::attempt::quotas::declared(gateway) {
        return Ok(SharedQuotas::Off);
    }
    if let Some(url) = &options.quota_redis {
        return Ok(SharedQuotas::Redis(url.clone(), gateway.name));
    }
    let opened = super::quota_file::open(options.quota_state.as_deref())?;
    Ok(SharedQuotas::Process {
        local: opened.local,
        _saver: opened.saver,
    })
}

#[cfg(not(feature = "quotas"))]
pub(super) fn shared(_: &'static Gateway, _: &Options) -> io::Result<SharedQuotas> {
    Ok(SharedQuotas)
}

#[cfg(feature = "quotas")]
pub(super) fn install(
    mut runtime: crate::gateway::Runtime,
    quotas: SharedQuotas,
) -> crate::gateway::Runtime {
    use std::rc::Rc;
    match quotas {
        SharedQuotas::Off => {}
        SharedQuotas::Process { local, .. } => runtime.engine.use_quota_store(Rc::new(local)),
        SharedQuotas::Redis(url, gateway) => runtime
            .engine
            .use_quota_store(Rc::new(super::quota_redis::RedisStore::new(url, gateway))),
    }
    runtime
}

#[cfg(not(feature = "quotas"))]
pub(super) fn install(
    runtime: crate::gateway::Runtime,
    _: SharedQuotas,
) -> crate::gateway::Runtime {
    runtime
}
