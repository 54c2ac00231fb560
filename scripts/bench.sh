#!/usr/bin/env bash
# Benchmark (not a test): what the gateway costs, and how big each example's worker is.
# The full side-by-side benchmark (nginx upstream, the worker under workerd, LiteLLM, Portkey,
# translation paths, CPU per request, bundle sizes) is bench/run.sh; results in BENCHMARKS.md.
#
# 1. Native overhead: the same non-streaming chat request sent (a) straight to the fake
#    upstream and (b) through `apexc serve` in front of it, interleaved, BENCH_ROUNDS times;
#    medians of p50/p99 side by side, the difference being the gateway's overhead. Loads:
#    closed loop at concurrency 1, 16 and 64 ("max": the next request leaves as soon as the
#    last answer is in, so at 16/64 the CPU saturates and latency is mostly queueing), and
#    16 and 64 connections paced at BENCH_RATE req/s in all (default 4000, below saturation:
#    the gateway's own latency). BENCH_RUNS overrides the list ("conc:max" / "conc:rate").
#    Release builds.
# 2. Worker bundle size: every examples/*.yaml compiled (apexc dev --build-only, i.e.
#    apexc build + worker-build --release), then gzip -9 of the .wasm and of the JS (shim +
#    glue), and wrangler's own upload figure (`wrangler deploy --dry-run`, no login needed).
#
#   bash scripts/bench.sh                 # both parts (~3 min after the first release build)
#   BENCH_DURATION=10 BENCH_ROUNDS=5 bash scripts/bench.sh
#   BENCH_SKIP_BUNDLES=1 bash scripts/bench.sh      # latency only
#   BENCH_NO_BUILD=1 bash scripts/bench.sh          # reuse target/release binaries
#
# All processes share this machine's cores (2 here), so absolute numbers are a floor for
# what a quiet machine does; the direct/gateway comparison runs under the same conditions.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
DURATION="${BENCH_DURATION:-3}"
WARMUP="${BENCH_WARMUP:-1}"
OUT="$ROOT/target/bench"
mkdir -p "$OUT"

bash scripts/setup.sh >/dev/null
# shellcheck source=/dev/null
source target/tools/env.sh

if [ -z "${BENCH_NO_BUILD:-}" ]; then
  echo "==> [bench] cargo build --release (apexc, fake-upstream, apex-loadgen)"
  T0=$SECONDS
  cargo build --release -q -p apexc -p fake-upstream -p apex-loadgen
  echo "    done in $((SECONDS - T0))s"
fi
BIN="${CARGO_TARGET_DIR:-$ROOT/target}/release"

PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT

# Waits for a server's "listening on http://..." line in its log and prints the URL.
url_from() { # name, log
  local name="$1" log="$2" url
  for _ in $(seq 1 400); do
    url="$(grep -o 'listening on http://[0-9.:]*' "$log" | head -n1 | sed 's/listening on //' || true)"
    if [ -n "$url" ]; then echo "$url"; return 0; fi
    sleep 0.05
  done
  echo "bench: $name did not start; log:" >&2; cat "$log" >&2; return 1
}

"$BIN/fake-upstream" --listen 127.0.0.1:0 --no-record --threads 1 > "$OUT/fake-upstream.log" 2>&1 &
PIDS+=($!)
UPSTREAM="$(url_from fake-upstream "$OUT/fake-upstream.log")"
sed "s#127.0.0.1:18931#${UPSTREAM#http://}#" bench/bench.yaml > "$OUT/bench.yaml"
printf 'GATEWAY_KEY=bench-gateway-key\nFAKE_KEY=bench-upstream-key\n' > "$OUT/.dev.vars"
"$BIN/apexc" serve "$OUT/bench.yaml" --listen 127.0.0.1:0 --quiet > "$OUT/apexc-serve.log" 2>&1 &
PIDS+=($!)
GATEWAY="$(url_from "apexc serve" "$OUT/apexc-serve.log")"

BODY_DIRECT='{"model":"echo","messages":[{"role":"user","content":"benchmark prompt of a few words"}]}'
BODY_GATEWAY='{"model":"bench","messages":[{"role":"user","content":"benchmark prompt of a few words"}]}'

run() { # url body auth concurrency [rate]
  "$BIN/apex-loadgen" --url "$1/v1/chat/completions" --body "$2" --header "authorization: Bearer $3" \
    --concurrency "$4" --duration "$DURATION" --warmup "$WARMUP" ${5:+--rate "$5"}
}

