"""Declared limits (`limits` in tests/configs/e2e.yaml), against both hosts, with the fake
upstream enforcing the same limits on the same keys: a gateway that overran a quota would get
the provider's 429, and these tests would see it.

Each host runs here as a gateway of its own, restartable, with its counts in a fresh place:
`apexc serve --state FILE`, and the e2e worker's build under bare workerd with its Durable
Object on a local disk (bench/workerd.sh), as Cloudflare runs it. A restart keeps the counts.
"""

from __future__ import annotations

import concurrent.futures
import json
import time
import uuid

import anthropic
import openai
import pytest

from conftest import GATEWAY_KEY, _gateways, secrets
from harness import ROOT, WORK, Proc, free_port, http, wait_port


class Restartable:
    """A gateway that can be stopped and started again over the same saved counts."""

    def __init__(self, kind: str, start):
        self.kind = kind
        self._start = start
        self.proc: Proc | None = None
        self.url = ""
        self.starts = 0

    def start(self) -> None:
        self.starts += 1
        self.proc, self.url = self._start(self.starts)

    def restart(self) -> None:
        self.stop()
        self.start()

    def stop(self) -> None:
        if self.proc:
            self.proc.stop()
            self.proc = None


def _serve(bins, env, config, state):
    def start(n):
        p = Proc(f"quota-serve-{n}", [bins["apexc"], "serve", str(config), "--listen", "127.0.0.1:0", "--state", str(state)], env=env)
        return p, p.wait_for(r"listening on (http://\S+)", timeout=60).group(1)

    return start


def _worker(env, built, dev_vars, state_dir):
    def start(n):
        port = free_port()
        p = Proc(
            f"quota-workerd-{n}",
            ["bash", str(ROOT / "bench" / "workerd.sh"), str(built), str(port), str(dev_vars)],
            env={**env, "WORKERD_DO_DIR": str(state_dir)},
        )
        wait_port(port)
        return p, f"http://127.0.0.1:{port}"

    return start


@pytest.fixture(params=_gateways())
def quota_gateway(request, bins, env, e2e_config):
    """A gateway of its own over fresh counts (each test's counts start at zero)."""
    run = WORK / "quotas" / f"{request.param}-{uuid.uuid4().hex[:8]}"
    run.mkdir(parents=True)
    if request.param == "serve":
        gw = Restartable("serve", _serve(bins, env, e2e_config, run / "state.json"))
    else:
        request.getfixturevalue("worker_gateway")  # the session's build of the e2e worker
        gw = Restartable("worker", _worker(env, WORK / "worker", e2e_config.parent / ".dev.vars", run))
    gw.start()
    try:
        yield gw
    finally:
        gw.stop()


def chat_at(url: str, model: str, marker: str):
    """One chat request to the gateway at `url`: status, headers (lower-cased), raw body."""
    body = {"model": model, "messages": [{"role": "user", "content": f"hi {marker}"}]}
    headers = {"authorization": f"Bearer {GATEWAY_KEY}", "content-type": "application/json"}
    status, head, raw = http("POST", f"{url}/v1/chat/completions", json.dumps(body).encode(), headers, timeout=60)
    return status, {k.lower(): v for k, v in head.items()}, raw


def chat(gw, model: str, marker: str):
    return chat_at(gw.url, model, marker)


def keys_used(upstream, marker: str) -> list[str]:
    return [r["headers"].get("authorization", "") for r in upstream.requests_with(marker)]


