"""`apexc dev` failure paths a user meets before any worker runs. (Its success path is the
"worker" gateway every test in test_openai_sdk.py runs against.)"""

from __future__ import annotations

import socket
import subprocess

from harness import ROOT


def run_dev(bins, env, *args, cwd=None, timeout=120):
    return subprocess.run(
        [bins["apexc"], "dev", *args], capture_output=True, text=True, env=env, cwd=cwd, timeout=timeout
    )


def test_broken_config_stops_before_building(bins, env, tmp_path):
    cfg = tmp_path / "proxy.yaml"
    cfg.write_text("name: broken\nproviders:\n  up:\n    kind: openai\n    base_url: http://127.0.0.1:1/v1\n    api_keys: [{ secret: UP_KEY }]\nmodels:\n  m:\n    routes:\n      - { provider: nope, model: x }\n")
    r = run_dev(bins, env, str(cfg), "--listen", "127.0.0.1:0")
    assert r.returncode == 1
    assert "proxy.yaml:10:" in r.stderr, r.stderr  # file:line of the bad route
    assert "nope" in r.stderr
    assert not (tmp_path / ".apexc").exists(), "a broken config must not leave a work dir"


def test_port_in_use_is_reported_with_what_to_do(bins, env, tmp_path):
    cfg = tmp_path / "quickstart.yaml"
    cfg.write_text((ROOT / "examples" / "quickstart.yaml").read_text())
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        r = run_dev(bins, env, str(cfg), "--listen", f"127.0.0.1:{port}", "--ready-timeout", "60", timeout=600)
    assert r.returncode == 1
    assert "apexc dev: error:" in r.stderr
    assert "--listen" in r.stderr, r.stderr[-2000:]


def test_two_gateways_built_in_turn_each_get_their_own_wasm(bins, env, tmp_path):
    """Every generated crate links to the same file in the shared wasm target dir; building
    gateway A, then B, then A again (unchanged) must give A's bundle back, not B's."""
    import hashlib

    text = (ROOT / "examples" / "quickstart.yaml").read_text()
    configs = {}
    for name, model in (("a", "demo"), ("b", "other-demo")):
        d = tmp_path / name
        d.mkdir()
        (d / "proxy.yaml").write_text(text.replace("  demo:\n", f"  {model}:\n", 1))
        configs[name] = d

    def build(name):
        d = configs[name]
        r = run_dev(bins, env, str(d / "proxy.yaml"), "--build-only", "--out", str(d / "out"), timeout=1500)
        assert r.returncode == 0, r.stderr[-3000:]
        return hashlib.sha256((d / "out" / "build" / "index_bg.wasm").read_bytes()).hexdigest()

    first_a = build("a")
    b = build("b")
    assert b != first_a, "the two configs differ, so must their bundles"
    assert build("a") == first_a, "A's second build came out with another gateway's bundle"
