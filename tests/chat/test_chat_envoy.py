"""Chat completions through the real Envoy with the official OpenAI SDK (sync, async, streaming, tools,
reasoning, errors) and native gRPC, against the real vLLM engine running a tiny Qwen3 model.

The tiny model writes gibberish, so tests that need an exact answer force it with vLLM's structured
outputs (a regex) and a logit bias that makes the model spell <think> and <tool_call> with their special
tokens, as a trained Qwen3 does; the real chat template, engine and parsers then do the rest.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import time
from pathlib import Path

import grpc
import openai
import pytest

from devstack.stack import Stack
from jan.v1 import chat_service_pb2 as chat_pb
from jan.v1 import chat_service_pb2_grpc, inference_service_pb2, inference_service_pb2_grpc
from tests.conftest import TINY_MODEL_NAME

MODEL = TINY_MODEL_NAME
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather for a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}
FORCED_TOOL_CALL = (
    r"<think>\nThe user wants the weather\.\n</think>\n\n"
    r'<tool_call>\n\{"name": "get_weather", "arguments": \{"city": "Paris"\}\}\n</tool_call>'
)
NO_THINKING = {"chat_template_kwargs": {"enable_thinking": False}}


@pytest.fixture(scope="module")
def marker_bias(tiny_model_dir: Path) -> dict[str, float]:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(tiny_model_dir))
    ids = tokenizer.convert_tokens_to_ids(["<think>", "</think>", "<tool_call>", "</tool_call>"])
    return {str(i): 100.0 for i in ids}


@pytest.fixture(scope="module")
def client(stack: Stack, guest_token: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{stack.http_url}/v1", api_key=guest_token, max_retries=0, timeout=120)


@pytest.fixture(scope="module")
def async_client(stack: Stack, guest_token: str) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=f"{stack.http_url}/v1", api_key=guest_token, max_retries=0, timeout=120)


def hello(**kwargs):
    return {
        "model": MODEL,
        "messages": [{"role": "user", "content": "Hello"}],
        "max_tokens": 8,
        "temperature": 0,
        "extra_body": NO_THINKING,
        **kwargs,
    }


# -- models --------------------------------------------------------------------------------------------


def test_models_list_and_get(client: openai.OpenAI) -> None:
    models = client.models.list()
    assert [m.id for m in models.data] == [MODEL]
    model = client.models.retrieve(MODEL)
    assert model.id == MODEL and model.object == "model" and isinstance(model.created, int) and model.created > 0
    assert model.model_extra["max_model_len"] == 1024


def test_unknown_model_is_404(client: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as raised:
        client.models.retrieve("no-such-model")
    assert raised.value.body["code"] == "model_not_found"
    with pytest.raises(openai.NotFoundError) as raised:
        client.chat.completions.create(**hello(model="no-such-model"))
    assert raised.value.body["param"] == "model"


# -- whole completions ---------------------------------------------------------------------------------


def test_sync_completion_has_openai_shape(client: openai.OpenAI) -> None:
    completion = client.chat.completions.create(**hello(max_tokens=5, extra_body={**NO_THINKING, "ignore_eos": True}))
    assert completion.object == "chat.completion" and completion.id.startswith("chatcmpl-")
    assert isinstance(completion.created, int) and abs(completion.created - time.time()) < 60
    assert completion.model == MODEL
    (choice,) = completion.choices
    assert choice.index == 0 and choice.message.role == "assistant"
    assert choice.finish_reason == "length" and choice.message.content
    assert completion.usage.completion_tokens == 5
    assert completion.usage.total_tokens == completion.usage.prompt_tokens + 5 and completion.usage.prompt_tokens > 5


async def test_async_completion(async_client: openai.AsyncOpenAI) -> None:
    results = await asyncio.gather(*(async_client.chat.completions.create(**hello()) for _ in range(3)))
    assert all(r.choices[0].message.content is not None and r.usage.completion_tokens >= 1 for r in results)


async def test_async_streams_run_concurrently(async_client: openai.AsyncOpenAI) -> None:
    async def collect() -> tuple[str, int]:
        stream = await async_client.chat.completions.create(
            **hello(max_tokens=6, extra_body={**NO_THINKING, "ignore_eos": True}),
            stream=True,
            stream_options={"include_usage": True},
        )
        chunks = [c async for c in stream]
        return "".join(c.choices[0].delta.content or "" for c in chunks if c.choices), chunks[
            -1
        ].usage.completion_tokens

    results = await asyncio.gather(*(collect() for _ in range(4)))
    assert len({text for text, _ in results}) == 1  # greedy: the same answer each time
    assert all(tokens == 6 for _, tokens in results)


def test_stop_sequence_and_seed(client: openai.OpenAI) -> None:
    forced = {**NO_THINKING, "structured_outputs": {"regex": r"alpha beta gamma"}}
    completion = client.chat.completions.create(**hello(max_tokens=20, stop=[" gamma"], extra_body=forced))
    assert completion.choices[0].message.content == "alpha beta"
    assert completion.choices[0].finish_reason == "stop"
    sampled = [
        client.chat.completions.create(**hello(temperature=1.0, seed=7, max_tokens=6)).choices[0].message.content
        for _ in range(2)
    ]
    assert sampled[0] == sampled[1]


def test_n_answers_whole(client: openai.OpenAI) -> None:
    one = client.chat.completions.create(**hello(max_tokens=4))
    params = hello(n=3, max_tokens=4, temperature=1.0, seed=11, extra_body={**NO_THINKING, "ignore_eos": True})
    completion = client.chat.completions.create(**params)
    assert [c.index for c in completion.choices] == [0, 1, 2]
    assert all(c.finish_reason == "length" and c.message.content for c in completion.choices)
    assert len({c.message.content for c in completion.choices}) > 1  # each answer is sampled on its own
    assert completion.usage.completion_tokens == 12  # all answers count; the prompt counts once
    assert completion.usage.prompt_tokens == one.usage.prompt_tokens
    again = client.chat.completions.create(**params)
    assert [c.message.content for c in again.choices] == [c.message.content for c in completion.choices]


def test_n_answers_forced_through_structured_outputs(client: openai.OpenAI) -> None:
    forced = {**NO_THINKING, "structured_outputs": {"regex": r"(yes|no) indeed"}}
    completion = client.chat.completions.create(**hello(n=2, temperature=1.0, max_tokens=20, extra_body=forced))
    assert len(completion.choices) == 2
    assert all(c.message.content in ("yes indeed", "no indeed") for c in completion.choices)


def test_tool_call_and_reasoning_whole(client: openai.OpenAI, marker_bias: dict[str, float]) -> None:
    completion = client.chat.completions.create(
        model=MODEL,
        messages=[{"role": "user", "content": "Weather in Paris?"}],
        tools=[WEATHER],
        max_tokens=80,
        temperature=0,
        logit_bias=marker_bias,
        extra_body={"structured_outputs": {"regex": FORCED_TOOL_CALL}},
    )
    choice = completion.choices[0]
    assert choice.finish_reason == "tool_calls"
    (call,) = choice.message.tool_calls
    assert call.type == "function" and call.id and call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == {"city": "Paris"}
    assert choice.message.model_extra["reasoning_content"].strip() == "The user wants the weather."
    assert not choice.message.content


def test_json_schema_response_format(client: openai.OpenAI) -> None:
    schema = {
        "type": "object",
        "properties": {"ok": {"type": "boolean"}},
        "required": ["ok"],
        "additionalProperties": False,
    }
    completion = client.chat.completions.create(
        **hello(max_tokens=20, response_format={"type": "json_schema", "json_schema": {"name": "r", "schema": schema}})
    )
    assert isinstance(json.loads(completion.choices[0].message.content)["ok"], bool)


def test_logprobs(client: openai.OpenAI) -> None:
    completion = client.chat.completions.create(
        **hello(max_tokens=3, logprobs=True, top_logprobs=2, extra_body={**NO_THINKING, "ignore_eos": True})
    )
    content = completion.choices[0].logprobs.content
    assert len(content) == 3 and all(len(t.top_logprobs) == 2 and t.logprob <= 0 for t in content)


# -- streaming -----------------------------------------------------------------------------------------


def test_stream_chunks_join_to_the_answer_with_usage(client: openai.OpenAI) -> None:
    params = hello(max_tokens=12, extra_body={**NO_THINKING, "ignore_eos": True})
    whole = client.chat.completions.create(**params)
    chunks = list(client.chat.completions.create(**params, stream=True, stream_options={"include_usage": True}))
    assert chunks[0].choices[0].delta.role == "assistant"
    assert {c.id for c in chunks} == {chunks[0].id} and all(c.object == "chat.completion.chunk" for c in chunks)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == whole.choices[0].message.content  # greedy: the same answer either way
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert finishes == ["length"]
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens == 12
    assert chunks[-1].usage.prompt_tokens == whole.usage.prompt_tokens


def test_stream_of_n_answers(client: openai.OpenAI) -> None:
    params = hello(n=2, max_tokens=5, temperature=1.0, seed=3, extra_body={**NO_THINKING, "ignore_eos": True})
    whole = client.chat.completions.create(**params)
    chunks = list(client.chat.completions.create(**params, stream=True, stream_options={"include_usage": True}))
    assert [(c.choices[0].index, c.choices[0].delta.role) for c in chunks[:2]] == [(0, "assistant"), (1, "assistant")]
    for choice in whole.choices:
        mine = [c.choices[0] for c in chunks if c.choices and c.choices[0].index == choice.index]
        assert "".join(c.delta.content or "" for c in mine) == choice.message.content
        assert [c.finish_reason for c in mine if c.finish_reason] == ["length"]
    assert all(len(c.choices) == 1 for c in chunks[:-1])
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens == 10 == whole.usage.completion_tokens


def test_stream_tool_call_and_reasoning(client: openai.OpenAI, marker_bias: dict[str, float]) -> None:
    stream = client.chat.completions.create(
        model=MODEL,
        messages=[{"role": "user", "content": "Weather in Paris?"}],
        tools=[WEATHER],
        max_tokens=80,
        temperature=0,
        logit_bias=marker_bias,
        stream=True,
        extra_body={"structured_outputs": {"regex": FORCED_TOOL_CALL}},
    )
    reasoning, name, arguments, finish = "", "", "", None
    for chunk in stream:
        if not chunk.choices:
            continue
        delta = chunk.choices[0].delta
        reasoning += (delta.model_extra or {}).get("reasoning_content") or ""
        for call in delta.tool_calls or []:
            name += call.function.name or ""
            arguments += call.function.arguments or ""
        finish = chunk.choices[0].finish_reason or finish
    assert reasoning.strip() == "The user wants the weather."
    assert name == "get_weather" and json.loads(arguments) == {"city": "Paris"}
    assert finish == "tool_calls"


def _raw_stream(stack: Stack, token: str, body: dict) -> http.client.HTTPResponse:
    connection = http.client.HTTPConnection("127.0.0.1", stack.config.http_port, timeout=60)
    connection.request(
        "POST",
        "/v1/chat/completions",
        json.dumps(body),
        {"content-type": "application/json", "authorization": f"Bearer {token}"},
    )
    return connection.getresponse()


def test_sse_wire_format_ends_with_done_and_arrives_spread_over_time(stack: Stack, guest_token: str) -> None:
    body = {**hello(max_tokens=48), "stream": True, **NO_THINKING, "ignore_eos": True}
    body.pop("extra_body")
    response = _raw_stream(stack, guest_token, body)
    assert response.status == 200 and response.getheader("content-type") == "text/event-stream"
    arrivals, events = [], []
    buffer = b""
    while chunk := response.read1(65536):
        arrivals.append(time.monotonic())
        buffer += chunk
    events = [e for e in buffer.split(b"\n\n") if e]
    assert all(e.startswith(b"data: ") for e in events)
    # 48 tokens in groups of JAN_STREAM_INTERVAL_TOKENS (4): the first alone, then 12 groups or so.
    assert events[-1] == b"data: [DONE]" and 48 // 4 <= len(events) < 48
    # Deltas leave Envoy as the engine makes them, not in one burst at the end.
    assert len(arrivals) >= 6 and arrivals[-1] - arrivals[0] > 0.1


# -- errors --------------------------------------------------------------------------------------------


def test_bad_parameter_is_400_with_param(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as raised:
        client.chat.completions.create(**hello(temperature=-1))
    assert raised.value.body["param"] == "temperature" and raised.value.status_code == 400
    with pytest.raises(openai.BadRequestError) as raised:
        client.chat.completions.create(**hello(extra_body={"frobnicate": 1}))
    assert raised.value.body["param"] == "frobnicate"
    assert raised.value.body["message"] == "Unrecognized request argument supplied: frobnicate"
    with pytest.raises(openai.BadRequestError) as raised:
        client.chat.completions.create(**hello(n=0))
    assert raised.value.body["param"] == "n"
    with pytest.raises(openai.BadRequestError) as raised:
        client.chat.completions.create(**hello(n=2, temperature=0))  # greedy: n identical answers
    assert raised.value.body["param"] == "n"


@pytest.mark.parametrize("n", [-1, 0, 129, 2**31, 2.5, True, "many", [2]])
@pytest.mark.parametrize("stream", [False, True])
def test_bad_n_is_a_json_400(stack: Stack, guest_token: str, n: object, stream: bool) -> None:
    body = {**hello(n=n, temperature=1.0), "stream": stream}
    body.pop("extra_body")
    response = _raw_stream(stack, guest_token, body)
    assert response.status == 400 and response.getheader("content-type") == "application/json"
    error = json.loads(response.read())["error"]
    assert error["type"] == "invalid_request_error" and error["message"]


def test_prompt_longer_than_context_is_400(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as raised:
        client.chat.completions.create(**hello(messages=[{"role": "user", "content": "word " * 3000}]))
    assert raised.value.body["param"] == "messages"


def test_bad_credentials_are_401(stack: Stack) -> None:
    bad = openai.OpenAI(base_url=f"{stack.http_url}/v1", api_key="sk-not-a-real-key-000000", max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        bad.chat.completions.create(**hello())
    with pytest.raises(openai.AuthenticationError):
        bad.models.list()


def test_stream_error_before_start_is_an_http_error(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError):
        list(client.chat.completions.create(**hello(top_p=5), stream=True))


# -- native gRPC ---------------------------------------------------------------------------------------


def _params(**kwargs) -> chat_pb.ChatCompletionParams:
    fields = {"model": MODEL, "max_tokens": 6, "temperature": 0, "ignore_eos": True, **kwargs}
    params = chat_pb.ChatCompletionParams(**fields)
    message = params.messages.add(role="user")
    message.content.string_value = "Hello"
    params.chat_template_kwargs.update({"enable_thinking": False})
    return params


@pytest.mark.parametrize("route", ["envoy", "direct"])
async def test_native_grpc_unary_and_stream(stack: Stack, guest_metadata, route: str) -> None:
    target = stack.grpc_target if route == "envoy" else stack.service_target("chat")
    async with grpc.aio.insecure_channel(target) as channel:
        stub = chat_service_pb2_grpc.ChatServiceStub(channel)
        whole = await stub.CreateChatCompletion(
            chat_pb.CreateChatCompletionRequest(params=_params()), metadata=guest_metadata, timeout=60
        )
        assert whole.usage.completion_tokens == 6 and whole.choices[0].finish_reason == "length"
        chunks = [
            c
            async for c in stub.StreamChatCompletion(
                chat_pb.StreamChatCompletionRequest(
                    params=_params(stream_options=chat_pb.StreamOptions(include_usage=True))
                ),
                metadata=guest_metadata,
                timeout=60,
            )
        ]
        assert chunks[0].choices[0].delta.role == "assistant"
        assert "".join(c.choices[0].delta.content for c in chunks if c.choices) == whole.choices[0].message.content
        assert chunks[-1].usage.completion_tokens == 6


async def test_native_grpc_n_answers(stack: Stack, guest_metadata) -> None:
    async with grpc.aio.insecure_channel(stack.grpc_target) as channel:
        stub = chat_service_pb2_grpc.ChatServiceStub(channel)
        whole = await stub.CreateChatCompletion(
            chat_pb.CreateChatCompletionRequest(params=_params(n=2, temperature=1, seed=5)),
            metadata=guest_metadata,
            timeout=60,
        )
    assert [c.index for c in whole.choices] == [0, 1] and whole.usage.completion_tokens == 12
    async with grpc.aio.insecure_channel(stack.service_target("inference")) as channel:
        inference = inference_service_pb2_grpc.InferenceServiceStub(channel)
        request = inference_service_pb2.GenerateRequest(
            model=MODEL, sampling={"max_tokens": 3, "n": 2, "seed": 5, "ignore_eos": True}
        )
        request.messages.add(role="user").content.string_value = "Hello"
        steps = [s async for s in inference.Generate(request, timeout=60)]
    assert {s.index for s in steps} == {0, 1}
    assert sorted(s.index for s in steps if s.finish_reason) == [0, 1]
    assert [s.HasField("usage") for s in steps] == [False] * (len(steps) - 1) + [True]
    assert steps[-1].usage.completion_tokens == 6


async def test_native_grpc_bad_input_is_invalid_argument(stack: Stack, guest_metadata) -> None:
    async with grpc.aio.insecure_channel(stack.grpc_target) as channel:
        stub = chat_service_pb2_grpc.ChatServiceStub(channel)
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await stub.CreateChatCompletion(
                chat_pb.CreateChatCompletionRequest(params=_params(temperature=9)), metadata=guest_metadata, timeout=30
            )
        assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "temperature" in raised.value.details()


# -- cancellation and failures -------------------------------------------------------------------------


async def _running_requests(stack: Stack) -> int:
    async with grpc.aio.insecure_channel(stack.service_target("inference")) as channel:
        stub = inference_service_pb2_grpc.InferenceServiceStub(channel)
        response = await stub.ListModels(inference_service_pb2.InferenceServiceListModelsRequest(), timeout=10)
        return response.models[0].running_requests


async def test_client_disconnect_cancels_the_engine_request(stack: Stack, guest_token: str) -> None:
    body = {**hello(max_tokens=900), "stream": True, **NO_THINKING, "ignore_eos": True}
    body.pop("extra_body")
    response = await asyncio.to_thread(_raw_stream, stack, guest_token, body)
    assert (await asyncio.to_thread(response.read1, 4096)).startswith(b"data: ")
    assert await _running_requests(stack) == 1
    response.close()  # the client goes away mid-stream
    deadline = time.monotonic() + 10
    while await _running_requests(stack) and time.monotonic() < deadline:  # noqa: ASYNC110 - polling another process
        await asyncio.sleep(0.05)
    assert await _running_requests(stack) == 0


@pytest.mark.disrupts_stack
def test_inference_failure_mid_stream_then_unreachable(stack: Stack, client: openai.OpenAI) -> None:
    stream = client.chat.completions.create(
        **hello(max_tokens=900, extra_body={**NO_THINKING, "ignore_eos": True}), stream=True
    )
    first = next(iter(stream))
    assert first.choices[0].delta.role == "assistant"
    try:
        stack.kill_process("inference")  # the engine's host dies after streaming began
        with pytest.raises(openai.APIError) as raised:
            for _ in stream:
                pass
        assert raised.value.body["type"] == "service_unavailable_error"
        stack.stop_process("inference")
        with pytest.raises(openai.InternalServerError) as unreachable:
            client.chat.completions.create(**hello())
        assert unreachable.value.status_code == 503
    finally:
        stack.start_service("inference")
        stack.wait_for_service("inference")
        stack.wait_until_healthy(600)
    deadline = time.monotonic() + 15  # chat's channel reconnects within its 2 s backoff
    while True:
        try:
            assert client.chat.completions.create(**hello()).choices[0].message.content is not None
            break
        except openai.InternalServerError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)
