//! `apexc import` on the seed's own config shapes (tests/fixtures/seed/*/wrangler-config.js),
//! run as a user runs it: the real binary, the machine's node, files in a scratch directory.
//!
//! What a migrating user relies on: the output passes `apexc check`; every key is in `.dev.vars`
//! (0600) under the name the YAML references and nowhere else; nothing prints a key; running it
//! again does not duplicate `.dev.vars` lines; per-route overrides become their own providers.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/seed")
        .join(name)
        .join("wrangler-config.js")
}

/// A fresh scratch directory under target/ (one per test: `label`) holding a copy of the fixture.
fn scratch_for(label: &str, name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../target/test-scratch/import")
        .join(format!("{label}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(fixture(name), dir.join("wrangler-config.js")).unwrap();
    dir
}

fn scratch(name: &str) -> PathBuf {
    scratch_for(name, name)
}

fn apexc(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_apexc"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("apexc runs")
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Every key value in a fixture (they all contain FAKEKEY).
fn fixture_keys(name: &str) -> Vec<String> {
    let src = std::fs::read_to_string(fixture(name)).unwrap();
    src.split(['\'', '"'])
        .filter(|s| s.contains("FAKEKEY"))
        .map(str::to_string)
        .collect()
}

fn dev_vars(dir: &Path) -> BTreeMap<String, String> {
    let text = std::fs::read_to_string(dir.join(".dev.vars")).unwrap();
    let parsed = apexc::devvars::parse(&text);
    assert!(parsed.malformed.is_empty(), "{:?}", parsed.malformed);
    parsed.vars.into_iter().collect()
}

/// Runs the import, checks what every import must satisfy, and returns the loaded config.
fn import_ok(name: &str) -> (PathBuf, apexc::config::Config, String) {
    let dir = scratch(name);
    let out = apexc(&dir, &["import", "wrangler-config.js"]);
    let shown = text(&out);
    assert!(out.status.success(), "apexc import failed:\n{shown}");

    let check = apexc(&dir, &["check", "proxy.yaml"]);
    assert!(
        check.status.success(),
        "the imported config fails apexc check:\n{}",
        text(&check)
    );

    let yaml = std::fs::read_to_string(dir.join("proxy.yaml")).unwrap();
    let vars = dev_vars(&dir);
    for key in fixture_keys(name) {
        assert!(
            !shown.contains(&key),
            "apexc import printed a key value:\n{shown}"
        );
        assert!(
            !yaml.contains(&key),
            "a key value is in proxy.yaml:\n{yaml}"
        );
        assert!(
            vars.values().any(|v| *v == key),
            "key from the fixture is not in .dev.vars"
        );
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.join(".dev.vars"))
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o600, ".dev.vars must be readable by its owner only");
    }
    let loaded = apexc::load::load_path(&dir.join("proxy.yaml")).unwrap_or_else(|d| panic!("{d}"));
    // Every secret the YAML names has its value in .dev.vars, and nothing else is there.
    let names: Vec<String> = loaded
        .secret_names()
        .into_iter()
        .map(str::to_string)
        .collect();
    assert_eq!(
        vars.keys().cloned().collect::<Vec<_>>().len(),
        names.len(),
        "{vars:?} vs {names:?}"
    );
    for n in &names {
        assert!(
            vars.contains_key(n),
            "{n} is referenced but not in .dev.vars"
        );
    }
    assert!(
        yaml.starts_with("# yaml-language-server: $schema="),
        "{yaml}"
    );
    (dir, loaded.config, shown)
}

#[test]
fn seed_module_exports_with_provider_config_and_route_overrides() {
    let (dir, c, shown) = import_ok("module-exports");
    assert_eq!(c.name, "apex-ai-proxy");
    // The seed's `model#provider` keeps working, within each model's own routes.
    assert_eq!(
        c.provider_pinning,
        Some(apexc::config::ProviderPinning::Routes)
    );
    assert!(shown.contains("provider_pinning: routes"), "{shown}");
    let ids: Vec<&str> = c.providers.keys().map(String::as_str).collect();
    assert_eq!(ids, ["aliyuncs", "azure", "azure-2", "deepinfra"]);
    let azure = &c.providers["azure"];
    assert_eq!(azure.kind, apexc::config::ProviderKind::AzureOpenAi);
    assert_eq!(
        azure.base_url.as_deref(),
        Some("https://your-resource-name.azure.com/openai/deployments/:model")
    );
    assert_eq!(
        c.providers["azure-2"].base_url.as_deref(),
        Some("https://your-custom-endpoint.azure.com/openai/deployments/:model")
    );
    let secrets = |id: &str| {
        c.providers[id]
            .api_keys
            .iter()
            .map(|k| k.secret.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(secrets("aliyuncs"), ["ALIYUNCS_KEY_1", "ALIYUNCS_KEY_2"]);
    assert_eq!(secrets("deepinfra"), ["DEEPINFRA_KEY_1"]);
    assert_eq!(secrets("azure-2"), ["AZURE_2_KEY_1"]);
    assert_eq!(c.auth.as_ref().unwrap().keys[0].secret, "GATEWAY_KEY");
    assert_eq!(c.responses_store.as_ref().unwrap().kv, "RESPONSE_KV");
    let r1: Vec<(String, String)> = c.models["DeepSeek-R1"]
        .routes
        .iter()
        .map(|r| (r.provider.clone(), r.model.clone()))
        .collect();
    assert_eq!(
        r1,
        [
            ("aliyuncs".into(), "deepseek-r1".into()),
            ("deepinfra".into(), "deepseek-ai/DeepSeek-R1".into()),
            ("azure-2".into(), "DeepSeek-R1".into())
        ]
    );
    // It says what it did, by name.
    assert!(
        shown.contains("azure-2") && shown.contains("overrides base_url and api_key"),
        "{shown}"
    );
    assert!(shown.contains("DEEPINFRA_KEY_1"), "{shown}");
    assert!(
        shown.contains("your-resource-name"),
        "the :name placeholder is pointed out:\n{shown}"
    );

    // Again, over its own output: refused without --force; with it, .dev.vars gains nothing.
    let before = std::fs::read_to_string(dir.join(".dev.vars")).unwrap();
    let again = apexc(&dir, &["import", "wrangler-config.js"]);
    assert_eq!(again.status.code(), Some(1), "{}", text(&again));
    assert!(text(&again).contains("already exists"));
    let forced = apexc(&dir, &["import", "wrangler-config.js", "--force"]);
    assert!(forced.status.success(), "{}", text(&forced));
    assert_eq!(
        std::fs::read_to_string(dir.join(".dev.vars")).unwrap(),
        before
    );
    assert!(text(&forced).contains("names kept"), "{}", text(&forced));
}

#[test]
fn seed_as_es_module_exports() {
    let (_dir, c, _) = import_ok("export-const");
    assert_eq!(
        c.name, "my-apex-proxy",
        "config.name from `export default`, made a valid worker name"
    );
    let azure = &c.providers["azure"];
    assert_eq!(
        azure.base_url.as_deref(),
        Some("https://your-azure.openai.azure.com/openai/deployments/:model")
    );
    assert_eq!(azure.api_version.as_deref(), Some("2025-01-01-preview"));
    assert_eq!(c.providers["deepseek"].api_keys.len(), 2);
    assert_eq!(c.models["claude-3-sonnet"].routes.len(), 2);
}

#[test]
fn seed_plain_consts_without_exports_and_per_route_keys() {
    let (_dir, c, _) = import_ok("plain-const");
    // Routes repeating the same endpoint and key share one provider; Azure deployment URLs
    // become one azure-openai provider with `:model`, each route naming its deployment.
    let ids: Vec<&str> = c.providers.keys().map(String::as_str).collect();
    assert_eq!(ids, ["alibabacloud", "aliyuncs", "azure"]);
    assert_eq!(
        c.providers["azure"].base_url.as_deref(),
        Some("https://min-us-east2.openai.azure.com/openai/deployments/:model")
    );
    assert_eq!(c.models["gpt-4o-mini"].routes[0].provider, "azure");
    assert_eq!(c.models["gpt-4o-mini"].routes[0].model, "gpt-4o-mini");
    assert_eq!(
        c.auth.as_ref().unwrap().keys[0].secret,
        "GATEWAY_KEY",
        "from config.vars.SERVICE_API_KEY"
    );
}

#[test]
fn existing_dev_vars_are_kept_and_appended_to() {
    let dir = scratch_for("existing-dev-vars", "plain-const");
    std::fs::write(
        dir.join(".dev.vars"),
        "# mine\nOTHER=keep-me\nGATEWAY_KEY=a-different-value",
    )
    .unwrap();
    let out = apexc(&dir, &["import", "wrangler-config.js"]);
    assert!(out.status.success(), "{}", text(&out));
    let vars = dev_vars(&dir);
    assert_eq!(vars["OTHER"], "keep-me");
    assert_eq!(
        vars["GATEWAY_KEY"], "a-different-value",
        "an existing name is never overwritten"
    );
    assert_eq!(vars["GATEWAY_KEY_2"], "sk-FAKEKEY-gateway-0003");
    let yaml = std::fs::read_to_string(dir.join("proxy.yaml")).unwrap();
    assert!(yaml.contains("{ secret: GATEWAY_KEY_2 }"), "{yaml}");
    assert!(std::fs::read_to_string(dir.join(".dev.vars"))
        .unwrap()
        .starts_with("# mine\n"));
}

#[test]
fn a_broken_file_fails_without_quoting_its_source() {
    let dir = scratch_for("broken", "plain-const");
    std::fs::write(dir.join("wrangler-config.js"), "const modelProviderConfig = {\n  m: { providers: [ { api_key: 'sk-FAKEKEY-broken-0001' oops } ] }\n};\n").unwrap();
    let out = apexc(&dir, &["import", "wrangler-config.js"]);
    assert_eq!(out.status.code(), Some(1));
    let shown = text(&out);
    assert!(shown.contains("SyntaxError"), "{shown}");
    assert!(
        !shown.contains("FAKEKEY"),
        "the error quoted the key:\n{shown}"
    );
    assert!(!dir.join("proxy.yaml").exists() && !dir.join(".dev.vars").exists());
}
