"""gRPC servicer for jan.v1.UsageService: a thin layer over usage.py (organization owners only: the gateway's
access rule; the organization is the caller's)."""

from __future__ import annotations

import grpc
from google.api import httpbody_pb2

from jan.v1 import usage_service_pb2 as pb
from jan.v1 import usage_service_pb2_grpc
from services.chat import convert
from services.chat.servicer import caller_of
from services.chat.usage import Usage, UsageQuery
from services.common.errors import Unauthenticated


class UsageServicer(usage_service_pb2_grpc.UsageServiceServicer):
    def __init__(self, usage: Usage, identity_secret: bytes) -> None:
        self._usage = usage
        self._identity_secret = identity_secret

    async def GetCompletionsUsage(
        self, request: pb.GetCompletionsUsageRequest, context: grpc.aio.ServicerContext
    ) -> httpbody_pb2.HttpBody:
        caller = caller_of(context, self._identity_secret)
        if not caller.org_id:
            raise Unauthenticated("usage belongs to an organization: call with an owner's credentials")
        query = UsageQuery(
            start_time=request.start_time,
            end_time=request.end_time if request.HasField("end_time") else None,
            bucket_width=request.bucket_width,
            group_by=tuple(request.group_by),
            filters={
                "project_id": list(request.project_ids),
                "user_id": list(request.user_ids),
                "api_key_id": list(request.api_key_ids),
                "model": list(request.models),
            },
            limit=request.limit if request.HasField("limit") else None,
            page=request.page,
            batch_only=request.HasField("batch") and request.batch,
        )
        return convert.response_body(await self._usage.completions(caller.org_id, query))
