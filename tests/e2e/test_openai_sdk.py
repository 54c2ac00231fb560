"""The official OpenAI Python SDK against both gateways (apexc serve, the generated worker),
in front of the fake upstream. What a user of the SDK would notice: answers, streams,
embeddings, model lists, errors as the SDK's exception types, failover, and timely streaming."""

from __future__ import annotations

import json
import math
import time

import openai
import pytest
import yaml

from conftest import CONFIG_TEMPLATE, GATEWAY_KEY, secrets
from harness import LOGS, http

# Every name the config gives clients as written (`models:` in tests/configs/e2e.yaml, but its
# glob patterns, plus every alias), read from the config itself so a model added for another
# test file does not break this one.
_MODELS = yaml.safe_load(CONFIG_TEMPLATE.read_text())["models"]
PUBLIC_MODELS = {n for n in _MODELS if "*" not in n and "?" not in n}
PUBLIC_MODELS |= {a for m in _MODELS.values() for a in m.get("aliases", [])}


def upstream_auth(req: dict) -> str:
    return req["headers"].get("authorization", "")


# --- chat ---------------------------------------------------------------------------------


def test_chat_plain(client, upstream, marker):
    resp = client.chat.completions.create(model="chat", messages=[{"role": "user", "content": f"hello {marker}"}])

    assert resp.choices[0].message.content == f"echo: hello {marker}"
    assert resp.choices[0].finish_reason == "stop"
    assert resp.usage is not None and resp.usage.total_tokens > 0

    # Upstream saw the route's model and the provider's key, never the gateway's key.
    [sent] = upstream.requests_with(marker)
    assert sent["path"] == "/v1/chat/completions"
    assert sent["body"]["model"] == "echo"
    assert upstream_auth(sent) == "Bearer sk-up-a"
    assert GATEWAY_KEY not in json.dumps(sent["headers"])


