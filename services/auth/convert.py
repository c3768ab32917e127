"""The jan.v1 sign-in and organization protos ⇄ the auth service's domain records (OpenAI admin API shapes),
and the answers to Envoy's ext_authz checks (allowed: the identity headers; denied: status, headers and
reason). Pure functions; both servicers (servicer.py, admin_servicer.py) convert here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Protocol, TypeVar

from envoy.config.core.v3 import base_pb2
from envoy.service.auth.v3 import external_auth_pb2
from envoy.type.v3 import http_status_pb2
from google.protobuf.message import Message
from google.rpc import code_pb2, status_pb2

from jan.v1 import organization_service_pb2 as org_pb
from jan.v1 import project_controls_service_pb2 as controls_pb
from jan.v1 import sign_in_service_pb2 as sign_in_pb
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
from services.auth.rate_limit import RateLimited
from services.common import errors
from services.common.identity import IDENTITY_HEADERS, Caller, sign_identity

T = TypeVar("T")
R = TypeVar("R")

_OVERWRITE = base_pb2.HeaderValueOption.OVERWRITE_IF_EXISTS_OR_ADD
# What a check can answer besides "go on"; its HTTP status and gRPC code are the error kind's own.
_DENIAL_KINDS = frozenset(
    {errors.UNAUTHENTICATED, errors.PERMISSION_DENIED, errors.RESOURCE_EXHAUSTED, errors.UNAVAILABLE}
)


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


# -- ext_authz answers (the gRPC Check here, the HTTP one in authz_http.py) ----------------------------
def is_grpc(content_type: str | None) -> bool:
    return content_type is not None and content_type.startswith("application/grpc")


GRPC_CALLER_HEADER = "x-jan-grpc-caller"  # edge.lua sets it on native gRPC requests (Envoy does not send content-type)


def grpc_caller(headers: Mapping[str, str]) -> bool:
    """Whether the checked request came from a native gRPC client."""
    return headers.get(GRPC_CALLER_HEADER) == "1" or is_grpc(headers.get("content-type"))


def identity_headers(caller: Caller | None, secret: bytes, expires_at: int) -> tuple[dict[str, str], tuple[str, ...]]:
    """The identity headers to set for a caller, signed until `expires_at` (none for an anonymous one), and
    the rest, to remove."""
    values = sign_identity(caller, secret, expires_at) if caller else {}
    return values, tuple(h for h in IDENTITY_HEADERS if h not in values)


def denial_kind(error: errors.JanError) -> errors.ErrorKind:
    """The kind a denial answers with: the error's own, or UNAUTHENTICATED for any other."""
    return error.kind if error.kind in _DENIAL_KINDS else errors.UNAUTHENTICATED


def denial_headers(error: errors.JanError, *, grpc_caller: bool = False) -> dict[str, str]:
    """What a denial tells the client besides its status: how to authenticate, or when to come back (the
    headers OpenAI's API and SDKs use); for a native gRPC caller also the status code, which Envoy would
    otherwise derive from the HTTP status (429 would become UNAVAILABLE, not RESOURCE_EXHAUSTED)."""
    kind = denial_kind(error)
    headers: dict[str, str] = {}
    if isinstance(error, RateLimited):
        headers = {
            "retry-after": str(error.retry_after),
            "x-ratelimit-limit-requests": str(error.limit),
            "x-ratelimit-remaining-requests": "0",
            "x-ratelimit-reset-requests": f"{error.retry_after}s",
        }
    elif kind is errors.UNAUTHENTICATED:
        headers = {"www-authenticate": "Bearer"}
    if grpc_caller:
        headers["grpc-status"] = str(code_pb2.Code.Value(kind.grpc_code))
    return headers


def check_allowed(values: dict[str, str], removed: tuple[str, ...]) -> external_auth_pb2.CheckResponse:
    """Go on, with these identity headers set and those removed (identity_headers)."""
    ok = external_auth_pb2.OkHttpResponse(
        headers=[
            base_pb2.HeaderValueOption(header=base_pb2.HeaderValue(key=k, value=v), append_action=_OVERWRITE)
            for k, v in values.items()
        ],
        headers_to_remove=removed,
    )
    return external_auth_pb2.CheckResponse(status=status_pb2.Status(code=code_pb2.OK), ok_response=ok)


def check_denied(error: errors.JanError, *, grpc_caller: bool = False) -> external_auth_pb2.CheckResponse:
    kind = denial_kind(error)
    headers = [
        base_pb2.HeaderValueOption(header=base_pb2.HeaderValue(key=k, value=v))
        for k, v in denial_headers(error, grpc_caller=grpc_caller).items()
    ]
    return external_auth_pb2.CheckResponse(
        status=status_pb2.Status(code=code_pb2.Code.Value(kind.grpc_code), message=error.message),
        denied_response=external_auth_pb2.DeniedHttpResponse(
            status=http_status_pb2.HttpStatus(code=kind.http_status), headers=headers, body=error.message
        ),
    )


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
