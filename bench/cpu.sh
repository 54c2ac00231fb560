#!/usr/bin/env bash
# CPU time per request inside workerd, per path:
#   bash bench/cpu.sh WORKER_DIR DEV_VARS BODIES_DIR     (nginx must be up on BENCH_PORT_BASE)
# A fresh workerd, pinned to CPU 1, serves the worker; apex-loadgen (pinned to CPU 0) sends a
# paced load (BENCH_CPU_RATE req/s, default 100, 4 connections, BENCH_CPU_SECONDS, default 10,
# no warm-up) per path. workerd's CPU time (utime + stime of every thread, /proc/PID/stat) is
# read before and after; the idle rate over the same wall time (measured first) is subtracted,
# and the rest divided by the requests served. It covers everything workerd does for the
# request (HTTP in, the fetch to the upstream, JS glue, our wasm), so it is an upper bound on
# what Cloudflare bills as CPU time (their clock stops while the isolate waits on I/O, and
# their HTTP front line is not the isolate).
# The same measurement on a JS worker that only forwards the body to the upstream and returns
# its response (bench/js-proxy-worker.js) gives the floor any gateway Worker pays in this
# workerd for the HTTP round trips; the difference is the gateway's own work.
# BENCH_CPU_PATHS="chat messages" measures a subset; BENCH_CPU_FLOOR=0 skips the JS floor.
# To compare builds, bench/cpu_ab.py interleaves them burst by burst (same machine state).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DIR="$1"; VARS="$2"; BODIES="$3"
P_NGINX="${BENCH_PORT_BASE:-18990}"; PORT=$((P_NGINX + 5))
RATE="${BENCH_CPU_RATE:-100}"; SECS="${BENCH_CPU_SECONDS:-10}"
BIN="${CARGO_TARGET_DIR:-$ROOT/target}/release"
TCK="$(getconf CLK_TCK)"
WPID=""
trap '[ -n "$WPID" ] && kill $WPID 2>/dev/null || true' EXIT

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
up() { for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$PORT/" && return 0; sleep 0.1; done; return 1; }
idle_rate() { local a b; a="$(cpu_ticks "$WPID")"; sleep "$SECS"; b="$(cpu_ticks "$WPID")"; python3 -c "print(($b - $a) / $TCK / $SECS)"; }
header() { printf '| %s | requests | workerd CPU s | idle CPU s | CPU per request ms | of the 10 ms free-plan limit |\n|---|---:|---:|---:|---:|---:|\n' "$1"; }
measure() { # url body_file label
  local a b r
  a="$(cpu_ticks "$WPID")"
  r="$(taskset -c 0 "$BIN/apex-loadgen" --url "$1" --body-file "$2" \
        --header "authorization: Bearer bench-gateway-key" --header "anthropic-version: 2023-06-01" \
        --concurrency 4 --rate "$RATE" --duration "$SECS" --warmup 0)"
  b="$(cpu_ticks "$WPID")"
  python3 -c '
import json, sys
p, r, a, b, tck, idle, secs = sys.argv[1], json.loads(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), float(sys.argv[6]), float(sys.argv[7])
n = r["requests"] + r["errors"]
cpu = (b - a) / tck
idle_s = idle * secs
per = (cpu - idle_s) / max(n, 1) * 1000
e = r["errors"]
err = f" ({e} errors)" if e else ""
print(f"| {p} | {n}{err} | {cpu:.2f} | {idle_s:.2f} | {per:.3f} | {per / 10 * 100:.1f}% |")
' "$3" "$r" "$a" "$b" "$TCK" "$IDLE" "$SECS"
}
path_of() { case $1 in chat*) echo chat/completions;; embeddings) echo embeddings;; messages*) echo messages;; responses*) echo responses;; esac; }
PATHS="${BENCH_CPU_PATHS:-chat chat-stream embeddings messages messages-stream responses responses-stream}"

# --- the generated worker (bench/workerd.sh execs workerd, so $! is workerd itself)
taskset -c 1 bash "$ROOT/bench/workerd.sh" "$DIR" "$PORT" "$VARS" > "$DIR/workerd-cpu.log" 2>&1 &
WPID=$!
up
# Warm the isolate on every path first (the first requests compile the wasm).
for p in $PATHS; do
  taskset -c 0 "$BIN/apex-loadgen" --url "http://127.0.0.1:$PORT/v1/$(path_of $p)" --body-file "$BODIES/$p.json" \
    --header "authorization: Bearer bench-gateway-key" --concurrency 2 --duration 1 --warmup 0 >/dev/null
done
sleep 1
IDLE="$(idle_rate)"
echo "The generated worker (wasm), ${RATE} req/s for ${SECS} s per path:"
header path
for p in $PATHS; do
  measure "http://127.0.0.1:$PORT/v1/$(path_of $p)" "$BODIES/$p.json" "$p"
done
kill "$WPID"; wait "$WPID" 2>/dev/null || true
WPID=""
# BENCH_CPU_FLOOR=0: the worker only (A/B runs of two builds need no floor each time).
[ "${BENCH_CPU_FLOOR:-1}" = 0 ] && exit 0

# --- the floor: a JS worker that forwards the body and returns the upstream's response
JS="$DIR/js-proxy"
mkdir -p "$JS"
taskset -c 1 bash "$ROOT/bench/jsfloor.sh" "$JS" "$PORT" "http://127.0.0.1:$P_NGINX" > "$JS/workerd.log" 2>&1 &
WPID=$!
up
for p in chat messages; do
  taskset -c 0 "$BIN/apex-loadgen" --url "http://127.0.0.1:$PORT/?shape=plain" --body-file "$BODIES/$p.json" --concurrency 2 --duration 1 --warmup 0 >/dev/null
done
sleep 1
IDLE="$(idle_rate)"
echo
echo "JS forwarding worker (the floor: HTTP in, fetch out, bodies passed through untouched):"
header request
measure "http://127.0.0.1:$PORT/?shape=plain" "$BODIES/chat.json" "chat body → JSON answer"
measure "http://127.0.0.1:$PORT/?shape=stream" "$BODIES/chat-stream.json" "chat body → SSE answer"
measure "http://127.0.0.1:$PORT/?shape=plain" "$BODIES/messages.json" "Claude Code body (88 KB) → JSON answer"
measure "http://127.0.0.1:$PORT/?shape=stream" "$BODIES/messages-stream.json" "Claude Code body (88 KB) → SSE answer"
measure "http://127.0.0.1:$PORT/?shape=plain" "$BODIES/responses.json" "Codex body (41 KB) → JSON answer"
