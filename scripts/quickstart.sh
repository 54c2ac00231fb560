#!/usr/bin/env bash
# The main job on the embedded default: build apexc, check and compile examples/quickstart.yaml
# (a built-in `mock` provider: no keys, no account), serve it, and send it a real request.
#
#   bash scripts/quickstart.sh          # then keeps serving on 127.0.0.1:8080 until Ctrl-C
#   bash scripts/quickstart.sh --once   # answer one request, then stop
set -euo pipefail
cd "$(dirname "$0")/.."
once=false; [ "${1:-}" = "--once" ] && once=true
listen="${APEX_LISTEN:-127.0.0.1:8080}"

echo "==> building apexc (cargo build --release -p apexc)"
cargo build --release -q -p apexc
apexc=target/release/apexc

echo "==> apexc check examples/quickstart.yaml"
"$apexc" check examples/quickstart.yaml

echo "==> apexc build examples/quickstart.yaml -o target/quickstart-gateway"
"$apexc" build examples/quickstart.yaml -o target/quickstart-gateway >/dev/null
echo "    wrote the worker crate: $(cd target/quickstart-gateway && find . -type f -not -path './target/*' | sort | tr '\n' ' ')"

echo "==> apexc serve examples/quickstart.yaml --listen $listen"
log=$(mktemp)
"$apexc" serve examples/quickstart.yaml --listen "$listen" 2> >(tee "$log" >&2) &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do
  grep -q "listening on" "$log" && break
  kill -0 $pid 2>/dev/null || { echo "apexc serve exited" >&2; exit 1; }
  sleep 0.1
done
url=$(grep -o 'http://[0-9.:]*' "$log" | head -n1)

echo "==> POST $url/v1/chat/completions"
curl -sS --fail-with-body "$url/v1/chat/completions" -H 'content-type: application/json' \
  -d '{"model":"demo","messages":[{"role":"user","content":"hello gateway"}]}'
echo
if $once; then exit 0; fi
echo "==> serving on $url (Ctrl-C to stop). Try: curl -N $url/v1/chat/completions -d '{\"model\":\"demo\",\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}'"
wait $pid
