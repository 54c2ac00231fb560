//! The generated crate's non-routing files, rendered from the minijinja templates in
//! `templates/` (embedded in the apexc binary, so an installed apexc needs no template files).

use super::routing::{kind_name, strategy_name, Routing};
use super::{CodegenError, Options};
use serde::Serialize;

/// Pinned versions the generated crate and its tooling must agree on (see TOOLCHAIN notes):
/// `wasm-bindgen` must equal the installed wasm-bindgen CLI, wrangler 4.86.0 is the last
/// release that runs on Node 20.
pub const WORKER_VERSION: &str = "0.8.7";
pub const WASM_BINDGEN_VERSION: &str = "0.2.130";
pub const WRANGLER_VERSION: &str = "4.86.0";

/// `compatibility_date` in wrangler.toml. A constant, so output never depends on the day of the
/// build; it must not be newer than the workerd bundled with [`WRANGLER_VERSION`].
pub const COMPATIBILITY_DATE: &str = "2025-10-01";

/// (path in the generated crate, template name, template source)
const TEMPLATES: &[(&str, &str, &str)] = &[
    (
        "Cargo.toml",
        "Cargo.toml.j2",
        include_str!("../../../templates/Cargo.toml.j2"),
    ),
    (
        "wrangler.toml",
        "wrangler.toml.j2",
        include_str!("../../../templates/wrangler.toml.j2"),
    ),
    (
        "package.json",
        "package.json.j2",
        include_str!("../../../templates/package.json.j2"),
    ),
    (
        "README.md",
        "README.md.j2",
        include_str!("../../../templates/README.md.j2"),
    ),
    (
        ".gitignore",
        "gitignore.j2",
        include_str!("../../../templates/gitignore.j2"),
    ),
    (
        "src/lib.rs",
        "lib.rs.j2",
        include_str!("../../../templates/lib.rs.j2"),
    ),
];

#[derive(Serialize)]
struct Context<'a> {
    source: &'a str,
    name: &'a str,
    package_name: String,
    runtime_path: &'a str,
    features: Vec<String>,
    compatibility_date: &'static str,
    worker_version: &'static str,
    wasm_bindgen_version: &'static str,
    wrangler_version: &'static str,
    /// First gateway key's secret name, when auth is on.
    auth: Option<&'a str>,
    store: Option<&'a super::routing::StoreRouting>,
    secrets: Vec<Secret>,
    models: Vec<ModelCtx<'a>>,
    providers: Vec<ProviderCtx<'a>>,
    example_model: &'a str,
    example_provider: &'a str,
}

#[derive(Serialize)]
struct Secret {
    name: String,
    /// Spaces that align the README's comments.
    pad: usize,
    purpose: String,
}

#[derive(Serialize)]
struct ModelCtx<'a> {
    name: &'a str,
    strategy: &'static str,
    routes: &'a [super::routing::RouteRouting],
}

#[derive(Serialize)]
struct ProviderCtx<'a> {
    id: &'a str,
    kind: &'static str,
    base_url: &'a str,
    api_keys: &'a [String],
    timeout_ms: u32,
}

/// Renders every templated file: `(relative path, content)`.
pub fn render_all(
    routing: &Routing,
    opts: &Options,
) -> Result<Vec<(&'static str, String)>, CodegenError> {
    let env = environment()?;
    let ctx = context(routing, opts);
    let mut out = Vec::with_capacity(TEMPLATES.len());
    for (path, template, _) in TEMPLATES {
        let rendered = env
            .get_template(template)
            .and_then(|t| t.render(&ctx))
            .map_err(|e| CodegenError(format!("internal error: template {template}: {e:#}")))?;
        out.push((*path, rendered));
    }
    Ok(out)
}

fn environment() -> Result<minijinja::Environment<'static>, CodegenError> {
    let mut env = minijinja::Environment::new();
    env.set_keep_trailing_newline(true);
    env.set_trim_blocks(true);
    env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
    env.add_filter("toml", |s: String| toml_string(&s));
    env.add_filter("json", |s: String| json_string(&s));
    env.add_filter("md", |s: String| s.replace('|', "\\|"));
    for (_, name, source) in TEMPLATES {
        env.add_template(name, source)
            .map_err(|e| CodegenError(format!("internal error: template {name}: {e:#}")))?;
    }
    Ok(env)
}

