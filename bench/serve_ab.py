#!/usr/bin/env python3
"""Throughput of two or more `apexc serve` builds, side by side, on the same paths.

    python3 bench/serve_ab.py --config target/bench-run/gateway.yaml --bodies target/bench-run/bodies \
        NAME=APEXC_BINARY NAME=APEXC_BINARY...     (nginx from bench/run.sh must be up)

Every build serves the same config on its own port (one thread each: `--threads 1`, so the
load generator keeps the other core). For each round and path, each build in turn gets a
closed-loop burst (apex-loadgen, --concurrency connections for --seconds); interleaving the
builds burst by burst means they see the same machine, where runs minutes apart differ by more
than the builds do. Prints the median req/s (and min–max) per path and build, and the p50
latency of the median burst.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PATHS = {
    "chat": ("/v1/chat/completions", "chat.completion"),
    "chat-stream": ("/v1/chat/completions", "[DONE]"),
    "embeddings": ("/v1/embeddings", '"embedding"'),
    "messages": ("/v1/messages", "end_turn"),
    "messages-stream": ("/v1/messages", "message_stop"),
    "responses": ("/v1/responses", '"completed"'),
    "responses-stream": ("/v1/responses", "response.completed"),
}


def wait_up(url: str) -> None:
    for _ in range(300):
        try:
            urllib.request.urlopen(url, timeout=1)
            return
        except urllib.error.HTTPError:
            return  # answering (401/404): up
        except OSError:
            time.sleep(0.1)
    sys.exit(f"serve_ab: nothing answers at {url}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", required=True)
    ap.add_argument("--bodies", required=True)
    ap.add_argument("--loadgen", default=os.path.join(ROOT, "target/release/apex-loadgen"))
    ap.add_argument("--key", default="bench-gateway-key")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--seconds", type=float, default=2.0)
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--port", type=int, default=19100)
    ap.add_argument("--paths", default=",".join(PATHS))
    ap.add_argument("builds", nargs="+", help="NAME=path/to/apexc")
    a = ap.parse_args()
    builds = [b.split("=", 1) for b in a.builds]
    procs = []
    try:
        for i, (name, binary) in enumerate(builds):
            port = a.port + i
            procs.append(subprocess.Popen(
                [binary, "serve", a.config, "--listen", f"127.0.0.1:{port}", "--threads", "1", "--quiet"],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
            wait_up(f"http://127.0.0.1:{port}/")
        paths = a.paths.split(",")
        results = {(p, n): [] for p in paths for n, _ in builds}
        for _ in range(a.rounds):
            for p in paths:
                url_path, expect = PATHS[p]
                for i, (name, _) in enumerate(builds):
                    cmd = [a.loadgen, "--url", f"http://127.0.0.1:{a.port + i}{url_path}",
                           "--body-file", os.path.join(a.bodies, f"{p}.json"),
                           "--header", f"authorization: Bearer {a.key}",
                           "--header", "anthropic-version: 2023-06-01",
                           "--expect", expect, "--concurrency", str(a.concurrency),
                           "--duration", str(a.seconds), "--warmup", "0.5"]
                    out = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)
                    if out.get("errors"):
                        sys.exit(f"serve_ab: {name} {p}: {out['errors']} bad answers")
                    results[(p, name)].append(out)
        head = "| path | " + " | ".join(f"{n} req/s (min–max) | {n} p50 ms" for n, _ in builds) + " |"
        print(head)
        print("|---|" + "---:|---:|" * len(builds))
        for p in paths:
            cells = []
            for n, _ in builds:
                runs = sorted(results[(p, n)], key=lambda r: r["rps"])
                mid = runs[len(runs) // 2]
                cells.append(f"{statistics.median(r['rps'] for r in runs):,.0f} "
                             f"({runs[0]['rps']:,.0f}–{runs[-1]['rps']:,.0f})")
                cells.append(f"{mid['p50_us'] / 1000:.2f}")
            print(f"| {p} | " + " | ".join(cells) + " |")
    finally:
        for pr in procs:
            pr.terminate()
        for pr in procs:
            pr.wait()


if __name__ == "__main__":
    main()
