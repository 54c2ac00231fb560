//! Starter configs for `apexc init`: a commented `proxy.yaml` for a chosen set of well-known
//! providers, which passes `apexc check` as written.
//!
//! The provider catalogue holds what a new user would otherwise look up: each provider's kind,
//! its API base URL, a model to start with, and the secret name its key goes under.

use crate::validate::secrets::secret_name_like;
use crate::yaml_write::{flow_scalar, key, scalar};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// A provider `apexc init` knows.
#[derive(Debug, Clone, Copy)]
pub struct Known {
    /// Provider id in the config (and the `--providers` word).
    pub id: &'static str,
    /// Other words accepted for it on the command line.
    pub aliases: &'static [&'static str],
    /// `kind:` value.
    pub kind: &'static str,
    /// `base_url:` (none for `mock`).
    pub base_url: Option<&'static str>,
    /// `api_version:` (azure-openai).
    pub api_version: Option<&'static str>,
    /// An upstream model to start with.
    pub model: &'static str,
    /// One line about it, written as a comment above the provider.
    pub about: &'static str,
}

/// Every provider `apexc init --providers` accepts, in the order they are listed in help.
pub const KNOWN: &[Known] = &[
    Known { id: "mock", aliases: &[], kind: "mock", base_url: None, api_version: None, model: "mock-1", about: "built in: no network, no key, deterministic replies (\"mock reply: <your message>\")" },
    Known { id: "openai", aliases: &[], kind: "openai", base_url: Some("https://api.openai.com/v1"), api_version: None, model: "gpt-4o-mini", about: "OpenAI (keys: https://platform.openai.com/api-keys)" },
    Known { id: "deepseek", aliases: &[], kind: "openai", base_url: Some("https://api.deepseek.com/v1"), api_version: None, model: "deepseek-chat", about: "DeepSeek (deepseek-chat, deepseek-reasoner)" },
    Known { id: "azure", aliases: &["azure-openai"], kind: "azure-openai", base_url: Some("https://your-resource.openai.azure.com/openai/deployments/:model"), api_version: Some("2025-01-01-preview"), model: "gpt-4o-mini", about: "Azure OpenAI: replace your-resource with your resource name; each route's model is a deployment name" },
    Known { id: "anthropic", aliases: &["claude"], kind: "anthropic", base_url: Some("https://api.anthropic.com"), api_version: None, model: "claude-sonnet-4-5", about: "Anthropic Messages API (OpenAI clients are translated)" },
    Known { id: "openrouter", aliases: &[], kind: "openai", base_url: Some("https://openrouter.ai/api/v1"), api_version: None, model: "deepseek/deepseek-chat", about: "OpenRouter (model ids are vendor/model)" },
    Known { id: "groq", aliases: &[], kind: "openai", base_url: Some("https://api.groq.com/openai/v1"), api_version: None, model: "llama-3.3-70b-versatile", about: "Groq" },
    Known { id: "aliyun", aliases: &["aliyuncs", "dashscope", "qwen"], kind: "openai", base_url: Some("https://dashscope.aliyuncs.com/compatible-mode/v1"), api_version: None, model: "qwen-max", about: "Aliyun DashScope, OpenAI-compatible mode (international: https://dashscope-intl.aliyuncs.com/compatible-mode/v1)" },
    Known { id: "deepinfra", aliases: &[], kind: "openai", base_url: Some("https://api.deepinfra.com/v1/openai"), api_version: None, model: "deepseek-ai/DeepSeek-V3", about: "DeepInfra (model ids are org/model)" },
    Known { id: "together", aliases: &[], kind: "openai", base_url: Some("https://api.together.xyz/v1"), api_version: None, model: "meta-llama/Llama-3.3-70B-Instruct-Turbo", about: "Together AI" },
    Known { id: "mistral", aliases: &[], kind: "openai", base_url: Some("https://api.mistral.ai/v1"), api_version: None, model: "mistral-small-latest", about: "Mistral" },
    Known { id: "gemini", aliases: &["google"], kind: "openai", base_url: Some("https://generativelanguage.googleapis.com/v1beta/openai"), api_version: None, model: "gemini-2.0-flash", about: "Google Gemini, OpenAI-compatible endpoint" },
    Known { id: "xai", aliases: &["grok"], kind: "openai", base_url: Some("https://api.x.ai/v1"), api_version: None, model: "grok-3-mini", about: "xAI" },
    Known { id: "ollama", aliases: &[], kind: "openai", base_url: Some("http://127.0.0.1:11434/v1"), api_version: None, model: "llama3.2", about: "a local Ollama (any key works; `apexc serve` only: a Worker cannot reach your machine)" },
];

/// The catalogue entry for a `--providers` word.
pub fn find(word: &str) -> Option<&'static Known> {
    let w = word.trim().to_ascii_lowercase();
    KNOWN
        .iter()
        .find(|k| k.id == w || k.aliases.contains(&w.as_str()))
}

