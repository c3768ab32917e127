"""What a project's API keys may use, enforced on the chat service's request path with no round trip on it:
every project's controls (rate limits per model, model permissions, web search) are kept in memory,
loaded from the auth service at start and refreshed by asking for what changed since the last version
every `poll_seconds` (jan.v1.ProjectControlsService/ListProjectControlsChanges), so a change reaches every
replica within about a second. A project auth never named has the defaults: no limits, every model, web
search on. Sessions (no project) are governed by the per-user limits at the gateway, not by these.

`Governance.admit` is the one check a request passes before it runs: the model (a refused one is "not
found", as OpenAI answers), web search, then the rate limits (rate_limits.py, counted across replicas).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field

import grpc

from jan.v1 import project_controls_service_pb2 as pb
from jan.v1 import project_controls_service_pb2_grpc
from services.chat.rate_limits import Limits, RateLimiter
from services.common.errors import JanError, NotFound, PermissionDenied
from services.common.grpc_errors import from_rpc_error
from services.common.identity import Caller

log = logging.getLogger(__name__)
_TIMEOUT_SECONDS = 10


@dataclass(frozen=True, slots=True)
class Controls:
    rate_limits: dict[str, Limits] = field(default_factory=dict)  # by model
    model_mode: str = ""  # "allow_list", "deny_list", or "": every model
    model_ids: frozenset[str] = frozenset()
    web_search: bool = True

    def allows_model(self, model: str) -> bool:
        if self.model_mode == "allow_list":
            return model in self.model_ids
        if self.model_mode == "deny_list":
            return model not in self.model_ids
        return True


DEFAULT = Controls()


def _controls(message: pb.ProjectControls) -> Controls:
    limits = {
        r.model: Limits(r.max_requests_per_1_minute, r.max_tokens_per_1_minute, r.max_requests_per_1_day)
        for r in message.rate_limits
    }
    return Controls(limits, message.model_mode, frozenset(message.model_ids), message.web_search_enabled)


class ProjectControls:
    """Every project's controls, kept current by polling the auth service."""

    def __init__(self, channel: grpc.aio.Channel, poll_seconds: float) -> None:
        self._stub = project_controls_service_pb2_grpc.ProjectControlsServiceStub(channel)
        self._poll_seconds = poll_seconds
        self._projects: dict[str, Controls] = {}
        self._version = 0
        self._task: asyncio.Task[None] | None = None

    def of(self, project_id: str) -> Controls:
        return self._projects.get(project_id, DEFAULT)

    async def refresh(self) -> None:
        """Applies what changed since the last version (everything, the first time)."""
        try:
            answer = await self._stub.ListProjectControlsChanges(
                pb.ListProjectControlsChangesRequest(after_version=self._version), timeout=_TIMEOUT_SECONDS
            )
        except grpc.aio.AioRpcError as exc:
            raise from_rpc_error(exc) from None
        for project in answer.projects:
            self._projects[project.project_id] = _controls(project)
        self._version = answer.version

    async def start(self) -> None:
        self._task = asyncio.create_task(self._poll())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _poll(self) -> None:
        failing = False
        while True:
            try:
                await self.refresh()
                if failing:
                    log.info("project controls are current again")
                failing = False
            except JanError as error:
                if not failing:  # once per outage; the last known controls stay in force meanwhile
                    log.warning("cannot read project controls from auth: %s", error.message)
                failing = True
            except Exception:  # a defect, not an outage: say so, and keep polling with the last known controls
                log.exception("reading project controls failed")
                failing = True
            await asyncio.sleep(self._poll_seconds)


class Governance:
    """The project controls and rate limits a request passes before it runs."""

    def __init__(self, controls: ProjectControls, limiter: RateLimiter) -> None:
        self.controls = controls
        self.limiter = limiter

    def admit(self, project: str, model: str, *, web_search_param: str | None = None) -> None:
        """Refuses (raises) what the caller's project ("" for a session: nothing to check) does not allow;
        counts the request against its limits. `web_search_param`: the request asks for web search, through
        this field."""
        if not project:
            return
        controls = self.controls.of(project)
        if not controls.allows_model(model):
            raise NotFound(
                f"The model '{model[:256]}' does not exist or you do not have access to it.",
                param="model",
                code="model_not_found",
            )
        if web_search_param is not None and not controls.web_search:
            raise PermissionDenied("web search is not enabled for this project", param=web_search_param)
        limits = controls.rate_limits.get(model)
        if limits is not None:
            self.limiter.admit(project, model, limits)

    def allows_web_search(self, caller: Caller) -> bool:
        return not caller.project_id or self.controls.of(caller.project_id).web_search

    def allows_model(self, project: str, model: str) -> bool:
        return not project or self.controls.of(project).allows_model(model)
