"""Editor support, proven in the real language server: yaml-language-server (what VS Code's YAML
extension and most editors run), over stdio, reading schemas/apex.schema.json through the
`# yaml-language-server: $schema=...` modeline the examples and `apexc init` write.

scripts/setup.sh installs the server into target/tools/yaml-language-server. Its log (every
message both ways) is target/e2e/logs/yaml-language-server.log.
"""

from __future__ import annotations

import subprocess

import pytest

from harness import LOGS, ROOT, WORK
from lsp_client import LspClient

SERVER = ROOT / "target" / "tools" / "yaml-language-server" / "node_modules" / ".bin" / "yaml-language-server"
SCHEMA = ROOT / "schemas" / "apex.schema.json"
EXAMPLES = sorted((ROOT / "examples").glob("*.yaml"))

# What an editor sends: validation, hover and completion on; no schema store (it is fetched from
# the internet, and the modeline is what we are testing).
SETTINGS = {
    "yaml": {
        "validate": True,
        "hover": True,
        "completion": True,
        "format": {"enable": False},
        "schemaStore": {"enable": False},
    }
}

RELATIVE = "# yaml-language-server: $schema=../schemas/apex.schema.json\n"


@pytest.fixture(scope="module")
def ls():
    if not SERVER.exists():
        pytest.fail(f"{SERVER} is missing: run `bash scripts/setup.sh` (it installs yaml-language-server)")
    LOGS.mkdir(parents=True, exist_ok=True)
    client = LspClient([str(SERVER), "--stdio"], SETTINGS, LOGS / "yaml-language-server.log", cwd=ROOT)
    client.initialize(ROOT)
    yield client
    client.close()


_n = 0


def doc_uri(name: str = "probe") -> str:
    """A document URI in examples/ (so the examples' relative modeline resolves), never written
    to disk: the editor sends the text."""
    global _n
    _n += 1
    return (ROOT / "examples" / f"_lsp-{name}-{_n}.yaml").as_uri()


def labels(items: list[dict]) -> set[str]:
    return {i["label"] for i in items}


def docs(items: list[dict], label: str) -> str:
    for i in items:
        if i["label"] == label:
            d = i.get("documentation") or ""
            return d.get("value", "") if isinstance(d, dict) else d
    return ""


def line_of(text: str, needle: str) -> tuple[int, int]:
    """(line, column) of the first occurrence of `needle`."""
    for n, line in enumerate(text.splitlines()):
        if needle in line:
            return n, line.index(needle)
    raise AssertionError(f"{needle!r} not in the document")


def test_examples_are_valid_in_the_editor(ls):
    """Each example, with its own modeline, gets no diagnostics. To make "no diagnostics" mean
    something, the same document first gets a typo and must be flagged."""
    assert EXAMPLES
    for example in EXAMPLES:
        text = example.read_text()
        assert text.startswith(RELATIVE), f"{example.name} must start with the modeline"
        uri = example.as_uri()
        broken = text.replace("\nproviders:", "\nprovidrs:", 1)
        ls.open(uri, broken)
        flagged = ls.wait_diagnostics(uri, predicate=lambda d: len(d) > 0)
        assert any("providers" in d["message"] or "providrs" in d["message"] for d in flagged), flagged
        ls.notify(
            "textDocument/didChange",
            {"textDocument": {"uri": uri, "version": 2}, "contentChanges": [{"text": text}]},
        )
        clean = ls.wait_diagnostics(uri, predicate=lambda d: d != flagged)
        assert clean == [], f"{example.name}: {clean}"
        ls.notify("textDocument/didClose", {"textDocument": {"uri": uri}})


def test_completion_of_top_level_keys(ls):
    text = RELATIVE + "name: my-gateway\n\n"
    uri = doc_uri("top")
    ls.open(uri, text)
    items = ls.completion(uri, 2, 0)
    assert {"providers", "models", "auth", "responses_store", "max_attempts", "cooldown"} <= labels(items), labels(items)
    assert "name" not in labels(items), "a key already present is not offered again"
    assert "Public model names" in docs(items, "models")


def test_completion_of_provider_fields_and_snippets(ls):
    text = RELATIVE + "name: g\nproviders:\n  deepseek:\n    kind: openai\n    \n  fresh:\n    \nmodels: {}\n"
    uri = doc_uri("provider")
    ls.open(uri, text)
    items = ls.completion(uri, 5, 4)
    assert {"base_url", "api_keys", "api_version", "headers", "timeout_ms", "responses"} <= labels(items), labels(items)
    assert "kind" not in labels(items)
    assert "Base URL of the API" in docs(items, "base_url")
    # A new provider id: whole-provider snippets (defaultSnippets in the schema).
    fresh = ls.completion(uri, 7, 4)
    assert {"openai-compatible provider", "azure-openai provider", "anthropic provider", "mock provider"} <= labels(fresh)
    snippet = next(i for i in fresh if i["label"] == "azure-openai provider")["insertText"]
    assert "kind: azure-openai" in snippet and "/openai/deployments/:model" in snippet and "secret:" in snippet


