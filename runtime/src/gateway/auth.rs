//! Gateway authentication: the client presents one of the gateway's keys as
//! `Authorization: Bearer <key>` or `x-api-key: <key>` (Anthropic clients use the latter).
//!
//! A named client (`clients:`) presents its own key the same way; the check says which client
//! it was, for its model allowlist, its budget and the logs.
//!
//! Keys are compared in constant time: the work done depends only on the length of what the
//! client sent, never on where the first differing byte is or on the configured key's length,
//! and every configured key is checked even after a match.

use crate::errors::ApiError;
use crate::host::{Host, HttpRequest};
use crate::table::{Client, Gateway};

/// Who is calling: `Some(client)` for a named client's key; `None` for a gateway key (or an
/// open gateway).
pub type Caller = Option<&'static Client>;

/// `Ok` when the gateway is open or the request carries one of its keys.
pub fn check<H: Host>(
    gateway: &'static Gateway,
    host: &H,
    req: &HttpRequest,
) -> Result<Caller, ApiError> {
    if gateway.auth_keys.is_empty() && gateway.clients.is_empty() {
        return Ok(None);
    }
    let bearer = req.header("authorization").and_then(bearer_token);
    let x_api_key = req
        .header("x-api-key")
        .map(str::trim)
        .filter(|k| !k.is_empty());
    let presented = [bearer, x_api_key];
    let clients: &'static [Client] = gateway.clients;
    let mut matched = false;
    let mut any_secret = false;
    let mut caller: Caller = None;
    let names = gateway.auth_keys.iter().map(|n| (*n, None));
    for (name, client) in names.chain(clients.iter().map(|c| (c.secret, Some(c)))) {
        let Some(secret) = host.secret(name) else {
            continue;
        };
        any_secret = true;
        let hit = presented.into_iter().flatten().fold(false, |hit, p| {
            hit | constant_time_eq(p.as_bytes(), secret.as_bytes())
        });
        matched |= hit;
        if hit && client.is_some() {
            caller = client;
        }
    }
    if !any_secret {
        // A deployment mistake, not the client's: say which secret names to set.
        return Err(ApiError::server(
            "gateway_keys_missing",
            format!(
                "this gateway requires a key but none of its key secrets is set on the host \
                 ({}); set them with `wrangler secret put NAME` (or the environment / .dev.vars \
                 for apexc serve).",
                gateway.auth_keys.join(", ")
            ),
        ));
    }
    if matched {
        Ok(caller)
    } else {
        Err(ApiError::unauthorized(
            bearer.is_some() || x_api_key.is_some(),
        ))
    }
}

/// The token of `Bearer <token>` (scheme case-insensitive).
fn bearer_token(value: &str) -> Option<&str> {
    let value = value.trim();
    let scheme = value.get(..7)?;
    if !scheme.eq_ignore_ascii_case("bearer ") {
        return None;
    }
    value.get(7..).map(str::trim).filter(|t| !t.is_empty())
}

/// Equality whose running time depends only on `presented.len()`.
pub fn constant_time_eq(presented: &[u8], secret: &[u8]) -> bool {
    if secret.is_empty() {
        return false;
    }
    let mut diff = u8::from(presented.len() != secret.len());
    for (i, p) in presented.iter().enumerate() {
        // Wrap around the secret so a longer guess costs the same per byte and reveals nothing
        // about the secret's length.
        let s = secret.get(i % secret.len()).copied().unwrap_or(0);
        diff |= p ^ s;
    }
    std::hint::black_box(diff) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compares() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abd", b"abc"));
        assert!(!constant_time_eq(b"abcabc", b"abc"));
        assert!(!constant_time_eq(b"ab", b"abc"));
        assert!(!constant_time_eq(b"", b"abc"));
        assert!(!constant_time_eq(b"", b""));
    }

    #[test]
    fn parses_bearer() {
        assert_eq!(bearer_token("Bearer k1"), Some("k1"));
        assert_eq!(bearer_token("bearer  k1 "), Some("k1"));
        assert_eq!(bearer_token("Basic k1"), None);
        assert_eq!(bearer_token("Bearer "), None);
    }
}
