//! `apexc serve`'s quota counts in Redis (or Valkey), so that several serve processes behind
//! one load balancer count against the same limits (`serve: { quota_store: { redis: ... } }`
//! in the config).
//!
//! - Each scope (a key, a provider, an upstream model) is one Redis key,
//!   `apexc:{gateway}:quota:{scope}`, holding that scope's counts as JSON (`quota::counts`),
//!   expiring [`KEEP`] after its last write so scopes no longer in the config go away.
//! - A message is applied optimistically: WATCH the keys of the scopes it names, MGET them,
//!   apply it to a ledger of those counts ([`remote::apply`], the decision every store makes),
//!   then write what changed in MULTI/EXEC. When another process wrote one of those keys in
//!   between, EXEC answers nil and the whole read-decide-write runs again (up to [`TRIES`]
//!   times): no two processes can both take the last request of a window.
//! - One connection per serve thread, opened on first use and reopened after any error; the
//!   thread's requests take turns on it (a WATCH belongs to its connection). Each round trip
//!   has [`redis::TIMEOUT`]: an error is the engine's to handle, which counts in the process
//!   meanwhile and logs `quota_fallback` (`attempt::quotas`); a request never fails for it.

use super::redis::{Conn, Url, Value};
use crate::host::LocalFuture;
use crate::quota::counts::Counts;
use crate::quota::remote::{self, Message, Reply};
use crate::quota::{Ask, Grant, Ledger, Settle, Store};
use std::rc::Rc;

/// How long a scope's counts outlive their last write: past a quota day and its reset.
const KEEP: &str = "172800000";

/// Read-decide-write rounds before giving up on a scope other processes keep writing.
const TRIES: usize = 16;

/// A thread's way to the shared counts.
#[derive(Clone)]
pub struct RedisStore {
    inner: Rc<Inner>,
}

struct Inner {
    url: Url,
    /// `apexc:{gateway}:quota:`, so gateways sharing one server keep apart.
    prefix: String,
    conn: tokio::sync::Mutex<Option<Conn>>,
}

impl RedisStore {
    pub fn new(url: Url, gateway: &str) -> Self {
        RedisStore {
            inner: Rc::new(Inner {
                url,
                prefix: format!("apexc:{gateway}:quota:"),
                conn: tokio::sync::Mutex::new(None),
            }),
        }
    }

    /// Applies `message` over the thread's connection. A connection that fails is dropped (it
    /// may be out of step); when it was an old one (the server restarted since), the message
    /// is tried once more over a new one.
    async fn call(self, message: Message) -> Result<Reply, String> {
        let mut slot = self.inner.conn.lock().await;
        if let Some(mut conn) = slot.take() {
            if let Ok(reply) = self.inner.apply(&mut conn, message.clone()).await {
                *slot = Some(conn);
                return Ok(reply);
            }
        }
        let mut conn = Conn::open(&self.inner.url).await?;
        let reply = self.inner.apply(&mut conn, message).await?;
        *slot = Some(conn);
        Ok(reply)
    }
}

impl Inner {
    fn key(&self, scope: &str) -> Vec<u8> {
        format!("{}{scope}", self.prefix).into_bytes()
    }

    async fn apply(&self, conn: &mut Conn, message: Message) -> Result<Reply, String> {
        let names: Vec<String> = message.scopes().into_iter().map(String::from).collect();
        if names.is_empty() {
            return Ok(remote::apply(&mut Ledger::default(), message).0);
        }
        let keys: Vec<Vec<u8>> = names.iter().map(|n| self.key(n)).collect();
        for _ in 0..TRIES {
            let read = [command("WATCH", &keys), command("MGET", &keys)];
            let stored = conn.pipeline(&read).await?;
            let mut ledger = ledger_of(&names, stored.get(1))?;
            let (reply, changed) = remote::apply(&mut ledger, message.clone());
            if changed.is_empty() {
                conn.pipeline(&[command("UNWATCH", &[])]).await?;
                return Ok(reply);
            }
            let write = self.transaction(&ledger, &changed)?;
            let answers = conn.pipeline(&write).await?;
            match answers.last() {
                Some(Value::Array(_)) => return Ok(reply),
                // Another process wrote a watched key first: read again and decide again.
                Some(Value::Nil) => continue,
                Some(Value::Error(e)) => return Err(format!("redis: {e}")),
                _ => return Err("redis: EXEC answered neither a result nor nil".into()),
            }
        }
        Err(format!(
            "redis: quota counts kept changing under this process ({TRIES} tries)"
        ))
    }

    /// MULTI, a SET of each changed scope, EXEC.
    fn transaction(
        &self,
        ledger: &Ledger,
        changed: &[String],
    ) -> Result<Vec<Vec<Vec<u8>>>, String> {
        let mut write = vec![command("MULTI", &[])];
        for name in changed {
            let Some(counts) = ledger.scopes.get(name) else {
                continue;
            };
            let json = serde_json::to_vec(counts).map_err(|e| format!("quota counts: {e}"))?;
            write.push(vec![
                b"SET".to_vec(),
                self.key(name),
                json,
                b"PX".to_vec(),
                KEEP.as_bytes().to_vec(),
            ]);
        }
        write.push(command("EXEC", &[]));
        Ok(write)
    }
}

fn command(name: &str, args: &[Vec<u8>]) -> Vec<Vec<u8>> {
    let mut c = Vec::with_capacity(args.len() + 1);
    c.push(name.as_bytes().to_vec());
    c.extend(args.iter().cloned());
    c
}

/// The ledger MGET's answer holds: one value per name, nil for a scope not counted yet. A
/// value that does not parse starts that scope over rather than failing every request.
fn ledger_of(names: &[String], stored: Option<&Value>) -> Result<Ledger, String> {
    let Some(Value::Array(values)) = stored else {
        return Err(format!("redis: MGET answered {stored:?}"));
    };
    let mut ledger = Ledger::default();
    for (name, value) in names.iter().zip(values) {
        if let Value::Bytes(json) = value {
            if let Ok(counts) = serde_json::from_slice::<Counts>(json) {
                ledger.scopes.insert(name.clone(), counts);
            }
        }
    }
    Ok(ledger)
}

impl Store for RedisStore {
    fn reserve(&self, ask: Ask, earlier: Vec<Settle>) -> LocalFuture<Result<Grant, String>> {
        let call = self.clone().call(Message::Reserve { ask, earlier });
        Box::pin(async move {
            match call.await? {
                Some(grant) => Ok(grant),
                None => Err("redis: a reservation came back with no grant".into()),
            }
        })
    }

    fn settle(&self, settles: Vec<Settle>) -> LocalFuture<Result<(), String>> {
        let call = self.clone().call(Message::Settle(settles));
        Box::pin(async move { call.await.map(|_| ()) })
    }
}
