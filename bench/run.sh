#!/usr/bin/env bash
# The benchmark, side by side with the peers: one command, one table.
#
#   bash bench/run.sh                        # everything (~12 min after the first builds)
#   BENCH_DURATION=10 bash bench/run.sh      # longer runs per cell (default 5 s + 1 s warm-up)
#   BENCH_TARGETS="direct apexc workerd" bash bench/run.sh    # a subset (also: litellm portkey)
#   BENCH_SKIP="cpu bundles" bash bench/run.sh                # skip sections (latency cpu bundles)
#   BENCH_PATHS="chat" bash bench/run.sh                       # latency of some paths only
#
# Upstream: nginx (Debian package) serving fixed OpenAI chat JSON, an SSE stream (text/event-
# stream, sent at once), embeddings and models from bench/upstream/ — no code of ours on the
# upstream side. Targets, in turn, each on the same upstream:
#   direct   the upstream itself (the floor)
#   apexc    `apexc serve bench/gateway.yaml` (release build)
#   workerd  the generated worker (`apexc dev --build-only`) under bare workerd (bench/workerd.sh)
#   jsfloor  a 10-line JS worker that forwards the chat body and returns the upstream's answer
#            (bench/js-proxy-worker.js) in the same workerd: what workerd itself costs (chat paths)
#   litellm  LiteLLM proxy (PyPI `litellm[proxy]`, venv in target/bench-venv), one worker per core
#   portkey  Portkey gateway (npm `@portkey-ai/gateway`, in target/bench-node), under Node
#   nginxproxy  nginx as a plain reverse proxy with a keepalive pool (bench/nginx-proxy.conf.in):
#            the floor for any native proxy here (chat, chat-stream, embeddings)
# Paths: OpenAI chat (plain, stream), embeddings, Anthropic /v1/messages → chat upstream with
# the Claude Code sample body, Responses → chat with the Codex sample body (plain, stream),
# where the target supports them. Load: apex-loadgen, closed loop at concurrency 16 and 64.
# Overhead = target p50/p99 minus the direct upstream's at the same concurrency on the chat
# request it sends upstream (plain or stream).
#
# Then: CPU per request inside workerd for each path (see BENCHMARKS.md for the method), and
# bundle sizes (every examples/*.yaml, plus bench/bundles/openai-only.yaml vs every-kind.yaml).
# Results: target/bench-run/ (latency.jsonl, cpu.txt, bundles.txt, logs).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
OUT="$ROOT/target/bench-run"
mkdir -p "$OUT"
DURATION="${BENCH_DURATION:-5}"
WARMUP="${BENCH_WARMUP:-1}"
TARGETS="${BENCH_TARGETS:-direct apexc nginxproxy workerd jsfloor litellm portkey}"
SKIP=" ${BENCH_SKIP:-} "
P_NGINX="${BENCH_PORT_BASE:-18990}"
P_APEXC=$((P_NGINX + 1)); P_WORKERD=$((P_NGINX + 2)); P_LITELLM=$((P_NGINX + 3)); P_PORTKEY=$((P_NGINX + 4)); P_JSFLOOR=$((P_NGINX + 6))
P_NGXPROXY=$((P_NGINX + 7))
UPSTREAM="http://127.0.0.1:$P_NGINX"
has() { case " $TARGETS " in *" $1 "*) return 0 ;; *) return 1 ;; esac; }
skip() { case "$SKIP" in *" $1 "*) return 0 ;; *) return 1 ;; esac; }

# ---------------------------------------------------------------- setup
bash scripts/setup.sh >/dev/null
# shellcheck source=/dev/null
source target/tools/env.sh
command -v nginx >/dev/null || { echo "==> apt-get install nginx-light"; apt-get install -y -q nginx-light >/dev/null || apt-get install -y -q nginx >/dev/null; }
echo "==> cargo build --release (apexc, apex-loadgen)"
nice -n 5 cargo build --release -q -p apexc -p apex-loadgen
BIN="${CARGO_TARGET_DIR:-$ROOT/target}/release"
if has litellm && [ ! -x target/bench-venv/bin/litellm ]; then
  echo "==> pip install 'litellm[proxy]' (target/bench-venv)"
  python3 -m venv target/bench-venv && target/bench-venv/bin/pip install -q 'litellm[proxy]'
