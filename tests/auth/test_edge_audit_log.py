"""The audit log through Envoy: the official SDK's `client.admin.organization.audit_logs.list(...)` for each
event family, its filters (effective_at[gt]=..., event_types[]=..., as the SDK sends them) and cursor
pages, raw bodies checked against OpenAI's document, refusals in OpenAI's error shape, and native gRPC."""

from __future__ import annotations

import time
import urllib.parse
from typing import Any

import grpc
import httpx
import openai
import pytest

from devstack.stack import Stack
from jan.v1 import organization_service_pb2 as org_pb
from jan.v1 import organization_service_pb2_grpc
from tests.auth.conftest import PASSWORD, Owner, Rest, unique_email
from tests.conftest import TINY_MODEL_NAME
from tests.support.openai_spec import assert_error, assert_route


@pytest.fixture
def admin(stack: Stack, owner: Owner) -> openai.OpenAI:
    return openai.OpenAI(
        base_url=f"{stack.http_url}/v1", api_key="unused", admin_api_key=owner.admin_key, max_retries=0
    )


def logs(admin: openai.OpenAI, **params: Any) -> list[Any]:
    """Every matching event, newest first, following the SDK's cursor pages."""
    return list(admin.admin.organization.audit_logs.list(limit=100, **params))


def raw(stack: Stack, owner: Owner, query: str) -> httpx.Response:
    return httpx.get(
        f"{stack.http_url}/v1/organization/audit_logs?{query}",
        headers={"authorization": f"Bearer {owner.admin_key}"},
        timeout=30,
    )


def test_project_keys_and_service_account_events(admin: openai.OpenAI, stack: Stack, owner: Owner) -> None:
    org = admin.admin.organization
    project = org.projects.create(name="audited")
    org.projects.update(project.id, name="audited 2")
    account = org.projects.service_accounts.create(project.id, name="bot")
    org.projects.api_keys.delete(account.api_key.id, project_id=project.id)
    org.projects.service_accounts.delete(account.id, project_id=project.id)
    org.projects.rate_limits.update_rate_limit(
        f"rl-{TINY_MODEL_NAME}", project_id=project.id, max_requests_per_1_minute=7
    )
    org.projects.archive(project.id)

    events = logs(admin, project_ids=[project.id])
    assert [e.type for e in reversed(events)] == [
        "project.created",
        "project.updated",
        "service_account.created",
        "api_key.created",
        "api_key.deleted",
        "service_account.deleted",
        "rate_limit.updated",
        "project.archived",
    ]
    for event in events:
        assert event.id.startswith("audit_log-") and event.project.id == project.id
        assert event.actor.type == "api_key" and event.actor.api_key.type == "user"
        assert event.actor.api_key.user.email and abs(event.effective_at - time.time()) < 120
    by_type = {e.type: e for e in events}
    details = by_type["project.created"].model_extra or {}
    assert details["project.created"] == {"id": project.id, "data": {"name": "audited", "title": "audited"}}
    limit = (by_type["rate_limit.updated"].model_extra or {})["rate_limit.updated"]
    assert limit == {"id": f"rl-{TINY_MODEL_NAME}", "changes_requested": {"max_requests_per_1_minute": 7}}
    assert by_type["project.archived"].project.name == "audited 2"

    admin_key = org.admin_api_keys.create(name="audited admin key")
    org.admin_api_keys.delete(admin_key.id)
    assert [e.type for e in logs(admin, resource_ids=[admin_key.id])] == ["api_key.deleted", "api_key.created"]

    body = raw(stack, owner, urllib.parse.urlencode({"project_ids[]": project.id}))
    assert body.status_code == 200, body.text
    assert_route("GET", "/v1/organization/audit_logs", body.json())
    assert len(body.json()["data"]) == len(events) and body.json()["has_more"] is False


