"""Prometheus metrics on the running stack: every service's /metrics (each on a port of its own, not through
Envoy) is scraped before and after real requests through Envoy (a guest's sign-in, chat completions whole and
streamed, a response, a refused request, a bad credential) and a search on the search service's port, and the
counters and histograms each service promises must have moved by what those requests did."""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable

import grpc
import httpx
import httpx2
import openai
import pytest
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client
from prometheus_client.parser import text_string_to_metric_families

from devstack.stack import SERVICES, Stack
from jan.v1 import search_service_pb2 as search_pb
from jan.v1 import search_service_pb2_grpc
from tests.conftest import TINY_MODEL_NAME, guest_login

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(stack: Stack, service: str) -> Samples:
    with urllib.request.urlopen(stack.metrics_url(service), timeout=30) as response:
        assert response.status == 200
        text = response.read().decode()
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def total(samples: Samples, name: str, **labels: str) -> float:
    """The sum of `name`'s samples whose labels include `labels`."""
    wanted = set(labels.items())
    return sum(value for (sample, have), value in samples.items() if sample == name and wanted <= have)


def present(samples: Samples, name: str) -> bool:
    return any(sample == name for sample, _ in samples)


@pytest.fixture(scope="module")
def scraped(stack: Stack) -> dict[str, tuple[Samples, Samples]]:
    """Each service's samples before and after one round of real requests."""
    before = {service: scrape(stack, service) for service in SERVICES}
    token = guest_login(stack)  # ext_authz: anonymous (a public route); auth: GuestLogin
    client = openai.OpenAI(base_url=f"{stack.http_url}/v1", api_key=token, max_retries=0)
    messages = [{"role": "user", "content": "Hi"}]
    client.chat.completions.create(
        model=TINY_MODEL_NAME, messages=messages, max_tokens=8, extra_body={"ignore_eos": True}
    )
    chunks = client.chat.completions.create(
        model=TINY_MODEL_NAME, messages=messages, max_tokens=8, stream=True, extra_body={"ignore_eos": True}
    )
    # the role, 8 tokens (text or reasoning: the first alone, then in groups of 4), the finish
    assert len(list(chunks)) >= 4
    client.responses.create(model=TINY_MODEL_NAME, input="Hi", max_output_tokens=8, store=False)
    with pytest.raises(openai.BadRequestError):  # over the guests' output limit (2,048 tokens per request)
        client.chat.completions.create(model=TINY_MODEL_NAME, messages=messages, max_tokens=4096)
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(base_url=f"{stack.http_url}/v1", api_key="not-a-token", max_retries=0).models.list()
    asyncio.run(_mcp_calls(stack, token))
    unidentified = httpx.post(f"http://127.0.0.1:{stack.config.mcp_port}/v1/mcp", json={}, timeout=30)
    assert unidentified.status_code == 401  # chat's MCP port, going around Envoy: no identity
    q = f"metrics {uuid.uuid4().hex[:8]}"
    with grpc.insecure_channel(stack.service_target("search")) as channel:  # its own port: no Envoy, no auth
        stub = search_service_pb2_grpc.SearchServiceStub(channel)
        for _ in range(2):  # the second is answered from the cache
            stub.Search(search_pb.SearchRequest(q=q), timeout=30)
    after = {service: scrape(stack, service) for service in SERVICES}
    return {service: (before[service], after[service]) for service in SERVICES}


