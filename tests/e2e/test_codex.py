"""Codex CLI (`@openai/codex`, which speaks only the Responses API) through both gateways,
against the fake chat-completions upstream: `codex exec` runs a shell command the model
asked for and reports its output.

The fake upstream plays the model: the prompt carries `[[fake:call=exec_command;args=...]]`,
so the first turn answers with an `exec_command` tool call, and the turn after the tool
result quotes that result. Everything between is the gateway's bridge: Codex's tools
(function, custom, namespace, web_search) down to chat functions, the call back up as a
`function_call` item, the `function_call_output` of the next request down as a tool message.

The CLI is installed with npm into target/codex-cli on first use (CODEX_BIN overrides)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from conftest import GATEWAY_KEY
from harness import ROOT, WORK, npm_cli

CODEX_VERSION = "0.171.0"
CODEX_DIR = ROOT / "target" / "codex-cli"


@pytest.fixture(scope="session")
def codex_bin(env) -> str:
    given = os.environ.get("CODEX_BIN")
    if given:
        return given
    return npm_cli("@openai/codex", CODEX_VERSION, CODEX_DIR, "codex", env)


def codex_home(gateway, root: Path) -> Path:
    home = root / "codex-home"
    home.mkdir(parents=True, exist_ok=True)
    (home / "config.toml").write_text(
        f'''model = "chat"
model_provider = "apex"
approval_policy = "never"
sandbox_mode = "danger-full-access"

[model_providers.apex]
name = "apex gateway"
base_url = "{gateway.url}/v1"
env_key = "APEX_GATEWAY_KEY"
wire_api = "responses"

[analytics]
enabled = false

[features]
plugins = false
'''
    )
    return home


def test_codex_exec_runs_a_shell_command(gateway, upstream, codex_bin, env, marker):
    root = WORK / "codex" / f"{gateway.kind}-{marker}"
    work = root / "work"
    work.mkdir(parents=True, exist_ok=True)
    home = codex_home(gateway, root)
    word = f"hello-{marker}"
    prompt = f'please run: echo {word} [[fake:call=exec_command;args={{"cmd":"echo {word}"}}]]'
    run_env = dict(env, CODEX_HOME=str(home), HOME=str(home), APEX_GATEWAY_KEY=GATEWAY_KEY, NO_COLOR="1")
    r = subprocess.run(
        [codex_bin, "exec", "--skip-git-repo-check", prompt],
        cwd=work, env=run_env, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=180,
    )
    out = r.stdout + r.stderr
    (root / "codex.log").write_text(out)
    assert r.returncode == 0, out[-3000:]
    # Codex ran the command the model asked for...
    assert f"echo {word}" in out, out[-3000:]
    # ...and its final answer (the fake model quoting the tool result) contains its output.
    final = r.stdout.strip().splitlines()
    assert final and any(word in line for line in final), out[-3000:]

    # Two model turns went upstream as chat completions: the call, then the call's result.
    sent = [q for q in upstream.requests_with(word) if q["path"] == "/v1/chat/completions"]
    assert len(sent) >= 2, sent
    first, second = sent[0]["body"], sent[-1]["body"]
    names = {t["function"]["name"] for t in first["tools"]}
    assert "exec_command" in names
    assert not any("web_search" in n for n in names)
    assert second["messages"][-1]["role"] == "tool"
    assert word in second["messages"][-1]["content"]
