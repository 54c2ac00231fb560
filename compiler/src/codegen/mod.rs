//! Code generation: a loaded [`Config`] in, the files of a workers-rs crate out, in memory.
//!
//! Nothing here touches the disk or the clock: the same config and [`Options`] always give the
//! same bytes. `crate::build` writes a [`GeneratedCrate`] to disk; `crate::diff` compares one
//! with what is on disk.
//!
//! | file | from |
//! |---|---|
//! | `src/routes.rs` | [`routes`]: quote + prettyplease |
//! | `Cargo.toml`, `wrangler.toml`, `package.json`, `README.md`, `.gitignore`, `src/lib.rs` | [`files`]: minijinja templates in `templates/` |
//! | `Cargo.lock` | `templates/gateway.Cargo.lock`: the same for every config (see [`files`]) |
//! | `vendor/apex-runtime/**` | [`apex_runtime::source::FILES`]: the runtime, vendored |
//! | `apex-routing.json` | [`routing`]: the routing with defaults applied, for `apexc diff` |
//! | `.apexc-manifest` | the list of generated files, so a rebuild can remove stale ones |
//!
//! The crate is stand-alone: its `Cargo.toml` names the runtime as `vendor/apex-runtime`, a
//! relative path, pinned to the exact version of the runtime apexc was built with, whose source
//! apexc carries inside itself. Nothing in the output names a path of the machine that wrote it,
//! so the committed crate is what CI builds and deploys.

pub mod files;
mod options;
pub mod routes;
pub mod routing;
pub mod timezone;

pub use options::{CodegenError, Options, RUNTIME_DIR};

use crate::config::Config;
use routing::Routing;
use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

/// Name of the routing snapshot in the generated crate.
pub const ROUTING_FILE: &str = "apex-routing.json";
/// Name of the list of generated files in the generated crate.
pub const MANIFEST_FILE: &str = ".apexc-manifest";

/// A generated crate: relative path (with `/` separators) → file content.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct GeneratedCrate {
    pub files: BTreeMap<PathBuf, String>,
}

/// Generates the whole crate for a (validated) config.
pub fn generate(config: &Config, opts: &Options) -> Result<GeneratedCrate, CodegenError> {
    generate_from_routing(&Routing::from_config(config), opts)
}

/// Generates the crate from routing that already has its defaults applied.
pub fn generate_from_routing(
    routing: &Routing,
    opts: &Options,
) -> Result<GeneratedCrate, CodegenError> {
    let mut files = BTreeMap::new();
    for (path, content) in files::render_all(routing, opts)? {
        files.insert(PathBuf::from(path), content);
    }
    files.insert(PathBuf::from("Cargo.lock"), files::GATEWAY_LOCK.to_string());
    files.insert(
        PathBuf::from("src/routes.rs"),
        routes::routes_rs(routing, &opts.source_name)?,
    );
    files.insert(PathBuf::from(ROUTING_FILE), routing.to_json());
    for (rel, content) in apex_runtime::source::FILES {
        files.insert(
            PathBuf::from(format!("{RUNTIME_DIR}/{rel}")),
            (*content).to_string(),
        );
    }
    let manifest = manifest(
        files
            .keys()
            .chain(std::iter::once(&PathBuf::from(MANIFEST_FILE))),
    );
    files.insert(PathBuf::from(MANIFEST_FILE), manifest);
    Ok(GeneratedCrate { files })
}

impl GeneratedCrate {
    /// The content of one generated file.
    pub fn get(&self, path: &str) -> Option<&str> {
        self.files.get(&PathBuf::from(path)).map(String::as_str)
    }

    /// The routing recorded in this crate's `apex-routing.json`.
    pub fn routing(&self) -> Option<Routing> {
        self.get(ROUTING_FILE)
            .and_then(|s| Routing::from_json(s).ok())
    }
}

/// Whether a generated file belongs to the vendored runtime (under [`RUNTIME_DIR`]).
pub fn is_vendored(rel: &std::path::Path) -> bool {
    rel.starts_with(RUNTIME_DIR)
}

/// Which runtime a crate carries: the version in its vendored `Cargo.toml` and the
/// [fingerprint](apex_runtime::source::fingerprint) of its vendored files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuntimeId {
    pub version: String,
    pub fingerprint: String,
}

impl fmt::Display for RuntimeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "apex-runtime {} (source {})",
            self.version, self.fingerprint
        )
    }
}

/// The runtime among `files` (crate-relative paths, `/`-separated), `None` when there is no
/// vendored manifest among them.
pub fn runtime_id<'a>(files: impl IntoIterator<Item = (&'a str, &'a str)>) -> Option<RuntimeId> {
    let prefix = format!("{RUNTIME_DIR}/");
    let mut vendored: Vec<(&str, &str)> = files
        .into_iter()
        .filter_map(|(rel, content)| Some((rel.strip_prefix(prefix.as_str())?, content)))
        .collect();
    vendored.sort();
    let manifest = vendored.iter().find(|(rel, _)| *rel == "Cargo.toml")?.1;
    let version = manifest
        .lines()
        .find_map(|l| l.strip_prefix("version = \""))
        .and_then(|rest| rest.split('"').next())
        .unwrap_or("unknown")
        .to_string();
    Some(RuntimeId {
        version,
        fingerprint: apex_runtime::source::fingerprint(vendored),
    })
}

impl GeneratedCrate {
    /// The runtime this crate vendors.
    pub fn runtime_id(&self) -> Option<RuntimeId> {
        let files: Vec<(String, &str)> = self
            .files
            .iter()
            .map(|(p, c)| (slash_path(p), c.as_str()))
            .collect();
        runtime_id(files.iter().map(|(p, c)| (p.as_str(), *c)))
    }
}

fn manifest<'a>(paths: impl Iterator<Item = &'a PathBuf>) -> String {
    let mut names: Vec<String> = paths.map(|p| slash_path(p)).collect();
    names.sort();
    names.dedup();
    let mut out = String::from(
        "# Files written by `apexc build`. A rebuild replaces these and removes any that are no\n\
         # longer generated; every other file in this directory is left alone.\n",
    );
    for n in names {
        out.push_str(&n);
        out.push('\n');
    }
    out
}

/// Reads the file list out of a `.apexc-manifest`.
pub fn parse_manifest(text: &str) -> Vec<PathBuf> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(PathBuf::from)
        .collect()
}

/// A relative path with `/` separators, whatever the platform.
pub fn slash_path(p: &std::path::Path) -> String {
    let joined = p
        .components()
        .filter(|c| !matches!(c, std::path::Component::RootDir))
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join("/");
    if p.has_root() {
        format!("/{joined}")
    } else {
        joined
    }
}
