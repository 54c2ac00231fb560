#!/usr/bin/env python3
"""Benchmark (not a test): what bridging /v1/responses costs through a running gateway.

For each gateway (`apexc serve`, and the generated worker under `apexc dev` = wrangler dev /
workerd), in front of tests/fake-upstream, interleaved, BENCH_N times each:

  A  POST /v1/responses         the real Codex CLI request (tests/fixtures/codex-turn2.json,
                                41 KB, 16 tools), streamed, bridged to chat completions
  B  POST /v1/chat/completions  the very chat body A became (read back from the fake
                                upstream), streamed, passed through untouched

Same upstream work, same reply stream; the median difference A - B is what the Responses
bridge adds per request (request decode + chat encode + event translation + the three full
response snapshots). Under workerd nothing else runs in the isolate, so on an idle machine
the difference is CPU time in the worker. Also: a 2,000-event stream through A-style bridging
(`chunks=2000`) vs the same stream passed through.

  python3 scripts/bench-responses.py            # both gateways (the worker build is cached)
  BENCH_GATEWAYS=serve BENCH_N=200 python3 scripts/bench-responses.py
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "e2e"))
from harness import WORK, FakeUpstream, Proc, free_port, tools_env  # noqa: E402

N = int(os.environ.get("BENCH_N", "100"))
GATEWAYS = [g for g in os.environ.get("BENCH_GATEWAYS", "serve,worker").split(",") if g]
KEY = "gw-e2e-key"


def post(url: str, body: bytes) -> float:
    req = urllib.request.Request(url, data=body, method="POST", headers={
        "authorization": f"Bearer {KEY}", "content-type": "application/json"})
    t = time.perf_counter()
    with urllib.request.urlopen(req, timeout=60) as r:
        data = r.read()
    dt = time.perf_counter() - t
    assert data, url
    return dt * 1000


def compare(label: str, base: str, a: bytes, b: bytes) -> None:
    ta, tb = [], []
    for _ in range(5):
        post(f"{base}/v1/responses", a)
        post(f"{base}/v1/chat/completions", b)
    for _ in range(N):
        ta.append(post(f"{base}/v1/responses", a))
        tb.append(post(f"{base}/v1/chat/completions", b))
    ma, mb = statistics.median(ta), statistics.median(tb)
    print(f"  {label}: responses (bridged) p50 {ma:.2f} ms, chat (passthrough) p50 {mb:.2f} ms, "
          f"bridge adds {ma - mb:.2f} ms")


def main() -> None:
    env = tools_env()
    bins = ROOT / "target" / "debug"
    fake = Proc("bench-fake-upstream", [str(bins / "fake-upstream"), "--listen", "127.0.0.1:0"], env=env)
    procs = [fake]
    try:
        up = FakeUpstream(fake.wait_for(r"listening on (http://\S+)", 30).group(1))
        cfg_dir = WORK / "bench-responses"
        cfg_dir.mkdir(parents=True, exist_ok=True)
        text = (ROOT / "tests/configs/e2e.yaml").read_text().replace("127.0.0.1:18931", up.url.removeprefix("http://"))
        (cfg_dir / "e2e.yaml").write_text(text)
        (cfg_dir / ".dev.vars").write_text((ROOT / "tests/configs/e2e.dev.vars").read_text())
        codex = json.loads((ROOT / "runtime/tests/fixtures/codex-turn2.json").read_text())
        codex["model"] = "chat"
        a = json.dumps(codex).encode()
        for g in GATEWAYS:
            if g == "serve":
                p = Proc("bench-serve", [str(bins / "apexc"), "serve", str(cfg_dir / "e2e.yaml"), "--listen", "127.0.0.1:0"], env=env)
                procs.append(p)
                base = p.wait_for(r"listening on (http://\S+)", 60).group(1)
            else:
                port = free_port()
                p = Proc("bench-worker", [str(bins / "apexc"), "dev", str(cfg_dir / "e2e.yaml"), "--listen", f"127.0.0.1:{port}",
                                          "--out", str(WORK / "worker")], env=env)
                procs.append(p)
                base = p.wait_for(r"ready on (http://\S+)", 1500).group(1)
            print(f"{g} ({base}), {N} interleaved requests each:")
            post(f"{base}/v1/responses", a)
            sent = [r for r in up.requests() if r["path"] == "/v1/chat/completions"][-1]["body"]
            sent["model"] = "chat"
            b = json.dumps(sent).encode()
            compare("codex request", base, a, b)
            long_a = json.dumps({"model": "chat", "stream": True, "store": False,
                                 "input": "[[fake:chunks=2000]] go"}).encode()
            long_b = json.dumps({"model": "chat", "stream": True, "stream_options": {"include_usage": True},
                                 "messages": [{"role": "user", "content": "[[fake:chunks=2000]] go"}]}).encode()
            compare("2,000-event stream", base, long_a, long_b)
            p.stop()
            procs.remove(p)
    finally:
        for p in procs:
            p.stop()


if __name__ == "__main__":
    main()
