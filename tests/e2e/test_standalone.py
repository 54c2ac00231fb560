"""The generated crate is the artifact: a copy of it deploys the way its README says, with the
apexc checkout out of reach, and the bundle answers under workerd.

The build runs in a private mount namespace (`unshare --mount`) where the repository root is an
empty tmpfs: nothing of the checkout (runtime sources, target/, target/tools) can be read, so the
crate builds from its own files plus crates.io and npm, or not at all. Its wasm target dir is the
one `apexc dev` uses (outside the repository), so the dependencies compile once per machine.

The example GitHub workflow is checked the same way: its deploy job never runs apexc, and its
review step fails on a stale crate.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
import yaml

import re

from harness import LOGS, ROOT, Proc, free_port, http, wait_port

CONFIG = ROOT / "examples" / "quickstart.yaml"
WORKFLOW = ROOT / "examples" / "github-actions" / "apexc.yml"


def _wasm_target_dir() -> Path:
    """`apexc dev`'s shared wasm target dir (compiler/src/toolchain.rs), which is outside ROOT."""
    for k in ("APEXC_WASM_TARGET_DIR", "CARGO_TARGET_DIR"):
        if os.environ.get(k):
            return Path(os.environ[k]).resolve()
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "apexc" / "wasm-target"


def _outside_root(p: Path) -> bool:
    return not p.resolve().is_relative_to(ROOT)


