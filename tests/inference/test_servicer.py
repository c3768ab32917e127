"""InferenceService over real gRPC in this process: InferenceApp on port 0 with the instant engine, called
with the generated stubs (the vLLM engine's own behaviour is in test_engine*.py and test_service.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc
import pytest
from google.protobuf import json_format

from jan.v1 import inference_service_pb2 as pb
from jan.v1 import inference_service_pb2_grpc
from services.common.generation import join_answers
from tests.support.in_process import INSTANT_MODEL, instant_inference


@pytest.fixture
async def stub() -> AsyncIterator[inference_service_pb2_grpc.InferenceServiceStub]:
    async with instant_inference(tokens=3) as (_, channel):
        yield inference_service_pb2_grpc.InferenceServiceStub(channel)


def request(**fields: object) -> pb.GenerateRequest:
    body = {"model": INSTANT_MODEL, "messages": [{"role": "user", "content": "hi"}], **fields}
    return json_format.ParseDict(body, pb.GenerateRequest())


async def test_models_report_running_requests(stub) -> None:
    (model,) = (await stub.ListModels(pb.InferenceServiceListModelsRequest())).models
    assert model.id == INSTANT_MODEL and model.max_model_len > 0 and model.running_requests == 0


async def test_stream_steps_join_to_the_whole_answers(stub) -> None:
    req = request(sampling={"n": 2, "temperature": 1.0})
    steps = [s async for s in stub.Generate(req)]
    assert [s.index for s in steps] == [0, 1] * 3
    assert [s.HasField("usage") for s in steps] == [False] * 5 + [True]
    whole = await stub.GenerateWhole(pb.GenerateWholeRequest(request=req))
    joined = join_answers(steps, 2)
    assert [a.content for a in joined] == [a.content for a in whole.choices] == ["tok tok tok "] * 2
    assert whole.response == whole.choices[0] and whole.response.usage.completion_tokens == 6


async def test_bad_requests_get_invalid_argument_naming_the_field(stub) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await stub.GenerateWhole(pb.GenerateWholeRequest(request=request(sampling={"top_p": 0})))
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "top_p" in raised.value.details()
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        async for _ in stub.Generate(request(model="other")):
            pass
    assert raised.value.code() == grpc.StatusCode.NOT_FOUND


def test_tools_for_a_model_served_without_a_tool_parser_get_a_plain_400() -> None:
    """vLLM's own refusal names its command-line flags; ours says what the caller can do, with `param`."""
    from services.common.errors import InvalidArgument
    from services.inference.engine import InferenceEngine
    from services.inference.engine_config import EngineConfig

    engine = InferenceEngine(EngineConfig(model="/models/m", served_model_name="m", tool_call_parser=None))
    tools = [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}]
    with pytest.raises(InvalidArgument) as raised:
        engine.check_request(request(model="m", tools=tools))
    assert raised.value.param == "tools" and "served without tool calling" in raised.value.message
    assert "--" not in raised.value.message
    engine.check_request(request(model="m", tools=tools, tool_choice={"mode": "none"}))
