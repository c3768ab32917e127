"""Who may call what: the access level of every RPC and route, and the rule for each level.

Each level is declared once, in the protos: `option (jan.v1.access)` on every RPC of every jan.v1 service,
and `option (jan.v1.http_routes)` on a service for the plain-HTTP routes it serves beside its RPCs (the MCP
endpoint). The Policy reads both from the descriptors; an RPC without a level stops the auth service at
start (and fails tests/repo before that). A request that reaches no declared RPC or route needs a valid
credential, whatever the path: without one it is refused (401), with one Envoy answers 404 (a native gRPC
call, UNIMPLEMENTED). Only the infrastructure a client needs before signing in (grpc.health.v1 and server
reflection) is open besides the RPCs declared PUBLIC.

Levels, from open to closed (protos/jan/v1/access.proto):
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
from collections.abc import Iterable

from google.protobuf import descriptor

from jan.v1 import access_pb2
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

    @classmethod
    def from_proto(cls, value: int) -> Access | None:
        """The level of a jan.v1.Access value; None for ACCESS_UNSPECIFIED (or a value this build lacks)."""
        if value not in access_pb2.Access.values() or value == access_pb2.ACCESS_UNSPECIFIED:
            return None
        return cls[access_pb2.Access.Name(value).removeprefix("ACCESS_")]


# A request that reaches no declared RPC or route: any valid credential, then Envoy's 404 (or the service's
# UNIMPLEMENTED). Never PUBLIC: a route Envoy serves but nothing declares must not be open by accident.
UNROUTED = Access.ANY
# Infrastructure that must answer without credentials (Envoy and grpcurl call these).
PUBLIC_GRPC_PREFIXES = ("/grpc.health.v1.Health/", "/grpc.reflection.")


def rpc_access(method: descriptor.MethodDescriptor) -> Access | None:
    """The level an RPC declares with `option (jan.v1.access)`, or None when it declares none."""
    return Access.from_proto(method.GetOptions().Extensions[access_pb2.access])


def undeclared_rpcs(services: Iterable[descriptor.ServiceDescriptor]) -> list[str]:
    """The RPCs (as /package.Service/Method) that declare no access level."""
    return [f"/{s.full_name}/{m.name}" for s in services for m in s.methods if rpc_access(m) is None]


def plain_http_routes(services: Iterable[descriptor.ServiceDescriptor]) -> dict[str, Access]:
    """The plain-HTTP routes the services declare (`option (jan.v1.http_routes)`), by exact path."""
    routes: dict[str, Access] = {}
    for service in services:
        for route in service.GetOptions().Extensions[access_pb2.http_routes]:
            level = Access.from_proto(route.access)
            if not route.path.startswith("/") or level is None:
                raise ValueError(f"{service.full_name}: http_routes entry {route.path!r} needs a path and an access")
            if route.path in routes:
                raise ValueError(f"{service.full_name}: http_routes path {route.path!r} is declared twice")
            routes[route.path] = level
    return routes


class Policy:
    def __init__(self, routes: RouteTable, memo_size: int = 4096, internal: Access = Access.INTERNAL) -> None:
        """`internal` is the level the INTERNAL RPCs get (JAN_INTERNAL_SERVICES_ACCESS). Raises ValueError when
        an RPC declares no level."""
        self.routes = routes
        self._internal = internal
        services = routes.services
        missing = undeclared_rpcs(services)
        if missing:
            raise ValueError(f"RPCs without an access level (option (jan.v1.access)): {', '.join(missing)}")
        self._levels = {f"/{s.full_name}/{m.name}": rpc_access(m) for s in services for m in s.methods}
        self.http_routes = plain_http_routes(services)
        # Unknown methods of a service whose every RPC is INTERNAL keep that level (nothing to probe there).
        self._internal_prefixes = tuple(
            f"/{s.full_name}/" for s in services if {rpc_access(m) for m in s.methods} == {Access.INTERNAL}
        )
        self._memo: dict[tuple[str, str], tuple[Rpc | None, Access]] = {}
        self._memo_size = memo_size

    def level(self, rpc: Rpc) -> Access:
        declared = self._levels[rpc.path]
        assert declared is not None  # checked in __init__
        return self._internal if declared is Access.INTERNAL else declared

    def resolve(self, http_method: str, path: str) -> tuple[Rpc | None, Access]:
        """The RPC a request reaches and its access level. A request that reaches no RPC and no declared
        route is UNROUTED (a credential is needed; Envoy answers 404)."""
        key = (http_method, path)
        found = self._memo.get(key)
        if found is None:
            if len(self._memo) >= self._memo_size:
                self._memo.clear()
            found = self._memo[key] = self._resolve(http_method, path)
        return found

    def _resolve(self, http_method: str, path: str) -> tuple[Rpc | None, Access]:
        bare = path.split("?", 1)[0]
        if bare in self.http_routes:
            return None, self.http_routes[bare]
        rpc = self.routes.grpc(bare)
        if rpc is None and bare.startswith(PUBLIC_GRPC_PREFIXES):
            return None, Access.PUBLIC
        if rpc is None and bare.startswith(self._internal_prefixes):
            return None, self._internal
        if rpc is None:
            rpc = self.routes.rest(http_method, path)
        return (rpc, self.level(rpc)) if rpc else (None, UNROUTED)

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
