//! The routing record as the runtime's tables, for `apexc serve`.
//!
//! Both ways of running a config start from one derivation: [`Routing::from_config`] applies
//! every default and fixes every order. `apexc build` prints that record as the `static`s of
//! `src/routes.rs` ([`crate::codegen::routes`]); `apexc serve` turns the same record into a
//! [`table::Gateway`] here and leaks it, once per process, so the router gets the `&'static`
//! data it gets on Workers. Nothing here chooses a value: it only copies, so a config behaves
//! the same under `serve` as deployed (`tests/golden_tables.rs` compares the two field by field).

use crate::codegen::routing::{ModelRouting, ProviderRouting, Routing};
use crate::config::{ProviderKind, ProviderPinning, Strategy};
use apex_runtime::table;

/// The routing tables of `routing`, leaked: the process serves one gateway for its lifetime.
pub fn gateway(routing: &Routing) -> &'static table::Gateway {
    Box::leak(Box::new(table::Gateway {
        name: leak_str(&routing.name),
        auth_keys: leak_names(routing.auth_keys.iter().map(String::as_str)),
        clients: leak_slice(routing.clients.iter().map(|c| table::Client {
            name: leak_str(&c.name),
            secret: leak_str(&c.secret),
            models: leak_names(c.models.iter().map(String::as_str)),
            limits: limits(&c.limits),
        })),
        providers: leak_slice(routing.providers.iter().map(provider)),
        models: leak_slice(routing.models.iter().map(|m| model(routing, m))),
        aliases: leak_slice(
            routing
                .alias_table()
                .into_iter()
                .map(|(alias, i)| (leak_str(alias), i)),
        ),
        patterns: leak_slice(routing.pattern_order().into_iter()),
        responses_store: routing
            .responses_store
            .as_ref()
            .map(|s| table::ResponsesStore {
                kv: leak_str(&s.kv),
                ttl_seconds: s.ttl_seconds,
            }),
        max_attempts: routing.max_attempts,
        cooldown: table::Cooldown {
            default_ms: routing.cooldown.default_ms,
            max_ms: routing.cooldown.max_ms,
        },
        pinning: match routing.provider_pinning {
            ProviderPinning::Off => table::Pinning::Off,
            ProviderPinning::Routes => table::Pinning::Routes,
            ProviderPinning::Any => table::Pinning::Any,
        },
    }))
}

fn provider(p: &ProviderRouting) -> table::Provider {
    table::Provider {
        id: leak_str(&p.id),
        kind: kind(p.kind),
        base_url: leak_str(&p.base_url),
        api_keys: leak_names(p.api_keys.iter().map(String::as_str)),
        api_version: p.api_version.as_deref().map(leak_str),
        headers: leak_slice(p.headers.iter().map(|(k, v)| (leak_str(k), leak_str(v)))),
        timeout_ms: p.timeout_ms,
        native_responses: p.native_responses,
        key_limits: leak_slice(p.key_limits.iter().map(limits)),
        limits: limits(&p.limits),
        reset: if p.reset.is_default() {
            table::DailyReset::UTC
        } else {
            table::DailyReset {
                at_minute: p.reset.at_minute,
                offsets: leak_slice(
                    crate::codegen::timezone::offsets(&p.reset.timezone).into_iter(),
                ),
            }
        },
    }
}

fn limits(l: &crate::config::Limits) -> table::Limits {
    table::Limits {
        rpm: l.rpm,
        rpd: l.rpd,
        tpm: l.tpm,
        tpd: l.tpd,
    }
}

fn model(routing: &Routing, m: &ModelRouting) -> table::Model {
    table::Model {
        name: leak_str(&m.name),
        strategy: strategy(m.strategy),
        routes: leak_slice(m.routes.iter().map(|r| {
            table::Route {
                // The loader has checked every route names a provider; a dangling one (possible
                // only for a hand-made record) points past the table and fails as "no such
                // provider" in the router rather than here.
                provider: routing
                    .provider_index(&r.provider)
                    .and_then(|i| u16::try_from(i).ok())
                    .unwrap_or(u16::MAX),
                model: leak_str(&r.model),
                weight: r.weight,
                max_tokens: r.max_tokens,
                limits: limits(&r.limits),
            }
        })),
    }
}

fn kind(k: ProviderKind) -> table::Kind {
    match k {
        ProviderKind::OpenAi => table::Kind::OpenAi,
        ProviderKind::AzureOpenAi => table::Kind::AzureOpenAi,
        ProviderKind::Mock => table::Kind::Mock,
        ProviderKind::Anthropic => table::Kind::Anthropic,
    }
}

