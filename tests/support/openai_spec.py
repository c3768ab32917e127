"""Raw bodies checked against OpenAI's published OpenAPI document (third_party/openai-openapi/openapi.json).

`assert_route(method, path, body)` finds the route in the document (our paths carry the /v1 prefix its
server URL has), takes the schema it names for the 200 answer (`text/event-stream` for a streamed event)
and validates the body with jsonschema (draft 2020-12, the dialect of OpenAPI 3.1), `$ref`s resolved in the
document. A required-but-nullable field left out fails, as it would for a strict client.
"""

from __future__ import annotations

import functools
import json
import re
from pathlib import Path
from typing import Any

import jsonschema
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

SPEC_PATH = Path(__file__).resolve().parents[2] / "third_party" / "openai-openapi" / "openapi.json"
_BASE = "urn:openai-openapi"
_PREFIX = "/v1"


@functools.cache
def spec() -> dict[str, Any]:
    return _nullable_as_json_schema(json.loads(SPEC_PATH.read_text()))


def _nullable_as_json_schema(node: Any) -> Any:
    """Parts of the document still say `nullable: true` (OpenAPI 3.0's spelling) where the rest uses 3.1's
    `anyOf: [..., {type: null}]`; both mean null is allowed, so the former becomes the latter."""
    if isinstance(node, list):
        return [_nullable_as_json_schema(x) for x in node]
    if not isinstance(node, dict):
        return node
    node = {k: _nullable_as_json_schema(v) for k, v in node.items()}
    if node.pop("nullable", False) is True:
        return {"anyOf": [node, {"type": "null"}]}
    return node


@functools.cache
def _registry() -> Registry:
    return Registry().with_resource(_BASE, Resource.from_contents(spec(), default_specification=DRAFT202012))


@functools.cache
def _routes() -> list[tuple[re.Pattern[str], str]]:
    routes = []
    for template in spec()["paths"]:
        if "?" in template:
            continue  # the document's ?beta=true variants
        pattern = re.sub(r"\{[^}]+\}", r"[^/]+", re.escape(template).replace(r"\{", "{").replace(r"\}", "}"))
        routes.append((re.compile(f"^{pattern}$"), template))
    return routes


def route_schema(method: str, path: str, content_type: str = "application/json", status: str = "200") -> dict:
    """The schema OpenAI's document names for this route's answer."""
    bare = path.split("?", 1)[0].removeprefix(_PREFIX)
    matches = [template for pattern, template in _routes() if pattern.match(bare)]
    if not matches:
        raise AssertionError(f"{method} {path}: not a route of OpenAI's document")
    template = min(matches, key=lambda t: t.count("{"))  # a literal segment wins over a parameter
    operation = spec()["paths"][template].get(method.lower())
    if operation is None:
        raise AssertionError(f"{method} {template}: OpenAI's document has no such operation")
    content = operation["responses"][status]["content"]
    if content_type not in content:
        raise AssertionError(f"{method} {template}: the document has no {content_type} answer ({list(content)})")
    return content[content_type]["schema"]


def component(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def errors_against(schema: dict, body: Any) -> list[str]:
    resolved = {**schema}
    if "$ref" in resolved:
        resolved["$ref"] = _BASE + resolved["$ref"]
    validator = jsonschema.Draft202012Validator(resolved, registry=_registry())
    return [f"{'/'.join(map(str, e.absolute_path)) or '<body>'}: {e.message}" for e in validator.iter_errors(body)]


def assert_matches(schema: dict, body: Any, what: str) -> None:
    problems = errors_against(schema, body)
    assert not problems, (
        f"{what} does not match OpenAI's document:\n  "
        + "\n  ".join(problems[:20])
        + (f"\nbody: {json.dumps(body)[:2000]}")
    )


def assert_route(method: str, path: str, body: Any, content_type: str = "application/json") -> None:
    """The body is what OpenAI's document says this route answers."""
    assert_matches(route_schema(method, path, content_type), body, f"{method} {path}")


def assert_error(body: Any) -> None:
    """An error body in OpenAI's shape (ErrorResponse: message, type, param and code, nulls included)."""
    assert_matches(component("ErrorResponse"), body, "error body")
    assert set(body["error"]) >= {"message", "type", "param", "code"}, body


def sse_events(raw: bytes) -> list[Any]:
    """The JSON payloads of a server-sent-event stream, up to `[DONE]` (which must end it)."""
    events = []
    for block in raw.decode().split("\n\n"):
        if not block.strip():
            continue
        assert block.startswith("data: "), block
        data = block[len("data: ") :]
        if data == "[DONE]":
            return events
        events.append(json.loads(data))
    raise AssertionError("the stream did not end with data: [DONE]")
