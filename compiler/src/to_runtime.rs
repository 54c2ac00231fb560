//! A loaded [`Config`] as the runtime's routing tables, for `apexc serve`.
//!
//! `apexc build` writes the tables as Rust `static`s; `apexc serve` builds the same
//! [`Gateway`] in memory and leaks it, once per process, so the router gets the `&'static`
//! data it gets on Workers. The defaults and orderings applied here are those of the
//! generated crate (timeout 30000 ms, 3 attempts, weight 1, TTL 86400 s, providers by id,
//! models by name, base URL without trailing slash), so a config behaves the same under
//! `serve` as deployed.

use crate::config::{self, Config, ProviderKind, Strategy};
use apex_runtime::table;

/// The routing tables for `config`, leaked: the process serves one gateway for its lifetime.
pub fn gateway(config: &Config) -> &'static table::Gateway {
    // Providers in BTreeMap (id) order: routes refer to them by this index.
    let ids: Vec<&str> = config.providers.keys().map(String::as_str).collect();
    let providers: Vec<table::Provider> = config
        .providers
        .iter()
        .map(|(id, p)| table::Provider {
            id: leak_str(id),
            kind: kind(p.kind),
            base_url: leak_str(p.base_url.as_deref().unwrap_or("").trim_end_matches('/')),
            api_keys: leak_names(p.api_keys.iter().map(|k| k.secret.as_str())),
            api_version: p.api_version.as_deref().map(leak_str),
            headers: Box::leak(
                p.headers
                    .iter()
                    .map(|(k, v)| (leak_str(k), leak_str(v)))
                    .collect::<Vec<_>>()
                    .into_boxed_slice(),
            ),
            timeout_ms: p.timeout_ms.unwrap_or(config::DEFAULT_TIMEOUT_MS),
            native_responses: p.responses == Some(config::ResponsesMode::Native),
        })
        .collect();
    // Models in BTreeMap (byte) order, the order the router binary-searches.
    let models: Vec<table::Model> = config
        .models
        .iter()
        .map(|(name, m)| table::Model {
            name: leak_str(name),
            strategy: strategy(m.strategy),
            routes: Box::leak(
                m.routes
                    .iter()
                    .map(|r| table::Route {
                        // The loader has checked every route names a provider; a dangling one
                        // (impossible after validation) points past the table and fails as
                        // "no such provider" in the router rather than here.
                        provider: ids
                            .iter()
                            .position(|id| *id == r.provider)
                            .unwrap_or(ids.len()) as u16,
                        model: leak_str(&r.model),
                        weight: r.weight.unwrap_or(1),
                        max_tokens: r.max_tokens,
                    })
                    .collect::<Vec<_>>()
                    .into_boxed_slice(),
            ),
        })
        .collect();
    Box::leak(Box::new(table::Gateway {
        name: leak_str(&config.name),
        auth_keys: leak_names(
            config
                .auth
                .iter()
                .flat_map(|a| a.keys.iter())
                .map(|k| k.secret.as_str()),
        ),
        providers: Box::leak(providers.into_boxed_slice()),
        models: Box::leak(models.into_boxed_slice()),
        responses_store: config
            .responses_store
            .as_ref()
            .map(|s| table::ResponsesStore {
                kv: leak_str(&s.kv),
                ttl_seconds: s.ttl_seconds.unwrap_or(config::DEFAULT_TTL_SECONDS),
            }),
        max_attempts: config.max_attempts.unwrap_or(config::DEFAULT_MAX_ATTEMPTS),
        cooldown: {
            let (default_ms, max_ms) = config.cooldown_ms();
            table::Cooldown { default_ms, max_ms }
        },
        pinning: match config.provider_pinning.unwrap_or_default() {
            config::ProviderPinning::Off => table::Pinning::Off,
            config::ProviderPinning::Routes => table::Pinning::Routes,
            config::ProviderPinning::Any => table::Pinning::Any,
        },
    }))
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

fn leak_names<'a>(names: impl Iterator<Item = &'a str>) -> &'static [&'static str] {
    Box::leak(names.map(leak_str).collect::<Vec<_>>().into_boxed_slice())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(src: &str) -> Config {
        match crate::load::load_str("test.yaml", src) {
            Ok(l) => l.config,
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
            let routing = crate::codegen::routing::Routing::from_config(&load(&src));
            let rs = crate::codegen::routes::routes_rs(&routing, "t.yaml").expect("routes.rs");
            assert!(rs.contains(&format!("pinning: Pinning::{want:?},")), "{rs}");
        }
    }

    /// `apexc serve` and `apexc build` must run the same tables: compare with the routing
    /// record codegen emits `src/routes.rs` from, for every shipped example.
    #[test]
    fn matches_the_routing_codegen_emits_for_every_example() {
        use crate::codegen::routing::Routing;
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples");
        let mut seen = 0;
        for entry in std::fs::read_dir(&dir).expect("examples dir") {
            let path = entry.expect("entry").path();
            if path.extension().and_then(|e| e.to_str()) != Some("yaml") {
                continue;
            }
            let loaded = crate::load::load_path(&path).unwrap_or_else(|d| panic!("{d}"));
            let g = gateway(&loaded.config);
            let r = Routing::from_config(&loaded.config);
            let what = path.display();
            assert_eq!(g.name, r.name, "{what}");
            assert_eq!(g.max_attempts, r.max_attempts, "{what}");
            assert_eq!(g.auth_keys.to_vec(), r.auth_keys, "{what}");
            assert_eq!(
                format!("{:?}", g.pinning),
                format!("{:?}", r.provider_pinning),
                "{what}"
            );
            assert_eq!(
                g.responses_store.as_ref().map(|s| (s.kv, s.ttl_seconds)),
                r.responses_store
                    .as_ref()
                    .map(|s| (s.kv.as_str(), s.ttl_seconds)),
                "{what}"
            );
            assert_eq!(g.providers.len(), r.providers.len(), "{what}");
            for (gp, rp) in g.providers.iter().zip(&r.providers) {
                assert_eq!(gp.id, rp.id, "{what}");
                assert_eq!(
                    gp.kind.as_str(),
                    crate::codegen::routing::kind_name(rp.kind),
                    "{what}"
                );
                assert_eq!(gp.base_url, rp.base_url, "{what}");
                assert_eq!(gp.api_keys.to_vec(), rp.api_keys, "{what}");
                assert_eq!(gp.api_version, rp.api_version.as_deref(), "{what}");
                let headers: Vec<(&str, &str)> = rp
                    .headers
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.as_str()))
                    .collect();
                assert_eq!(gp.headers.to_vec(), headers, "{what}");
                assert_eq!(gp.timeout_ms, rp.timeout_ms, "{what}");
            }
            assert_eq!(g.models.len(), r.models.len(), "{what}");
            for (gm, rm) in g.models.iter().zip(&r.models) {
                assert_eq!(gm.name, rm.name, "{what}");
                assert_eq!(strategy(rm.strategy), gm.strategy, "{what}");
                let routes: Vec<(usize, &str, u32)> = rm
                    .routes
                    .iter()
                    .map(|rr| {
                        (
                            r.provider_index(&rr.provider).expect("provider"),
                            rr.model.as_str(),
                            rr.weight,
                        )
                    })
                    .collect();
                let got: Vec<(usize, &str, u32)> = gm
                    .routes
                    .iter()
                    .map(|gr| (gr.provider as usize, gr.model, gr.weight))
                    .collect();
                assert_eq!(got, routes, "{what}");
            }
            seen += 1;
        }
        assert!(seen >= 4, "expected the shipped examples, found {seen}");
    }
}