fn context<'a>(routing: &'a Routing, opts: &'a Options) -> Context<'a> {
    let secrets = secrets(routing);
    Context {
        source: &opts.source_name,
        name: &routing.name,
        package_name: package_name(&routing.name),
        runtime_path: &opts.runtime_path,
        features: features(routing),
        compatibility_date: COMPATIBILITY_DATE,
        worker_version: WORKER_VERSION,
        wasm_bindgen_version: WASM_BINDGEN_VERSION,
        wrangler_version: WRANGLER_VERSION,
        auth: routing.auth_keys.first().map(String::as_str),
        store: routing.responses_store.as_ref(),
        secrets,
        models: routing
            .models
            .iter()
            .map(|m| ModelCtx {
                name: &m.name,
                strategy: strategy_name(m.strategy),
                routes: &m.routes,
            })
            .collect(),
        providers: routing
            .providers
            .iter()
            .map(|p| ProviderCtx {
                id: &p.id,
                kind: kind_name(p.kind),
                base_url: &p.base_url,
                api_keys: &p.api_keys,
                timeout_ms: p.timeout_ms,
            })
            .collect(),
        example_model: routing
            .models
            .first()
            .map(|m| m.name.as_str())
            .unwrap_or("MODEL"),
        example_provider: routing
            .models
            .first()
            .and_then(|m| m.routes.first())
            .map(|r| r.provider.as_str())
            .unwrap_or("PROVIDER"),
    }
}

/// Runtime features: the worker host plus one `kind-*` per provider kind in use.
pub fn features(routing: &Routing) -> Vec<String> {
    std::iter::once("host-workers".to_string())
        .chain(
            routing
                .kinds()
                .into_iter()
                .map(|k| format!("kind-{}", kind_name(k))),
        )
        .collect()
}

/// Cargo package name. The worker name is already a valid one unless it starts with a digit or
/// is a name Cargo reserves; then it gets a prefix (the worker keeps its name in wrangler.toml).
pub fn package_name(worker: &str) -> String {
    const RESERVED: &[&str] = &[
        "test",
        "core",
        "std",
        "alloc",
        "proc-macro",
        "proc_macro",
        "build",
        "deps",
        "examples",
        "self",
        "super",
        "crate",
        "Self",
        "as",
        "async",
        "await",
        "break",
        "const",
        "continue",
        "dyn",
        "else",
        "enum",
        "extern",
        "false",
        "fn",
        "for",
        "if",
        "impl",
        "in",
        "let",
        "loop",
        "match",
        "mod",
        "move",
        "mut",
        "pub",
        "ref",
        "return",
        "static",
        "struct",
        "trait",
        "true",
        "type",
        "unsafe",
        "use",
        "where",
        "while",
        "abstract",
        "become",
        "box",
        "do",
        "final",
        "macro",
        "override",
        "priv",
        "try",
        "typeof",
        "unsized",
        "virtual",
        "yield",
        "gen",
    ];
    let starts_ok = worker
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic());
    if starts_ok && !RESERVED.contains(&worker) {
        worker.to_string()
    } else {
        format!("gateway-{worker}")
    }
}

/// Each secret once, with what it is for.
fn secrets(routing: &Routing) -> Vec<Secret> {
    let names = routing.secret_names();
    let width = names.iter().map(String::len).max().unwrap_or(0);
    names
        .into_iter()
        .map(|name| {
            let mut purposes = Vec::new();
            if routing.auth_keys.contains(&name) {
                purposes.push(
                    "gateway key: clients send it as `Authorization: Bearer` or `x-api-key`"
                        .to_string(),
                );
            }
            let providers: Vec<&str> = routing
                .providers
                .iter()
                .filter(|p| p.api_keys.contains(&name))
                .map(|p| p.id.as_str())
                .collect();
            if !providers.is_empty() {
                purposes.push(format!("API key for provider {}", providers.join(", ")));
            }
            Secret {
                pad: width - name.len(),
                purpose: purposes.join("; "),
                name,
            }
        })
        .collect()
}

/// A TOML basic string, quoted and escaped.
fn toml_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                out.push_str(&format!("\\u{:04X}", c as u32))
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Reads back a TOML basic string written by [`toml_string`] (the text after the opening quote);
/// `None` when it is not one.
pub fn parse_toml_string(rest: &str) -> Option<String> {
    let mut out = String::new();
    let mut chars = rest.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => return Some(out),
            '\\' => match chars.next()? {
                '"' => out.push('"'),
                '\\' => out.push('\\'),
                'n' => out.push('\n'),
                'r' => out.push('\r'),
                't' => out.push('\t'),
                'u' => {
                    let hex: String = chars.by_ref().take(4).collect();
                    out.push(char::from_u32(u32::from_str_radix(&hex, 16).ok()?)?);
                }
                _ => return None,
            },
            c => out.push(c),
        }
    }
    None
}

/// A JSON string, quoted and escaped.
fn json_string(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn toml_strings_round_trip() {
        for s in [
            "/home/me/apexc/runtime",
            r"C:\Users\me\runtime",
            "a \"quoted\"\tpath\n",
            "\u{1}",
        ] {
            let quoted = toml_string(s);
            assert_eq!(
                parse_toml_string(&quoted[1..]).as_deref(),
                Some(s),
                "{quoted}"
            );
        }
    }

    #[test]
    fn package_names_cargo_accepts() {
        assert_eq!(package_name("my-gateway"), "my-gateway");
        assert_eq!(package_name("1gateway"), "gateway-1gateway");
        assert_eq!(package_name("test"), "gateway-test");
    }
}
