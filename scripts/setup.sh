#!/usr/bin/env bash
# Installs everything apexc's builds and tests need, and nothing twice.
#
# Safe to run again: every step first checks whether its tool is already there at the right
# version. Needs what a fresh machine of this kind has (Debian, rustup's Rust, Node 20,
# Python 3.11) and only the package registries (crates.io, npm, PyPI).
#
# Afterwards `target/tools/env.sh` holds the environment the build steps need
# (WASM_BINDGEN_BIN, ESBUILD_BIN, wrangler's no-prompt/no-telemetry switches, PATH);
# scripts/test.sh and scripts/bench.sh source it.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS="$ROOT/target/tools"
WORKER_BUILD_VERSION=0.8.7
WASM_BINDGEN_VERSION=0.2.130
WRANGLER_VERSION=4.86.0
CARGO_BIN="${CARGO_HOME:-$HOME/.cargo}/bin"
export PATH="$CARGO_BIN:$PATH"

SETUP_START=$SECONDS
STEP_START=0
step() { STEP_START=$SECONDS; printf '\n==> [setup] %s\n' "$*"; }
done_step() { printf '    done in %ds (%s)\n' "$((SECONDS - STEP_START))" "$*"; }
fail() { printf 'setup.sh: error: %s\n' "$*" >&2; exit 1; }

command -v cargo >/dev/null || fail "cargo not found: install Rust with rustup (https://rustup.rs), then rerun"
command -v rustup >/dev/null || fail "rustup not found: the wasm32 target is added with rustup"
command -v node >/dev/null || fail "node not found: install Node.js 20 (wrangler $WRANGLER_VERSION needs it)"
command -v npm >/dev/null || fail "npm not found: install Node.js 20 with npm"
command -v python3 >/dev/null || fail "python3 not found: the end-to-end tests need Python 3.11"

NODE_MAJOR="$(node -p 'process.versions.node.split(".")[0]')"
[ "$NODE_MAJOR" -ge 20 ] || fail "Node.js $(node --version) is too old: wrangler $WRANGLER_VERSION needs Node 20"

# 1. The wasm target (a fresh rustup toolchain has only the host target).
step "rust target wasm32-unknown-unknown"
if rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  done_step "already installed"
else
  rustup target add wasm32-unknown-unknown
  done_step "installed"
fi

# 1b. Clippy (scripts/test.sh lints every runtime build; a minimal toolchain lacks it).
step "rust component clippy"
if cargo clippy --version >/dev/null 2>&1; then
  done_step "already installed"
else
  rustup component add clippy
  done_step "installed"
fi

# 2. Python clients for the end-to-end tests (quick; before the slow cargo installs).
step "python test clients (tests/e2e/requirements.txt)"
if python3 - "$ROOT/tests/e2e/requirements.txt" <<'PY'
import sys
from importlib.metadata import version, PackageNotFoundError
for line in open(sys.argv[1]):
    line = line.split("#")[0].strip()
    if not line:
        continue
    name, want = line.split("==")
    try:
        if version(name) != want:
            sys.exit(1)
    except PackageNotFoundError:
        sys.exit(1)
PY
then
  done_step "already installed"
else
  python3 -m pip install --quiet --disable-pip-version-check -r "$ROOT/tests/e2e/requirements.txt"
  done_step "installed"
fi

# 3. wrangler, once, in a shared tools dir that every generated worker reuses.
step "wrangler $WRANGLER_VERSION (npm, into target/tools)"
mkdir -p "$TOOLS"
installed_wrangler="$(node -p "try{require('$TOOLS/node_modules/wrangler/package.json').version}catch(e){''}" 2>/dev/null || true)"
if [ "$installed_wrangler" = "$WRANGLER_VERSION" ] && [ -x "$TOOLS/node_modules/.bin/esbuild" ]; then
  done_step "already installed"
else
  cat > "$TOOLS/package.json" <<JSON
{ "private": true, "description": "tools shared by apexc's generated workers", "devDependencies": { "wrangler": "$WRANGLER_VERSION" } }
JSON
  (cd "$TOOLS" && npm install --no-audit --no-fund --loglevel=error)
  done_step "installed"
