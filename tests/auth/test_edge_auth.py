"""Accounts, sessions, keys and ext_authz through the real Envoy: REST (transcoded) and native gRPC."""

from __future__ import annotations

import base64
import json
import time

import grpc
import jwt
import pytest
from google.rpc import error_details_pb2, status_pb2

from jan.v1 import organization_service_pb2 as org_pb
from jan.v1 import organization_service_pb2_grpc, sign_in_service_pb2_grpc
from jan.v1 import sign_in_service_pb2 as sign_in_pb
from tests.auth.conftest import PASSWORD, Owner, Response, Rest, unique_email
from tests.conftest import ADMIN_EMAIL, BOOTSTRAP_TOKEN

STACK_JWT_SECRET = "test-jwt-secret-0123456789abcdef0123456789"  # tests/conftest.py's stack_env


def assert_error(r: Response, status: int, type_: str) -> dict:
    assert r.status == status, (r.status, r.body)
    assert r.headers["content-type"].startswith("application/json")
    error = r.json()["error"]
    assert set(error) == {"message", "type", "param", "code"} and error["type"] == type_ and error["message"]
    return error


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def test_guest_login_returns_a_session_and_an_httponly_cookie(rest: Rest, stack_env: dict[str, str]) -> None:
    r = rest("POST", "/v1/auth/guest-login", {})
    assert r.status == 200, r.body
    session = r.json()
    assert session["token_type"] == "Bearer" and session["object"] == "access.token"
    assert session["expires_in"] == int(stack_env["JAN_ACCESS_TOKEN_TTL_SECONDS"]) and session[
        "refresh_token"
    ].startswith("rt_")
    assert session["user"]["is_guest"] is True and session["user"]["id"].startswith("user_")
    cookie = r.headers["set-cookie"]
    assert cookie.startswith(f"jan_refresh_token={session['refresh_token']};") and "HttpOnly" in cookie
    me = rest("GET", "/v1/auth/me", token=session["access_token"])
    assert me.status == 200 and me.json()["id"] == session["user"]["id"] and me.json()["is_guest"] is True


def test_register_login_and_me(rest: Rest) -> None:
    email = unique_email()
    registered = rest.register(email)
    assert registered["user"]["email"] == email and registered["user"]["role"] == "reader"
    login = rest("POST", "/v1/auth/login", {"email": email, "password": PASSWORD})
    assert login.status == 200 and login.json()["user"]["id"] == registered["user"]["id"]
    me = rest("GET", "/v1/auth/me", token=login.json()["access_token"]).json()
    assert me["email"] == email and me["object"] == "user" and me["is_guest"] is False
    wrong = rest("POST", "/v1/auth/login", {"email": email, "password": "wrong password"})
    assert_error(wrong, 401, "authentication_error")
    taken = rest("POST", "/v1/auth/register", {"email": email, "password": PASSWORD})
    assert taken.status == 409


def test_a_guest_registering_keeps_its_id(rest: Rest) -> None:
    guest = rest("POST", "/v1/auth/guest-login", {}).json()
    registered = rest.register(token=guest["access_token"])
    assert registered["user"]["id"] == guest["user"]["id"] and registered["user"]["is_guest"] is False


def forged_tokens(valid: str) -> dict[str, str]:
    header, payload, signature = valid.split(".")
    claims = jwt.decode(valid, options={"verify_signature": False})
    now = int(time.time())
    return {
        "tampered": f"{header}.{_b64({**claims, 'sub': 'user_someone_else'})}.{signature}",
        "expired": jwt.encode({**claims, "iat": now - 3600, "exp": now - 60}, STACK_JWT_SECRET, algorithm="HS256"),
        "alg-none": f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{payload}.",
        "wrong-key": jwt.encode(claims, "an-attackers-secret-0123456789abcdef01234567", algorithm="HS256"),
        "garbage": "not-a-token",
        "unknown-key": "sk-proj-" + "A" * 48,
    }