def test_two_keys_rpd_3_and_2_give_five_then_429_kept_across_a_restart(quota_gateway, upstream):
    s = secrets()
    key_1, key_2 = s["Q_DAY_KEY_1"], s["Q_DAY_KEY_2"]
    upstream.clear_rules()
    # The provider enforces the same limits: a sixth request on either key would be its 429.
    upstream.control(key=key_1, after=3, fault="status=429;retry_after=3600")
    upstream.control(key=key_2, after=2, fault="status=429;retry_after=3600")
    marker = f"q-day-{uuid.uuid4().hex[:8]}"
    try:
        statuses = [chat(quota_gateway, "q-day", marker)[0] for _ in range(5)]
        assert statuses == [200] * 5
        used = keys_used(upstream, marker)
        assert sorted(used) == sorted([f"Bearer {key_1}"] * 3 + [f"Bearer {key_2}"] * 2)

        status, head, raw = chat(quota_gateway, "q-day", marker)
        assert status == 429, raw
        err = json.loads(raw)["error"]
        assert err["code"] == "quota_exhausted", err
        # The next reset is the next UTC midnight: within a day, never 0.
        assert 0 < int(head["retry-after"]) <= 86_400
        assert len(upstream.requests_with(marker)) == 5, "the sixth must not reach the upstream"

        quota_gateway.restart()
        status, head, raw = chat(quota_gateway, "q-day", marker)
        assert status == 429, f"after a restart the day's counts are kept: {raw!r}"
        assert len(upstream.requests_with(marker)) == 5
    finally:
        upstream.clear_rules()


def test_32_concurrent_requests_against_rpm_10_send_exactly_10(quota_gateway, upstream):
    upstream.clear_rules()
    upstream.control(key=secrets()["Q_BURST_KEY"], after=10, fault="status=429;retry_after=60")
    marker = f"q-burst-{uuid.uuid4().hex[:8]}"
    try:
        with concurrent.futures.ThreadPoolExecutor(32) as pool:
            statuses = list(pool.map(lambda _: chat(quota_gateway, "q-burst", marker)[0], range(32)))
        assert sorted(statuses) == [200] * 10 + [429] * 22
        assert len(upstream.requests_with(marker)) == 10
    finally:
        upstream.clear_rules()


def test_a_minute_window_lets_requests_through_again_once_it_has_rolled(quota_gateway, upstream):
    marker = f"q-minute-{uuid.uuid4().hex[:8]}"
    assert chat(quota_gateway, "q-minute", marker)[0] == 200
    status, head, _ = chat(quota_gateway, "q-minute", marker)
    assert status == 429
    wait_s = int(head["retry-after"])
    assert 0 < wait_s <= 60
    # Retry-After is the honest moment: at it (plus a second for clock granularity) the
    # rolling minute has room again.
    time.sleep(wait_s + 1)
    status, _, raw = chat(quota_gateway, "q-minute", marker)
    assert status == 200, raw
    assert len(upstream.requests_with(marker)) == 2


def test_an_upstream_that_says_its_requests_are_spent_is_not_called_before_its_reset(quota_gateway, upstream):
    upstream.clear_rules()
    spent = "header=x-ratelimit-remaining-requests:0;header=x-ratelimit-reset-requests:40s"
    upstream.control(key=secrets()["Q_LEARN_KEY"], fault=spent, times=1)
    marker = f"q-learn-{uuid.uuid4().hex[:8]}"
    try:
        assert chat(quota_gateway, "q-learn", marker)[0] == 200
        status, head, raw = chat(quota_gateway, "q-learn", marker)
        assert status == 429, raw
        assert 30 <= int(head["retry-after"]) <= 40
        assert len(upstream.requests_with(marker)) == 1, "the spent key was called again"
    finally:
        upstream.clear_rules()


def test_a_token_limit_follows_the_usage_the_upstream_reports_and_the_client_sees_no_usage_it_did_not_ask_for(quota_gateway, upstream):
    # tpm 700; each answer reports ~300 tokens while the request is estimated at ~30: counted
    # by the estimate ~23 would pass, counted by what the answers said the 4th does not fit.
    marker = f"q-tokens-{uuid.uuid4().hex[:8]}"
    client = openai.OpenAI(base_url=f"{quota_gateway.url}/v1", api_key=GATEWAY_KEY, max_retries=0, timeout=60)
    outcomes = []
    for _ in range(4):
        try:
            stream = client.chat.completions.create(
                model="q-tokens", stream=True, messages=[{"role": "user", "content": f"hi {marker}"}]
            )
            chunks = list(stream)
            assert all(c.usage is None for c in chunks), "a usage chunk the client did not ask for"
            assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices).startswith("echo")
            outcomes.append(200)
        except openai.RateLimitError as e:
            assert e.body["code"] == "quota_exhausted", e.body
            outcomes.append(429)
    assert outcomes == [200, 200, 200, 429]
    sent = upstream.requests_with(marker)
    assert len(sent) == 3
    # The gateway asked for the usage it needed.
    assert all(r["body"]["stream_options"] == {"include_usage": True} for r in sent)


