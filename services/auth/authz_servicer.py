"""Envoy's ext_authz Check, answered by the auth service for every request Envoy receives."""

from __future__ import annotations

import grpc
from envoy.service.auth.v3 import external_auth_pb2, external_auth_pb2_grpc
from google.rpc import code_pb2, status_pb2


class AuthorizationServicer(external_auth_pb2_grpc.AuthorizationServicer):
    """Allows every request for now; identity headers stay absent (Envoy's Lua step strips client copies)."""

    async def Check(
        self, request: external_auth_pb2.CheckRequest, context: grpc.aio.ServicerContext
    ) -> external_auth_pb2.CheckResponse:
        return external_auth_pb2.CheckResponse(
            status=status_pb2.Status(code=code_pb2.OK), ok_response=external_auth_pb2.OkHttpResponse()
        )
