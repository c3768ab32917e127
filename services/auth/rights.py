"""Row-level checks for the admin API: what the calling principal may see and change.

ext_authz has already let the caller through by level (policy.py); these checks decide per row. A
project the caller is not in does not exist for them (NOT_FOUND); a project they are in but may not
manage is PERMISSION_DENIED.
"""

from __future__ import annotations

from dataclasses import dataclass

from services.auth.domain import Project
from services.auth.store import Store
from services.common import errors
from services.common.identity import Caller


def is_org_owner(caller: Caller) -> bool:
    return caller.key_type in ("session", "admin") and caller.org_role == "owner" and bool(caller.user_id)


def require_org_owner(caller: Caller) -> str:
    if not caller.authenticated:
        raise errors.Unauthenticated("Missing bearer authentication in header")
    if not is_org_owner(caller):
        raise errors.PermissionDenied("this endpoint needs an organization owner's session or an admin API key")
    return caller.user_id or ""


@dataclass(frozen=True)
class ProjectAccess:
    project: Project
    org_owner: bool
    role: str | None  # the caller's own project role, if they are a member

    @property
    def manages(self) -> bool:
        return self.org_owner or self.role == "owner"


async def project_access(
    store: Store, org_id: str, caller: Caller, project_id: str, *, manage: bool, mutate: bool = False
) -> ProjectAccess:
    """The project as the caller may see it. `manage`: the caller must own it (or the organization);
    `mutate`: the project must not be archived."""
    if not caller.authenticated:
        raise errors.Unauthenticated("Missing bearer authentication in header")
    if caller.key_type not in ("session", "admin"):
        raise errors.PermissionDenied("API keys for projects cannot call the organization admin API")
    org_owner = is_org_owner(caller)
    project = await store.project(org_id, project_id)
    member = await store.project_user(project_id, caller.user_id or "") if project and caller.user_id else None
    if project is None or (not org_owner and member is None):
        raise errors.NotFound(f"No project found with id '{project_id}'", param="project_id")
    access = ProjectAccess(project, org_owner, member.role if member else None)
    if manage and not access.manages:
        raise errors.PermissionDenied("only the project's owners and organization owners can do this")
    if mutate and project.archived_at:
        raise errors.FailedPrecondition(f"project {project_id} is archived")
    return access
