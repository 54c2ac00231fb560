"""Routing under injected faults, against both gateways (apexc serve, the generated worker).

What a user running the gateway to get past rate limits and flaky providers would notice:

- under load, with one route rate limited (429 + Retry-After) and one broken (500), every
  request succeeds, and the failing routes get no traffic while they rest;
- a route that hangs costs a request at most its timeout, before the healthy route answers;
- when every route fails, each request gets a clear OpenAI-shaped error quickly (with
  Retry-After when the routes rest);
- a key that answered 429 is skipped for its Retry-After, then used again;
- upstream errors that quote the provider's key and URL reach neither the client nor the log.

The fault for each route is in its upstream model name in tests/configs/e2e.yaml (`rf-*`
models, `rf_*` providers with keys of their own, so the rests these tests cause touch nobody
else's routes). Each test tags its prompts with a marker and reads the fake upstream's request
records (who got what, when) to check the routing. Cooldown state is per gateway process /
isolate; wrangler dev runs one isolate, so both gateways are expected to behave alike.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass

import httpx2 as httpx
import pytest

from conftest import GATEWAY_KEY, secrets
from harness import LOGS

CHAT = "/v1/chat/completions"
# Router constants this file relies on (runtime/src/router/{forward,cooldown}.rs).
MAX_WAIT_S = 1.0  # forward::MAX_WAIT_MS: a rest this short is waited out, longer is answered
FIRST_BACKOFF_MS = 1000  # cooldown::FIRST_BACKOFF_MS: the shortest rest of a failing route
# Upstream receive times come from the fake upstream's clock, rests from the gateway's: same
# machine, but the worker's clock only advances on I/O.
CLOCK_SLACK_MS = 50
# A route's requests that the gateway sent before it learned of the route's failure arrive
# together; anything this long after a burst's first request starts a new burst.
BURST_WINDOW_MS = 300


@dataclass
class Answer:
    status: int  # 0: the request failed at the transport level (see `error`)
    headers: dict[str, str]
    body: bytes
    elapsed: float  # seconds
    error: str = ""

    def json(self) -> dict:
        return json.loads(self.body)

    def header(self, name: str) -> str | None:
        return self.headers.get(name)


def chat(model: str, prompt: str, stream: bool = False) -> dict:
    body = {"model": model, "messages": [{"role": "user", "content": prompt}]}
    if stream:
        body["stream"] = True
    return body


async def _send_all(url: str, bodies: list[dict], concurrency: int, timeout: float) -> list[Answer]:
    out: list[Answer | None] = [None] * len(bodies)
    next_i = 0
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    headers = {"authorization": f"Bearer {GATEWAY_KEY}"}
    async with httpx.AsyncClient(base_url=url, headers=headers, limits=limits, timeout=timeout) as client:

        async def worker() -> None:
            nonlocal next_i
            while next_i < len(bodies):
                i = next_i
                next_i += 1
                started = time.monotonic()
                try:
                    async with client.stream("POST", CHAT, json=bodies[i]) as r:
                        body = await r.aread()
                        out[i] = Answer(r.status_code, {k.lower(): v for k, v in r.headers.items()}, body,
                                        time.monotonic() - started)
                except httpx.HTTPError as e:
                    out[i] = Answer(0, {}, b"", time.monotonic() - started, f"{type(e).__name__}: {e}")

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return [a for a in out if a is not None]


def send_all(gateway, bodies: list[dict], concurrency: int = 1, timeout: float = 30) -> list[Answer]:
    """Sends every body to the gateway's chat endpoint, `concurrency` at a time; answers in
    the order of `bodies`, each with its own latency."""
    return asyncio.run(_send_all(gateway.url, bodies, concurrency, timeout))


def send(gateway, body: dict, timeout: float = 30) -> Answer:
    [a] = send_all(gateway, [body], 1, timeout)
    return a


def key_id(key: str) -> str:
    """The fake upstream's `x-fake-key-id` for a key (64-bit FNV-1a, hex): the gateway drops
    credential-named headers such as `x-fake-key`."""
    h = 0xCBF29CE484222325
    for b in key.encode():
        h = ((h ^ b) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return f"{h:016x}"


def key_of(record: dict) -> str:
    return record["headers"].get("authorization", "").removeprefix("Bearer ")


def bursts(times_ms: list[float]) -> list[list[float]]:
    """Receive times grouped into bursts: requests within BURST_WINDOW_MS of a burst's first."""
    out: list[list[float]] = []
    for t in sorted(times_ms):
        if out and t - out[-1][0] < BURST_WINDOW_MS:
            out[-1].append(t)
        else:
            out.append([t])
    return out