def test_member_invite_and_sign_in_events(admin: openai.OpenAI, rest: Rest, stack: Stack, owner: Owner) -> None:
    org = admin.admin.organization
    project = org.projects.create(name="people")
    email = unique_email("invitee")
    invite = org.invites.create(email=email, role="reader", projects=[{"id": project.id, "role": "member"}])
    code = (invite.model_extra or {})["code"]
    invitee = rest.register(email)
    assert rest("POST", "/v1/auth/invites/accept", {"code": code}, token=invitee["access_token"]).status == 200
    user_id = invitee["user"]["id"]
    org.projects.users.update(user_id, project_id=project.id, role="owner")
    org.projects.users.delete(user_id, project_id=project.id)
    org.users.update(user_id, role="owner")
    org.users.update(user_id, role="reader")
    assert [e.type for e in logs(admin, resource_ids=[invite.id])] == ["invite.accepted", "invite.sent"]
    mine = logs(admin, actor_ids=[user_id])
    assert {"invite.accepted", "user.added"} <= {e.type for e in mine}
    (project_add,) = [e for e in mine if e.type == "user.added" and e.project]
    assert (project_add.model_extra or {})["user.added"] == {"id": user_id, "data": {"role": "member"}}
    assert project_add.actor.type == "session" and project_add.actor.session.user.email == email
    assert project_add.actor.session.ip_address == "127.0.0.1"  # Envoy's view of the client
    on_user = [e.type for e in logs(admin, resource_ids=[user_id], event_types=["user.updated", "user.deleted"])]
    assert on_user == ["user.updated", "user.updated", "user.deleted", "user.updated"]

    # Sign-in and sign-out: a failed password, a success, a logout, a failed Google sign-in.
    assert rest("POST", "/v1/auth/login", {"email": email, "password": "not it"}).status == 401
    signed_in = rest("POST", "/v1/auth/login", {"email": email, "password": PASSWORD}).json()
    assert rest("POST", "/v1/auth/logout", {}, token=signed_in["access_token"]).status == 200
    started = rest("GET", "/v1/auth/google/login").json()
    wrong = "wrong-" + started["state"]  # from the browser that started it (the cookie), but no pending state
    callback = rest(
        "POST",
        "/v1/auth/google/callback",
        {"code": "x", "state": wrong},
        headers={"cookie": f"jan_oauth_state={wrong}"},
    )
    assert callback.status == 400
    sessions = logs(
        admin, actor_emails=[email.upper()], event_types=["login.failed", "login.succeeded", "logout.succeeded"]
    )
    assert [e.type for e in sessions][:3] == ["logout.succeeded", "login.succeeded", "login.failed"]
    failed = (sessions[2].model_extra or {})["login.failed"]
    assert failed == {"error_code": "invalid_credentials", "error_message": "invalid email or password"}
    google = logs(admin, event_types=["login.failed"], effective_at={"gte": int(time.time()) - 60})
    assert any(e.actor.session.ip_address == "127.0.0.1" and not e.actor.session.user.id for e in google)

    reader = openai.OpenAI(
        base_url=f"{stack.http_url}/v1", api_key="unused", admin_api_key=signed_in["access_token"], max_retries=0
    )
    with pytest.raises(openai.AuthenticationError):  # signed out
        reader.admin.organization.audit_logs.list()


