"""A hostile upstream (issue 13), against both gateways: the fake upstream's `hostile=MODE`
faults (tests/fake-upstream/src/hostile.rs) each try another way to get the key it was sent
back to the client: an error JSON inside a 200, JSON-escaped keys, a gzip-compressed error
body, credential headers on a success, an SSE error event inside a 200 stream, a stream cut
mid-event. For every mode, on chat completions, Messages and Responses, streamed and not,
no 8 characters of any configured key (tests/configs/e2e.dev.vars) may reach the client's
headers or body, a stored response, or the gateway's log."""

from __future__ import annotations

import json
import re
import time

import httpx2 as httpx
import openai
import pytest

from conftest import GATEWAY_KEY, secrets
from test_routing_faults import key_fragments, key_of, leaks

MODES = ["json200", "escaped", "gzip", "headers", "sse_error", "cut"]
AUTH = {"authorization": f"Bearer {GATEWAY_KEY}"}


def request(path: str, prompt: str, stream: bool) -> tuple[str, dict]:
    if path == "chat":
        return "/v1/chat/completions", {"model": "hostile", "stream": stream, "messages": [{"role": "user", "content": prompt}]}
    if path == "messages":
        return "/v1/messages", {"model": "hostile", "max_tokens": 50, "stream": stream, "messages": [{"role": "user", "content": prompt}]}
    return "/v1/responses", {"model": "hostile", "stream": stream, "store": True, "input": prompt}


def shown(r: httpx.Response) -> str:
    return json.dumps(dict(r.headers)) + "\n" + r.content.decode(errors="replace")


@pytest.mark.parametrize("mode", MODES)
def test_no_key_reaches_a_client_a_log_or_the_store(gateway, upstream, marker, mode):
    assert gateway.output is not None
    log_from = len(gateway.output)
    fragments = key_fragments()
    sent = 0
    with httpx.Client(base_url=gateway.url, headers=AUTH, timeout=30) as client:
        for path in ("chat", "messages", "responses"):
            for stream in (False, True):
                url, body = request(path, f"{marker} {path} {stream} [[fake:hostile={mode}]]", stream)
                r = client.post(url, json=body)
                sent += 1
                text = shown(r)
                assert not leaks(text, fragments), f"{mode} {path} stream={stream} leaked {leaks(text, fragments)}: {text[:800]}"
                if mode == "gzip" and gateway.kind == "serve":
                    # serve's HTTP client does not decode: the encoded body is refused, not forwarded.
                    assert r.headers.get("content-encoding") is None and "gzip" in r.text, text[:400]
                for rid in set(re.findall(r"resp_[0-9a-f]{32}", r.text)):
                    stored = client.get(f"/v1/responses/{rid}")
                    assert not leaks(shown(stored), fragments), f"stored {rid} leaked: {shown(stored)[:800]}"

    # The upstream really was sent the key it quotes (else this proves nothing).
    hits = upstream.requests_with(marker)
    assert len(hits) >= sent and {key_of(h) for h in hits} == {secrets()["HOSTILE_KEY"]}

    deadline = time.monotonic() + 10
    while True:
        log = "\n".join(gateway.output[log_from:])
        if log.count('"msg":"apex request"') >= sent or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert log.count('"msg":"apex request"') >= sent, f"missing request log lines:\n{log[-2000:]}"
    assert not leaks(log, fragments), f"the gateway's log holds {leaks(log, fragments)}"


def test_a_stream_cut_mid_event_ends_in_an_error_the_sdk_reads(gateway, marker):
    """The cut leaves half an event; the gateway's error event must not be glued onto it, so
    the SDK raises the gateway's error (not a JSON decode error)."""
    client = gateway.client()
    got = []
    with pytest.raises(openai.APIError) as e:
        for chunk in client.chat.completions.create(
            model="hostile",
            stream=True,
            messages=[{"role": "user", "content": f"{marker} [[fake:hostile=cut]]"}],
        ):
            got.extend(c.delta.content or "" for c in chunk.choices)
    assert "hostile" in "".join(got), got
    assert "failed in the middle of this stream" in str(e.value), e.value
