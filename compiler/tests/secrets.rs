//! `apexc secrets` and `apexc secrets push` as a user runs them, with a fake `wrangler` on PATH
//! that records what it was given (arguments and stdin) in a directory of its own.
//!
//! What matters: the list names every secret and says which have no local value (exit 1 when
//! any is missing); push hands wrangler exactly the secrets as one JSON object on stdin, and no
//! value is printed or written to a file by apexc (the work dir and apexc's TMPDIR are checked).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const CONFIG: &str = "name: secrets-test\n\
auth: { keys: [{ secret: GW_KEY }] }\n\
providers:\n  \
up: { kind: openai, base_url: https://up.example/v1, api_keys: [{ secret: UP_KEY_1 }, { secret: UP_KEY_2 }] }\n  \
az: { kind: azure-openai, base_url: https://r.openai.azure.com/openai/deployments/:model, api_version: 2025-01-01-preview, api_keys: [{ secret: UP_KEY_1 }] }\n\
models:\n  m: { routes: [{ provider: up, model: x }, { provider: az, model: y }] }\n";

const GW: &str = "gw-VALUE-never-shown-1";
const UP1: &str = "up1-VALUE-never-shown-2";
const UP2: &str = "up2 VALUE \"quoted\" never-shown-3";

struct Scratch {
    work: PathBuf,
    bin: PathBuf,
    record: PathBuf,
    tmp: PathBuf,
}

fn scratch(label: &str) -> Scratch {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../target/test-scratch/secrets")
        .join(format!("{label}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    let s = Scratch {
        work: root.join("work"),
        bin: root.join("bin"),
        record: root.join("record"),
        tmp: root.join("tmp"),
    };
    for d in [&s.work, &s.bin, &s.record, &s.tmp] {
        std::fs::create_dir_all(d).unwrap();
    }
    std::fs::write(s.work.join("proxy.yaml"), CONFIG).unwrap();
    let fake = s.bin.join("wrangler");
    std::fs::write(
        &fake,
        "#!/bin/sh\n# fake wrangler: records its arguments and stdin\nprintf '%s\\n' \"$@\" > \"$FAKE_WRANGLER_RECORD/args\"\npwd > \"$FAKE_WRANGLER_RECORD/cwd\"\ncat > \"$FAKE_WRANGLER_RECORD/stdin\"\necho 'fake wrangler: secrets uploaded'\nexit \"${FAKE_WRANGLER_EXIT:-0}\"\n",
    )
    .unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    s
}

impl Scratch {
    fn apexc(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        let path = format!(
            "{}:{}",
            self.bin.display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_apexc"));
        cmd.args(args)
            .current_dir(&self.work)
            .env("PATH", path)
            .env("TMPDIR", &self.tmp)
            .env("FAKE_WRANGLER_RECORD", &self.record)
            .env_remove("GW_KEY")
            .env_remove("UP_KEY_1")
            .env_remove("UP_KEY_2");
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.output().expect("apexc runs")
    }

    fn write_dev_vars(&self, text: &str) {
        std::fs::write(self.work.join(".dev.vars"), text).unwrap();
    }

    /// Every file under the work dir and apexc's TMPDIR.
    fn files(&self) -> BTreeSet<PathBuf> {
        fn walk(d: &Path, out: &mut BTreeSet<PathBuf>) {
            for e in std::fs::read_dir(d).into_iter().flatten().flatten() {
                let p = e.path();
                if p.is_dir() {
                    walk(&p, out);
                } else {
                    out.insert(p);
                }
            }
        }
        let mut out = BTreeSet::new();
        walk(&self.work, &mut out);
        walk(&self.tmp, &mut out);
        out
    }
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn assert_no_values(shown: &str) {
    for v in [GW, UP1, UP2, "never-shown"] {
        assert!(!shown.contains(v), "a secret value was printed:\n{shown}");
    }
}

#[test]
fn lists_every_secret_with_where_its_value_is() {
    let s = scratch("list");
    s.write_dev_vars(&format!("GW_KEY={GW}\n"));
    let out = s.apexc(&["secrets", "proxy.yaml"], &[("UP_KEY_1", UP1)]);
    let shown = text(&out);
    assert_eq!(
        out.status.code(),
        Some(1),
        "a missing secret fails:\n{shown}"
    );
    let line = |name: &str| {
        shown
            .lines()
            .find(|l| l.trim_start().starts_with(name))
            .unwrap_or_else(|| panic!("no line for {name}:\n{shown}"))
            .to_string()
    };
    assert!(
        line("GW_KEY").contains("auth.keys") && line("GW_KEY").contains(".dev.vars"),
        "{shown}"
    );
    assert!(
        line("UP_KEY_1").contains("provider az, provider up")
            || line("UP_KEY_1").contains("provider up, provider az"),
        "{shown}"
    );
    assert!(line("UP_KEY_1").contains("environment"), "{shown}");
    assert!(line("UP_KEY_2").contains("MISSING"), "{shown}");
    assert!(shown.contains("1 missing: UP_KEY_2"), "{shown}");
    assert_no_values(&shown);

    let all = s.apexc(
        &["secrets", "proxy.yaml"],
        &[("UP_KEY_1", UP1), ("UP_KEY_2", UP2)],
    );
    assert_eq!(all.status.code(), Some(0), "{}", text(&all));
    assert_no_values(&text(&all));
}

#[test]
fn push_sends_every_secret_on_stdin_and_writes_nothing() {
    let s = scratch("push");
    s.write_dev_vars(&format!(
        "GW_KEY={GW}\nUP_KEY_2=\"{}\"\n",
        UP2.replace('"', "\\\"")
    ));
    let before = s.files();
    let out = s.apexc(
        &["secrets", "push", "proxy.yaml", "--env", "staging"],
        &[("UP_KEY_1", UP1)],
    );
    let shown = text(&out);
    assert_eq!(out.status.code(), Some(0), "{shown}");
    assert!(
        shown.contains("GW_KEY, UP_KEY_1, UP_KEY_2"),
        "names are shown:\n{shown}"
    );
    assert!(
        shown.contains("fake wrangler: secrets uploaded"),
        "wrangler's output is passed through:\n{shown}"
    );
    assert_no_values(&shown);

    let args: Vec<String> = std::fs::read_to_string(s.record.join("args"))
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    assert_eq!(
        args,
        [
            "secret",
            "bulk",
            "--name",
            "secrets-test",
            "--env",
            "staging"
        ]
    );
    let stdin = std::fs::read_to_string(s.record.join("stdin")).unwrap();
    let sent: serde_json::Value = serde_json::from_str(&stdin).expect("stdin is one JSON object");
    assert_eq!(
        sent,
        serde_json::json!({ "GW_KEY": GW, "UP_KEY_1": UP1, "UP_KEY_2": UP2 })
    );

    // apexc wrote nothing: same files in the work dir and its TMPDIR, and none holds a value
    // except the user's own .dev.vars.
    let after = s.files();
    assert_eq!(before, after, "apexc created files");
    for f in after.iter().filter(|f| !f.ends_with(".dev.vars")) {
        let content = std::fs::read_to_string(f).unwrap_or_default();
        assert!(
            ![GW, UP1, UP2].iter().any(|v| content.contains(v)),
            "{} holds a secret value",
            f.display()
        );
    }
}

#[test]
fn push_refuses_when_a_value_is_missing_and_reports_wrangler_failures() {
    let s = scratch("push-missing");
    s.write_dev_vars(&format!("GW_KEY={GW}\n"));
    let out = s.apexc(&["secrets", "push", "proxy.yaml"], &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).contains("UP_KEY_1, UP_KEY_2"), "{}", text(&out));
    assert!(
        !s.record.join("args").exists(),
        "wrangler must not run with secrets missing"
    );

    let failed = s.apexc(
        &[
            "secrets",
            "push",
            "proxy.yaml",
            "--name",
            "other-worker",
            "--dir",
            ".",
        ],
        &[
            ("UP_KEY_1", UP1),
            ("UP_KEY_2", UP2),
            ("FAKE_WRANGLER_EXIT", "1"),
        ],
    );
    let shown = text(&failed);
    assert_eq!(failed.status.code(), Some(1), "{shown}");
    assert!(
        shown.contains("wrangler login") || shown.contains("CLOUDFLARE_API_TOKEN"),
        "says what to do next:\n{shown}"
    );
    let args = std::fs::read_to_string(s.record.join("args")).unwrap();
    assert!(args.contains("other-worker"), "{args}");
    assert_no_values(&shown);
}

#[test]
fn dry_run_and_a_config_without_secrets() {
    let s = scratch("dry");
    let out = s.apexc(
        &["secrets", "push", "proxy.yaml", "--dry-run"],
        &[("GW_KEY", GW), ("UP_KEY_1", UP1), ("UP_KEY_2", UP2)],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(text(&out).contains("would upload 3 secrets"));
    assert!(!s.record.join("args").exists());

    std::fs::write(s.work.join("mock.yaml"), "name: m\nproviders: { mock: { kind: mock } }\nmodels: { d: { routes: [{ provider: mock, model: x }] } }\n").unwrap();
    let none = s.apexc(&["secrets", "mock.yaml"], &[]);
    assert_eq!(none.status.code(), Some(0));
    assert!(text(&none).contains("needs no secrets"));
}
