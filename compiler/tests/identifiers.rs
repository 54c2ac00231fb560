//! Names that reach generated code, comments, terminals and CI logs (provider ids, model names,
//! secret and header names, anything in the config) cannot carry control, bidirectional or
//! format characters: `apexc check` says so with a place, its output never prints one raw, and
//! the generated crate escapes whatever it is handed.

use apexc::codegen::routes::routes_rs;
use apexc::codegen::routing::Routing;
use apexc::load::load_str;

const RLO: char = '\u{202e}';

fn config(provider_id: &str, model: &str, upstream_model: &str) -> String {
    format!(
        "name: gw\nproviders:\n  \"{provider_id}\":\n    kind: mock\nmodels:\n  \"{model}\":\n    routes: [{{ provider: \"{provider_id}\", model: \"{upstream_model}\" }}]\n"
    )
}

#[test]
fn a_provider_id_with_a_bidi_override_is_refused_at_check_time() {
    let src = config(&format!("mock{RLO}gpj.exe"), "demo", "mock-1");
    let diags = load_str("proxy.yaml", &src).expect_err("must not load");
    let out = diags.to_string();
    assert!(out.contains("proxy.yaml:3:3: error:"), "{out}");
    assert!(out.contains("U+202E"), "{out}");
    assert!(
        !out.contains(RLO),
        "the diagnostic itself must not carry the character: {out}"
    );
}

#[test]
fn control_and_format_characters_are_refused_in_every_name() {
    for bad in [
        '\u{0007}', '\u{200b}', '\u{2066}', '\u{feff}', '\u{2028}', '\u{0085}',
    ] {
        // Written as YAML escapes: YAML itself refuses most of them raw.
        let esc = format!("\\u{:04x}", bad as u32);
        let tries = [
            config("mock", &format!("de{esc}mo"), "mock-1"),
            config("mock", "demo", &format!("mock{esc}1")),
        ];
        for src in tries {
            let diags = load_str("proxy.yaml", &src)
                .expect_err(&format!("U+{:04X} must not load", bad as u32));
            let out = diags.to_string();
            assert!(out.contains(&format!("U+{:04X}", bad as u32)), "{out}");
            assert!(!out.contains(bad), "{out}");
        }
    }
}

#[test]
fn ordinary_unicode_names_still_load() {
    let src = config("mock", "通义千问-Max é", "mock-1");
    load_str("proxy.yaml", &src).unwrap_or_else(|d| panic!("{d}"));
}

/// Codegen's own guard, for a routing table that did not come through the loader.
#[test]
fn generated_comments_never_carry_raw_control_characters() {
    let loaded = load_str("proxy.yaml", &config("mock", "demo", "mock-1")).unwrap();
    let mut routing = Routing::from_config(&loaded.config);
    routing.providers[0].id = format!("mock{RLO}\n// injected\u{2028}line");
    routing.models[0].routes[0].provider = routing.providers[0].id.clone();
    let rs = routes_rs(&routing, "proxy.yaml").unwrap();
    assert!(!rs.contains(RLO), "{rs}");
    assert!(!rs.contains('\u{2028}'), "{rs}");
    assert!(
        !rs.lines()
            .any(|l| l.trim_start().starts_with("// injected")),
        "{rs}"
    );
    syn::parse_file(&rs).unwrap_or_else(|e| panic!("{e}\n{rs}"));
}
