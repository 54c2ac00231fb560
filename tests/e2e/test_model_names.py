"""Model names as clients send them, through the official SDKs on both gateways: an alias
reaches its model, a name a glob pattern matches reaches the pattern's routes (`{model}` sends
the name as the client wrote it), and the model list shows what a client can write."""

from __future__ import annotations

import anthropic
import openai
import pytest

from conftest import GATEWAY_KEY


def test_an_alias_reaches_its_model(client, upstream, marker):
    resp = client.chat.completions.create(model="chat-alias", messages=[{"role": "user", "content": f"hi {marker}"}])
    assert resp.choices[0].message.content == f"echo: hi {marker}"
    [sent] = upstream.requests_with(marker)
    assert sent["body"]["model"] == "echo"


def test_a_name_a_pattern_matches_goes_upstream_as_the_client_wrote_it(gateway, upstream, marker):
    claude = anthropic.Anthropic(base_url=gateway.url, api_key=GATEWAY_KEY, max_retries=0, timeout=60)
    msg = claude.messages.create(
        model="claude-house-blend-1", max_tokens=64, messages=[{"role": "user", "content": f"hi {marker}"}]
    )
    assert msg.content[0].text == f"echo: hi {marker}"
    assert msg.model == "claude-house-blend-1"
    [sent] = upstream.requests_with(marker)
    assert sent["body"]["model"] == "claude-house-blend-1"


def test_the_model_list_shows_aliases_not_patterns_and_a_matched_name_can_be_retrieved(client):
    ids = {m.id for m in client.models.list()}
    assert "chat-alias" in ids and "chat" in ids
    assert not any("*" in i for i in ids)
    assert client.models.retrieve("claude-opus-4-1").id == "claude-opus-4-1"
    with pytest.raises(openai.NotFoundError):
        client.models.retrieve("gpt-unknown")
