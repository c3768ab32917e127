"""Turns a bearer credential (an access JWT or an `sk-` API key) into a Principal, with cached lookups.

Warm path, no database: a JWT costs one HMAC check plus two dict lookups (the session's revocation state
and the user's roles); an API key costs one HMAC plus one lookup by digest (unknown digests are cached
too). See cache.py for how revocations reach these caches and how stale they can be.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from services.auth.cache import MISSING, Invalidations, TtlCache
from services.auth.domain import KeyRecord
from services.auth.invalidation import ApiKeyChanged, Invalidation, ProjectChanged, SessionChanged, UserChanged
from services.auth.key_last_used import KeyLastUsed
from services.auth.store import Store
from services.auth.tokens import AccessTokens, ApiKeySecrets
from services.common import errors
from services.common.identity import Caller


@dataclass(frozen=True)
class Principal:
    user_id: str
    org_id: str
    key_type: str  # "session", "project", "service_account" or "admin"
    key_id: str
    org_role: str | None = None
    project_id: str | None = None
    project_role: str | None = None
    projects: Mapping[str, str] = field(default_factory=dict)  # a session user's active projects and roles
    guest: bool = False  # a guest account's session

    def caller(self) -> Caller:
        return Caller(
            self.user_id,
            self.org_id,
            self.project_id,
            self.org_role,
            self.project_role,
            self.key_type,
            self.key_id,
            self.guest,
        )


@dataclass(frozen=True)
class _UserState:
    org_role: str | None
    projects: Mapping[str, str]
    guest: bool = False


class Authenticator:
    def __init__(
        self,
        store: Store,
        access_tokens: AccessTokens,
        key_secrets: ApiKeySecrets,
        org_id: str,
        hub: Invalidations,
        key_last_used: KeyLastUsed,
        ttl: float,
        max_entries: int,
    ) -> None:
        self._store = store
        self._tokens = access_tokens
        self._keys = key_secrets
        self._org_id = org_id
        self._hub = hub
        self._key_last_used = key_last_used
        self.sessions: TtlCache[str, tuple[str, bool] | None] = TtlCache(hub, ttl, max_entries)
        self.users: TtlCache[str, _UserState | None] = TtlCache(hub, ttl, max_entries)
        self.api_keys: TtlCache[bytes, KeyRecord | None] = TtlCache(hub, ttl, max_entries)
        hub.subscribe(self._invalidate)

    def _invalidate(self, event: Invalidation) -> None:
        match event:
            case SessionChanged(session_id):
                self.sessions.pop(session_id)
            case UserChanged(user_id):
                self.users.pop(user_id)
                self.sessions.drop_where(lambda _, v: v is not None and v[0] == user_id)
                self.api_keys.drop_where(lambda _, v: v is not None and v.user_id == user_id)
            case ApiKeyChanged(key_id):
                self.api_keys.drop_where(lambda _, v: v is not None and v.id == key_id)
            case ProjectChanged(project_id):
                self.users.clear()  # every user's project roles are one entry
                self.api_keys.drop_where(lambda _, v: v is not None and v.project_id == project_id)
            case _:  # Everything, or an event this code does not know
                self.sessions.clear()
                self.users.clear()
                self.api_keys.clear()

    async def authenticate(self, credential: str, project_id: str | None = None) -> Principal:
        """`project_id` is the project the caller asks to act in (OpenAI-Project header), if any."""
        if credential.startswith("sk-"):
            return await self._api_key(credential, project_id)
        return await self._session(credential, project_id)

    async def _session(self, token: str, project_id: str | None) -> Principal:
        claims = self._tokens.verify(token)
        session = self.sessions.get(claims.session_id)
        if session is MISSING:
            epoch = self._hub.epoch
            session = await self._store.session_state(claims.session_id)
            self.sessions.put(claims.session_id, session, epoch)
        if session is None or session[0] != claims.user_id or session[1]:
            raise errors.Unauthenticated("session has been revoked")
        user = await self._user_state(claims.user_id)
        if user is None or user.org_role is None:
            raise errors.Unauthenticated("account is not a member of the organization")
        project_id = project_id or claims.project_id
        if project_id and project_id not in user.projects:
            raise errors.PermissionDenied(f"not a member of project {project_id}")
        return Principal(
            claims.user_id,
            claims.org_id,
            "session",
            claims.session_id,
            user.org_role,
            project_id,
            user.projects.get(project_id) if project_id else None,
            user.projects,
            user.guest,
        )

    async def _user_state(self, user_id: str) -> _UserState | None:
        state = self.users.get(user_id)
        if state is MISSING:
            epoch = self._hub.epoch
            row = await self._store.principal(user_id, self._org_id)
            state = _UserState(row[0], row[2], row[1]) if row else None
            self.users.put(user_id, state, epoch)
        return state

    async def _api_key(self, key: str, project_id: str | None) -> Principal:
        digest = self._keys.digest(key)
        record = self.api_keys.get(digest)
        if record is MISSING:
            epoch = self._hub.epoch
            record = await self._store.key_by_digest(digest)
            self.api_keys.put(digest, record, epoch)
        if record is None:
            raise errors.Unauthenticated("Incorrect API key provided")
        if not record.usable:
            raise errors.Unauthenticated("API key has been revoked")
        if record.expires_at is not None and record.expires_at <= datetime.now(UTC):
            raise errors.Unauthenticated("API key has expired")
        if project_id and record.project_id and project_id != record.project_id:
            raise errors.PermissionDenied(f"API key does not belong to project {project_id}")
        self._key_last_used.touch(record.id)
        if record.kind == "service_account":
            user_id = record.service_account_id or ""
            return Principal(
                user_id, record.org_id, "service_account", record.id, None, record.project_id, record.project_role
            )
        return Principal(
            record.user_id or "",
            record.org_id,
            record.kind,
            record.id,
            record.org_role,
            record.project_id,
            record.project_role,
        )