/// The ids `--providers` accepts, comma-separated (for help and errors).
pub fn known_ids() -> String {
    KNOWN.iter().map(|k| k.id).collect::<Vec<_>>().join(", ")
}

/// What to put at the top of the file after `# yaml-language-server: $schema=`.
#[derive(Debug, Clone)]
pub struct Options {
    /// Worker name.
    pub name: String,
    /// Schema path or URL for the modeline.
    pub schema: String,
}

/// The secret name a provider's key goes under.
pub fn key_secret(id: &str) -> String {
    format!(
        "{}_KEY",
        secret_name_like(id).unwrap_or_else(|| "PROVIDER".into())
    )
}

/// The starter config for `providers` (at least one). Unknown words are an error naming the
/// known ones.
pub fn starter(words: &[String], opts: &Options) -> Result<String, String> {
    let mut chosen: Vec<&Known> = Vec::new();
    for w in words.iter().map(|w| w.trim()).filter(|w| !w.is_empty()) {
        let k =
            find(w).ok_or_else(|| format!("unknown provider \"{w}\"; known: {}", known_ids()))?;
        if !chosen.iter().any(|c| c.id == k.id) {
            chosen.push(k);
        }
    }
    if chosen.is_empty() {
        return Err(format!("no providers given; known: {}", known_ids()));
    }
    let real: Vec<&Known> = chosen
        .iter()
        .copied()
        .filter(|k| k.kind != "mock")
        .collect();

    let mut y = String::new();
    let _ = writeln!(y, "# yaml-language-server: $schema={}", opts.schema);
    y.push_str(
        "#\n\
         # apexc gateway config. The line above gives editors (VS Code YAML extension, any editor with\n\
         # yaml-language-server) completion, hover docs and validation from apexc's JSON Schema.\n\
         #\n\
         #   apexc check proxy.yaml      # every problem at once, with line and column\n\
         #   apexc secrets proxy.yaml    # which secrets are set locally, which are missing\n\
         #   apexc serve proxy.yaml      # run it on http://127.0.0.1:8080/v1\n\
         #   apexc build proxy.yaml -o gateway && cd gateway && npx wrangler deploy\n\n",
    );
    y.push_str(
        "# Worker name: lower-case letters, digits and dashes (your-name.workers.dev subdomain).\n",
    );
    let _ = writeln!(y, "name: {}\n", scalar(&opts.name));

    write_auth(&mut y, &real);
    write_providers(&mut y, &chosen);
    write_models(&mut y, &chosen, &real);
    Ok(y)
}

/// `auth`: open (commented out) when only the mock is configured, else one gateway key.
fn write_auth(y: &mut String, real: &[&Known]) {
    if real.is_empty() {
        y.push_str(
            "# Who may call the gateway. The mock provider costs nothing, so this starter is open; once\n\
             # you add a real provider, require a key (clients send it as `Authorization: Bearer` or\n\
             # `x-api-key`):\n\
             # auth:\n\
             #   keys: [{ secret: GATEWAY_KEY }]\n\n",
        );
    } else {
        y.push_str(
            "# Who may call the gateway: clients send one of these keys as `Authorization: Bearer <key>`\n\
             # or `x-api-key: <key>`. Keys are never written here, only secret NAMES: on Workers\n\
             # `wrangler secret put GATEWAY_KEY` (or `apexc secrets push`); for `apexc serve`/`dev` an\n\
             # environment variable or a GATEWAY_KEY=... line in .dev.vars beside this file.\n\
             auth:\n  keys: [{ secret: GATEWAY_KEY }]\n\n",
        );
    }
}

/// `providers`, one per chosen provider with its key's secret name.
fn write_providers(y: &mut String, chosen: &[&Known]) {
    y.push_str(
        "# Upstream providers by id. A route names one by id; clients can also pick one directly with\n\
         # \"model\": \"MODEL#PROVIDER\". `kind` is the protocol: openai (any OpenAI-compatible API),\n\
         # azure-openai, anthropic, or mock.\n\
         providers:\n",
    );
    for k in chosen {
        let _ = writeln!(y, "  # {}", k.about);
        let _ = writeln!(y, "  {}:", key(k.id));
        let _ = writeln!(y, "    kind: {}", k.kind);
        if let Some(url) = k.base_url {
            let _ = writeln!(y, "    base_url: {}", scalar(url));
        }
        if let Some(v) = k.api_version {
            let _ = writeln!(y, "    api_version: {}", scalar(v));
        }
        if k.kind != "mock" {
            let secret = key_secret(k.id);
            let _ = writeln!(
                y,
                "    # More keys spread the load: [{{ secret: {secret}_1 }}, {{ secret: {secret}_2 }}]"
            );
            let _ = writeln!(y, "    api_keys: [{{ secret: {secret} }}]");
        }
    }
    y.push('\n');
}

