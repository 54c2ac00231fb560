"""The official Anthropic Python SDK against both gateways, in front of the fake
OpenAI-compatible upstream: Messages requests are translated to chat completions and the
answers back, whole and streamed. What a user of the SDK would notice: answers, streams
(raw events and the `messages.stream` helper), a tool-result turn, count_tokens, and errors
as the SDK's exception types."""

from __future__ import annotations

import json

import anthropic
import openai
import pytest

from conftest import GATEWAY_KEY
from harness import http


@pytest.fixture
def claude(gateway) -> anthropic.Anthropic:
    # The SDK sends its key as x-api-key; the gateway accepts that like a Bearer key.
    return anthropic.Anthropic(base_url=gateway.url, api_key=GATEWAY_KEY, max_retries=0, timeout=60)


def test_create(claude, upstream, marker):
    msg = claude.messages.create(
        model="chat", max_tokens=100, system="be brief",
        messages=[{"role": "user", "content": f"hello {marker}"}],
    )
    assert msg.type == "message" and msg.role == "assistant"
    assert msg.model == "chat"
    assert msg.content[0].type == "text"
    assert msg.content[0].text == f"echo: hello {marker}"
    assert msg.stop_reason == "end_turn"
    assert msg.usage.output_tokens > 0

    [sent] = upstream.requests_with(marker)
    assert sent["path"] == "/v1/chat/completions"
    assert sent["body"]["model"] == "echo"
    assert sent["body"]["messages"][0] == {"role": "system", "content": "be brief"}
    assert sent["body"]["max_tokens"] == 100


def test_stream_true_gives_every_event(claude, marker):
    events = list(claude.messages.create(
        model="chat", max_tokens=100, stream=True,
        messages=[{"role": "user", "content": f"stream me {marker}"}],
    ))
    kinds = [e.type for e in events]
    assert kinds[0] == "message_start"
    assert kinds[1] == "content_block_start"
    assert kinds[-2:] == ["message_delta", "message_stop"]
    assert kinds.count("content_block_delta") >= 3, "the reply should arrive in pieces"
    text = "".join(e.delta.text for e in events if e.type == "content_block_delta")
    assert text == f"echo: stream me {marker}"
    delta = next(e for e in events if e.type == "message_delta")
    assert delta.delta.stop_reason == "end_turn"
    assert delta.usage.output_tokens > 0


def test_stream_helper(claude, marker):
    with claude.messages.stream(
        model="chat", max_tokens=100,
        messages=[{"role": "user", "content": f"helper {marker}"}],
    ) as stream:
        pieces = list(stream.text_stream)
        final = stream.get_final_message()
    assert "".join(pieces) == f"echo: helper {marker}"
    assert final.content[0].text == f"echo: helper {marker}"
    assert final.stop_reason == "end_turn"