def note(gateway, text: str) -> None:
    """Figures worth a look in CI logs (not asserted): target/e2e/logs/routing-faults.txt."""
    LOGS.mkdir(parents=True, exist_ok=True)
    with open(LOGS / "routing-faults.txt", "a") as f:
        f.write(f"{gateway.kind}: {text}\n")


def assert_openai_error(a: Answer) -> dict:
    """The answer is an OpenAI-shaped error: JSON `{"error": {"message": "...", "type": "..."}}`."""
    assert "json" in (a.header("content-type") or ""), f"error is not JSON: {a.headers}"
    err = a.json().get("error")
    assert isinstance(err, dict), a.body
    assert isinstance(err.get("message"), str) and err["message"], a.body
    assert isinstance(err.get("type"), str) and err["type"], a.body
    return err


# --- load with a rate-limited and a broken route ----------------------------------------------


def test_load_with_rate_limited_and_broken_routes(gateway, upstream, marker):
    """rf-mixed round-robins over three routes: rf_429 answers 429 with Retry-After: 1, rf_500
    answers 500, rf_ok works (in 100 ms, so the run lasts > 3 s). 1,000 requests at
    concurrency 32 must all succeed (from rf_ok), and each failing route, once it failed, must
    get no request for its rest: 1 s for the rate-limited key (its Retry-After), at least 1 s
    for the broken route (its backoff, once it failed twice; it doubles with every further
    failure). Both are tried again after their rest."""
    secret = secrets()
    key_429, key_500, key_ok = secret["RF_429_KEY"], secret["RF_500_KEY"], secret["RF_OK_KEY"]
    n, concurrency = 1000, 32

    started = time.monotonic()
    answers = send_all(gateway, [chat("rf-mixed", f"{marker} {i}") for i in range(n)], concurrency)
    took = time.monotonic() - started

    failed = [a for a in answers if a.status != 200]
    assert not failed, f"{len(failed)} of {n} failed, e.g. {failed[0].status} {failed[0].error} {failed[0].body[:300]!r}"
    assert {a.header("x-apex-provider") for a in answers} == {"rf_ok"}
    assert all(1 <= int(a.header("x-apex-attempts")) <= 3 for a in answers)

    records = upstream.requests_with(marker)
    per_key: dict[str, list[float]] = {}
    for r in records:
        per_key.setdefault(key_of(r), []).append(r["received_ms"])
    assert len(per_key.get(key_ok, [])) == n, "every request was answered by rf_ok exactly once"
    assert set(per_key) <= {key_429, key_500, key_ok}

    figures = [f"{n} requests at concurrency {concurrency} in {took:.2f}s ({n / took:.0f}/s)"]
    for route, key, rest_ms in (("rf_429", key_429, 1000), ("rf_500", key_500, FIRST_BACKOFF_MS)):
        groups = bursts(per_key.get(key, []))
        assert groups, f"{route} was never tried: the test proves nothing"
        seen = 0
        for prev, nxt in zip(groups, groups[1:]):
            seen += len(prev)
            # A broken route only rests from its second failure in a row.
            if route == "rf_500" and seen < 2:
                continue
            quiet = nxt[0] - prev[-1]
            assert quiet >= rest_ms - CLOCK_SLACK_MS, (
                f"{route} got a request {quiet:.0f} ms after its last failure, inside its {rest_ms} ms rest "
                f"(bursts: {[(round(g[0] - groups[0][0]), len(g)) for g in groups]})"
            )
        # While resting it got nothing, so its traffic is a handful of bursts, not a share of n.
        assert sum(map(len, groups)) <= len(groups) * concurrency
        # ... and it is tried again once its rest is over (a burst of concurrent failures is
        # one failure of the route, not 32 in a row that would bench it for the maximum).
        assert len(groups) >= 2, f"{route} was not tried again after its rest ({took:.1f}s run)"
        figures.append(
            f"{route}: {sum(map(len, groups))} requests in {len(groups)} bursts at "
            f"{[round(g[0] - groups[0][0]) for g in groups]} ms"
        )
    note(gateway, "; ".join(figures))


