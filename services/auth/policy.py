"""Who may call what: the access level of every RPC and the rule for each level.

Levels, from open to closed:
  PUBLIC          anyone; a valid credential, if sent, still yields identity headers (guest upgrades)
  ANY             any valid credential, admin keys included (GetMe)
  API             a session, project key or service-account key: the model/chat/search API
  SESSION         a signed-in user's session (accepting an invite)
  PROJECT_MEMBER  an org owner (session or admin key), or a session of a user in some project
  PROJECT_OWNER   an org owner (session or admin key), or a session of a user owning some project
  ORG_OWNER       an org owner's session, or an admin key whose creator is still an owner
  INTERNAL        the services only other services need (inference, search), called natively through Envoy:
                  the same callers as ORG_OWNER (for operators' tools and debugging). API callers (guests
                  included) reach them only through chat (completions, web search, the MCP tools), which calls
                  them directly. JAN_INTERNAL_SERVICES_ACCESS=api makes them API again.

For the project levels ext_authz only checks that the caller could manage *some* project; the service
checks the project actually named (NOT_FOUND for projects the caller is not in), for REST and native
gRPC alike (ext_authz never sees a gRPC body).
"""

from __future__ import annotations

import enum

from services.auth.authn import Principal
from services.auth.routes import RouteTable, Rpc
from services.common import errors


class Access(enum.Enum):
    PUBLIC = "public"
    ANY = "any"
    API = "api"
    SESSION = "session"
    PROJECT_MEMBER = "project_member"
    PROJECT_OWNER = "project_owner"
    ORG_OWNER = "org_owner"
    INTERNAL = "internal"


AUTH_SERVICE = "jan.v1.AuthService"
# Services the public API does not need directly: chat calls them (inference for completions, search for web
# search and the MCP tools). Their native gRPC through Envoy is INTERNAL.
INTERNAL_SERVICES = ("jan.v1.InferenceService", "jan.v1.SearchService")
_A = Access
# Every AuthService RPC, explicitly (a test fails when one is missing). Other jan.v1 services are API.
AUTH_RPCS: dict[str, Access] = {
    "GuestLogin": _A.PUBLIC,
    "Register": _A.PUBLIC,
    "Login": _A.PUBLIC,
    "RefreshToken": _A.PUBLIC,
    "Logout": _A.PUBLIC,
    "GetGoogleLoginUrl": _A.PUBLIC,
    "GoogleCallback": _A.PUBLIC,
    "GetMe": _A.ANY,
    "AcceptInvite": _A.SESSION,
    "BootstrapOwner": _A.SESSION,
    **dict.fromkeys(["ListProjects", "CreateProject", "GetProject", "ModifyProject", "ArchiveProject"], _A.ORG_OWNER),
    **dict.fromkeys(
        [
            "ListProjectUsers",
            "CreateProjectUser",
            "GetProjectUser",
            "ModifyProjectUser",
            "DeleteProjectUser",
            "ListProjectServiceAccounts",
            "CreateProjectServiceAccount",
            "GetProjectServiceAccount",
            "ModifyProjectServiceAccount",
            "DeleteProjectServiceAccount",
        ],
        _A.PROJECT_OWNER,
    ),
    **dict.fromkeys(
        ["ListProjectApiKeys", "CreateProjectApiKey", "GetProjectApiKey", "ModifyProjectApiKey", "DeleteProjectApiKey"],
        _A.PROJECT_MEMBER,
    ),
    **dict.fromkeys(
        [
            "ListAdminApiKeys",
            "CreateAdminApiKey",
            "GetAdminApiKey",
            "DeleteAdminApiKey",
            "ListInvites",
            "CreateInvite",
            "GetInvite",
            "DeleteInvite",
            "ListUsers",
            "GetUser",
            "ModifyUser",
            "DeleteUser",
        ],
        _A.ORG_OWNER,
    ),
}
# Routes Envoy sends to a service over plain HTTP (not a transcoded RPC), by exact path, any method.
HTTP_ROUTES: dict[str, Access] = {
    "/v1/mcp": _A.API,  # the chat service's MCP endpoint (search tools)
}
# Other services' organization-wide APIs: the organization's owners only.
ORG_OWNER_SERVICES = ("jan.v1.UsageService",)
# Infrastructure that must answer without credentials (Envoy and grpcurl call these).
PUBLIC_GRPC_PREFIXES = ("/grpc.health.v1.Health/", "/grpc.reflection.")
ADMIN_LEVELS = (Access.PROJECT_MEMBER, Access.PROJECT_OWNER, Access.ORG_OWNER)


