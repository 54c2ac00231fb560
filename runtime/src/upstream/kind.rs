//! Which kinds this build carries, and the dispatch of a call to its kind.

use crate::errors::ApiError;
use crate::table::{Kind, Provider};
use crate::upstream::call::{Call, Prepared};

/// Whether attempts on this kind need one of the provider's API keys.
pub const fn needs_key(kind: Kind) -> bool {
    !matches!(kind, Kind::Mock)
}

/// Whether this build carries the code of `kind`.
pub const fn compiled(kind: Kind) -> bool {
    match kind {
        Kind::OpenAi => cfg!(feature = "kind-openai"),
        Kind::AzureOpenAi => cfg!(feature = "kind-azure-openai"),
        Kind::Mock => cfg!(feature = "kind-mock"),
        Kind::Anthropic => cfg!(feature = "kind-anthropic"),
    }
}

/// The 500 for a kind this gateway was built without.
pub fn not_compiled(provider: &Provider) -> ApiError {
    ApiError::server(
        "kind_not_compiled",
        format!(
            "provider `{}` has kind `{}`, which is not compiled into this gateway \
             (rebuild it with apexc build, which enables the kinds the config uses).",
            provider.id,
            provider.kind.as_str()
        ),
    )
}

/// Encodes a call for its provider's kind.
pub fn prepare(call: Call<'_>) -> Result<Prepared, ApiError> {
    match call.provider.kind {
        #[cfg(feature = "kind-openai")]
        Kind::OpenAi => Ok(Prepared::Fetch(crate::upstream::openai::request(&call))),
        #[cfg(feature = "kind-azure-openai")]
        Kind::AzureOpenAi => crate::upstream::azure::request(&call).map(Prepared::Fetch),
        #[cfg(feature = "kind-anthropic")]
        Kind::Anthropic => Ok(Prepared::Fetch(crate::upstream::anthropic::request(&call))),
        #[cfg(feature = "kind-mock")]
        Kind::Mock => Ok(Prepared::Local(crate::upstream::mock::respond(&call))),
        #[allow(unreachable_patterns)]
        _ => Err(not_compiled(call.provider)),
    }
}
