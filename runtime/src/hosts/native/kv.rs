//! The native host's key-value store: one in-memory map per process, shared by every worker
//! thread (a stored Response written by one connection is read by the next, whichever thread
//! serves it), with per-entry expiry like Workers KV's `expirationTtl`.
//!
//! Nothing survives a restart: `apexc serve` is for development and self-hosting, where that
//! is the expected trade. Expired entries are dropped when read and swept on writes, so the
//! map never holds more than what is live plus what expired since the last write.

use crate::host::{Kv, KvStore, LocalFuture};
use std::collections::HashMap;
use std::rc::Rc;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

/// Entries by (binding, key): the value and when it expires.
type Map = HashMap<(String, String), (String, Instant)>;

fn map() -> &'static Mutex<Map> {
    static MAP: OnceLock<Mutex<Map>> = OnceLock::new();
    MAP.get_or_init(|| Mutex::new(HashMap::new()))
}

/// Sweep expired entries every this many writes (a full sweep is O(n)).
const SWEEP_EVERY: u64 = 64;

/// A handle on one binding of the process-wide map.
pub struct MemoryKv {
    binding: String,
}

/// The namespace `binding` (every name exists: the map is created on first use).
pub fn open(binding: &str) -> Kv {
    Rc::new(MemoryKv {
        binding: binding.to_owned(),
    })
}

impl MemoryKv {
    fn get_now(&self, key: &str) -> Option<String> {
        let mut map = map().lock().unwrap_or_else(|p| p.into_inner());
        let k = (self.binding.clone(), key.to_owned());
        match map.get(&k) {
            Some((v, until)) if *until > Instant::now() => Some(v.clone()),
            Some(_) => {
                map.remove(&k);
                None
            }
            None => None,
        }
    }

    fn put_now(&self, key: &str, value: String, ttl_seconds: u64) {
        static WRITES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let now = Instant::now();
        let until = now
            .checked_add(Duration::from_secs(ttl_seconds))
            .unwrap_or(now + Duration::from_secs(365 * 24 * 3600));
        let mut map = map().lock().unwrap_or_else(|p| p.into_inner());
        let n = WRITES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        if n.is_multiple_of(SWEEP_EVERY) {
            map.retain(|_, (_, t)| *t > now);
        }
        map.insert((self.binding.clone(), key.to_owned()), (value, until));
    }

    fn delete_now(&self, key: &str) {
        let mut map = map().lock().unwrap_or_else(|p| p.into_inner());
        map.remove(&(self.binding.clone(), key.to_owned()));
    }
}

impl KvStore for MemoryKv {
    fn get(&self, key: &str) -> LocalFuture<Option<String>> {
        let v = self.get_now(key);
        Box::pin(std::future::ready(v))
    }

    fn put(&self, key: &str, value: String, ttl_seconds: u64) -> LocalFuture<Result<(), String>> {
        self.put_now(key, value, ttl_seconds);
        Box::pin(std::future::ready(Ok(())))
    }

    fn delete(&self, key: &str) -> LocalFuture<Result<(), String>> {
        self.delete_now(key);
        Box::pin(std::future::ready(Ok(())))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn put_get_delete_and_expiry() {
        let kv = open("t-native-kv");
        futures_util::FutureExt::now_or_never(kv.put("a", "1".into(), 60))
            .unwrap()
            .unwrap();
        assert_eq!(
            futures_util::FutureExt::now_or_never(kv.get("a")).unwrap(),
            Some("1".into())
        );
        // Another binding does not see it.
        assert_eq!(
            futures_util::FutureExt::now_or_never(open("other").get("a")).unwrap(),
            None
        );
        futures_util::FutureExt::now_or_never(kv.put("b", "2".into(), 0))
            .unwrap()
            .unwrap();
        assert_eq!(
            futures_util::FutureExt::now_or_never(kv.get("b")).unwrap(),
            None
        );
        futures_util::FutureExt::now_or_never(kv.delete("a"))
            .unwrap()
            .unwrap();
        assert_eq!(
            futures_util::FutureExt::now_or_never(kv.get("a")).unwrap(),
            None
        );
    }
}
