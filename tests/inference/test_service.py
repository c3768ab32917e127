"""The inference service over real gRPC: the stack's service (directly and through Envoy) for generation,
errors and cancellation, and a service process of its own for the health life cycle (NOT_SERVING while
loading, SERVING, NOT_SERVING and UNAVAILABLE once the engine dies)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import grpc
import psutil
import pytest
from google.rpc import error_details_pb2, status_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc

from devstack.ports import free_port
from devstack.stack import Stack
from jan.v1 import inference_service_pb2 as pb
from jan.v1 import inference_service_pb2_grpc, types_pb2
from tests.auth.conftest import Owner
from tests.conftest import ROOT, TINY_MODEL_NAME, tiny_engine_env


def _request(text: str = "Hello", max_tokens: int = 8, **sampling) -> pb.GenerateRequest:
    request = pb.GenerateRequest(
        model=TINY_MODEL_NAME,
        request_id="test",
        sampling=pb.SamplingParams(max_tokens=max_tokens, temperature=0, **sampling),
    )
    message = request.messages.add(role="user")
    message.content.string_value = text
    request.chat_template_kwargs.update({"enable_thinking": False})
    return request


def _field_violation(error: grpc.aio.AioRpcError) -> str:
    for key, value in error.trailing_metadata() or ():
        if key == "grpc-status-details-bin":
            status = status_pb2.Status.FromString(value)
            bad_request = error_details_pb2.BadRequest()
            status.details[0].Unpack(bad_request)
            return bad_request.field_violations[0].field
    raise AssertionError("no field violation in the status details")


@pytest.fixture(params=["direct", "envoy"])
async def stub(request, stack: Stack, owner: Owner):
    """The service's own port, or Envoy with an admin API key (InferenceService is internal: through Envoy only
    the organization's owners may call it natively)."""
    target = stack.service_target("inference") if request.param == "direct" else stack.grpc_target
    metadata = (("authorization", f"Bearer {owner.admin_key}"),) if request.param == "envoy" else ()
    async with grpc.aio.insecure_channel(target) as channel:
        yield inference_service_pb2_grpc.InferenceServiceStub(channel), metadata


async def test_api_callers_may_not_call_it_through_envoy(stack: Stack, guest_metadata) -> None:
    """Guests, users and API keys generate through chat; the engine itself is not theirs to call natively."""
    async with grpc.aio.insecure_channel(stack.grpc_target) as channel:
        client = inference_service_pb2_grpc.InferenceServiceStub(channel)
        for call in (
            client.ListModels(pb.InferenceServiceListModelsRequest(), metadata=guest_metadata, timeout=10),
            client.GenerateWhole(pb.GenerateWholeRequest(request=_request()), metadata=guest_metadata, timeout=10),
        ):
            with pytest.raises(grpc.aio.AioRpcError) as raised:
                await call
            assert raised.value.code() == grpc.StatusCode.PERMISSION_DENIED
            assert "internal" in raised.value.details()


async def test_list_models(stub) -> None:
    client, metadata = stub
    response = await client.ListModels(pb.InferenceServiceListModelsRequest(), metadata=metadata, timeout=10)
    (model,) = response.models
    assert model.id == TINY_MODEL_NAME and model.max_model_len == 1024 and model.created > 0


async def test_stream_and_whole_agree(stub) -> None:
    client, metadata = stub
    request = _request(max_tokens=10, ignore_eos=True)
    deltas = [d async for d in client.Generate(request, metadata=metadata, timeout=60)]
    assert len(deltas) > 1 and all(d.finish_reason == pb.FINISH_REASON_UNSPECIFIED for d in deltas[:-1])
    assert deltas[-1].finish_reason == pb.FINISH_REASON_LENGTH and deltas[-1].usage.completion_tokens == 10
    whole = (
        await client.GenerateWhole(pb.GenerateWholeRequest(request=request), metadata=metadata, timeout=60)
    ).response
    assert "".join(d.content for d in deltas) == whole.content
    assert whole.usage.prompt_tokens == deltas[-1].usage.prompt_tokens


@pytest.mark.parametrize(
    ("change", "code", "field"),
    [
        (lambda r: r.sampling.__setattr__("temperature", -1.0), grpc.StatusCode.INVALID_ARGUMENT, "temperature"),
        (lambda r: r.__setattr__("model", "no-such-model"), grpc.StatusCode.NOT_FOUND, "model"),
        (lambda r: r.ClearField("messages"), grpc.StatusCode.INVALID_ARGUMENT, "messages"),
        (
            lambda r: r.messages[0].content.__setattr__("string_value", "word " * 3000),
            grpc.StatusCode.INVALID_ARGUMENT,
            "messages",
        ),
        (
            lambda r: r.tools.append(
                types_pb2.Tool(
                    type="function",
                    function=types_pb2.FunctionDefinition(
                        name="f", parameters=_struct({"type": "object", "properties": {"x": {"type": 5}}})
                    ),
                )
            ),
            grpc.StatusCode.INVALID_ARGUMENT,
            "tools[0].function.parameters",
        ),
    ],
    ids=["negative-temperature", "unknown-model", "empty-messages", "prompt-too-long", "bad-tool-schema"],
)
async def test_bad_input_names_the_field(stub, change, code, field: str) -> None:
    client, metadata = stub
    request = _request()
    change(request)
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        [d async for d in client.Generate(request, metadata=metadata, timeout=30)]
    assert raised.value.code() == code
    assert _field_violation(raised.value) == field
    error = json.loads(dict(raised.value.trailing_metadata())["x-jan-error"])["error"]
    assert error["param"] == field