def test_tool_result_turn(claude, upstream, marker):
    tools = [{
        "name": "bash", "description": "run a shell command",
        "input_schema": {"$schema": "https://json-schema.org/draft/2020-12/schema", "type": "object",
                         "properties": {"command": {"type": "string"}}, "required": ["command"]},
    }]
    msg = claude.messages.create(
        model="chat", max_tokens=100, tools=tools,
        messages=[
            {"role": "user", "content": f"please run: echo {marker}"},
            {"role": "assistant", "content": [
                {"type": "text", "text": "I'll run that."},
                {"type": "tool_use", "id": "toolu_1", "name": "bash", "input": {"command": f"echo {marker}"}},
            ]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": marker}]},
        ],
    )
    assert msg.content[0].type == "text"
    [sent] = upstream.requests_with(marker)
    body = sent["body"]
    assert [m["role"] for m in body["messages"]] == ["user", "assistant", "tool"]
    assert body["messages"][1]["tool_calls"][0]["function"]["name"] == "bash"
    assert body["messages"][2] == {"role": "tool", "tool_call_id": "toolu_1", "content": marker}
    assert "$schema" not in body["tools"][0]["function"]["parameters"]


def test_count_tokens(claude):
    small = claude.messages.count_tokens(model="chat", messages=[{"role": "user", "content": "hi"}])
    big = claude.messages.count_tokens(model="chat", messages=[{"role": "user", "content": "hello world " * 200}])
    assert small.input_tokens > 0
    assert big.input_tokens > small.input_tokens + 300


def test_errors_are_sdk_exceptions(gateway, claude):
    bad = anthropic.Anthropic(base_url=gateway.url, api_key="wrong", max_retries=0)
    with pytest.raises(anthropic.AuthenticationError):
        bad.messages.create(model="chat", max_tokens=10, messages=[{"role": "user", "content": "hi"}])
    with pytest.raises(anthropic.NotFoundError):
        claude.messages.create(model="no-such-model", max_tokens=10, messages=[{"role": "user", "content": "hi"}])
    with pytest.raises(anthropic.BadRequestError):
        claude.messages.create(model="chat", max_tokens=10, messages=[{"role": "user", "content": [
            {"type": "document", "source": {"type": "url", "url": "https://example.com/a.pdf"}}]}])


# --- An `anthropic` upstream (the fake upstream's /v1/messages) -------------------------
# Model `claude-upstream` routes to a provider of kind `anthropic`: Messages clients pass
# through untouched (model name spliced), OpenAI chat clients are translated to Messages and
# the answers back.

ANTHROPIC_UPSTREAM_KEY = "sk-ant-up-fake"  # tests/configs/e2e.dev.vars: UP_ANTHROPIC_KEY


def test_anthropic_sdk_passes_through_to_an_anthropic_upstream(claude, upstream, marker):
    msg = claude.messages.create(
        model="claude-upstream", max_tokens=50, messages=[{"role": "user", "content": f"native {marker}"}],
    )
    assert msg.content[0].text == f"echo: native {marker}"
    with claude.messages.stream(
        model="claude-upstream", max_tokens=50, messages=[{"role": "user", "content": f"native stream {marker}"}],
    ) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text == f"echo: native stream {marker}"
    assert final.stop_reason == "end_turn"
    sent = upstream.requests_with(marker)
    assert [s["path"] for s in sent] == ["/v1/messages", "/v1/messages"]
    assert all(s["body"]["model"] == "fake-claude" for s in sent)
    assert all(s["headers"]["x-api-key"] == ANTHROPIC_UPSTREAM_KEY for s in sent)


def test_openai_sdk_on_an_anthropic_upstream(gateway, upstream, marker):
    client = gateway.client()
    r = client.chat.completions.create(
        model="claude-upstream",
        messages=[{"role": "system", "content": "be brief"}, {"role": "user", "content": f"hello {marker}"}],
    )
    assert r.object == "chat.completion"
    assert r.choices[0].message.content == f"echo: hello {marker}"
    assert r.choices[0].finish_reason == "stop"
    assert r.usage.prompt_tokens > 0 and r.usage.completion_tokens > 0

    [sent] = upstream.requests_with(marker)
    assert sent["path"] == "/v1/messages"
    assert sent["headers"]["x-api-key"] == ANTHROPIC_UPSTREAM_KEY
    assert sent["headers"].get("anthropic-version")
    body = sent["body"]
    assert body["model"] == "fake-claude"
    assert "be brief" in json.dumps(body["system"])
    assert [m["role"] for m in body["messages"]] == ["user"]
    assert body["max_tokens"] > 0, "Messages requires max_tokens; the gateway must fill it in"


def test_openai_sdk_streams_from_an_anthropic_upstream(gateway, marker):
    client = gateway.client()
    chunks = list(client.chat.completions.create(
        model="claude-upstream", stream=True, stream_options={"include_usage": True},
        messages=[{"role": "user", "content": f"stream me {marker}"}],
    ))
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == f"echo: stream me {marker}"
    assert sum(1 for c in chunks if c.choices and c.choices[0].delta.content) >= 3
    assert [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason] == ["stop"]
    assert any(c.usage and c.usage.completion_tokens > 0 for c in chunks)


def test_openai_sdk_tool_turns_on_an_anthropic_upstream(gateway, upstream, marker):
    """A tool call streamed by the Anthropic upstream (input in several input_json_delta
    fragments) reaches the OpenAI client as a tool call whose arguments arrive in pieces; the
    tool result goes back as a tool_result block and the answer quotes it."""
    client = gateway.client()
    tools = [{"type": "function", "function": {
        "name": "bash", "description": "run a shell command",
        "parameters": {"type": "object", "properties": {"command": {"type": "string"}}, "required": ["command"]},
    }}]
    args = json.dumps({"command": f"echo {marker}"})
    messages = [{"role": "user", "content": f"run it [[fake:call=bash;args={args}]]"}]
    chunks = list(client.chat.completions.create(model="claude-upstream", stream=True, tools=tools, messages=messages))
    deltas = [tc for c in chunks if c.choices for tc in (c.choices[0].delta.tool_calls or [])]
    assert deltas and deltas[0].function.name == "bash" and deltas[0].id
    pieces = [d.function.arguments for d in deltas if d.function and d.function.arguments]
    assert len(pieces) >= 2, pieces
    assert json.loads("".join(pieces)) == json.loads(args)
    assert [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason] == ["tool_calls"]

    messages += [
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": deltas[0].id, "type": "function", "function": {"name": "bash", "arguments": args}}]},
        {"role": "tool", "tool_call_id": deltas[0].id, "content": f"out-{marker}"},
    ]
    r = client.chat.completions.create(model="claude-upstream", tools=tools, messages=messages)
    assert r.choices[0].message.content == f"The tool said: out-{marker}"
    assert r.choices[0].finish_reason == "stop"

    second = upstream.requests_with(f"out-{marker}")[-1]["body"]
    assert second["tools"][0]["name"] == "bash" and "input_schema" in second["tools"][0]
    assert second["messages"][-2]["content"][-1]["type"] == "tool_use"
    result = second["messages"][-1]["content"][-1]
    assert result["type"] == "tool_result" and result["tool_use_id"] == deltas[0].id


def test_openai_sdk_sees_anthropic_upstream_errors_as_its_exceptions(gateway):
    client = gateway.client()
    with pytest.raises(openai.BadRequestError) as e:
        client.chat.completions.create(
            model="claude-upstream", messages=[{"role": "user", "content": "[[fake:status=400]]"}],
        )
    assert "injected status 400" in e.value.message


def test_count_tokens_on_an_anthropic_upstream_asks_the_upstream(claude, upstream, marker):
    n = claude.messages.count_tokens(model="claude-upstream", messages=[{"role": "user", "content": f"count {marker}"}])
    assert n.input_tokens > 0
    [sent] = upstream.requests_with(marker)
    assert sent["path"] == "/v1/messages/count_tokens"
    assert sent["body"]["model"] == "fake-claude"


def test_a_quiet_stream_gets_ping_events(gateway, marker):
    """The upstream says nothing for 16 s in the middle of a stream; the gateway writes a
    keepalive after 15 s of quiet (Workers' edge cuts idle connections after ~100 s), as
    Anthropic's own `event: ping` (which the SDKs and Claude Code skip), between whole events.
    Costs 16 s per gateway: the interval is not configurable per deployment (runtime tests
    cover the policy on a virtual clock; this proves the hosts' timers fire in a live stream)."""
    prompt = f"slow {marker} [[fake:chunk_delay_ms=16000;chunks=2]]"
    body = json.dumps({"model": "chat", "max_tokens": 50, "stream": True,
                       "messages": [{"role": "user", "content": prompt}]}).encode()
    status, _, raw = http("POST", f"{gateway.url}/v1/messages", body, {
        "x-api-key": GATEWAY_KEY, "anthropic-version": "2023-06-01", "content-type": "application/json",
    }, timeout=60)
    assert status == 200, raw[:500]
    blocks = [b for b in raw.decode().split("\n\n") if b.strip()]
    names = []
    for b in blocks:  # every event whole: `event: NAME` then `data: {...}` of that type
        event_line, data_line = b.split("\n")
        name = event_line.removeprefix("event: ")
        assert json.loads(data_line.removeprefix("data: "))["type"] == name, b
        names.append(name)
    assert "ping" in names, names
    first, last = names.index("ping"), len(names) - 1 - names[::-1].index("ping")
    assert names[first - 1] == "content_block_delta" and names[last + 1] == "content_block_delta", names
    assert names[-1] == "message_stop"
    text = "".join(json.loads(b.split("\n")[1].removeprefix("data: ")).get("delta", {}).get("text", "") for b in blocks)
    assert text == "0 1 "
