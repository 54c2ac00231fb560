#!/usr/bin/env python3
"""Where a worker's CPU goes inside workerd: V8's sampling profiler over the inspector protocol.

    python3 bench/profile.py --inspector 127.0.0.1:9230 -- CMD...   # profiles while CMD runs

workerd must run with `--inspector-addr` (bench/workerd.sh passes WORKERD_INSPECTOR). The
script starts V8's CPU profiler (100 µs sampling) on the worker, runs CMD (the load), stops it
and prints self time by function: JS functions by name, wasm functions by their name-section
name (build with `strip = false` to keep it), `(garbage collector)` and `(program)` (V8 and
workerd's own C++ on the isolate's thread). It sees the isolate's thread only: HTTP parsing
and the sockets happen elsewhere in workerd (bench/cpu.sh counts the whole process).
Needs `websocket-client` (PyPI).
"""
import argparse
import collections
import json
import subprocess
import sys
import urllib.request

try:
    import websocket
except ImportError:
    sys.exit("bench/profile.py needs websocket-client: pip install websocket-client")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--inspector", required=True, help="host:port of workerd's inspector")
    ap.add_argument("--top", type=int, default=40)
    ap.add_argument("--json", help="also write the raw .cpuprofile here")
    ap.add_argument("cmd", nargs=argparse.REMAINDER)
    args = ap.parse_args()
    cmd = args.cmd[1:] if args.cmd[:1] == ["--"] else args.cmd

    targets = json.load(urllib.request.urlopen(f"http://{args.inspector}/json"))
    if not targets:
        print("no inspector target (has the worker served a request yet?)", file=sys.stderr)
        return 1
    ws = websocket.create_connection(targets[0]["webSocketDebuggerUrl"], timeout=600)
    seq = 0

    def call(method, **params):
        nonlocal seq
        seq += 1
        ws.send(json.dumps({"id": seq, "method": method, "params": params}))
        while True:
            msg = json.loads(ws.recv())
            if msg.get("id") == seq:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg.get("result", {})

    call("Profiler.enable")
    call("Profiler.setSamplingInterval", interval=100)
    call("Profiler.start")
    code = subprocess.call(cmd) if cmd else 0
    profile = call("Profiler.stop")["profile"]
    ws.close()
    if args.json:
        with open(args.json, "w") as f:
            json.dump(profile, f)

    nodes = {n["id"]: n for n in profile["nodes"]}
    deltas = profile.get("timeDeltas", [])
    self_us = collections.Counter()
    for sample, dt in zip(profile.get("samples", []), deltas[1:] + [0]):
        frame = nodes[sample]["callFrame"]
        name = frame["functionName"] or "(anonymous)"
        url = frame.get("url", "")
        if url.endswith(".wasm") or url.startswith("wasm://"):
            name = "wasm " + name
        elif url:
            name = f"{name} ({url.rsplit('/', 1)[-1]}:{frame.get('lineNumber', 0) + 1})"
        self_us[name] += dt
    total = sum(self_us.values()) or 1
    idle = self_us.get("(idle)", 0)
    busy = total - idle
    print(f"profiled {total / 1e6:.2f} s, busy {busy / 1e6:.3f} s ({busy / total:.0%})")
    print(f"| self ms | of busy | function |\n|---:|---:|---|")
    for name, us in self_us.most_common(args.top):
        if name == "(idle)":
            continue
        print(f"| {us / 1e3:.1f} | {us / busy:.1%} | {name} |")
    wasm = sum(us for n, us in self_us.items() if n.startswith("wasm "))
    print(f"\nwasm in all: {wasm / 1e3:.1f} ms ({wasm / busy:.0%} of busy)")
    return code


if __name__ == "__main__":
    sys.exit(main())
