"""The chat service's side of the inference service's gRPC API: ChatRequest in, Deltas out.

Cancelling the iteration (the client went away) cancels the gRPC call, and the inference service aborts
the engine request. gRPC failures become domain errors (unreachable inference → Unavailable → 503).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import grpc
from google.protobuf import json_format, struct_pb2

from jan.v1 import inference_service_pb2 as pb
from jan.v1 import inference_service_pb2_grpc, types_pb2
from services.chat.domain import ChatRequest, Delta, ModelCard, TokenLogprob, ToolCallPiece, TopLogprob, Usage
from services.common.grpc_errors import from_rpc_error

_FINISH = {
    pb.FINISH_REASON_STOP: "stop",
    pb.FINISH_REASON_LENGTH: "length",
    pb.FINISH_REASON_TOOL_CALLS: "tool_calls",
}


class InferenceClient:
    def __init__(self, channel: grpc.aio.Channel) -> None:
        self._stub = inference_service_pb2_grpc.InferenceServiceStub(channel)

    async def list_models(self) -> list[ModelCard]:
        try:
            response = await self._stub.ListModels(pb.InferenceServiceListModelsRequest(), timeout=10)
        except grpc.aio.AioRpcError as exc:
            raise from_rpc_error(exc) from None
        return [ModelCard(m.id, m.created, m.owned_by, m.max_model_len, m.root) for m in response.models]

    async def generate(self, request: ChatRequest, request_id: str, *, whole: bool) -> AsyncIterator[Delta]:
        """Streams deltas; with `whole`, one delta holding the whole answer (a unary call: cheaper)."""
        generate = to_generate_request(request, request_id)
        if whole:
            try:
                reply = await self._stub.GenerateWhole(pb.GenerateWholeRequest(request=generate))
            except grpc.aio.AioRpcError as exc:
                raise from_rpc_error(exc) from None
            for answer in reply.choices or [reply.response]:
                yield to_delta(answer)
            return
        call = self._stub.Generate(generate)
        try:
            async for message in call:
                yield to_delta(message)
        except grpc.aio.AioRpcError as exc:
            raise from_rpc_error(exc) from None
        finally:
            call.cancel()  # no-op when the call already ended; aborts the engine request otherwise


def _struct(value: dict[str, Any] | None) -> struct_pb2.Struct | None:
    if value is None:
        return None
    message = struct_pb2.Struct()
    message.update(value)
    return message


def _message(message: dict[str, Any]) -> types_pb2.ChatMessage:
    return json_format.ParseDict(message, types_pb2.ChatMessage(), ignore_unknown_fields=True)


def to_generate_request(request: ChatRequest, request_id: str) -> pb.GenerateRequest:
    s = request.sampling
    sampling = pb.SamplingParams(
        temperature=s.temperature,
        top_p=s.top_p,
        top_k=s.top_k,
        min_p=s.min_p,
        max_tokens=s.max_tokens,
        min_tokens=s.min_tokens,
        stop=list(s.stop),
        seed=s.seed,
        presence_penalty=s.presence_penalty,
        frequency_penalty=s.frequency_penalty,
        repetition_penalty=s.repetition_penalty,
        logprobs=s.logprobs,
        top_logprobs=s.top_logprobs,
        logit_bias=s.logit_bias,
        ignore_eos=s.ignore_eos,
        n=s.n,
    )
    generate = pb.GenerateRequest(
        model=request.model,
        messages=[_message(m) for m in request.messages],
        tools=[json_format.ParseDict(t, types_pb2.Tool(), ignore_unknown_fields=True) for t in request.tools],
        sampling=sampling,
        chat_template_kwargs=_struct(request.chat_template_kwargs),
        request_id=request_id,
        parallel_tool_calls=None if request.parallel_tool_calls else False,
    )
    if isinstance(request.tool_choice, str):
        generate.tool_choice.mode = request.tool_choice
    elif request.tool_choice:
        generate.tool_choice.function_name = request.tool_choice["function"]["name"]
    if request.response_format:
        json_format.ParseDict(request.response_format, generate.response_format, ignore_unknown_fields=True)
    if request.structured_outputs:
        json_format.ParseDict(request.structured_outputs, generate.structured_outputs, ignore_unknown_fields=True)
    return generate


def to_delta(message: pb.GenerateResponse) -> Delta:
    delta = Delta(
        index=message.index,
        content=message.content,
        reasoning=message.reasoning_content,
        tool_calls=[
            ToolCallPiece(
                index=t.index,
                id=t.id if t.HasField("id") else None,
                name=t.function.name if t.function.HasField("name") else None,
                arguments=t.function.arguments,
            )
            for t in message.tool_calls
        ],
        finish_reason=_FINISH.get(message.finish_reason),
    )
    if message.logprobs:
        delta.logprobs = [
            TokenLogprob(
                lp.token,
                lp.logprob,
                tuple(lp.bytes),
                tuple(TopLogprob(t.token, t.logprob, tuple(t.bytes)) for t in lp.top_logprobs),
            )
            for lp in message.logprobs
        ]
    if message.HasField("usage"):
        u = message.usage
        delta.usage = Usage(
            u.prompt_tokens,
            u.completion_tokens,
            u.prompt_tokens_details.cached_tokens,
            u.completion_tokens_details.reasoning_tokens,
        )
    return delta