@pytest.fixture(scope="module")
def deployed_copy(bins, env):
    """A crate generated from examples/quickstart.yaml, copied elsewhere, then `npm install &&
    npx wrangler deploy --dry-run --outdir dist` in it with the checkout hidden."""
    base = Path(tempfile.mkdtemp(prefix="apexc-standalone-"))
    assert _outside_root(base)
    generated = base / "generated" / "gateway"
    r = subprocess.run([bins["apexc"], "build", str(CONFIG), "-o", str(generated)], env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    copy = base / "elsewhere" / "two" / "deeper" / "gateway"
    shutil.copytree(generated, copy)
    lock_before = (copy / "Cargo.lock").read_bytes()

    target = _wasm_target_dir()
    bindgen = shutil.which("wasm-bindgen", path=env.get("PATH"))
    worker_build = shutil.which("worker-build", path=env.get("PATH"))
    for tool in (target, bindgen, worker_build):
        assert tool and _outside_root(Path(tool)), f"{tool} would be hidden with the checkout"
    build_env = {k: v for k, v in env.items() if not k.startswith("APEXC") and k not in ("ESBUILD_BIN", "WASM_BINDGEN_BIN")}
    build_env.update(CARGO_TARGET_DIR=str(target), WASM_BINDGEN_BIN=bindgen)
    # As the crate's README says, plus ESBUILD_BIN: this machine cannot download esbuild,
    # and the crate's own node_modules has wrangler's.
    script = f"""
        set -eu
        mount -t tmpfs apexc-checkout-hidden "{ROOT}"
        [ -z "$(ls -A "{ROOT}")" ] || {{ echo "checkout still visible" >&2; exit 90; }}
        cd "{copy}"
        npm install --no-audit --no-fund --loglevel=error
        ESBUILD_BIN="$PWD/node_modules/.bin/esbuild" npx wrangler deploy --dry-run --outdir dist
    """
    p = subprocess.run(
        ["unshare", "--mount", "--propagation", "private", "bash", "-c", script],
        env=build_env, capture_output=True, text=True, timeout=1500,
    )
    LOGS.mkdir(parents=True, exist_ok=True)
    log = LOGS / "standalone-build.log"
    log.write_text(p.stdout + p.stderr)
    assert p.returncode == 0, f"the copied crate did not deploy (log {log}):\n{(p.stdout + p.stderr)[-4000:]}"
    yield {"dir": copy, "lock_before": lock_before, "output": p.stdout + p.stderr}
    shutil.rmtree(base, ignore_errors=True)


def _workerd_config(copy: Path, port: int) -> Path:
    dist = copy / "dist"
    wasm = [f.name for f in dist.iterdir() if f.suffix == ".wasm"]
    assert len(wasm) == 1, list(dist.iterdir())
    date = next(
        line.split('"')[1] for line in (copy / "wrangler.toml").read_text().splitlines() if line.startswith("compatibility_date")
    )
    capnp = copy / "workerd.capnp"
    capnp.write_text(
        f"""using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [ (name = "main", worker = .gateway) ],
  sockets = [ (name = "http", address = "127.0.0.1:{port}", http = (), service = "main") ],
);
const gateway :Workerd.Worker = (
  modules = [
    (name = "shim.js", esModule = embed "dist/shim.js"),
    (name = "{wasm[0]}", wasm = embed "dist/{wasm[0]}"),
  ],
  compatibilityDate = "{date}",
);
"""
    )
    return capnp


def test_the_copied_crate_deploys_and_its_bundle_answers_under_workerd(deployed_copy, env):
    copy = deployed_copy["dir"]
    assert (copy / "Cargo.lock").read_bytes() == deployed_copy["lock_before"], "the build changed the committed Cargo.lock"
    assert "--dry-run: exiting now." in deployed_copy["output"]
    # The runtime that went into the bundle was compiled from the copy's vendor/ directory.
    # (wrangler relays cargo's output in chunks, each prefixed, that may split a line.)
    cargo_said = re.sub(r"\n\[custom build\] ?", "", deployed_copy["output"])
    assert "Compiling apex-runtime v" in cargo_said
    assert f"({copy / 'vendor' / 'apex-runtime'})" in cargo_said
    port = free_port()
    workerd = copy / "node_modules" / ".bin" / "workerd"
    proc = Proc("standalone-workerd", [str(workerd), "serve", str(_workerd_config(copy, port)), "--experimental"], env=env, cwd=copy)
    try:
        url = f"http://127.0.0.1:{port}"
        body = json.dumps({"model": "demo", "messages": [{"role": "user", "content": "from a copy"}]}).encode()
        wait_port(port)
        status, _, body_out = http("POST", f"{url}/v1/chat/completions", body, {"content-type": "application/json"})
        assert status == 200, body_out
        assert json.loads(body_out)["choices"][0]["message"]["content"] == "mock reply: from a copy"
        status, _, models = http("GET", f"{url}/v1/models")
        assert status == 200
        assert {m["id"] for m in json.loads(models)["data"]} == {"demo", "demo-embed"}
    finally:
        proc.stop()


def test_the_copied_crate_resolves_everything_inside_itself(deployed_copy, env):
    copy = deployed_copy["dir"]
    r = subprocess.run(["cargo", "metadata", "--format-version", "1", "--locked", "--offline"], cwd=copy, env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    meta = json.loads(r.stdout)
    local = [p for p in meta["packages"] if p["source"] is None]
    assert {p["name"] for p in local} == {"apex-gateway", "apex-runtime"}
    for p in local:
        assert Path(p["manifest_path"]).resolve().is_relative_to(copy.resolve()), p["manifest_path"]
    for p in meta["packages"]:
        assert p["source"] is None or p["source"].startswith("registry+"), p["source"]


# --- the example GitHub workflow ---------------------------------------------------------


def _steps(job: str) -> list[dict]:
    return yaml.safe_load(WORKFLOW.read_text())["jobs"][job]["steps"]


def test_the_example_deploy_job_builds_the_committed_crate_without_apexc():
    runs = [s.get("run", "") for s in _steps("deploy")]
    assert runs, "the deploy job has no steps"
    for run in runs:
        assert "apexc" not in run, f"the deploy job runs apexc:\n{run}"
    assert any("wrangler deploy" in run for run in runs)
    assert any("worker-build --version 0.8.7" in run for run in runs)


def test_the_example_review_step_fails_on_a_stale_crate(bins, env, tmp_path):
    step = next(s for s in _steps("review") if "up to date" in s.get("name", ""))
    apexc = str(Path(bins["apexc"]).resolve())
    repo = tmp_path / "repo"
    repo.mkdir()
    shutil.copy(CONFIG, repo / "proxy.yaml")
    r = subprocess.run([apexc, "build", "proxy.yaml", "-o", "gateway"], cwd=repo, env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    step_env = dict(env, CONFIG="proxy.yaml", CRATE="gateway", PATH=f"{Path(apexc).parent}:{env['PATH']}")

    def run_step():
        return subprocess.run(["bash", "-e", "-c", step["run"]], cwd=repo, env=step_env, capture_output=True, text=True)

    fresh = run_step()
    assert fresh.returncode == 0, fresh.stdout + fresh.stderr
    (repo / "proxy.yaml").write_text((repo / "proxy.yaml").read_text().replace("demo-embed", "demo-embedding"))
    stale = run_step()
    assert stale.returncode != 0, stale.stdout + stale.stderr
    assert "is stale" in stale.stdout + stale.stderr