async def _mcp_calls(stack: Stack, token: str) -> None:
    """A search and a refused one through Envoy with the official MCP client."""
    async with (
        httpx2.AsyncClient(headers={"authorization": f"Bearer {token}"}, timeout=30) as http,
        streamable_http_client(f"{stack.http_url}/v1/mcp", http_client=http) as (read, write),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        query = f"metrics over mcp {uuid.uuid4().hex[:8]}"
        assert not (await session.call_tool("google_search", {"q": query})).is_error
        assert (await session.call_tool("google_search", {"q": "  "})).is_error


def moved(scraped: dict[str, tuple[Samples, Samples]], service: str) -> Callable[..., float]:
    before, after = scraped[service]
    return lambda name, **labels: total(after, name, **labels) - total(before, name, **labels)


def test_every_service_serves_its_calls_and_its_process(scraped) -> None:
    for service in SERVICES:
        _, after = scraped[service]
        for name in ("grpc_server_started_total", "grpc_server_handling_seconds_bucket", "process_cpu_seconds_total"):
            assert present(after, name), f"{service} has no {name}"


def test_chat_counts_calls_generations_and_limit_refusals(scraped) -> None:
    delta = moved(scraped, "chat")
    chat = {"grpc_service": "jan.v1.ChatService"}
    assert delta("grpc_server_handled_total", **chat, grpc_method="CreateChatCompletionJson", grpc_code="OK") == 1
    assert delta("grpc_server_handled_total", **chat, grpc_method="StreamChatCompletionEvents", grpc_code="OK") == 1
    assert (
        delta("grpc_server_handled_total", **chat, grpc_method="CreateChatCompletionJson", grpc_code="INVALID_ARGUMENT")
        == 1
    )
    assert delta("grpc_server_handling_seconds_count", **chat, grpc_method="CreateChatCompletionJson") == 2
    assert delta("grpc_server_handled_total", grpc_method="CreateResponse", grpc_code="OK") == 1
    assert delta("jan_limit_denials_total", limit="output_tokens", guest="true") == 1
    # A sample per generation: the completion and the response whole, the completion streamed.
    assert delta("jan_chat_time_to_first_token_seconds_count", stream="false") == 2
    assert delta("jan_chat_time_to_first_token_seconds_count", stream="true") == 1
    assert delta("jan_chat_output_tokens_per_second_count", stream="true") == 1  # 8 tokens (ignore_eos)
    assert delta("jan_chat_output_tokens_per_second_count", stream="false") >= 1
    assert delta("jan_chat_time_to_first_token_seconds_sum") > 0
    assert delta("jan_mcp_tool_calls_total", tool="google_search", outcome="ok") == 1
    assert delta("jan_mcp_tool_calls_total", tool="google_search", outcome="error") == 1
    assert delta("jan_mcp_tool_call_seconds_count", tool="google_search") == 2
    assert delta("jan_mcp_refused_total", status="401") == 1
    _, after = scraped["chat"]
    for gauge in (
        "jan_chat_responses_queued",
        "jan_chat_responses_oldest_queued_seconds",
        "jan_chat_responses_running",
    ):
        assert present(after, gauge), gauge


def test_auth_counts_ext_authz_decisions(scraped) -> None:
    delta = moved(scraped, "auth")
    assert delta("jan_auth_ext_authz_decisions_total", outcome="anonymous") >= 1  # the guest sign-in
    assert delta("jan_auth_ext_authz_decisions_total", outcome="allowed") >= 4
    assert delta("jan_auth_ext_authz_decisions_total", outcome="unauthenticated") >= 1
    assert delta("jan_auth_ext_authz_seconds_count") >= 6
    assert delta("grpc_server_handled_total", grpc_method="GuestLogin", grpc_code="OK") == 1


def test_inference_serves_vllms_engine_metrics(scraped) -> None:
    delta = moved(scraped, "inference")
    inference = {"grpc_service": "jan.v1.InferenceService"}
    assert delta("grpc_server_handled_total", **inference, grpc_method="GenerateWhole", grpc_code="OK") == 2
    assert delta("grpc_server_handled_total", **inference, grpc_method="Generate", grpc_code="OK") == 1
    assert delta("vllm:time_to_first_token_seconds_count", model_name=TINY_MODEL_NAME) == 3
    assert delta("vllm:generation_tokens_total") >= 16
    _, after = scraped["inference"]
    for gauge in ("vllm:num_requests_running", "vllm:num_requests_waiting", "vllm:kv_cache_usage_perc"):
        assert present(after, gauge), gauge


def test_search_counts_upstream_calls_and_the_cache(scraped) -> None:
    delta = moved(scraped, "search")
    # Two searches on its port (a new query, then the same from the cache) and two through MCP (a new query,
    # and a blank one refused before the cache).
    search = {"grpc_service": "jan.v1.SearchService", "grpc_method": "Search"}
    assert delta("grpc_server_handled_total", **search, grpc_code="OK") == 3
    assert delta("grpc_server_handled_total", **search, grpc_code="INVALID_ARGUMENT") == 1
    assert delta("jan_search_upstream_requests_total", endpoint="search", outcome="ok") == 2
    assert delta("jan_search_upstream_seconds_count", endpoint="search") == 2
    assert delta("jan_search_cache_lookups_total", result="miss") == 2
    assert delta("jan_search_cache_lookups_total", result="hit") == 1
    _, after = scraped["search"]
    assert total(after, "jan_search_cache_entries") >= 1


def test_metrics_are_not_reachable_through_envoy(stack: Stack) -> None:
    try:
        with urllib.request.urlopen(f"{stack.http_url}/metrics", timeout=10) as response:
            status, body = response.status, response.read()
    except urllib.error.HTTPError as error:
        status, body = error.code, error.read()
    assert status in (401, 404)
    assert b"grpc_server" not in body
    assert "error" in json.loads(body)
