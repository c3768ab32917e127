"""SQL for API keys: the admin API's view of them, ext_authz's lookup by digest, and last-used times."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import asyncpg

from services.auth.domain import ApiKey, KeyRecord, Member, Page, ServiceAccount
from services.auth.store.base import StoreBase, page_of

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


class ApiKeysSql(StoreBase):
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
        return page_of(rows, limit, _key)

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
