"""Claude Code (`@anthropic-ai/claude-code`, headless `claude -p`) through both gateways,
against the fake OpenAI-compatible upstream: a turn that runs a Bash command the model asked
for and reports its output.

The fake upstream plays the model: the prompt carries `[[fake:call=Bash;args=...]]`, so the
first turn answers with a streamed `Bash` tool call whose arguments come in several fragments
(none valid JSON alone), and the turn after the tool result quotes that result. Everything in
between is the gateway's: Claude Code's Messages request (system blocks with cache_control,
tools with `$schema`, thinking, metadata...) down to a chat completion, the chat stream back
up as Messages SSE (`tool_use` block, input as `input_json_delta`s as the fragments arrive,
`message_delta` with `stop_reason: tool_use`), the `tool_result` of the next request down as a
tool message.

Claude Code runs offline: telemetry, updates and other non-essential traffic are off, its
side calls (small/fast model) go to the same gateway model, and HOME is a scratch dir.
`--output-format stream-json --include-partial-messages` makes it print the raw stream events
it received, so the test sees what Claude Code saw.

The CLI is installed with npm into target/claude-code-cli on first use (CLAUDE_CODE_BIN
overrides)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from conftest import GATEWAY_KEY
from harness import ROOT, WORK, npm_cli

CLAUDE_CODE_VERSION = "2.1.332"
CLAUDE_DIR = ROOT / "target" / "claude-code-cli"


@pytest.fixture(scope="session")
def claude_bin(env) -> str:
    given = os.environ.get("CLAUDE_CODE_BIN")
    if given:
        return given
    return npm_cli("@anthropic-ai/claude-code", CLAUDE_CODE_VERSION, CLAUDE_DIR, "claude", env)


def claude_env(env: dict[str, str], gateway, home: Path, **auth: str) -> dict[str, str]:
    """The environment for one offline Claude Code run against `gateway`."""
    e = {k: v for k, v in env.items() if not k.startswith(("ANTHROPIC_", "CLAUDE_"))}
    e.update(
        HOME=str(home),
        ANTHROPIC_BASE_URL=gateway.url,  # no /v1: Claude Code adds it
        ANTHROPIC_MODEL="chat",
        # Side calls (titles, summaries, quota checks) use the small/fast model: same gateway model.
        ANTHROPIC_DEFAULT_HAIKU_MODEL="chat",
        ANTHROPIC_SMALL_FAST_MODEL="chat",
        DISABLE_TELEMETRY="1",
        DISABLE_AUTOUPDATER="1",
        DISABLE_ERROR_REPORTING="1",
        CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC="1",
        IS_SANDBOX="1",  # --dangerously-skip-permissions as root
        NO_COLOR="1",
    )
    e.update(auth)
    return e


def run_claude(claude_bin: str, gateway, env, marker: str, prompt: str, **auth: str):
    """Runs `claude -p PROMPT` in a scratch dir; returns (process, the JSON lines it printed)."""
    root = WORK / "claude-code" / f"{gateway.kind}-{marker}"
    work, home = root / "work", root / "home"
    work.mkdir(parents=True, exist_ok=True)
    home.mkdir(parents=True, exist_ok=True)
    r = subprocess.run(
        [claude_bin, "-p", "--dangerously-skip-permissions", "--output-format", "stream-json", "--verbose",
         "--include-partial-messages", prompt],
        cwd=work, env=claude_env(env, gateway, home, **auth), stdin=subprocess.DEVNULL,
        capture_output=True, text=True, timeout=180,
    )
    (root / "claude.log").write_text(f"exit {r.returncode}\n--- stdout\n{r.stdout}\n--- stderr\n{r.stderr}")
    lines = []
    for line in r.stdout.splitlines():
        try:
            lines.append(json.loads(line))
        except json.JSONDecodeError:
            pass
    return r, lines


def stream_events(lines: list[dict]) -> list[dict]:
    return [ln["event"] for ln in lines if ln.get("type") == "stream_event"]


def test_claude_code_runs_a_bash_command(gateway, upstream, claude_bin, env, marker):
    word = f"hello-{marker}"
    args = json.dumps({"command": f"echo {word}", "description": "Print a word"})
    prompt = f"please run: echo {word} [[fake:call=Bash;args={args}]]"
    r, lines = run_claude(claude_bin, gateway, env, marker, prompt, ANTHROPIC_AUTH_TOKEN=GATEWAY_KEY)
    out = (r.stdout + r.stderr)[-3000:]
    assert r.returncode == 0, out

    # What Claude Code received for the first turn: a Bash tool_use block whose input came as
    # several input_json_delta events (passed on as the upstream's fragments arrived), closed
    # by a message_delta saying tool_use.
    events = stream_events(lines)
    start = next(e for e in events if e["type"] == "content_block_start" and e["content_block"]["type"] == "tool_use")
    assert start["content_block"]["name"] == "Bash"
    pieces = [e["delta"]["partial_json"] for e in events
              if e["type"] == "content_block_delta" and e["index"] == start["index"]
              and e["delta"]["type"] == "input_json_delta"]
    assert len(pieces) >= 3, pieces
    assert json.loads("".join(pieces)) == json.loads(args)
    stops = [e["delta"]["stop_reason"] for e in events if e["type"] == "message_delta"]
    assert stops == ["tool_use", "end_turn"], stops

    # Claude Code ran the command: its tool result is the command's output...
    results = [b for ln in lines if ln.get("type") == "user"
               for b in ln["message"]["content"] if isinstance(b, dict) and b.get("type") == "tool_result"]
    assert len(results) == 1 and not results[0].get("is_error"), results
    assert word in json.dumps(results[0]["content"])
    # ...and the final answer (the fake model quoting that result) reports it.
    [result] = [ln for ln in lines if ln.get("type") == "result"]
    assert result["subtype"] == "success" and not result.get("is_error"), result
    assert result["result"] == f"The tool said: {word}"

    # Upstream: two streamed chat completions (no retry without streaming, which Claude Code
    # falls back to when a stream looks broken), the tools cleaned for a strict upstream, the
    # second ending in the tool message with the command's output. (Side calls without tools,
    # like a title, would be answered with plain text; they are not counted.)
    sent = [q["body"] for q in upstream.requests_with(word)
            if q["path"] == "/v1/chat/completions" and q["body"].get("tools")]
    assert len(sent) == 2, [s.get("messages", [])[-1:] for s in sent]
    first, second = sent
    assert first["model"] == "echo" and first["stream"] is True and second["stream"] is True
    bash = next(t for t in first["tools"] if t["function"]["name"] == "Bash")
    assert "command" in bash["function"]["parameters"]["properties"]
    assert not any("$schema" in t["function"]["parameters"] for t in first["tools"])
    assert second["messages"][-1]["role"] == "tool"
    assert word in second["messages"][-1]["content"]
    assert second["messages"][-2]["tool_calls"][0]["function"]["name"] == "Bash"


def test_claude_code_with_an_api_key_gets_a_plain_answer(gateway, upstream, claude_bin, env, marker):
    """`ANTHROPIC_API_KEY` (sent as x-api-key) works as well as a token; a turn without tools
    streams text back as Claude Code's answer."""
    r, lines = run_claude(claude_bin, gateway, env, marker, f"say {marker}", ANTHROPIC_API_KEY=GATEWAY_KEY)
    assert r.returncode == 0, (r.stdout + r.stderr)[-3000:]
    [result] = [ln for ln in lines if ln.get("type") == "result"]
    assert result["subtype"] == "success", result
    assert marker in result["result"] and result["result"].startswith("echo: ")
    kinds = [e["type"] for e in stream_events(lines)]
    assert kinds[0] == "message_start" and kinds[-2:] == ["message_delta", "message_stop"], kinds
    assert upstream.requests_with(marker), "the turn reached the upstream"


