//! `apexc build` and `apexc diff` as a user runs them: the real binary, real directories.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn apexc(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_apexc"))
        .args(args)
        .env_remove("NO_COLOR")
        .output()
        .expect("apexc runs")
}

fn code(o: &Output) -> i32 {
    o.status.code().expect("exited normally")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A fresh, empty scratch directory for one test.
fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("build_diff")
        .join(name);
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    dir
}

fn example(name: &str) -> String {
    fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../examples")
            .join(name),
    )
    .unwrap()
}

/// Every file under `dir` (relative path → bytes), including hidden ones.
fn tree(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<PathBuf, Vec<u8>>) {
        for e in fs::read_dir(dir).unwrap() {
            let path = e.unwrap().path();
            if path.is_dir() {
                walk(root, &path, out);
            } else {
                out.insert(
                    path.strip_prefix(root).unwrap().to_path_buf(),
                    fs::read(&path).unwrap(),
                );
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn build(config: &Path, out: &Path) -> Output {
    apexc(&["build", s(config), "-o", s(out)])
}

#[test]
fn building_twice_gives_identical_files_and_keeps_mtimes() {
    let dir = scratch("twice");
    let config = dir.join("proxy.yaml");
    fs::write(&config, example("seed.yaml")).unwrap();
    let out = dir.join("gateway");

    let first = build(&config, &out);
    assert_eq!(code(&first), 0, "{}", stderr(&first));
    assert!(
        stdout(&first).contains("npx wrangler secret put AZURE_KEY"),
        "{}",
        stdout(&first)
    );
    assert!(stdout(&first).contains("npx wrangler deploy"));
    let before = tree(&out);
    let mtime = fs::metadata(out.join("src/routes.rs"))
        .unwrap()
        .modified()
        .unwrap();

    let second = build(&config, &out);
    assert_eq!(code(&second), 0, "{}", stderr(&second));
    assert!(
        stdout(&second).contains("up to date"),
        "{}",
        stdout(&second)
    );
    assert_eq!(tree(&out), before);
    assert_eq!(
        fs::metadata(out.join("src/routes.rs"))
            .unwrap()
            .modified()
            .unwrap(),
        mtime
    );

    // The same config in another directory gives the same bytes.
    let other = dir.join("gateway2");
    assert_eq!(code(&build(&config, &other)), 0);
    assert_eq!(tree(&other), before);

    for file in [
        "Cargo.toml",
        "wrangler.toml",
        "package.json",
        "README.md",
        ".gitignore",
        "src/lib.rs",
        "src/routes.rs",
        "apex-routing.json",
        ".apexc-manifest",
    ] {
        assert!(before.contains_key(Path::new(file)), "{file} not generated");
    }
    // No staging directory left beside the output.
    let leftovers: Vec<_> = fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .filter(|n| n.to_string_lossy().contains("apexc-tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn rebuild_replaces_generated_files_and_keeps_the_users() {
    let dir = scratch("keep");
    let config = dir.join("proxy.yaml");
    fs::write(&config, example("quickstart.yaml")).unwrap();
    let out = dir.join("gateway");
    assert_eq!(code(&build(&config, &out)), 0);

    // What a user's checkout accumulates.
    for (path, content) in [
        ("node_modules/wrangler/package.json", "{}"),
        ("target/release/x", "bin"),
        ("build/worker/shim.mjs", "// built"),
        (".wrangler/state/kv", "state"),
        (".dev.vars", "GATEWAY_KEY=sk-local\n"),
    ] {
        let p = out.join(path);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, content).unwrap();
    }
    // A file a previous apexc generated that this one no longer does.
    fs::write(out.join("stale.txt"), "old").unwrap();
    let manifest = out.join(".apexc-manifest");
    let mut m = fs::read_to_string(&manifest).unwrap();
    m.push_str("stale.txt\n");
    fs::write(&manifest, m).unwrap();

    fs::write(
        &config,
        example("quickstart.yaml").replace("demo-embed:", "demo-embeddings:"),
    )
    .unwrap();
    let o = build(&config, &out);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(stdout(&o).contains("1 removed"), "{}", stdout(&o));

    assert!(fs::read_to_string(out.join("src/routes.rs"))
        .unwrap()
        .contains("\"demo-embeddings\""));
    assert!(!out.join("stale.txt").exists());
    assert_eq!(
        fs::read_to_string(out.join(".dev.vars")).unwrap(),
        "GATEWAY_KEY=sk-local\n"
    );
    for kept in [
        "node_modules/wrangler/package.json",
        "target/release/x",
        "build/worker/shim.mjs",
        ".wrangler/state/kv",
    ] {
        assert!(out.join(kept).exists(), "{kept} was removed");
    }
}

const BROKEN: &str = "name: broken\nproviders:\n  p:\n    kind: openai\n    base_url: https://example.com/v1\n    api_keys: [{ secret: P_KEY }]\nmodels:\n  m:\n    routes:\n      - { provider: nope, model: x }\n";

#[test]
fn a_broken_config_leaves_an_existing_output_untouched() {
    let dir = scratch("broken-existing");
    let config = dir.join("proxy.yaml");
    fs::write(&config, example("codex.yaml")).unwrap();
    let out = dir.join("gateway");
    assert_eq!(code(&build(&config, &out)), 0);
    let before = tree(&out);

    fs::write(&config, BROKEN).unwrap();
    let o = build(&config, &out);
    assert_eq!(code(&o), 1);
    let err = stderr(&o);
    assert!(
        err.contains("proxy.yaml:10:"),
        "diagnostic with file:line:col expected:\n{err}"
    );
    assert!(err.contains("nope"), "{err}");
    assert_eq!(tree(&out), before);
    let leftovers: Vec<_> = fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .filter(|n| n.to_string_lossy().contains("apexc-tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn a_broken_config_creates_no_output_directory() {
    let dir = scratch("broken-missing");
    let config = dir.join("proxy.yaml");
    fs::write(&config, BROKEN).unwrap();
    let out = dir.join("nested/gateway");
    let o = build(&config, &out);
    assert_eq!(code(&o), 1);
    assert!(!out.exists());
    assert!(!dir.join("nested").exists());
}

#[test]
fn build_refuses_to_overwrite_a_directory_it_did_not_create() {
    let dir = scratch("foreign");
    let config = dir.join("proxy.yaml");
    fs::write(&config, example("quickstart.yaml")).unwrap();
    let out = dir.join("mine");
    fs::create_dir_all(&out).unwrap();
    fs::write(out.join("Cargo.toml"), "[package]\nname = \"mine\"\n").unwrap();

    let o = build(&config, &out);
    assert_eq!(code(&o), 1);
    assert!(stderr(&o).contains("--force"), "{}", stderr(&o));
    assert_eq!(
        fs::read_to_string(out.join("Cargo.toml")).unwrap(),
        "[package]\nname = \"mine\"\n"
    );
    assert!(!out.join("src").exists());

    let o = apexc(&["build", s(&config), "-o", s(&out), "--force"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(fs::read_to_string(out.join("Cargo.toml"))
        .unwrap()
        .contains("AI gateway `quickstart` generated by apexc"));
}

#[test]
fn no_secret_value_reaches_the_generated_files() {
    let dir = scratch("secrets");
    let config = dir.join("proxy.yaml");
    fs::write(&config, example("seed.yaml")).unwrap();
    let fakes = [
        ("GATEWAY_KEY", "sk-gw-FAKE-7f3a9c1e"),
        ("AZURE_KEY", "az-FAKE-0d1e2f3a4b5c"),
        ("ALIYUN_KEY_1", "sk-aliyun-FAKE-111"),
        ("ALIYUN_KEY_2", "sk-aliyun-FAKE-222"),
        ("DEEPINFRA_KEY", "di-FAKE-333"),
        ("DEEPSEEK_KEY_1", "sk-ds-FAKE-444"),
        ("DEEPSEEK_KEY_2", "sk-ds-FAKE-555"),
    ];
    let dev_vars: String = fakes
        .iter()
        .map(|(k, v)| format!("{k}={v}-devvars\n"))
        .collect();
    fs::write(dir.join(".dev.vars"), dev_vars).unwrap();
    let out = dir.join("gateway");
    let o = Command::new(env!("CARGO_BIN_EXE_apexc"))
        .args(["build", s(&config), "-o", s(&out)])
        .envs(fakes.iter().copied())
        .output()
        .unwrap();
    assert_eq!(code(&o), 0, "{}", stderr(&o));

    let mut everything = String::from_utf8_lossy(&o.stdout).into_owned();
    everything.push_str(&String::from_utf8_lossy(&o.stderr));
    for (path, bytes) in tree(&out) {
        everything.push_str(&format!("\n{}\n", path.display()));
        everything.push_str(&String::from_utf8_lossy(&bytes));
    }
    for (name, value) in fakes {
        assert!(
            !everything.contains(value),
            "the value of {name} leaked into the build output"
        );
        assert!(
            everything.contains(name),
            "secret name {name} should be listed"
        );
    }
    assert!(
        !everything.contains("FAKE"),
        "a secret value leaked into the build output"
    );
    // The README tells how to set each secret.
    let readme = fs::read_to_string(out.join("README.md")).unwrap();
    for (name, _) in fakes {
        assert!(
            readme.contains(&format!("npx wrangler secret put {name}")),
            "README lacks {name}"
        );
    }
}

// ---- diff ----

fn diff(config: &Path, out: &Path) -> Output {
    apexc(&["diff", s(config), s(out)])
}

/// A built seed crate plus its config, for the diff tests.
fn built_seed(name: &str) -> (PathBuf, PathBuf) {
    let dir = scratch(name);
    let config = dir.join("proxy.yaml");
    fs::write(&config, example("seed.yaml")).unwrap();
    let out = dir.join("gateway");
    assert_eq!(code(&build(&config, &out)), 0);
    (config, out)
}

#[test]
fn diff_exits_0_when_nothing_changes() {
    let (config, out) = built_seed("diff-same");
    let o = diff(&config, &out);
    assert_eq!(code(&o), 0, "{}{}", stdout(&o), stderr(&o));
    assert!(stdout(&o).contains("up to date"), "{}", stdout(&o));
}

#[test]
fn diff_reports_a_changed_weight() {
    let (config, out) = built_seed("diff-weight");
    let before = tree(&out);
    fs::write(
        &config,
        example("seed.yaml").replace(
            "model: DeepSeek-R1, weight: 2",
            "model: DeepSeek-R1, weight: 5",
        ),
    )
    .unwrap();
    let o = diff(&config, &out);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let text = stdout(&o);
    assert!(text.contains("--- "), "{text}");
    assert!(text.contains("/src/routes.rs\n+++ generated\n"), "{text}");
    assert!(
        text.contains("-                    weight: 2,") || text.contains("weight: 2"),
        "{text}"
    );
    assert!(
        text.contains("~ model DeepSeek-R1: route azure/DeepSeek-R1 weight 2 -> 5"),
        "{text}"
    );
    assert!(
        !text.contains('\x1b'),
        "no colour when stdout is not a terminal"
    );
    // diff writes nothing.
    assert_eq!(tree(&out), before);
}

#[test]
fn diff_reports_an_added_model_and_a_removed_provider() {
    let (config, out) = built_seed("diff-model-provider");
    let yaml = example("seed.yaml")
        .replace(
            "  deepinfra:\n    kind: openai\n    base_url: https://api.deepinfra.com/v1/openai\n    api_keys: [{ secret: DEEPINFRA_KEY }]\n    timeout_ms: 20000\n",
            "",
        )
        .replace("      - { provider: deepinfra, model: deepseek-ai/DeepSeek-R1 }\n", "")
        .replace("      - { provider: deepinfra, model: deepseek-ai/DeepSeek-V3 }\n", "")
        .replace(
            "  text-embedding-v3:\n",
            "  qwen-max:\n    routes:\n      - { provider: aliyuncs, model: qwen-max }\n  text-embedding-v3:\n",
        );
    assert!(!yaml.contains("deepinfra"), "test edit incomplete");
    fs::write(&config, yaml).unwrap();
    let o = diff(&config, &out);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let text = stdout(&o);
    assert!(
        text.contains("+ model qwen-max (random): aliyuncs/qwen-max"),
        "{text}"
    );
    assert!(
        text.contains("- provider deepinfra (openai, https://api.deepinfra.com/v1/openai, 1 key)"),
        "{text}"
    );
    assert!(
        text.contains("~ model DeepSeek-R1: - route deepinfra/deepseek-ai/DeepSeek-R1"),
        "{text}"
    );
    assert!(text.contains("README.md"), "{text}");
}

#[test]
fn diff_colours_only_when_asked() {
    let (config, out) = built_seed("diff-colour");
    fs::write(
        &config,
        example("seed.yaml").replace("max_attempts: 3", "max_attempts: 4"),
    )
    .unwrap();
    let plain = apexc(&["diff", s(&config), s(&out), "--color", "never"]);
    assert_eq!(code(&plain), 1);
    assert!(
        stdout(&plain).contains("~ max_attempts 3 -> 4"),
        "{}",
        stdout(&plain)
    );
    assert!(!stdout(&plain).contains('\x1b'));
    let coloured = apexc(&["diff", s(&config), s(&out), "--color", "always"]);
    assert_eq!(code(&coloured), 1);
    assert!(
        stdout(&coloured).contains("\x1b[33m~ max_attempts 3 -> 4\x1b[0m"),
        "{}",
        stdout(&coloured)
    );
}

#[test]
fn diff_exits_2_on_a_broken_config_or_a_missing_directory() {
    let (config, out) = built_seed("diff-errors");
    let missing = out.with_file_name("nowhere");
    let o = diff(&config, &missing);
    assert_eq!(code(&o), 2);
    assert!(stderr(&o).contains("does not exist"), "{}", stderr(&o));
    assert!(stderr(&o).contains("apexc build"), "{}", stderr(&o));

    fs::write(&config, BROKEN).unwrap();
    let o = diff(&config, &out);
    assert_eq!(code(&o), 2);
    assert!(stderr(&o).contains("proxy.yaml:10:"), "{}", stderr(&o));
    assert!(stdout(&o).is_empty());
}

#[test]
fn help_teaches_with_examples() {
    for cmd in ["build", "diff"] {
        let o = apexc(&[cmd, "--help"]);
        assert_eq!(code(&o), 0);
        let text = stdout(&o);
        assert!(text.contains("Examples:"), "{cmd} --help:\n{text}");
        assert!(
            text.contains(&format!("apexc {cmd} proxy.yaml")),
            "{cmd} --help:\n{text}"
        );
    }
}