def access_for_rpc(rpc: Rpc, internal: Access = Access.INTERNAL) -> Access:
    """An RPC's level; `internal` is the level of the INTERNAL_SERVICES (JAN_INTERNAL_SERVICES_ACCESS)."""
    if rpc.service == AUTH_SERVICE:
        return AUTH_RPCS.get(rpc.method, Access.ORG_OWNER)  # fail closed on an RPC added without a level
    if rpc.service in INTERNAL_SERVICES:
        return internal
    if rpc.service in ORG_OWNER_SERVICES:
        return Access.ORG_OWNER
    return Access.API


def _internal_service(path: str) -> bool:
    return any(path.startswith(f"/{service}/") for service in INTERNAL_SERVICES)


class Policy:
    def __init__(self, routes: RouteTable, memo_size: int = 4096, internal: Access = Access.INTERNAL) -> None:
        self.routes = routes
        self._internal = internal
        self._memo: dict[tuple[str, str], tuple[Rpc | None, Access]] = {}
        self._memo_size = memo_size

    def resolve(self, http_method: str, path: str) -> tuple[Rpc | None, Access]:
        """The RPC a request reaches and its access level. Paths that reach no RPC are PUBLIC: Envoy
        answers them with its own 404 (unknown methods under /jan.v1. do reach a service: API)."""
        key = (http_method, path)
        found = self._memo.get(key)
        if found is None:
            if len(self._memo) >= self._memo_size:
                self._memo.clear()
            found = self._memo[key] = self._resolve(http_method, path)
        return found

    def _resolve(self, http_method: str, path: str) -> tuple[Rpc | None, Access]:
        bare = path.split("?", 1)[0]
        if bare in HTTP_ROUTES:
            return None, HTTP_ROUTES[bare]
        rpc = self.routes.grpc(bare)
        if rpc is None and bare.startswith(PUBLIC_GRPC_PREFIXES):
            return None, Access.PUBLIC
        if rpc is None and bare.startswith("/jan.v1."):
            return None, self._internal if _internal_service(bare) else Access.API
        if rpc is None:
            rpc = self.routes.rest(http_method, path)
        return rpc, access_for_rpc(rpc, self._internal) if rpc else Access.PUBLIC

    @staticmethod
    def authorize(access: Access, principal: Principal) -> None:
        """Raises PermissionDenied when the principal may not call an RPC of this level."""
        kind = principal.key_type
        org_owner = kind in ("session", "admin") and principal.org_role == "owner"
        if access in (Access.PUBLIC, Access.ANY):
            return
        if access is Access.API:
            if kind == "admin":
                raise errors.PermissionDenied("admin API keys can only call the organization admin API")
            return
        if access is Access.SESSION:
            if kind != "session":
                raise errors.PermissionDenied("this endpoint needs a signed-in user's session")
            return
        if org_owner:
            return
        if access is Access.INTERNAL:
            raise errors.PermissionDenied(
                "jan.v1.InferenceService and jan.v1.SearchService are internal: only the organization's owners "
                "(a session or an admin API key) may call them; use the chat completions API (web_search_options "
                "for search) or the MCP endpoint (/v1/mcp)"
            )
        roles = principal.projects.values() if kind == "session" else ()
        if access is Access.PROJECT_MEMBER and roles:
            return
        if access is Access.PROJECT_OWNER and "owner" in roles:
            return
        raise errors.PermissionDenied("this endpoint needs an organization owner's session or an admin API key")