def test_forged_and_expired_tokens_are_401(rest: Rest) -> None:
    session = rest.register()
    assert rest("GET", "/v1/auth/me", token=session["access_token"]).status == 200
    for name, token in forged_tokens(session["access_token"]).items():
        r = rest("GET", "/v1/auth/me", token=token)
        assert_error(r, 401, "authentication_error")
        assert token not in r.body.decode(), name
    assert_error(rest("GET", "/v1/auth/me"), 401, "authentication_error")


def test_refresh_from_body_and_cookie_rotates_and_reuse_kills_the_family(rest: Rest) -> None:
    first = rest.register()
    by_body = rest("POST", "/v1/auth/refresh", {"refresh_token": first["refresh_token"]})
    assert by_body.status == 200, by_body.body
    second = by_body.json()
    assert second["refresh_token"] != first["refresh_token"]
    assert second["refresh_token"] in by_body.headers["set-cookie"]
    cookie = {"cookie": f"jan_refresh_token={second['refresh_token']}"}
    forged = rest("POST", "/v1/auth/refresh", {}, headers=cookie)  # as a form would: the cookie and no header
    assert_error(forged, 403, "permission_error")
    assert "set-cookie" not in forged.headers and second["refresh_token"] not in forged.body.decode()
    by_cookie = rest("POST", "/v1/auth/refresh", {}, headers={**cookie, "x-requested-with": "XMLHttpRequest"})
    assert by_cookie.status == 200, by_cookie.body
    third = by_cookie.json()
    assert rest("GET", "/v1/auth/me", token=third["access_token"]).status == 200

    replay = rest("POST", "/v1/auth/refresh", {"refresh_token": first["refresh_token"]})
    assert_error(replay, 401, "authentication_error")
    assert "set-cookie" not in replay.headers
    assert_error(
        rest("POST", "/v1/auth/refresh", {"refresh_token": third["refresh_token"]}), 401, "authentication_error"
    )
    assert_error(rest("GET", "/v1/auth/me", token=third["access_token"]), 401, "authentication_error")


def test_logout_revokes_the_session_and_clears_the_cookie(rest: Rest) -> None:
    session = rest.register()
    cookie = {"cookie": f"jan_refresh_token={session['refresh_token']}"}
    forged = rest("POST", "/v1/auth/logout", {}, headers=cookie)  # a form posted from another page of the site
    assert_error(forged, 403, "permission_error")
    assert rest("GET", "/v1/auth/me", token=session["access_token"]).status == 200  # nothing was revoked
    r = rest(
        "POST",
        "/v1/auth/logout",
        {},
        token=session["access_token"],
        headers={**cookie, "x-requested-with": "XMLHttpRequest"},
    )
    assert r.status == 200 and r.json() == {"object": "auth.logout", "revoked": True}
    assert "Max-Age=0" in r.headers["set-cookie"]
    assert_error(rest("GET", "/v1/auth/me", token=session["access_token"]), 401, "authentication_error")
    assert_error(
        rest("POST", "/v1/auth/refresh", {"refresh_token": session["refresh_token"]}), 401, "authentication_error"
    )


def test_client_sent_identity_headers_are_ignored(rest: Rest, owner: Owner) -> None:
    a, b = rest.register(), rest.register()
    spoofed = {"x-jan-user-id": b["user"]["id"], "x-jan-org-role": "owner", "x-jan-key-type": "admin"}
    me = rest("GET", "/v1/auth/me", token=a["access_token"], headers=spoofed)
    assert me.status == 200 and me.json()["id"] == a["user"]["id"] and me.json()["role"] == "reader"
    assert_error(rest("GET", "/v1/auth/me", headers=spoofed), 401, "authentication_error")
    assert_error(
        rest("GET", "/v1/organization/projects", token=a["access_token"], headers=spoofed), 403, "permission_error"
    )


