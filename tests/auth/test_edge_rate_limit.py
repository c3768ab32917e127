"""The per-user request limit through the real Envoy, on a stack of its own (the instant engine, so it
starts in seconds) whose auth service allows 5 requests per minute: the OpenAI SDK's RateLimitError with
OpenAI's headers, other users untouched, native gRPC refused too."""

from __future__ import annotations

from collections.abc import Iterator

import grpc
import openai
import pytest

from devstack.stack import Stack
from jan.v1 import chat_service_pb2 as chat_pb
from jan.v1 import chat_service_pb2_grpc
from tests.conftest import guest_login
from tests.support.private_stack import instant_stack

LIMIT = 5


@pytest.fixture(scope="module")
def limited_stack(tmp_path_factory, database_factory, stack_env: dict[str, str]) -> Iterator[Stack]:
    env = {**stack_env, "JAN_RATE_LIMIT_REQUESTS_PER_MINUTE": str(LIMIT)}
    with instant_stack(tmp_path_factory.mktemp("limited-stack"), database_factory("jan_limited"), env) as stack:
        yield stack


def sdk(stack: Stack, token: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{stack.http_url}/v1", api_key=token, max_retries=0, timeout=30)


def hello(client: openai.OpenAI) -> str | None:
    completion = client.chat.completions.create(model="instant", messages=[{"role": "user", "content": "hi"}])
    return completion.choices[0].message.content


def test_over_the_limit_is_a_rate_limit_error_with_openai_headers(limited_stack: Stack) -> None:
    alice, bob = sdk(limited_stack, guest_login(limited_stack)), sdk(limited_stack, guest_login(limited_stack))
    for _ in range(LIMIT):
        assert hello(alice)
    with pytest.raises(openai.RateLimitError) as raised:
        hello(alice)
    error = raised.value
    assert error.status_code == 429 and error.code == "rate_limit_exceeded" and error.type == "rate_limit_error"
    assert f"{LIMIT} requests per minute" in error.message
    headers = error.response.headers
    assert headers["content-type"].startswith("application/json")
    wait = int(headers["retry-after"])  # 12 s (a fifth of the minute), less the time the requests took
    assert 7 <= wait <= 12 and headers["x-ratelimit-limit-requests"] == str(LIMIT)
    assert headers["x-ratelimit-remaining-requests"] == "0" and headers["x-ratelimit-reset-requests"] == f"{wait}s"
    assert "grpc-status" not in headers  # only native gRPC callers get one
    with pytest.raises(openai.RateLimitError):
        alice.models.list()  # every authenticated route counts
    assert hello(bob)  # another user has a budget of their own
    assert guest_login(limited_stack)  # public routes are not limited


async def test_native_grpc_over_the_limit_is_refused(limited_stack: Stack) -> None:
    metadata = (("authorization", f"Bearer {guest_login(limited_stack)}"),)
    params = chat_pb.ChatCompletionParams(model="instant")
    params.messages.add(role="user").content.string_value = "hi"
    request = chat_pb.CreateChatCompletionRequest(params=params)
    async with grpc.aio.insecure_channel(limited_stack.grpc_target) as channel:
        stub = chat_service_pb2_grpc.ChatServiceStub(channel)
        for _ in range(LIMIT):
            assert (await stub.CreateChatCompletion(request, metadata=metadata, timeout=10)).choices
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await stub.CreateChatCompletion(request, metadata=metadata, timeout=10)
    assert raised.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED, raised.value
    assert f"{LIMIT} requests per minute" in raised.value.details()
