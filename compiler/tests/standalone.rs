//! The generated crate is an artifact: it stands on its own wherever it is copied.
//!
//! * `apexc build` run from two different directories, into two different places, writes
//!   byte-identical trees that name no path of this machine;
//! * the crate resolves `apex-runtime` inside itself (cargo metadata), with the Cargo.lock apexc
//!   wrote as is (`--locked`: a stale `templates/gateway.Cargo.lock` fails here);
//! * an apexc upgrade shows in `apexc diff` as one routing-summary line, not as file diffs of
//!   the vendored runtime, and a rebuild replaces the runtime cleanly.
//!
//! Building the copy to wasm and serving it is the e2e suite's job (tests/e2e/test_standalone.py).

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn apexc_in(cwd: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_apexc"))
        .args(args)
        .current_dir(cwd)
        .env_remove("NO_COLOR")
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

fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("standalone")
        .join(name);
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    dir
}

fn workspace() -> PathBuf {
    fs::canonicalize(Path::new(env!("CARGO_MANIFEST_DIR")).join("..")).unwrap()
}

fn tree(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<PathBuf, Vec<u8>>) {
        for e in fs::read_dir(dir).unwrap() {
            let path = e.unwrap().path();
            if path.is_dir() {
                walk(root, &path, out);
            } else {
                let rel = path.strip_prefix(root).unwrap().to_path_buf();
                out.insert(rel, fs::read(&path).unwrap());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

/// The example config copied into `dir`, so each build reads it from a different place.
fn config_in(dir: &Path, example: &str) -> PathBuf {
    let path = dir.join("proxy.yaml");
    fs::copy(workspace().join("examples").join(example), &path).unwrap();
    path
}

#[test]
fn two_builds_in_two_places_are_byte_identical_and_name_no_machine_path() {
    let a = scratch("identical-a");
    let b = scratch("identical-b").join("two/levels");
    fs::create_dir_all(&b).unwrap();
    let out_a = a.join("gateway");
    let out_b = b.join("deeper/gateway");
    // Relative paths from one directory, absolute ones from another.
    config_in(&a, "codex.yaml");
    let o = apexc_in(&a, &["build", "proxy.yaml", "-o", "gateway"]);
    assert!(o.status.success(), "{}", text(&o));
    let cfg_b = config_in(&b, "codex.yaml");
    let o = apexc_in(
        &b,
        &[
            "build",
            cfg_b.to_str().unwrap(),
            "-o",
            out_b.to_str().unwrap(),
        ],
    );
    assert!(o.status.success(), "{}", text(&o));

    let (ta, tb) = (tree(&out_a), tree(&out_b));
    assert_eq!(ta.keys().collect::<Vec<_>>(), tb.keys().collect::<Vec<_>>());
    for (rel, bytes) in &ta {
        assert!(
            bytes == &tb[rel],
            "{} differs between the two builds",
            rel.display()
        );
    }
    assert!(ta.contains_key(Path::new("Cargo.lock")));
    assert!(ta.contains_key(Path::new("vendor/apex-runtime/src/lib.rs")));

    // No path of this machine: not the checkout, not the scratch dirs, not the home dir.
    let home = std::env::var("HOME").unwrap_or_default();
    let needles = [
        workspace().to_string_lossy().into_owned(),
        a.to_string_lossy().into_owned(),
        b.to_string_lossy().into_owned(),
        home,
    ];
    for (rel, bytes) in &ta {
        let s = String::from_utf8_lossy(bytes);
        for n in needles.iter().filter(|n| n.len() > 1) {
            assert!(!s.contains(n.as_str()), "{} names {n}", rel.display());
        }
    }
}

#[test]
fn cargo_resolves_the_runtime_inside_the_crate_with_the_lock_as_written() {
    let dir = scratch("metadata");
    let cfg = config_in(&dir, "seed.yaml");
    let out = dir.join("gateway");
    let o = apexc_in(
        &dir,
        &["build", cfg.to_str().unwrap(), "-o", out.to_str().unwrap()],
    );
    assert!(o.status.success(), "{}", text(&o));
    let lock_before = fs::read(out.join("Cargo.lock")).unwrap();

    let o = Command::new(env!("CARGO"))
        .args(["metadata", "--format-version", "1", "--locked"])
        .current_dir(&out)
        .env_remove("CARGO_TARGET_DIR")
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "cargo metadata --locked failed: templates/gateway.Cargo.lock is stale \
         (bash scripts/update-gateway-lock.sh)?\n{}",
        text(&o)
    );
    let meta: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let out_abs = fs::canonicalize(&out).unwrap();
    let runtime = meta["packages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "apex-runtime")
        .expect("apex-runtime is a package of the crate");
    let manifest = PathBuf::from(runtime["manifest_path"].as_str().unwrap());
    assert_eq!(
        manifest,
        out_abs.join("vendor/apex-runtime/Cargo.toml"),
        "apex-runtime must come from the crate's own vendor/ copy"
    );
    assert!(!manifest.starts_with(workspace().join("runtime")));
    assert_eq!(runtime["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(
        fs::read(out.join("Cargo.lock")).unwrap(),
        lock_before,
        "cargo rewrote the lock"
    );
}

#[test]
fn a_runtime_upgrade_is_one_summary_line_and_a_rebuild_replaces_it() {
    let dir = scratch("upgrade");
    let cfg = config_in(&dir, "quickstart.yaml");
    let out = dir.join("gateway");
    let cfg_s = cfg.to_str().unwrap();
    let out_s = out.to_str().unwrap();
    assert!(apexc_in(&dir, &["build", cfg_s, "-o", out_s])
        .status
        .success());

    // What an older apexc left: another runtime version, a file this one no longer has.
    let manifest = out.join("vendor/apex-runtime/Cargo.toml");
    let text_now = fs::read_to_string(&manifest).unwrap();
    let version_line = format!("version = \"{}\"", env!("CARGO_PKG_VERSION"));
    assert!(text_now.contains(&version_line));
    fs::write(
        &manifest,
        text_now.replacen(&version_line, "version = \"0.0.9\"", 1),
    )
    .unwrap();
    let lib = out.join("vendor/apex-runtime/src/lib.rs");
    fs::write(&lib, "// the old runtime\n").unwrap();
    let old_only = out.join("vendor/apex-runtime/src/old_module.rs");
    fs::write(&old_only, "// gone in the new runtime\n").unwrap();
    let m = out.join(".apexc-manifest");
    let mut listed = fs::read_to_string(&m).unwrap();
    listed.push_str("vendor/apex-runtime/src/old_module.rs\n");
    fs::write(&m, listed).unwrap();

    let o = apexc_in(&dir, &["diff", cfg_s, out_s, "--color", "never"]);
    let shown = text(&o);
    assert_eq!(o.status.code(), Some(1), "{shown}");
    let runtime_lines: Vec<&str> = shown
        .lines()
        .filter(|l| l.contains("runtime apex-runtime"))
        .collect();
    assert_eq!(runtime_lines.len(), 1, "{shown}");
    assert!(
        runtime_lines[0].contains("0.0.9") && runtime_lines[0].contains(env!("CARGO_PKG_VERSION")),
        "{shown}"
    );
    assert!(
        !shown
            .lines()
            .any(|l| l.starts_with("--- ") && l.contains("vendor/")),
        "no file diffs of the vendored runtime:\n{shown}"
    );
    assert!(!shown.contains("the old runtime"), "{shown}");
    assert!(shown.contains("vendor/apex-runtime/ (3 files)"), "{shown}");

    let o = apexc_in(&dir, &["build", cfg_s, "-o", out_s]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        !old_only.exists(),
        "a file of the old runtime was left behind"
    );
    assert_eq!(
        fs::read_to_string(&lib).unwrap(),
        fs::read_to_string(workspace().join("runtime/src/lib.rs")).unwrap()
    );
    let o = apexc_in(&dir, &["diff", cfg_s, out_s]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
}

#[test]
fn version_names_the_runtime_it_writes() {
    let o = apexc_in(&workspace(), &["--version"]);
    let v = text(&o);
    assert!(o.status.success(), "{v}");
    assert!(
        v.starts_with(&format!(
            "apexc {} (writes apex-runtime {}",
            env!("CARGO_PKG_VERSION"),
            env!("CARGO_PKG_VERSION")
        )),
        "{v}"
    );
}