/// `models`: one public name per provider, and `default` over every real one when there are
/// several.
fn write_models(y: &mut String, chosen: &[&Known], real: &[&Known]) {
    y.push_str(
        "# Public model names clients send in \"model\", each with the routes that can serve it.\n\
         # strategy: random (default) | round-robin | weighted (by each route's weight) | priority\n\
         # (first healthy route in order). A route that fails (429, 5xx, timeout) falls over to the next.\n\
         models:\n",
    );
    for k in chosen {
        let public = if k.kind == "mock" {
            "demo".to_string()
        } else {
            public_name(k, real)
        };
        let _ = writeln!(y, "  {}:", key(&public));
        let _ = writeln!(y, "    routes:");
        let _ = writeln!(
            y,
            "      - {{ provider: {}, model: {} }}",
            flow_scalar(k.id),
            flow_scalar(k.model)
        );
    }
    if real.len() > 1 {
        y.push_str("  # One name over several providers: the first that answers wins, the others are the fallback.\n");
        y.push_str("  default:\n    strategy: priority\n    routes:\n");
        for k in real {
            let _ = writeln!(
                y,
                "      - {{ provider: {}, model: {} }}",
                flow_scalar(k.id),
                flow_scalar(k.model)
            );
        }
    }
}

/// The public model name for a provider's starter route: the upstream model's last path part
/// (`deepseek-ai/DeepSeek-V3` → `DeepSeek-V3`), prefixed by the provider when two providers
/// would otherwise share it.
fn public_name(k: &Known, chosen: &[&Known]) -> String {
    let base = k.model.rsplit('/').next().unwrap_or(k.model);
    let shared = chosen
        .iter()
        .filter(|o| o.model.rsplit('/').next() == Some(base))
        .count()
        > 1;
    if shared {
        format!("{}-{base}", k.id)
    } else {
        base.to_string()
    }
}

/// Every secret name a starter for `words` references (for the "next steps" it prints).
pub fn secrets_for(words: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    let chosen: Vec<&Known> = words.iter().filter_map(|w| find(w)).collect();
    if chosen.iter().any(|k| k.kind != "mock") {
        out.push("GATEWAY_KEY".to_string());
    }
    for k in chosen {
        let s = key_secret(k.id);
        if k.kind != "mock" && !out.contains(&s) {
            out.push(s);
        }
    }
    out
}

/// The schema's file name, beside the config, that a starter's modeline names.
pub const SCHEMA_FILE: &str = "apex.schema.json";

/// Writes this apexc's JSON Schema as [`SCHEMA_FILE`] in the directory of the config `out`, so
/// the modeline resolves in the user's own repository (an editor's YAML language server reads
/// it relative to the config). Returns the path written.
pub fn write_schema_beside(out: &Path) -> Result<PathBuf, String> {
    let dir = out.parent().filter(|p| !p.as_os_str().is_empty());
    let path = dir.map_or_else(|| PathBuf::from(SCHEMA_FILE), |d| d.join(SCHEMA_FILE));
    std::fs::write(&path, crate::schema::schema_json())
        .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts() -> Options {
        Options {
            name: "my-gateway".into(),
            schema: "apex.schema.json".into(),
        }
    }

    #[test]
    fn every_known_provider_makes_a_config_that_loads() {
        for k in KNOWN {
            let text = starter(&[k.id.to_string()], &opts()).unwrap();
            let loaded = crate::load::load_str("proxy.yaml", &text)
                .unwrap_or_else(|d| panic!("starter for {} does not load:\n{d}\n{text}", k.id));
            assert!(loaded.config.providers.contains_key(k.id));
        }
    }

    #[test]
    fn several_providers_get_a_shared_fallback_model_and_no_warnings() {
        let words: Vec<String> = [
            "deepseek",
            "azure",
            "anthropic",
            "openrouter",
            "groq",
            "mock",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let text = starter(&words, &opts()).unwrap();
        let loaded = crate::load::load_str("proxy.yaml", &text).unwrap_or_else(|d| panic!("{d}"));
        assert_eq!(loaded.warnings.len(), 0, "{}", loaded.warnings);
        let default = &loaded.config.models["default"];
        assert_eq!(default.routes.len(), 5);
        assert!(text.starts_with("# yaml-language-server: $schema=apex.schema.json\n"));
        assert_eq!(
            secrets_for(&words),
            [
                "GATEWAY_KEY",
                "DEEPSEEK_KEY",
                "AZURE_KEY",
                "ANTHROPIC_KEY",
                "OPENROUTER_KEY",
                "GROQ_KEY"
            ]
        );
    }

    #[test]
    fn unknown_words_name_the_known_ones() {
        let err = starter(&["deepsek".into()], &opts()).unwrap_err();
        assert!(
            err.contains("unknown provider \"deepsek\"") && err.contains("deepseek"),
            "{err}"
        );
        assert!(find("DashScope").is_some_and(|k| k.id == "aliyun"));
    }
}
