"""Process plumbing for the end-to-end suite: start a server, wait for the line that says it
is ready, keep its output in a log file, stop it (and everything it started) at the end."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
WORK = ROOT / "target" / "e2e"
LOGS = WORK / "logs"


def tools_env() -> dict[str, str]:
    """The environment with target/tools/env.sh (written by scripts/setup.sh) applied."""
    env = dict(os.environ)
    env_sh = ROOT / "target" / "tools" / "env.sh"
    if env_sh.exists():
        out = subprocess.run(
            ["bash", "-c", f'source "{env_sh}" && env -0'], capture_output=True, check=True
        ).stdout
        for item in out.split(b"\0"):
            if b"=" in item:
                k, v = item.decode(errors="replace").split("=", 1)
                env[k] = v
    return env


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Proc:
    """A child process whose stdout+stderr lines are collected (and copied to a log file)."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str] | None = None, cwd: Path | None = None):
        LOGS.mkdir(parents=True, exist_ok=True)
        self.name = name
        self.log_path = LOGS / f"{name}.log"
        self.lines: list[str] = []
        self._cond = threading.Condition()
        self._log = open(self.log_path, "w", encoding="utf-8")
        self._log.write("$ " + " ".join(argv) + "\n")
        self.proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=cwd,
            start_new_session=True,  # its own process group, so stop() reaches its children
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for raw in self.proc.stdout:
            line = raw.decode(errors="replace").rstrip("\n")
            self._log.write(line + "\n")
            self._log.flush()
            with self._cond:
                self.lines.append(line)
                self._cond.notify_all()
        with self._cond:
            self._cond.notify_all()

    def wait_for(self, pattern: str, timeout: float) -> re.Match[str]:
        """Blocks until a line matches `pattern`; fails with the output tail if the process
        exits or the timeout passes first."""
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        seen = 0
        with self._cond:
            while True:
                for line in self.lines[seen:]:
                    m = rx.search(line)
                    if m:
                        return m
                seen = len(self.lines)
                if self.proc.poll() is not None and not self._reader.is_alive():
                    raise RuntimeError(f"{self.name} exited with {self.proc.returncode} before /{pattern}/:\n{self.tail()}")
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"{self.name}: no /{pattern}/ within {timeout:.0f}s:\n{self.tail()}")
                self._cond.wait(min(left, 1.0))

    def tail(self, n: int = 40) -> str:
        return "\n".join(self.lines[-n:])

    def stop(self) -> None:
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGINT)
                self.proc.wait(timeout=10)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                try:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.proc.wait(timeout=10)
        self._reader.join(timeout=5)
        self._log.close()


def wait_port(port: int, timeout: float = 30) -> None:
    """Blocks until something accepts connections on 127.0.0.1:`port` (for servers that print
    nothing when ready, like bare workerd); raises after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout:.0f}s")
            time.sleep(0.05)


def http(method: str, url: str, body: bytes | None = None, headers: dict[str, str] | None = None, timeout: float = 30):
    """A raw HTTP call (for what the SDK will not send, like a body that is not JSON).
    Returns (status, headers, body bytes)."""
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


class FakeUpstream:
    """Client for tests/fake-upstream's control endpoints."""

    def __init__(self, url: str):
        self.url = url

    def requests(self) -> list[dict]:
        _, _, body = http("GET", f"{self.url}/_requests")
        return json.loads(body)

    def requests_with(self, marker: str) -> list[dict]:
        """Requests whose body mentions `marker` (each test puts a unique one in its prompt)."""
        return [r for r in self.requests() if marker in json.dumps(r["body"])]

    def control(self, **rule) -> None:
        status, _, body = http("POST", f"{self.url}/_control", json.dumps(rule).encode(), {"content-type": "application/json"})
        assert status == 200, body

    def clear_rules(self) -> None:
        http("DELETE", f"{self.url}/_control")


def npm_cli(package: str, version: str, directory: Path, binary: str, env: dict[str, str]) -> str:
    """The path of `binary` from npm `package@version`, installed once into `directory`.

    A failed install raises: the client tests must fail, never quietly skip, when the real
    client cannot be had.
    """
    path = directory / "node_modules" / ".bin" / binary
    if not path.exists():
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "package.json").write_text(
            json.dumps({"private": True, "devDependencies": {package: version}}) + "\n"
        )
        r = subprocess.run(
            ["npm", "install", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=directory, env=env, capture_output=True, text=True, timeout=600,
        )
        if r.returncode != 0 or not path.exists():
            raise RuntimeError(f"could not install {package}@{version}: {r.stderr[-500:]}")
    return str(path)