def _struct(value: dict):
    from google.protobuf import struct_pb2

    message = struct_pb2.Struct()
    message.update(value)
    return message


async def _running(client) -> int:
    response = await client.ListModels(pb.InferenceServiceListModelsRequest(), timeout=10)
    return response.models[0].running_requests


async def test_cancelling_the_call_aborts_the_engine_request(stack: Stack) -> None:
    async with grpc.aio.insecure_channel(stack.service_target("inference")) as channel:
        client = inference_service_pb2_grpc.InferenceServiceStub(channel)
        call = client.Generate(_request(max_tokens=900, ignore_eos=True), timeout=120)
        await call.read()
        assert await _running(client) == 1
        call.cancel()
        deadline = time.monotonic() + 10
        while await _running(client) and time.monotonic() < deadline:  # noqa: ASYNC110 - another process
            await asyncio.sleep(0.05)
        assert await _running(client) == 0
        # A deadline that passes mid-generation aborts it too.
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            [d async for d in client.Generate(_request(max_tokens=900, ignore_eos=True), timeout=1.0)]
        assert raised.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
        deadline = time.monotonic() + 10
        while await _running(client) and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.05)
        assert await _running(client) == 0


# -- life cycle of a service process of its own --------------------------------------------------------


def _health(target: str, service: str = "jan.v1.InferenceService") -> int | None:
    with grpc.insecure_channel(target) as channel:
        try:
            return (
                health_pb2_grpc.HealthStub(channel)
                .Check(health_pb2.HealthCheckRequest(service=service), timeout=2)
                .status
            )
        except grpc.RpcError:
            return None


@pytest.mark.engine
async def test_health_follows_the_engine(tiny_model_dir: Path, tmp_path: Path) -> None:
    port = free_port()
    env = {
        **os.environ,
        **tiny_engine_env(tiny_model_dir),
        "JAN_INFERENCE_LISTEN": f"127.0.0.1:{port}",
        "JAN_ENGINE_SINGLE_PROCESS": "true",
        "JAN_ENGINE_HEALTH_POLL_SECONDS": "0.2",
        "PYTHONPATH": f"{ROOT}:{ROOT / 'gen' / 'python'}",
    }
    log = open(tmp_path / "inference.log", "wb")  # noqa: SIM115, ASYNC230 - closed below
    process = subprocess.Popen(  # noqa: ASYNC220 - a child that lives through the test
        [sys.executable, "-m", "services.inference"], env=env, cwd=ROOT, stdout=log, stderr=log, process_group=0
    )
    target = f"127.0.0.1:{port}"
    try:
        seen = []
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            status = await asyncio.to_thread(_health, target)
            if status is not None and (not seen or seen[-1] != status):
                seen.append(status)
            if status == health_pb2.HealthCheckResponse.SERVING:
                break
            assert process.poll() is None, (tmp_path / "inference.log").read_text()[-3000:]
            await asyncio.sleep(0.2)
        assert seen == [health_pb2.HealthCheckResponse.NOT_SERVING, health_pb2.HealthCheckResponse.SERVING]

        async with grpc.aio.insecure_channel(target) as channel:
            client = inference_service_pb2_grpc.InferenceServiceStub(channel)
            assert [d async for d in client.Generate(_request(max_tokens=2), timeout=60)]
            (core,) = [
                p for p in psutil.Process(process.pid).children(recursive=True) if p.name() == "VLLM::EngineCore"
            ]
            core.send_signal(signal.SIGKILL)
            started = time.monotonic()
            with pytest.raises(grpc.aio.AioRpcError) as raised:
                [d async for d in client.Generate(_request(max_tokens=50), timeout=30)]
            assert raised.value.code() == grpc.StatusCode.UNAVAILABLE
            assert time.monotonic() - started < 10  # fails fast, never hangs
        deadline = time.monotonic() + 10
        while await asyncio.to_thread(_health, target) != health_pb2.HealthCheckResponse.NOT_SERVING:
            assert time.monotonic() < deadline, "health did not turn NOT_SERVING after the engine died"
            await asyncio.sleep(0.1)
    finally:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        process.wait()
        log.close()
