"""The organization admin API through Envoy with the official OpenAI SDK's admin client, unmodified."""

from __future__ import annotations

import openai
import pytest

from devstack.stack import Stack
from tests.auth.conftest import Owner, Rest, unique_email


@pytest.fixture
def admin(stack: Stack, owner: Owner) -> openai.OpenAI:
    client = openai.OpenAI(
        base_url=f"{stack.http_url}/v1", api_key="unused", admin_api_key=owner.admin_key, max_retries=0
    )
    return client


def test_projects(admin: openai.OpenAI) -> None:
    projects = admin.admin.organization.projects
    created = [projects.create(name=f"sdk {i}") for i in range(3)]
    assert all(p.object == "organization.project" and p.status == "active" for p in created)
    assert projects.retrieve(created[0].id).name == "sdk 0"
    assert projects.update(created[0].id, name="renamed").name == "renamed"
    page = projects.list(limit=2, after=created[0].id)
    assert [p.id for p in page.data] == [c.id for c in created[1:]]
    ids = [p.id for p in projects.list(limit=1)]  # auto-pagination follows last_id / has_more
    assert {c.id for c in created} <= set(ids)
    archived = projects.archive(created[2].id)
    assert archived.status == "archived" and archived.archived_at
    assert created[2].id not in [p.id for p in projects.list(limit=100)]
    assert created[2].id in [p.id for p in projects.list(limit=100, include_archived=True)]


def test_project_users(admin: openai.OpenAI, rest: Rest) -> None:
    user = rest.register()["user"]
    project = admin.admin.organization.projects.create(name="members")
    users = admin.admin.organization.projects.users
    added = users.create(project.id, user_id=user["id"], role="member")
    assert added.object == "organization.project.user" and added.role == "member" and added.email == user["email"]
    assert users.retrieve(user["id"], project_id=project.id).id == user["id"]
    assert users.update(user["id"], project_id=project.id, role="owner").role == "owner"
    assert user["id"] in [u.id for u in users.list(project.id)]
    deleted = users.delete(user["id"], project_id=project.id)
    assert deleted.deleted and deleted.id == user["id"]
    with pytest.raises(openai.NotFoundError):
        users.retrieve(user["id"], project_id=project.id)


def test_service_accounts_and_project_keys(admin: openai.OpenAI, rest: Rest) -> None:
    project = admin.admin.organization.projects.create(name="robots")
    accounts = admin.admin.organization.projects.service_accounts
    created = accounts.create(project.id, name="ci-bot")
    assert created.object == "organization.project.service_account" and created.role == "member"
    assert created.api_key and created.api_key.value.startswith("sk-svcacct-")
    me = rest("GET", "/v1/auth/me", token=created.api_key.value)
    assert me.status == 200 and me.json()["id"] == created.id
    assert accounts.retrieve(created.id, project_id=project.id).name == "ci-bot"
    assert accounts.update(created.id, project_id=project.id, name="bot").name == "bot"
    assert [a.id for a in accounts.list(project.id)] == [created.id]

    keys = admin.admin.organization.projects.api_keys
    listed = list(keys.list(project.id))
    assert [k.id for k in listed] == [created.api_key.id]
    key = keys.retrieve(created.api_key.id, project_id=project.id)
    assert key.owner.type == "service_account" and key.owner.service_account.id == created.id
    assert key.redacted_value.endswith(created.api_key.value[-4:]) and created.api_key.value not in key.redacted_value
    updated = keys.update(created.api_key.id, project_id=project.id, expires_in_seconds=3600)
    assert updated.expires_at and updated.expires_at > updated.created_at
    assert keys.delete(created.api_key.id, project_id=project.id).deleted
    assert rest("GET", "/v1/auth/me", token=created.api_key.value).status == 401

    second = accounts.create(project.id, name="temp")
    assert accounts.delete(second.id, project_id=project.id).deleted
    assert rest("GET", "/v1/auth/me", token=second.api_key.value).status == 401


