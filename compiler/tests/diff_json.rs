//! `apexc diff --format json`: what a CI tool reads. Same exit status as the text output (0 same,
//! 1 changed, 2 error), and always one JSON object on stdout, errors included.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const BASE: &str = "name: diff-json\nproviders:\n  mock: { kind: mock }\nmodels:\n  demo: { routes: [{ provider: mock, model: m1 }] }\n";

fn scratch(label: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../target/test-scratch/diff-json")
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

fn json(o: &Output) -> serde_json::Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}):\n{}",
            String::from_utf8_lossy(&o.stdout)
        )
    })
}

#[test]
fn reports_files_routing_and_new_secrets() {
    let dir = scratch("changes");
    std::fs::write(dir.join("proxy.yaml"), BASE).unwrap();
    let built = apexc(&dir, &["build", "proxy.yaml", "-o", "gw"]);
    assert!(
        built.status.success(),
        "{}",
        String::from_utf8_lossy(&built.stderr)
    );

    let same = apexc(&dir, &["diff", "proxy.yaml", "gw", "--format", "json"]);
    assert_eq!(same.status.code(), Some(0));
    let v = json(&same);
    assert_eq!(v["changed"], false);
    assert_eq!(v["exit_code"], 0);
    assert_eq!(v["files"], serde_json::json!([]));

    let changed = BASE.replace("models:", "auth: { keys: [{ secret: GW_KEY }] }\nmodels:")
        + "  second: { strategy: priority, routes: [{ provider: mock, model: m2 }] }\n";
    std::fs::write(dir.join("proxy.yaml"), changed).unwrap();
    let out = apexc(&dir, &["diff", "proxy.yaml", "gw", "--format", "json"]);
    assert_eq!(out.status.code(), Some(1));
    let v = json(&out);
    assert_eq!(v["changed"], true);
    assert_eq!(v["exit_code"], 1);
    let files: Vec<&str> = v["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    assert!(files.contains(&"src/routes.rs"), "{files:?}");
    assert!(v["files"]
        .as_array()
        .unwrap()
        .iter()
        .all(|f| f["change"] == "modified"));
    assert_eq!(v["routing"]["known"], true);
    let routing: Vec<(String, String)> = v["routing"]["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["change"].as_str().unwrap().to_string(),
                c["text"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert!(
        routing
            .iter()
            .any(|(c, t)| c == "added" && t.starts_with("model second (priority)")),
        "{routing:?}"
    );
    assert!(
        routing
            .iter()
            .any(|(c, t)| c == "changed" && t.contains("auth")),
        "{routing:?}"
    );
    assert_eq!(v["new_secrets"], serde_json::json!(["GW_KEY"]));
    assert!(
        !String::from_utf8_lossy(&out.stdout).contains('\u{1b}'),
        "no colour codes in JSON"
    );
}

#[test]
fn errors_are_json_too() {
    let dir = scratch("errors");
    std::fs::write(dir.join("proxy.yaml"), BASE).unwrap();
    let out = apexc(
        &dir,
        &["diff", "proxy.yaml", "missing-dir", "--format", "json"],
    );
    assert_eq!(out.status.code(), Some(2));
    let v = json(&out);
    assert_eq!(v["exit_code"], 2);
    assert!(v["error"].as_str().unwrap().contains("apexc build"), "{v}");
}

/// Runs `apexc ARGS` in `dir` on a pseudo-terminal (util-linux `script`), with `env` applied.
fn on_a_terminal(dir: &Path, env: &str, args: &str) -> Option<String> {
    let cmd = format!(
        "env -u CI -u NO_COLOR {env} {} {args}",
        env!("CARGO_BIN_EXE_apexc")
    );
    let out = Command::new("script")
        .args(["-qec", &cmd, "/dev/null"])
        .current_dir(dir)
        .output()
        .ok()?;
    Some(String::from_utf8_lossy(&out.stdout).into_owned())
}

#[test]
fn colour_on_a_terminal_plain_in_ci_and_in_pipes() {
    let dir = scratch("plain");
    std::fs::write(dir.join("proxy.yaml"), BASE).unwrap();
    assert!(apexc(&dir, &["build", "proxy.yaml", "-o", "gw"])
        .status
        .success());
    std::fs::write(dir.join("proxy.yaml"), BASE.replace("m1", "m9")).unwrap();
    let forced = apexc(&dir, &["diff", "proxy.yaml", "gw", "--color", "always"]);
    assert!(
        String::from_utf8_lossy(&forced.stdout).contains('\u{1b}'),
        "--color always colours"
    );
    let piped = apexc(&dir, &["diff", "proxy.yaml", "gw"]);
    assert_eq!(piped.status.code(), Some(1));
    assert!(
        !String::from_utf8_lossy(&piped.stdout).contains('\u{1b}'),
        "a pipe gets plain text"
    );
    let Some(tty) = on_a_terminal(&dir, "", "diff proxy.yaml gw") else {
        eprintln!("no `script` command: terminal colour not checked");
        return;
    };
    assert!(tty.contains("\u{1b}["), "a terminal gets colour:\n{tty}");
    let ci = on_a_terminal(&dir, "CI=true", "diff proxy.yaml gw").unwrap();
    assert!(
        ci.contains("would change") && !ci.contains('\u{1b}'),
        "CI=true gets plain text even on a terminal:\n{ci}"
    );
}
