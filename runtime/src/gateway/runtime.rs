//! A gateway's per-isolate state, and what a request's `model` resolves to.

use crate::attempt::engine::{counters, Engine};
use crate::attempt::plan::{Resolved, Target};
use crate::errors::ApiError;
use crate::log::RequestLog;
use crate::table::{Gateway, Pinning, Route, Strategy};
use bytes::Bytes;
use std::borrow::Cow;
use std::sync::atomic::{AtomicU32, Ordering};

/// A gateway plus its per-isolate state. Create one per process / isolate and reuse it for
/// every request; [`Runtime::handle`] serves one.
pub struct Runtime {
    pub gateway: &'static Gateway,
    /// Key rotation, cooldowns and keepalives: the attempt engine's state.
    pub engine: Engine,
    /// Round-robin position per model (same index as `gateway.models`).
    model_ticks: Box<[AtomicU32]>,
    /// `GET /v1/models`, built once.
    pub(crate) models_body: Bytes,
}

impl Runtime {
    pub fn new(gateway: &'static Gateway) -> Self {
        Runtime {
            gateway,
            engine: Engine::new(gateway),
            model_ticks: counters(gateway.models.len()),
            models_body: crate::gateway::endpoints::models::list_body(gateway),
        }
    }

    /// [`Runtime::resolve`], with the model recorded in the request's log line.
    pub(crate) fn resolve_logged<'a>(
        &self,
        name: &'a str,
        log: &mut RequestLog,
    ) -> Result<Resolved<'a>, ApiError> {
        log.model = Some(match self.gateway.model(name) {
            Some(m) if !crate::table::is_pattern(m.name) => Cow::Borrowed(m.name),
            _ => Cow::Owned(name.to_owned()),
        });
        if let Some(client) = log.client {
            let model = name.rsplit_once('#').map_or(name, |(m, _)| m);
            if !client.allows(model) {
                return Err(ApiError::model_not_allowed(client, model));
            }
        }
        self.resolve(name)
    }

    /// The routes for a `model` value: a public model, or `model#provider` as far as the
    /// gateway's [`Pinning`] allows.
    pub(crate) fn resolve<'a>(&self, name: &'a str) -> Result<Resolved<'a>, ApiError> {
        if let Some(i) = self.gateway.model_index(name) {
            return self
                .model_routes(i, name, |_| true)
                .ok_or_else(|| ApiError::unknown_model(name));
        }
        let Some((model_name, provider_id)) = name.rsplit_once('#') else {
            return Err(ApiError::unknown_model(name));
        };
        let gateway = self.gateway;
        if gateway.pinning == Pinning::Off {
            return Err(ApiError::pinning_disabled(name, model_name));
        }
        let Some((p, _)) = gateway.provider(provider_id) else {
            let known: Vec<&str> = gateway.providers.iter().map(|p| p.id).collect();
            return Err(ApiError::unknown_provider(provider_id, &known.join(", ")));
        };
        if model_name.is_empty() {
            return Err(ApiError::unknown_model(name));
        }
        // A public model on that provider: only its routes there.
        let pinned = self
            .gateway
            .model_index(model_name)
            .and_then(|i| self.model_routes(i, model_name, |r| r.provider == p));
        match (pinned, gateway.pinning) {
            (Some(resolved), _) => Ok(resolved),
            (None, Pinning::Any) => Ok(Resolved {
                // Any other name goes to the provider as written (the seed's direct addressing).
                targets: vec![Target {
                    provider: p,
                    model: model_name,
                    weight: 1,
                    max_tokens: None,
                    limits: crate::table::Limits::NONE,
                }],
                strategy: Strategy::Priority,
                tick: 0,
            }),
            (None, _) => Err(ApiError::pinning_not_routed(model_name, provider_id)),
        }
    }

    /// Model `i`'s routes that `keep` keeps, in its strategy, for a client that asked for
    /// `name`; `None` when none is left.
    fn model_routes<'a>(
        &self,
        i: usize,
        name: &'a str,
        keep: impl Fn(&Route) -> bool,
    ) -> Option<Resolved<'a>> {
        let model = self.gateway.models.get(i)?;
        let targets: Vec<Target<'a>> = model
            .routes
            .iter()
            .filter(|r| keep(r))
            .map(|r| target_of(r, name))
            .collect();
        if targets.is_empty() {
            return None;
        }
        Some(Resolved {
            targets,
            strategy: model.strategy,
            tick: self.model_tick(i, model.strategy),
        })
    }

    fn model_tick(&self, i: usize, strategy: Strategy) -> u32 {
        if strategy != Strategy::RoundRobin {
            return 0;
        }
        self.model_ticks
            .get(i)
            .map_or(0, |c| c.fetch_add(1, Ordering::Relaxed))
    }
}

/// A configured route as the attempt plan sees it, for a client that asked for `name`.
fn target_of<'a>(r: &'static Route, name: &'a str) -> Target<'a> {
    Target {
        provider: r.provider,
        model: if r.model == crate::table::CLIENT_MODEL {
            name
        } else {
            r.model
        },
        weight: r.weight,
        max_tokens: r.max_tokens,
        limits: r.limits,
    }
}
