"""All of the auth service's SQL (schema `auth`), behind methods that return domain records.

A Store wraps a pool or, inside `transaction()`, one connection. `notify()` queues a cache invalidation
(NOTIFY jan_auth_invalidate) that PostgreSQL delivers to every replica when the transaction commits.
Lists are keyset-paginated on (time, id) and fetch one row more than asked to learn `has_more`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from typing import Any

import asyncpg

from services.auth.models import ApiKey, Invite, KeyRecord, Member, Page, Project, ServiceAccount, User

INVALIDATION_CHANNEL = "jan_auth_invalidate"

_USER = "u.id, u.email, u.name, u.is_guest, u.created_at"
_KEY = """k.id, k.kind, k.name, k.redacted_value, k.created_at, k.last_used_at, k.expires_at, k.project_id,
    u.id AS u_id, u.name AS u_name, coalesce(u.email, '') AS u_email, u.created_at AS u_created,
    coalesce(CASE WHEN k.kind = 'admin' THEN om.role ELSE pm.role END, '') AS u_role, pm.added_at AS u_added,
    s.id AS s_id, s.name AS s_name, s.role AS s_role, s.created_at AS s_created,
    (k.kind <> 'project' OR pm.role IS NOT NULL) AS access"""
_KEY_FROM = """auth.api_keys k
    LEFT JOIN auth.users u ON u.id = k.user_id
    LEFT JOIN auth.org_members om ON om.user_id = k.user_id AND om.org_id = k.org_id
    LEFT JOIN auth.project_members pm ON pm.user_id = k.user_id AND pm.project_id = k.project_id
    LEFT JOIN auth.service_accounts s ON s.id = k.service_account_id"""
_INVITE = """i.id, i.email, i.role, i.created_at, i.expires_at, i.accepted_at,
    coalesce((SELECT array_agg(ARRAY[ip.project_id, ip.role] ORDER BY ip.project_id)
              FROM auth.invite_projects ip WHERE ip.invite_id = i.id), '{}') AS projects"""


def _user(r: asyncpg.Record, role: str | None = None) -> User:
    return User(r["id"], r["email"], r["name"], r["is_guest"], r["created_at"], role)


def _member(r: asyncpg.Record) -> Member:
    return Member(r["id"], r["name"], r["email"] or "", r["role"], r["added_at"], r.get("created_at"))


def _sa(r: asyncpg.Record) -> ServiceAccount:
    return ServiceAccount(r["id"], r["project_id"], r["name"], r["role"], r["created_at"])


def _key(r: asyncpg.Record) -> ApiKey:
    owner = sa = None
    if r["u_id"]:
        owner = Member(
            r["u_id"], r["u_name"], r["u_email"], r["u_role"], r["u_added"] or r["u_created"], r["u_created"]
        )
    if r["s_id"]:
        sa = ServiceAccount(r["s_id"], r["project_id"], r["s_name"], r["s_role"], r["s_created"])
    return ApiKey(
        r["id"],
        r["kind"],
        r["name"],
        r["redacted_value"],
        r["created_at"],
        r["last_used_at"],
        r["expires_at"],
        r["project_id"],
        owner,
        sa,
        r["access"],
    )


def _invite(r: asyncpg.Record) -> Invite:
    projects = tuple((p[0], p[1]) for p in r["projects"])
    return Invite(r["id"], r["email"], r["role"], r["created_at"], r["expires_at"], r["accepted_at"], projects)


def _page(rows: Sequence[asyncpg.Record], limit: int, convert: Any) -> Page:
    return Page([convert(r) for r in rows[:limit]], len(rows) > limit)


class Store:
    def __init__(self, db: asyncpg.Pool | asyncpg.Connection) -> None:
        self._db = db

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Store]:
        if isinstance(self._db, asyncpg.Connection):
            async with self._db.transaction():
                yield self
            return
        async with self._db.acquire() as conn, conn.transaction():
            yield Store(conn)

    async def notify(self, *payloads: str) -> None:
        for payload in payloads:
            await self._db.execute("SELECT pg_notify($1, $2)", INVALIDATION_CHANNEL, payload)

    async def org_id(self) -> str:
        return await self._db.fetchval("SELECT id FROM auth.organizations ORDER BY created_at, id LIMIT 1")

    # -- users ---------------------------------------------------------------------------------------
    async def insert_user(
        self,
        user_id: str,
        email: str | None,
        name: str,
        is_guest: bool,
        password_hash: str | None = None,
        google_sub: str | None = None,
    ) -> User:
        r = await self._db.fetchrow(
            "INSERT INTO auth.users AS u (id, email, name, is_guest, password_hash, google_sub)"
            f" VALUES ($1, $2, $3, $4, $5, $6) RETURNING {_USER}",
            user_id,
            email,
            name,
            is_guest,
            password_hash,
            google_sub,
        )
        return _user(r)

    async def user(self, user_id: str, org_id: str, *, for_update: bool = False) -> User | None:
        lock = " FOR UPDATE OF u" if for_update else ""
        r = await self._db.fetchrow(
            f"SELECT {_USER}, m.role FROM auth.users u"
            f" LEFT JOIN auth.org_members m ON m.user_id = u.id AND m.org_id = $2 WHERE u.id = $1{lock}",
            user_id,
            org_id,
        )
        return _user(r, r["role"]) if r else None

    async def user_by_email(self, email: str, org_id: str) -> tuple[User, str | None] | None:
        """By the email's normal form (emails.canonical_email), compared exactly: SQL never folds case."""
        r = await self._db.fetchrow(
            f"SELECT {_USER}, u.password_hash, m.role FROM auth.users u"
            " LEFT JOIN auth.org_members m ON m.user_id = u.id AND m.org_id = $2 WHERE u.email = $1",
            email,
            org_id,
        )
        return (_user(r, r["role"]), r["password_hash"]) if r else None

    async def user_by_google_sub(self, sub: str, org_id: str) -> User | None:
        r = await self._db.fetchrow(
            f"SELECT {_USER}, m.role FROM auth.users u"
            " LEFT JOIN auth.org_members m ON m.user_id = u.id AND m.org_id = $2 WHERE u.google_sub = $1",
            sub,
            org_id,
        )
        return _user(r, r["role"]) if r else None

    async def update_user(
        self,
        user_id: str,
        *,
        email: str | None = None,
        name: str | None = None,
        password_hash: str | None = None,
        google_sub: str | None = None,
    ) -> None:
        """Sets the given fields (None keeps a field); any of them makes a guest a full account."""
        await self._db.execute(
            "UPDATE auth.users SET email = coalesce($2, email), name = coalesce($3, name),"
            " password_hash = coalesce($4, password_hash), google_sub = coalesce($5, google_sub),"
            " is_guest = is_guest AND $2::text IS NULL WHERE id = $1",
            user_id,
            email,
            name,
            password_hash,
            google_sub,
        )

    async def clear_password(self, user_id: str) -> None:
        await self._db.execute("UPDATE auth.users SET password_hash = NULL WHERE id = $1", user_id)

    async def revoke_user_credentials(self, user_id: str) -> None:
        """Ends every session (refresh tokens included) and API key of the user."""
        await self._db.execute(
            "UPDATE auth.sessions SET revoked_at = now() WHERE user_id = $1 AND revoked_at IS NULL", user_id
        )
        await self._db.execute(
            "UPDATE auth.api_keys SET revoked_at = now() WHERE user_id = $1 AND revoked_at IS NULL", user_id
        )

    async def set_org_role(self, org_id: str, user_id: str, role: str) -> None:
        await self._db.execute(
            "INSERT INTO auth.org_members (org_id, user_id, role) VALUES ($1, $2, $3)"
            " ON CONFLICT (org_id, user_id) DO UPDATE SET role = excluded.role",
            org_id,
            user_id,
            role,
        )

    async def principal(self, user_id: str, org_id: str) -> tuple[str | None, bool, dict[str, str]] | None:
        """(org role, is guest, {active project id: role}) for ext_authz, or None for an unknown user."""
        r = await self._db.fetchrow(
            "SELECT u.is_guest, m.role, coalesce((SELECT array_agg(ARRAY[pm.project_id, pm.role])"
            "   FROM auth.project_members pm JOIN auth.projects p ON p.id = pm.project_id AND p.archived_at IS NULL"
            "   WHERE pm.user_id = u.id), '{}') AS projects"
            " FROM auth.users u LEFT JOIN auth.org_members m ON m.user_id = u.id AND m.org_id = $2 WHERE u.id = $1",
            user_id,
            org_id,
        )
        return (r["role"], r["is_guest"], {p[0]: p[1] for p in r["projects"]}) if r else None

    # -- failed sign-ins -----------------------------------------------------------------------------
    async def login_failures(self, email: str, window_seconds: float) -> int:
        """Uncleared sign-in attempts for this (normal-form) email in its current window; 0 once it is over."""
        failures = await self._db.fetchval(
            "SELECT failures FROM auth.login_failures"
            " WHERE email = $1 AND window_start > now() - make_interval(secs => $2)",
            email,
            window_seconds,
        )
        return failures or 0

    async def count_login_attempt(self, email: str, window_seconds: float) -> tuple[int, float]:
        """Counts one attempt, in a new window if the last one is over, and returns (attempts in the window,
        this one included; seconds until the window ends). One statement: parallel attempts each see their
        own count, so no more of them than the limit get past it. Past windows are deleted first."""
        await self._db.execute(
            "DELETE FROM auth.login_failures WHERE window_start <= now() - make_interval(secs => $1)", window_seconds
        )
        r = await self._db.fetchrow(
            "INSERT INTO auth.login_failures AS f (email, failures, window_start) VALUES ($1, 1, now())"
            " ON CONFLICT (email) DO UPDATE SET"
            "  failures = CASE WHEN f.window_start > now() - make_interval(secs => $2) THEN f.failures + 1 ELSE 1 END,"
            "  window_start = CASE WHEN f.window_start > now() - make_interval(secs => $2)"
            "   THEN f.window_start ELSE now() END"
            " RETURNING failures,"
            "  extract(epoch FROM window_start + make_interval(secs => $2) - now())::float8 AS remaining",
            email,
            window_seconds,
        )
        return r["failures"], r["remaining"]

    async def clear_login_failures(self, email: str) -> None:
        await self._db.execute("DELETE FROM auth.login_failures WHERE email = $1", email)

    # -- proofs of ownership (bootstrap.py, accounts.py) ---------------------------------------------
    async def set_bootstrap_token(self, org_id: str, token_hash: bytes, *, replace: bool) -> bool:
        """Stores a new unused token; without `replace`, only if the organization has no unused one.
        True if stored. (Replicas starting together: the first insert wins, the others see it unused.)"""
        return (
            await self._db.fetchval(
                "INSERT INTO auth.bootstrap_tokens AS b (org_id, token_hash) VALUES ($1, $2)"
                " ON CONFLICT (org_id) DO UPDATE SET token_hash = excluded.token_hash, created_at = now(),"
                " used_at = NULL, used_by = NULL WHERE $3 OR b.used_at IS NOT NULL RETURNING true",
                org_id,
                token_hash,
                replace,
            )
            is not None
        )

    async def unused_bootstrap_token_since(self, org_id: str) -> datetime | None:
        return await self._db.fetchval(
            "SELECT created_at FROM auth.bootstrap_tokens WHERE org_id = $1 AND used_at IS NULL", org_id
        )

    async def retire_bootstrap_token(self, org_id: str) -> bool:
        """Deletes the unused token, if any; True if there was one."""
        deleted = await self._db.fetchval(
            "DELETE FROM auth.bootstrap_tokens WHERE org_id = $1 AND used_at IS NULL RETURNING true", org_id
        )
        return deleted is not None

    async def use_bootstrap_token(self, org_id: str, token_hash: bytes, user_id: str) -> bool:
        """Marks the token used by `user_id` if it is the unused one; concurrent callers: one wins."""
        used = await self._db.fetchval(
            "UPDATE auth.bootstrap_tokens SET used_at = now(), used_by = $3"
            " WHERE org_id = $1 AND token_hash = $2 AND used_at IS NULL RETURNING true",
            org_id,
            token_hash,
            user_id,
        )
        return used is not None

    async def record_admin_email_grant(self, org_id: str, email: str, user_id: str) -> bool:
        """True the first time for this email, False ever after."""
        granted = await self._db.fetchval(
            "INSERT INTO auth.admin_email_grants (org_id, email, user_id) VALUES ($1, $2, $3)"
            " ON CONFLICT DO NOTHING RETURNING true",
            org_id,
            email,
            user_id,
        )
        return granted is not None

    # -- organization members ------------------------------------------------------------------------
    _ORG_MEMBER = f"{_USER}, m.role, m.added_at FROM auth.org_members m JOIN auth.users u ON u.id = m.user_id"

    async def list_org_users(self, org_id: str, limit: int, after: str, emails: Sequence[str]) -> Page[Member]:
        rows = await self._db.fetch(
            f"SELECT {self._ORG_MEMBER} WHERE m.org_id = $1 AND NOT u.is_guest"
            " AND (cardinality($4::text[]) = 0 OR u.email = ANY($4::text[]))"
            " AND ($2 = '' OR (m.added_at, m.user_id) > (SELECT added_at, user_id FROM auth.org_members"
            "   WHERE org_id = $1 AND user_id = $2)) ORDER BY m.added_at, m.user_id LIMIT $3",
            org_id,
            after,
            limit + 1,
            list(emails),  # in their normal form (emails.canonical_email)
        )
        return _page(rows, limit, _member)

    async def org_user(self, org_id: str, user_id: str) -> Member | None:
        r = await self._db.fetchrow(
            f"SELECT {self._ORG_MEMBER} WHERE m.org_id = $1 AND m.user_id = $2", org_id, user_id
        )
        return _member(r) if r else None

    async def count_owners(self, org_id: str) -> int:
        return await self._db.fetchval(
            "SELECT count(*) FROM auth.org_members WHERE org_id = $1 AND role = 'owner'", org_id
        )

    async def remove_org_user(self, org_id: str, user_id: str) -> bool:
        """Removes the member with everything that let them in: project roles, sessions and API keys."""
        deleted = await self._db.fetchval(
            "DELETE FROM auth.org_members WHERE org_id = $1 AND user_id = $2 RETURNING user_id", org_id, user_id
        )
        if deleted:
            await self._db.execute("DELETE FROM auth.project_members WHERE user_id = $1", user_id)
            await self._db.execute(
                "UPDATE auth.sessions SET revoked_at = now() WHERE user_id = $1 AND revoked_at IS NULL", user_id
            )
            await self._db.execute(
                "UPDATE auth.api_keys SET revoked_at = now() WHERE user_id = $1 AND revoked_at IS NULL", user_id
            )
        return deleted is not None

    # -- sessions ------------------------------------------------------------------------------------
    async def insert_session(self, session_id: str, user_id: str, expires_at: datetime) -> None:
        await self._db.execute(
            "INSERT INTO auth.sessions (id, user_id, expires_at) VALUES ($1, $2, $3)", session_id, user_id, expires_at
        )

    async def insert_refresh_token(self, token_hash: bytes, session_id: str, expires_at: datetime) -> None:
        await self._db.execute(
            "INSERT INTO auth.refresh_tokens (token_hash, session_id, expires_at) VALUES ($1, $2, $3)",
            token_hash,
            session_id,
            expires_at,
        )
        await self._db.execute("UPDATE auth.sessions SET expires_at = $2 WHERE id = $1", session_id, expires_at)

    async def lock_refresh_token(self, token_hash: bytes) -> asyncpg.Record | None:
        """The token with its session, locked until the transaction ends (concurrent refreshes serialize)."""
        return await self._db.fetchrow(
            "SELECT t.session_id, t.expires_at, t.used_at, s.user_id, s.revoked_at FROM auth.refresh_tokens t"
            " JOIN auth.sessions s ON s.id = t.session_id WHERE t.token_hash = $1 FOR UPDATE OF t, s",
            token_hash,
        )

    async def mark_refresh_token_used(self, token_hash: bytes) -> None:
        await self._db.execute("UPDATE auth.refresh_tokens SET used_at = now() WHERE token_hash = $1", token_hash)

    async def revoke_session(self, session_id: str) -> bool:
        return (
            await self._db.fetchval(
                "UPDATE auth.sessions SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL RETURNING id",
                session_id,
            )
            is not None
        )

    async def session_state(self, session_id: str) -> tuple[str, bool] | None:
        """(user id, revoked) of a session."""
        r = await self._db.fetchrow("SELECT user_id, revoked_at FROM auth.sessions WHERE id = $1", session_id)
        return (r["user_id"], r["revoked_at"] is not None) if r else None

    # -- projects ------------------------------------------------------------------------------------
    async def insert_project(self, project_id: str, org_id: str, name: str) -> Project:
        r = await self._db.fetchrow(
            "INSERT INTO auth.projects (id, org_id, name) VALUES ($1, $2, $3) RETURNING *", project_id, org_id, name
        )
        return Project(r["id"], r["name"], r["created_at"], r["archived_at"])

    async def list_projects(self, org_id: str, limit: int, after: str, include_archived: bool) -> Page[Project]:
        rows = await self._db.fetch(
            "SELECT * FROM auth.projects p WHERE org_id = $1 AND ($4 OR archived_at IS NULL)"
            " AND ($2 = '' OR (created_at, id) > (SELECT created_at, id FROM auth.projects WHERE id = $2))"
            " ORDER BY created_at, id LIMIT $3",
            org_id,
            after,
            limit + 1,
            include_archived,
        )
        return _page(rows, limit, lambda r: Project(r["id"], r["name"], r["created_at"], r["archived_at"]))

    async def project(self, org_id: str, project_id: str) -> Project | None:
        r = await self._db.fetchrow("SELECT * FROM auth.projects WHERE org_id = $1 AND id = $2", org_id, project_id)
        return Project(r["id"], r["name"], r["created_at"], r["archived_at"]) if r else None

    async def update_project(
        self, org_id: str, project_id: str, *, name: str | None = None, archive: bool = False
    ) -> None:
        await self._db.execute(
            "UPDATE auth.projects SET name = coalesce($3, name),"
            " archived_at = CASE WHEN $4 THEN coalesce(archived_at, now()) ELSE archived_at END"
            " WHERE org_id = $1 AND id = $2",
            org_id,
            project_id,
            name,
            archive,
        )

    _PROJECT_MEMBER = f"{_USER}, m.role, m.added_at FROM auth.project_members m JOIN auth.users u ON u.id = m.user_id"

    async def list_project_users(self, project_id: str, limit: int, after: str) -> Page[Member]:
        rows = await self._db.fetch(
            f"SELECT {self._PROJECT_MEMBER} WHERE m.project_id = $1 AND ($2 = '' OR (m.added_at, m.user_id) >"
            " (SELECT added_at, user_id FROM auth.project_members WHERE project_id = $1 AND user_id = $2))"
            " ORDER BY m.added_at, m.user_id LIMIT $3",
            project_id,
            after,
            limit + 1,
        )
        return _page(rows, limit, _member)

    async def project_user(self, project_id: str, user_id: str) -> Member | None:
        r = await self._db.fetchrow(
            f"SELECT {self._PROJECT_MEMBER} WHERE m.project_id = $1 AND m.user_id = $2", project_id, user_id
        )
        return _member(r) if r else None

    async def set_project_role(self, project_id: str, user_id: str, role: str, *, insert: bool) -> bool:
        """Adds the member (insert) or changes their role; False if they were already there / not there."""
        if insert:
            sql = (
                "INSERT INTO auth.project_members (project_id, user_id, role) VALUES ($1, $2, $3)"
                " ON CONFLICT DO NOTHING RETURNING user_id"
            )
        else:
            sql = "UPDATE auth.project_members SET role = $3 WHERE project_id = $1 AND user_id = $2 RETURNING user_id"
        return await self._db.fetchval(sql, project_id, user_id, role) is not None

    async def remove_project_user(self, project_id: str, user_id: str) -> bool:
        return (
            await self._db.fetchval(
                "DELETE FROM auth.project_members WHERE project_id = $1 AND user_id = $2 RETURNING user_id",
                project_id,
                user_id,
            )
            is not None
        )

    # -- service accounts ----------------------------------------------------------------------------
    async def insert_service_account(self, sa_id: str, project_id: str, name: str, role: str) -> ServiceAccount:
        r = await self._db.fetchrow(
            "INSERT INTO auth.service_accounts (id, project_id, name, role) VALUES ($1, $2, $3, $4) RETURNING *",
            sa_id,
            project_id,
            name,
            role,
        )
        return _sa(r)

    async def list_service_accounts(self, project_id: str, limit: int, after: str) -> Page[ServiceAccount]:
        rows = await self._db.fetch(
            "SELECT * FROM auth.service_accounts WHERE project_id = $1 AND ($2 = '' OR (created_at, id) >"
            " (SELECT created_at, id FROM auth.service_accounts WHERE id = $2)) ORDER BY created_at, id LIMIT $3",
            project_id,
            after,
            limit + 1,
        )
        return _page(rows, limit, _sa)

    async def service_account(self, project_id: str, sa_id: str) -> ServiceAccount | None:
        r = await self._db.fetchrow(
            "SELECT * FROM auth.service_accounts WHERE project_id = $1 AND id = $2", project_id, sa_id
        )
        return _sa(r) if r else None

    async def update_service_account(self, project_id: str, sa_id: str, name: str | None, role: str | None) -> None:
        await self._db.execute(
            "UPDATE auth.service_accounts SET name = coalesce($3, name), role = coalesce($4, role)"
            " WHERE project_id = $1 AND id = $2",
            project_id,
            sa_id,
            name,
            role,
        )

    async def delete_service_account(self, project_id: str, sa_id: str) -> list[str]:
        """Deletes the account and its keys; returns the deleted key ids."""
        keys = await self._db.fetch("SELECT id FROM auth.api_keys WHERE service_account_id = $1", sa_id)
        await self._db.execute("DELETE FROM auth.service_accounts WHERE project_id = $1 AND id = $2", project_id, sa_id)
        return [k["id"] for k in keys]

    # -- API keys ------------------------------------------------------------------------------------
    async def insert_api_key(
        self,
        key_id: str,
        kind: str,
        org_id: str,
        name: str,
        digest: bytes,
        redacted: str,
        project_id: str | None,
        user_id: str | None,
        sa_id: str | None,
        expires_at: datetime | None,
    ) -> None:
        await self._db.execute(
            "INSERT INTO auth.api_keys (id, kind, org_id, name, digest, redacted_value, project_id, user_id,"
            " service_account_id, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            key_id,
            kind,
            org_id,
            name,
            digest,
            redacted,
            project_id,
            user_id,
            sa_id,
            expires_at,
        )

    async def list_api_keys(
        self,
        scope: str,
        kinds: Sequence[str],
        limit: int,
        after: str,
        *,
        owner_user_id: str | None = None,
        descending: bool = False,
    ) -> Page[ApiKey]:
        """Live keys of a project (scope = project id) or the organization's admin keys (scope = org id)."""
        cmp, order = ("<", "DESC") if descending else (">", "ASC")
        rows = await self._db.fetch(
            f"SELECT {_KEY} FROM {_KEY_FROM} WHERE coalesce(k.project_id, k.org_id) = $1 AND k.kind = ANY($2)"
            " AND k.revoked_at IS NULL AND ($5::text IS NULL OR k.user_id = $5)"
            f" AND ($3 = '' OR (k.created_at, k.id) {cmp} (SELECT created_at, id FROM auth.api_keys WHERE id = $3))"
            f" ORDER BY k.created_at {order}, k.id {order} LIMIT $4",
            scope,
            list(kinds),
            after,
            limit + 1,
            owner_user_id,
        )
        return _page(rows, limit, _key)

    async def api_key(self, scope: str, kinds: Sequence[str], key_id: str) -> ApiKey | None:
        r = await self._db.fetchrow(
            f"SELECT {_KEY} FROM {_KEY_FROM} WHERE coalesce(k.project_id, k.org_id) = $1 AND k.kind = ANY($2)"
            " AND k.id = $3 AND k.revoked_at IS NULL",
            scope,
            list(kinds),
            key_id,
        )
        return _key(r) if r else None

    async def set_api_key_expiry(self, key_id: str, expires_at: datetime | None) -> None:
        await self._db.execute("UPDATE auth.api_keys SET expires_at = $2 WHERE id = $1", key_id, expires_at)

    async def revoke_api_key(self, key_id: str) -> bool:
        return (
            await self._db.fetchval(
                "UPDATE auth.api_keys SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL RETURNING id", key_id
            )
            is not None
        )

    async def key_by_digest(self, digest: bytes) -> KeyRecord | None:
        r = await self._db.fetchrow(
            "SELECT k.id, k.kind, k.org_id, k.user_id, k.project_id, k.service_account_id, k.expires_at,"
            " k.last_used_at, om.role AS org_role, coalesce(s.role, pm.role) AS project_role,"
            " (k.revoked_at IS NULL AND p.archived_at IS NULL"
            "  AND CASE k.kind WHEN 'admin' THEN om.role IS NOT NULL WHEN 'project' THEN pm.role IS NOT NULL"
            "  ELSE s.id IS NOT NULL END) AS usable"
            " FROM auth.api_keys k LEFT JOIN auth.projects p ON p.id = k.project_id"
            " LEFT JOIN auth.org_members om ON om.user_id = k.user_id AND om.org_id = k.org_id"
            " LEFT JOIN auth.project_members pm ON pm.user_id = k.user_id AND pm.project_id = k.project_id"
            " LEFT JOIN auth.service_accounts s ON s.id = k.service_account_id WHERE k.digest = $1",
            digest,
        )
        return KeyRecord(**dict(r)) if r else None

    async def record_key_use(self, uses: Sequence[tuple[str, datetime]]) -> None:
        await self._db.execute(
            "UPDATE auth.api_keys k SET last_used_at = v.t FROM unnest($1::text[], $2::timestamptz[]) AS v(id, t)"
            " WHERE k.id = v.id AND (k.last_used_at IS NULL OR k.last_used_at < v.t)",
            [u[0] for u in uses],
            [u[1] for u in uses],
        )

    # -- invites -------------------------------------------------------------------------------------
    async def insert_invite(
        self,
        invite_id: str,
        org_id: str,
        email: str,
        role: str,
        code_hash: bytes,
        invited_by: str | None,
        ttl: timedelta,
        projects: Sequence[tuple[str, str]],
    ) -> None:
        await self._db.execute(
            "INSERT INTO auth.invites (id, org_id, email, role, code_hash, invited_by, created_at, expires_at)"
            # One clock reading, so the invite lives exactly its ttl.
            " SELECT $1, $2, $3, $4, $5, $6, t, t + $7::interval FROM clock_timestamp() AS t",
            invite_id,
            org_id,
            email,
            role,
            code_hash,
            invited_by,
            ttl,
        )
        if projects:
            await self._db.executemany(
                "INSERT INTO auth.invite_projects (invite_id, project_id, role) VALUES ($1, $2, $3)",
                [(invite_id, pid, prole) for pid, prole in projects],
            )

    async def list_invites(self, org_id: str, limit: int, after: str) -> Page[Invite]:
        rows = await self._db.fetch(
            f"SELECT {_INVITE} FROM auth.invites i WHERE i.org_id = $1 AND ($2 = '' OR (i.created_at, i.id) >"
            " (SELECT created_at, id FROM auth.invites WHERE id = $2)) ORDER BY i.created_at, i.id LIMIT $3",
            org_id,
            after,
            limit + 1,
        )
        return _page(rows, limit, _invite)

    async def invite(self, org_id: str, invite_id: str) -> Invite | None:
        r = await self._db.fetchrow(
            f"SELECT {_INVITE} FROM auth.invites i WHERE i.org_id = $1 AND i.id = $2", org_id, invite_id
        )
        return _invite(r) if r else None

    async def lock_invite_by_code(self, code_hash: bytes) -> Invite | None:
        r = await self._db.fetchrow(
            f"SELECT {_INVITE} FROM auth.invites i WHERE i.code_hash = $1 FOR UPDATE", code_hash
        )
        return _invite(r) if r else None

    async def delete_invite(self, org_id: str, invite_id: str) -> None:
        await self._db.execute("DELETE FROM auth.invites WHERE org_id = $1 AND id = $2", org_id, invite_id)

    async def mark_invite_accepted(self, invite_id: str, user_id: str) -> None:
        await self._db.execute(
            "UPDATE auth.invites SET accepted_at = now(), accepted_by = $2 WHERE id = $1", invite_id, user_id
        )

    # -- Google sign-in states -----------------------------------------------------------------------
    async def insert_oauth_state(self, state_hash: bytes, code_verifier: str, nonce: str, expires_at: datetime) -> None:
        await self._db.execute("DELETE FROM auth.oauth_states WHERE expires_at < now()")
        await self._db.execute(
            "INSERT INTO auth.oauth_states (state_hash, code_verifier, nonce, expires_at) VALUES ($1, $2, $3, $4)",
            state_hash,
            code_verifier,
            nonce,
            expires_at,
        )

    async def take_oauth_state(self, state_hash: bytes) -> tuple[str, str] | None:
        """Consumes a pending state (single use); None if unknown, used or expired."""
        r = await self._db.fetchrow(
            "DELETE FROM auth.oauth_states WHERE state_hash = $1"
            " RETURNING code_verifier, nonce, expires_at > now() AS live",
            state_hash,
        )
        return (r["code_verifier"], r["nonce"]) if r and r["live"] else None