fi
if has portkey && [ ! -f target/bench-node/node_modules/@portkey-ai/gateway/build/start-server.js ]; then
  echo "==> npm install @portkey-ai/gateway (target/bench-node)"
  mkdir -p target/bench-node && (cd target/bench-node && { [ -f package.json ] || echo '{"private":true}' > package.json; } && npm install -q --no-audit --no-fund @portkey-ai/gateway >/dev/null)
fi

PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT
wait_http() { # name url
  for _ in $(seq 1 600); do curl -s -o /dev/null "$2" && return 0; sleep 0.1; done
  echo "bench: $1 did not come up at $2" >&2; return 1
}

# Secrets for the gateway configs, and the sample bodies with the bench model names.
printf 'GATEWAY_KEY=bench-gateway-key\nUPSTREAM_KEY=bench-upstream-key\n' > "$OUT/.dev.vars"
mkdir -p "$OUT/bodies"
python3 - "$OUT/bodies" "$ROOT/tests/fixtures/samples/" <<'PY'
import json, sys
out = sys.argv[1]
S = sys.argv[2]
claude = json.load(open(S + "claude-tool-turn1.json"))["body"]
codex = json.load(open(S + "codex-tool-turn1.json"))["body"]
def w(name, body): open(f"{out}/{name}.json", "w").write(json.dumps(body))
for stream in (False, True):
    sfx = "-stream" if stream else ""
    model = "bench-stream" if stream else "bench"
    w("messages" + sfx, {**claude, "model": model, "stream": stream})
    w("responses" + sfx, {**codex, "model": model, "stream": stream})
    chat = {"model": model, "messages": [{"role": "user", "content": "benchmark prompt of a few words"}]}
    if stream: chat |= {"stream": True, "stream_options": {"include_usage": True}}
    w("chat" + sfx, chat)
    w("direct-chat" + sfx, {**chat, "model": "gpt-4o-mini"})
w("embeddings", {"model": "bench-embed", "input": "benchmark prompt of a few words"})
w("direct-embeddings", {"model": "text-embedding-3-small", "input": "benchmark prompt of a few words"})
PY

# ---------------------------------------------------------------- servers
mkdir -p "$OUT/nginx"
sed -e "s#@PORT@#$P_NGINX#; s#@ROOT@#$ROOT/bench/upstream#g; s#@RUN@#$OUT/nginx#g" bench/upstream/nginx.conf.in > "$OUT/nginx/nginx.conf"
nginx -p "$OUT/nginx" -c "$OUT/nginx/nginx.conf" > "$OUT/nginx/stdout.log" 2>&1 &
PIDS+=($!)
wait_http nginx "$UPSTREAM/plain/v1/models"

sed "s#127.0.0.1:18990#127.0.0.1:$P_NGINX#" bench/gateway.yaml > "$OUT/gateway.yaml"
if has apexc; then
  "$BIN/apexc" serve "$OUT/gateway.yaml" --listen "127.0.0.1:$P_APEXC" --quiet > "$OUT/apexc.log" 2>&1 &
  PIDS+=($!)
fi
if has workerd; then
  echo "==> building the worker (apexc dev --build-only)"
  nice -n 5 "$BIN/apexc" dev "$OUT/gateway.yaml" --build-only --dev-vars "$OUT/.dev.vars" --out "$OUT/worker" > "$OUT/worker-build.log" 2>&1 \
    || { tail -n 30 "$OUT/worker-build.log" >&2; exit 1; }
  bash bench/workerd.sh "$OUT/worker" "$P_WORKERD" "$OUT/.dev.vars" > "$OUT/workerd.log" 2>&1 &
  PIDS+=($!)
fi
if has jsfloor; then
  mkdir -p "$OUT/jsfloor"
  bash bench/jsfloor.sh "$OUT/jsfloor" "$P_JSFLOOR" "$UPSTREAM" > "$OUT/jsfloor/workerd.log" 2>&1 &
  PIDS+=($!)
