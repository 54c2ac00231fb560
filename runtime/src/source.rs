//! The runtime's own source, handed to apexc so that every generated crate carries a copy.
//!
//! `apexc build` writes these files under `vendor/apex-runtime/` in the generated crate, and the
//! crate depends on that copy by a relative path with an exact version (`=` this crate's
//! version). So the committed crate builds from itself plus crates.io alone: no path into an
//! apexc checkout, no registry release of the runtime needed, the same bytes wherever it is
//! generated, and the runtime is always the one the apexc that wrote the crate was built with.
//! (oxidecomputer/progenitor does the same for its client support code: "so we don't need to
//! determine the provenance of progenitor".)
//!
//! Compiled only with the `source` feature, which apexc turns on; a generated gateway never
//! does, so none of this text is in a worker's wasm. A file added under `src/` must be listed
//! here: the test below fails until it is.

/// This runtime's version (`apex-runtime` in its Cargo.toml): the exact version a generated
/// crate pins.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Every file of the crate a build needs, as (path relative to the crate root, content), in
/// path order: the manifest and everything under `src/`. Tests, benches and examples are left
/// out (cargo ignores the targets and dev-dependencies of a path dependency it does not build).
pub const FILES: &[(&str, &str)] = &[
    ("Cargo.toml", include_str!("../Cargo.toml")),
    ("src/anthropic/count.rs", include_str!("anthropic/count.rs")),
    (
        "src/anthropic/decode.rs",
        include_str!("anthropic/decode.rs"),
    ),
    (
        "src/anthropic/encode.rs",
        include_str!("anthropic/encode.rs"),
    ),
    (
        "src/anthropic/errors.rs",
        include_str!("anthropic/errors.rs"),
    ),
    (
        "src/anthropic/inbound.rs",
        include_str!("anthropic/inbound.rs"),
    ),
    ("src/anthropic/mod.rs", include_str!("anthropic/mod.rs")),
    (
        "src/anthropic/upstream.rs",
        include_str!("anthropic/upstream.rs"),
    ),
    (
        "src/canonical/events.rs",
        include_str!("canonical/events.rs"),
    ),
    ("src/canonical/mod.rs", include_str!("canonical/mod.rs")),
    ("src/canonical/raw.rs", include_str!("canonical/raw.rs")),
    (
        "src/canonical/stream.rs",
        include_str!("canonical/stream.rs"),
    ),
    ("src/errors.rs", include_str!("errors.rs")),
    ("src/host.rs", include_str!("host.rs")),
    ("src/hosts/mod.rs", include_str!("hosts/mod.rs")),
    (
        "src/hosts/native/client.rs",
        include_str!("hosts/native/client.rs"),
    ),
    ("src/hosts/native/kv.rs", include_str!("hosts/native/kv.rs")),
    (
        "src/hosts/native/mod.rs",
        include_str!("hosts/native/mod.rs"),
    ),
    (
        "src/hosts/native/server.rs",
        include_str!("hosts/native/server.rs"),
    ),
    (
        "src/hosts/workers/http.rs",
        include_str!("hosts/workers/http.rs"),
    ),
    (
        "src/hosts/workers/kv.rs",
        include_str!("hosts/workers/kv.rs"),
    ),
    (
        "src/hosts/workers/mod.rs",
        include_str!("hosts/workers/mod.rs"),
    ),
    (
        "src/hosts/workers/stream.rs",
        include_str!("hosts/workers/stream.rs"),
    ),
    ("src/keepalive.rs", include_str!("keepalive.rs")),
    ("src/kinds/anthropic.rs", include_str!("kinds/anthropic.rs")),
    ("src/kinds/azure.rs", include_str!("kinds/azure.rs")),
    ("src/kinds/mock.rs", include_str!("kinds/mock.rs")),
    ("src/kinds/mod.rs", include_str!("kinds/mod.rs")),
    ("src/kinds/openai.rs", include_str!("kinds/openai.rs")),
    ("src/lib.rs", include_str!("lib.rs")),
    (
        "src/openai/chat_request/decode.rs",
        include_str!("openai/chat_request/decode.rs"),
    ),
    (
        "src/openai/chat_request/mod.rs",
        include_str!("openai/chat_request/mod.rs"),
    ),
    (
        "src/openai/chat_response/encode.rs",
        include_str!("openai/chat_response/encode.rs"),
    ),
    (
        "src/openai/chat_response/mod.rs",
        include_str!("openai/chat_response/mod.rs"),
    ),
    (
        "src/openai/chat_response/view.rs",
        include_str!("openai/chat_response/view.rs"),
    ),
    ("src/openai/inbound.rs", include_str!("openai/inbound.rs")),
    ("src/openai/mod.rs", include_str!("openai/mod.rs")),
    (
        "src/responses/events.rs",
        include_str!("responses/events.rs"),
    ),
    (
        "src/responses/exchange.rs",
        include_str!("responses/exchange.rs"),
    ),
    ("src/responses/mod.rs", include_str!("responses/mod.rs")),
    (
        "src/responses/request.rs",
        include_str!("responses/request.rs"),
    ),
    ("src/responses/store.rs", include_str!("responses/store.rs")),
    ("src/responses/tools.rs", include_str!("responses/tools.rs")),
    ("src/router/auth.rs", include_str!("router/auth.rs")),
    ("src/router/cooldown.rs", include_str!("router/cooldown.rs")),
    ("src/router/cors.rs", include_str!("router/cors.rs")),
    ("src/router/exchange.rs", include_str!("router/exchange.rs")),
    ("src/router/forward.rs", include_str!("router/forward.rs")),
    ("src/router/log.rs", include_str!("router/log.rs")),
    ("src/router/mod.rs", include_str!("router/mod.rs")),
    ("src/router/models.rs", include_str!("router/models.rs")),
    ("src/router/plan.rs", include_str!("router/plan.rs")),
    (
        "src/router/retry_after.rs",
        include_str!("router/retry_after.rs"),
    ),
    ("src/router/scrub.rs", include_str!("router/scrub.rs")),
    ("src/router/streams.rs", include_str!("router/streams.rs")),
    ("src/source.rs", include_str!("source.rs")),
    ("src/sse.rs", include_str!("sse.rs")),
    ("src/table.rs", include_str!("table.rs")),
];

