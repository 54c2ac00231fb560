//! The golden `src/routes.rs` files compile against the real `apex-runtime` table types, and
//! the compiled tables say what the same build's `apex-routing.json` says.
//!
//! Each golden `routes.rs` is `include!`d into a module of this test crate (apexc depends on
//! apex-runtime), which type-checks the generated Rust natively without building a worker.
//! `golden.rs` keeps the golden files equal to what apexc generates, so together they show
//! that every example's generated tables compile and mean what the config says, and that
//! `apexc serve` runs exactly these tables.

use apex_runtime::table::{Gateway, Kind, Strategy};
use apexc::codegen::routing::Routing;
use std::path::{Path, PathBuf};

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
mod every_field {
    include!("golden/every-field/src/routes.rs");
}

const GATEWAYS: &[(&str, &Gateway)] = &[
    ("claude-code", &claude_code::GATEWAY),
    ("codex", &codex::GATEWAY),
    ("quickstart", &quickstart::GATEWAY),
    ("seed", &seed::GATEWAY),
    ("every-field", &every_field::GATEWAY),
];

/// The config a golden crate was generated from.
fn config_of(name: &str) -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    match name {
        "every-field" => root.join("tests/fixtures/every-field.yaml"),
        example => root.join("../examples").join(format!("{example}.yaml")),
    }
}

fn recorded_routing(example: &str) -> Routing {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(example)
        .join("apex-routing.json");
    Routing::from_json(&std::fs::read_to_string(&path).unwrap()).unwrap()
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
    examples.push("every-field".into());
    let here: Vec<&str> = GATEWAYS.iter().map(|(n, _)| *n).collect();
    assert_eq!(
        examples, here,
        "add a module for each example to compiler/tests/golden_tables.rs"
    );
}

/// `apexc serve` builds its tables in memory from the same routing record `apexc build` prints
/// as `src/routes.rs`: every field of both, compared through their `Debug` form (which names
/// every field, so a field added to the tables cannot be left out of the comparison).
#[test]
fn serve_runs_the_tables_build_compiles() {
    for (name, compiled) in GATEWAYS {
        let loaded = apexc::load::load_path(&config_of(name)).unwrap_or_else(|d| panic!("{d}"));
        let served = apexc::to_runtime::gateway(&Routing::from_config(&loaded.config));
        assert_eq!(format!("{served:#?}"), format!("{compiled:#?}"), "{name}");
    }
}

/// The fixture does set what the comparison above must see differ from the defaults.
#[test]
fn every_field_fixture_sets_the_non_defaults() {
    let gw = &every_field::GATEWAY;
    assert_eq!(
        (gw.cooldown.default_ms, gw.cooldown.max_ms),
        (7_000, 90_000)
    );
    assert_eq!(gw.pinning, apex_runtime::table::Pinning::Any);
    let (_, openai) = gw.provider("openai").unwrap();
    assert!(openai.native_responses);
    assert_eq!(openai.headers.len(), 2);
    let (_, azure) = gw.provider("azure").unwrap();
    assert_eq!(
        (azure.timeout_ms, azure.api_version),
        (12_000, Some("2025-01-01-preview"))
    );
    let chat = gw.model("chat").unwrap();
    assert_eq!(
        (chat.routes[0].weight, chat.routes[0].max_tokens),
        (3, Some(2048))
    );
    assert_eq!(chat.routes[1].max_tokens, None);
}

/// The `apex-routing.json` each build records (what `apexc diff` reads) holds the same tables
/// the build compiled, and the router's binary search finds every model in them.
#[test]
fn compiled_tables_match_the_routing_record() {
    for (name, compiled) in GATEWAYS {
        let recorded = apexc::to_runtime::gateway(&recorded_routing(name));
        assert_eq!(format!("{recorded:#?}"), format!("{compiled:#?}"), "{name}");
        for m in compiled.models {
            assert!(
                compiled
                    .model(m.name)
                    .is_some_and(|found| std::ptr::eq(found, m)),
                "{name}: {}",
                m.name
            );
        }
        // An unknown name goes nowhere, or to the `*` default where the config has one.
        let default = compiled
            .models
            .iter()
            .find(|m| m.name == "*")
            .map(|m| m.name);
        assert_eq!(
            compiled.model("no-such-model").map(|m| m.name),
            default,
            "{name}"
        );
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
