"""Defects the official SDKs found when a request bounced between the runtime's modules
(issue 14), each seen the way a user of the SDK sees it, on both gateways: error bodies in
the client's protocol shape whatever the upstream speaks, the route's `max_tokens` cap on
every path, OpenAI parameters an Anthropic upstream cannot honour refused or carried over
instead of dropped, `previous_response_id` of an unstored response, Anthropic stream usage,
and the `x-apex-*` headers and 404 of the gateway's own answers."""

from __future__ import annotations

import json

import anthropic
import openai
import pytest

from conftest import GATEWAY_KEY
from harness import http

OPENAI_ERROR_FIELDS = {"message", "type", "param", "code"}


def assert_openai_error_shape(response) -> dict:
    body = response.json()
    assert set(body) == {"error"}, f"not OpenAI's error shape: {body}"
    assert OPENAI_ERROR_FIELDS <= set(body["error"]), body
    return body["error"]


@pytest.fixture
def claude(gateway) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=gateway.url, api_key=GATEWAY_KEY, max_retries=0, timeout=60)


def test_an_anthropic_upstreams_error_reaches_openai_clients_in_openai_shape(client):
    with pytest.raises(openai.BadRequestError) as e:
        client.chat.completions.create(
            model="claude-upstream", messages=[{"role": "user", "content": "[[fake:status=400]]"}],
        )
    err = assert_openai_error_shape(e.value.response)
    assert "injected status 400" in err["message"]
    assert e.value.type == "invalid_request_error"

    with pytest.raises(openai.BadRequestError) as e:
        client.responses.create(model="claude-upstream", input="[[fake:status=400]]")
    assert "injected status 400" in assert_openai_error_shape(e.value.response)["message"]


def test_n_above_one_is_refused_for_an_anthropic_upstream(client, upstream, marker):
    with pytest.raises(openai.BadRequestError) as e:
        client.chat.completions.create(
            model="claude-upstream", n=2, messages=[{"role": "user", "content": f"two {marker}"}],
        )
    assert e.value.param == "n"
    assert upstream.requests_with(marker) == [], "one answer would have come back for two asked"


def test_json_mode_reaches_an_anthropic_upstream(client, upstream, marker):
    client.chat.completions.create(
        model="claude-upstream", response_format={"type": "json_object"},
        messages=[{"role": "user", "content": f"json please {marker}"}],
    )
    [sent] = upstream.requests_with(marker)
    assert "one valid JSON object" in json.dumps(sent["body"].get("system"))


@pytest.mark.parametrize("asked, expected", [(32000, 64), (10, 10), (None, 64)])
def test_the_route_cap_holds_on_chat_passthrough(client, upstream, marker, asked, expected):
    extra = {} if asked is None else {"max_tokens": asked}
    client.chat.completions.create(
        model="capped-chat", messages=[{"role": "user", "content": f"cap {marker}"}], **extra,
    )
    [sent] = upstream.requests_with(marker)
    assert sent["body"]["max_tokens"] == expected
    assert sent["body"]["model"] == "echo"


def test_the_route_cap_holds_on_native_messages(claude, upstream, marker):
    claude.messages.create(
        model="capped-claude", max_tokens=32000, messages=[{"role": "user", "content": f"cap {marker}"}],
    )
    [sent] = upstream.requests_with(marker)
    assert sent["path"] == "/v1/messages"
    assert sent["body"]["max_tokens"] == 64


def test_message_start_reports_estimated_input_tokens(claude, marker):
    counted = claude.messages.count_tokens(
        model="chat", messages=[{"role": "user", "content": f"usage {marker}"}],
    ).input_tokens
    with claude.messages.stream(
        model="chat", max_tokens=50, messages=[{"role": "user", "content": f"usage {marker}"}],
    ) as stream:
        start = next(event for event in stream if event.type == "message_start")
        list(stream)
    assert counted > 0
    assert start.message.usage.input_tokens == counted


def test_previous_response_id_of_an_unstored_response_is_a_400(client, marker):
    first = client.responses.create(model="chat", input=f"forget {marker}", store=False)
    with pytest.raises(openai.BadRequestError) as e:
        client.responses.create(model="chat", input="and then?", previous_response_id=first.id)
    assert e.value.code == "previous_response_not_found"
    assert e.value.param == "previous_response_id"


def test_the_gateways_own_answers_carry_x_apex_attempts(gateway, claude):
    with pytest.raises(openai.AuthenticationError) as e:
        gateway.client(api_key="wrong-key").chat.completions.create(
            model="chat", messages=[{"role": "user", "content": "hi"}]
        )
    assert e.value.response.headers.get("x-apex-attempts") == "0"
    with pytest.raises(anthropic.NotFoundError) as e:
        claude.messages.create(model="no-such-model", max_tokens=10, messages=[{"role": "user", "content": "hi"}])
    assert e.value.response.headers.get("x-apex-attempts") == "0"
    assert e.value.response.json()["type"] == "error", "Anthropic's shape on /v1/messages"


def test_an_unknown_path_lists_every_endpoint(gateway):
    status, headers, body = http(
        "GET", f"{gateway.url}/v1/nothing-here", None, {"authorization": f"Bearer {GATEWAY_KEY}"},
    )
    assert status == 404
    message = json.loads(body)["error"]["message"]
    for path in ("/v1/chat/completions", "/v1/embeddings", "/v1/messages", "/v1/responses", "/v1/models"):
        assert path in message, message
