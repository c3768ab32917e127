"""The SignInService, OrganizationService and ext_authz servicers on a real in-process grpc.aio server (the
shared bootstrap, error mapping included) over a real PostgreSQL."""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import AsyncIterator

import grpc
import pytest
from envoy.service.auth.v3 import external_auth_pb2, external_auth_pb2_grpc
from google.rpc import code_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc

from jan.v1 import organization_service_pb2 as org_pb
from jan.v1 import organization_service_pb2_grpc, sign_in_service_pb2_grpc
from jan.v1 import sign_in_service_pb2 as sign_in_pb
from services.auth.server import AuthApp
from services.common.identity import SIGNATURE, caller_from_metadata, sign_identity
from services.common.server import JanServer
from services.common.settings import ServerSettings
from tests.auth.conftest import IDENTITY_SECRET, PASSWORD, start_app, unique_email
from tests.conftest import ADMIN_EMAIL, BOOTSTRAP_TOKEN

SERVING = health_pb2.HealthCheckResponse.SERVING


async def serve(app: AuthApp) -> tuple[JanServer, grpc.aio.Channel]:
    server = JanServer(ServerSettings(listen_address="127.0.0.1:0", shutdown_grace_seconds=0))
    app.register(server)
    port = await server.start()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.remove_signal_handler(sig)
    return server, grpc.aio.insecure_channel(f"127.0.0.1:{port}")


@pytest.fixture
async def channel(app: AuthApp) -> AsyncIterator[grpc.aio.Channel]:
    server, channel = await serve(app)
    yield channel
    await channel.close()
    await server.stop()


def sign_in(channel: grpc.aio.Channel) -> sign_in_service_pb2_grpc.SignInServiceStub:
    return sign_in_service_pb2_grpc.SignInServiceStub(channel)


def org(channel: grpc.aio.Channel) -> organization_service_pb2_grpc.OrganizationServiceStub:
    return organization_service_pb2_grpc.OrganizationServiceStub(channel)


async def identity_of(channel: grpc.aio.Channel, token: str) -> tuple[tuple[str, str], ...]:
    """What ext_authz would attach for this token, asked over gRPC the way Envoy asks."""
    request = external_auth_pb2.CheckRequest()
    request.attributes.request.http.method = "GET"
    request.attributes.request.http.path = "/v1/auth/me"
    request.attributes.request.http.headers["authorization"] = f"Bearer {token}"
    response = await external_auth_pb2_grpc.AuthorizationStub(channel).Check(request)
    assert response.status.code == code_pb2.OK
    return tuple((h.header.key, h.header.value) for h in response.ok_response.headers)


def cookies(call_metadata: grpc.aio.Metadata) -> list[str]:
    return [v for k, v in call_metadata if k == "set-cookie"]


async def test_sign_in_and_the_organization_are_two_services(channel: grpc.aio.Channel) -> None:
    health = health_pb2_grpc.HealthStub(channel)
    for name in ("jan.v1.SignInService", "jan.v1.OrganizationService"):
        assert (await health.Check(health_pb2.HealthCheckRequest(service=name))).status == SERVING
    with pytest.raises(grpc.aio.AioRpcError) as gone:
        await health.Check(health_pb2.HealthCheckRequest(service="jan.v1.AuthService"))
    assert gone.value.code() == grpc.StatusCode.NOT_FOUND
    for method in ("/jan.v1.AuthService/GetMe", "/jan.v1.SignInService/ListUsers", "/jan.v1.OrganizationService/GetMe"):
        with pytest.raises(grpc.aio.AioRpcError) as missing:
            await channel.unary_unary(method)(b"")
        assert missing.value.code() == grpc.StatusCode.UNIMPLEMENTED, method


async def test_guest_login_sets_the_refresh_cookie(channel: grpc.aio.Channel) -> None:
    call = sign_in(channel).GuestLogin(sign_in_pb.GuestLoginRequest())
    session = await call
    assert session.token_type == "Bearer" and session.object == "access.token" and session.expires_in == 900
    [cookie] = cookies(await call.initial_metadata())
    assert cookie.startswith(f"jan_refresh_token={session.refresh_token};")
    assert "HttpOnly" in cookie and "Path=/v1/auth" in cookie and "Secure" in cookie and "SameSite=Lax" in cookie


async def test_failures_send_no_cookie(channel: grpc.aio.Channel) -> None:
    email = unique_email()
    await sign_in(channel).Register(sign_in_pb.RegisterRequest(email=email, password=PASSWORD))
    call = sign_in(channel).Register(sign_in_pb.RegisterRequest(email=email, password=PASSWORD))
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await call
    assert raised.value.code() == grpc.StatusCode.ALREADY_EXISTS
    assert not cookies(raised.value.initial_metadata() or ())


async def test_refresh_reads_the_cookie_and_logout_clears_it(channel: grpc.aio.Channel) -> None:
    session = await sign_in(channel).GuestLogin(sign_in_pb.GuestLoginRequest())
    only_cookie = (("cookie", f"theme=dark; jan_refresh_token={session.refresh_token}"),)
    with pytest.raises(grpc.aio.AioRpcError) as forged:  # what a form posted by another page would send
        await sign_in(channel).RefreshToken(sign_in_pb.RefreshTokenRequest(), metadata=only_cookie)
    assert forged.value.code() == grpc.StatusCode.PERMISSION_DENIED
    cookie = (*only_cookie, ("x-requested-with", "XMLHttpRequest"))
    refreshed = await sign_in(channel).RefreshToken(sign_in_pb.RefreshTokenRequest(), metadata=cookie)
    assert refreshed.refresh_token != session.refresh_token and refreshed.user.id == session.user.id
    with pytest.raises(grpc.aio.AioRpcError) as reused:
        await sign_in(channel).RefreshToken(sign_in_pb.RefreshTokenRequest(), metadata=cookie)
    assert reused.value.code() == grpc.StatusCode.UNAUTHENTICATED

    other = await sign_in(channel).GuestLogin(sign_in_pb.GuestLoginRequest())
    call = sign_in(channel).Logout(sign_in_pb.LogoutRequest(refresh_token=other.refresh_token))
    assert (await call).revoked
    [cleared] = cookies(await call.initial_metadata())
    assert cleared.startswith("jan_refresh_token=;") and "Max-Age=0" in cleared


