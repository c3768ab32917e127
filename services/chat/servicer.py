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
from services.chat.conversations import Conversation, Conversations, Item, Page
from services.chat.domain import ChatRequest
from services.chat.requests import parse_chat_request, reject_unknown_fields
from services.common.errors import InvalidArgument, Unauthenticated
from services.common.identity import Caller, caller_from_metadata

BODY_KEYS_HEADER = "x-jan-body-keys"  # set by envoy/edge.lua: the top-level keys of the REST body
_PARAM_FIELDS = tuple(f.name for f in pb.ChatCompletionParams.DESCRIPTOR.fields)
_SSE_CONTENT_TYPE = "text/event-stream"


def _chat_request(params: pb.ChatCompletionParams, context: grpc.aio.ServicerContext, *, stream: bool) -> ChatRequest:
    for key, value in context.invocation_metadata() or ():
        if key == BODY_KEYS_HEADER and isinstance(value, str):
            reject_unknown_fields(value.split(","), _PARAM_FIELDS)
    body = json_format.MessageToDict(params, preserving_proto_field_name=True)
    return parse_chat_request(body, stream=stream)


def _caller(context: grpc.aio.ServicerContext) -> Caller:
    caller = caller_from_metadata(context.invocation_metadata())
    if not caller.authenticated:
        raise Unauthenticated("conversations belong to a user: call through the gateway with credentials")
    return caller


def _conversation_proto(conversation: Conversation) -> pb.Conversation:
    return pb.Conversation(
        id=conversation.id, object="conversation", created_at=conversation.created_at, metadata=conversation.metadata
    )


def _item_proto(item: Item) -> pb.ConversationItem:
    message = json_format.ParseDict(item.body, pb.ConversationItem(), ignore_unknown_fields=True)
    message.id, message.type, message.created_at = item.id, item.type, item.created_at
    return message


def _item_dicts(items) -> list[dict]:
    return [json_format.MessageToDict(i, preserving_proto_field_name=True) for i in items]


def _page_fields(page: Page) -> dict:
    ids = [x.id for x in page.data]
    return {
        "object": "list",
        "first_id": ids[0] if ids else None,
        "last_id": ids[-1] if ids else None,
        "has_more": page.has_more,
    }


class ChatServicer(chat_service_pb2_grpc.ChatServiceServicer):
    def __init__(self, completions: ChatCompletions, conversations: Conversations) -> None:
        self._completions = completions
        self._conversations = conversations

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

    async def CreateConversation(
        self, request: pb.CreateConversationRequest, context: grpc.aio.ServicerContext
    ) -> pb.Conversation:
        caller = _caller(context)
        conversation = await self._conversations.create(
            caller.user_id, caller.project_id, dict(request.metadata), _item_dicts(request.items)
        )
        return _conversation_proto(conversation)

    async def ListConversations(
        self, request: pb.ListConversationsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListConversationsResponse:
        page = await self._conversations.list(_caller(context).user_id, request.limit, request.after, request.order)
        return pb.ListConversationsResponse(data=[_conversation_proto(c) for c in page.data], **_page_fields(page))

    async def GetConversation(
        self, request: pb.GetConversationRequest, context: grpc.aio.ServicerContext
    ) -> pb.Conversation:
        return _conversation_proto(await self._conversations.get(_caller(context).user_id, request.conversation_id))

    async def UpdateConversation(
        self, request: pb.UpdateConversationRequest, context: grpc.aio.ServicerContext
    ) -> pb.Conversation:
        conversation = await self._conversations.update(
            _caller(context).user_id, request.conversation_id, dict(request.metadata)
        )
        return _conversation_proto(conversation)

    async def DeleteConversation(
        self, request: pb.DeleteConversationRequest, context: grpc.aio.ServicerContext
    ) -> pb.DeleteConversationResponse:
        await self._conversations.delete(_caller(context).user_id, request.conversation_id)
        return pb.DeleteConversationResponse(id=request.conversation_id, object="conversation.deleted", deleted=True)

    async def CreateConversationItems(
        self, request: pb.CreateConversationItemsRequest, context: grpc.aio.ServicerContext
    ) -> pb.CreateConversationItemsResponse:
        items = await self._conversations.add_items(
            _caller(context).user_id, request.conversation_id, _item_dicts(request.items)
        )
        page = Page(items, has_more=False)
        return pb.CreateConversationItemsResponse(data=[_item_proto(i) for i in items], **_page_fields(page))

    async def ListConversationItems(
        self, request: pb.ListConversationItemsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListConversationItemsResponse:
        page = await self._conversations.list_items(
            _caller(context).user_id, request.conversation_id, request.limit, request.after, request.order
        )
        return pb.ListConversationItemsResponse(data=[_item_proto(i) for i in page.data], **_page_fields(page))

    async def GetConversationItem(
        self, request: pb.GetConversationItemRequest, context: grpc.aio.ServicerContext
    ) -> pb.ConversationItem:
        item = await self._conversations.get_item(_caller(context).user_id, request.conversation_id, request.item_id)
        return _item_proto(item)

    async def DeleteConversationItem(
        self, request: pb.DeleteConversationItemRequest, context: grpc.aio.ServicerContext
    ) -> pb.Conversation:
        conversation = await self._conversations.delete_item(
            _caller(context).user_id, request.conversation_id, request.item_id
        )
        return _conversation_proto(conversation)
