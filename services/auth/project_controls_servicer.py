"""gRPC servicer for jan.v1.ProjectControlsService (rate limits, model and hosted tool permissions of a
project): a thin layer over project_controls.py, conversions in convert.py. Identity comes from the signed
x-jan-* metadata, as for the other admin RPCs (admin_servicer.py)."""

from __future__ import annotations

import grpc

from jan.v1 import project_controls_service_pb2 as pb
from jan.v1 import project_controls_service_pb2_grpc
from services.auth import convert
from services.auth.project_controls import UNAVAILABLE_TOOLS, ProjectControlsAdmin
from services.common import errors
from services.common.identity import Caller, caller_from_metadata

_UNAVAILABLE_LIMITS = ("max_images_per_1_minute", "max_audio_megabytes_per_1_minute", "batch_1_day_max_input_tokens")


def _optional(message: object, name: str) -> int | None:
    return getattr(message, name) if message.HasField(name) else None  # type: ignore[attr-defined]


class ProjectControlsServicer(project_controls_service_pb2_grpc.ProjectControlsServiceServicer):
    def __init__(self, controls: ProjectControlsAdmin, identity_secret: bytes) -> None:
        self._controls = controls
        self._identity_secret = identity_secret

    def _caller(self, context: grpc.aio.ServicerContext) -> Caller:
        return caller_from_metadata(context.invocation_metadata(), self._identity_secret)

    async def ListProjectRateLimits(
        self, request: pb.ListProjectRateLimitsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListProjectRateLimitsResponse:
        limits = await self._controls.rate_limits(self._caller(context), request.project_id)
        data = [convert.rate_limit(limit) for limit in limits]
        if request.after:
            data = data[next((i + 1 for i, d in enumerate(data) if d.id == request.after), len(data)) :]
        if request.before:
            data = data[: next((i for i, d in enumerate(data) if d.id == request.before), len(data))]
        size = request.limit if request.limit > 0 else 100
        page = data[:size]
        return pb.ListProjectRateLimitsResponse(
            object="list",
            data=page,
            first_id=page[0].id if page else "",
            last_id=page[-1].id if page else "",
            has_more=len(data) > size,
        )

    async def UpdateProjectRateLimit(
        self, request: pb.UpdateProjectRateLimitRequest, context: grpc.aio.ServicerContext
    ) -> pb.ProjectRateLimit:
        for name in _UNAVAILABLE_LIMITS:
            if request.HasField(name):
                raise errors.InvalidArgument(f"{name} does not apply to the models served here", param=name)
        limit = await self._controls.update_rate_limit(
            self._caller(context),
            request.project_id,
            request.rate_limit_id,
            _optional(request, "max_requests_per_1_minute"),
            _optional(request, "max_tokens_per_1_minute"),
            _optional(request, "max_requests_per_1_day"),
        )
        return convert.rate_limit(limit)

    async def GetProjectModelPermissions(
        self, request: pb.GetProjectModelPermissionsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ProjectModelPermissions:
        return convert.model_permissions(
            await self._controls.model_permissions(self._caller(context), request.project_id)
        )

    async def UpdateProjectModelPermissions(
        self, request: pb.UpdateProjectModelPermissionsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ProjectModelPermissions:
        if not request.mode:
            raise errors.InvalidArgument("mode is required: 'allow_list' or 'deny_list'", param="mode")
        controls = await self._controls.set_model_permissions(
            self._caller(context), request.project_id, request.mode, list(request.model_ids)
        )
        return convert.model_permissions(controls)

    async def DeleteProjectModelPermissions(
        self, request: pb.DeleteProjectModelPermissionsRequest, context: grpc.aio.ServicerContext
    ) -> pb.DeleteProjectModelPermissionsResponse:
        await self._controls.set_model_permissions(self._caller(context), request.project_id, None, [])
        return pb.DeleteProjectModelPermissionsResponse(object="project.model_permissions.deleted", deleted=True)

    async def GetProjectHostedToolPermissions(
        self, request: pb.GetProjectHostedToolPermissionsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ProjectHostedToolPermissions:
        return convert.hosted_tools(await self._controls.hosted_tools(self._caller(context), request.project_id))

    async def UpdateProjectHostedToolPermissions(
        self, request: pb.UpdateProjectHostedToolPermissionsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ProjectHostedToolPermissions:
        others = {tool: getattr(request, tool).enabled for tool in UNAVAILABLE_TOOLS if request.HasField(tool)}
        web_search = request.web_search.enabled if request.HasField("web_search") else None
        controls = await self._controls.set_hosted_tools(self._caller(context), request.project_id, web_search, others)
        return convert.hosted_tools(controls)

    async def ListProjectControlsChanges(
        self, request: pb.ListProjectControlsChangesRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListProjectControlsChangesResponse:
        version, changed = await self._controls.changes_after(request.after_version)
        return pb.ListProjectControlsChangesResponse(
            version=version, projects=[convert.project_controls(c) for c in changed]
        )
