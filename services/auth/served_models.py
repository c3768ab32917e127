"""The auth service's one call to the inference service: which models are served (a project's rate limits
list one per served model)."""

from __future__ import annotations

import grpc

from jan.v1 import inference_service_pb2 as pb
from jan.v1 import inference_service_pb2_grpc
from services.common.grpc_errors import from_rpc_error

_TIMEOUT_SECONDS = 10


class InferenceModels:
    def __init__(self, channel: grpc.aio.Channel) -> None:
        self._stub = inference_service_pb2_grpc.InferenceServiceStub(channel)

    async def ids(self) -> list[str]:
        try:
            response = await self._stub.ListModels(pb.InferenceServiceListModelsRequest(), timeout=_TIMEOUT_SECONDS)
        except grpc.aio.AioRpcError as exc:
            raise from_rpc_error(exc) from None
        return [model.id for model in response.models]