fn strategy(s: Strategy) -> table::Strategy {
    match s {
        Strategy::Random => table::Strategy::Random,
        Strategy::RoundRobin => table::Strategy::RoundRobin,
        Strategy::Weighted => table::Strategy::Weighted,
        Strategy::Priority => table::Strategy::Priority,
    }
}

fn leak_str(s: &str) -> &'static str {
    Box::leak(s.to_owned().into_boxed_str())
}

fn leak_slice<T>(items: impl Iterator<Item = T>) -> &'static [T] {
    Box::leak(items.collect::<Vec<_>>().into_boxed_slice())
}

fn leak_names<'a>(names: impl Iterator<Item = &'a str>) -> &'static [&'static str] {
    leak_slice(names.map(leak_str))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(src: &str) -> Routing {
        match crate::load::load_str("test.yaml", src) {
            Ok(l) => Routing::from_config(&l.config),
            Err(d) => panic!("config should load:\n{d}"),
        }
    }

    #[test]
    fn applies_the_same_defaults_as_the_generated_crate() {
        let g = gateway(&load(
            "name: t\nproviders:\n  up:\n    kind: openai\n    base_url: https://api.example.com/v1//\n    api_keys: [{ secret: UP_KEY }]\nmodels:\n  m:\n    routes: [{ provider: up, model: x }]\n",
        ));
        assert_eq!(g.max_attempts, 3);
        assert!(g.auth_keys.is_empty());
        assert!(g.responses_store.is_none());
        let p = &g.providers[0];
        assert_eq!(p.base_url, "https://api.example.com/v1");
        assert_eq!(p.timeout_ms, 30_000);
        assert_eq!(p.api_keys, &["UP_KEY"]);
        let m = g.model("m").expect("model m");
        assert_eq!(m.strategy, table::Strategy::Random);
        assert_eq!(m.routes[0].weight, 1);
        assert_eq!(m.routes[0].model, "x");
    }

    #[test]
    fn providers_are_indexed_by_id_order_and_models_sorted_by_name() {
        let g = gateway(&load(
            "name: t\nauth:\n  keys: [{ secret: GW_KEY }]\nmax_attempts: 5\nresponses_store: { kv: STORE }\nproviders:\n  zeta:\n    kind: mock\n  alpha:\n    kind: openai\n    base_url: http://127.0.0.1:9/v1\n    api_keys: [{ secret: A_KEY }]\n    timeout_ms: 1500\nmodels:\n  b-model:\n    strategy: priority\n    routes:\n      - { provider: zeta, model: z1 }\n      - { provider: alpha, model: a1, weight: 4 }\n  A-model:\n    routes: [{ provider: alpha, model: a2 }]\n",
        ));
        let ids: Vec<_> = g.providers.iter().map(|p| p.id).collect();
        assert_eq!(ids, ["alpha", "zeta"]);
        let names: Vec<_> = g.models.iter().map(|m| m.name).collect();
        assert_eq!(names, ["A-model", "b-model"]);
        let b = g.model("b-model").expect("b-model");
        assert_eq!(b.strategy, table::Strategy::Priority);
        assert_eq!((b.routes[0].provider, b.routes[1].provider), (1, 0));
        assert_eq!(b.routes[1].weight, 4);
        assert_eq!(g.providers[0].timeout_ms, 1500);
        assert_eq!(g.providers[1].kind, table::Kind::Mock);
        assert_eq!(g.auth_keys, &["GW_KEY"]);
        assert_eq!(g.max_attempts, 5);
        let store = g.responses_store.as_ref().expect("store");
        assert_eq!((store.kv, store.ttl_seconds), ("STORE", 86_400));
    }

    #[test]
    fn provider_pinning_is_off_unless_the_config_allows_it() {
        let base = "name: t\nproviders:\n  m:\n    kind: mock\nmodels:\n  a:\n    routes: [{ provider: m, model: x }]\n";
        assert_eq!(gateway(&load(base)).pinning, table::Pinning::Off);
        for (value, want) in [
            ("off", table::Pinning::Off),
            ("routes", table::Pinning::Routes),
            ("any", table::Pinning::Any),
        ] {
            let src = format!("{base}provider_pinning: {value}\n");
            assert_eq!(gateway(&load(&src)).pinning, want, "{value}");
            let rs = crate::codegen::routes::routes_rs(&load(&src), "t.yaml").expect("routes.rs");
            assert!(rs.contains(&format!("pinning: Pinning::{want:?},")), "{rs}");
        }
    }
}