# --- a hanging route ----------------------------------------------------------------------------


def healthy_time(gateway, marker: str) -> float:
    """The slowest of a few answers from rf_ok alone (`model#provider` addressing)."""
    answers = send_all(gateway, [chat("rf-hang#rf_ok", f"{marker} warm {i}") for i in range(5)])
    assert all(a.status == 200 for a in answers), [a.body[:200] for a in answers]
    return max(a.elapsed for a in answers)


@pytest.mark.parametrize("model, stream", [("rf-hang", False), ("rf-stall", True)])
def test_hanging_route_costs_at_most_its_timeout(gateway, upstream, marker, model, stream):
    """rf_hang never sends its headers; rf_stall sends headers and never an event. Both have
    timeout_ms 400 and sit first in a priority list before rf_ok: every request succeeds within
    that timeout plus the healthy route's time, and once the hanging route has timed out twice
    it rests, so later requests do not wait at all."""
    timeout_s = 0.4
    healthy = healthy_time(gateway, marker)
    bound = timeout_s + healthy + 0.35  # scheduling slack on a busy 2-core machine

    answers = send_all(gateway, [chat(model, f"{marker} {i}", stream) for i in range(12)], concurrency=4)

    for a in answers:
        assert a.status == 200, (a.status, a.error, a.body[:300])
        assert a.header("x-apex-provider") == "rf_ok"
        assert a.elapsed < bound, f"took {a.elapsed:.2f}s, over {bound:.2f}s (timeout {timeout_s}s + healthy {healthy:.2f}s)"
        if stream:
            assert b"data: [DONE]" in a.body and b"echo: " in a.body, a.body[:300]
        else:
            assert a.json()["choices"][0]["message"]["content"].startswith(f"echo: {marker}")
    waited = [a for a in answers if a.header("x-apex-attempts") == "2"]
    assert waited, "no request tried the hanging route first"
    for a in waited:
        assert a.elapsed >= timeout_s - 0.05, f"gave up on the hanging route after {a.elapsed:.2f}s, before its timeout"
    assert any(a.header("x-apex-attempts") == "1" for a in answers), "the hanging route never rested"
    hang_key = secrets()["RF_STALL_KEY" if stream else "RF_HANG_KEY"]
    tried = [r for r in upstream.requests_with(marker) if key_of(r) == hang_key]
    assert len(tried) == len(waited)
    note(gateway, f"{model}: healthy {healthy * 1000:.0f} ms, slowest {max(a.elapsed for a in answers) * 1000:.0f} ms, "
                  f"{len(waited)} of {len(answers)} waited for the timeout")


# --- every route failing ------------------------------------------------------------------------


def test_all_routes_failing_answer_clearly_and_fast(gateway, upstream, marker):
    """rf-down: rf_dead_503 answers 503, rf_dead_hang never answers (timeout 300 ms). Every
    request gets a 5xx OpenAI-shaped error within the configured bound: the timeout, plus at
    most the wait for a rest short enough to wait out (1 s). Once the routes rest longer than
    that (their backoff grows with each failed round), at once, with a Retry-After, and
    without calling upstream. Rounds of 8 concurrent requests until that happens."""
    bound = 0.3 + MAX_WAIT_S + 0.7  # the hang's timeout + the longest wait + slack
    answers: list[Answer] = []
    resting: list[Answer] = []
    for rnd in range(6):
        batch = send_all(gateway, [chat("rf-down", f"{marker} r{rnd} {i}") for i in range(8)], concurrency=8)
        answers += batch
        resting = [a for a in batch if a.header("x-apex-attempts") == "0"]
        if resting:
            break

    for a in answers:
        assert a.status in (502, 503, 504), (a.status, a.error, a.body[:300])
        assert_openai_error(a)
        assert a.elapsed < bound, f"a failing request took {a.elapsed:.2f}s (bound {bound:.2f}s)"
        assert a.header("x-apex-attempts") is not None
    assert resting, f"after {len(answers)} requests, none was answered from the cooldown state"
    for a in resting:
        assert a.status == 503
        assert int(a.header("retry-after")) >= 1
        assert a.elapsed < 0.3, f"an answer from cooldown state took {a.elapsed:.2f}s"
    tried = upstream.requests_with(marker)
    assert len(tried) <= 2 * (len(answers) - len(resting)), "resting routes were called"
    note(gateway, f"rf-down: {len(answers)} requests in {rnd + 1} rounds, slowest "
                  f"{max(a.elapsed for a in answers) * 1000:.0f} ms; {len(resting)} answered from cooldown "
                  f"(Retry-After {sorted({a.header('retry-after') for a in resting})})")