def test_invites_and_accepting_one(admin: openai.OpenAI, rest: Rest) -> None:
    project = admin.admin.organization.projects.create(name="invited")
    email = unique_email("invitee")
    invites = admin.admin.organization.invites
    invite = invites.create(email=email, role="reader", projects=[{"id": project.id, "role": "member"}])
    assert invite.object == "organization.invite" and invite.status == "pending" and invite.email == email
    assert invite.expires_at - invite.created_at == 7 * 24 * 3600
    assert invites.retrieve(invite.id).projects[0].id == project.id
    assert invite.id in [i.id for i in invites.list(limit=100)]
    code = invite.model_extra.get("code") if invite.model_extra else None
    assert code and code.startswith("inv_")

    invitee = rest.register(email)
    accepted = rest("POST", "/v1/auth/invites/accept", {"code": code}, token=invitee["access_token"])
    assert accepted.status == 200, accepted.body
    assert accepted.json()["status"] == "accepted"
    assert invites.retrieve(invite.id).status == "accepted"
    members = admin.admin.organization.projects.users.list(project.id)
    assert invitee["user"]["id"] in [m.id for m in members]

    other = invites.create(email=unique_email("never"), role="owner")
    assert invites.delete(other.id).deleted
    with pytest.raises(openai.NotFoundError):
        invites.retrieve(other.id)


def test_organization_users(admin: openai.OpenAI, rest: Rest) -> None:
    user = rest.register()
    users = admin.admin.organization.users
    fetched = users.retrieve(user["user"]["id"])
    assert fetched.object == "organization.user" and fetched.role == "reader" and fetched.email == user["user"]["email"]
    assert user["user"]["id"] in [u.id for u in users.list(limit=100)]
    # The SDK sends emails%5B%5D=...: edge.lua turns list parameters into the repeated form the transcoder reads.
    second = rest.register()
    emails = [user["user"]["email"], second["user"]["email"]]
    assert sorted(u.email for u in users.list(emails=emails)) == sorted(emails)
    assert [u.email for u in users.list(emails=[emails[1].upper()])] == [emails[1]]
    assert users.update(user["user"]["id"], role="owner").role == "owner"
    assert rest("GET", "/v1/organization/projects", token=user["access_token"]).status == 200  # an owner now
    assert users.update(user["user"]["id"], role="reader").role == "reader"
    assert rest("GET", "/v1/organization/projects", token=user["access_token"]).status == 403  # at once
    assert users.delete(user["user"]["id"]).deleted
    assert rest("GET", "/v1/auth/me", token=user["access_token"]).status == 401


def test_admin_api_keys(admin: openai.OpenAI, stack: Stack) -> None:
    keys = admin.admin.organization.admin_api_keys
    created = keys.create(name="sdk admin")
    assert created.value.startswith("sk-admin-") and created.object == "organization.admin_api_key"
    assert created.owner.role == "owner"
    fresh = openai.OpenAI(base_url=f"{stack.http_url}/v1", api_key="unused", admin_api_key=created.value, max_retries=0)
    assert fresh.admin.organization.admin_api_keys.retrieve(created.id).id == created.id
    assert created.id in [k.id for k in keys.list(limit=100)]
    assert keys.delete(created.id).deleted
    with pytest.raises(openai.AuthenticationError):
        fresh.admin.organization.projects.list()


def test_non_owners_get_permission_errors(stack: Stack, rest: Rest) -> None:
    reader = rest.register()
    client = openai.OpenAI(
        base_url=f"{stack.http_url}/v1", api_key="unused", admin_api_key=reader["access_token"], max_retries=0
    )
    with pytest.raises(openai.PermissionDeniedError):
        client.admin.organization.projects.list()
    with pytest.raises(openai.PermissionDeniedError):
        client.admin.organization.invites.create(email=unique_email(), role="owner")
