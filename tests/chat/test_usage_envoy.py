"""Completions usage through Envoy with the official SDK's admin client (`client.admin.organization.usage`),
on the real engine: a project's key spends tokens in a chat completion, a stream and a Response; the
organization's usage for that project equals, exactly, what their `usage` said; the raw body is OpenAI's
UsageResponse; nobody but an owner reads usage."""

from __future__ import annotations

import json
import time

import httpx
import openai
import pytest

from devstack.stack import Stack
from tests.auth.conftest import Owner, Rest
from tests.conftest import TINY_MODEL_NAME, guest_login
from tests.edge.test_tenancy import project_key
from tests.support.openai_spec import assert_error, assert_route

FORCED = {"chat_template_kwargs": {"enable_thinking": False}, "structured_outputs": {"regex": "alpha beta gamma"}}


def test_a_projects_usage_is_what_its_responses_said(stack: Stack, rest: Rest, owner: Owner) -> None:
    start = int(time.time()) - 60
    key = project_key(rest, owner, "metered")
    client = openai.OpenAI(base_url=f"{stack.http_url}/v1", api_key=key, max_retries=0, timeout=120)
    admin = openai.OpenAI(
        base_url=f"{stack.http_url}/v1", api_key="unused", admin_api_key=owner.admin_key, max_retries=0
    )
    project_id = next(p.id for p in admin.admin.organization.projects.list(limit=100).data if p.name == "metered")
    said: list[tuple[int, int]] = []
    unary = client.chat.completions.create(
        model=TINY_MODEL_NAME, messages=[{"role": "user", "content": "Hi"}], max_tokens=12, extra_body=FORCED
    )
    said.append((unary.usage.prompt_tokens, unary.usage.completion_tokens))
    stream = client.chat.completions.create(
        model=TINY_MODEL_NAME, messages=[{"role": "user", "content": "Hi"}], max_tokens=12, extra_body=FORCED,
        stream=True, stream_options={"include_usage": True},
    )  # fmt: skip
    last = [chunk for chunk in stream][-1]
    said.append((last.usage.prompt_tokens, last.usage.completion_tokens))
    response = client.responses.create(model=TINY_MODEL_NAME, input="Hi", max_output_tokens=12, extra_body=FORCED)
    said.append((response.usage.input_tokens, response.usage.output_tokens))
    expected = (sum(i for i, _ in said), sum(o for _, o in said), len(said))

    deadline = time.monotonic() + 15
    while True:
        page = admin.admin.organization.usage.completions(
            start_time=start, bucket_width="1m", project_ids=[project_id], group_by=["model", "project_id"]
        )
        results = [r for bucket in page.data for r in bucket.results]
        got = (
            sum(r.input_tokens for r in results),
            sum(r.output_tokens for r in results),
            sum(r.num_model_requests for r in results),
        )
        if got == expected or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert got == expected
    assert {(r.model, r.project_id) for r in results} == {(TINY_MODEL_NAME, project_id)}

    raw = httpx.get(
        f"{stack.http_url}/v1/organization/usage/completions",
        params={"start_time": start, "bucket_width": "1h", "group_by[]": "api_key_id", "project_ids[]": project_id},
        headers={"authorization": f"Bearer {owner.admin_key}"},
        timeout=30,
    )
    assert raw.status_code == 200, raw.text
    assert_route("GET", "/v1/organization/usage/completions", raw.json())
    (hourly,) = [r for bucket in raw.json()["data"] for r in bucket["results"]]
    assert hourly["api_key_id"] and hourly["num_model_requests"] == expected[2]


@pytest.mark.parametrize("who", ["guest", "project key"])
def test_nobody_but_an_owner_reads_usage(stack: Stack, rest: Rest, owner: Owner, who: str) -> None:
    token = guest_login(stack) if who == "guest" else project_key(rest, owner, "curious")
    response = httpx.get(
        f"{stack.http_url}/v1/organization/usage/completions",
        params={"start_time": 0},
        headers={"authorization": f"Bearer {token}"},
        timeout=30,
    )
    assert response.status_code == 403, response.text
    assert_error(response.json())
    assert json.dumps(response.json()).count("input_tokens") == 0
