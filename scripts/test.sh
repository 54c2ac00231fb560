#!/usr/bin/env bash
# The one command that runs every test: installs what is missing (scripts/setup.sh), runs the
# Rust tests of the whole workspace, a `cargo check` of the fuzz targets, clippy over every
# build of the runtime (scripts/clippy.sh), `cargo package` of the two published crates, then
# the end-to-end suite (tests/e2e: the official SDKs and real clients against `apexc serve` and
# against the generated worker under wrangler dev, both in front of tests/fake-upstream; a copy
# of a generated crate deployed with the checkout hidden).
#
#   bash scripts/test.sh                 # everything
#   bash scripts/test.sh -k streamed     # extra arguments go to pytest
#   APEX_E2E_GATEWAYS=serve bash scripts/test.sh   # skip the (slow to build) worker gateway
#
# Exits non-zero when anything failed; the last lines are a summary.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
START=$SECONDS

bash scripts/setup.sh
# shellcheck source=/dev/null
source target/tools/env.sh

LOGDIR="$ROOT/target/test-logs"
mkdir -p "$LOGDIR"

printf '\n==> [test] cargo test --workspace --no-fail-fast\n'
T0=$SECONDS
set +e
cargo test --workspace --no-fail-fast 2>&1 | tee "$LOGDIR/cargo-test.log"
CARGO_RC=${PIPESTATUS[0]}
set -e
CARGO_TIME=$((SECONDS - T0))
CARGO_SUMMARY="$(awk '/^test result:/ { p += $4; f += $6; i += $8 } END { printf "%d passed, %d failed, %d ignored", p, f, i }' "$LOGDIR/cargo-test.log")"

# The fuzz targets are their own workspace (fuzzing needs nightly); checking that they still
# build against the runtime's API on this toolchain keeps `fuzz/run-all.sh` runnable.
printf '\n==> [test] cargo check of the fuzz targets\n'
T0=$SECONDS
set +e
(cd fuzz && CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}/fuzz-check" cargo check --bins 2>&1 | tail -n 3; exit "${PIPESTATUS[0]}")
FUZZ_RC=$?
set -e
printf '    done in %ds\n' "$((SECONDS - T0))"

# Lints: warnings are errors, and the runtime may not unwrap/expect/index/panic outside tests,
# natively and in each wasm32 build a generated worker can be (scripts/clippy.sh).
printf '\n==> [test] clippy (native and wasm32 per upstream kind, -D warnings)\n'
T0=$SECONDS
set +e
bash scripts/clippy.sh 2>&1 | tee "$LOGDIR/clippy.log" | tail -n 40
CLIPPY_RC=${PIPESTATUS[0]}
set -e
printf '    done in %ds\n' "$((SECONDS - T0))"

# Publishable: both crates package and their packaged sources build on their own (apexc's
# templates come in through the compiler/templates symlink, the runtime from the packaged copy).
printf '\n==> [test] cargo package -p apex-runtime -p apexc (with verification)\n'
T0=$SECONDS
set +e
cargo package -p apex-runtime -p apexc --allow-dirty 2>&1 | grep -v '^warning: manifest has no\|^  |\|^  = note: see' | tail -n 4
PACKAGE_RC=${PIPESTATUS[0]}
set -e
printf '    done in %ds\n' "$((SECONDS - T0))"

printf '\n==> [test] building apexc and fake-upstream for the end-to-end suite\n'
T0=$SECONDS
set +e
cargo build -p apexc -p fake-upstream 2>&1 | tail -n 3
BUILD_RC=${PIPESTATUS[0]}
set -e
printf '    done in %ds\n' "$((SECONDS - T0))"

printf '\n==> [test] pytest tests/e2e\n'
T0=$SECONDS
PYTEST_RC=1
if [ "$BUILD_RC" -eq 0 ]; then
  BUILD_DIR="${CARGO_TARGET_DIR:-$ROOT/target}/debug"
  export APEXC_BIN="$BUILD_DIR/apexc" FAKE_UPSTREAM_BIN="$BUILD_DIR/fake-upstream"
  set +e
  python3 -m pytest tests/e2e -ra "$@" 2>&1 | tee "$LOGDIR/pytest.log"
  PYTEST_RC=${PIPESTATUS[0]}
  set -e
  PYTEST_SUMMARY="$(grep -E '^=+ .*(passed|failed|error|skipped|no tests ran).* =+$' "$LOGDIR/pytest.log" | tail -n 1 | sed -E 's/^=+ //; s/ =+$//')"
else
  PYTEST_SUMMARY="not run: cargo build of apexc/fake-upstream failed"
fi
PYTEST_TIME=$((SECONDS - T0))

printf '\n==> [test] summary (%ds in all)\n' "$((SECONDS - START))"
printf '    cargo test: %s (exit %d, %ds)\n' "$CARGO_SUMMARY" "$CARGO_RC" "$CARGO_TIME"
printf '    fuzz targets: %s\n' "$([ "$FUZZ_RC" -eq 0 ] && echo "build" || echo "DO NOT BUILD (exit $FUZZ_RC)")"
printf '    clippy: %s\n' "$([ "$CLIPPY_RC" -eq 0 ] && echo "clean" || echo "FINDINGS (exit $CLIPPY_RC; $LOGDIR/clippy.log)")"
printf '    cargo package: %s\n' "$([ "$PACKAGE_RC" -eq 0 ] && echo "both crates package and verify" || echo "FAILED (exit $PACKAGE_RC)")"
printf '    pytest e2e: %s (exit %d, %ds)\n' "${PYTEST_SUMMARY:-no summary}" "$PYTEST_RC" "$PYTEST_TIME"
if [ "$CARGO_RC" -ne 0 ] || [ "$FUZZ_RC" -ne 0 ] || [ "$CLIPPY_RC" -ne 0 ] || [ "$PACKAGE_RC" -ne 0 ] || [ "$PYTEST_RC" -ne 0 ]; then
  echo "    FAILED (logs: $LOGDIR)"
  exit 1
fi
echo "    OK"
