//! Declared limits on Workers: the counts every isolate of the worker shares live in one
//! SQLite-backed Durable Object ([`QuotaObject`], exported by the generated crate as
//! `ApexQuotas`), and each isolate reaches it through [`DurableStore`].
//!
//! - One object for the whole gateway (`idFromName("quotas")`): its requests run one at a time,
//!   so a reservation is a read-decide-write no other can interleave with, and the decision is
//!   [`Ledger::decide`] as everywhere else ([`remote::answer`]).
//! - One round trip per reservation; an attempt that went as reserved (the usual case) settles
//!   nothing, so a request that succeeds at the first try costs one.
//! - The object keeps its ledger in memory and writes each scope a message changed to its
//!   SQLite table, synchronously (nothing can run between the decision and the write): one
//!   row per scope, overwritten, so storage does not grow with traffic.
//! - When the object cannot be reached the engine counts in the isolate and logs why
//!   (`attempt::quotas`); a request never fails for it.

use crate::host::LocalFuture;
use crate::quota::{remote, Ask, Grant, Ledger, Settle, Store, DURABLE_OBJECT_BINDING};
use std::cell::RefCell;
use worker::wasm_bindgen::JsValue;

/// The object's one name: every isolate reaches the same instance.
const OBJECT_NAME: &str = "quotas";

/// The Durable Object's inside: what the generated `ApexQuotas` class delegates to.
pub struct QuotaObject {
    state: worker::State,
    /// Loaded from storage on the first message.
    ledger: RefCell<Option<Ledger>>,
}

impl QuotaObject {
    pub fn new(state: worker::State) -> Self {
        QuotaObject {
            state,
            ledger: RefCell::new(None),
        }
    }

    /// Answers one [`remote::Message`].
    pub async fn fetch(&self, mut req: worker::Request) -> worker::Result<worker::Response> {
        let body = req.bytes().await?;
        // From here to the answer nothing awaits: the message is applied and written whole.
        let sql = self.state.storage().sql();
        let mut slot = self.ledger.borrow_mut();
        if slot.is_none() {
            *slot = Some(load(&sql)?);
        }
        let Some(ledger) = slot.as_mut() else {
            return worker::Response::error("quota ledger not loaded", 500);
        };
        match remote::answer(ledger, &body) {
            Ok((reply, changed)) => {
                save(&sql, ledger, &changed)?;
                worker::Response::ok(reply)
            }
            Err(why) => worker::Response::error(why, 400),
        }
    }
}

#[derive(serde::Deserialize)]
struct Row {
    scope: String,
    counts: String,
}

/// The saved ledger (creating its table on first use). A row that does not parse starts that
/// scope over rather than failing every request.
fn load(sql: &worker::SqlStorage) -> worker::Result<Ledger> {
    sql.exec(
        "CREATE TABLE IF NOT EXISTS counts (scope TEXT PRIMARY KEY, counts TEXT NOT NULL) WITHOUT ROWID",
        None,
    )?;
    let rows: Vec<Row> = sql
        .exec("SELECT scope, counts FROM counts", None)?
        .to_array()?;
    let mut ledger = Ledger::default();
    for row in rows {
        if let Ok(counts) = serde_json::from_str(&row.counts) {
            ledger.scopes.insert(row.scope, counts);
        }
    }
    Ok(ledger)
}

fn save(sql: &worker::SqlStorage, ledger: &Ledger, changed: &[String]) -> worker::Result<()> {
    for name in changed {
        let Some(counts) = ledger.scopes.get(name) else {
            continue;
        };
        let json =
            serde_json::to_string(counts).map_err(|e| worker::Error::RustError(e.to_string()))?;
        sql.exec(
            "INSERT INTO counts (scope, counts) VALUES (?, ?) \
             ON CONFLICT(scope) DO UPDATE SET counts = excluded.counts",
            vec![name.as_str().into(), json.into()],
        )?;
    }
    Ok(())
}

/// An isolate's way to the object: the binding, looked up once per isolate.
pub struct DurableStore {
    namespace: Result<worker::ObjectNamespace, String>,
}

impl DurableStore {
    pub fn new(env: &worker::Env) -> Self {
        let namespace = env.durable_object(DURABLE_OBJECT_BINDING).map_err(|e| {
            format!("Durable Object binding {DURABLE_OBJECT_BINDING} unavailable: {e}")
        });
        DurableStore { namespace }
    }

    /// Sends one message; the object's reply.
    fn send(&self, message: &remote::Message) -> LocalFuture<Result<Vec<u8>, String>> {
        let prepared = self.stub().and_then(|stub| {
            let body = serde_json::to_string(message).map_err(|e| e.to_string())?;
            let mut init = worker::RequestInit::new();
            init.with_method(worker::Method::Post)
                .with_body(Some(JsValue::from_str(&body)));
            let req = worker::Request::new_with_init("https://apex-quotas/", &init)
                .map_err(|e| e.to_string())?;
            Ok((stub, req))
        });
        Box::pin(async move {
            let (stub, req) = prepared?;
            let mut resp = stub
                .fetch_with_request(req)
                .await
                .map_err(|e| format!("quota object: {e}"))?;
            let bytes = resp
                .bytes()
                .await
                .map_err(|e| format!("quota object: {e}"))?;
            if resp.status_code() != 200 {
                let why = String::from_utf8_lossy(&bytes);
                return Err(format!(
                    "quota object answered {}: {why}",
                    resp.status_code()
                ));
            }
            Ok(bytes)
        })
    }

    fn stub(&self) -> Result<worker::Stub, String> {
        let namespace = self.namespace.as_ref().map_err(Clone::clone)?;
        namespace
            .id_from_name(OBJECT_NAME)
            .and_then(|id| id.get_stub())
            .map_err(|e| format!("quota object: {e}"))
    }
}

impl Store for DurableStore {
    fn reserve(&self, ask: Ask, earlier: Vec<Settle>) -> LocalFuture<Result<Grant, String>> {
        let reply = self.send(&remote::Message::Reserve { ask, earlier });
        Box::pin(async move { remote::grant_of(&reply.await?) })
    }

    fn settle(&self, settles: Vec<Settle>) -> LocalFuture<Result<(), String>> {
        let reply = self.send(&remote::Message::Settle(settles));
        Box::pin(async move { reply.await.map(|_| ()) })
    }
}