fi
if has nginxproxy; then
  mkdir -p "$OUT/nginx-proxy"
  sed -e "s#@PORT@#$P_NGXPROXY#; s#@UPSTREAM_PORT@#$P_NGINX#; s#@RUN@#$OUT/nginx-proxy#g" bench/nginx-proxy.conf.in > "$OUT/nginx-proxy/nginx.conf"
  nginx -p "$OUT/nginx-proxy" -c "$OUT/nginx-proxy/nginx.conf" > "$OUT/nginx-proxy/stdout.log" 2>&1 &
  PIDS+=($!)
fi
if has litellm; then
  sed "s#@UPSTREAM@#$UPSTREAM#g" bench/litellm.yaml.in > "$OUT/litellm.yaml"
  (cd "$OUT" && LITELLM_USE_CHAT_COMPLETIONS_URL_FOR_ANTHROPIC_MESSAGES=true LITELLM_LOG=ERROR LITELLM_TELEMETRY=False \
    exec "$ROOT/target/bench-venv/bin/litellm" --config "$OUT/litellm.yaml" --host 127.0.0.1 --port "$P_LITELLM" --num_workers "$(nproc)") > "$OUT/litellm.log" 2>&1 &
  PIDS+=($!)
fi
if has portkey; then
  (cd target/bench-node/node_modules/@portkey-ai/gateway && NODE_ENV=production exec node build/start-server.js --port="$P_PORTKEY" --headless) > "$OUT/portkey.log" 2>&1 &
  PIDS+=($!)
fi
has apexc && wait_http "apexc serve" "http://127.0.0.1:$P_APEXC/"
has workerd && wait_http workerd "http://127.0.0.1:$P_WORKERD/"
has jsfloor && wait_http jsfloor "http://127.0.0.1:$P_JSFLOOR/"
has nginxproxy && wait_http "nginx proxy" "http://127.0.0.1:$P_NGXPROXY/plain/v1/models"
has litellm && wait_http litellm "http://127.0.0.1:$P_LITELLM/health/liveliness"
has portkey && wait_http portkey "http://127.0.0.1:$P_PORTKEY/"

# ---------------------------------------------------------------- latency
# path → (url path, body file, text every good answer contains)
declare -A PATH_URL=([chat]=/v1/chat/completions [chat-stream]=/v1/chat/completions [embeddings]=/v1/embeddings
  [messages]=/v1/messages [messages-stream]=/v1/messages [responses]=/v1/responses [responses-stream]=/v1/responses)
declare -A EXPECT=([chat]='chat.completion' [chat-stream]='[DONE]' [embeddings]='"embedding"'
  [messages]='end_turn' [messages-stream]='message_stop' [responses]='"completed"' [responses-stream]='response.completed')
