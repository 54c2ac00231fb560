//! `apexc serve proxy.yaml`: the gateway, natively, on a local port — the same router the
//! generated worker runs, over the same tables, without a Workers toolchain.
//!
//! Secrets are read by the names the config gives: the environment first, then `.dev.vars`
//! beside the config (the file `wrangler dev` reads) or `--dev-vars FILE`. Values are never
//! printed; a referenced secret that is missing is named in a warning.
//!
//! Exit codes: 0 after Ctrl-C / SIGTERM, 1 bad config or cannot listen, 2 unreadable file.

use crate::devvars;
use crate::load;
use apex_runtime::hosts::native;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// Run the gateway on a local port (OpenAI API at http://ADDR/v1).
#[derive(clap::Args)]
pub struct Args {
    /// The config file (proxy.yaml).
    pub config: PathBuf,

    /// Address to listen on. Port 0 picks a free port (printed once listening).
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,

    /// Secrets file (NAME=value lines). Default: `.dev.vars` beside the config, if present.
    #[arg(long, value_name = "FILE")]
    pub dev_vars: Option<PathBuf>,

    /// Worker threads, each with its own event loop (default 1). Round-robin counters and
    /// cooldowns are per thread, as they are per isolate on Workers.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub threads: u16,

    /// No access log (one line per request on stderr: method, path, status, model, provider,
    /// attempts, time).
    #[arg(long, short)]
    pub quiet: bool,

    /// Where the counts of declared `limits` are kept, so a restart keeps the day's counts
    /// (default: `.apexc-state.json` beside the config). Only written when the config declares
    /// limits; every thread shares one set of counts. With `serve: { quota_store: { redis } }`
    /// in the config the counts are in Redis instead, and this option is refused.
    #[arg(long, value_name = "FILE")]
    pub state: Option<PathBuf>,
}

pub fn run(args: Args) -> u8 {
    let loaded = match load::load_path(&args.config) {
        Ok(l) => l,
        Err(diags) if diags.is_unreadable() => {
            eprint!("{diags}");
            return 2;
        }
        Err(diags) => {
            eprintln!("{diags}\n{}: {}", args.config.display(), diags.counts());
            return 1;
        }
    };
    if !loaded.warnings.is_empty() {
        eprintln!("{}", loaded.warnings);
    }

    let names: Vec<String> = loaded
        .secret_names()
        .into_iter()
        .map(str::to_owned)
        .collect();
    let dev_vars_path = args
        .dev_vars
        .clone()
        .unwrap_or_else(|| beside(&args.config, ".dev.vars"));
    let file_vars = match devvars::read(&dev_vars_path) {
        Ok(Some(v)) => {
            for line in &v.malformed {
                eprintln!(
                    "apexc serve: warning: {}:{line}: not a NAME=value line; ignored",
                    dev_vars_path.display()
                );
            }
            v.vars
        }
        Ok(None) if args.dev_vars.is_some() => {
            eprintln!("apexc serve: {}: no such file", dev_vars_path.display());
            return 1;
        }
        Ok(None) => HashMap::new(),
        Err(e) => {
            eprintln!("apexc serve: cannot read {}: {e}", dev_vars_path.display());
            return 1;
        }
    };
    let secrets = resolve_secrets(&names, |n| std::env::var(n).ok(), &file_vars);
    for name in names.iter().filter(|n| !secrets.contains_key(n.as_str())) {
        eprintln!(
            "apexc serve: warning: secret {name} is not set (neither in the environment nor in {}); requests that need it will fail",
            dev_vars_path.display()
        );
    }

    let gateway = crate::to_runtime::gateway(&crate::codegen::routing::Routing::from_config(
        &loaded.config,
    ));
    let mut options = native::Options::new(args.listen);
    options.threads = usize::from(args.threads);
    options.access_log = !args.quiet;
    options.quota_state = Some(
        args.state
            .clone()
            .unwrap_or_else(|| beside(&args.config, ".apexc-state.json")),
    );
    let env = |n: &str| std::env::var(n).ok();
    match quota_redis(
        &loaded.config,
        args.state.is_some(),
        env,
        &file_vars,
        &dev_vars_path,
    ) {
        Ok(url) => options.quota_redis = url,
        Err(e) => {
            eprintln!("apexc serve: {e}");
            return 1;
        }
    }
    let models = gateway.models.len();
    let result = native::serve(gateway, secrets, options, |addr| {
        eprintln!(
            "apexc serve: listening on http://{addr} ({models} model{})",
            if models == 1 { "" } else { "s" }
        );
    });
    match result {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("apexc serve: cannot listen on {}: {e}", args.listen);
            1
        }
    }
}

