//! A diagnostic may show the line a problem is on, but never a secret-looking value in full:
//! not in a YAML syntax error's snippet (where validation, which knows where keys are, never
//! ran), not in a `base_url` that carries `?key=`, not quoted back in a message.

use apexc::load::load_str;

const KEY: &str = "sk-proj-Abc123Def456Ghi789";
const TAIL: &str = "Abc123Def456";

fn rendered(src: &str) -> String {
    match load_str("proxy.yaml", src) {
        Ok(l) => l.warnings.to_string(),
        Err(d) => d.to_string(),
    }
}

#[test]
fn a_yaml_syntax_error_snippet_masks_a_pasted_key() {
    let src = format!(
        "name: gw\nproviders:\n  deepseek:\n    kind: openai\n    api_keys: [{KEY}, {{ secret: K ]\n"
    );
    let out = rendered(&src);
    assert!(out.contains("YAML syntax error"), "{out}");
    assert!(
        out.contains("api_keys: ["),
        "the line is still shown: {out}"
    );
    assert!(!out.contains(TAIL), "{out}");
}

#[test]
fn a_key_in_a_base_url_query_is_masked() {
    let src = format!(
        "name: gw\nauth: {{ keys: [{{ secret: GW }}] }}\nproviders:\n  g:\n    kind: openai\n    base_url: https://generativelanguage.example.com/v1?key={KEY}\n    api_keys: [{{ secret: G_KEY }}]\nmodels:\n  m:\n    routes: [{{ provider: g, model: x }}]\n"
    );
    let out = rendered(&src);
    assert!(out.contains("query string"), "{out}");
    assert!(
        out.contains("https://generativelanguage.example.com/v1?key="),
        "{out}"
    );
    assert!(!out.contains(TAIL), "{out}");
}

#[test]
fn a_key_quoted_back_in_a_message_is_masked() {
    let src = format!(
        "name: gw\nauth: {{ keys: [{{ secret: GW }}] }}\nproviders:\n  g:\n    kind: openai\n    base_url: {KEY}\n    api_keys: [{{ secret: G_KEY }}]\nmodels:\n  m:\n    routes: [{{ provider: g, model: x }}]\n"
    );
    let out = rendered(&src);
    assert!(out.contains("base_url"), "{out}");
    assert!(!out.contains(TAIL), "{out}");
}
