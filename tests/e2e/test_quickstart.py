"""Smoke test of the README's first command: `apexc serve examples/quickstart.yaml` (a `mock`
provider, no keys) answers the OpenAI SDK."""

from __future__ import annotations

import openai
import pytest

from harness import ROOT, Proc


@pytest.fixture(scope="module")
def quickstart(bins, env):
    p = Proc("apexc-serve-quickstart", [bins["apexc"], "serve", str(ROOT / "examples" / "quickstart.yaml"), "--listen", "127.0.0.1:0"], env=env)
    try:
        url = p.wait_for(r"listening on (http://\S+)", timeout=60).group(1)
        yield openai.OpenAI(base_url=f"{url}/v1", api_key="anything", max_retries=0, timeout=30)
    finally:
        p.stop()


def test_quickstart_chat(quickstart):
    resp = quickstart.chat.completions.create(model="demo", messages=[{"role": "user", "content": "hi"}])
    assert resp.choices[0].message.content == "mock reply: hi"


def test_quickstart_stream(quickstart):
    chunks = list(
        quickstart.chat.completions.create(
            model="demo", messages=[{"role": "user", "content": "one two three"}], stream=True
        )
    )
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "mock reply: one two three"
    assert sum(1 for c in chunks if c.choices and c.choices[0].delta.content) > 1


def test_quickstart_embeddings(quickstart):
    resp = quickstart.embeddings.create(model="demo-embed", input=["a", "b"])
    assert [len(d.embedding) for d in resp.data] == [8, 8]
    assert resp.data[0].embedding != resp.data[1].embedding


def test_quickstart_models(quickstart):
    assert {m.id for m in quickstart.models.list()} == {"demo", "demo-embed"}
