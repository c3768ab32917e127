"""gRPC servicer for jan.v1.InferenceService: converts protos to engine calls and back."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import grpc
from google.protobuf import json_format

from jan.v1 import inference_service_pb2 as pb
from jan.v1 import inference_service_pb2_grpc, types_pb2
from services.common.errors import Unavailable
from services.inference.base import Engine
from services.inference.domain import (
    GenerationDelta,
    GenerationRequest,
    SamplingOptions,
)

_FINISH = {"stop": pb.FINISH_REASON_STOP, "length": pb.FINISH_REASON_LENGTH, "tool_calls": pb.FINISH_REASON_TOOL_CALLS}


def _optional(message, name: str):
    return getattr(message, name) if message.HasField(name) else None


def to_generation_request(request: pb.GenerateRequest) -> GenerationRequest:
    s = request.sampling
    sampling = SamplingOptions(
        temperature=_optional(s, "temperature"),
        top_p=_optional(s, "top_p"),
        top_k=_optional(s, "top_k"),
        min_p=_optional(s, "min_p"),
        max_tokens=_optional(s, "max_tokens"),
        min_tokens=_optional(s, "min_tokens"),
        stop=list(s.stop),
        seed=_optional(s, "seed"),
        presence_penalty=_optional(s, "presence_penalty"),
        frequency_penalty=_optional(s, "frequency_penalty"),
        repetition_penalty=_optional(s, "repetition_penalty"),
        logprobs=s.logprobs,
        top_logprobs=_optional(s, "top_logprobs"),
        logit_bias=dict(s.logit_bias) or None,
        ignore_eos=s.ignore_eos or None,
        n=s.n if s.HasField("n") else 1,
    )
    choice = request.tool_choice.WhichOneof("choice")
    tool_choice = (
        request.tool_choice.mode
        if choice == "mode"
        else {"type": "function", "function": {"name": request.tool_choice.function_name}}
        if choice
        else None
    )

    def as_dict(message) -> dict:
        return json_format.MessageToDict(message, preserving_proto_field_name=True)

    return GenerationRequest(
        request_id=request.request_id or f"gen-{uuid.uuid4().hex}",
        model=request.model,
        messages=[as_dict(m) for m in request.messages],
        tools=[as_dict(t) for t in request.tools] or None,
        tool_choice=tool_choice,
        parallel_tool_calls=_optional(request, "parallel_tool_calls"),
        response_format=as_dict(request.response_format) if request.HasField("response_format") else None,
        structured_outputs=as_dict(request.structured_outputs) if request.HasField("structured_outputs") else None,
        chat_template_kwargs=as_dict(request.chat_template_kwargs)
        if request.HasField("chat_template_kwargs")
        else None,
        sampling=sampling,
    )


def to_response(delta: GenerationDelta) -> pb.GenerateResponse:
    response = pb.GenerateResponse(
        index=delta.index,
        content=delta.content,
        reasoning_content=delta.reasoning_content,
        tool_calls=[
            types_pb2.ToolCallDelta(
                index=t.index,
                id=t.id,
                type="function" if t.id else None,
                function=types_pb2.FunctionCallDelta(name=t.name, arguments=t.arguments),
            )
            for t in delta.tool_calls
        ],
        logprobs=[
            types_pb2.TokenLogprob(
                token=lp.token,
                logprob=lp.logprob,
                bytes=lp.bytes or [],
                top_logprobs=[
                    types_pb2.TopLogprob(token=t.token, logprob=t.logprob, bytes=t.bytes or []) for t in lp.top_logprobs
                ],
            )
            for lp in delta.logprobs
        ],
        finish_reason=_FINISH.get(delta.finish_reason or "", pb.FINISH_REASON_UNSPECIFIED),
    )
    if delta.usage is not None:
        u = delta.usage
        response.usage.CopyFrom(
            types_pb2.Usage(
                prompt_tokens=u.prompt_tokens,
                completion_tokens=u.completion_tokens,
                total_tokens=u.total_tokens,
                completion_tokens_details=types_pb2.CompletionTokensDetails(reasoning_tokens=u.reasoning_tokens),
            )
        )
    return response


class InferenceServicer(inference_service_pb2_grpc.InferenceServiceServicer):
    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self.ready = False  # set by the server once the engine has loaded

    def _require_ready(self) -> None:
        if self._engine.dead_error is not None:
            raise Unavailable("the inference engine has stopped; the service is restarting it")
        if not self.ready:
            raise Unavailable("the model is still loading")

    async def ListModels(
        self, request: pb.InferenceServiceListModelsRequest, context: grpc.aio.ServicerContext
    ) -> pb.InferenceServiceListModelsResponse:
        self._require_ready()
        return pb.InferenceServiceListModelsResponse(
            models=[
                pb.ServedModel(
                    id=m.id,
                    root=getattr(m, "root", "") or m.id,
                    max_model_len=m.max_model_len,
                    created=m.created,
                    owned_by=m.owned_by,
                    running_requests=self._engine.num_running_requests(),
                )
                for m in self._engine.models()
            ]
        )

    async def Generate(
        self, request: pb.GenerateRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[pb.GenerateResponse]:
        self._require_ready()
        generation = to_generation_request(request)
        # If the caller goes away, gRPC cancels this task; the engine's generator aborts the request.
        async for delta in self._engine.generate(generation):
            yield to_response(delta)

    async def GenerateWhole(
        self, request: pb.GenerateWholeRequest, context: grpc.aio.ServicerContext
    ) -> pb.GenerateWholeResponse:
        self._require_ready()
        # Cancelling the call cancels this task, and with it the engine request.
        answers = [to_response(a) for a in await self._engine.generate_whole(to_generation_request(request.request))]
        return pb.GenerateWholeResponse(response=answers[0], choices=answers if len(answers) > 1 else [])
