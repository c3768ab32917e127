"""The ext_authz decision (Authorizer.check) against a real PostgreSQL: identity headers, denials, and
how revocations reach the caches of this replica at once and of another replica through NOTIFY."""

from __future__ import annotations

import asyncio

import pytest
from envoy.service.auth.v3 import external_auth_pb2
from google.rpc import code_pb2

from services.auth.server import AuthApp
from services.common.identity import IDENTITY_HEADERS, Caller
from tests.auth.conftest import PASSWORD, caller_for, register_owner, start_app, unique_email, verified


def check_request(method: str, path: str, token: str | None = None, **headers: str) -> external_auth_pb2.CheckRequest:
    request = external_auth_pb2.CheckRequest()
    http = request.attributes.request.http
    http.method, http.path = method, path
    if token:
        http.headers["authorization"] = f"Bearer {token}"
    http.headers.update({k.replace("_", "-"): v for k, v in headers.items()})
    return request


def identity(response: external_auth_pb2.CheckResponse) -> dict[str, str]:
    assert response.status.code == code_pb2.OK, response.status.message
    set_headers = {h.header.key: h.header.value for h in response.ok_response.headers}
    assert set(set_headers) | set(response.ok_response.headers_to_remove) == set(IDENTITY_HEADERS)
    return verified(set_headers)


def denied(response: external_auth_pb2.CheckResponse) -> tuple[int, str]:
    assert response.status.code != code_pb2.OK
    return response.denied_response.status.code, response.denied_response.body


async def test_session_identity_headers(app: AuthApp) -> None:
    session = await app.accounts.register(unique_email(), PASSWORD, "", Caller())
    headers = identity(await app.authorizer.check(check_request("GET", "/v1/models", session.access_token)))
    claims = app.access_tokens.verify(session.access_token)
    assert headers == {
        "x-jan-user-id": session.user.id,
        "x-jan-org-id": claims.org_id,
        "x-jan-org-role": "reader",
        "x-jan-key-type": "session",
        "x-jan-key-id": claims.session_id,
    }
    grpc_headers = identity(
        await app.authorizer.check(check_request("POST", "/jan.v1.ChatService/ListModels", session.access_token))
    )
    assert grpc_headers == headers


async def test_public_routes_need_nothing_but_use_a_valid_credential(app: AuthApp) -> None:
    assert identity(await app.authorizer.check(check_request("POST", "/v1/auth/login"))) == {}
    assert identity(await app.authorizer.check(check_request("POST", "/grpc.health.v1.Health/Check"))) == {}
    guest = await app.accounts.guest_login()
    upgraded = identity(await app.authorizer.check(check_request("POST", "/v1/auth/register", guest.access_token)))
    assert upgraded["x-jan-user-id"] == guest.user.id
    # A bad token on a public route is ignored (signing in again after expiry must work).
    assert identity(await app.authorizer.check(check_request("POST", "/v1/auth/login", "garbage"))) == {}


@pytest.mark.parametrize("path", ["/v1/auth/me", "/v1/unknown", "/jan.v1.ChatService/NoSuchMethod", "/"])
@pytest.mark.parametrize("authorization", [None, "Basic dXNlcjpwYXNz", "Bearer", "Bearer not-a-jwt", "Bearer sk-nope"])
async def test_protected_routes_deny_without_a_valid_credential(
    app: AuthApp, authorization: str | None, path: str
) -> None:
    """Routes that need a credential, and paths that reach no declared RPC or route (never public)."""
    request = check_request("GET", path)
    if authorization:
        request.attributes.request.http.headers["authorization"] = authorization
    status, body = denied(await app.authorizer.check(request))
    assert status == 401 and body and "\n" not in body