/// A short, stable fingerprint of a set of runtime files (64-bit FNV-1a over paths and
/// contents in the order given, in hex): `apexc diff` compares that of [`FILES`] with that of
/// the copy in a crate on disk, to tell two runtimes of the same version apart. Not a security
/// measure.
pub fn fingerprint<'a>(files: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for (path, content) in files {
        for b in path.bytes().chain([0]).chain(content.bytes()).chain([0]) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    format!("{h:016x}")
}

#[cfg(test)]
mod tests {
    use super::FILES;
    use std::path::Path;

    fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(root, &p, out);
            } else {
                let rel = p
                    .strip_prefix(root)
                    .unwrap()
                    .to_string_lossy()
                    .replace('\\', "/");
                out.push(rel);
            }
        }
    }

    #[test]
    fn lists_every_file_under_src_and_nothing_else() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut on_disk = vec!["Cargo.toml".to_string()];
        walk(root, &root.join("src"), &mut on_disk);
        on_disk.sort();
        let listed: Vec<String> = FILES.iter().map(|(p, _)| p.to_string()).collect();
        assert_eq!(
            listed, on_disk,
            "runtime/src/source.rs must list exactly the crate's source files, in path order"
        );
    }

    #[test]
    fn contents_are_the_files_on_disk() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        for (rel, content) in FILES {
            let disk = std::fs::read_to_string(root.join(rel)).unwrap();
            assert_eq!(&disk, content, "{rel}");
        }
    }
}