fi

# 3b. yaml-language-server, for the editor test (tests/e2e/test_language_server.py): the language
#     server VS Code's YAML extension runs, driven over stdio against schemas/apex.schema.json.
#     1.25.0: the last release that runs on Node 20 (2.x needs Node 22).
YAML_LS_VERSION=1.25.0
YAML_LS="$TOOLS/yaml-language-server"
step "yaml-language-server $YAML_LS_VERSION (npm, into target/tools/yaml-language-server)"
installed_yaml_ls="$(node -p "try{require('$YAML_LS/node_modules/yaml-language-server/package.json').version}catch(e){''}" 2>/dev/null || true)"
if [ "$installed_yaml_ls" = "$YAML_LS_VERSION" ]; then
  done_step "already installed"
else
  mkdir -p "$YAML_LS"
  cat > "$YAML_LS/package.json" <<JSON
{ "private": true, "description": "yaml-language-server for apexc's editor test", "devDependencies": { "yaml-language-server": "$YAML_LS_VERSION" } }
JSON
  (cd "$YAML_LS" && npm install --no-audit --no-fund --loglevel=error)
  done_step "installed"
fi

# 4. wasm-bindgen-cli: must equal the wasm-bindgen crate version the generated crate pins.
#    Not --locked: its lockfile pins a crate version the registry no longer has.
step "wasm-bindgen-cli $WASM_BINDGEN_VERSION (cargo install, ~3 min the first time)"
if [ "$("$CARGO_BIN/wasm-bindgen" --version 2>/dev/null || true)" = "wasm-bindgen $WASM_BINDGEN_VERSION" ]; then
  done_step "already installed"
else
  cargo install wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION" --force
  done_step "installed"
fi

# 5. worker-build (compiles the crate to wasm, runs wasm-bindgen, bundles the JS shim).
step "worker-build $WORKER_BUILD_VERSION (cargo install, ~5 min the first time)"
if "$CARGO_BIN/worker-build" --version 2>/dev/null | grep -q "$WORKER_BUILD_VERSION"; then
  done_step "already installed"
else
  cargo install worker-build --version "$WORKER_BUILD_VERSION" --locked --force
  done_step "installed"
fi

# 5b. redis-server (Debian's package): tests/e2e/test_quota_redis.py starts its own on loopback
#     to check that several `apexc serve` processes share one set of quota counts.
step "redis-server (apt, for the shared-quota test)"
if command -v redis-server >/dev/null; then
  done_step "already installed: $(redis-server --version | cut -d' ' -f3)"
elif command -v apt-get >/dev/null; then
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get install -y -qq redis-server >/dev/null 2>&1 \
    || { $SUDO apt-get update -qq >/dev/null && $SUDO apt-get install -y -qq redis-server >/dev/null; } \
    || fail "cannot install redis-server with apt-get"
  done_step "installed: $(redis-server --version | cut -d' ' -f3)"
else
  fail "redis-server not found and no apt-get: install Redis 6+ (or Valkey as redis-server)"
fi

# 6. The environment the build steps need. worker-build would otherwise try to download
#    wasm-bindgen, binaryen and esbuild from places this machine cannot reach.
cat > "$TOOLS/env.sh" <<ENV
# Written by scripts/setup.sh. Source it before worker-build / wrangler.
export PATH="$CARGO_BIN:$TOOLS/node_modules/.bin:\$PATH"
export WASM_BINDGEN_BIN="$CARGO_BIN/wasm-bindgen"
export ESBUILD_BIN="$TOOLS/node_modules/.bin/esbuild"
export WRANGLER_SEND_METRICS=false
export CLOUDFLARE_CF_FETCH_ENABLED=false
export CI=\${CI:-1}
ENV

printf '\n==> [setup] all tools ready in %ds (env: %s)\n' "$((SECONDS - SETUP_START))" "$TOOLS/env.sh"
