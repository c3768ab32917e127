"""SQL for the organization: its members, projects and their members, service accounts, invites."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

import asyncpg

from services.auth.domain import Invite, Member, Page, Project, ServiceAccount
from services.auth.store.base import USER_COLUMNS, StoreBase, page_of

_INVITE = """i.id, i.email, i.role, i.created_at, i.expires_at, i.accepted_at,
    coalesce((SELECT array_agg(ARRAY[ip.project_id, ip.role] ORDER BY ip.project_id)
              FROM auth.invite_projects ip WHERE ip.invite_id = i.id), '{}') AS projects"""


def _member(r: asyncpg.Record) -> Member:
    return Member(r["id"], r["name"], r["email"] or "", r["role"], r["added_at"], r.get("created_at"))


def _sa(r: asyncpg.Record) -> ServiceAccount:
    return ServiceAccount(r["id"], r["project_id"], r["name"], r["role"], r["created_at"])


def _invite(r: asyncpg.Record) -> Invite:
    projects = tuple((p[0], p[1]) for p in r["projects"])
    return Invite(r["id"], r["email"], r["role"], r["created_at"], r["expires_at"], r["accepted_at"], projects)


class OrganizationSql(StoreBase):
    # -- organization members ------------------------------------------------------------------------
    _ORG_MEMBER = f"{USER_COLUMNS}, m.role, m.added_at FROM auth.org_members m JOIN auth.users u ON u.id = m.user_id"

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
        return page_of(rows, limit, _member)

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
        return page_of(rows, limit, lambda r: Project(r["id"], r["name"], r["created_at"], r["archived_at"]))

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

    _PROJECT_MEMBER = (
        f"{USER_COLUMNS}, m.role, m.added_at FROM auth.project_members m JOIN auth.users u ON u.id = m.user_id"
    )

    async def list_project_users(self, project_id: str, limit: int, after: str) -> Page[Member]:
        rows = await self._db.fetch(
            f"SELECT {self._PROJECT_MEMBER} WHERE m.project_id = $1 AND ($2 = '' OR (m.added_at, m.user_id) >"
            " (SELECT added_at, user_id FROM auth.project_members WHERE project_id = $1 AND user_id = $2))"
            " ORDER BY m.added_at, m.user_id LIMIT $3",
            project_id,
            after,
            limit + 1,
        )
        return page_of(rows, limit, _member)

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
        return page_of(rows, limit, _sa)

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
        """Deletes the account and its keys; returns the ids of its keys that were still live."""
        keys = await self._db.fetch(
            "SELECT id FROM auth.api_keys WHERE service_account_id = $1 AND revoked_at IS NULL", sa_id
        )
        await self._db.execute("DELETE FROM auth.service_accounts WHERE project_id = $1 AND id = $2", project_id, sa_id)
        return [k["id"] for k in keys]

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
        return page_of(rows, limit, _invite)

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