def test_admin_routes_need_an_owner_or_an_admin_key(rest: Rest, owner: Owner) -> None:
    reader = rest.register()
    for method, path in [
        ("GET", "/v1/organization/projects"),
        ("POST", "/v1/organization/invites"),
        ("GET", "/v1/organization/users"),
        ("GET", "/v1/organization/admin_api_keys"),
    ]:
        assert_error(
            rest(method, path, {} if method == "POST" else None, token=reader["access_token"]), 403, "permission_error"
        )
    assert rest("GET", "/v1/organization/projects", token=owner.access_token).status == 200
    assert rest("GET", "/v1/organization/projects", token=owner.admin_key).status == 200
    me = rest("GET", "/v1/auth/me", token=owner.admin_key)
    assert me.status == 200 and me.json()["role"] == "owner"
    assert_error(rest("GET", "/v1/models", token=owner.admin_key), 403, "permission_error")


def project_with_owner(rest: Rest, owner: Owner, user: dict) -> str:
    project = rest("POST", "/v1/organization/projects", {"name": "p"}, token=owner.admin_key).json()
    added = rest(
        "POST",
        f"/v1/organization/projects/{project['id']}/users",
        {"user_id": user["user"]["id"], "role": "owner"},
        token=owner.admin_key,
    )
    assert added.status == 200, added.body
    return project["id"]


def test_project_keys_work_until_revoked_or_expired(rest: Rest, owner: Owner) -> None:
    user = rest.register()
    project_id = project_with_owner(rest, owner, user)
    created = rest(
        "POST", f"/v1/organization/projects/{project_id}/api_keys", {"name": "ci"}, token=user["access_token"]
    )
    assert created.status == 200, created.body
    key = created.json()
    assert key["value"].startswith("sk-proj-") and key["owner"]["user"]["id"] == user["user"]["id"]
    me = rest("GET", "/v1/auth/me", token=key["value"]).json()
    assert me["id"] == user["user"]["id"] and me["project_id"] == project_id
    listed = rest("GET", f"/v1/organization/projects/{project_id}/api_keys", token=user["access_token"]).json()
    assert [k["id"] for k in listed["data"]] == [key["id"]] and "value" not in listed["data"][0]
    assert key["value"] not in json.dumps(listed)

    deleted = rest("DELETE", f"/v1/organization/projects/{project_id}/api_keys/{key['id']}", token=user["access_token"])
    assert deleted.json() == {"object": "organization.project.api_key.deleted", "id": key["id"], "deleted": True}
    assert_error(rest("GET", "/v1/auth/me", token=key["value"]), 401, "authentication_error")

    short = rest(
        "POST",
        f"/v1/organization/projects/{project_id}/api_keys",
        {"name": "short", "expires_in_seconds": 1},
        token=user["access_token"],
    ).json()
    assert rest("GET", "/v1/auth/me", token=short["value"]).status == 200
    time.sleep(1.2)
    assert_error(rest("GET", "/v1/auth/me", token=short["value"]), 401, "authentication_error")


def test_users_cannot_touch_each_others_projects_or_keys(rest: Rest, owner: Owner) -> None:
    a, b = rest.register(), rest.register()
    project_a, project_b = project_with_owner(rest, owner, a), project_with_owner(rest, owner, b)
    b_key = rest(
        "POST", f"/v1/organization/projects/{project_b}/api_keys", {"name": "b"}, token=b["access_token"]
    ).json()
    token = a["access_token"]
    for method, path in [
        ("GET", f"/v1/organization/projects/{project_b}/users"),
        ("GET", f"/v1/organization/projects/{project_b}/api_keys"),
        ("GET", f"/v1/organization/projects/{project_b}/api_keys/{b_key['id']}"),
        ("DELETE", f"/v1/organization/projects/{project_b}/api_keys/{b_key['id']}"),
        ("GET", f"/v1/organization/projects/{project_a}/api_keys/{b_key['id']}"),
        ("POST", f"/v1/organization/projects/{project_b}/service_accounts"),
        ("DELETE", f"/v1/organization/projects/{project_b}/users/{b['user']['id']}"),
    ]:
        r = rest(method, path, {"name": "x"} if method == "POST" else None, token=token)
        assert_error(r, 404, "invalid_request_error")
    assert rest("GET", "/v1/auth/me", token=b_key["value"]).status == 200  # untouched
    assert rest("GET", f"/v1/organization/projects/{project_a}/users", token=token).status == 200


