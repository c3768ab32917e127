"""The organization in OpenAI's admin API shape: projects, project members, organization members, invites.

Every change that can take access away (role changes, removals, archiving) invalidates the authz caches of
every replica, in its transaction (Store.invalidate). Every change is recorded in the audit log in its
transaction (audit.py), which owners list here too.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from services.auth import audit, tokens
from services.auth.accounts import require_caller
from services.auth.audit import AuditEvent, AuditLog, AuditLogQuery
from services.auth.domain import ORG_ROLES, Invite, Member, Page, Project
from services.auth.emails import canonical_email, normalize_email
from services.auth.invalidation import ProjectChanged, UserChanged
from services.auth.rights import project_access, require_org_owner
from services.auth.store import Store
from services.auth.validation import check_role, page_limit, required, required_name
from services.common import errors
from services.common.identity import Caller


class Organization:
    def __init__(self, store: Store, org_id: str, invite_ttl_seconds: int) -> None:
        self._store = store
        self.org_id = org_id
        self._invite_ttl = timedelta(seconds=invite_ttl_seconds)

    async def _record(self, tx: Store, *events: AuditEvent) -> None:
        for event in events:
            await tx.record_audit_event(self.org_id, event)

    # -- audit log -----------------------------------------------------------------------------------
    async def list_audit_logs(
        self, caller: Caller, query: AuditLogQuery, *, tenant_only: bool = False
    ) -> Page[AuditLog]:
        require_org_owner(caller)
        if tenant_only:  # OpenAI's tenant-scoped events: this server has none
            return Page([], False)
        return await self._store.list_audit_logs(self.org_id, query)

    # -- projects ------------------------------------------------------------------------------------
    async def list_projects(self, caller: Caller, limit: int, after: str, include_archived: bool) -> Page[Project]:
        require_org_owner(caller)
        return await self._store.list_projects(self.org_id, page_limit(limit), after, include_archived)

    async def create_project(self, caller: Caller, name: str) -> Project:
        user_id = require_org_owner(caller)
        name = required_name(name)
        async with self._store.transaction() as tx:
            project = await tx.insert_project(tokens.new_id("proj"), self.org_id, name)
            await tx.set_project_role(project.id, user_id, "owner", insert=True)
            await tx.invalidate(UserChanged(user_id))
            await self._record(tx, audit.project_created(audit.actor_of(caller), project.id, name))
        return project

    async def get_project(self, caller: Caller, project_id: str) -> Project:
        require_org_owner(caller)
        return (await project_access(self._store, self.org_id, caller, project_id, manage=True)).project

    async def modify_project(self, caller: Caller, project_id: str, name: str) -> Project:
        require_org_owner(caller)
        await project_access(self._store, self.org_id, caller, project_id, manage=True, mutate=True)
        name = required_name(name)
        async with self._store.transaction() as tx:
            await tx.update_project(self.org_id, project_id, name=name)
            await self._record(tx, audit.project_updated(audit.actor_of(caller), project_id, name))
        return await self.get_project(caller, project_id)

    async def archive_project(self, caller: Caller, project_id: str) -> Project:
        require_org_owner(caller)
        await project_access(self._store, self.org_id, caller, project_id, manage=True)
        async with self._store.transaction() as tx:
            await tx.update_project(self.org_id, project_id, archive=True)
            await tx.invalidate(ProjectChanged(project_id))
            await self._record(tx, audit.project_archived(audit.actor_of(caller), project_id))
        return await self.get_project(caller, project_id)

    # -- project members -----------------------------------------------------------------------------
    async def list_project_users(self, caller: Caller, project_id: str, limit: int, after: str) -> Page[Member]:
        await project_access(self._store, self.org_id, caller, project_id, manage=True)
        return await self._store.list_project_users(project_id, page_limit(limit), after)

    async def get_project_user(self, caller: Caller, project_id: str, user_id: str) -> Member:
        await project_access(self._store, self.org_id, caller, project_id, manage=True)
        member = await self._store.project_user(project_id, user_id)
        if member is None:
            raise errors.NotFound(f"No user {user_id} in project {project_id}", param="user_id")
        return member

    async def add_project_user(
        self, caller: Caller, project_id: str, user_id: str, email: str | None, role: str
    ) -> Member:
        await project_access(self._store, self.org_id, caller, project_id, manage=True, mutate=True)
        check_role(role)
        member = None
        if user_id:
            member = await self._store.org_user(self.org_id, user_id)
        elif email:
            found = await self._store.user_by_email(canonical_email(email), self.org_id)
            member = await self._store.org_user(self.org_id, found[0].id) if found else None
        if member is None or not member.email:  # a guest is nobody's to add: it signs up first
            raise errors.NotFound("no organization member with that id or email", param="user_id")
        async with self._store.transaction() as tx:
            if not await tx.set_project_role(project_id, member.id, role, insert=True):
                raise errors.AlreadyExists(f"user {member.id} is already in project {project_id}", param="user_id")
            await tx.invalidate(UserChanged(member.id))
            await self._record(tx, audit.user_added(audit.actor_of(caller), member.id, role, project_id))
        return await self.get_project_user(caller, project_id, member.id)

    async def modify_project_user(self, caller: Caller, project_id: str, user_id: str, role: str) -> Member:
        await project_access(self._store, self.org_id, caller, project_id, manage=True, mutate=True)
        check_role(role)
        async with self._store.transaction() as tx:
            if not await tx.set_project_role(project_id, user_id, role, insert=False):
                raise errors.NotFound(f"No user {user_id} in project {project_id}", param="user_id")
            await tx.invalidate(UserChanged(user_id))
            await self._record(tx, audit.user_updated(audit.actor_of(caller), user_id, role, project_id))
        return await self.get_project_user(caller, project_id, user_id)

    async def remove_project_user(self, caller: Caller, project_id: str, user_id: str) -> None:
        await project_access(self._store, self.org_id, caller, project_id, manage=True)
        async with self._store.transaction() as tx:
            if not await tx.remove_project_user(project_id, user_id):
                raise errors.NotFound(f"No user {user_id} in project {project_id}", param="user_id")
            await tx.invalidate(UserChanged(user_id))
            await self._record(tx, audit.user_deleted(audit.actor_of(caller), user_id, project_id))

    # -- organization members ------------------------------------------------------------------------
    async def list_users(self, caller: Caller, limit: int, after: str, emails: list[str]) -> Page[Member]:
        require_org_owner(caller)
        return await self._store.list_org_users(
            self.org_id, page_limit(limit), after, [canonical_email(e) for e in emails]
        )

    async def get_user(self, caller: Caller, user_id: str) -> Member:
        require_org_owner(caller)
        member = await self._store.org_user(self.org_id, user_id)
        if member is None or not member.email:
            raise errors.NotFound(f"No user found with id '{user_id}'", param="user_id")
        return member

    async def modify_user(self, caller: Caller, user_id: str, role: str) -> Member:
        member = await self.get_user(caller, user_id)
        check_role(role, ORG_ROLES)
        async with self._store.transaction() as tx:
            if member.role == "owner" and role != "owner" and await tx.count_owners(self.org_id) <= 1:
                raise errors.FailedPrecondition("the organization needs at least one owner")
            await tx.set_org_role(self.org_id, user_id, role)
            await tx.invalidate(UserChanged(user_id))
            await self._record(tx, audit.user_updated(audit.actor_of(caller), user_id, role))
        return await self.get_user(caller, user_id)

    async def remove_user(self, caller: Caller, user_id: str) -> None:
        """Removes the member; their sessions and API keys stop working at once."""
        member = await self.get_user(caller, user_id)
        async with self._store.transaction() as tx:
            if member.role == "owner" and await tx.count_owners(self.org_id) <= 1:
                raise errors.FailedPrecondition("the organization needs at least one owner")
            await tx.remove_org_user(self.org_id, user_id)
            await tx.invalidate(UserChanged(user_id))
            await self._record(tx, audit.user_deleted(audit.actor_of(caller), user_id))

    # -- invites -------------------------------------------------------------------------------------
    async def create_invite(self, caller: Caller, email: str, role: str, projects: list[tuple[str, str]]) -> Invite:
        user_id = require_org_owner(caller)
        email = normalize_email(email)
        check_role(role, ORG_ROLES)
        for project_id, project_role in projects:
            check_role(project_role, param="projects")
            project = await self._store.project(self.org_id, project_id)
            if project is None or project.archived_at:
                raise errors.NotFound(f"No active project found with id '{project_id}'", param="projects")
        found = await self._store.user_by_email(email, self.org_id)
        if found and found[0].role:
            raise errors.AlreadyExists(f"{email} is already a member of the organization", param="email")
        code = tokens.new_invite_code()
        invite_id = tokens.new_id("invite")
        async with self._store.transaction() as tx:
            await tx.insert_invite(
                invite_id, self.org_id, email, role, tokens.sha256(code), user_id, self._invite_ttl, projects
            )
            await self._record(tx, audit.invite_sent(audit.actor_of(caller), invite_id, email, role))
        invite = await self.get_invite(caller, invite_id)
        return replace(invite, code=code)

    async def list_invites(self, caller: Caller, limit: int, after: str) -> Page[Invite]:
        require_org_owner(caller)
        return await self._store.list_invites(self.org_id, page_limit(limit), after)

    async def get_invite(self, caller: Caller, invite_id: str) -> Invite:
        require_org_owner(caller)
        invite = await self._store.invite(self.org_id, invite_id)
        if invite is None:
            raise errors.NotFound(f"No invite found with id '{invite_id}'", param="invite_id")
        return invite

    async def delete_invite(self, caller: Caller, invite_id: str) -> None:
        invite = await self.get_invite(caller, invite_id)
        if invite.accepted_at:
            raise errors.FailedPrecondition("an accepted invite cannot be deleted")
        async with self._store.transaction() as tx:
            await tx.delete_invite(self.org_id, invite_id)
            await self._record(tx, audit.invite_deleted(audit.actor_of(caller), invite_id))

    async def accept_invite(self, caller: Caller, code: str) -> Invite:
        """The caller (signed in with the invited email) joins with the invited roles."""
        require_caller(caller)
        required(code, "code")
        user_id = caller.user_id or ""
        async with self._store.transaction() as tx:
            invite = await tx.lock_invite_by_code(tokens.sha256(code))
            if invite is None:
                raise errors.NotFound("No invite found with that code", param="code")
            if invite.accepted_at:
                raise errors.FailedPrecondition("this invite was already accepted")
            if invite.expires_at <= datetime.now(UTC):
                raise errors.FailedPrecondition("this invite has expired")
            user = await tx.user(user_id, self.org_id)
            if user is None or not user.email or canonical_email(user.email) != canonical_email(invite.email):
                raise errors.PermissionDenied("this invite is for another email address; sign in with it first")
            actor = audit.actor_of(caller)
            events = [audit.invite_accepted(actor, invite.id)]
            if user.role != "owner":
                await tx.set_org_role(self.org_id, user_id, invite.role)
                events.append(audit.user_added(actor, user_id, invite.role))
            for project_id, project_role in invite.projects:
                if await tx.set_project_role(project_id, user_id, project_role, insert=True):
                    events.append(audit.user_added(actor, user_id, project_role, project_id))
                else:
                    await tx.set_project_role(project_id, user_id, project_role, insert=False)
                    events.append(audit.user_updated(actor, user_id, project_role, project_id))
            await tx.mark_invite_accepted(invite.id, user_id)
            await tx.invalidate(UserChanged(user_id))
            await self._record(tx, *events)
            accepted = await tx.invite(self.org_id, invite.id)
        assert accepted is not None
        return accepted
