"""ChatService over real gRPC in this process: the chat servicer (ChatApp) on port 0 calling the inference
servicer (InferenceApp, instant engine) on port 0, with the generated stubs. Proves the typed and JSON forms
of one answer agree, and that a bad field gets the same status, message and param through chat as when
sent to inference directly (one owner per rule)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import grpc
import pytest
from google.protobuf import json_format

from jan.v1 import chat_service_pb2 as pb
from jan.v1 import chat_service_pb2_grpc, inference_service_pb2, inference_service_pb2_grpc
from services.chat.servicer import BODY_KEYS_HEADER
from services.common.errors import ERROR_METADATA_KEY
from tests.support.identity import identity_metadata
from tests.support.in_process import IDENTITY_SECRET, INSTANT_MODEL, chat_service, instant_inference

TOKENS = 4


@pytest.fixture
async def stubs(
    database_factory,
) -> AsyncIterator[tuple[chat_service_pb2_grpc.ChatServiceStub, inference_service_pb2_grpc.InferenceServiceStub]]:
    async with (
        instant_inference(TOKENS) as (_, inference_channel),
        chat_service(database_factory("chat"), inference_channel) as chat_channel,
    ):
        yield (
            chat_service_pb2_grpc.ChatServiceStub(chat_channel),
            inference_service_pb2_grpc.InferenceServiceStub(inference_channel),
        )


def params(**fields: object) -> pb.ChatCompletionParams:
    body = {"model": INSTANT_MODEL, "messages": [{"role": "user", "content": "hi"}], **fields}
    return json_format.ParseDict(body, pb.ChatCompletionParams())


def openai_error(exc: grpc.aio.AioRpcError) -> dict:
    for key, value in exc.trailing_metadata() or ():
        if key == ERROR_METADATA_KEY:
            return json.loads(value)["error"]
    raise AssertionError(f"no {ERROR_METADATA_KEY} trailer on {exc}")


async def test_typed_and_json_completions_are_the_same_answer(stubs) -> None:
    chat, _ = stubs
    typed = await chat.CreateChatCompletion(pb.CreateChatCompletionRequest(params=params(max_tokens=3)))
    assert typed.object == "chat.completion" and typed.choices[0].message.content == "tok " * 3
    assert typed.choices[0].finish_reason == "length" and typed.usage.completion_tokens == 3
    body = await chat.CreateChatCompletionJson(pb.CreateChatCompletionJsonRequest(params=params(max_tokens=3)))
    assert body.content_type == "application/json"
    printed = json.loads(body.data)
    assert printed["choices"][0]["message"] == {"role": "assistant", "content": "tok " * 3, "refusal": None}
    assert printed["choices"][0]["logprobs"] is None
    without_ids = {k: v for k, v in printed.items() if k not in ("id", "created")}
    typed_dict = json_format.MessageToDict(typed, preserving_proto_field_name=True)
    assert without_ids["choices"][0]["message"]["content"] == typed_dict["choices"][0]["message"]["content"]
    assert without_ids["usage"] == {
        **typed_dict["usage"],
        "prompt_tokens_details": {"cached_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": 0},
    }


async def test_typed_and_sse_streams_carry_the_same_chunks(stubs) -> None:
    chat, _ = stubs
    request = params(n=2, temperature=1, stream=True, stream_options={"include_usage": True})
    typed = [c async for c in chat.StreamChatCompletion(pb.StreamChatCompletionRequest(params=request))]
    events = [
        b.data async for b in chat.StreamChatCompletionEvents(pb.StreamChatCompletionEventsRequest(params=request))
    ]
    assert events[-1] == b"data: [DONE]\n\n"
    sse = [json.loads(e[len(b"data: ") :]) for e in events[:-1]]
    assert len(sse) == len(typed) == 2 + 2 * TOKENS + 2 + 1  # roles, tokens, finishes, usage
    for native, printed in zip(typed, sse, strict=True):
        assert printed["usage"] is None or native.HasField("usage")
        printed = {k: v for k, v in printed.items() if v is not None or k != "usage"}
        expected = json_format.ParseDict(printed, pb.StreamChatCompletionResponse())
        native.id, native.created = expected.id, expected.created  # each stream has its own
        assert expected == native


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"temperature": 9}, "temperature"),
        ({"temperature": "NaN"}, "temperature"),
        ({"repetition_penalty": 2.5}, "repetition_penalty"),
        ({"messages": [{"role": "wizard", "content": "x"}]}, "messages[0].role"),
        (
            {"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {}}]}]},
            "messages[0].content[0].type",
        ),
        ({"messages": [{"role": "assistant", "content": None}]}, "messages[0].content"),
        ({"tools": [{"type": "function", "function": {"name": "bad name"}}]}, "tools[0].function.name"),
        ({"n": 0}, "n"),
        ({"top_logprobs": 3}, "top_logprobs"),
        ({"response_format": {"type": "xml"}}, "response_format.type"),
    ],
)
async def test_a_bad_field_reads_the_same_through_chat_and_directly(stubs, fields: dict, param: str) -> None:
    chat, inference = stubs
    chat_params = params(**fields)
    with pytest.raises(grpc.aio.AioRpcError) as via_chat:
        await chat.CreateChatCompletion(pb.CreateChatCompletionRequest(params=chat_params))
    direct_request = inference_service_pb2.GenerateRequest(model=INSTANT_MODEL)
    direct_request.messages.extend(chat_params.messages)
    direct_request.tools.extend(chat_params.tools)
    for name in ("temperature", "repetition_penalty", "n", "top_logprobs"):
        if chat_params.HasField(name):
            setattr(direct_request.sampling, name, getattr(chat_params, name))
    if chat_params.HasField("response_format"):
        direct_request.response_format.CopyFrom(chat_params.response_format)
    with pytest.raises(grpc.aio.AioRpcError) as direct:
        await inference.GenerateWhole(inference_service_pb2.GenerateWholeRequest(request=direct_request))
    assert via_chat.value.code() == direct.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert openai_error(via_chat.value) == openai_error(direct.value)
    assert openai_error(via_chat.value)["param"] == param


async def test_unknown_body_field_is_refused_by_name(stubs) -> None:
    chat, _ = stubs
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await chat.CreateChatCompletion(
            pb.CreateChatCompletionRequest(params=params()), metadata=((BODY_KEYS_HEADER, "model,messages,temprature"),)
        )
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert openai_error(raised.value)["param"] == "temprature"


async def test_unknown_model_is_not_found(stubs) -> None:
    chat, _ = stubs
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await chat.CreateChatCompletion(pb.CreateChatCompletionRequest(params=params(model="nope")))
    assert raised.value.code() == grpc.StatusCode.NOT_FOUND
    assert openai_error(raised.value)["code"] == "model_not_found"


async def test_models(stubs) -> None:
    chat, _ = stubs
    models = await chat.ListModels(pb.ListModelsRequest())
    assert [m.id for m in models.data] == [INSTANT_MODEL] and models.object == "list"
    assert (await chat.GetModel(pb.GetModelRequest(model=INSTANT_MODEL))).object == "model"


async def test_fifty_concurrent_stored_turns_land_whole_and_in_order(stubs) -> None:
    """50 completions into one conversation at once: nothing lost, nothing duplicated, and every turn's
    question directly followed by its answer (appends take the conversation's row lock)."""
    chat, _ = stubs
    owner = identity_metadata(IDENTITY_SECRET, "user_concurrent")
    first = await chat.CreateChatCompletion(
        pb.CreateChatCompletionRequest(params=params(store=True, max_tokens=1)), metadata=owner
    )
    conversation_id = first.conversation_id

    async def turn(i: int) -> None:
        request = params(
            store=True, conversation=conversation_id, max_tokens=2, messages=[{"role": "user", "content": f"q{i}"}]
        )
        await chat.CreateChatCompletion(pb.CreateChatCompletionRequest(params=request), metadata=owner)

    await asyncio.gather(*(turn(i) for i in range(50)))
    stored: list[dict] = []
    after = ""
    while True:
        page = await chat.ListConversationItems(
            pb.ListConversationItemsRequest(conversation_id=conversation_id, order="asc", limit=100, after=after),
            metadata=owner,
        )
        stored += [json_format.MessageToDict(s) for s in page.data]
        if not page.has_more:
            break
        after = page.last_id
    assert len(stored) == 2 + 100 and len({s["id"] for s in stored}) == len(stored)
    questions = [(i, s["content"][0]["text"]) for i, s in enumerate(stored) if s["role"] == "user"]
    assert sorted(text for _, text in questions[1:]) == sorted(f"q{i}" for i in range(50))
    assert all(stored[i + 1]["role"] == "assistant" for i, _ in questions)
