"""The jan.v1 sign-in, organization and project controls protos ⇄ the auth service's domain records (OpenAI
admin API shapes). Pure functions; the servicers convert here (Envoy's ext_authz answers: authz_answers.py).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Protocol, TypeVar

from google.api import httpbody_pb2
from google.protobuf import json_format
from google.protobuf.message import Message

from jan.v1 import organization_service_pb2 as org_pb
from jan.v1 import project_controls_service_pb2 as controls_pb
from jan.v1 import sign_in_service_pb2 as sign_in_pb
from services.auth import audit
from services.auth.audit import AuditLog, AuditLogQuery
from services.auth.domain import (
    ApiKey,
    Invite,
    Member,
    Page,
    Project,
    ProjectControls,
    RateLimit,
    ServiceAccount,
    SessionTokens,
    User,
)
from services.auth.project_controls import RATE_LIMIT_PREFIX

T = TypeVar("T")
R = TypeVar("R")


class _Listed(Protocol):
    id: str


# -- requests ----------------------------------------------------------------------------------------
def optional_int(request: Message, field: str) -> int | None:
    """A proto3 `optional` integer field: None when the request left it out."""
    return int(getattr(request, field)) if request.HasField(field) else None


def optional_str(request: Message, field: str) -> str | None:
    """A proto3 `optional` string field: None when the request left it out."""
    return str(getattr(request, field)) if request.HasField(field) else None


def invite_projects(request: org_pb.CreateInviteRequest) -> list[tuple[str, str]]:
    """(project id, role) of each project the invite adds the invitee to."""
    return [(p.id, p.role) for p in request.projects]


def audit_log_query(request: org_pb.ListAuditLogsRequest) -> AuditLogQuery:
    """OpenAI's list-audit-logs parameters, checked (audit.audit_log_query)."""
    bounds = request.effective_at
    return audit.audit_log_query(
        limit=optional_int(request, "limit"),
        after=request.after,
        before=request.before,
        **{op: optional_int(bounds, op) for op in ("gt", "gte", "lt", "lte")},
        project_ids=list(request.project_ids),
        event_types=list(request.event_types),
        actor_ids=list(request.actor_ids),
        actor_emails=list(request.actor_emails),
        resource_ids=list(request.resource_ids),
    )


# -- responses ---------------------------------------------------------------------------------------
def ts(value: datetime | None) -> int | None:
    return int(value.timestamp()) if value else None


def user(u: User) -> sign_in_pb.User:
    return sign_in_pb.User(
        id=u.id,
        object="user",
        email=u.email,
        name=u.name,
        is_guest=u.is_guest,
        created_at=ts(u.created_at),
        role=u.role or "",
        project_id=u.project_id,
    )


def session(s: SessionTokens) -> sign_in_pb.Session:
    return sign_in_pb.Session(
        access_token=s.access_token,
        token_type="Bearer",
        expires_in=s.expires_in,
        refresh_token=s.refresh_token,
        refresh_expires_in=s.refresh_expires_in,
        object="access.token",
        user=user(s.user),
    )


def project(p: Project) -> org_pb.Project:
    return org_pb.Project(
        id=p.id,
        object="organization.project",
        name=p.name,
        created_at=ts(p.created_at),
        archived_at=ts(p.archived_at),
        status=p.status,
    )


def project_user(m: Member) -> org_pb.ProjectUser:
    return org_pb.ProjectUser(
        id=m.id, object="organization.project.user", name=m.name, email=m.email, role=m.role, added_at=ts(m.added_at)
    )


def org_user(m: Member) -> org_pb.OrganizationUser:
    return org_pb.OrganizationUser(
        id=m.id, object="organization.user", name=m.name, email=m.email, role=m.role, added_at=ts(m.added_at)
    )


def service_account(s: ServiceAccount) -> org_pb.ProjectServiceAccount:
    return org_pb.ProjectServiceAccount(
        id=s.id, object="organization.project.service_account", name=s.name, role=s.role, created_at=ts(s.created_at)
    )