def test_all_keys_rate_limited_answer_429_with_retry_after(gateway, upstream, marker):
    """rf-limited: both keys of rf_dead_429 answer 429 with Retry-After: 30. The first request
    tries both and gets the upstream's 429 (with its Retry-After); later ones get the gateway's
    own 429 with the time left, at once, and cost no upstream call."""
    first = send(gateway, chat("rf-limited", f"{marker} first"))
    assert first.status == 429, (first.status, first.body[:300])
    assert_openai_error(first)
    assert first.header("retry-after") == "30"
    assert first.header("x-apex-attempts") == "2"
    secret = secrets()
    assert sorted(key_of(r) for r in upstream.requests_with(f"{marker} first")) == sorted(
        [secret["RF_DEAD_429_KEY_1"], secret["RF_DEAD_429_KEY_2"]]
    )

    later = send_all(gateway, [chat("rf-limited", f"{marker} later {i}") for i in range(16)], concurrency=8)
    for a in later:
        assert a.status == 429, (a.status, a.body[:300])
        err = assert_openai_error(a)
        assert err["type"] == "rate_limit_error"
        assert 1 <= int(a.header("retry-after")) <= 30
        assert a.header("x-apex-attempts") == "0"
        assert a.elapsed < 0.5
    assert upstream.requests_with(f"{marker} later") == []


# --- key rotation -------------------------------------------------------------------------------


def test_rate_limited_key_is_skipped_until_its_retry_after(gateway, upstream, marker):
    """rf_keys has two keys, used in turn. Key 1 answers one 429 with Retry-After: 2. The request
    that got it is answered with key 2; after that only key 2 is used until 2 s have passed,
    then key 1 serves again."""
    secret = secrets()
    k1, k2 = secret["RF_KEYS_KEY_1"], secret["RF_KEYS_KEY_2"]
    upstream.control(key=k1, fault="status=429;retry_after=2", times=1)

    # Key 1's turn comes within two requests.
    hit = None
    for i in range(2):
        a = send(gateway, chat("rf-keys", f"{marker} a{i}"))
        assert a.status == 200, (a.status, a.body[:300])
        if a.header("x-apex-attempts") == "2":
            hit = a
            break
    assert hit is not None, "key 1 was not tried (or did not get its 429)"
    assert hit.header("x-fake-key-id") == key_id(k2), "the 429'd request was not answered with the other key"
    [limited] = [r for r in upstream.requests_with(marker) if key_of(r) == k1]
    limited_at = limited["received_ms"]

    # Poll (one request at a time) until key 1 serves again; meanwhile every answer is key 2's.
    during = 0
    deadline = time.monotonic() + 2 + 3
    back = None
    i = 0
    while time.monotonic() < deadline:
        i += 1
        a = send(gateway, chat("rf-keys", f"{marker} [b{i}]"))
        assert a.status == 200 and a.header("x-apex-attempts") == "1", (a.status, a.headers, a.body[:300])
        if a.header("x-fake-key-id") == key_id(k1):
            back = a
            break
        assert a.header("x-fake-key-id") == key_id(k2)
        during += 1
        time.sleep(0.05)
    assert back is not None, "key 1 did not come back within 3 s after its Retry-After"
    [first_back] = [r for r in upstream.requests_with(f"{marker} [b{i}]") if key_of(r) == k1]
    rested = first_back["received_ms"] - limited_at
    assert rested >= 2000 - CLOCK_SLACK_MS, f"key 1 was used again {rested:.0f} ms after its 429 (Retry-After: 2)"
    assert during >= 5, "too few requests during the rest to show key 1 was skipped"

    # Back in rotation: the next requests alternate again.
    keys = [send(gateway, chat("rf-keys", f"{marker} c{j}")).header("x-fake-key-id") for j in range(4)]
    assert set(keys) == {key_id(k1), key_id(k2)}
    note(gateway, f"rf-keys: key 1 rested {rested:.0f} ms (Retry-After 2 s); {during} requests used key 2 meanwhile")


