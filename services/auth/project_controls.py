"""What a project's API keys may use, in OpenAI's admin API shapes: rate limits per served model, model
permissions (an allow list or a deny list) and hosted tool permissions (web search is the hosted tool this
server has). Organization owners manage them; the chat service enforces them (services/chat/controls.py),
polling `changes_after` every second.

The rate limits list has one entry per served model (the inference service's list, cached), with 0 for
"no limit" where none was set; a limit for a model no longer served keeps its row and shows again if the
model comes back.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from services.auth import audit
from services.auth.domain import ProjectControls, RateLimit
from services.auth.rights import project_access, require_org_owner
from services.auth.store import Store
from services.common import errors
from services.common.identity import Caller

RATE_LIMIT_PREFIX = "rl-"
MODEL_MODES = ("allow_list", "deny_list")
UNAVAILABLE_TOOLS = ("file_search", "image_generation", "mcp", "code_interpreter")
_MAX_LIMIT = 2**31 - 1
_MAX_MODEL_IDS = 1000


class ServedModels:
    """The served model ids, from the inference service, kept `ttl_seconds`."""

    def __init__(self, fetch: Callable[[], Awaitable[list[str]]], ttl_seconds: float = 30.0) -> None:
        self._fetch = fetch
        self._ttl = ttl_seconds
        self._models: list[str] = []
        self._at = float("-inf")

    async def ids(self) -> list[str]:
        if time.monotonic() - self._at > self._ttl:
            try:
                self._models, self._at = await self._fetch(), time.monotonic()
            except errors.JanError:
                if not self._models:
                    raise
        return self._models


class ProjectControlsAdmin:
    def __init__(self, store: Store, org_id: str, served_models: ServedModels) -> None:
        self._store = store
        self._org_id = org_id
        self._served = served_models

    async def _project(self, caller: Caller, project_id: str, *, change: bool = False) -> None:
        require_org_owner(caller)
        await project_access(self._store, self._org_id, caller, project_id, manage=True, mutate=change)

    # -- rate limits ---------------------------------------------------------------------------------
    async def rate_limits(self, caller: Caller, project_id: str) -> list[RateLimit]:
        """One per served model, ordered by model."""
        await self._project(caller, project_id)
        stored = {limit.model: limit for limit in (await self._store.project_controls(project_id)).rate_limits}
        return [stored.get(model, RateLimit(model)) for model in sorted(await self._served.ids())]

    async def update_rate_limit(
        self,
        caller: Caller,
        project_id: str,
        rate_limit_id: str,
        rpm: int | None,
        tpm: int | None,
        rpd: int | None,
    ) -> RateLimit:
        await self._project(caller, project_id, change=True)
        model = rate_limit_id.removeprefix(RATE_LIMIT_PREFIX)
        if not rate_limit_id.startswith(RATE_LIMIT_PREFIX) or model not in await self._served.ids():
            raise errors.NotFound(f"No rate limit found with id '{rate_limit_id[:128]}'", param="rate_limit_id")
        asked = {"max_requests_per_1_minute": rpm, "max_tokens_per_1_minute": tpm, "max_requests_per_1_day": rpd}
        changes = {name: value for name, value in asked.items() if value is not None}
        for name, value in changes.items():
            if not 0 <= value <= _MAX_LIMIT:
                raise errors.InvalidArgument(f"{name} must be between 0 (no limit) and {_MAX_LIMIT}", param=name)
        event = audit.rate_limit_updated(audit.actor_of(caller), rate_limit_id, project_id, changes)
        async with self._store.transaction() as tx:  # the store's own transaction nests as a savepoint
            limit = await tx.update_rate_limit(project_id, model, rpm, tpm, rpd)
            await tx.record_audit_event(self._org_id, event)
        return limit

    # -- model permissions ---------------------------------------------------------------------------
    async def model_permissions(self, caller: Caller, project_id: str) -> ProjectControls:
        await self._project(caller, project_id)
        return await self._store.project_controls(project_id)

    async def set_model_permissions(
        self, caller: Caller, project_id: str, mode: str | None, model_ids: list[str]
    ) -> ProjectControls:
        """`mode` None deletes them (every model again)."""
        await self._project(caller, project_id, change=True)
        if mode is not None and mode not in MODEL_MODES:
            raise errors.InvalidArgument("mode must be 'allow_list' or 'deny_list'", param="mode")
        if len(model_ids) > _MAX_MODEL_IDS or any(not m or len(m) > 256 for m in model_ids):
            raise errors.InvalidArgument(
                f"model_ids must hold at most {_MAX_MODEL_IDS} ids of 1 to 256 characters", param="model_ids"
            )
        ids = tuple(dict.fromkeys(model_ids)) if mode is not None else ()
        await self._store.set_model_permissions(project_id, mode, ids)
        return await self._store.project_controls(project_id)

    # -- hosted tools --------------------------------------------------------------------------------
    async def hosted_tools(self, caller: Caller, project_id: str) -> ProjectControls:
        await self._project(caller, project_id)
        return await self._store.project_controls(project_id)

    async def set_hosted_tools(
        self, caller: Caller, project_id: str, web_search: bool | None, others: dict[str, bool]
    ) -> ProjectControls:
        """`others`: the tools this server does not have; turning one on is refused by name."""
        await self._project(caller, project_id, change=True)
        for tool, enabled in others.items():
            if enabled:
                raise errors.InvalidArgument(f"{tool} is not available on this server", param=tool)
        if web_search is not None:
            await self._store.set_web_search(project_id, web_search)
        return await self._store.project_controls(project_id)

    # -- the chat service's poll ---------------------------------------------------------------------
    async def changes_after(self, version: int) -> tuple[int, list[ProjectControls]]:
        return await self._store.controls_changed_after(version)
