"""Fuzzing through the real Envoy (issue 16): schemathesis sends valid and invalid requests (positive and
negative data) to every route of our OpenAPI document, as Envoy serves it at GET /openapi.json, and to every
route of OpenAI's document that we serve too. No answer may be a 5xx; every error is OpenAI's error object
(`{"error": {"message", "type", "param", "code"}}`) with a JSON content type.

The fuzzer has a stack of its own (the instant engine, so generations take no time) and is that stack's
organization owner, so it reaches every route. Only what would take its own credential away is left out
(logging out, changing or deleting users: the owner is one of them). The run is bounded (a few examples per
operation) and deterministic (derandomized, no example database)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
import schemathesis.engine
from schemathesis import GenerationMode
from schemathesis.engine import events

from devstack.envoy_config import ENVOY_DIR
from devstack.stack import Stack
from tests.auth.conftest import Owner, Rest
from tests.support.openai_spec import SPEC_PATH, assert_error
from tests.support.private_stack import instant_stack

MODEL = "instant"
EXAMPLES = 6  # per operation and generation mode; the whole module stays under ~3 minutes
PHASES = ["examples", "coverage", "fuzzing"]
MODES = (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
METHODS = ("get", "post", "delete", "put", "patch")
STATUSES: dict[int, int] = {}  # answers by class (2 for 2xx...), for the record
# Routes that would take the fuzzer's own credential away (the owner's session and its user).
LEFT_OUT = {("POST", "/v1/auth/logout"), ("POST", "/v1/organization/users/{}"), ("DELETE", "/v1/organization/users/{}")}
# The MCP endpoint speaks JSON-RPC (its errors are JSON-RPC's, as the protocol says): only "no 5xx" there.
JSON_RPC_PATHS = {"/v1/mcp"}


@pytest.fixture(scope="module")
def fuzz_stack(tmp_path_factory, database_factory, stack_env: dict[str, str]) -> Iterator[Stack]:
    with instant_stack(
        tmp_path_factory.mktemp("fuzz-stack"), database_factory("jan_fuzz"), stack_env, model=MODEL
    ) as stack:
        yield stack


@pytest.fixture(scope="module")
def fuzz_owner(fuzz_stack: Stack) -> Owner:
    """The fuzzer's own user: the fuzz stack's organization owner."""
    return Owner(Rest(fuzz_stack))


def _template_key(method: str, path: str) -> tuple[str, str]:
    return method.upper(), re.sub(r"\{[^}]*\}", "{}", path)


def _left_out(ctx: Any) -> bool:
    path = ctx.operation.path  # OpenAI's document's paths lack the /v1 of its server URL
    return any(_template_key(ctx.operation.method, p) in LEFT_OUT for p in (path, "/v1" + path))


@schemathesis.check
def openai_error_shape(ctx: schemathesis.CheckContext, response: schemathesis.Response, case: schemathesis.Case):
    """Every error answer is OpenAI's error object, as JSON."""
    if response.status_code < 400 or case.operation.path in JSON_RPC_PATHS:
        return None
    content_type = response.headers.get("content-type", [""])[0]
    assert content_type.startswith("application/json"), f"an error with content-type {content_type!r}"
    assert_error(json.loads(response.content))
    return None