def test_chat_streamed(client, upstream, marker):
    stream = client.chat.completions.create(
        model="chat",
        messages=[{"role": "user", "content": f"stream me {marker}"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)

    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == f"echo: stream me {marker}"
    content_chunks = [c for c in chunks if c.choices and c.choices[0].delta.content]
    assert len(content_chunks) >= 3, "the reply should arrive as several chunks, not one"
    assert any(c.choices and c.choices[0].finish_reason == "stop" for c in chunks)
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens > 0
    [sent] = upstream.requests_with(marker)
    assert sent["body"]["stream"] is True


def test_chat_with_x_api_key_header(gateway, marker):
    """Clients that authenticate with `x-api-key` instead of a Bearer token get in too."""
    status, _, body = http(
        "POST",
        f"{gateway.url}/v1/chat/completions",
        json.dumps({"model": "chat", "messages": [{"role": "user", "content": marker}]}).encode(),
        {"content-type": "application/json", "x-api-key": GATEWAY_KEY},
    )
    assert status == 200, body
    assert json.loads(body)["choices"][0]["message"]["content"] == f"echo: {marker}"


def test_mock_provider(client):
    resp = client.chat.completions.create(model="mocked", messages=[{"role": "user", "content": "hi there"}])
    assert resp.choices[0].message.content == "mock reply: hi there"


# --- embeddings ---------------------------------------------------------------------------


def direct_embeddings(upstream, inputs: list[str]) -> list[list[float]]:
    """Ground truth: the same request straight to the fake upstream."""
    status, _, body = http(
        "POST",
        f"{upstream.url}/v1/embeddings",
        json.dumps({"model": "fake-embed", "input": inputs, "encoding_format": "float"}).encode(),
        {"content-type": "application/json", "authorization": "Bearer direct"},
    )
    assert status == 200, body
    return [d["embedding"] for d in json.loads(body)["data"]]


def test_embeddings_float(client, upstream, marker):
    inputs = [f"alpha {marker}", f"beta {marker}"]
    resp = client.embeddings.create(model="embed", input=inputs, encoding_format="float")

    assert [d.index for d in resp.data] == [0, 1]
    got = [d.embedding for d in resp.data]
    assert got == direct_embeddings(upstream, inputs)
    assert all(len(v) == 8 and math.isclose(math.sqrt(sum(x * x for x in v)), 1.0, rel_tol=1e-4) for v in got)
    assert got[0] != got[1]


def test_embeddings_sdk_default_base64(client, upstream, marker):
    inputs = [f"gamma {marker}"]
    resp = client.embeddings.create(model="embed", input=inputs)  # the SDK asks for base64 and decodes it

    [sent] = upstream.requests_with(marker)
    assert sent["body"]["encoding_format"] == "base64"
    assert sent["body"]["model"] == "fake-embed"
    [want] = direct_embeddings(upstream, inputs)
    assert resp.data[0].embedding == pytest.approx(want, abs=1e-6)


# --- models -------------------------------------------------------------------------------


def test_models_list_and_retrieve(client):
    ids = {m.id for m in client.models.list()}
    assert ids == PUBLIC_MODELS
    assert client.models.retrieve("chat").id == "chat"
    with pytest.raises(openai.NotFoundError):
        client.models.retrieve("no-such-model")


# --- errors -------------------------------------------------------------------------------


def test_wrong_key_is_authentication_error(gateway):
    with pytest.raises(openai.AuthenticationError) as e:
        gateway.client(api_key="wrong-key").chat.completions.create(
            model="chat", messages=[{"role": "user", "content": "hi"}]
        )
    assert e.value.status_code == 401
    assert "wrong-key" not in str(e.value.body)


def test_unknown_model_is_not_found(client, upstream, marker):
    with pytest.raises(openai.NotFoundError) as e:
        client.chat.completions.create(model="no-such-model", messages=[{"role": "user", "content": marker}])
    assert e.value.status_code == 404
    assert upstream.requests_with(marker) == []


def test_bad_json_is_400(gateway):
    status, headers, body = http(
        "POST",
        f"{gateway.url}/v1/chat/completions",
        b'{"model": "chat", "messages": [',
        {"content-type": "application/json", "authorization": f"Bearer {GATEWAY_KEY}"},
    )
    assert status == 400
    err = json.loads(body)["error"]
    assert err["message"]
    assert "json" in headers.get("content-type", headers.get("Content-Type", ""))


def test_all_routes_down_is_5xx_without_secrets(client, upstream, marker):
    with pytest.raises(openai.APIStatusError) as e:
        client.chat.completions.create(model="all-down", messages=[{"role": "user", "content": marker}])
    assert e.value.status_code in (502, 503)
    text = e.value.response.text
    for value in secrets().values():
        assert value not in text, "an API key leaked into an error response"
    assert len(upstream.requests_with(marker)) >= 1


# --- failover -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "model, first_key",
    [("failover-500", "sk-flaky-500"), ("failover-429", "sk-flaky-429"), ("failover-drop", "sk-flaky-drop")],
)
def test_failover_to_second_route(client, upstream, marker, model, first_key):
    raw = client.chat.completions.with_raw_response.create(
        model=model, messages=[{"role": "user", "content": f"fo {marker}"}]
    )
    resp = raw.parse()

    assert resp.choices[0].message.content == f"echo: fo {marker}"
    assert raw.headers.get("x-apex-provider") == "up_b"
    sent = upstream.requests_with(marker)
    # The first route was tried (and failed) before the second answered.
    assert [upstream_auth(r) for r in sent] == [f"Bearer {first_key}", "Bearer sk-up-b"]
    assert sent[-1]["body"]["model"] == "echo-b"


def test_failover_streamed(client, upstream, marker):
    stream = client.chat.completions.create(
        model="failover-500", messages=[{"role": "user", "content": f"fs {marker}"}], stream=True
    )
    text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    assert text == f"echo: fs {marker}"
    assert [upstream_auth(r) for r in upstream.requests_with(marker)] == ["Bearer sk-flaky-500", "Bearer sk-up-b"]


# --- streaming is not buffered --------------------------------------------------------------


def test_stream_chunks_arrive_as_upstream_sends_them(gateway, client):
    """The `slow` route's upstream sends content chunk k at about k*300 ms and stamps each with
    its send time (`x_sent_ms`). Each chunk must reach the client right after it was sent, so
    the first is in hand long before the last exists."""
    stream = client.chat.completions.create(
        model="slow", messages=[{"role": "user", "content": "tick"}], stream=True
    )
    arrivals = []  # (sent_ms, received_ms)
    for chunk in stream:
        received = time.time() * 1000
        if chunk.choices and chunk.choices[0].delta.content:
            sent = (chunk.model_extra or {}).get("x_sent_ms")
            assert sent is not None, "the gateway dropped the upstream's chunk fields"
            arrivals.append((float(sent), received))

    assert len(arrivals) == 6
    lags = [recv - sent for sent, recv in arrivals]
    with open(LOGS / "stream-timing.txt", "a") as f:
        f.write(f"{gateway.kind}: chunk lag ms {[round(x, 1) for x in lags]}\n")
    assert max(lags) < 200, f"chunks reached the client late (ms after sending): {lags}"
    first_received = arrivals[0][1]
    last_sent = arrivals[-1][0]
    assert first_received < last_sent - 1000, "the first chunk waited for later ones"


# --- upstream misbehaviour beyond failover ----------------------------------------------------


def test_failover_on_first_byte_timeout(client, upstream, marker):
    """flaky_slow has timeout_ms 500 and its upstream waits 5 s before answering: the gateway
    gives up at the timeout and answers from the next route, well before the slow one would."""
    started = time.monotonic()
    raw = client.chat.completions.with_raw_response.create(
        model="failover-timeout", messages=[{"role": "user", "content": f"to {marker}"}]
    )
    elapsed = time.monotonic() - started
    assert raw.parse().choices[0].message.content == f"echo: to {marker}"
    assert raw.headers.get("x-apex-provider") == "up_b"
    assert elapsed < 3.0, f"took {elapsed:.2f}s: the 500 ms first-byte timeout did not apply"
    assert [upstream_auth(r) for r in upstream.requests_with(marker)] == ["Bearer sk-flaky-slow", "Bearer sk-up-b"]


def test_upstream_client_error_is_returned_not_retried(client, upstream, marker):
    """A 400 from the upstream is the request's fault: it goes back to the client as is, and
    no other route is tried with the same bad request."""
    with pytest.raises(openai.BadRequestError) as e:
        client.chat.completions.create(model="client-error", messages=[{"role": "user", "content": marker}])
    assert e.value.status_code == 400
    assert [upstream_auth(r) for r in upstream.requests_with(marker)] == ["Bearer sk-reject"]


def collect_stream(client, model: str, prompt: str):
    """(texts, finish_reasons, exception) of a streamed chat, however it ends."""
    texts, finishes = [], []
    try:
        for c in client.chat.completions.create(model=model, messages=[{"role": "user", "content": prompt}], stream=True):
            if c.choices:
                texts.append(c.choices[0].delta.content or "")
                finishes.append(c.choices[0].finish_reason)
    except (openai.APIError, Exception) as exc:  # the transport error type differs by host
        return texts, finishes, exc
    return texts, finishes, None


def test_stream_cut_mid_way_is_visible_to_the_client(client):
    """The upstream resets the connection after 3 of 6 chunks. The client gets every chunk
    sent before the cut, and can tell the answer is incomplete: no finish_reason (`apexc
    serve` also resets the client's connection; the worker ends the stream)."""
    texts, finishes, _ = collect_stream(client, "drop-mid", "cut")
    assert "".join(texts) == "0 1 2 "
    assert "stop" not in finishes


def test_truncated_stream_gets_no_invented_finish(client, marker):
    """The upstream ends the stream early (no finish event, no [DONE]); the gateway must not
    make it look complete."""
    texts, finishes, _ = collect_stream(client, "truncated", f"t {marker}")
    assert "".join(texts) == f"echo: t {marker}"
    assert "stop" not in finishes
