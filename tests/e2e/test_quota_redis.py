"""Several `apexc serve` processes behind one load balancer share declared limits through a
real Redis server (`serve: { quota_store: { redis } }`): what one process counted, the other
sees, so the fleet together never overruns a provider's quota. The fake upstream enforces the
same limits on the same keys, so an overrun would be its 429, and these tests would see it.

Each test starts its own redis-server (Debian's package; scripts/setup.sh installs it) on a
free loopback port, with nothing saved to disk, and two serve processes over it.
"""

from __future__ import annotations

import concurrent.futures
import json
import shutil
import time
import uuid

import pytest

from conftest import secrets
from harness import WORK, Proc, free_port, wait_port
from test_quotas import chat_at as chat

REDIS_SECRET = "APEX_E2E_REDIS_URL"
# The server asks for a password, as a shared one should: the URL carries it, and it must
# never show in a log line.
REDIS_PASSWORD = "redis-pw-9f3ac1"


class Redis:
    def __init__(self, name: str):
        self.name = name
        self.port = free_port()
        self.proc: Proc | None = None

    def start(self) -> None:
        binary = shutil.which("redis-server")
        assert binary, "redis-server is not installed: run scripts/setup.sh"
        argv = [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                "--requirepass", REDIS_PASSWORD]
        self.proc = Proc(self.name, argv)
        wait_port(self.port)

    def stop(self) -> None:
        if self.proc:
            self.proc.stop()
            self.proc = None


class Fleet:
    """Two serve processes over one Redis; requests alternate between them like a load
    balancer's round robin."""

    def __init__(self, bins, env, config, redis: Redis, tag: str):
        self._argv = [bins["apexc"], "serve", str(config), "--listen", "127.0.0.1:0"]
        self._env = {**env, REDIS_SECRET: f"redis://:{REDIS_PASSWORD}@127.0.0.1:{redis.port}"}
        self._tag = tag
        self.procs: list[Proc] = []
        self.urls: list[str] = []
        self._next = 0
        self.starts = 0

    def start(self) -> None:
        for i in range(2):
            self.starts += 1
            p = Proc(f"quota-redis-{self._tag}-{self.starts}", self._argv, env=self._env)
            self.procs.append(p)
            self.urls.append(p.wait_for(r"listening on (http://\S+)", timeout=60).group(1))

    def stop(self) -> None:
        for p in self.procs:
            p.stop()
        self.procs, self.urls = [], []

    def url(self) -> str:
        self._next += 1
        return self.urls[self._next % len(self.urls)]

    def output(self) -> list[str]:
        return [line for p in self.procs for line in p.lines]

    def logged(self, requests: int, timeout: float = 10) -> list[str]:
        """The output once the access lines of `requests` requests are in (a response can
        reach the client before its log line is read here)."""
        deadline = time.monotonic() + timeout
        while True:
            lines = self.output()
            if sum('"msg":"apex request"' in line for line in lines) >= requests:
                return lines
            assert time.monotonic() < deadline, f"{requests} access lines expected:\n" + "\n".join(lines)
            with self.procs[0]._cond:
                self.procs[0]._cond.wait(0.1)


@pytest.fixture
def fleet(bins, env, e2e_config):
    tag = uuid.uuid4().hex[:8]
    run = WORK / "quota-redis" / tag
    run.mkdir(parents=True)
    config = run / "e2e.yaml"
    store = f"\nserve:\n  quota_store:\n    redis: {{ secret: {REDIS_SECRET} }}\n"
    config.write_text(e2e_config.read_text() + store)
    shutil.copy(e2e_config.parent / ".dev.vars", run / ".dev.vars")
    redis = Redis(f"redis-{tag}")
    redis.start()
    gw = Fleet(bins, env, config, redis, tag)
    gw.redis = redis
    try:
        gw.start()
        yield gw
    finally:
        gw.stop()
        redis.stop()


def test_two_processes_share_rpd_3_and_2_and_a_restart_of_both_keeps_them(fleet, upstream):
    s = secrets()
    key_1, key_2 = s["Q_DAY_KEY_1"], s["Q_DAY_KEY_2"]
    upstream.clear_rules()
    upstream.control(key=key_1, after=3, fault="status=429;retry_after=3600")
    upstream.control(key=key_2, after=2, fault="status=429;retry_after=3600")
    marker = f"qr-day-{uuid.uuid4().hex[:8]}"
    try:
        # Alternating between the two processes: each alone would allow 5.
        statuses = [chat(fleet.url(), "q-day", marker)[0] for _ in range(5)]
        assert statuses == [200] * 5
        used = [r["headers"].get("authorization", "") for r in upstream.requests_with(marker)]
        assert sorted(used) == sorted([f"Bearer {key_1}"] * 3 + [f"Bearer {key_2}"] * 2)

        for _ in range(2):  # the sixth, from either process
            status, head, raw = chat(fleet.url(), "q-day", marker)
            assert status == 429, raw
            assert json.loads(raw)["error"]["code"] == "quota_exhausted"
            assert 0 < int(head["retry-after"]) <= 86_400
        assert len(upstream.requests_with(marker)) == 5

        fleet.stop()
        fleet.start()
        status, _, raw = chat(fleet.url(), "q-day", marker)
        assert status == 429, f"Redis kept the day's counts across a restart of both: {raw!r}"
        assert len(upstream.requests_with(marker)) == 5
        assert not any("quota_fallback" in line for line in fleet.logged(1)), "the restarted pair is on Redis"
    finally:
        upstream.clear_rules()


def test_32_concurrent_requests_over_two_processes_against_rpm_10_send_exactly_10(fleet, upstream):
    upstream.clear_rules()
    upstream.control(key=secrets()["Q_BURST_KEY"], after=10, fault="status=429;retry_after=60")
    marker = f"qr-burst-{uuid.uuid4().hex[:8]}"
    urls = [fleet.url() for _ in range(32)]
    try:
        with concurrent.futures.ThreadPoolExecutor(32) as pool:
            statuses = list(pool.map(lambda u: chat(u, "q-burst", marker)[0], urls))
        assert sorted(statuses) == [200] * 10 + [429] * 22
        assert len(upstream.requests_with(marker)) == 10
        assert not any("quota_fallback" in line for line in fleet.logged(32))
    finally:
        upstream.clear_rules()


def test_a_redis_that_goes_away_costs_no_request_and_is_used_again_when_back(fleet, upstream):
    marker = f"qr-down-{uuid.uuid4().hex[:8]}"
    for _ in range(2):  # both processes hold a connection to Redis
        assert chat(fleet.url(), "q-burst", marker)[0] == 200
    fleet.redis.stop()
    status, _, raw = chat(fleet.url(), "q-burst", marker)
    assert status == 200, raw
    fallbacks = [line for line in fleet.logged(3) if '"quota_fallback":"redis' in line]
    assert len(fallbacks) == 1, "the fallback is logged"

    fleet.redis.start()  # same port, empty: each process's old connection is dead
    for _ in range(2):
        assert chat(fleet.url(), "q-burst", marker)[0] == 200
    lines = fleet.logged(5)
    assert sum("quota_fallback" in line for line in lines) == 1, "back on Redis, no request lost to it"
    assert not any(REDIS_PASSWORD in line for line in lines)
    assert len(upstream.requests_with(marker)) == 5
