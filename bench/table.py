"""Prints bench/run.sh's latency table (markdown) from its latency.jsonl.

Overhead = the target's p50 / p99 minus the direct upstream's at the same concurrency, for
the chat request the target sends upstream: plain paths against direct `chat` (embeddings
against direct `embeddings`), streamed paths against direct `chat-stream`.
"""
import json
import sys

rows = [json.loads(line) for line in open(sys.argv[1]) if line.strip()]
cell = {(r["target"], r["path"], r["r"]["concurrency"]): r["r"] for r in rows}
order_t = ["direct", "nginxproxy", "apexc", "workerd", "jsfloor", "litellm", "portkey"]
order_p = ["chat", "chat-stream", "embeddings", "messages", "messages-stream", "responses", "responses-stream"]
names = {"direct": "upstream (nginx)", "nginxproxy": "nginx reverse proxy (native floor)", "apexc": "apexc serve", "workerd": "worker on workerd",
         "jsfloor": "10-line JS forwarder on workerd (floor)",
         "litellm": "LiteLLM proxy", "portkey": "Portkey gateway"}


def base_path(p):
    if p == "embeddings":
        return "embeddings"
    return "chat-stream" if p.endswith("-stream") else "chat"


def fmt(t, p, c):
    r = cell.get((t, p, c))
    if r is None:
        return ["n/a"] * 4
    ms = lambda us: us / 1000
    s = [f"{r['rps']:.0f}", f"{ms(r['p50_us']):.2f}", f"{ms(r['p99_us']):.2f}"]
    if r["requests"] == 0:
        return [f"failed ({r['errors']} errors)" if r["errors"] else "no answer in time", "—", "—", "—"]
    if r["errors"]:
        s[0] += f" ({r['errors']} err)"
    d = cell.get(("direct", base_path(p), c))
    if t == "direct" or d is None:
        s.append("—")
    else:
        s.append(f"{ms(r['p50_us'] - d['p50_us']):+.2f} / {ms(r['p99_us'] - d['p99_us']):+.2f}")
    return s


print()
print("| path | target | c16 req/s | c16 p50 ms | c16 p99 ms | c16 overhead p50 / p99 ms | c64 req/s | c64 p50 ms | c64 p99 ms | c64 overhead p50 / p99 ms |")
print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
for p in order_p:
    for t in order_t:
        if not any((t, p, c) in cell for c in (16, 64)):
            continue
        print(f"| {p} | {names[t]} | " + " | ".join(fmt(t, p, 16) + fmt(t, p, 64)) + " |")
