"""gRPC servicer for jan.v1.ChatService: converts protos to domain calls and back."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import grpc
from google.api import httpbody_pb2
from google.protobuf import json_format

from jan.v1 import chat_service_pb2 as pb
from jan.v1 import chat_service_pb2_grpc
from services.chat import render
from services.chat.completions import ChatCompletions, new_completion_id
from services.chat.domain import ChatRequest
from services.chat.requests import parse_chat_request, reject_unknown_fields
from services.common.errors import InvalidArgument

BODY_KEYS_HEADER = "x-jan-body-keys"  # set by envoy/edge.lua: the top-level keys of the REST body
_PARAM_FIELDS = tuple(f.name for f in pb.ChatCompletionParams.DESCRIPTOR.fields)
_SSE_CONTENT_TYPE = "text/event-stream"


def _chat_request(params: pb.ChatCompletionParams, context: grpc.aio.ServicerContext, *, stream: bool) -> ChatRequest:
    for key, value in context.invocation_metadata() or ():
        if key == BODY_KEYS_HEADER and isinstance(value, str):
            reject_unknown_fields(value.split(","), _PARAM_FIELDS)
    body = json_format.MessageToDict(params, preserving_proto_field_name=True)
    return parse_chat_request(body, stream=stream)


class ChatServicer(chat_service_pb2_grpc.ChatServiceServicer):
    def __init__(self, completions: ChatCompletions) -> None:
        self._completions = completions

    async def ListModels(
        self, request: pb.ListModelsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListModelsResponse:
        return pb.ListModelsResponse(
            object="list", data=[render.model_to_proto(m) for m in await self._completions.models()]
        )

    async def GetModel(self, request: pb.GetModelRequest, context: grpc.aio.ServicerContext) -> pb.Model:
        return render.model_to_proto(await self._completions.model(request.model))

    async def CreateChatCompletion(
        self, request: pb.CreateChatCompletionRequest, context: grpc.aio.ServicerContext
    ) -> pb.CreateChatCompletionResponse:
        if request.params.stream:
            raise InvalidArgument(
                "stream=true needs StreamChatCompletion (REST clients: POST /v1/chat/completions "
                "with stream true is routed there by the gateway)",
                param="stream",
            )
        chat = _chat_request(request.params, context, stream=False)
        return render.completion_to_proto(await self._completions.complete(chat))

    async def StreamChatCompletion(
        self, request: pb.StreamChatCompletionRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[pb.StreamChatCompletionResponse]:
        chat = _chat_request(request.params, context, stream=True)
        completion_id, created = new_completion_id(), int(time.time())
        async for event in self._completions.stream(chat, completion_id):
            yield render.event_to_proto(event, completion_id, created, chat.model)

    async def StreamChatCompletionEvents(
        self, request: pb.StreamChatCompletionEventsRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[httpbody_pb2.HttpBody]:
        chat = _chat_request(request.params, context, stream=True)
        completion_id, created = new_completion_id(), int(time.time())
        failed = False
        async for event in self._completions.stream(chat, completion_id):
            data = render.event_to_sse(event, completion_id, created, chat.model, chat.include_usage)
            failed = event.kind == "error"
            yield httpbody_pb2.HttpBody(content_type=_SSE_CONTENT_TYPE, data=data)
        if not failed:  # after an in-band error the stream just ends, as OpenAI's does
            yield httpbody_pb2.HttpBody(content_type=_SSE_CONTENT_TYPE, data=render.SSE_DONE)
