//! Golden files: the crate generated from every `examples/*.yaml` (and from
//! `tests/fixtures/every-field.yaml`, which sets every routing field) must equal the copy
//! committed under `compiler/tests/golden/<name>/`, byte for byte.
//!
//! A change to codegen or templates shows up here as a reviewable diff of real output.
//! After an intended change: `UPDATE_GOLDEN=1 cargo test -p apexc --test golden`.
//!
//! The vendored runtime (`vendor/apex-runtime/`) is not kept here: it is the runtime crate's own
//! source, so a golden copy would only repeat `runtime/` and change with every runtime edit.
//! [`vendored_runtime_is_the_runtime_source`] checks it instead.

use apexc::codegen::{generate, slash_path, GeneratedCrate, Options};
use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn examples() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = fs::read_dir(workspace().join("examples"))
        .expect("examples/ exists")
        .map(|e| e.expect("readable dir entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    v.sort();
    assert!(!v.is_empty(), "no examples/*.yaml found");
    v.push(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/every-field.yaml"));
    v
}

fn generate_example(path: &Path) -> GeneratedCrate {
    let loaded = apexc::load::load_path(path)
        .unwrap_or_else(|d| panic!("{} does not load:\n{d}", path.display()));
    let opts = Options {
        source_name: path.file_name().unwrap().to_string_lossy().into_owned(),
    };
    let mut krate =
        generate(&loaded.config, &opts).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    // The lock is one file for every config, reviewed as templates/gateway.Cargo.lock.
    krate
        .files
        .retain(|rel, _| !apexc::codegen::is_vendored(rel) && rel != Path::new("Cargo.lock"));
    krate
}

/// Every file under `dir`, relative, with its content.
fn read_tree(dir: &Path) -> BTreeMap<PathBuf, String> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<PathBuf, String>) {
        let Ok(entries) = fs::read_dir(dir) else {
            return;
        };
        for e in entries {
            let path = e.expect("dir entry").path();
            if path.is_dir() {
                walk(root, &path, out);
            } else {
                let rel = path.strip_prefix(root).unwrap().to_path_buf();
                out.insert(
                    rel,
                    fs::read_to_string(&path).expect("golden files are UTF-8"),
                );
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

#[test]
fn every_example_matches_its_golden_crate() {
    let update = std::env::var_os("UPDATE_GOLDEN").is_some_and(|v| !v.is_empty() && v != "0");
    let mut failures = Vec::new();
    for example in examples() {
        let stem = example.file_stem().unwrap().to_string_lossy().into_owned();
        let golden_dir = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/golden")
            .join(&stem);
        let krate = generate_example(&example);
        if update {
            let _ = fs::remove_dir_all(&golden_dir);
            for (rel, content) in &krate.files {
                let path = golden_dir.join(rel);
                fs::create_dir_all(path.parent().unwrap()).unwrap();
                fs::write(&path, content).unwrap();
            }
            continue;
        }
        let golden = read_tree(&golden_dir);
        for (rel, content) in &krate.files {
            match golden.get(rel) {
                None => failures.push(format!(
                    "{stem}/{}: generated but not in the golden copy",
                    slash_path(rel)
                )),
                Some(expected) if expected != content => {
                    let diff = similar::TextDiff::from_lines(expected.as_str(), content.as_str())
                        .unified_diff()
                        .header(&format!("golden/{stem}/{}", slash_path(rel)), "generated")
                        .to_string();
                    failures.push(diff);
                }
                Some(_) => {}
            }
        }
        for rel in golden.keys().filter(|r| !krate.files.contains_key(*r)) {
            failures.push(format!(
                "{stem}/{}: in the golden copy but no longer generated",
                slash_path(rel)
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "generated crates differ from compiler/tests/golden (if intended: UPDATE_GOLDEN=1 cargo test -p apexc --test golden):\n{}",
        failures.join("\n")
    );
}

/// The crate carries the runtime's files, unchanged, under `vendor/apex-runtime/`, and its
/// Cargo.toml names that copy by a relative path at the runtime's exact version.
#[test]
fn vendored_runtime_is_the_runtime_source() {
    let example = examples().into_iter().next().unwrap();
    let loaded = apexc::load::load_path(&example).unwrap();
    let opts = Options {
        source_name: "proxy.yaml".into(),
    };
    let krate = generate(&loaded.config, &opts).unwrap();
    let runtime = workspace().join("runtime");
    let mut vendored = 0;
    for (rel, content) in &krate.files {
        if let Ok(inner) = rel.strip_prefix("vendor/apex-runtime") {
            let on_disk = fs::read_to_string(runtime.join(inner)).unwrap();
            assert_eq!(
                &on_disk,
                content,
                "vendor/apex-runtime/{}",
                slash_path(inner)
            );
            vendored += 1;
        }
    }
    assert_eq!(vendored, apex_runtime::source::FILES.len());
    assert!(
        runtime.join("src/lib.rs").is_file()
            && krate.get("vendor/apex-runtime/src/lib.rs").is_some()
    );
    let cargo = krate.get("Cargo.toml").unwrap();
    let version = apex_runtime::source::VERSION;
    assert!(
        cargo.contains(&format!(
            "apex-runtime = {{ path = \"vendor/apex-runtime\", version = \"={version}\""
        )),
        "{cargo}"
    );
    assert_eq!(
        version,
        env!("CARGO_PKG_VERSION"),
        "apexc and the runtime it vendors share a version"
    );
}

#[test]
fn generation_is_deterministic() {
    for example in examples() {
        assert_eq!(
            generate_example(&example),
            generate_example(&example),
            "{}",
            example.display()
        );
    }
}

#[test]
fn generated_routes_rs_parses_as_rust() {
    for example in examples() {
        let krate = generate_example(&example);
        for file in ["src/routes.rs", "src/lib.rs"] {
            let text = krate.get(file).expect("generated");
            if let Err(e) = syn::parse_file(text) {
                panic!("{}: {file} does not parse: {e}\n{text}", example.display());
            }
        }
    }
}
