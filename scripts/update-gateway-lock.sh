#!/usr/bin/env bash
# Regenerates templates/gateway.Cargo.lock, the Cargo.lock every generated crate carries.
#
# One lock fits every config: a generated crate's package is always `apex-gateway`, and the
# runtime's `kind-*` features pull in no crates, so the dependency graph is the same whatever
# the config says. Run this after changing the runtime's dependencies or version, or the
# pinned worker / wasm-bindgen versions (compiler/src/codegen/files.rs), then commit the lock;
# `cargo test -p apexc --test standalone` fails while it is stale.
#
#   bash scripts/update-gateway-lock.sh            # keep the versions cargo already picked
#   bash scripts/update-gateway-lock.sh --latest   # re-resolve every dependency from scratch
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
cargo run -q -p apexc -- build examples/quickstart.yaml -o "$WORK/gateway" >/dev/null
cd "$WORK/gateway"
if [ "${1:-}" = "--latest" ]; then
  rm -f Cargo.lock
  cargo generate-lockfile
else
  # Starts from the committed lock: cargo changes only what no longer fits.
  cargo metadata --format-version 1 >/dev/null
fi
cp Cargo.lock "$ROOT/templates/gateway.Cargo.lock"
echo "templates/gateway.Cargo.lock: $(grep -c '^\[\[package\]\]' Cargo.lock) packages"
