"""The auth service's domain records, as the store returns them and the servicer converts them to protos."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Generic, TypeVar

T = TypeVar("T")

ORG_ROLES = ("owner", "reader")
PROJECT_ROLES = ("owner", "member")


@dataclass(frozen=True)
class User:
    id: str
    email: str | None
    name: str
    is_guest: bool
    created_at: datetime
    role: str | None = None  # organization role; None once removed from the organization
    project_id: str | None = None  # the project the caller's credential is bound to, if any


@dataclass(frozen=True)
class SessionTokens:
    access_token: str
    expires_in: int
    refresh_token: str
    refresh_expires_in: int
    user: User


@dataclass(frozen=True)
class Project:
    id: str
    name: str
    created_at: datetime
    archived_at: datetime | None = None

    @property
    def status(self) -> str:
        return "archived" if self.archived_at else "active"


@dataclass(frozen=True)
class Member:
    """A member of the organization (role owner/reader) or of a project (role owner/member)."""

    id: str
    name: str
    email: str
    role: str
    added_at: datetime
    created_at: datetime | None = None


@dataclass(frozen=True)
class ServiceAccount:
    id: str
    project_id: str
    name: str
    role: str
    created_at: datetime


@dataclass(frozen=True)
class ApiKey:
    id: str
    kind: str  # "project", "service_account" or "admin"
    name: str
    redacted_value: str
    created_at: datetime
    last_used_at: datetime | None
    expires_at: datetime | None
    project_id: str | None
    owner: Member | None  # the owning user (project role, or org role for admin keys)
    service_account: ServiceAccount | None
    owner_project_access: bool = True
    value: str | None = None  # the secret, only in the response that created it


@dataclass(frozen=True)
class Invite:
    id: str
    email: str
    role: str
    created_at: datetime
    expires_at: datetime
    accepted_at: datetime | None
    projects: tuple[tuple[str, str], ...] = ()  # (project id, role)
    code: str | None = None  # only in the response that created it

    def status(self, now: datetime) -> str:
        if self.accepted_at:
            return "accepted"
        return "expired" if self.expires_at <= now else "pending"


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T] = field(default_factory=list)
    has_more: bool = False


@dataclass(frozen=True)
class KeyRecord:
    """What ext_authz needs to know about an API key, loaded by its digest."""

    id: str
    kind: str
    org_id: str
    user_id: str | None
    project_id: str | None
    service_account_id: str | None
    expires_at: datetime | None
    last_used_at: datetime | None
    org_role: str | None  # the owning user's organization role
    project_role: str | None  # the owner's (user's or service account's) role in the key's project
    usable: bool  # not revoked, project not archived, owner still has access


@dataclass(frozen=True)
class RateLimit:
    """A project's limits for one model; 0 is no limit."""

    model: str
    max_requests_per_1_minute: int = 0
    max_tokens_per_1_minute: int = 0
    max_requests_per_1_day: int = 0


@dataclass(frozen=True)
class ProjectControls:
    """What a project's API keys may use (ProjectControlsService); the defaults allow everything."""

    project_id: str
    rate_limits: tuple[RateLimit, ...] = ()
    model_mode: str | None = None  # "allow_list", "deny_list", or None: every model
    model_ids: tuple[str, ...] = ()
    web_search_enabled: bool = True
