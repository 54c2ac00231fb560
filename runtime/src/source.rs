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
    ("src/attempt/answers.rs", include_str!("attempt/answers.rs")),
    ("src/attempt/cooldown.rs", include_str!("attempt/cooldown.rs")),
    ("src/attempt/engine.rs", include_str!("attempt/engine.rs")),
    ("src/attempt/exchange.rs", include_str!("attempt/exchange.rs")),
    ("src/attempt/forward.rs", include_str!("attempt/forward.rs")),
    ("src/attempt/keepalive.rs", include_str!("attempt/keepalive.rs")),
    ("src/attempt/metered.rs", include_str!("attempt/metered.rs")),
    ("src/attempt/mod.rs", include_str!("attempt/mod.rs")),
    ("src/attempt/plan.rs", include_str!("attempt/plan.rs")),
    ("src/attempt/protocol.rs", include_str!("attempt/protocol.rs")),
    ("src/attempt/quotas.rs", include_str!("attempt/quotas.rs")),
    ("src/attempt/retry_after.rs", include_str!("attempt/retry_after.rs")),
    ("src/attempt/scrub.rs", include_str!("attempt/scrub.rs")),
    ("src/attempt/streams.rs", include_str!("attempt/streams.rs")),
    ("src/errors.rs", include_str!("errors.rs")),
    ("src/gateway/auth.rs", include_str!("gateway/auth.rs")),
    ("src/gateway/cors.rs", include_str!("gateway/cors.rs")),
    ("src/gateway/endpoints/chat.rs", include_str!("gateway/endpoints/chat.rs")),
    ("src/gateway/endpoints/messages.rs", include_str!("gateway/endpoints/messages.rs")),
    ("src/gateway/endpoints/mod.rs", include_str!("gateway/endpoints/mod.rs")),
    ("src/gateway/endpoints/models.rs", include_str!("gateway/endpoints/models.rs")),
    ("src/gateway/endpoints/responses/exchange.rs", include_str!("gateway/endpoints/responses/exchange.rs")),
    ("src/gateway/endpoints/responses/follow_up.rs", include_str!("gateway/endpoints/responses/follow_up.rs")),
    ("src/gateway/endpoints/responses/mod.rs", include_str!("gateway/endpoints/responses/mod.rs")),
    ("src/gateway/endpoints/responses/store.rs", include_str!("gateway/endpoints/responses/store.rs")),
    ("src/gateway/handle.rs", include_str!("gateway/handle.rs")),
    ("src/gateway/mod.rs", include_str!("gateway/mod.rs")),
    ("src/gateway/paths.rs", include_str!("gateway/paths.rs")),
    ("src/gateway/protocols.rs", include_str!("gateway/protocols.rs")),
    ("src/gateway/runtime.rs", include_str!("gateway/runtime.rs")),
    ("src/host.rs", include_str!("host.rs")),
    ("src/hosts/mod.rs", include_str!("hosts/mod.rs")),
    ("src/hosts/native/client.rs", include_str!("hosts/native/client.rs")),
    ("src/hosts/native/kv.rs", include_str!("hosts/native/kv.rs")),
    ("src/hosts/native/mod.rs", include_str!("hosts/native/mod.rs")),
    ("src/hosts/native/options.rs", include_str!("hosts/native/options.rs")),
    ("src/hosts/native/quota_file.rs", include_str!("hosts/native/quota_file.rs")),
    ("src/hosts/native/quota_redis.rs", include_str!("hosts/native/quota_redis.rs")),
    ("src/hosts/native/quotas.rs", include_str!("hosts/native/quotas.rs")),
    ("src/hosts/native/redis.rs", include_str!("hosts/native/redis.rs")),
    ("src/hosts/native/server.rs", include_str!("hosts/native/server.rs")),
    ("src/hosts/refusals.rs", include_str!("hosts/refusals.rs")),
    ("src/hosts/workers/http.rs", include_str!("hosts/workers/http.rs")),
    ("src/hosts/workers/kv.rs", include_str!("hosts/workers/kv.rs")),
    ("src/hosts/workers/mod.rs", include_str!("hosts/workers/mod.rs")),
    ("src/hosts/workers/quotas.rs", include_str!("hosts/workers/quotas.rs")),
    ("src/hosts/workers/stream.rs", include_str!("hosts/workers/stream.rs")),
    ("src/lib.rs", include_str!("lib.rs")),
    ("src/log.rs", include_str!("log.rs")),
    ("src/quota/ask.rs", include_str!("quota/ask.rs")),
    ("src/quota/counts.rs", include_str!("quota/counts.rs")),
    ("src/quota/day.rs", include_str!("quota/day.rs")),
    ("src/quota/ledger.rs", include_str!("quota/ledger.rs")),
    ("src/quota/mod.rs", include_str!("quota/mod.rs")),
    ("src/quota/remote.rs", include_str!("quota/remote.rs")),
    ("src/quota/usage.rs", include_str!("quota/usage.rs")),
    ("src/source.rs", include_str!("source.rs")),
    ("src/table.rs", include_str!("table.rs")),
    ("src/upstream/anthropic/codec.rs", include_str!("upstream/anthropic/codec.rs")),
    ("src/upstream/anthropic/mod.rs", include_str!("upstream/anthropic/mod.rs")),
    ("src/upstream/azure.rs", include_str!("upstream/azure.rs")),
    ("src/upstream/call.rs", include_str!("upstream/call.rs")),
    ("src/upstream/codec.rs", include_str!("upstream/codec.rs")),
    ("src/upstream/http.rs", include_str!("upstream/http.rs")),
    ("src/upstream/kind.rs", include_str!("upstream/kind.rs")),
    ("src/upstream/mock.rs", include_str!("upstream/mock.rs")),
    ("src/upstream/mod.rs", include_str!("upstream/mod.rs")),
    ("src/upstream/openai.rs", include_str!("upstream/openai.rs")),
    ("src/wire/anthropic/count.rs", include_str!("wire/anthropic/count.rs")),
    ("src/wire/anthropic/decode.rs", include_str!("wire/anthropic/decode.rs")),
    ("src/wire/anthropic/encode.rs", include_str!("wire/anthropic/encode.rs")),
    ("src/wire/anthropic/errors.rs", include_str!("wire/anthropic/errors.rs")),
    ("src/wire/anthropic/mod.rs", include_str!("wire/anthropic/mod.rs")),
    ("src/wire/canonical/events.rs", include_str!("wire/canonical/events.rs")),
    ("src/wire/canonical/mod.rs", include_str!("wire/canonical/mod.rs")),
    ("src/wire/canonical/raw.rs", include_str!("wire/canonical/raw.rs")),
    ("src/wire/canonical/stream.rs", include_str!("wire/canonical/stream.rs")),
    ("src/wire/error_body.rs", include_str!("wire/error_body.rs")),
    ("src/wire/lenient.rs", include_str!("wire/lenient.rs")),
    ("src/wire/mod.rs", include_str!("wire/mod.rs")),
    ("src/wire/openai/chat_request/decode.rs", include_str!("wire/openai/chat_request/decode.rs")),
    ("src/wire/openai/chat_request/mod.rs", include_str!("wire/openai/chat_request/mod.rs")),
    ("src/wire/openai/chat_response/encode.rs", include_str!("wire/openai/chat_response/encode.rs")),
    ("src/wire/openai/chat_response/mod.rs", include_str!("wire/openai/chat_response/mod.rs")),
    ("src/wire/openai/chat_response/view.rs", include_str!("wire/openai/chat_response/view.rs")),
    ("src/wire/openai/errors.rs", include_str!("wire/openai/errors.rs")),
    ("src/wire/openai/message.rs", include_str!("wire/openai/message.rs")),
    ("src/wire/openai/mod.rs", include_str!("wire/openai/mod.rs")),
    ("src/wire/openai/stream_usage.rs", include_str!("wire/openai/stream_usage.rs")),
    ("src/wire/percent.rs", include_str!("wire/percent.rs")),
    ("src/wire/responses/events.rs", include_str!("wire/responses/events.rs")),
    ("src/wire/responses/mod.rs", include_str!("wire/responses/mod.rs")),
    ("src/wire/responses/request.rs", include_str!("wire/responses/request.rs")),
    ("src/wire/responses/tools.rs", include_str!("wire/responses/tools.rs")),
    ("src/wire/sse.rs", include_str!("wire/sse.rs")),
    ("src/wire/token_cap.rs", include_str!("wire/token_cap.rs")),
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
