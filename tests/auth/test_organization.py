"""Projects, members, roles and invites against a real PostgreSQL, including who may see which rows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.auth.server import AuthApp
from services.common import errors
from services.common.identity import Caller
from tests.auth.conftest import PASSWORD, caller_for, register_owner, unique_email


async def signed_in(app: AuthApp, email: str | None = None) -> Caller:
    session = await app.accounts.register(email or unique_email(), PASSWORD, "", Caller())
    return await caller_for(app, session.access_token)


async def owner_of(app: AuthApp) -> Caller:
    return await caller_for(app, (await register_owner(app)).access_token)


async def test_owner_creates_lists_renames_and_archives_projects(app: AuthApp) -> None:
    owner = await owner_of(app)
    created = [await app.organization.create_project(owner, f"p{i}") for i in range(3)]
    page = await app.organization.list_projects(owner, 2, "", False)
    assert [p.id for p in page.items] == [created[0].id, created[1].id] and page.has_more
    rest = await app.organization.list_projects(owner, 2, created[1].id, False)
    assert [p.id for p in rest.items] == [created[2].id] and not rest.has_more

    renamed = await app.organization.modify_project(owner, created[0].id, "renamed")
    assert renamed.name == "renamed" and renamed.status == "active"
    archived = await app.organization.archive_project(owner, created[0].id)
    assert archived.status == "archived" and archived.archived_at is not None
    listed = await app.organization.list_projects(owner, 20, "", False)
    assert created[0].id not in [p.id for p in listed.items]
    assert created[0].id in [p.id for p in (await app.organization.list_projects(owner, 20, "", True)).items]
    with pytest.raises(errors.FailedPrecondition):
        await app.organization.modify_project(owner, created[0].id, "again")


async def test_creator_becomes_project_owner_and_members_are_managed(app: AuthApp) -> None:
    owner = await owner_of(app)
    project = await app.organization.create_project(owner, "team")
    members = await app.organization.list_project_users(owner, project.id, 0, "")
    assert [(m.id, m.role) for m in members.items] == [(owner.user_id, "owner")]

    email = unique_email()
    alice = await signed_in(app, email)
    added = await app.organization.add_project_user(owner, project.id, "", email, "member")
    assert added.id == alice.user_id and added.role == "member" and added.email == email
    with pytest.raises(errors.AlreadyExists):
        await app.organization.add_project_user(owner, project.id, alice.user_id or "", None, "member")
    changed = await app.organization.modify_project_user(owner, project.id, alice.user_id or "", "owner")
    assert changed.role == "owner"
    # Alice now owns the project: she may manage its members, and her new role reached her credential.
    alice = await caller_for(app, (await app.accounts.login(email, PASSWORD)).access_token)
    assert (await app.organization.get_project_user(alice, project.id, owner.user_id or "")).role == "owner"
    await app.organization.remove_project_user(owner, project.id, alice.user_id or "")
    with pytest.raises(errors.NotFound):
        await app.organization.get_project_user(owner, project.id, alice.user_id or "")


async def test_users_of_other_projects_see_nothing(app: AuthApp) -> None:
    owner = await owner_of(app)
    a_email, b_email = unique_email("a"), unique_email("b")
    a, b = await signed_in(app, a_email), await signed_in(app, b_email)
    project_a = await app.organization.create_project(owner, "A")
    project_b = await app.organization.create_project(owner, "B")
    await app.organization.add_project_user(owner, project_a.id, a.user_id or "", None, "owner")
    await app.organization.add_project_user(owner, project_b.id, b.user_id or "", None, "owner")
    a = await caller_for(app, (await app.accounts.login(a_email, PASSWORD)).access_token)

    assert (await app.organization.list_project_users(a, project_a.id, 0, "")).items
    with pytest.raises(errors.NotFound):
        await app.organization.list_project_users(a, project_b.id, 0, "")
    with pytest.raises(errors.NotFound):
        await app.organization.add_project_user(a, project_b.id, a.user_id or "", None, "owner")
    with pytest.raises(errors.NotFound):
        await app.api_keys.list_project_keys(a, project_b.id, 0, "")
    with pytest.raises(errors.PermissionDenied):
        await app.organization.list_projects(a, 0, "", False)  # organization-wide lists are for owners
    with pytest.raises(errors.PermissionDenied):
        await app.organization.list_invites(a, 0, "")


async def test_org_roles_and_the_last_owner(app: AuthApp) -> None:
    owner = await owner_of(app)
    reader = await signed_in(app)
    users = await app.organization.list_users(owner, 0, "", [])
    assert {u.id: u.role for u in users.items} == {owner.user_id: "owner", reader.user_id: "reader"}
    with pytest.raises(errors.FailedPrecondition):
        await app.organization.modify_user(owner, owner.user_id or "", "reader")
    promoted = await app.organization.modify_user(owner, reader.user_id or "", "owner")
    assert promoted.role == "owner"
    guest = await app.accounts.guest_login()
    assert guest.user.id not in [u.id for u in (await app.organization.list_users(owner, 0, "", [])).items]
    for change in (
        app.organization.get_user(owner, guest.user.id),
        app.organization.modify_user(owner, guest.user.id, "owner"),
        app.organization.remove_user(owner, guest.user.id),
    ):
        with pytest.raises(errors.NotFound):
            await change
    project = await app.organization.create_project(owner, "no guests")
    with pytest.raises(errors.NotFound):  # a guest is no member to add: it signs up first
        await app.organization.add_project_user(owner, project.id, guest.user.id, None, "member")


async def test_removed_member_loses_sessions_and_keys_at_once(app: AuthApp) -> None:
    owner = await owner_of(app)
    email = unique_email()
    session = await app.accounts.register(email, PASSWORD, "", Caller())
    member = await caller_for(app, session.access_token)
    project = await app.organization.create_project(owner, "p")
    await app.organization.add_project_user(owner, project.id, member.user_id or "", None, "member")
    member = await caller_for(app, session.access_token)
    key = await app.api_keys.create_project_key(member, project.id, "mine", None)
    assert key.value and (await caller_for(app, key.value)).key_type == "project"

    await app.organization.remove_user(owner, member.user_id or "")
    for credential in (session.access_token, key.value):
        with pytest.raises(errors.Unauthenticated):
            await caller_for(app, credential)
    with pytest.raises(errors.Unauthenticated):
        await app.accounts.login(email, PASSWORD)


async def test_invite_accept_flow(app: AuthApp) -> None:
    owner = await owner_of(app)
    project = await app.organization.create_project(owner, "p")
    email = unique_email("invited")
    invite = await app.organization.create_invite(owner, email, "reader", [(project.id, "member")])
    assert invite.code and invite.status(datetime.now(UTC)) == "pending"
    assert invite.expires_at - invite.created_at == timedelta(days=7)
    listed = await app.organization.list_invites(owner, 0, "")
    assert [i.id for i in listed.items] == [invite.id] and listed.items[0].code is None

    stranger = await signed_in(app)
    with pytest.raises(errors.PermissionDenied):
        await app.organization.accept_invite(stranger, invite.code)
    invited = await signed_in(app, email)
    accepted = await app.organization.accept_invite(invited, invite.code)
    assert accepted.status(datetime.now(UTC)) == "accepted" and accepted.accepted_at is not None
    assert (await app.organization.get_project_user(owner, project.id, invited.user_id or "")).role == "member"
    with pytest.raises(errors.FailedPrecondition):
        await app.organization.accept_invite(invited, invite.code)
    with pytest.raises(errors.FailedPrecondition):
        await app.organization.delete_invite(owner, invite.id)
    with pytest.raises(errors.NotFound):
        await app.organization.accept_invite(invited, "inv_unknown")


async def test_expired_invites_cannot_be_accepted(app: AuthApp) -> None:
    owner = await owner_of(app)
    email = unique_email("late")
    invite = await app.organization.create_invite(owner, email, "owner", [])
    await app.store._db.execute(
        "UPDATE auth.invites SET expires_at = now() - interval '1 second' WHERE id = $1", invite.id
    )
    assert (await app.organization.get_invite(owner, invite.id)).status(datetime.now(UTC)) == "expired"
    with pytest.raises(errors.FailedPrecondition, match="expired"):
        await app.organization.accept_invite(await signed_in(app, email), invite.code or "")
    await app.organization.delete_invite(owner, invite.id)
    with pytest.raises(errors.NotFound):
        await app.organization.get_invite(owner, invite.id)
