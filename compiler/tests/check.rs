//! `apexc check`: the bad-config corpus and the command's exit codes.
//!
//! Corpus: every `tests/bad-configs/NAME.yaml` is loaded as `NAME.yaml` (as if a user ran
//! `apexc check NAME.yaml` inside that folder) and what `apexc check` prints there (stderr,
//! then stdout) must equal `NAME.expected` byte for byte. Cases named `warning-*` must load
//! (exit 0, warnings only); every other case must fail with exit 1.
//!
//! After changing a message on purpose, rewrite the expectations with
//!
//! ```text
//! UPDATE_EXPECT=1 cargo test -p apexc --test check
//! ```
//!
//! and review every changed `.expected` file by eye (`git diff compiler/tests/bad-configs`):
//! each message must tell a user what is wrong and how to fix it.

use apexc::cmd::check::report;
use apexc::load::{load_path, load_str};
use apexc::validate::secrets::looks_like_api_key;
use std::path::{Path, PathBuf};
use std::process::Command;

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/bad-configs")
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn corpus() -> Vec<PathBuf> {
    let mut cases: Vec<PathBuf> = std::fs::read_dir(corpus_dir())
        .expect("bad-configs dir")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    cases.sort();
    assert!(cases.len() >= 20, "the corpus lost cases: {cases:?}");
    cases
}

/// What `apexc check NAME.yaml` shows on a terminal, and its exit code.
fn check_output(case: &Path) -> (String, u8) {
    let name = case.file_name().unwrap().to_string_lossy().to_string();
    let src = std::fs::read_to_string(case).unwrap();
    let (out, err, code) = report(&name, &load_str(&name, &src));
    (format!("{err}{out}"), code)
}

#[test]
fn bad_config_corpus_matches_expected_output() {
    let update = std::env::var_os("UPDATE_EXPECT").is_some();
    let mut failures = Vec::new();
    for case in corpus() {
        let (output, code) = check_output(&case);
        let stem = case.file_stem().unwrap().to_string_lossy().to_string();
        let expected_code = if stem.starts_with("warning-") { 0 } else { 1 };
        if code != expected_code {
            failures.push(format!(
                "{stem}: exit {code}, expected {expected_code}\n{output}"
            ));
        }
        let expected_path = case.with_extension("expected");
        if update {
            std::fs::write(&expected_path, &output).unwrap();
            continue;
        }
        let expected = std::fs::read_to_string(&expected_path).unwrap_or_default();
        if output != expected {
            failures.push(format!(
                "{stem}: output differs from {}\n--- expected\n{expected}--- actual\n{output}",
                expected_path.display()
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{}\n(if the new output is right: UPDATE_EXPECT=1 cargo test -p apexc --test check, then review the diff)",
        failures.join("\n")
    );
}

#[test]
fn corpus_output_never_shows_an_api_key() {
    for case in corpus() {
        let src = std::fs::read_to_string(&case).unwrap();
        let (output, _) = check_output(&case);
        let tokens = src.split(|c: char| c.is_whitespace() || "[]{},\"'".contains(c));
        for token in tokens.filter(|t| looks_like_api_key(t)) {
            assert!(
                !output.contains(token),
                "{}: output shows the key {token}:\n{output}",
                case.display()
            );
        }
    }
}

#[test]
fn every_example_loads_without_errors_or_warnings() {
    let mut n = 0;
    for entry in std::fs::read_dir(workspace_root().join("examples")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "yaml") {
            continue;
        }
        n += 1;
        match load_path(&path) {
            Ok(loaded) => assert!(
                loaded.warnings.is_empty(),
                "{}:\n{}",
                path.display(),
                loaded.warnings
            ),
            Err(diags) => panic!("{}:\n{diags}", path.display()),
        }
    }
    assert!(n >= 4, "expected the four examples, found {n}");
}

#[test]
fn loaded_config_has_what_the_file_says() {
    let loaded = load_path(&workspace_root().join("examples/seed.yaml")).unwrap();
    let c = &loaded.config;
    assert_eq!(c.name, "apex-ai-proxy");
    assert_eq!(c.providers["deepseek"].api_keys.len(), 2);
    assert_eq!(c.models["DeepSeek-R1"].routes[0].weight, Some(2));
    assert_eq!(c.responses_store.as_ref().unwrap().ttl_seconds, Some(86400));
    assert_eq!(
        loaded.summary(),
        "4 providers, 4 models, 9 routes, 7 secrets"
    );
}

fn apexc(dir: &Path, args: &[&str]) -> (String, String, i32) {
    let out = Command::new(env!("CARGO_BIN_EXE_apexc"))
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    (
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
        out.status.code().unwrap_or(-1),
    )
}

#[test]
fn binary_prints_ok_summary_and_exits_0_for_a_valid_config() {
    let (out, err, code) = apexc(&workspace_root(), &["check", "examples/seed.yaml"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        out,
        "examples/seed.yaml: ok — 4 providers, 4 models, 9 routes, 7 secrets\n"
    );
    assert_eq!(err, "");
}

#[test]
fn binary_prints_the_corpus_output_and_exits_1_for_a_broken_config() {
    let (out, err, code) = apexc(&corpus_dir(), &["check", "multi-errors-seed-typos.yaml"]);
    assert_eq!(code, 1);
    assert_eq!(out, "");
    let expected =
        std::fs::read_to_string(corpus_dir().join("multi-errors-seed-typos.expected")).unwrap();
    assert_eq!(err, expected);
    assert!(
        err.starts_with("multi-errors-seed-typos.yaml:"),
        "the path is shown as typed:\n{err}"
    );
}

#[test]
fn binary_exits_2_when_the_file_cannot_be_read() {
    let (out, err, code) = apexc(&workspace_root(), &["check", "no/such/proxy.yaml"]);
    assert_eq!(code, 2);
    assert_eq!(out, "");
    assert_eq!(
        err,
        "no/such/proxy.yaml: error: cannot read the file: no such file\n"
    );
}
