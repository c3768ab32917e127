"""gRPC servicer for Envoy's ext_authz Authorization service (envoy.service.auth.v3), for Envoys configured
to ask over gRPC; the default asks over HTTP (authz_http.py). The decision is authz.py's."""

from __future__ import annotations

import grpc
from envoy.service.auth.v3 import external_auth_pb2, external_auth_pb2_grpc

from services.auth.authz import Authorizer


class AuthorizationServicer(external_auth_pb2_grpc.AuthorizationServicer):
    def __init__(self, authorizer: Authorizer) -> None:
        self._authorizer = authorizer

    async def Check(
        self, request: external_auth_pb2.CheckRequest, context: grpc.aio.ServicerContext
    ) -> external_auth_pb2.CheckResponse:
        return await self._authorizer.check(request)