async def test_admin_routes_are_forbidden_to_readers_and_admin_keys_to_the_api(app: AuthApp) -> None:
    reader = await app.accounts.register(unique_email(), PASSWORD, "", Caller())
    assert (
        denied(await app.authorizer.check(check_request("GET", "/v1/organization/projects", reader.access_token)))[0]
        == 403
    )
    owner = await register_owner(app)
    admin_key = await app.api_keys.create_admin_key(await caller_for(app, owner.access_token), "k", None)
    assert identity(await app.authorizer.check(check_request("GET", "/v1/organization/projects", admin_key.value)))
    assert identity(await app.authorizer.check(check_request("GET", "/v1/auth/me", admin_key.value)))
    assert denied(await app.authorizer.check(check_request("POST", "/v1/chat/completions", admin_key.value)))[0] == 403


async def test_openai_project_header_selects_a_project_the_user_is_in(app: AuthApp) -> None:
    owner_session = await register_owner(app)
    owner = await caller_for(app, owner_session.access_token)
    project = await app.organization.create_project(owner, "p")
    headers = identity(
        await app.authorizer.check(
            check_request("GET", "/v1/models", owner_session.access_token, openai_project=project.id)
        )
    )
    assert headers["x-jan-project-id"] == project.id and headers["x-jan-project-role"] == "owner"
    other = await app.accounts.register(unique_email(), PASSWORD, "", Caller())
    assert (
        denied(
            await app.authorizer.check(
                check_request("GET", "/v1/models", other.access_token, openai_project=project.id)
            )
        )[0]
        == 403
    )


async def test_revocation_reaches_another_replica_through_notify(app: AuthApp, database_url: str) -> None:
    replica, pool = await start_app(database_url)
    try:
        session = await app.accounts.register(unique_email(), PASSWORD, "", Caller())
        owner = await register_owner(app)
        owner_caller = await caller_for(app, owner.access_token)
        project = await app.organization.create_project(owner_caller, "p")
        key = await app.api_keys.create_project_key(owner_caller, project.id, "k", None)
        # The other replica caches both as valid...
        assert identity(await replica.authorizer.check(check_request("GET", "/v1/models", session.access_token)))
        assert identity(await replica.authorizer.check(check_request("GET", "/v1/models", key.value)))
        assert len(replica.authenticator.sessions) == 1 and len(replica.authenticator.api_keys) == 1
        # ...then this replica revokes them.
        await app.accounts.logout(session.refresh_token, Caller())
        await app.api_keys.delete_project_key(owner_caller, project.id, key.id)
        for _ in range(100):
            if not len(replica.authenticator.api_keys) and not len(replica.authenticator.sessions):
                break
            await asyncio.sleep(0.01)
        assert (
            denied(await replica.authorizer.check(check_request("GET", "/v1/models", session.access_token)))[0] == 401
        )
        assert denied(await replica.authorizer.check(check_request("GET", "/v1/models", key.value)))[0] == 401
    finally:
        await replica.stop()
        await pool.close()


async def test_warm_checks_do_not_touch_the_database(app: AuthApp) -> None:
    session = await app.accounts.register(unique_email(), PASSWORD, "", Caller())
    request = check_request("GET", "/v1/models", session.access_token)
    identity(await app.authorizer.check(request))  # fills the caches
    store = app.authenticator._store
    app.authenticator._store = None  # type: ignore[assignment]  # any database read would now fail
    try:
        for _ in range(3):
            identity(await app.authorizer.check(request))
    finally:
        app.authenticator._store = store


async def test_caches_are_bypassed_while_the_listener_is_down(app: AuthApp) -> None:
    session = await app.accounts.register(unique_email(), PASSWORD, "", Caller())
    request = check_request("GET", "/v1/models", session.access_token)
    identity(await app.authorizer.check(request))
    assert app.hub._listener is not None and app.hub._listener.server_pid is not None
    await app.store._db.execute("SELECT pg_terminate_backend($1)", app.hub._listener.server_pid)
    for _ in range(100):
        if not app.hub.live:
            break
        await asyncio.sleep(0.01)
    # Revoked behind the cache's back (no NOTIFY heard): the bypassed cache cannot say otherwise.
    await app.store.revoke_session(app.access_tokens.verify(session.access_token).session_id)
    assert denied(await app.authorizer.check(request))[0] == 401
    for _ in range(300):
        if app.hub.live:
            break
        await asyncio.sleep(0.01)
    assert app.hub.live
