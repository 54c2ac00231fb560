//! The quota counts `apexc serve` shares between its threads (see `quota_file`), and nothing
//! when the runtime is built without the `quotas` feature.

use super::options::Options;
use crate::table::Gateway;
use std::io;
#[cfg(feature = "quotas")]
use std::sync::Arc;

/// The process's quota counts, handed to every thread: one set for all of them, so a declared
/// limit is the process's (`None` when the gateway declares none).
#[cfg(feature = "quotas")]
pub(super) type SharedQuotas = Option<Arc<crate::quota::Local>>;
/// Nothing to share: this build has no quota code.
#[cfg(not(feature = "quotas"))]
#[derive(Clone)]
pub(super) struct SharedQuotas;

#[cfg(feature = "quotas")]
pub(super) fn shared(gateway: &'static Gateway, options: &Options) -> io::Result<SharedQuotas> {
    if !crate::attempt::quotas::declared(gateway) {
        return Ok(None);
    }
    super::quota_file::open(options.quota_state.as_deref()).map(Some)
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
    if let Some(local) = quotas {
        runtime.engine.use_quota_store(std::rc::Rc::new(local));
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