ROUNDS="${BENCH_ROUNDS:-3}"
echo "==> [bench] native overhead: $ROUNDS rounds of ${DURATION}s per target after ${WARMUP}s warm-up, direct and gateway interleaved"
echo "    (fake upstream $UPSTREAM, gateway $GATEWAY); the table shows each figure's median over the rounds"
RESULTS="$OUT/latency.jsonl"
: > "$RESULTS"
RATE="${BENCH_RATE:-4000}"
for round in $(seq 1 "$ROUNDS"); do
  # Saturated (each connection sends as soon as its last answer is in), then paced at $RATE
  # req/s in all: below saturation the difference is the gateway's own latency, not CPU queueing.
  for spec in ${BENCH_RUNS:-1:max 16:max 64:max 16:$RATE 64:$RATE}; do
    c="${spec%%:*}"; rate="${spec#*:}"; [ "$rate" = max ] && rate=""
    d="$(run "$UPSTREAM" "$BODY_DIRECT" bench-upstream-key "$c" "$rate")"
    g="$(run "$GATEWAY" "$BODY_GATEWAY" bench-gateway-key "$c" "$rate")"
    echo "{\"round\":$round,\"target\":\"direct\",\"r\":$d}" >> "$RESULTS"
    echo "{\"round\":$round,\"target\":\"apexc serve\",\"r\":$g}" >> "$RESULTS"
  done
done

python3 - "$RESULTS" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
runs = {}
for r in rows:
    x = r["r"]
    runs.setdefault((x["rate"] or 0, x["concurrency"], r["target"]), []).append(x)
med = lambda xs, k: statistics.median(v[k] for v in xs)
print()
print(f"{'target':<12} {'conc':>4} {'load':>9} {'req/s':>7} {'p50 ms':>7} {'p99 ms':>7} {'errors':>6}   gateway overhead p50 / p99")
for (rate, c, t), xs in sorted(runs.items(), key=lambda kv: (kv[0][0], kv[0][1], kv[0][2] != "direct")):
    p50, p99 = med(xs, "p50_us"), med(xs, "p99_us")
    extra = ""
    if t != "direct":
        d = runs[(rate, c, "direct")]
        extra = f"   +{(p50 - med(d, 'p50_us')) / 1000:.3f} / +{(p99 - med(d, 'p99_us')) / 1000:.3f} ms"
    load = f"{rate:.0f}/s" if rate else "max"
    errors = sum(v["errors"] for v in xs)
    print(f"{t:<12} {c:>4} {load:>9} {med(xs, 'rps'):>7.0f} {p50 / 1000:>7.3f} {p99 / 1000:>7.3f} {errors:>6}{extra}")
PY

if [ -n "${BENCH_SKIP_BUNDLES:-}" ]; then exit 0; fi

echo
echo "==> [bench] worker bundle sizes (examples/*.yaml; first build compiles the runtime to wasm)"
SIZES="$OUT/bundles.txt"
: > "$SIZES"
for cfg in examples/*.yaml; do
  stem="$(basename "$cfg" .yaml)"
  dir="$OUT/workers/$stem"
  T0=$SECONDS
  if ! "$BIN/apexc" dev "$cfg" --build-only --out "$dir" > "$OUT/build-$stem.log" 2>&1; then
    echo "bench: building $cfg failed; log: $OUT/build-$stem.log" >&2
    tail -n 20 "$OUT/build-$stem.log" >&2
    exit 1
  fi
  wasm_raw=$(find "$dir/build" -name '*.wasm' -exec cat {} + | wc -c)
  wasm_gz=$(find "$dir/build" -name '*.wasm' -exec cat {} + | gzip -9 | wc -c)
  js_gz=$(find "$dir/build" \( -name '*.js' -o -name '*.mjs' \) -exec cat {} + | gzip -9 | wc -c)
  upload="$(cd "$dir" && wrangler deploy --dry-run --config wrangler.dev.toml --outdir "$OUT/dist-$stem" 2>&1 | grep -o 'Total Upload: .*' | head -n1 || true)"
  echo "$stem $wasm_raw $wasm_gz $js_gz $((SECONDS - T0)) ${upload:-n/a}" >> "$SIZES"
done
python3 - "$SIZES" <<'PY2'
import sys
print()
print(f"{'example':<14} {'wasm KiB':>9} {'wasm gz KiB':>12} {'js gz KiB':>10} {'total gz KiB':>13} {'build s':>8}   wrangler --dry-run")
for line in open(sys.argv[1]):
    stem, raw, gz, js, secs, upload = line.rstrip("\n").split(" ", 5)
    raw, gz, js = int(raw), int(gz), int(js)
    print(f"{stem:<14} {raw / 1024:>9.1f} {gz / 1024:>12.1f} {js / 1024:>10.1f} {(gz + js) / 1024:>13.1f} {secs:>8}   {upload}")
PY2
