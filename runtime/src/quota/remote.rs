//! The messages a store in another object exchanges with the gateway, as JSON: a Durable
//! Object on Workers receives one per call and answers it with [`answer`] over its ledger,
//! so the decision stays [`Ledger::decide`] wherever the counts live.

use super::ask::{Ask, Grant, Settle};
use super::ledger::Ledger;
use serde::{Deserialize, Serialize};

/// One call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Message {
    /// Settle what `earlier` attempts turned out to cost (batched: no round trip of their
    /// own), then reserve for `ask`.
    Reserve {
        ask: Ask,
        earlier: Vec<Settle>,
    },
    Settle(Vec<Settle>),
}

impl Message {
    /// Every scope the message may read or change (what a store loads before [`apply`]).
    pub fn scopes(&self) -> Vec<&str> {
        let mut names: Vec<&str> = match self {
            Message::Reserve { ask, earlier } => ask
                .scopes
                .iter()
                .map(|s| s.name.as_str())
                .chain(
                    earlier
                        .iter()
                        .flat_map(|s| s.scopes.iter().map(String::as_str)),
                )
                .collect(),
            Message::Settle(settles) => settles
                .iter()
                .flat_map(|s| s.scopes.iter().map(String::as_str))
                .collect(),
        };
        names.sort_unstable();
        names.dedup();
        names
    }
}

/// The answer to a [`Message::Reserve`] (a settlement answers `null`).
pub type Reply = Option<Grant>;

/// Applies `message` (JSON) to `ledger`: the reply as JSON, and the names of the scopes whose
/// counts changed (what a store must write back).
pub fn answer(ledger: &mut Ledger, message: &[u8]) -> Result<(String, Vec<String>), String> {
    let message: Message =
        serde_json::from_slice(message).map_err(|e| format!("quota message: {e}"))?;
    let (reply, changed) = apply(ledger, message);
    let reply = serde_json::to_string(&reply).map_err(|e| format!("quota reply: {e}"))?;
    Ok((reply, changed))
}

/// Applies `message` to `ledger`: the reply, and the names of the scopes whose counts
/// changed. Every shared store runs this, so the decision is [`Ledger::decide`] wherever the
/// counts live.
pub fn apply(ledger: &mut Ledger, message: Message) -> (Reply, Vec<String>) {
    match message {
        Message::Reserve { ask, earlier } => {
            let mut changed = settle_all(ledger, earlier);
            let grant = ledger.decide(&ask);
            if let Grant::Go { candidate } = grant {
                changed.extend(ask.scope_names(candidate));
            }
            changed.sort();
            changed.dedup();
            (Some(grant), changed)
        }
        Message::Settle(settles) => (None, settle_all(ledger, settles)),
    }
}

/// Applies `settles`: the names of the scopes they changed.
fn settle_all(ledger: &mut Ledger, settles: Vec<Settle>) -> Vec<String> {
    settles.iter().for_each(|s| ledger.settle(s));
    let mut names: Vec<String> = settles.into_iter().flat_map(|s| s.scopes).collect();
    names.sort();
    names.dedup();
    names
}

/// The grant in a reply to a reservation.
pub fn grant_of(reply: &[u8]) -> Result<Grant, String> {
    match serde_json::from_slice::<Reply>(reply) {
        Ok(Some(grant)) => Ok(grant),
        Ok(None) => Err("quota store answered a reservation with nothing".into()),
        Err(e) => Err(format!("quota reply: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::quota::Scope;
    use crate::table::Limits;

    fn ask() -> Ask {
        let scope = |name: &str| Scope {
            name: name.into(),
            limits: Limits {
                rpd: Some(1),
                ..Limits::NONE
            },
            day: 3,
            day_ends_ms: 9_000,
        };
        Ask {
            now_ms: 1_000,
            tokens: 5,
            scopes: vec![scope("provider:p"), scope("key:A"), scope("key:B")],
            candidates: vec![vec![1, 0], vec![2, 0]],
        }
    }

    fn reserve() -> Message {
        Message::Reserve {
            ask: ask(),
            earlier: Vec::new(),
        }
    }

    fn send(ledger: &mut Ledger, m: &Message) -> (String, Vec<String>) {
        let bytes = serde_json::to_vec(m).unwrap_or_default();
        answer(ledger, &bytes).unwrap_or_default()
    }

    #[test]
    fn a_reservation_names_the_scopes_it_counted_in_and_a_second_is_refused() {
        let mut l = Ledger::default();
        let (reply, changed) = send(&mut l, &reserve());
        assert_eq!(grant_of(reply.as_bytes()), Ok(Grant::Go { candidate: 0 }));
        assert_eq!(changed, vec!["key:A".to_string(), "provider:p".to_string()]);
        // The provider's rpd 1 is spent whichever key carries the next one.
        let (reply, changed) = send(&mut l, &reserve());
        assert_eq!(
            grant_of(reply.as_bytes()),
            Ok(Grant::Exhausted { until_ms: 9_000 })
        );
        assert!(changed.is_empty());
    }

    /// What the first reservation of `ask()` gives back (an upstream 429 on key A).
    fn give_back_first() -> Settle {
        Settle {
            scopes: vec!["key:A".into(), "provider:p".into()],
            at_ms: 1_000,
            day: 3,
            requests: -1,
            tokens: -5,
            blocked_until: 0,
        }
    }

    #[test]
    fn a_settlement_changes_the_scopes_it_names() {
        let mut l = Ledger::default();
        send(&mut l, &reserve());
        let give_back = give_back_first();
        let (reply, changed) = send(&mut l, &Message::Settle(vec![give_back]));
        assert_eq!(reply, "null");
        assert_eq!(changed.len(), 2);
        assert_eq!(l.scopes.get("provider:p").map(|c| c.day_requests), Some(0));
    }

    #[test]
    fn a_reservation_settles_the_earlier_ones_it_carries_before_it_decides() {
        let mut l = Ledger::default();
        send(&mut l, &reserve());
        // The first request's reservation is given back in the second's message: room again.
        let give_back = give_back_first();
        let message = Message::Reserve {
            ask: ask(),
            earlier: vec![give_back],
        };
        assert_eq!(message.scopes(), vec!["key:A", "key:B", "provider:p"]);
        let (reply, changed) = send(&mut l, &message);
        assert_eq!(grant_of(reply.as_bytes()), Ok(Grant::Go { candidate: 0 }));
        assert_eq!(changed, vec!["key:A".to_string(), "provider:p".to_string()]);
    }

    #[test]
    fn a_message_that_is_not_one_is_an_error_not_a_panic() {
        let mut l = Ledger::default();
        assert!(answer(&mut l, b"{\"reserve\":").is_err());
        assert!(answer(&mut l, b"[]").is_err());
        assert!(grant_of(b"null").is_err());
    }
}