def test_apexc_dev_runs_the_durable_object_locally(worker_gateway):
    """The session's `apexc dev` (wrangler dev) gateway: its counts are in the local Durable
    Object, not the per-isolate fallback (which would also answer 429, so the log decides)."""
    from_line = len(worker_gateway.output)
    marker = f"q-dev-{uuid.uuid4().hex[:8]}"
    assert chat(worker_gateway, "q-minute", marker)[0] == 200
    status, _, raw = chat(worker_gateway, "q-minute", marker)
    assert status == 429 and json.loads(raw)["error"]["code"] == "quota_exhausted", raw
    deadline = time.monotonic() + 10
    while True:
        log = worker_gateway.output[from_line:]
        if sum('"msg":"apex request"' in line for line in log) >= 2 or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert sum('"msg":"apex request"' in line for line in log) >= 2, "\n".join(log)
    assert not any("quota_fallback" in line for line in log), "\n".join(log)


def test_two_clients_get_their_own_models_and_budgets_in_their_protocols(quota_gateway, upstream):
    s = secrets()
    base = f"{quota_gateway.url}/v1"
    laptop = openai.OpenAI(base_url=base, api_key=s["CLIENT_LAPTOP_KEY"], max_retries=0, timeout=60)
    ci = openai.OpenAI(base_url=base, api_key=s["CLIENT_CI_KEY"], max_retries=0, timeout=60)
    marker = f"q-clients-{uuid.uuid4().hex[:8]}"
    say = [{"role": "user", "content": f"hi {marker}"}]

    # The laptop may use chat and claude-*, streamed or not; not embed, in either protocol.
    assert laptop.chat.completions.create(model="chat", messages=say).choices[0].message.content.startswith("echo")
    streamed = laptop.chat.completions.create(model="chat", messages=say, stream=True)
    assert "".join(c.choices[0].delta.content or "" for c in streamed if c.choices).startswith("echo")
    with pytest.raises(openai.PermissionDeniedError) as e:
        laptop.embeddings.create(model="embed", input=f"x {marker}")
    assert e.value.body["code"] == "model_not_allowed"
    claude = anthropic.Anthropic(base_url=quota_gateway.url, api_key=s["CLIENT_LAPTOP_KEY"], max_retries=0, timeout=60)
    assert claude.messages.create(model="claude-haiku-4-5", max_tokens=32, messages=say).content[0].text.startswith("echo")
    with pytest.raises(anthropic.PermissionDeniedError) as e:
        claude.messages.create(model="q-day", max_tokens=32, messages=say)
    assert e.value.body["error"]["type"] == "permission_error"

    # CI has 3 requests a day: the 4th is the gateway's 429, streamed or not.
    assert ci.chat.completions.create(model="chat", messages=say).choices
    assert list(ci.chat.completions.create(model="chat", messages=say, stream=True))
    assert ci.chat.completions.create(model="chat", messages=say).choices
    for stream in (False, True):
        with pytest.raises(openai.RateLimitError) as e:
            r = ci.chat.completions.create(model="chat", messages=say, stream=stream)
            list(r) if stream else None
        assert e.value.body["code"] == "quota_exhausted"
        assert 0 < int(e.value.response.headers["retry-after"]) <= 86_400
    # The others go on; nothing the refusals made reached the upstream.
    assert laptop.chat.completions.create(model="chat", messages=say).choices
    assert len(upstream.requests_with(marker)) == 7
