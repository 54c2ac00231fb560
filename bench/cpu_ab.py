#!/usr/bin/env python3
"""CPU per request of two or more worker builds, side by side, under bare workerd.

    python3 bench/cpu_ab.py --bodies target/bench-run/bodies --vars target/bench-run/.dev.vars \
        NAME=WORKER_DIR NAME=WORKER_DIR...     (nginx from bench/run.sh must be up)

Every build gets its own workerd, all pinned to CPU 1; the load generator runs on CPU 0. For
each round and path, each build in turn gets a short paced burst (--rate req/s for --seconds)
and its workerd's CPU time (utime + stime, /proc/PID/stat) over the burst is divided by the
requests. Interleaving the builds burst by burst means they see the same machine: on a shared
two-core box the noise between runs minutes apart is larger than the differences being
measured. Prints the median (and min–max) per path and build.

--floor adds the 10-line JS forwarding worker (bench/js-proxy-worker.js) as one more column,
sent the same body per path (a JSON or SSE answer to match), and a "net" column per build:
the median over rounds of (build − floor) in the same round — the gateway's own work.

--latency adds a second table: the median over rounds of each burst's p50 latency (a paced
load, so this is a request's own time, not queueing).
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
    "chat": "chat/completions",
    "chat-stream": "chat/completions",
    "embeddings": "embeddings",
    "messages": "messages",
    "messages-stream": "messages",
    "responses": "responses",
    "responses-stream": "responses",
}
TCK = os.sysconf("SC_CLK_TCK")


def ticks(pid: int) -> int:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime, stime


def wait_up(port: int) -> None:
    # Up to a minute: several workerds start at once on one pinned core.
    for _ in range(600):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=1)
            return
        except urllib.error.HTTPError:
            return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"workerd on port {port} did not come up")


FLOOR = "JS floor"


def url_of(name, port, path):
    if name == FLOOR:
        shape = "stream" if path.endswith("-stream") else "plain"
        return f"http://127.0.0.1:{port}/?shape={shape}"
    return f"http://127.0.0.1:{port}/v1/{PATHS[path]}"


def start_floor(port, upstream, out_dir):
    os.makedirs(out_dir, exist_ok=True)
    log = open(os.path.join(out_dir, "workerd.log"), "w")
    return subprocess.Popen(["taskset", "-c", "1", "bash", os.path.join(ROOT, "bench/jsfloor.sh"),
                             out_dir, str(port), upstream], stdout=log, stderr=subprocess.STDOUT)


def load(loadgen, url, body, rate, seconds, concurrency=4):
    out = subprocess.run(
        ["taskset", "-c", "0", loadgen, "--url", url,
         "--body-file", body, "--header", "authorization: Bearer bench-gateway-key",
         "--header", "anthropic-version: 2023-06-01", "--concurrency", str(concurrency),
         "--rate", str(rate), "--duration", str(seconds), "--warmup", "0"],
        check=True, capture_output=True, text=True).stdout
    r = json.loads(out)
    return r["requests"], r["errors"], r["p50_us"] / 1000


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--bodies", required=True)
    ap.add_argument("--vars", required=True)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--rate", type=int, default=200)
    ap.add_argument("--seconds", type=float, default=2)
    ap.add_argument("--paths", default=",".join(PATHS))
    ap.add_argument("--port", type=int, default=19100)
    ap.add_argument("--floor", action="store_true", help="add the JS forwarding worker")
    ap.add_argument("--latency", action="store_true", help="also print each build's p50 latency")
    ap.add_argument("--upstream", default=f"http://127.0.0.1:{os.environ.get('BENCH_PORT_BASE', '18990')}")
    ap.add_argument("--loadgen", default=os.path.join(
        os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target")), "release", "apex-loadgen"))
    ap.add_argument("builds", nargs="+", help="NAME=WORKER_DIR")
    a = ap.parse_args()
    paths = a.paths.split(",")
    builds = [b.split("=", 1) for b in a.builds]
    procs = []
    try:
        for i, (name, d) in enumerate(builds):
            port = a.port + i
            log = open(os.path.join(d, "workerd-ab.log"), "w")
            p = subprocess.Popen(["taskset", "-c", "1", "bash", os.path.join(ROOT, "bench/workerd.sh"),
                                  d, str(port), a.vars], stdout=log, stderr=subprocess.STDOUT)
            procs.append((name, port, p))
        if a.floor:
            port = a.port + len(builds)
            procs.append((FLOOR, port, start_floor(port, a.upstream, os.path.join(ROOT, "target/bench-floor"))))
        for name, port, p in procs:
            wait_up(port)
            for path in paths:  # warm: the first requests compile the wasm
                load(a.loadgen, url_of(name, port, path), os.path.join(a.bodies, f"{path}.json"), 100, 1, 2)
        per = {(path, name): [] for path in paths for name, _, _ in procs}
        p50 = {(path, name): [] for path in paths for name, _, _ in procs}
        for r in range(a.rounds):
            for path in paths:
                # Alternate which build goes first, so neither always follows the other.
                order = procs if r % 2 == 0 else procs[::-1]
                for name, port, p in order:
                    before = ticks(p.pid)
                    n, errors, p50_ms = load(a.loadgen, url_of(name, port, path),
                                             os.path.join(a.bodies, f"{path}.json"), a.rate, a.seconds)
                    p50[(path, name)].append(p50_ms)
                    after = ticks(p.pid)
                    if errors:
                        print(f"warning: {name} {path}: {errors} errors", file=sys.stderr)
                    per[(path, name)].append((after - before) / TCK / max(n + errors, 1) * 1000)
            print(f"round {r + 1}/{a.rounds} done", file=sys.stderr)
        names = [n for n, _, _ in procs]
        print(f"CPU per request, ms: median (min–max) of {a.rounds} bursts of "
              f"{a.rate} req/s × {a.seconds:g} s each, builds interleaved\n")
        gateways = [n for n in names if n != FLOOR]
        net = [f"{n} net" for n in gateways] if a.floor else []
        print("| path | " + " | ".join(names + net) + " |")
        print("|---|" + "---:|" * (len(names) + len(net)))
        for path in paths:
            cells = []
            for n in names:
                v = per[(path, n)]
                cells.append(f"{statistics.median(v):.3f} ({min(v):.2f}–{max(v):.2f})")
            if a.floor:
                floor = per[(path, FLOOR)]
                for n in gateways:
                    d = [x - f for x, f in zip(per[(path, n)], floor)]
                    cells.append(f"{statistics.median(d):.3f}")
            print(f"| {path} | " + " | ".join(cells) + " |")
        if a.latency:
            print(f"\np50 latency, ms: median (min–max) of the {a.rounds} bursts' p50\n")
            print("| path | " + " | ".join(names) + " |")
            print("|---|" + "---:|" * len(names))
            for path in paths:
                cells = [f"{statistics.median(p50[(path, n)]):.3f} ({min(p50[(path, n)]):.2f}–{max(p50[(path, n)]):.2f})"
                         for n in names]
                print(f"| {path} | " + " | ".join(cells) + " |")
    finally:
        for _, _, p in procs:
            p.terminate()
            p.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
