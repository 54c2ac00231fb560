#!/usr/bin/env bash
# Serves a built worker (apexc dev --build-only output) under bare workerd, without wrangler:
#   bash bench/workerd.sh WORKER_DIR PORT DEV_VARS   (runs in the foreground; exec's workerd)
# Writes WORKER_DIR/build/workerd.capnp: the worker's two modules (index.js + index_bg.wasm),
# each NAME=value of DEV_VARS as a text binding (what `wrangler secret` gives a deployed
# worker), and a network service allowing private and local addresses as globalOutbound
# (workerd's default outbound refuses 127.0.0.1, where the benchmark upstreams listen).
# A worker whose wrangler.toml binds a Durable Object (declared limits) gets it as a
# SQLite-backed namespace on a local disk: WORKERD_DO_DIR (default WORKER_DIR/build/do-state),
# kept across restarts as Cloudflare keeps it across deployments.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DIR="$(cd "$1" && pwd)"; PORT="$2"; VARS="$3"
DATE="$(sed -n 's/^compatibility_date = "\(.*\)"/\1/p' "$DIR/wrangler.toml")"
# `name = "B"` then `class_name = "C"` under [[durable_objects.bindings]] (apexc writes one).
DO_BINDING="$(sed -n '/^\[\[durable_objects.bindings\]\]/,/^class_name/s/^name = "\(.*\)"/\1/p' "$DIR/wrangler.toml")"
DO_CLASS="$(sed -n '/^\[\[durable_objects.bindings\]\]/,/^class_name/s/^class_name = "\(.*\)"/\1/p' "$DIR/wrangler.toml")"
if [ -n "$DO_CLASS" ]; then
  DO_DIR="${WORKERD_DO_DIR:-$DIR/build/do-state}"
  mkdir -p "$DO_DIR"
  DO_DIR="$(cd "$DO_DIR" && pwd)"
fi
{
  echo 'using Workerd = import "/workerd/workerd.capnp";'
  echo 'const config :Workerd.Config = ('
  echo '  services = ['
  echo '    (name = "main", worker = .gateway),'
  echo '    (name = "net", network = (allow = ["public", "private", "local"], tlsOptions = (trustBrowserCas = true))),'
  if [ -n "$DO_CLASS" ]; then
    echo "    (name = \"do-disk\", disk = (path = \"$DO_DIR\", writable = true)),"
  fi
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
  if [ -n "$DO_CLASS" ]; then
    echo "    (name = \"$DO_BINDING\", durableObjectNamespace = \"$DO_CLASS\"),"
  fi
  echo '  ],'
  if [ -n "$DO_CLASS" ]; then
    echo "  durableObjectNamespaces = [ (className = \"$DO_CLASS\", uniqueKey = \"$DO_CLASS\", enableSql = true) ],"
    echo '  durableObjectStorage = (localDisk = "do-disk"),'
  fi
  echo '  globalOutbound = "net",'
  echo ');'
} > "$DIR/build/workerd.capnp"
# WORKERD_INSPECTOR=host:port opens V8's inspector (bench/profile.py profiles through it).
exec "$ROOT/target/tools/node_modules/.bin/workerd" serve "$DIR/build/workerd.capnp" --experimental \
  ${WORKERD_INSPECTOR:+--inspector-addr="$WORKERD_INSPECTOR"}
