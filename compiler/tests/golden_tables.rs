//! The golden `src/routes.rs` files compile against the real `apex-runtime` table types, and
//! the compiled tables say what the same build's `apex-routing.json` says.
//!
//! Each golden `routes.rs` is `include!`d into a module of this test crate (apexc depends on
//! apex-runtime), which type-checks the generated Rust natively without building a worker.
//! `golden.rs` keeps the golden files equal to what apexc generates, so together they show
//! that every example's generated tables compile and mean what the config says.

use apex_runtime::table::{Gateway, Kind, Strategy};
use apexc::codegen::routing::{kind_name, strategy_name, Routing};
use std::path::Path;

mod claude_code {
    include!("golden/claude-code/src/routes.rs");
}
mod codex {
    include!("golden/codex/src/routes.rs");
}
mod quickstart {
    include!("golden/quickstart/src/routes.rs");
}
mod seed {
    include!("golden/seed/src/routes.rs");
}

const GATEWAYS: &[(&str, &Gateway)] = &[
    ("claude-code", &claude_code::GATEWAY),
    ("codex", &codex::GATEWAY),
    ("quickstart", &quickstart::GATEWAY),
    ("seed", &seed::GATEWAY),
];

fn recorded_routing(example: &str) -> Routing {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(example)
        .join("apex-routing.json");
    Routing::from_json(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

fn strategy_spelling(s: Strategy) -> &'static str {
    match s {
        Strategy::Random => "random",
        Strategy::RoundRobin => "round-robin",
        Strategy::Weighted => "weighted",
        Strategy::Priority => "priority",
    }
}

#[test]
fn every_example_is_compiled_here() {
    let mut examples: Vec<String> =
        std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
            .map(|p| p.file_stem().unwrap().to_string_lossy().into_owned())
            .collect();
    examples.sort();
    let here: Vec<&str> = GATEWAYS.iter().map(|(n, _)| *n).collect();
    assert_eq!(
        examples, here,
        "add a module for each example to compiler/tests/golden_tables.rs"
    );
}

#[test]
fn compiled_tables_match_the_routing_record() {
    for (example, gw) in GATEWAYS {
        let r = recorded_routing(example);
        assert_eq!(gw.name, r.name, "{example}");
        assert_eq!(gw.auth_keys, r.auth_keys.as_slice(), "{example}");
        assert_eq!(gw.max_attempts, r.max_attempts, "{example}");
        assert_eq!(
            gw.responses_store.as_ref().map(|s| (s.kv, s.ttl_seconds)),
            r.responses_store
                .as_ref()
                .map(|s| (s.kv.as_str(), s.ttl_seconds)),
            "{example}"
        );
        assert_eq!(gw.providers.len(), r.providers.len(), "{example}");
        for (p, rp) in gw.providers.iter().zip(&r.providers) {
            assert_eq!(p.id, rp.id);
            assert_eq!(p.kind.as_str(), kind_name(rp.kind));
            assert_eq!(p.base_url, rp.base_url);
            assert!(!p.base_url.ends_with('/'), "{example}: {}", p.base_url);
            assert_eq!(p.api_keys, rp.api_keys.as_slice());
            assert_eq!(p.api_version, rp.api_version.as_deref());
            assert_eq!(p.timeout_ms, rp.timeout_ms);
        }
        assert_eq!(gw.models.len(), r.models.len(), "{example}");
        for rm in &r.models {
            // Looked up the way the router does (binary search over the sorted slice).
            let m = gw
                .model(&rm.name)
                .unwrap_or_else(|| panic!("{example}: model {} not found", rm.name));
            assert_eq!(strategy_spelling(m.strategy), strategy_name(rm.strategy));
            assert_eq!(m.routes.len(), rm.routes.len());
            for (route, rr) in m.routes.iter().zip(&rm.routes) {
                let provider = gw
                    .providers
                    .get(usize::from(route.provider))
                    .expect("provider index in range");
                assert_eq!(provider.id, rr.provider, "{example}/{}", rm.name);
                assert_eq!(route.model, rr.model);
                assert_eq!(route.weight, rr.weight);
                assert_eq!(
                    gw.provider(&rr.provider).map(|(i, _)| i),
                    Some(route.provider)
                );
            }
        }
        assert!(gw.model("no-such-model").is_none());
    }
}

#[test]
fn seed_tables_apply_the_documented_defaults() {
    let gw = &seed::GATEWAY;
    let r1 = gw.model("DeepSeek-R1").unwrap();
    assert_eq!(r1.strategy, Strategy::Weighted);
    let weights: Vec<(&str, u32)> = r1
        .routes
        .iter()
        .map(|r| (gw.providers[usize::from(r.provider)].id, r.weight))
        .collect();
    assert_eq!(
        weights,
        [
            ("azure", 2),
            ("aliyuncs", 1),
            ("deepinfra", 1),
            ("deepseek", 1)
        ]
    );
    let (_, deepinfra) = gw.provider("deepinfra").unwrap();
    assert_eq!(deepinfra.timeout_ms, 20000);
    let (_, deepseek) = gw.provider("deepseek").unwrap();
    assert_eq!(deepseek.timeout_ms, 30000, "default timeout");
    assert_eq!(
        gw.model("text-embedding-v3").unwrap().strategy,
        Strategy::Random,
        "default strategy"
    );
    assert_eq!(
        gw.responses_store.as_ref().map(|s| s.ttl_seconds),
        Some(86400)
    );
    let names: Vec<&str> = gw.models.iter().map(|m| m.name).collect();
    let mut sorted = names.clone();
    sorted.sort_unstable();
    assert_eq!(names, sorted, "models sorted by name");

    let q = &quickstart::GATEWAY;
    assert!(q.auth_keys.is_empty());
    assert_eq!(q.max_attempts, 3, "default max_attempts");
    assert_eq!(q.providers[0].kind, Kind::Mock);
    assert_eq!(q.providers[0].base_url, "");
    assert!(q.responses_store.is_none());
}
