"""gRPC servicer for jan.v1.ResponsesService: a thin layer over the Responses domain (responses.py); the
JSON bodies and events are rendered by convert.py."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import grpc
from google.api import httpbody_pb2

from jan.v1 import responses_service_pb2 as pb
from jan.v1 import responses_service_pb2_grpc, types_pb2
from services.chat import convert
from services.chat.domain import Owner
from services.chat.responses import Responses
from services.chat.responses_output import Event
from services.chat.servicer import caller_of, check_body_keys, owner_of
from services.common.errors import InvalidArgument, JanError

log = logging.getLogger(__name__)


async def _with_error_event(events: AsyncIterator[Event]) -> AsyncIterator[Event]:
    """The events; a failure after the first one ends the stream with an `error` event (before it, the call
    fails with its status, which the gateway answers as an OpenAI error)."""
    last = -1
    try:
        async for event in events:
            last = event["sequence_number"]
            yield event
    except Exception as error:
        if last < 0:
            raise
        if not isinstance(error, JanError):
            log.exception("a response stream broke")
            error = JanError("the stream broke; retrieve the response to see how it ended")
        yield convert.error_event(error, last + 1)


class ResponsesServicer(responses_service_pb2_grpc.ResponsesServiceServicer):
    def __init__(self, responses: Responses, identity_secret: bytes) -> None:
        self._responses = responses
        self._identity_secret = identity_secret

    def _owner(self, context: grpc.aio.ServicerContext) -> Owner:
        return owner_of(caller_of(context, self._identity_secret))

    def _caller(self, context: grpc.aio.ServicerContext) -> tuple[Owner, types_pb2.Attribution]:
        caller = caller_of(context, self._identity_secret)
        return owner_of(caller), convert.attribution(caller)

    def _params(self, params: pb.ResponseParams, context: grpc.aio.ServicerContext) -> pb.ResponseParams:
        check_body_keys(context, convert.RESPONSE_PARAM_FIELDS)
        return params

    async def CreateResponse(
        self, request: pb.CreateResponseRequest, context: grpc.aio.ServicerContext
    ) -> httpbody_pb2.HttpBody:
        params = self._params(request.params, context)
        if params.stream:
            raise InvalidArgument(
                "stream=true needs StreamResponse (REST clients: POST /v1/responses with stream true is routed "
                "there by the gateway)",
                param="stream",
            )
        return convert.response_body(await self._responses.create(params, *self._caller(context)))

    def _events(self, params: pb.ResponseParams, context: grpc.aio.ServicerContext) -> AsyncIterator[Event]:
        return _with_error_event(self._responses.stream(self._params(params, context), *self._caller(context)))

    async def StreamResponse(
        self, request: pb.StreamResponseRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[httpbody_pb2.HttpBody]:
        async for event in self._events(request.params, context):
            yield convert.response_sse(event)

    async def StreamResponseEvents(
        self, request: pb.StreamResponseEventsRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[pb.ResponseEvent]:
        async for event in self._events(request.params, context):
            yield convert.response_event(event)

    async def GetResponse(
        self, request: pb.GetResponseRequest, context: grpc.aio.ServicerContext
    ) -> httpbody_pb2.HttpBody:
        return convert.response_body(await self._responses.stored.retrieve(request.response_id, self._owner(context)))

    async def StreamStoredResponse(
        self, request: pb.StreamStoredResponseRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[httpbody_pb2.HttpBody]:
        after = request.starting_after if request.HasField("starting_after") else -1
        events = self._responses.stored.follow(request.response_id, self._owner(context), after)
        async for event in _with_error_event(events):
            yield convert.response_sse(event)

    async def DeleteResponse(
        self, request: pb.DeleteResponseRequest, context: grpc.aio.ServicerContext
    ) -> pb.DeleteResponseResponse:
        await self._responses.stored.delete(request.response_id, self._owner(context))
        return pb.DeleteResponseResponse(id=request.response_id, object="response.deleted", deleted=True)

    async def CancelResponse(
        self, request: pb.CancelResponseRequest, context: grpc.aio.ServicerContext
    ) -> httpbody_pb2.HttpBody:
        return convert.response_body(await self._responses.stored.cancel(request.response_id, self._owner(context)))

    async def ListResponseInputItems(
        self, request: pb.ListResponseInputItemsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ResponseItemList:
        limit = request.limit if request.HasField("limit") else None
        page = await self._responses.stored.input_items(
            request.response_id, self._owner(context), limit, request.after, request.order
        )
        return convert.response_item_list(page.data, page.has_more)

    async def CountResponseInputTokens(
        self, request: pb.CountResponseInputTokensRequest, context: grpc.aio.ServicerContext
    ) -> pb.CountResponseInputTokensResponse:
        params = self._params(request.params, context)
        tokens = await self._responses.count_input_tokens(params, self._owner(context))
        return pb.CountResponseInputTokensResponse(object="response.input_tokens", input_tokens=tokens)
