#!/usr/bin/env bash
# The floor any gateway Worker pays in workerd: serves bench/js-proxy-worker.js (forward the
# body to the upstream's chat endpoint, return its Response untouched) under bare workerd.
#   bash bench/jsfloor.sh DIR PORT UPSTREAM_URL     (runs in the foreground; exec's workerd)
# Writes DIR/worker.js and DIR/config.capnp. Used by bench/run.sh (the `jsfloor` target),
# bench/cpu.sh and bench/cpu_ab.py --floor.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DIR="$1"; PORT="$2"; UPSTREAM="$3"
mkdir -p "$DIR"
DIR="$(cd "$DIR" && pwd)"
cp "$ROOT/bench/js-proxy-worker.js" "$DIR/worker.js"
cat > "$DIR/config.capnp" <<CAPNP
using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [
    (name = "main", worker = (modules = [(name = "worker.js", esModule = embed "worker.js")],
      compatibilityDate = "2025-10-01", globalOutbound = "net",
      bindings = [(name = "UPSTREAM", text = "$UPSTREAM")])),
    (name = "net", network = (allow = ["public", "private", "local"])),
  ],
  sockets = [ (name = "http", address = "127.0.0.1:$PORT", http = (), service = "main") ],
);
CAPNP
exec "$ROOT/target/tools/node_modules/.bin/workerd" serve "$DIR/config.capnp"
