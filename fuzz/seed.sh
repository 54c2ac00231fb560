#!/usr/bin/env bash
# Writes starting corpora (fuzz/corpus/<target>/, git-ignored): the example configs, the
# recorded Claude Code / Codex / SDK request bodies, and upstream streams recorded from the
# fake upstream (tests/fake-upstream) in its plain, tool-call and faulty forms.
# Stream seeds start with one byte that only picks the chunking (see fuzz_targets/common.rs).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
C="$ROOT/fuzz/corpus"
S="$ROOT/tests/fixtures/samples"
mkdir -p "$C"/{config_load,sse_parser,chat_request,messages_request,responses_request,chat_stream,messages_stream,yaml_aliases}
for f in "$ROOT"/examples/*.yaml "$ROOT"/bench/*.yaml; do cp "$f" "$C/config_load/$(basename "$f")"; done
# yaml_aliases: a leading even byte means "YAML text as is"; odd means "a program" (see the target).
for f in "$ROOT"/examples/*.yaml "$ROOT"/compiler/tests/bad-configs/yaml-*.yaml; do
  { printf '\x00'; cat "$f"; } > "$C/yaml_aliases/$(basename "$f")"
done
printf '\x00base: &b { kind: openai, api_keys: [{ secret: K }] }\nproviders:\n  x: { <<: *b, base_url: "https://x" }\n  y: *b\nlist: &l [*b, *b]\nmore: [*l, *l, *l]\n' > "$C/yaml_aliases/merge"
printf '\x01\x01\x09\x01\x0b\x01\x0b\x01\x0b\x01\x0b\x01\x0b\x01\x0b\x01\x0b' > "$C/yaml_aliases/laughs-program"
printf '\x01\x00\x00\x02\x01\x03\x05\x04\x02\x02\x07\x03\x09' > "$C/yaml_aliases/mixed-program"
body() { python3 -c 'import json,sys; print(json.dumps(json.load(open(sys.argv[1]))["body"]))' "$1"; }
if [ -d "$S" ]; then
  body "$S/claude-tool-turn1.json" > "$C/messages_request/claude1"
  body "$S/claude-tool-turn2-tool_result.json" > "$C/messages_request/claude2"
  body "$S/codex-tool-turn1.json" > "$C/responses_request/codex1"
  body "$S/codex-tool-turn2-function_call_output.json" > "$C/responses_request/codex2"
  python3 - "$S/sdk-python-requests.json" "$C/chat_request" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
reqs = d if isinstance(d, list) else d.get("requests", [d])
for i, r in enumerate(reqs):
    b = r.get("body") if isinstance(r, dict) else None
    if b is not None:
        open(f"{sys.argv[2]}/sdk{i}", "w").write(json.dumps(b))
PY
fi
echo '{"model":"gpt-4o","messages":[{"role":"system","content":"s"},{"role":"user","content":[{"type":"text","text":"hi"},{"type":"image_url","image_url":{"url":"data:image/png;base64,AAAA"}}]},{"role":"assistant","content":null,"tool_calls":[{"id":"c1","type":"function","function":{"name":"f","arguments":"{}"}}]},{"role":"tool","tool_call_id":"c1","content":"ok"}],"tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object"}}}],"tool_choice":"auto","stream":true,"stream_options":{"include_usage":true},"max_tokens":10,"reasoning_effort":"low","response_format":{"type":"json_schema","json_schema":{"name":"x","schema":{"type":"object"}}}}' > "$C/chat_request/full"

# Streams from the fake upstream.
BIN="${FAKE_UPSTREAM:-${CARGO_TARGET_DIR:-$ROOT/target}/debug/fake-upstream}"
LOG="$(mktemp)"
"$BIN" --listen 127.0.0.1:0 --no-record > "$LOG" 2>&1 &
PID=$!
trap 'kill $PID 2>/dev/null || true; rm -f "$LOG"' EXIT
for _ in $(seq 100); do grep -q 'listening on' "$LOG" && break; sleep 0.05; done
U="$(grep -o 'http://[0-9.:]*' "$LOG" | head -n1)"
TOOLS_CHAT='"tools":[{"type":"function","function":{"name":"Bash","parameters":{"type":"object"}}}]'
TOOLS_MSG='"tools":[{"name":"Bash","input_schema":{"type":"object"}}]'
i=0
for fault in "" "call=Bash;args={\"command\":\"ls -la\"}" "truncate=1" "chunks=3" "status=500" "garbage=1"; do
  i=$((i + 1))
  { printf '\x05'; curl -s "$U/v1/chat/completions" -H 'content-type: application/json' -H "x-fake-fault: $fault" \
      -d "{\"model\":\"echo\",\"stream\":true,\"stream_options\":{\"include_usage\":true},$TOOLS_CHAT,\"messages\":[{\"role\":\"user\",\"content\":\"say a few words\"}]}"; } > "$C/chat_stream/fake$i" || true
  { printf '\x05'; curl -s "$U/v1/messages" -H 'content-type: application/json' -H "x-fake-fault: $fault" \
      -d "{\"model\":\"echo\",\"stream\":true,\"max_tokens\":100,$TOOLS_MSG,\"messages\":[{\"role\":\"user\",\"content\":\"say a few words\"}]}"; } > "$C/messages_stream/fake$i" || true
done
cp "$C"/chat_stream/* "$C"/messages_stream/* "$C/sse_parser/" 2>/dev/null || true
# Thinking / reasoning shapes the fake upstream does not produce.
printf '\x03data: {"id":"c","choices":[{"index":0,"delta":{"reasoning_content":"hmm"}}]}\n\ndata: {"id":"c","choices":[{"index":0,"delta":{"content":"hi"},"finish_reason":"stop"}],"usage":{"prompt_tokens":1,"completion_tokens":2}}\n\ndata: [DONE]\n\n' > "$C/chat_stream/reasoning"
printf '\x03event: message_start\ndata: {"type":"message_start","message":{"id":"m","model":"x","usage":{"input_tokens":3}}}\n\nevent: content_block_start\ndata: {"type":"content_block_start","index":0,"content_block":{"type":"thinking","thinking":""}}\n\nevent: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"thinking_delta","thinking":"hm"}}\n\nevent: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"signature_delta","signature":"sig"}}\n\nevent: content_block_stop\ndata: {"type":"content_block_stop","index":0}\n\nevent: message_delta\ndata: {"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":2}}\n\nevent: error\ndata: {"type":"error","error":{"type":"overloaded_error","message":"x"}}\n\n' > "$C/messages_stream/thinking"
for t in "$C"/*; do echo "$(basename "$t"): $(ls "$t" | wc -l) seeds"; done
