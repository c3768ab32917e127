"""API keys and service accounts: project keys (owned by a member), service-account keys, admin keys.

A key's secret exists only in the response that created it; the database keeps its HMAC digest and a
redacted hint. Revoking, re-dating or orphaning a key invalidates the authz caches everywhere. Every change
is recorded in the audit log in its transaction (audit.py).
Project members see and manage their own keys; project owners and organization owners see all of them.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from services.auth import audit, tokens
from services.auth.domain import ApiKey, Page, ServiceAccount
from services.auth.invalidation import ApiKeyChanged, ProjectChanged
from services.auth.rights import ProjectAccess, project_access, require_org_owner
from services.auth.store import Store
from services.auth.validation import (
    MAX_NAME_CHARS,
    check_expires_in,
    check_order,
    check_role,
    page_limit,
    required_name,
)
from services.common import errors
from services.common.identity import Caller

PROJECT_KINDS = ("project", "service_account")
ADMIN_KINDS = ("admin",)


def _expiry(expires_in_seconds: int | None) -> datetime | None:
    if expires_in_seconds is None:
        return None
    return datetime.now(UTC) + timedelta(seconds=check_expires_in(expires_in_seconds))


class ApiKeys:
    def __init__(self, store: Store, secrets: tokens.ApiKeySecrets, org_id: str) -> None:
        self._store = store
        self._secrets = secrets
        self.org_id = org_id

    async def _access(self, caller: Caller, project_id: str, *, manage: bool, mutate: bool = False) -> ProjectAccess:
        return await project_access(self._store, self.org_id, caller, project_id, manage=manage, mutate=mutate)

    async def _mint(
        self,
        tx: Store,
        kind: str,
        name: str,
        project_id: str | None,
        user_id: str | None,
        sa_id: str | None,
        expires_at: datetime | None,
    ) -> tuple[str, str]:
        key_id, value = tokens.new_id("key"), self._secrets.new_key(kind)
        await tx.insert_api_key(
            key_id,
            kind,
            self.org_id,
            name,
            self._secrets.digest(value),
            self._secrets.redact(value),
            project_id,
            user_id,
            sa_id,
            expires_at,
        )
        return key_id, value

    async def _revoke(self, caller: Caller, key_id: str, project_id: str | None) -> None:
        async with self._store.transaction() as tx:
            await tx.revoke_api_key(key_id)
            await tx.invalidate(ApiKeyChanged(key_id))
            await self._record(tx, audit.api_key_deleted(audit.actor_of(caller), key_id, project_id))

    async def _record(self, tx: Store, *events: audit.AuditEvent) -> None:
        for event in events:
            await tx.record_audit_event(self.org_id, event)

    # -- project keys --------------------------------------------------------------------------------
    async def create_project_key(
        self, caller: Caller, project_id: str, name: str, expires_in_seconds: int | None
    ) -> ApiKey:
        """A key owned by the caller, who must be a member of the project."""
        access = await self._access(caller, project_id, manage=False, mutate=True)
        if access.role is None:
            raise errors.FailedPrecondition("you are not a member of this project; add yourself to it first")
        async with self._store.transaction() as tx:
            key_id, value = await self._mint(
                tx,
                "project",
                name.strip() or "Secret key",
                project_id,
                caller.user_id,
                None,
                _expiry(expires_in_seconds),
            )
            await self._record(tx, audit.api_key_created(audit.actor_of(caller), key_id, project_id))
        key = await self._store.api_key(project_id, PROJECT_KINDS, key_id)
        assert key is not None
        return replace(key, value=value)

    async def list_project_keys(self, caller: Caller, project_id: str, limit: int, after: str) -> Page[ApiKey]:
        access = await self._access(caller, project_id, manage=False)
        owner = None if access.manages else caller.user_id
        return await self._store.list_api_keys(project_id, PROJECT_KINDS, page_limit(limit), after, owner_user_id=owner)

    async def get_project_key(self, caller: Caller, project_id: str, key_id: str) -> ApiKey:
        access = await self._access(caller, project_id, manage=False)
        key = await self._store.api_key(project_id, PROJECT_KINDS, key_id)
        if key is None or not (access.manages or (key.owner and key.owner.id == caller.user_id)):
            raise errors.NotFound(f"No API key found with id '{key_id}'", param="api_key_id")
        return key

    async def modify_project_key(
        self, caller: Caller, project_id: str, key_id: str, expires_in_seconds: int | None
    ) -> ApiKey:
        key = await self.get_project_key(caller, project_id, key_id)
        if key.expires_at and key.expires_at <= datetime.now(UTC):
            raise errors.FailedPrecondition("an expired API key cannot be updated")
        if expires_in_seconds is not None:
            async with self._store.transaction() as tx:
                await tx.set_api_key_expiry(key_id, _expiry(expires_in_seconds))
                await tx.invalidate(ApiKeyChanged(key_id))
                await self._record(tx, audit.api_key_updated(audit.actor_of(caller), key_id, project_id))
        return await self.get_project_key(caller, project_id, key_id)

    async def delete_project_key(self, caller: Caller, project_id: str, key_id: str) -> None:
        await self.get_project_key(caller, project_id, key_id)
        await self._revoke(caller, key_id, project_id)

    # -- service accounts ----------------------------------------------------------------------------
    async def create_service_account(
        self, caller: Caller, project_id: str, name: str, expires_in_seconds: int | None
    ) -> tuple[ServiceAccount, ApiKey]:
        await self._access(caller, project_id, manage=True, mutate=True)
        name = required_name(name)
        async with self._store.transaction() as tx:
            sa = await tx.insert_service_account(tokens.new_id("svc_acct"), project_id, name, "member")
            key_id, value = await self._mint(
                tx, "service_account", "Secret Key", project_id, None, sa.id, _expiry(expires_in_seconds)
            )
            actor = audit.actor_of(caller)
            await self._record(
                tx,
                audit.service_account_created(actor, sa.id, project_id, sa.role),
                audit.api_key_created(actor, key_id, project_id),
            )
        key = await self._store.api_key(project_id, PROJECT_KINDS, key_id)
        assert key is not None
        return sa, replace(key, value=value)

    async def list_service_accounts(
        self, caller: Caller, project_id: str, limit: int, after: str
    ) -> Page[ServiceAccount]:
        await self._access(caller, project_id, manage=True)
        return await self._store.list_service_accounts(project_id, page_limit(limit), after)

    async def get_service_account(self, caller: Caller, project_id: str, sa_id: str) -> ServiceAccount:
        await self._access(caller, project_id, manage=True)
        sa = await self._store.service_account(project_id, sa_id)
        if sa is None:
            raise errors.NotFound(f"No service account found with id '{sa_id}'", param="service_account_id")
        return sa

    async def modify_service_account(
        self, caller: Caller, project_id: str, sa_id: str, name: str | None, role: str | None
    ) -> ServiceAccount:
        await self._access(caller, project_id, manage=True, mutate=True)
        await self.get_service_account(caller, project_id, sa_id)
        if role is not None:
            check_role(role)
        async with self._store.transaction() as tx:
            await tx.update_service_account(project_id, sa_id, (name or "").strip()[:MAX_NAME_CHARS] or None, role)
            await tx.invalidate(ProjectChanged(project_id))  # its keys carry the role
            await self._record(tx, audit.service_account_updated(audit.actor_of(caller), sa_id, project_id, role))
        return await self.get_service_account(caller, project_id, sa_id)

    async def delete_service_account(self, caller: Caller, project_id: str, sa_id: str) -> None:
        await self.get_service_account(caller, project_id, sa_id)
        async with self._store.transaction() as tx:
            key_ids = await tx.delete_service_account(project_id, sa_id)
            await tx.invalidate(*(ApiKeyChanged(k) for k in key_ids))
            actor = audit.actor_of(caller)
            await self._record(
                tx,
                audit.service_account_deleted(actor, sa_id, project_id),
                *(audit.api_key_deleted(actor, k, project_id) for k in key_ids),
            )

    # -- admin keys ----------------------------------------------------------------------------------
    async def create_admin_key(self, caller: Caller, name: str, expires_in_seconds: int | None) -> ApiKey:
        user_id = require_org_owner(caller)
        async with self._store.transaction() as tx:
            key_id, value = await self._mint(
                tx, "admin", name.strip() or "Admin key", None, user_id, None, _expiry(expires_in_seconds)
            )
            await self._record(tx, audit.api_key_created(audit.actor_of(caller), key_id, None))
        return replace(await self.get_admin_key(caller, key_id), value=value)

    async def list_admin_keys(self, caller: Caller, limit: int, after: str, order: str) -> Page[ApiKey]:
        require_org_owner(caller)
        check_order(order)
        return await self._store.list_api_keys(
            self.org_id, ADMIN_KINDS, page_limit(limit), after, descending=order == "desc"
        )

    async def get_admin_key(self, caller: Caller, key_id: str) -> ApiKey:
        require_org_owner(caller)
        key = await self._store.api_key(self.org_id, ADMIN_KINDS, key_id)
        if key is None:
            raise errors.NotFound(f"No admin API key found with id '{key_id}'", param="key_id")
        return key

    async def delete_admin_key(self, caller: Caller, key_id: str) -> None:
        await self.get_admin_key(caller, key_id)
        await self._revoke(caller, key_id, None)