PATHS="${BENCH_PATHS:-chat chat-stream embeddings messages messages-stream responses responses-stream}"
supports() { # target path
  case "$1" in
    direct | portkey | nginxproxy) case "$2" in chat | chat-stream | embeddings) return 0 ;; *) return 1 ;; esac ;;
    jsfloor) case "$2" in chat | chat-stream) return 0 ;; *) return 1 ;; esac ;;
    *) return 0 ;;
  esac
}
run_cell() { # target path concurrency
  local t="$1" p="$2" c="$3" url body="$OUT/bodies/$2.json" hdr=()
  local shape=plain
  case "$p" in *-stream) shape=stream ;; esac
  case "$t" in
    direct) url="$UPSTREAM/$shape${PATH_URL[$p]}"; body="$OUT/bodies/direct-$p.json"
            hdr=(--header "authorization: Bearer bench-upstream-key") ;;
    apexc) url="http://127.0.0.1:$P_APEXC${PATH_URL[$p]}"; hdr=(--header "authorization: Bearer bench-gateway-key") ;;
    workerd) url="http://127.0.0.1:$P_WORKERD${PATH_URL[$p]}"; hdr=(--header "authorization: Bearer bench-gateway-key") ;;
    jsfloor) url="http://127.0.0.1:$P_JSFLOOR/?shape=$shape" ;;
    nginxproxy) url="http://127.0.0.1:$P_NGXPROXY/$shape${PATH_URL[$p]}"; body="$OUT/bodies/direct-$p.json"
            hdr=(--header "authorization: Bearer bench-upstream-key") ;;
    litellm) url="http://127.0.0.1:$P_LITELLM${PATH_URL[$p]}"; hdr=(--header "authorization: Bearer sk-bench-gateway-key") ;;
    portkey) url="http://127.0.0.1:$P_PORTKEY${PATH_URL[$p]}"; body="$OUT/bodies/direct-$p.json"
             hdr=(--header "x-portkey-provider: openai" --header "authorization: Bearer bench-upstream-key"
                  --header "x-portkey-custom-host: $UPSTREAM/$shape/v1") ;;
  esac
  case "$p" in messages*) hdr+=(--header "anthropic-version: 2023-06-01") ;; esac
  "$BIN/apex-loadgen" --url "$url" --body-file "$body" "${hdr[@]}" --expect "${EXPECT[$p]}" \
    --concurrency "$c" --duration "$DURATION" --warmup "$WARMUP"
}
if ! skip latency; then
  RESULTS="$OUT/latency.jsonl"
  : > "$RESULTS"
  echo "==> latency: ${DURATION}s per cell after ${WARMUP}s warm-up; targets: $TARGETS"
  for t in $TARGETS; do
    for p in $PATHS; do
      supports "$t" "$p" || continue
      for c in 16 64; do
        r="$(run_cell "$t" "$p" "$c")"
        echo "{\"target\":\"$t\",\"path\":\"$p\",\"r\":$r}" >> "$RESULTS"
        printf '    %-8s %-17s c=%-3s %s\n' "$t" "$p" "$c" "$r"
      done
    done
  done
  python3 bench/table.py "$RESULTS" | tee "$OUT/table.md"
fi

# ---------------------------------------------------------------- CPU per request in workerd
if has workerd && ! skip cpu; then
  echo "==> CPU per request inside workerd (pinned to CPU 1, paced load from CPU 0)"
  bash bench/cpu.sh "$OUT/worker" "$OUT/.dev.vars" "$OUT/bodies" | tee "$OUT/cpu.txt"
fi

# ---------------------------------------------------------------- bundles
if ! skip bundles; then
  echo "==> bundle sizes (apexc dev --build-only; gzip -9 of the .wasm and of the JS)"
  : > "$OUT/bundles.txt"
  for cfg in examples/*.yaml bench/bundles/openai-only.yaml bench/bundles/every-kind.yaml; do
    stem="$(basename "$cfg" .yaml)"
    dir="$OUT/bundles/$stem"
    if ! nice -n 5 "$BIN/apexc" dev "$cfg" --build-only --dev-vars /dev/null --out "$dir" > "$OUT/bundle-$stem.log" 2>&1; then
      echo "bench: building $cfg failed (log: $OUT/bundle-$stem.log)" >&2; continue
    fi
    wasm_raw=$(cat "$dir"/build/*.wasm | wc -c)
    wasm_gz=$(cat "$dir"/build/*.wasm | gzip -9 | wc -c)
    js_gz=$(cat "$dir"/build/*.js "$dir"/build/worker/*.mjs | gzip -9 | wc -c)
    features="$(grep -o '"kind-[a-z-]*"' "$dir/Cargo.toml" | tr -d '"' | paste -sd, -)"
    echo "$stem $wasm_raw $wasm_gz $js_gz $features" >> "$OUT/bundles.txt"
  done
  python3 - "$OUT/bundles.txt" <<'PY'
import sys
print()
print(f"| config | runtime features | wasm KiB | wasm gzip KiB | JS gzip KiB | total gzip KiB |")
print(f"|---|---|---:|---:|---:|---:|")
for line in open(sys.argv[1]):
    stem, raw, gz, js, *feat = line.split()
    raw, gz, js = int(raw), int(gz), int(js)
    print(f"| {stem} | {feat[0] if feat else ''} | {raw/1024:.1f} | {gz/1024:.1f} | {js/1024:.1f} | {(gz+js)/1024:.1f} |")
PY
fi