async def test_get_me_reads_the_identity_metadata(channel: grpc.aio.Channel) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await sign_in(channel).GetMe(sign_in_pb.GetMeRequest())
    assert raised.value.code() == grpc.StatusCode.UNAUTHENTICATED
    session = await sign_in(channel).Register(
        sign_in_pb.RegisterRequest(email=unique_email(), password=PASSWORD, name="Zoe")
    )
    me = await sign_in(channel).GetMe(
        sign_in_pb.GetMeRequest(), metadata=await identity_of(channel, session.access_token)
    )
    assert me.id == session.user.id and me.name == "Zoe" and me.role == "reader" and me.object == "user"


async def test_admin_rpcs_check_every_row(channel: grpc.aio.Channel) -> None:
    owner = await sign_in(channel).Register(sign_in_pb.RegisterRequest(email=ADMIN_EMAIL, password=PASSWORD))
    claim = sign_in_pb.BootstrapOwnerRequest(bootstrap_token=BOOTSTRAP_TOKEN)
    me = await sign_in(channel).BootstrapOwner(claim, metadata=await identity_of(channel, owner.access_token))
    assert me.id == owner.user.id and me.role == "owner" and me.object == "user"
    as_owner = await identity_of(channel, owner.access_token)
    a = await sign_in(channel).Register(sign_in_pb.RegisterRequest(email=unique_email("a"), password=PASSWORD))
    project = await org(channel).CreateProject(org_pb.CreateProjectRequest(name="owner's"), metadata=as_owner)
    assert project.object == "organization.project" and project.status == "active"
    page = await org(channel).ListProjects(org_pb.ListProjectsRequest(), metadata=as_owner)
    assert page.object == "list" and page.first_id == page.last_id == project.id and not page.has_more

    as_a = await identity_of(channel, a.access_token)
    for call in (
        org(channel).ListProjectApiKeys(org_pb.ListProjectApiKeysRequest(project_id=project.id), metadata=as_a),
        org(channel).CreateProjectApiKey(org_pb.CreateProjectApiKeyRequest(project_id=project.id), metadata=as_a),
    ):
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await call
        assert raised.value.code() == grpc.StatusCode.NOT_FOUND
    with pytest.raises(grpc.aio.AioRpcError) as forbidden:
        await org(channel).ListInvites(org_pb.ListInvitesRequest(), metadata=as_a)
    assert forbidden.value.code() == grpc.StatusCode.PERMISSION_DENIED


async def test_identity_without_a_valid_signature_is_nobody(channel: grpc.aio.Channel) -> None:
    """The auth service's own port, called around Envoy with an owner's identity headers: without their
    signature, signed with another key, or signed but expired, they name nobody."""
    owner = await sign_in(channel).Register(sign_in_pb.RegisterRequest(email=ADMIN_EMAIL, password=PASSWORD))
    claim = sign_in_pb.BootstrapOwnerRequest(bootstrap_token=BOOTSTRAP_TOKEN)
    await sign_in(channel).BootstrapOwner(claim, metadata=await identity_of(channel, owner.access_token))
    as_owner = await identity_of(channel, owner.access_token)
    assert (await org(channel).ListProjects(org_pb.ListProjectsRequest(), metadata=as_owner)).object == "list"
    caller = caller_from_metadata(as_owner, IDENTITY_SECRET.encode())
    assert caller.org_role == "owner"
    unsigned = tuple((k, v) for k, v in as_owner if k != SIGNATURE)
    other_key = tuple(sign_identity(caller, b"another-identity-secret-0123456789abc", 2**40).items())
    expired = tuple(sign_identity(caller, IDENTITY_SECRET.encode(), int(time.time()) - 1).items())
    for metadata in (unsigned, other_key, expired):
        for call in (
            sign_in(channel).GetMe(sign_in_pb.GetMeRequest(), metadata=metadata),
            org(channel).ListProjects(org_pb.ListProjectsRequest(), metadata=metadata),
        ):
            with pytest.raises(grpc.aio.AioRpcError) as raised:
                await call
            assert raised.value.code() == grpc.StatusCode.UNAUTHENTICATED


async def test_invalid_input_is_invalid_argument(channel: grpc.aio.Channel) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await sign_in(channel).Register(sign_in_pb.RegisterRequest(email="nope", password=PASSWORD))
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_unconfigured_google_says_so(database_url: str) -> None:
    app, pool = await start_app(database_url)
    server, channel = await serve(app)
    try:
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await sign_in(channel).GetGoogleLoginUrl(sign_in_pb.GetGoogleLoginUrlRequest())
        assert raised.value.code() == grpc.StatusCode.FAILED_PRECONDITION
        assert "OAUTH2_GOOGLE_CLIENT_ID" in (raised.value.details() or "")
    finally:
        await channel.close()
        await server.stop()
        await app.stop()
        await pool.close()
