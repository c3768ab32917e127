"""Domain records to jan.v1 auth protos (OpenAI admin API shapes)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from jan.v1 import auth_service_pb2 as pb
from services.auth.models import ApiKey, Invite, Member, Page, Project, ServiceAccount, SessionTokens, User


def ts(value: datetime | None) -> int | None:
    return int(value.timestamp()) if value else None


def user(u: User) -> pb.User:
    return pb.User(
        id=u.id,
        object="user",
        email=u.email,
        name=u.name,
        is_guest=u.is_guest,
        created_at=ts(u.created_at),
        role=u.role or "",
        project_id=u.project_id,
    )


def session(s: SessionTokens) -> pb.Session:
    return pb.Session(
        access_token=s.access_token,
        token_type="Bearer",
        expires_in=s.expires_in,
        refresh_token=s.refresh_token,
        refresh_expires_in=s.refresh_expires_in,
        object="access.token",
        user=user(s.user),
    )


def project(p: Project) -> pb.Project:
    return pb.Project(
        id=p.id,
        object="organization.project",
        name=p.name,
        created_at=ts(p.created_at),
        archived_at=ts(p.archived_at),
        status=p.status,
    )


def project_user(m: Member) -> pb.ProjectUser:
    return pb.ProjectUser(
        id=m.id, object="organization.project.user", name=m.name, email=m.email, role=m.role, added_at=ts(m.added_at)
    )


def org_user(m: Member) -> pb.OrganizationUser:
    return pb.OrganizationUser(
        id=m.id, object="organization.user", name=m.name, email=m.email, role=m.role, added_at=ts(m.added_at)
    )


def service_account(s: ServiceAccount) -> pb.ProjectServiceAccount:
    return pb.ProjectServiceAccount(
        id=s.id, object="organization.project.service_account", name=s.name, role=s.role, created_at=ts(s.created_at)
    )


def project_api_key(k: ApiKey) -> pb.ProjectApiKey:
    owner = pb.ApiKeyOwner()
    if k.service_account:
        sa = k.service_account
        owner = pb.ApiKeyOwner(
            type="service_account",
            service_account=pb.ApiKeyOwnerServiceAccount(
                id=sa.id, name=sa.name, role=sa.role, created_at=ts(sa.created_at)
            ),
        )
    elif k.owner:
        o = k.owner
        owner = pb.ApiKeyOwner(
            type="user",
            user=pb.ApiKeyOwnerUser(id=o.id, name=o.name, email=o.email, role=o.role, created_at=ts(o.created_at)),
        )
    return pb.ProjectApiKey(
        id=k.id,
        object="organization.project.api_key",
        name=k.name,
        redacted_value=k.redacted_value,
        created_at=ts(k.created_at),
        last_used_at=ts(k.last_used_at),
        expires_at=ts(k.expires_at),
        owner=owner,
        owner_project_access="active" if k.owner_project_access else "inactive",
        value=k.value,
    )


def admin_api_key(k: ApiKey) -> pb.AdminApiKey:
    o = k.owner
    owner = (
        pb.AdminApiKeyOwner(
            type="user", object="organization.user", id=o.id, name=o.name, created_at=ts(o.created_at), role=o.role
        )
        if o
        else None
    )
    return pb.AdminApiKey(
        id=k.id,
        object="organization.admin_api_key",
        name=k.name,
        redacted_value=k.redacted_value,
        created_at=ts(k.created_at),
        last_used_at=ts(k.last_used_at),
        expires_at=ts(k.expires_at),
        owner=owner,
        value=k.value,
    )


def invite(i: Invite) -> pb.Invite:
    return pb.Invite(
        id=i.id,
        object="organization.invite",
        email=i.email,
        role=i.role,
        status=i.status(datetime.now(UTC)),
        created_at=ts(i.created_at),
        expires_at=ts(i.expires_at),
        accepted_at=ts(i.accepted_at),
        projects=[pb.InviteProject(id=p, role=r) for p, r in i.projects],
        code=i.code,
    )


def page(response_type: type, items: Page[Any], convert: Callable[[Any], Any]) -> Any:
    """OpenAI's cursor page: object "list", data, first_id, last_id, has_more."""
    data = [convert(item) for item in items.items]
    return response_type(
        object="list",
        data=data,
        first_id=data[0].id if data else None,
        last_id=data[-1].id if data else None,
        has_more=items.has_more,
    )
