#!/usr/bin/env bash
# Clippy with warnings as errors, over every build of the runtime a gateway can be:
#   - native, all features (what `apexc serve` links), with tests, benches and examples;
#   - wasm32 with host-workers, once per upstream kind (what a generated worker compiles: a
#     kind's code is only checked when its feature is on);
#   - apexc and the fake upstream.
# The runtime denies unwrap/expect/indexing/panic (runtime/src/lib.rs): a panic aborts every
# request in a Worker isolate. clippy.toml lets tests use them.
#
#   bash scripts/clippy.sh
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"

run() {
  printf '    clippy %s\n' "$*"
  cargo clippy --quiet "$@" -- -D warnings
}

run -p apex-runtime --all-features --all-targets
# Every upstream kind the runtime has, read from its features.
kinds="$(sed -n 's/^kind-\([a-z-]*\) *=.*/\1/p' runtime/Cargo.toml)"
[ -n "$kinds" ] || { echo "no kind-* features in runtime/Cargo.toml" >&2; exit 1; }
for kind in $kinds; do
  run -p apex-runtime --lib --target wasm32-unknown-unknown --no-default-features \
    --features "host-workers,kind-$kind"
done
# Declared limits compiled into a worker.
run -p apex-runtime --lib --target wasm32-unknown-unknown --no-default-features \
  --features "host-workers,kind-openai,quotas"
# The native host without quotas (its stand-ins for the shared counts).
run -p apex-runtime --lib --no-default-features --features "host-native,kind-openai"
run -p apexc -p fake-upstream --all-targets