def fuzz(
    schema: schemathesis.BaseSchema, base_url: str, token: str, coverage: tuple[GenerationMode, ...] = MODES
) -> list[str]:
    """Runs schemathesis' engine (as its CLI does) over the schema; returns what failed, one line each.
    `coverage`: the modes of the coverage phase (every boundary and wrong-type case the schema implies)."""
    schema = schema.exclude(_left_out)
    schema.config.update(base_url=base_url, headers={"Authorization": f"Bearer {token}"}, request_timeout=30)
    schema.config.generation.update(
        modes=list(MODES),
        max_examples=EXAMPLES,
        deterministic=True,
        database="none",
    )
    schema.config.phases.update(phases=PHASES)
    schema.config.phases.coverage.generation.update(modes=list(coverage))
    schema.config.checks.update(included_check_names=["not_a_server_error", "openai_error_shape"])
    found: list[str] = []
    for event in schemathesis.engine.from_schema(schema).execute():
        if isinstance(event, events.ScenarioFinished):
            for interaction in event.recorder.interactions.values():
                status = interaction.response.status_code if interaction.response else 0
                STATUSES[status // 100] = STATUSES.get(status // 100, 0) + 1
            for checks in event.recorder.checks.values():
                for check in checks:
                    if check.failure_info is not None:
                        failure = check.failure_info.failure
                        found.append(
                            f"{event.recorder.label}: {check.name}: {failure.title}: {failure.message[:300]}\n"
                            f"    {check.failure_info.code_sample[:600]}"
                        )
        elif isinstance(event, events.NonFatalError | events.FatalError):
            found.append(f"error: {getattr(event, 'label', '')}: {getattr(event, 'info', event)}")
    return sorted(set(found))


def served_routes() -> set[tuple[str, str]]:
    """(method, path template) of every route our document lists, parameters' names left out."""
    document = json.loads((ENVOY_DIR / "openapi.json").read_text())
    return {_template_key(m, p) for p, ops in document["paths"].items() for m in ops}


def openai_document_of_our_routes() -> dict[str, Any]:
    """OpenAI's document with only the operations we serve (its paths lack the /v1 its server URL has)."""
    document = json.loads(SPEC_PATH.read_text())
    ours = served_routes()
    paths = {}
    for path, operations in document["paths"].items():
        kept = {m: op for m, op in operations.items() if m in METHODS and _template_key(m, "/v1" + path) in ours}
        if kept:
            paths[path] = {**{k: v for k, v in operations.items() if k == "parameters"}, **kept}
    return {**document, "paths": paths}


def _report(found: list[str]) -> str:
    return f"{len(found)} failures:\n" + "\n".join(found[:40])


def test_the_document_is_served_without_a_credential(fuzz_stack: Stack) -> None:
    rest = Rest(fuzz_stack)
    served = rest("GET", "/openapi.json")
    assert served.status == 200 and served.headers["content-type"] == "application/json"
    assert served.body == (ENVOY_DIR / "openapi.json").read_bytes()
    document = served.json()
    assert document["openapi"].startswith("3.1") and document["paths"]["/openapi.json"]["get"]["security"] == []
    assert document["paths"]["/v1/chat/completions"]["post"]["x-jan-access"] == "api"
    # Only that path is open: a neighbour, or a path nothing declares, needs a credential.
    for path in ("/openapi.yaml", "/v1/openapi.json", "/v1/nothing-here"):
        refused = rest("GET", path)
        assert refused.status == 401, (path, refused.body)
        assert_error(refused.json())


def test_fuzz_our_document(fuzz_stack: Stack, fuzz_owner: Owner) -> None:
    schema = schemathesis.openapi.from_url(f"{fuzz_stack.http_url}/openapi.json")  # as Envoy serves it
    found = fuzz(schema, fuzz_stack.http_url, fuzz_owner.access_token)
    assert not found, _report(found)


def test_fuzz_openai_document_on_our_routes(fuzz_stack: Stack, fuzz_owner: Owner) -> None:
    document = openai_document_of_our_routes()
    assert len(document["paths"]) >= 10, sorted(document["paths"])
    schema = schemathesis.openapi.from_dict(document)
    # The coverage phase's negative cases of OpenAI's large request schemas are thousands of requests (minutes);
    # its positive ones, the examples and the fuzzing phase (both modes) stay within the time budget.
    found = fuzz(schema, f"{fuzz_stack.http_url}/v1", fuzz_owner.access_token, coverage=(GenerationMode.POSITIVE,))
    assert not found, _report(found)
