"""The official Anthropic Python SDK against both gateways, in front of the fake
OpenAI-compatible upstream: Messages requests are translated to chat completions and the
answers back, whole and streamed. What a user of the SDK would notice: answers, streams
(raw events and the `messages.stream` helper), a tool-result turn, count_tokens, and errors
as the SDK's exception types."""

from __future__ import annotations

import anthropic
import pytest

from conftest import GATEWAY_KEY


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
