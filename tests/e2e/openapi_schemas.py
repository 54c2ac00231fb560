"""Validation against the official OpenAPI description (tests/fixtures/openai-openapi/openai-openapi.yaml,
or $OPENAI_OPENAPI): every object and stream event a test sees can be checked against the
component schema the API documents for it (`Response`, `ResponseStreamEvent`, ...).

The spec is OpenAPI 3.1, whose schemas are JSON Schema 2020-12: the whole `components`
section is registered as one resource and a schema is referenced by its JSON pointer."""

from __future__ import annotations

import functools
import os
from pathlib import Path

import jsonschema
import referencing
import yaml

ROOT = Path(__file__).resolve().parents[2]
SPEC = Path(os.environ.get("OPENAI_OPENAPI", ROOT / "tests" / "fixtures" / "openai-openapi" / "openai-openapi.yaml"))
URI = "urn:openai-openapi"


@functools.lru_cache(maxsize=1)
def _registry() -> referencing.Registry:
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    with open(SPEC, encoding="utf-8") as f:
        spec = yaml.load(f, Loader=loader)
    doc = {"$schema": "https://json-schema.org/draft/2020-12/schema", "components": spec["components"]}
    resource = referencing.Resource.from_contents(doc, default_specification=referencing.jsonschema.DRAFT202012)
    return referencing.Registry().with_resource(URI, resource)


@functools.lru_cache(maxsize=None)
def _validator(name: str) -> jsonschema.Draft202012Validator:
    schema = {"$ref": f"{URI}#/components/schemas/{name}"}
    return jsonschema.Draft202012Validator(schema, registry=_registry())


def errors(name: str, value) -> list[str]:
    """Every way `value` fails schema `name` (empty: it validates)."""
    out = []
    for e in _validator(name).iter_errors(value):
        where = "/".join(str(p) for p in e.absolute_path) or "(root)"
        out.append(f"{where}: {e.message[:300]}")
        for sub in (e.context or [])[:6]:
            sp = "/".join(str(p) for p in sub.absolute_path) or "(root)"
            out.append(f"    {sp}: {sub.message[:200]}")
    return out


def check(name: str, value) -> None:
    errs = errors(name, value)
    assert not errs, f"not a valid {name}:\n" + "\n".join(errs[:40])


@functools.lru_cache(maxsize=1)
def _event_schemas() -> dict[str, str]:
    """Stream event type → the component schema of that event (from `ResponseStreamEvent`)."""
    schemas = _registry().contents(URI)["components"]["schemas"]
    out = {}
    for branch in schemas["ResponseStreamEvent"]["anyOf"]:
        name = branch.get("$ref", "").rsplit("/", 1)[-1]
        for t in schemas.get(name, {}).get("properties", {}).get("type", {}).get("enum", []):
            out[t] = name
    return out


def check_event(event: dict) -> None:
    """A stream event against the schema of its own type (precise errors), then against
    `ResponseStreamEvent` as a whole."""
    name = _event_schemas().get(event.get("type"))
    assert name, f"{event.get('type')!r} is not a documented Responses stream event"
    check(name, event)
    check("ResponseStreamEvent", event)