def project_api_key(k: ApiKey) -> org_pb.ProjectApiKey:
    owner = org_pb.ApiKeyOwner()
    if k.service_account:
        sa = k.service_account
        owner = org_pb.ApiKeyOwner(
            type="service_account",
            service_account=org_pb.ApiKeyOwnerServiceAccount(
                id=sa.id, name=sa.name, role=sa.role, created_at=ts(sa.created_at)
            ),
        )
    elif k.owner:
        o = k.owner
        owner = org_pb.ApiKeyOwner(
            type="user",
            user=org_pb.ApiKeyOwnerUser(id=o.id, name=o.name, email=o.email, role=o.role, created_at=ts(o.created_at)),
        )
    return org_pb.ProjectApiKey(
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


def admin_api_key(k: ApiKey) -> org_pb.AdminApiKey:
    o = k.owner
    owner = (
        org_pb.AdminApiKeyOwner(
            type="user", object="organization.user", id=o.id, name=o.name, created_at=ts(o.created_at), role=o.role
        )
        if o
        else None
    )
    return org_pb.AdminApiKey(
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


def invite(i: Invite) -> org_pb.Invite:
    return org_pb.Invite(
        id=i.id,
        object="organization.invite",
        email=i.email,
        role=i.role,
        status=i.status(datetime.now(UTC)),
        created_at=ts(i.created_at),
        expires_at=ts(i.expires_at),
        accepted_at=ts(i.accepted_at),
        projects=[org_pb.InviteProject(id=p, role=r) for p, r in i.projects],
        code=i.code,
    )


def page(response_type: Callable[..., R], items: Page[T], convert: Callable[[T], _Listed]) -> R:
    """OpenAI's cursor page: object "list", data, first_id, last_id, has_more."""
    data = [convert(item) for item in items.items]
    return response_type(
        object="list",
        data=data,
        first_id=data[0].id if data else None,
        last_id=data[-1].id if data else None,
        has_more=items.has_more,
    )


def service_account_created(sa: ServiceAccount, key: ApiKey) -> org_pb.CreateProjectServiceAccountResponse:
    """A new service account with its first key, whose secret only this response shows."""
    api_key = org_pb.ServiceAccountApiKey(
        id=key.id,
        object="organization.project.service_account.api_key",
        name=key.name,
        value=key.value,
        created_at=ts(key.created_at),
        expires_at=ts(key.expires_at),
    )
    return org_pb.CreateProjectServiceAccountResponse(
        id=sa.id,
        object="organization.project.service_account",
        name=sa.name,
        role=sa.role,
        created_at=ts(sa.created_at),
        api_key=api_key,
    )


def logged_out(revoked: bool) -> sign_in_pb.LogoutResponse:
    return sign_in_pb.LogoutResponse(object="auth.logout", revoked=revoked)


def project_user_deleted(user_id: str) -> org_pb.DeleteProjectUserResponse:
    return org_pb.DeleteProjectUserResponse(object="organization.project.user.deleted", id=user_id, deleted=True)


def service_account_deleted(sa_id: str) -> org_pb.DeleteProjectServiceAccountResponse:
    return org_pb.DeleteProjectServiceAccountResponse(
        object="organization.project.service_account.deleted", id=sa_id, deleted=True
    )


def project_api_key_deleted(key_id: str) -> org_pb.DeleteProjectApiKeyResponse:
    return org_pb.DeleteProjectApiKeyResponse(object="organization.project.api_key.deleted", id=key_id, deleted=True)


def admin_api_key_deleted(key_id: str) -> org_pb.DeleteAdminApiKeyResponse:
    return org_pb.DeleteAdminApiKeyResponse(object="organization.admin_api_key.deleted", id=key_id, deleted=True)


def invite_deleted(invite_id: str) -> org_pb.DeleteInviteResponse:
    return org_pb.DeleteInviteResponse(object="organization.invite.deleted", id=invite_id, deleted=True)


def user_deleted(user_id: str) -> org_pb.DeleteUserResponse:
    return org_pb.DeleteUserResponse(object="organization.user.deleted", id=user_id, deleted=True)


# -- project controls ------------------------------------------------------------------------------------


def rate_limit(limit: RateLimit) -> controls_pb.ProjectRateLimit:
    return controls_pb.ProjectRateLimit(
        object="project.rate_limit",
        id=f"{RATE_LIMIT_PREFIX}{limit.model}",
        model=limit.model,
        max_requests_per_1_minute=limit.max_requests_per_1_minute,
        max_tokens_per_1_minute=limit.max_tokens_per_1_minute,
        max_requests_per_1_day=limit.max_requests_per_1_day,
    )


def model_permissions(controls: ProjectControls) -> controls_pb.ProjectModelPermissions:
    """No permissions set reads as an empty deny list: every model."""
    return controls_pb.ProjectModelPermissions(
        object="project.model_permissions",
        mode=controls.model_mode or "deny_list",
        model_ids=list(controls.model_ids),
    )


def hosted_tools(controls: ProjectControls) -> controls_pb.ProjectHostedToolPermissions:
    off = controls_pb.HostedToolPermission(enabled=False)
    return controls_pb.ProjectHostedToolPermissions(
        file_search=off,
        web_search=controls_pb.HostedToolPermission(enabled=controls.web_search_enabled),
        image_generation=off,
        mcp=off,
        code_interpreter=off,
    )


def project_controls(controls: ProjectControls) -> controls_pb.ProjectControls:
    return controls_pb.ProjectControls(
        project_id=controls.project_id,
        rate_limits=[rate_limit(limit) for limit in controls.rate_limits],
        model_mode=controls.model_mode or "",
        model_ids=list(controls.model_ids),
        web_search_enabled=controls.web_search_enabled,
    )


# -- the audit log -----------------------------------------------------------------------------------
def _audit_actor(a: audit.Actor) -> dict:
    user = {"id": a.id, "email": a.email}
    if a.type == "session":
        return {"type": "session", "session": {"user": user, "ip_address": a.ip_address}}
    owner = {"service_account": {"id": a.id}} if a.key_type == "service_account" else {"user": user}
    return {"type": "api_key", "api_key": {"id": a.key_id, "type": a.key_type, **owner}}


def _without_none(value: object) -> object:
    if isinstance(value, dict):
        return {k: _without_none(v) for k, v in value.items() if v is not None}
    return value


def audit_log(log: AuditLog) -> org_pb.AuditLog:
    """A recorded event; its details go in the oneof member named after its type ("project.created" ->
    project_created)."""
    body = {
        "id": log.id,
        "type": log.type,
        "effective_at": ts(log.effective_at),
        "actor": _audit_actor(log.actor),
        "project": {"id": log.project_id, "name": log.project_name} if log.project_id else None,
        log.type.replace(".", "_"): log.details,
    }
    return json_format.ParseDict(_without_none(body), org_pb.AuditLog(), ignore_unknown_fields=True)


def audit_logs_json(response: org_pb.ListAuditLogsResponse) -> httpbody_pb2.HttpBody:
    """The page as OpenAI's JSON: each event's details under the key its type names ("project.created")."""
    body = json_format.MessageToDict(response, preserving_proto_field_name=True)
    for item, message in zip(body.get("data", []), response.data, strict=True):
        member = message.WhichOneof("details")
        if member:
            item[message.type] = item.pop(member, {})
    body.update(data=body.get("data", []), has_more=response.has_more)
    body.setdefault("first_id", None)
    body.setdefault("last_id", None)
    return httpbody_pb2.HttpBody(content_type="application/json", data=json.dumps(body).encode())