def test_filters_pages_and_refusals(admin: openai.OpenAI, rest: Rest, stack: Stack, owner: Owner) -> None:
    org = admin.admin.organization
    start = int(time.time())
    project = org.projects.create(name="paged")
    for i in range(5):
        org.projects.update(project.id, name=f"paged {i}")
    audit_logs = org.audit_logs
    first = audit_logs.list(limit=2, project_ids=[project.id], event_types=["project.updated"])
    assert len(first.data) == 2 and first.has_more and first.first_id == first.data[0].id
    titles = [(e.model_extra or {})["project.updated"]["changes_requested"]["title"] for e in first]  # every page
    assert titles == [f"paged {i}" for i in reversed(range(5))]
    second = audit_logs.list(limit=2, project_ids=[project.id], event_types=["project.updated"], after=first.last_id)
    back = audit_logs.list(limit=2, project_ids=[project.id], event_types=["project.updated"], before=second.data[0].id)
    assert [e.id for e in back.data] == [e.id for e in first.data]

    # effective_at as the SDK sends it (effective_at[gt]=...), and both query forms of it by hand.
    assert len(logs(admin, project_ids=[project.id], effective_at={"gte": start})) == 6
    assert logs(admin, project_ids=[project.id], effective_at={"gt": int(time.time()) + 5}) == []
    assert logs(admin, project_ids=[project.id], effective_at={"lt": start}) == []
    for query in (
        f"project_ids%5B%5D={project.id}&effective_at%5Bgte%5D={start}&event_types%5B%5D=project.created",
        f"project_ids[]={project.id}&effective_at[gte]={start}&effective_at[lte]={int(time.time()) + 5}"
        "&event_types[]=project.created",
    ):
        body = raw(stack, owner, query)
        assert body.status_code == 200, body.text
        assert [e["type"] for e in body.json()["data"]] == ["project.created"]
        assert_route("GET", "/v1/organization/audit_logs", body.json())

    for query, param in (
        ("event_types[]=user.exploded", "event_types"),
        ("limit=0", "limit"),
        ("limit=101", "limit"),
        ("after=audit_log-missing", "after"),
        ("before=audit_log-missing", "before"),
    ):
        refused = raw(stack, owner, query)
        assert refused.status_code == 400, (query, refused.text)
        assert_error(refused.json())
        assert refused.json()["error"]["param"] == param
    with pytest.raises(openai.BadRequestError):
        audit_logs.list(event_types=["project.created", "nope"])  # type: ignore[list-item]

    reader = rest.register()
    client = openai.OpenAI(
        base_url=f"{stack.http_url}/v1", api_key="unused", admin_api_key=reader["access_token"], max_retries=0
    )
    with pytest.raises(openai.PermissionDeniedError):
        client.admin.organization.audit_logs.list()
    anonymous = httpx.get(f"{stack.http_url}/v1/organization/audit_logs", timeout=30)
    assert anonymous.status_code == 401
    assert_error(anonymous.json())


async def test_native_grpc(admin: openai.OpenAI, rest: Rest, owner: Owner, edge_channel: grpc.aio.Channel) -> None:
    project = admin.admin.organization.projects.create(name="native")
    stub = organization_service_pb2_grpc.OrganizationServiceStub(edge_channel)
    auth = (("authorization", f"Bearer {owner.admin_key}"),)
    page = await stub.ListAuditLogs(
        org_pb.ListAuditLogsRequest(project_ids=[project.id], effective_at=org_pb.AuditLogTimeRange(gte=0)),
        metadata=auth,
        timeout=10,
    )
    (event,) = page.data
    assert event.type == "project.created" and event.WhichOneof("details") == "project_created"
    assert event.project_created.data.name == "native" and event.project.name == "native"
    assert event.actor.api_key.type == "user" and page.first_id == event.id and not page.has_more
    for request, code in (
        (org_pb.ListAuditLogsRequest(event_types=["nope"]), grpc.StatusCode.INVALID_ARGUMENT),
        (org_pb.ListAuditLogsRequest(limit=500), grpc.StatusCode.INVALID_ARGUMENT),
    ):
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await stub.ListAuditLogs(request, metadata=auth, timeout=10)
        assert raised.value.code() == code
    reader = (("authorization", f"Bearer {rest.register()['access_token']}"),)
    with pytest.raises(grpc.aio.AioRpcError) as denied:
        await stub.ListAuditLogs(org_pb.ListAuditLogsRequest(), metadata=reader, timeout=10)
    assert denied.value.code() == grpc.StatusCode.PERMISSION_DENIED


def test_a_clients_own_x_forwarded_for_is_not_believed(admin: openai.OpenAI, rest: Rest) -> None:
    """The shared stack trusts no proxy in front of Envoy (JAN_TRUSTED_PROXY_HOPS=0): the address recorded is the
    connection's peer whatever the client claims (tests/edge/test_client_address.py has a trusted proxy)."""
    email = unique_email("forger")
    forged = {"x-forwarded-for": "203.0.113.66", "x-jan-client-ip": "203.0.113.67"}
    assert rest("POST", "/v1/auth/login", {"email": email, "password": "x" * 12}, headers=forged).status == 401
    (failed,) = logs(admin, actor_emails=[email], event_types=["login.failed"])
    assert failed.actor.session.ip_address == "127.0.0.1"
