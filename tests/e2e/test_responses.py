"""The Responses API through both gateways, bridged to the fake chat-completions upstream:
the official OpenAI SDK (create plain / streamed / with a function tool over two turns via
`previous_response_id`, the `responses.stream` helper, retrieve, input_items, delete), and
every object and stream event the gateway emits validated against the OpenAPI spec."""

from __future__ import annotations

import json

import openai
import pytest

import openapi_schemas
from conftest import GATEWAY_KEY
from harness import http

WEATHER_TOOL = {
    "type": "function",
    "name": "get_weather",
    "description": "Current weather in a city.",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}
CALL = '[[fake:call=get_weather;args={"city":"Oslo"}]]'



def raw(gateway, method: str, path: str, body: dict | None = None):
    data = json.dumps(body).encode() if body is not None else None
    headers = {"authorization": f"Bearer {GATEWAY_KEY}", "content-type": "application/json"}
    return http(method, f"{gateway.url}{path}", data, headers)


def sse_events(raw_body: bytes) -> list[dict]:
    events = []
    for block in raw_body.decode().split("\n\n"):
        name, data = None, []
        for line in block.splitlines():
            if line.startswith("event:"):
                name = line[6:].strip()
            elif line.startswith("data:"):
                data.append(line[5:].lstrip())
        if data:
            ev = json.loads("\n".join(data))
            assert ev["type"] == name, f"event line {name} vs type {ev['type']}"
            events.append(ev)
    return events


def test_create_plain(client, upstream, marker):
    r = client.responses.create(model="chat", input=f"hello {marker}")
    assert r.id.startswith("resp_")
    assert r.status == "completed"
    assert r.output_text == f"echo: hello {marker}"
    assert r.usage is not None and r.usage.total_tokens > 0
    [sent] = upstream.requests_with(marker)
    assert sent["path"] == "/v1/chat/completions"
    assert sent["body"]["messages"] == [{"role": "user", "content": f"hello {marker}"}]


def test_create_streamed(client, marker):
    events = list(client.responses.create(model="chat", input=f"stream me {marker}", stream=True))
    types = [e.type for e in events]
    assert types[:2] == ["response.created", "response.in_progress"]
    assert types[-1] == "response.completed"
    assert types.count("response.output_text.delta") >= 3
    seq = [e.sequence_number for e in events]
    assert seq == list(range(len(events)))
    text = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    assert text == f"echo: stream me {marker}"
    assert events[-1].response.id == events[0].response.id
    assert events[-1].response.output_text == text


def test_stream_helper(client, marker):
    with client.responses.stream(model="chat", input=f"helper {marker}") as stream:
        deltas = [e.delta for e in stream if e.type == "response.output_text.delta"]
        final = stream.get_final_response()
    assert "".join(deltas) == f"echo: helper {marker}"
    assert final.output_text == f"echo: helper {marker}"
    assert final.status == "completed"


def test_function_tool_over_two_turns(client, upstream, marker):
    first = client.responses.create(
        model="chat", input=f"weather please {marker} {CALL}", tools=[WEATHER_TOOL]
    )
    [call] = [o for o in first.output if o.type == "function_call"]
    assert call.name == "get_weather"
    assert json.loads(call.arguments) == {"city": "Oslo"}
    second = client.responses.create(
        model="chat",
        previous_response_id=first.id,
        tools=[WEATHER_TOOL],
        input=[{"type": "function_call_output", "call_id": call.call_id, "output": "sunny, 21C"}],
    )
    assert second.previous_response_id == first.id
    assert second.output_text == "The tool said: sunny, 21C"
    # The second upstream request carried the whole conversation, rebuilt from the store.
    sent = upstream.requests_with(marker)[-1]["body"]
    roles = [m["role"] for m in sent["messages"]]
    assert roles == ["user", "assistant", "tool"]
    assert sent["messages"][1]["tool_calls"][0]["id"] == call.call_id
    assert sent["tools"][0]["function"]["name"] == "get_weather"


def test_streamed_function_call_arguments_arrive_in_pieces(client, marker):
    events = list(
        client.responses.create(model="chat", input=f"w {marker} {CALL}", tools=[WEATHER_TOOL], stream=True)
    )
    types = [e.type for e in events]
    # The fake upstream streams a call's arguments in 4 fragments (fake-upstream ARG_FRAGMENTS).
    assert types.count("response.function_call_arguments.delta") == 4
    done = [e for e in events if e.type == "response.output_item.done"]
    assert [d.item.type for d in done] == ["function_call"]
    assert json.loads(done[0].item.arguments) == {"city": "Oslo"}


def test_retrieve_input_items_delete(client, marker):
    created = client.responses.create(
        model="chat",
        instructions="Be brief.",
        input=[
            {"role": "user", "content": f"first {marker}"},
            {"role": "user", "content": f"second {marker}"},
        ],
    )
    got = client.responses.retrieve(created.id)
    assert got.id == created.id
    assert got.output_text == created.output_text
    assert got.instructions == "Be brief."
    items = client.responses.input_items.list(created.id, order="asc")
    assert [i.content[0].text for i in items.data] == [f"first {marker}", f"second {marker}"]
    page = client.responses.input_items.list(created.id, limit=1)
    assert page.has_more is True and page.data[0].content[0].text == f"second {marker}"
    client.responses.delete(created.id)
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(created.id)


def test_store_false_is_not_kept(client, marker):
    r = client.responses.create(model="chat", input=f"forget {marker}", store=False)
    assert r.output_text == f"echo: forget {marker}"
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(r.id)


def test_everything_emitted_validates_against_the_openapi_spec(gateway, marker):
    # Whole objects: create (text, tool call), retrieve, input_items.
    status, _, body = raw(gateway, "POST", "/v1/responses", {"model": "chat", "input": f"v {marker}", "metadata": {"k": "v"}})
    assert status == 200, body
    plain = json.loads(body)
    openapi_schemas.check("Response", plain)
    status, _, body = raw(gateway, "POST", "/v1/responses",
                          {"model": "chat", "input": f"v {marker} {CALL}", "tools": [WEATHER_TOOL]})
    openapi_schemas.check("Response", json.loads(body))
    status, _, body = raw(gateway, "GET", f"/v1/responses/{plain['id']}")
    assert status == 200
    openapi_schemas.check("Response", json.loads(body))
    status, _, body = raw(gateway, "GET", f"/v1/responses/{plain['id']}/input_items")
    assert status == 200
    openapi_schemas.check("ResponseItemList", json.loads(body))
    status, _, body = raw(gateway, "GET", "/v1/responses/resp_nope")
    assert status == 404
    openapi_schemas.check("ErrorResponse", json.loads(body))

    # Streams: text, a function call, a failure mid-stream.
    for payload in (
        {"model": "chat", "input": f"s {marker}", "stream": True},
        {"model": "chat", "input": f"s {marker} {CALL}", "tools": [WEATHER_TOOL], "stream": True},
        {"model": "drop-mid", "input": f"s {marker}", "stream": True},
    ):
        status, headers, body = raw(gateway, "POST", "/v1/responses", payload)
        assert status == 200, body
        events = sse_events(body)
        assert events, body
        for ev in events:
            openapi_schemas.check_event(ev)
        assert events[-1]["type"] in ("response.completed", "response.failed")
