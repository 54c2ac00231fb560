"""Resource limits a client can see, against both hosts: a request without a key is answered
401 from its head alone (before a byte of its body is sent), and a declared body over 10 MiB
is refused with 413 before it is read. Raw sockets, because an SDK always sends the body.

The worker runs here under bare workerd (bench/workerd.sh), the way Cloudflare runs it, not
under `wrangler dev`: wrangler's local proxy reads a request's whole body before the worker
sees it, so no head-first answer can get through it.
"""

from __future__ import annotations

import socket
from urllib.parse import urlparse

import pytest

from conftest import GATEWAY_KEY, Gateway, _gateways
from harness import ROOT, WORK, Proc, free_port, wait_port


@pytest.fixture(scope="module")
def bare_worker(worker_gateway, e2e_config, env):
    """The e2e worker's build (the one `apexc dev` made for worker_gateway) under bare workerd."""
    port = free_port()
    built = WORK / "worker"
    p = Proc(
        "workerd-limits",
        ["bash", str(ROOT / "bench" / "workerd.sh"), str(built), str(port), str(e2e_config.parent / ".dev.vars")],
        env=env,
    )
    try:
        wait_port(port)
        yield Gateway("bare-worker", f"http://127.0.0.1:{port}", p.lines)
    finally:
        p.stop()


@pytest.fixture(params=_gateways())
def gateway(request):
    """Both hosts, as everywhere in the suite; the worker under bare workerd (see above)."""
    return request.getfixturevalue("serve_gateway" if request.param == "serve" else "bare_worker")


def _send_head(gateway, path: str, length: int, key: str | None) -> str:
    """Sends a POST head announcing `length` body bytes and none of them; the first response."""
    u = urlparse(gateway.url)
    auth = f"authorization: Bearer {key}\r\n" if key else ""
    head = (
        f"POST {path} HTTP/1.1\r\nhost: {u.hostname}:{u.port}\r\ncontent-type: application/json\r\n"
        f"{auth}content-length: {length}\r\n\r\n"
    )
    with socket.create_connection((u.hostname, u.port), timeout=30) as s:
        s.sendall(head.encode())
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
    return data.decode(errors="replace")


def test_no_key_is_refused_before_the_body_is_sent(gateway):
    got = _send_head(gateway, "/v1/chat/completions", 1024 * 1024, key=None)
    assert got.startswith("HTTP/1.1 401"), got


def test_an_anthropic_client_without_a_key_is_refused_before_its_body(gateway):
    got = _send_head(gateway, "/v1/messages", 4096, key=None)
    assert got.startswith("HTTP/1.1 401"), got


def test_a_declared_body_over_10_mib_is_413_before_it_is_sent(gateway):
    got = _send_head(gateway, "/v1/chat/completions", 11 * 1024 * 1024, key=GATEWAY_KEY)
    assert got.startswith("HTTP/1.1 413"), got