def test_claude_code_with_its_own_model_name_matched_by_a_pattern_completes_a_tool_turn(gateway, upstream, claude_bin, env, marker):
    """ANTHROPIC_MODEL=claude-sonnet-4-5, as a user leaves it: the config has no such model,
    only the pattern `claude-*`, whose route sends the name upstream as written."""
    word = f"pat-{marker}"
    args = json.dumps({"command": f"echo {word}", "description": "Print a word"})
    prompt = f"please run: echo {word} [[fake:call=Bash;args={args}]]"
    names = dict(
        ANTHROPIC_MODEL="claude-sonnet-4-5",
        ANTHROPIC_DEFAULT_HAIKU_MODEL="claude-haiku-4-5",
        ANTHROPIC_SMALL_FAST_MODEL="claude-haiku-4-5",
    )
    r, lines = run_claude(claude_bin, gateway, env, marker, prompt, ANTHROPIC_AUTH_TOKEN=GATEWAY_KEY, **names)
    assert r.returncode == 0, (r.stdout + r.stderr)[-3000:]
    [result] = [ln for ln in lines if ln.get("type") == "result"]
    # (For a Claude model name, Claude Code appends its own reminders to the tool result, which
    # the fake model quotes after the command's output.)
    assert result["subtype"] == "success" and result["result"].startswith(f"The tool said: {word}"), result
    sent = [q["body"] for q in upstream.requests_with(word)
            if q["path"] == "/v1/chat/completions" and q["body"].get("tools")]
    assert len(sent) == 2 and {s["model"] for s in sent} == {"claude-sonnet-4-5"}, [s["model"] for s in sent]