# --- no key leaks -------------------------------------------------------------------------------


def key_fragments() -> dict[str, str]:
    """Every secret the gateway knows (the .dev.vars values) as fragments that must never show:
    every 8-character piece of a longer key, a shorter key whole."""
    out = {}
    for name, value in secrets().items():
        if len(value) <= 8:
            out[value] = name
        else:
            for i in range(len(value) - 7):
                out[value[i : i + 8]] = name
    return out


def leaks(text: str, fragments: dict[str, str]) -> list[str]:
    return sorted({f"{name} ({frag!r})" for frag, name in fragments.items() if frag in text})


def test_upstream_errors_quoting_keys_leak_nothing(gateway, upstream, marker):
    """The `leak` fault makes the upstream's error quote the key it got: whole, masked, in the
    request URL (`?key=`), as a JSON field, and in headers. Whatever the error path (a 401 sent
    back as is, a 500 then a 429 that end the attempts, a route at rest, plain or streamed), no
    piece of any key reaches a response's headers or body, nor the gateway's log."""
    assert gateway.output is not None
    log_from = len(gateway.output)
    fragments = key_fragments()
    leak_a = secrets()["RF_LEAK_A_KEY"]

    bodies = []
    for i in range(2):
        for stream in (False, True):
            bodies.append(chat("rf-leak", f"{marker} a{i}", stream))
            bodies.append(chat("rf-leak-failover", f"{marker} b{i}", stream))
            # Direct addressing: the model name goes upstream as written.
            bodies.append(chat("echo?status=403;leak#rf_leak_b", f"{marker} c{i}", stream))
    answers = send_all(gateway, bodies, concurrency=1)

    statuses = [(b["model"], a.status) for b, a in zip(bodies, answers)]
    assert {s for _, s in statuses} <= {401, 403, 429, 500, 503}, statuses
    assert {401, 403, 429} <= {s for _, s in statuses}, f"not every error path was taken: {statuses}"
    for body, a in zip(bodies, answers):
        assert_openai_error(a)
        shown = json.dumps(a.headers) + a.body.decode(errors="replace")
        assert not leaks(shown, fragments), f"{body['model']} leaked {leaks(shown, fragments)}: {shown[:600]}"

    # The keys really were in what the upstream answered (else this test proves nothing).
    sent = upstream.requests_with(marker)
    assert leak_a in {key_of(r) for r in sent}
    raw = upstream_raw_error(upstream.url, leak_a)
    assert leak_a in raw and f"key={leak_a}" in raw

    # The gateway's log: one line per request (serve's stderr; the worker's console via
    # wrangler, which may lag), none with a piece of a key.
    deadline = time.monotonic() + 10
    while True:
        log = "\n".join(gateway.output[log_from:])
        if log.count('"msg":"apex request"') >= len(bodies) or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert log.count('"msg":"apex request"') >= len(bodies), f"missing request log lines:\n{log[-2000:]}"
    assert not leaks(log, fragments), f"the gateway's log holds {leaks(log, fragments)}"


def upstream_raw_error(url: str, key: str) -> str:
    """What the fake upstream answers a `leak` request directly: headers and body."""
    r = httpx.post(
        f"{url}/v1/chat/completions",
        json=chat("echo?status=401;leak", "direct"),
        headers={"authorization": f"Bearer {key}"},
    )
    return json.dumps(dict(r.headers)) + r.text
