#!/usr/bin/env bash
# Soak: SOAK_SECONDS (default 300) at concurrency SOAK_CONCURRENCY (64) through the generated
# worker under bare workerd, in front of the fault-injecting fake upstream (tests/fake-upstream),
# mixing every endpoint, streams and faults (bench/loadgen/src/soak.rs lists the mix and what
# each answer must be). Every response is checked in full: the run fails on any lost,
# truncated, garbled or wrong answer. workerd's resident memory (VmRSS) is sampled every 5 s.
#
#   bash bench/soak.sh                      # 5 minutes
#   SOAK_SECONDS=30 bash bench/soak.sh      # a quick one
# Output: target/bench-run/soak/ (soak.json: the checker's counts; rss.tsv: seconds, KiB).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
OUT="$ROOT/target/bench-run/soak"
mkdir -p "$OUT"
SECS="${SOAK_SECONDS:-300}"
CONC="${SOAK_CONCURRENCY:-64}"
PORT="${SOAK_PORT:-18999}"
bash scripts/setup.sh >/dev/null
# shellcheck source=/dev/null
source target/tools/env.sh
nice -n 5 cargo build --release -q -p apexc -p apex-loadgen -p fake-upstream
BIN="${CARGO_TARGET_DIR:-$ROOT/target}/release"

PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT
"$BIN/fake-upstream" --listen 127.0.0.1:0 --no-record --threads 1 > "$OUT/fake-upstream.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 200); do grep -q 'listening on' "$OUT/fake-upstream.log" && break; sleep 0.05; done
UP="$(grep -o 'http://[0-9.:]*' "$OUT/fake-upstream.log" | head -n1)"
sed "s#127.0.0.1:18931#${UP#http://}#" bench/soak.yaml > "$OUT/soak.yaml"
printf 'GATEWAY_KEY=soak-gateway-key\nFAKE_KEY=soak-upstream-key\nFAULTY_KEY=soak-faulty-key\nBROKEN_KEY=soak-broken-key\nREFUSING_KEY=soak-refusing-key\n' > "$OUT/.dev.vars"
echo "==> building the soak worker (apexc dev --build-only)"
nice -n 5 "$BIN/apexc" dev "$OUT/soak.yaml" --build-only --dev-vars "$OUT/.dev.vars" --out "$OUT/worker" > "$OUT/build.log" 2>&1 \
  || { tail -n 30 "$OUT/build.log" >&2; exit 1; }
bash bench/workerd.sh "$OUT/worker" "$PORT" "$OUT/.dev.vars" > "$OUT/workerd.log" 2>&1 &
WPID=$!
PIDS+=($WPID)
for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$PORT/" && break; sleep 0.1; done

: > "$OUT/rss.tsv"
( t0=$SECONDS; while kill -0 "$WPID" 2>/dev/null; do
    echo -e "$((SECONDS - t0))\t$(awk '/VmRSS/ {print $2}' "/proc/$WPID/status")" >> "$OUT/rss.tsv"; sleep 5; done ) &
PIDS+=($!)
echo "==> soak: ${SECS}s at concurrency $CONC through workerd (pid $WPID) → fake upstream $UP"
set +e
"$BIN/apex-soak" --url "http://127.0.0.1:$PORT" --key soak-gateway-key --concurrency "$CONC" --duration "$SECS" > "$OUT/soak.json"
rc=$?
set -e
echo -e "$SECS\t$(awk '/VmRSS/ {print $2}' "/proc/$WPID/status")" >> "$OUT/rss.tsv"
python3 - "$OUT/soak.json" "$OUT/rss.tsv" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
rss = [tuple(map(int, l.split())) for l in open(sys.argv[2]) if len(l.split()) == 2]
print(f"requests {r['requests']}  ok {r['ok']}  failed {r['failed']}  ({r['rps']:.0f} req/s over {r['seconds']:.0f}s, concurrency {r['concurrency']})")
print("| case | ok | failed | of which: error event / error status |")
print("|---|---:|---:|---|")
for k, v in r["cases"].items():
    extra = f"{v['error_event']} / {v['error_status']}" if v["error_event"] or v["error_status"] else ""
    print(f"| {k} | {v['ok']} | {v['failed']} | {extra} |")
for f in r["failures"][:5]:
    print("FAILURE:", json.dumps(f))
if rss:
    after_warm = [x for x in rss if x[0] >= 15] or rss
    print(f"workerd VmRSS: at start {rss[0][1]/1024:.1f} MiB, after 15 s {after_warm[0][1]/1024:.1f} MiB, "
          f"min {min(x[1] for x in after_warm)/1024:.1f}, max {max(x[1] for x in after_warm)/1024:.1f}, end {rss[-1][1]/1024:.1f} MiB")
PY
exit $rc
