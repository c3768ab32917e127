"""gRPC servicer for jan.v1.SignInService: converts protos to domain calls and back (convert.py).

Identity comes from the x-jan-* metadata ext_authz set and signed (services.common.identity): unsigned,
badly signed or expired identity is nobody's. Cookies go out as
`set-cookie` initial metadata, which Envoy's transcoder turns into response headers; it is sent only
once the call has succeeded. The organization admin API, jan.v1.OrganizationService, is admin_servicer.py's.
"""

from __future__ import annotations

from dataclasses import dataclass
from http.cookies import CookieError, SimpleCookie

import grpc

from jan.v1 import organization_service_pb2, sign_in_service_pb2_grpc
from jan.v1 import sign_in_service_pb2 as pb
from services.auth import convert
from services.auth.accounts import Accounts
from services.auth.bootstrap import OwnerBootstrap
from services.auth.domain import SessionTokens
from services.auth.google_oauth import GoogleSignIn
from services.auth.organization import Organization
from services.auth.validation import check_sign_in_state
from services.common import errors
from services.common.identity import Caller, caller_from_metadata, client_ip

REFRESH_COOKIE = "jan_refresh_token"
STATE_COOKIE = "jan_oauth_state"
# A refresh or logout that takes its token from the cookie must carry this header (any value): a browser
# sends the cookie with a plain HTML form posted from another page of the same site, but such a form cannot
# set a header, and a script on another origin can set it only after a CORS preflight Envoy refuses for
# origins not listed in JAN_CORS_ALLOWED_ORIGINS.
CSRF_HEADER = "x-requested-with"


@dataclass(frozen=True)
class CookiePolicy:
    secure: bool = True
    domain: str | None = None
    samesite: str = "Lax"

    def header(self, name: str, value: str, max_age: int, path: str) -> str:
        parts = [f"{name}={value}", f"Path={path}", f"Max-Age={max_age}", "HttpOnly", f"SameSite={self.samesite}"]
        if self.domain:
            parts.append(f"Domain={self.domain}")
        if self.secure or self.samesite == "None":
            parts.append("Secure")
        return "; ".join(parts)


def read_cookie(context: grpc.aio.ServicerContext, name: str) -> str:
    for key, value in context.invocation_metadata() or ():
        if key != "cookie" or not isinstance(value, str):
            continue
        try:
            jar = SimpleCookie(value)
        except CookieError:
            continue
        if name in jar:
            return jar[name].value
    return ""


def has_header(context: grpc.aio.ServicerContext, name: str) -> bool:
    return any(key == name and value for key, value in context.invocation_metadata() or ())


def refresh_token(request: pb.RefreshTokenRequest | pb.LogoutRequest, context: grpc.aio.ServicerContext) -> str:
    """The refresh token of the body, else of the cookie (only with CSRF_HEADER: see there)."""
    if request.refresh_token:
        return request.refresh_token
    token = read_cookie(context, REFRESH_COOKIE)
    if token and not has_header(context, CSRF_HEADER):
        raise errors.PermissionDenied(
            f"A refresh token from the {REFRESH_COOKIE} cookie is only accepted with the X-Requested-With "
            "header (any value); or send the token in the body as refresh_token",
            code="csrf_header_required",
        )
    return token


class SignInServicer(sign_in_service_pb2_grpc.SignInServiceServicer):
    def __init__(
        self,
        accounts: Accounts,
        google: GoogleSignIn,
        organization: Organization,
        cookies: CookiePolicy,
        bootstrap: OwnerBootstrap,
        identity_secret: bytes,
    ) -> None:
        self._identity_secret = identity_secret
        self._accounts = accounts
        self._bootstrap = bootstrap
        self._google = google
        self._org = organization  # accepting an invite
        self._cookies = cookies

    def _caller(self, context: grpc.aio.ServicerContext) -> Caller:
        """Who is calling: the identity ext_authz set, if its signature holds (else nobody)."""
        return caller_from_metadata(context.invocation_metadata(), self._identity_secret)

    async def _with_refresh_cookie(self, session: SessionTokens, context: grpc.aio.ServicerContext) -> pb.Session:
        cookie = self._cookies.header(REFRESH_COOKIE, session.refresh_token, session.refresh_expires_in, "/v1/auth")
        await context.send_initial_metadata((("set-cookie", cookie),))
        return convert.session(session)

    async def GuestLogin(self, request: pb.GuestLoginRequest, context: grpc.aio.ServicerContext) -> pb.Session:
        session = await self._accounts.guest_login(client_ip(context.invocation_metadata()))
        return await self._with_refresh_cookie(session, context)

    async def Register(self, request: pb.RegisterRequest, context: grpc.aio.ServicerContext) -> pb.Session:
        session = await self._accounts.register(request.email, request.password, request.name, self._caller(context))
        return await self._with_refresh_cookie(session, context)

    async def Login(self, request: pb.LoginRequest, context: grpc.aio.ServicerContext) -> pb.Session:
        session = await self._accounts.login(request.email, request.password, client_ip(context.invocation_metadata()))
        return await self._with_refresh_cookie(session, context)

    async def RefreshToken(self, request: pb.RefreshTokenRequest, context: grpc.aio.ServicerContext) -> pb.Session:
        return await self._with_refresh_cookie(await self._accounts.refresh(refresh_token(request, context)), context)

    async def Logout(self, request: pb.LogoutRequest, context: grpc.aio.ServicerContext) -> pb.LogoutResponse:
        revoked = await self._accounts.logout(refresh_token(request, context), self._caller(context))
        await context.send_initial_metadata((("set-cookie", self._cookies.header(REFRESH_COOKIE, "", 0, "/v1/auth")),))
        return convert.logged_out(revoked)

    async def GetMe(self, request: pb.GetMeRequest, context: grpc.aio.ServicerContext) -> pb.User:
        return convert.user(await self._accounts.me(self._caller(context)))

    async def GetGoogleLoginUrl(
        self, request: pb.GetGoogleLoginUrlRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetGoogleLoginUrlResponse:
        url, state = await self._google.login_url()
        cookie = self._cookies.header(STATE_COOKIE, state, self._google.state_ttl_seconds, "/v1/auth/google")
        await context.send_initial_metadata((("set-cookie", cookie),))
        return pb.GetGoogleLoginUrlResponse(url=url, state=state)

    async def GoogleCallback(self, request: pb.GoogleCallbackRequest, context: grpc.aio.ServicerContext) -> pb.Session:
        check_sign_in_state(read_cookie(context, STATE_COOKIE), request.state)  # the browser that started it
        session = await self._google.callback(
            request.code, request.state, self._caller(context), client_ip(context.invocation_metadata())
        )
        return await self._with_refresh_cookie(session, context)

    async def BootstrapOwner(self, request: pb.BootstrapOwnerRequest, context: grpc.aio.ServicerContext) -> pb.User:
        return convert.user(await self._bootstrap.redeem(self._caller(context), request.bootstrap_token))

    async def AcceptInvite(
        self, request: pb.AcceptInviteRequest, context: grpc.aio.ServicerContext
    ) -> organization_service_pb2.Invite:
        return convert.invite(await self._org.accept_invite(self._caller(context), request.code))