def test_completion_of_kind_and_strategy_values(ls):
    text = RELATIVE + (
        "name: g\n"
        "providers:\n"
        "  up:\n"
        "    kind: \n"
        "models:\n"
        "  m:\n"
        "    strategy: \n"
        "    routes: [{ provider: up, model: x }]\n"
    )
    uri = doc_uri("values")
    ls.open(uri, text)
    line, col = line_of(text, "kind: ")
    kinds = ls.completion(uri, line, col + len("kind: "))
    assert labels(kinds) >= {"openai", "azure-openai", "anthropic", "mock"}, labels(kinds)
    assert "api-key" in docs(kinds, "azure-openai"), "each value's own description is shown"
    line, col = line_of(text, "strategy: ")
    strategies = ls.completion(uri, line, col + len("strategy: "))
    assert labels(strategies) >= {"random", "round-robin", "weighted", "priority"}, labels(strategies)
    assert "first healthy route" in docs(strategies, "priority")


def test_hover_shows_the_field_description(ls):
    text = RELATIVE + (
        "name: g\n"
        "providers:\n"
        "  up:\n"
        "    kind: openai\n"
        "    base_url: https://api.example.com/v1\n"
        "    api_keys: [{ secret: UP_KEY }]\n"
        "models:\n"
        "  m:\n"
        "    strategy: priority\n"
        "    routes: [{ provider: up, model: x }]\n"
    )
    uri = doc_uri("hover")
    ls.open(uri, text)
    line, col = line_of(text, "base_url")
    hover = ls.hover(uri, line, col + 2)
    # The doc comment of Provider::base_url, unwrapped into one paragraph (markdownDescription).
    assert "Base URL of the API, e.g. `https://api.deepseek.com/v1` (requests go to `{base_url}/chat/completions`)" in hover, hover
    line, col = line_of(text, "strategy")
    assert "How routes are ordered for each request" in ls.hover(uri, line, col + 2)
    line, col = line_of(text, "api_keys")
    assert "secret name" in ls.hover(uri, line, col + 2)


def test_typo_and_wrong_type_are_diagnosed(ls):
    text = RELATIVE + (
        "name: g\n"
        "providers:\n"
        "  up:\n"
        "    kind: openai\n"
        "    bse_url: https://api.example.com/v1\n"
        "    timeout_ms: fast\n"
        "    api_keys: [{ secret: UP_KEY }]\n"
        "models:\n"
        "  m:\n"
        "    strategy: fastest\n"
        "    routes: [{ provider: up, model: x }]\n"
    )
    uri = doc_uri("diagnostics")
    ls.open(uri, text)
    diags = ls.wait_diagnostics(uri, predicate=lambda d: len(d) >= 3)

    def at(needle: str) -> list[str]:
        line, col = line_of(text, needle)
        return [d["message"] for d in diags if d["range"]["start"]["line"] == line and d["range"]["start"]["character"] in range(col, col + len(needle) + 1)]

    typo = at("bse_url")
    assert any("bse_url" in m and "not allowed" in m for m in typo), diags
    wrong_type = at("fast")
    assert any("Incorrect type" in m and "integer" in m for m in wrong_type), diags
    bad_value = at("fastest")
    assert any("random" in m and "priority" in m for m in bad_value), diags
    assert all(d["severity"] == 1 for d in diags), "schema violations are errors"


def test_apexc_init_modeline_resolves_in_the_users_own_repository(ls, bins, env, tmp_path):
    """A user's repository, nowhere near apexc: `apexc init` writes apex.schema.json beside
    proxy.yaml, and the editor validates and completes through the modeline it wrote."""
    repo = tmp_path / "my-gateway-repo"
    repo.mkdir()
    r = subprocess.run([bins["apexc"], "init"], cwd=repo, env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    text = (repo / "proxy.yaml").read_text()
    assert text.startswith("# yaml-language-server: $schema=apex.schema.json\n"), text.splitlines()[0]
    assert (repo / "apex.schema.json").read_text() == SCHEMA.read_text()
    uri = (repo / "proxy.yaml").as_uri()
    edited = text.replace("kind: mock", "kind: mokc", 1) + "\n"
    ls.open(uri, edited)
    diags = ls.wait_diagnostics(uri, predicate=lambda d: len(d) > 0)
    assert any("mock" in d["message"] and "openai" in d["message"] for d in diags), diags
    items = ls.completion(uri, len(edited.splitlines()), 0)
    assert "max_attempts" in labels(items), labels(items)


@pytest.mark.parametrize("form", ["file-uri", "absolute-path"])
def test_modeline_by_file_uri_or_absolute_path(ls, form):
    """A modeline may also name the schema by absolute path or file:// URI (`apexc init
    --schema`)."""
    target = SCHEMA.as_uri() if form == "file-uri" else str(SCHEMA)
    text = f"# yaml-language-server: $schema={target}\nname: g\nprovidrs: {{}}\nmodels: {{}}\n"
    WORK.mkdir(parents=True, exist_ok=True)
    uri = (WORK / f"lsp-{form}.yaml").as_uri()  # elsewhere than the repository's examples/
    ls.open(uri, text)
    diags = ls.wait_diagnostics(uri, predicate=lambda d: len(d) > 0)
    assert any("providers" in d["message"] or "providrs" in d["message"] for d in diags), diags
    items = ls.completion(uri, 4, 0)
    assert "auth" in labels(items)