async def test_native_grpc_through_envoy(rest: Rest, owner: Owner, edge_channel: grpc.aio.Channel) -> None:
    sign_in = sign_in_service_pb2_grpc.SignInServiceStub(edge_channel)
    org = organization_service_pb2_grpc.OrganizationServiceStub(edge_channel)
    session = await sign_in.Register(sign_in_pb.RegisterRequest(email=unique_email(), password=PASSWORD), timeout=10)
    auth = (("authorization", f"Bearer {session.access_token}"),)
    me = await sign_in.GetMe(sign_in_pb.GetMeRequest(), metadata=auth, timeout=10)
    assert me.id == session.user.id
    spoofed = await sign_in.GetMe(
        sign_in_pb.GetMeRequest(), metadata=(*auth, ("x-jan-user-id", "user_spoofed")), timeout=10
    )
    assert spoofed.id == session.user.id
    for metadata, code in [
        ((), grpc.StatusCode.UNAUTHENTICATED),
        ((("authorization", "Bearer forged.token.here"),), grpc.StatusCode.UNAUTHENTICATED),
    ]:
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await sign_in.GetMe(sign_in_pb.GetMeRequest(), metadata=metadata, timeout=10)
        assert raised.value.code() == code
    with pytest.raises(grpc.aio.AioRpcError) as forbidden:
        await org.ListProjects(org_pb.ListProjectsRequest(), metadata=auth, timeout=10)
    assert forbidden.value.code() == grpc.StatusCode.PERMISSION_DENIED
    admin = (("authorization", f"Bearer {owner.admin_key}"),)
    projects = await org.ListProjects(org_pb.ListProjectsRequest(limit=1), metadata=admin, timeout=10)
    assert projects.object == "list"


async def test_guessing_a_password_is_cut_off_with_a_429(rest: Rest, edge_channel: grpc.aio.Channel) -> None:
    # The session stack runs the default limit: 10 failures per email per 15 minutes.
    email = unique_email()
    rest.register(email)
    for _ in range(10):
        assert_error(
            rest("POST", "/v1/auth/login", {"email": email, "password": "a guess"}), 401, "authentication_error"
        )
    refused = rest("POST", "/v1/auth/login", {"email": email, "password": PASSWORD})
    error = assert_error(refused, 429, "rate_limit_error")
    assert "too many failed sign-ins" in error["message"]
    # When to come back, in the header OpenAI's SDKs read (edge.lua copies the service's trailer into it).
    assert 0 < int(refused.headers["retry-after"]) <= 900 and "x-jan-retry-after" not in refused.headers
    sign_in = sign_in_service_pb2_grpc.SignInServiceStub(edge_channel)
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await sign_in.Login(sign_in_pb.LoginRequest(email=email, password=PASSWORD), timeout=10)
    assert raised.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    details = dict(raised.value.trailing_metadata())["grpc-status-details-bin"]
    retry_info = error_details_pb2.RetryInfo()
    assert status_pb2.Status.FromString(details).details[0].Unpack(retry_info)
    assert 0 < retry_info.retry_delay.seconds <= 900
    other = rest.register()
    assert rest("POST", "/v1/auth/login", {"email": other["user"]["email"], "password": PASSWORD}).status == 200


def test_the_bootstrap_route_answers_in_openais_error_shape(rest: Rest, owner: Owner) -> None:
    # The owner fixture spent the stack's bootstrap token (JAN_BOOTSTRAP_TOKEN) already.
    body = {"bootstrap_token": BOOTSTRAP_TOKEN}
    assert_error(rest("POST", "/v1/auth/bootstrap", body), 401, "authentication_error")
    user = rest.register()
    taken = assert_error(
        rest("POST", "/v1/auth/bootstrap", body, token=user["access_token"]), 400, "invalid_request_error"
    )
    assert "already has an owner" in taken["message"]
    guest = rest("POST", "/v1/auth/guest-login", {}).json()
    assert_error(rest("POST", "/v1/auth/bootstrap", body, token=guest["access_token"]), 403, "permission_error")
    me = rest("GET", "/v1/auth/me", token=owner.access_token).json()
    assert me["role"] == "owner" and me["email"] == ADMIN_EMAIL
