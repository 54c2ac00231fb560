#!/usr/bin/env bash
# Serves a built worker (apexc dev --build-only output) under bare workerd, without wrangler:
#   bash bench/workerd.sh WORKER_DIR PORT DEV_VARS   (runs in the foreground; exec's workerd)
# Writes WORKER_DIR/build/workerd.capnp: the worker's two modules (index.js + index_bg.wasm),
# each NAME=value of DEV_VARS as a text binding (what `wrangler secret` gives a deployed
# worker), and a network service allowing private and local addresses as globalOutbound
# (workerd's default outbound refuses 127.0.0.1, where the benchmark upstreams listen).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DIR="$(cd "$1" && pwd)"; PORT="$2"; VARS="$3"
DATE="$(sed -n 's/^compatibility_date = "\(.*\)"/\1/p' "$DIR/wrangler.toml")"
{
  echo 'using Workerd = import "/workerd/workerd.capnp";'
  echo 'const config :Workerd.Config = ('
  echo '  services = ['
  echo '    (name = "main", worker = .gateway),'
  echo '    (name = "net", network = (allow = ["public", "private", "local"], tlsOptions = (trustBrowserCas = true))),'
  echo '  ],'
  echo "  sockets = [ (name = \"http\", address = \"127.0.0.1:$PORT\", http = (), service = \"main\") ],"
  echo ');'
  echo 'const gateway :Workerd.Worker = ('
  echo '  modules = ['
  echo '    (name = "index.js", esModule = embed "index.js"),'
  echo '    (name = "index_bg.wasm", wasm = embed "index_bg.wasm"),'
  echo '  ],'
  echo "  compatibilityDate = \"${DATE:-2025-10-01}\","
  echo '  bindings = ['
  while IFS='=' read -r k v; do
    [ -n "$k" ] && [ "${k#\#}" = "$k" ] && echo "    (name = \"$k\", text = \"$v\"),"
  done < "$VARS"
  echo '  ],'
  echo '  globalOutbound = "net",'
  echo ');'
} > "$DIR/build/workerd.capnp"
# WORKERD_INSPECTOR=host:port opens V8's inspector (bench/profile.py profiles through it).
exec "$ROOT/target/tools/node_modules/.bin/workerd" serve "$DIR/build/workerd.capnp" --experimental \
  ${WORKERD_INSPECTOR:+--inspector-addr="$WORKERD_INSPECTOR"}
