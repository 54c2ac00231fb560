"""Fixtures for the end-to-end suite.

One fake upstream per session; two gateways in front of it, both compiled from
tests/configs/e2e.yaml with the fake upstream's port written in:

- "serve":  `apexc serve` (the native host),
- "worker": `apexc dev` (the generated crate, built to wasm once per session with
  worker-build, run under wrangler dev / workerd).

Every test that takes `gateway` runs against both. `APEX_E2E_GATEWAYS=serve` limits the run
to the native one (quicker while developing; CI runs both).

Binaries: `APEXC_BIN` / `FAKE_UPSTREAM_BIN` (scripts/test.sh sets them), else they are built
here with cargo.
"""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

import openai
import pytest

from harness import LOGS, ROOT, WORK, FakeUpstream, Proc, free_port, tools_env

CONFIG_TEMPLATE = ROOT / "tests" / "configs" / "e2e.yaml"
DEV_VARS = ROOT / "tests" / "configs" / "e2e.dev.vars"
TEMPLATE_UPSTREAM = "127.0.0.1:18931"
GATEWAY_KEY = "gw-e2e-key"

# The worker's first build compiles the runtime and its dependencies to wasm (a few minutes
# on 2 cores); later builds reuse the shared target dir.
WORKER_START_TIMEOUT = float(os.environ.get("APEX_E2E_WORKER_TIMEOUT", "1500"))


def _gateways() -> list[str]:
    wanted = os.environ.get("APEX_E2E_GATEWAYS", "serve,worker")
    return [g.strip() for g in wanted.split(",") if g.strip()]


@pytest.fixture(scope="session")
def env() -> dict[str, str]:
    e = tools_env()
    e.setdefault("RUST_BACKTRACE", "1")
    return e


@pytest.fixture(scope="session")
def bins(env) -> dict[str, str]:
    apexc = os.environ.get("APEXC_BIN")
    fake = os.environ.get("FAKE_UPSTREAM_BIN")
    if not (apexc and fake):
        subprocess.run(["cargo", "build", "-q", "-p", "apexc", "-p", "fake-upstream"], cwd=ROOT, env=env, check=True)
        build_dir = Path(env.get("CARGO_TARGET_DIR") or ROOT / "target") / "debug"
        apexc = apexc or str(build_dir / "apexc")
        fake = fake or str(build_dir / "fake-upstream")
    return {"apexc": apexc, "fake": fake}


@pytest.fixture(scope="session")
def upstream(bins, env):
    p = Proc("fake-upstream", [bins["fake"], "--listen", "127.0.0.1:0"], env=env)
    try:
        url = p.wait_for(r"listening on (http://\S+)", timeout=30).group(1)
        yield FakeUpstream(url)
    finally:
        p.stop()


@pytest.fixture(scope="session")
def e2e_config(upstream) -> Path:
    """tests/configs/e2e.yaml with the fake upstream's real address, plus its `.dev.vars`."""
    run_dir = WORK / "config"
    run_dir.mkdir(parents=True, exist_ok=True)
    host_port = re.sub(r"^http://", "", upstream.url)
    text = CONFIG_TEMPLATE.read_text().replace(TEMPLATE_UPSTREAM, host_port)
    cfg = run_dir / "e2e.yaml"
    cfg.write_text(text)
    (run_dir / ".dev.vars").write_text(DEV_VARS.read_text())
    return cfg


def secrets() -> dict[str, str]:
    out = {}
    for line in DEV_VARS.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            k, v = line.split("=", 1)
            out[k.strip()] = v.strip()
    return out


@dataclass
class Gateway:
    kind: str
    url: str  # http://127.0.0.1:PORT (no /v1)
    # The gateway's output lines so far, live (serve's stderr; apexc dev's and wrangler's).
    output: list[str] | None = None

    def client(self, api_key: str = GATEWAY_KEY, **kw) -> openai.OpenAI:
        return openai.OpenAI(base_url=f"{self.url}/v1", api_key=api_key, max_retries=0, timeout=kw.pop("timeout", 60), **kw)


@pytest.fixture(scope="session")
def serve_gateway(bins, env, e2e_config):
    p = Proc("apexc-serve", [bins["apexc"], "serve", str(e2e_config), "--listen", "127.0.0.1:0"], env=env)
    try:
        url = p.wait_for(r"listening on (http://\S+)", timeout=60).group(1)
        yield Gateway("serve", url, p.lines)
    finally:
        p.stop()


@pytest.fixture(scope="session")
def worker_gateway(bins, env, e2e_config):
    port = free_port()
    out = WORK / "worker"
    p = Proc(
        "apexc-dev",
        [bins["apexc"], "dev", str(e2e_config), "--listen", f"127.0.0.1:{port}", "--out", str(out)],
        env=env,
    )
    try:
        url = p.wait_for(r"ready on (http://\S+)", timeout=WORKER_START_TIMEOUT).group(1)
        yield Gateway("worker", url, p.lines)
    finally:
        p.stop()


@pytest.fixture(params=_gateways())
def gateway(request) -> Gateway:
    return request.getfixturevalue(f"{request.param}_gateway")


@pytest.fixture
def client(gateway) -> openai.OpenAI:
    return gateway.client()


@pytest.fixture
def marker(request) -> str:
    """A string unique to this test run, put in prompts to find this test's upstream requests."""
    import uuid

    return f"m-{uuid.uuid4().hex[:10]}"


def pytest_report_header(config):
    return f"e2e gateways: {', '.join(_gateways())}; logs in {LOGS}"
