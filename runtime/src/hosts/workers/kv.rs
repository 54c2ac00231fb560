//! Stored Responses on Workers KV.

/// A Workers KV namespace binding. Workers KV refuses a TTL under 60 s, so shorter ones are
/// raised to 60. Every put is one of the free plan's 1,000 daily writes.
pub(super) struct WorkersKv(pub(super) worker::kv::KvStore);

impl crate::host::KvStore for WorkersKv {
    fn get(&self, key: &str) -> crate::host::LocalFuture<Option<String>> {
        let read = self.0.get(key);
        Box::pin(async move { read.text().await.ok().flatten() })
    }

    fn put(
        &self,
        key: &str,
        value: String,
        ttl_seconds: u64,
    ) -> crate::host::LocalFuture<Result<(), String>> {
        let write = self.0.put(key, value);
        Box::pin(async move {
            write
                .map_err(|e| e.to_string())?
                .expiration_ttl(ttl_seconds.max(60))
                .execute()
                .await
                .map_err(|e| e.to_string())
        })
    }

    fn delete(&self, key: &str) -> crate::host::LocalFuture<Result<(), String>> {
        let store = self.0.clone();
        let key = key.to_owned();
        Box::pin(async move { store.delete(&key).await.map_err(|e| e.to_string()) })
    }
}