/// The Redis server `serve.quota_store.redis` names, read from its secret (the environment,
/// then `file`, read from `dev_vars`); an error names the secret, never its value.
fn quota_redis(
    config: &crate::config::Config,
    state_given: bool,
    env: impl Fn(&str) -> Option<String>,
    file: &HashMap<String, String>,
    dev_vars: &Path,
) -> Result<Option<native::RedisUrl>, String> {
    let Some(store) = config.serve.as_ref().and_then(|s| s.quota_store.as_ref()) else {
        return Ok(None);
    };
    let name = &store.redis.secret;
    if state_given {
        return Err(format!(
            "--state cannot be used with serve.quota_store.redis: the counts are in Redis ({name})"
        ));
    }
    let names = [name.clone()];
    let found = resolve_secrets(&names, env, file);
    let Some(url) = found.get(name) else {
        return Err(format!(
            "serve.quota_store.redis: secret {name} is not set (neither in the environment nor in {})",
            dev_vars.display()
        ));
    };
    native::RedisUrl::parse(url)
        .map(Some)
        .map_err(|e| format!("serve.quota_store.redis: {name}: {e}"))
}

/// `file` in the directory of `config`.
fn beside(config: &Path, file: &str) -> PathBuf {
    match config.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.join(file),
        _ => PathBuf::from(file),
    }
}

/// Each referenced secret's value: the environment wins over the file (so a one-off
/// `NAME=... apexc serve` overrides `.dev.vars`). Unreferenced variables are not kept.
fn resolve_secrets(
    names: &[String],
    env: impl Fn(&str) -> Option<String>,
    file: &HashMap<String, String>,
) -> HashMap<String, String> {
    names
        .iter()
        .filter_map(|n| {
            env(n)
                .or_else(|| file.get(n).cloned())
                .map(|v| (n.clone(), v))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn environment_wins_over_the_file_and_missing_names_stay_missing() {
        let names = vec!["A".to_string(), "B".to_string(), "C".to_string()];
        let file: HashMap<String, String> = [("A", "file-a"), ("B", "file-b"), ("X", "x")]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let env = |n: &str| (n == "B").then(|| "env-b".to_string());
        let got = resolve_secrets(&names, env, &file);
        assert_eq!(got.get("A").map(String::as_str), Some("file-a"));
        assert_eq!(got.get("B").map(String::as_str), Some("env-b"));
        assert!(!got.contains_key("C"));
        assert!(
            !got.contains_key("X"),
            "unreferenced variables are not kept"
        );
    }

    fn with_redis(secret: &str) -> crate::config::Config {
        let yaml = format!(
            "name: t\nserve:\n  quota_store:\n    redis: {{ secret: {secret} }}\nproviders:\n  m:\n    kind: mock\nmodels:\n  x:\n    routes: [{{ provider: m, model: m }}]\n"
        );
        load::load_str("t.yaml", &yaml).expect("a config").config
    }

    #[test]
    fn a_redis_quota_store_is_read_from_its_secret_and_refused_clearly() {
        let cfg = with_redis("R_URL");
        let none = HashMap::new();
        let file: HashMap<String, String> =
            [("R_URL".to_string(), "redis://:pw@h:7000/1".to_string())].into();
        let url = quota_redis(&cfg, false, |_| None, &file, Path::new(".dev.vars"))
            .ok()
            .flatten();
        assert_eq!(
            url.map(|u| (u.host, u.port, u.db)),
            Some(("h".to_string(), 7000, 1))
        );

        let missing = quota_redis(&cfg, false, |_| None, &none, Path::new(".dev.vars"))
            .err()
            .unwrap_or_default();
        assert!(missing.contains("R_URL is not set"), "{missing}");
        let both = quota_redis(&cfg, true, |_| None, &file, Path::new(".dev.vars"))
            .err()
            .unwrap_or_default();
        assert!(both.contains("--state"), "{both}");
        let tls = |_: &str| Some("rediss://:hunter2@h".to_string());
        let e = quota_redis(&cfg, false, tls, &none, Path::new(".dev.vars"))
            .err()
            .unwrap_or_default();
        assert!(e.contains("rediss://") && !e.contains("hunter2"), "{e}");
        // Without the setting there is nothing to read.
        let plain = load::load_str(
            "t.yaml",
            "name: t\nproviders:\n  m:\n    kind: mock\nmodels:\n  x:\n    routes: [{ provider: m, model: m }]\n",
        )
        .expect("a config")
        .config;
        assert!(matches!(
            quota_redis(&plain, true, |_| None, &none, Path::new(".dev.vars")),
            Ok(None)
        ));
    }

    #[test]
    fn dev_vars_default_sits_beside_the_config() {
        assert_eq!(
            beside(Path::new("dir/proxy.yaml"), ".dev.vars"),
            PathBuf::from("dir/.dev.vars")
        );
        assert_eq!(
            beside(Path::new("proxy.yaml"), ".dev.vars"),
            PathBuf::from(".dev.vars")
        );
    }
}
