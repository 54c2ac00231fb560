#!/usr/bin/env python3
"""Resource use before auth and under stalled clients: what issue 13 measured, as a script.

Starts `apexc serve` on a one-model mock gateway with a key, then:

  unauth   N connections (default 100) without a key, each sending a 10 MiB body as fast as
           it can; prints how many got 401, and the server's peak RSS (VmHWM) before and after.
  stalled  M connections (default 500) with the key, each sending its head and 16 bytes of a
           1 KiB body, then nothing; prints when the gateway answered/closed each one (the
           body deadline, 30 s by default) and its peak RSS.

    python3 bench/flood.py                       # both, with target/release/apexc (built if missing)
    python3 bench/flood.py --apexc target/debug/apexc --stalled 0

Figures go in the report / BENCHMARKS.md, not in a test: the machine is shared.
"""
from __future__ import annotations

import argparse
import os
import re
import selectors
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
KEY = "flood-gateway-key-0123456789"
CONFIG = """name: flood
auth:
  keys: [{ secret: GATEWAY_KEY }]
providers:
  mock:
    kind: mock
models:
  demo:
    routes:
      - { provider: mock, model: mock-1 }
"""
MIB = 1024 * 1024


def rss_kib(pid: int, field: str) -> int:
    text = Path(f"/proc/{pid}/status").read_text()
    m = re.search(rf"^{field}:\s+(\d+) kB", text, re.M)
    return int(m.group(1)) if m else -1


def start_serve(apexc: str, work: Path) -> tuple[subprocess.Popen, tuple[str, int]]:
    (work / "proxy.yaml").write_text(CONFIG)
    (work / ".dev.vars").write_text(f"GATEWAY_KEY={KEY}\n")
    p = subprocess.Popen(
        [apexc, "serve", str(work / "proxy.yaml"), "--listen", "127.0.0.1:0", "--quiet"],
        stderr=subprocess.PIPE,
        text=True,
    )
    assert p.stderr is not None
    for line in p.stderr:
        m = re.search(r"listening on http://([\d.]+):(\d+)", line)
        if m:
            # Keep draining stderr so the server never blocks on a full pipe.
            threading.Thread(target=lambda: [None for _ in p.stderr], daemon=True).start()
            return p, (m.group(1), int(m.group(2)))
    raise SystemExit(f"apexc serve did not start (exit {p.wait()})")


def head(length: int, key: bool) -> bytes:
    auth = f"authorization: Bearer {KEY}\r\n" if key else ""
    return (
        "POST /v1/chat/completions HTTP/1.1\r\nhost: flood\r\ncontent-type: application/json\r\n"
        f"{auth}content-length: {length}\r\n\r\n"
    ).encode()


def unauth_one(addr, statuses: list, lock: threading.Lock) -> None:
    status = "no answer"
    try:
        s = socket.create_connection(addr, timeout=30)
        s.sendall(head(10 * MIB, key=False))
        chunk = b"x" * (64 * 1024)
        try:
            for _ in range(10 * MIB // len(chunk)):
                s.sendall(chunk)
        except OSError:
            pass  # the gateway answered and closed: the rest is never read
        data = s.recv(64)
        status = data.split(b" ")[1].decode() if data.startswith(b"HTTP/1.1 ") else f"odd {data[:20]!r}"
        s.close()
    except OSError as e:
        status = f"error {e.__class__.__name__}"
    with lock:
        statuses.append(status)


def unauth(addr, pid: int, n: int) -> None:
    before = rss_kib(pid, "VmHWM")
    statuses: list[str] = []
    lock = threading.Lock()
    started = time.monotonic()
    threads = [threading.Thread(target=unauth_one, args=(addr, statuses, lock)) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    secs = time.monotonic() - started
    counts = {s: statuses.count(s) for s in sorted(set(statuses))}
    print(f"unauth: {n} connections x 10 MiB without a key in {secs:.2f}s -> {counts}")
    print(f"unauth: serve peak RSS {before / 1024:.1f} MB before, {rss_kib(pid, 'VmHWM') / 1024:.1f} MB after")


def stalled(addr, pid: int, m: int) -> None:
    sel = selectors.DefaultSelector()
    started = time.monotonic()
    for _ in range(m):
        s = socket.create_connection(addr, timeout=30)
        s.sendall(head(1024, key=True) + b'{"model":"demo",')
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ, {"first": None})
    print(f"stalled: {m} connections holding a partial body (opened in {time.monotonic() - started:.2f}s)")
    done: list[tuple[float, str]] = []
    open_ = m
    while open_ and time.monotonic() - started < 300:
        for key, _ in sel.select(timeout=1):
            s, info = key.fileobj, key.data
            try:
                data = s.recv(4096)
            except OSError:
                data = b""
            if info["first"] is None and data:
                info["first"] = data[9:12].decode(errors="replace")
            if not data:
                done.append((time.monotonic() - started, info["first"] or "closed"))
                sel.unregister(s)
                s.close()
                open_ -= 1
    times = sorted(t for t, _ in done)
    answers = {a: sum(1 for _, x in done if x == a) for a in sorted({x for _, x in done})}
    if times:
        print(f"stalled: {len(done)}/{m} cut, first at {times[0]:.1f}s, last at {times[-1]:.1f}s -> {answers}")
    print(f"stalled: {open_} still open; serve peak RSS {rss_kib(pid, 'VmHWM') / 1024:.1f} MB")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--apexc", default=str(ROOT / "target" / "release" / "apexc"))
    ap.add_argument("--unauth", type=int, default=100)
    ap.add_argument("--stalled", type=int, default=500)
    args = ap.parse_args()
    if not os.path.exists(args.apexc):
        subprocess.run(["cargo", "build", "--release", "-q", "-p", "apexc"], cwd=ROOT, check=True)
    with tempfile.TemporaryDirectory() as work:
        p, addr = start_serve(args.apexc, Path(work))
        try:
            print(f"serve pid {p.pid} on {addr[0]}:{addr[1]}, RSS at start {rss_kib(p.pid, 'VmRSS') / 1024:.1f} MB")
            if args.unauth:
                unauth(addr, p.pid, args.unauth)
            if args.stalled:
                stalled(addr, p.pid, args.stalled)
        finally:
            p.terminate()
            p.wait(timeout=10)


if __name__ == "__main__":
    sys.exit(main())
