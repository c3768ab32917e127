"""The audit log against a real PostgreSQL: every event type built as OpenAI's AuditLog defines it, events
written in the change's transaction (none after a rollback), the listing's filters and cursors, and the
conversion to OpenAI's JSON."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest

from jan.v1 import organization_service_pb2 as pb
from services.auth import audit, convert
from services.auth.audit import Actor, AuditLogQuery, audit_log_query
from services.auth.server import AuthApp
from services.common import errors
from services.common.identity import Caller
from tests.auth.conftest import PASSWORD, caller_for, register_owner, unique_email
from tests.support.openai_spec import assert_route

SESSION = Actor("session", "user_1", ip_address="10.0.0.1")
ADMIN_KEY = Actor("api_key", "user_1", key_id="key_1", key_type="user")


async def owner_of(app: AuthApp) -> Caller:
    return replace(await caller_for(app, (await register_owner(app)).access_token), client_ip="192.0.2.7")


async def events(app: AuthApp, **filters: Any) -> list[audit.AuditLog]:
    page = await app.store.list_audit_logs(app.organization.org_id, AuditLogQuery(limit=100, **filters))
    return page.items


# -- building ------------------------------------------------------------------------------------------
BUILT = [
    (audit.api_key_created(ADMIN_KEY, "key_a", "proj_1"), {"id": "key_a", "data": {"scopes": []}}),
    (audit.api_key_updated(ADMIN_KEY, "key_a", "proj_1"), {"id": "key_a", "changes_requested": {"scopes": []}}),
    (audit.api_key_deleted(ADMIN_KEY, "key_a", None), {"id": "key_a"}),
    (audit.project_created(SESSION, "proj_1", "P"), {"id": "proj_1", "data": {"name": "P", "title": "P"}}),
    (audit.project_updated(SESSION, "proj_1", "Q"), {"id": "proj_1", "changes_requested": {"title": "Q"}}),
    (audit.project_archived(SESSION, "proj_1"), {"id": "proj_1"}),
    (audit.service_account_created(SESSION, "svc_1", "proj_1", "member"), {"id": "svc_1", "data": {"role": "member"}}),
    (
        audit.service_account_updated(SESSION, "svc_1", "proj_1", "owner"),
        {"id": "svc_1", "changes_requested": {"role": "owner"}},
    ),
    (audit.service_account_deleted(SESSION, "svc_1", "proj_1"), {"id": "svc_1"}),
    (
        audit.invite_sent(SESSION, "inv_1", "a@b.c", "reader"),
        {"id": "inv_1", "data": {"email": "a@b.c", "role": "reader"}},
    ),
    (audit.invite_accepted(SESSION, "inv_1"), {"id": "inv_1"}),
    (audit.invite_deleted(SESSION, "inv_1"), {"id": "inv_1"}),
    (audit.user_added(SESSION, "user_2", "member", "proj_1"), {"id": "user_2", "data": {"role": "member"}}),
    (audit.user_updated(SESSION, "user_2", "owner"), {"id": "user_2", "changes_requested": {"role": "owner"}}),
    (audit.user_deleted(SESSION, "user_2"), {"id": "user_2"}),
    (
        audit.rate_limit_updated(SESSION, "rl-m", "proj_1", {"max_requests_per_1_minute": 5}),
        {"id": "rl-m", "changes_requested": {"max_requests_per_1_minute": 5}},
    ),
    (audit.login_succeeded(SESSION), {}),
    (
        audit.login_failed(SESSION, errors.Unauthenticated("invalid email or password")),
        {"error_code": "invalid_credentials", "error_message": "invalid email or password"},
    ),
    (audit.logout_succeeded(SESSION), {}),
]


@pytest.mark.parametrize(("event", "details"), BUILT, ids=[e.type for e, _ in BUILT])
def test_every_event_type_has_openais_details(event: audit.AuditEvent, details: dict) -> None:
    assert event.type in audit.EVENT_TYPES and event.details == details
    log = audit.AuditLog("audit_log-x", event.type, _now(), event.actor, event.details, event.project_id, "P")
    message = convert.audit_log(log)
    assert message.WhichOneof("details") == event.type.replace(".", "_")
    body = json.loads(convert.audit_logs_json(pb.ListAuditLogsResponse(object="list", data=[message])).data)
    assert_route("GET", "/v1/organization/audit_logs", body)
    (item,) = body["data"]
    assert item[event.type] == _printed(details)
    assert ("project" in item) == (event.project_id is not None)


def _printed(details: dict) -> dict:
    """As MessageToDict prints them: empty lists left out."""
    return {k: _printed(v) if isinstance(v, dict) else v for k, v in details.items() if v != []}


def _now() -> Any:
    from datetime import UTC, datetime

    return datetime.now(UTC)


def test_actors_in_openais_shape() -> None:
    session = convert.audit_log(
        audit.AuditLog("audit_log-1", "login.succeeded", _now(), replace(SESSION, email="e@x"), {})
    )
    assert session.actor.type == "session" and session.actor.session.ip_address == "10.0.0.1"
    assert session.actor.session.user.email == "e@x"
    key = convert.audit_log(audit.AuditLog("audit_log-2", "project.archived", _now(), ADMIN_KEY, {"id": "p"}))
    assert key.actor.type == "api_key" and key.actor.api_key.type == "user" and key.actor.api_key.id == "key_1"
    sa = Actor("api_key", "svc_1", key_id="key_2", key_type="service_account")
    assert (
        convert.audit_log(
            audit.AuditLog("audit_log-3", "api_key.created", _now(), sa, {})
        ).actor.api_key.service_account.id
        == "svc_1"
    )
    caller = Caller("user_1", key_type="admin", key_id="key_1", client_ip="1.2.3.4")
    assert audit.actor_of(caller) == replace(ADMIN_KEY, ip_address="1.2.3.4")


def test_query_checks() -> None:
    q = audit_log_query(limit=None, after="", before="", gt=10, gte=5, lt=100, lte=200, event_types=["user.added"])
    assert (q.limit, q.effective_at_gte, q.effective_at_lte) == (20, 11, 99)
    for bad in ({"limit": 0}, {"limit": 101}, {"event_types": ["user.exploded"]}, {"gt": -1}, {"actor_ids": [""]}):
        with pytest.raises(errors.InvalidArgument):
            audit_log_query(**{"limit": None, "after": "", "before": "", **bad})
    assert audit_log_query(limit=1, after="", before="", actor_emails=["A@X.io"]).actor_emails == ("a@x.io",)


# -- recording, in the change's transaction ----------------------------------------------------------------
async def test_a_rolled_back_change_leaves_no_event(app: AuthApp) -> None:
    owner = await owner_of(app)
    before = len(await events(app))
    with pytest.raises(RuntimeError):
        async with app.store.transaction() as tx:
            await tx.insert_project("proj_rolled", app.organization.org_id, "gone")
            await tx.record_audit_event(
                app.organization.org_id, audit.project_created(audit.actor_of(owner), "proj_rolled", "gone")
            )
            raise RuntimeError("abort")
    assert len(await events(app)) == before
    # A change refused inside its transaction (the last owner cannot leave) records nothing either.
    with pytest.raises(errors.FailedPrecondition):
        await app.organization.modify_user(owner, owner.user_id or "", "reader")
    assert not await events(app, event_types=("user.updated",))


async def test_changes_are_recorded_with_actor_and_project(app: AuthApp) -> None:
    owner = await owner_of(app)
    project = await app.organization.create_project(owner, "audited")
    await app.organization.modify_project(owner, project.id, "renamed")
    key = await app.api_keys.create_project_key(owner, project.id, "k", None)
    await app.api_keys.modify_project_key(owner, project.id, key.id, 3600)
    await app.api_keys.delete_project_key(owner, project.id, key.id)
    sa, sa_key = await app.api_keys.create_service_account(owner, project.id, "bot", None)
    await app.api_keys.modify_service_account(owner, project.id, sa.id, None, "owner")
    await app.api_keys.delete_service_account(owner, project.id, sa.id)
    await app.organization.archive_project(owner, project.id)

    logged = await events(app, project_ids=(project.id,))
    assert [e.type for e in reversed(logged)] == [
        "project.created",
        "project.updated",
        "api_key.created",
        "api_key.updated",
        "api_key.deleted",
        "service_account.created",
        "api_key.created",
        "service_account.updated",
        "service_account.deleted",
        "api_key.deleted",
        "project.archived",
    ]
    first = logged[-1]
    assert first.project_name == "audited" and first.actor.type == "session"
    assert first.actor.id == owner.user_id and first.actor.email and first.actor.ip_address == "192.0.2.7"
    assert [e.type for e in await events(app, resource_ids=(sa_key.id,))] == ["api_key.deleted", "api_key.created"]


async def test_members_invites_and_sign_ins(app: AuthApp) -> None:
    owner = await owner_of(app)
    email = unique_email()
    session = await app.accounts.register(email, PASSWORD, "", Caller())
    user_id = session.user.id
    await app.organization.modify_user(owner, user_id, "owner")
    invite = await app.organization.create_invite(owner, unique_email("inv"), "reader", [])
    await app.organization.delete_invite(owner, invite.id)
    await app.organization.remove_user(owner, user_id)
    types = [e.type for e in await events(app, actor_ids=(owner.user_id or "",))]
    assert types[:4] == ["user.deleted", "invite.deleted", "invite.sent", "user.updated"]

    with pytest.raises(errors.Unauthenticated):
        await app.accounts.login(email, "wrong password", "198.51.100.1")  # removed: refused
    failed = await events(app, event_types=("login.failed",), actor_emails=(email,))
    assert failed[0].details["error_code"] == "invalid_credentials" and failed[0].actor.ip_address == "198.51.100.1"
    assert failed[0].actor.id == user_id

    other = unique_email()
    signed_up = await app.accounts.register(other, PASSWORD, "", Caller())
    await app.accounts.login(other, PASSWORD, "198.51.100.2")
    (ok,) = await events(app, event_types=("login.succeeded",), actor_ids=(signed_up.user.id,))
    assert ok.actor.email == other and ok.actor.ip_address == "198.51.100.2"
    caller = await caller_for(app, signed_up.access_token)
    assert await app.accounts.logout("", caller)
    assert [e.type for e in await events(app, actor_ids=(signed_up.user.id,))] == [
        "logout.succeeded",
        "login.succeeded",
    ]


async def test_listing_pages_and_cursors(app: AuthApp) -> None:
    owner = await owner_of(app)
    project = await app.organization.create_project(owner, "paged")
    for i in range(5):
        await app.organization.modify_project(owner, project.id, f"name {i}")
    query = AuditLogQuery(limit=2, project_ids=(project.id,))
    org = app.organization
    first = await org.list_audit_logs(owner, query)
    assert first.has_more and [e.details["changes_requested"]["title"] for e in first.items] == ["name 4", "name 3"]
    second = await org.list_audit_logs(owner, replace(query, after=first.items[-1].id))
    assert [e.details["changes_requested"]["title"] for e in second.items] == ["name 2", "name 1"]
    back = await org.list_audit_logs(owner, replace(query, before=second.items[0].id))
    assert [e.id for e in back.items] == [e.id for e in first.items]
    with pytest.raises(errors.InvalidArgument):
        await org.list_audit_logs(owner, replace(query, after="audit_log-nope"))
    assert not (await org.list_audit_logs(owner, query, tenant_only=True)).items
    reader = await caller_for(app, (await app.accounts.register(unique_email(), PASSWORD, "", Caller())).access_token)
    with pytest.raises(errors.PermissionDenied):
        await org.list_audit_logs(reader, query)
