//! `apexc init` as a new user runs it: the starter passes `apexc check`, its modeline points at
//! a schema file that exists, and an existing file is never overwritten without --force.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn scratch(label: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../target/test-scratch/init")
        .join(format!("{label}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
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

#[test]
fn default_starter_is_a_mock_gateway_that_checks_clean() {
    let dir = scratch("default");
    let out = apexc(&dir, &["init"]);
    assert!(out.status.success(), "{}", text(&out));
    let check = apexc(&dir, &["check", "proxy.yaml"]);
    assert!(check.status.success(), "{}", text(&check));
    assert!(!text(&check).contains("warning"), "{}", text(&check));
    let yaml = std::fs::read_to_string(dir.join("proxy.yaml")).unwrap();
    let first = yaml.lines().next().unwrap();
    let schema = first
        .strip_prefix("# yaml-language-server: $schema=")
        .expect("modeline first");
    // The schema is written beside the config, so the modeline resolves in the user's own
    // repository, never a path into apexc's.
    assert_eq!(schema, "apex.schema.json");
    let written = std::fs::read_to_string(dir.join(schema)).expect("apex.schema.json written");
    let printed = apexc(&dir, &["schema"]);
    assert_eq!(written, String::from_utf8_lossy(&printed.stdout));
    assert!(yaml.contains("kind: mock"));
}

#[test]
fn chosen_providers_get_base_urls_secret_names_and_next_steps() {
    let dir = scratch("providers");
    let out = apexc(
        &dir,
        &[
            "init",
            "--providers",
            "deepseek,azure,anthropic,openrouter,groq,mock",
            "-o",
            "gw/proxy.yaml",
            "--name",
            "team-gw",
        ],
    );
    let shown = text(&out);
    assert!(out.status.success(), "{shown}");
    assert!(
        shown.contains(
            "GATEWAY_KEY, DEEPSEEK_KEY, AZURE_KEY, ANTHROPIC_KEY, OPENROUTER_KEY, GROQ_KEY"
        ),
        "{shown}"
    );
    let check = apexc(&dir, &["check", "gw/proxy.yaml"]);
    assert!(check.status.success(), "{}", text(&check));
    let c = apexc::load::load_path(&dir.join("gw/proxy.yaml"))
        .unwrap_or_else(|d| panic!("{d}"))
        .config;
    assert_eq!(c.name, "team-gw");
    assert_eq!(
        c.providers["deepseek"].base_url.as_deref(),
        Some("https://api.deepseek.com/v1")
    );
    assert_eq!(
        c.providers["groq"].base_url.as_deref(),
        Some("https://api.groq.com/openai/v1")
    );
    assert_eq!(
        c.providers["openrouter"].base_url.as_deref(),
        Some("https://openrouter.ai/api/v1")
    );
    assert_eq!(
        c.providers["azure"].api_version.as_deref(),
        Some("2025-01-01-preview")
    );
    assert_eq!(
        c.models["default"].routes.len(),
        5,
        "one name over every real provider"
    );

    // `apexc secrets` on the starter names every key as missing.
    let secrets = apexc(&dir, &["secrets", "gw/proxy.yaml"]);
    assert_eq!(secrets.status.code(), Some(1));
    assert!(text(&secrets).contains("6 missing"), "{}", text(&secrets));
}

#[test]
fn refuses_to_overwrite_without_force_and_rejects_unknown_providers() {
    let dir = scratch("overwrite");
    std::fs::write(dir.join("proxy.yaml"), "mine\n").unwrap();
    let out = apexc(&dir, &["init"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).contains("--force"), "{}", text(&out));
    assert_eq!(
        std::fs::read_to_string(dir.join("proxy.yaml")).unwrap(),
        "mine\n"
    );
    let forced = apexc(&dir, &["init", "--force", "--providers", "groq"]);
    assert!(forced.status.success(), "{}", text(&forced));
    assert!(std::fs::read_to_string(dir.join("proxy.yaml"))
        .unwrap()
        .contains("api.groq.com"));

    let unknown = apexc(&dir, &["init", "-o", "x.yaml", "--providers", "deepsek"]);
    assert_eq!(unknown.status.code(), Some(1));
    assert!(
        text(&unknown).contains("unknown provider \"deepsek\""),
        "{}",
        text(&unknown)
    );
    assert!(!dir.join("x.yaml").exists());
}
