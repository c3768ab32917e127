"""API keys and service accounts against a real PostgreSQL: shown once, stored as HMAC, scoped to their
project and owner, expiry and revocation enforced, last use recorded in batches."""

from __future__ import annotations

import asyncio
import hashlib
import hmac

import pytest

from services.auth.server import AuthApp
from services.auth.validation import MAX_EXPIRES_IN_SECONDS
from services.common import errors
from services.common.identity import Caller
from tests.auth.conftest import APIKEY_SECRET, PASSWORD, caller_for, register_owner, unique_email


async def owner_and_project(app: AuthApp) -> tuple[Caller, str]:
    session = await register_owner(app)
    owner = await caller_for(app, session.access_token)
    return owner, (await app.organization.create_project(owner, "keys")).id


async def test_project_key_is_shown_once_and_stored_as_hmac(app: AuthApp) -> None:
    owner, project_id = await owner_and_project(app)
    key = await app.api_keys.create_project_key(owner, project_id, "ci", None)
    assert key.value and key.value.startswith("sk-proj-") and key.redacted_value.endswith(key.value[-4:])
    row = await app.store._db.fetchrow("SELECT * FROM auth.api_keys WHERE id = $1", key.id)
    assert bytes(row["digest"]) == hmac.new(APIKEY_SECRET.encode(), key.value.encode(), hashlib.sha256).digest()
    assert key.value not in str(dict(row))
    listed = await app.api_keys.list_project_keys(owner, project_id, 0, "")
    assert [k.id for k in listed.items] == [key.id] and listed.items[0].value is None
    fetched = await app.api_keys.get_project_key(owner, project_id, key.id)
    assert fetched.value is None and fetched.owner and fetched.owner.id == owner.user_id

    caller = await caller_for(app, key.value)
    assert (caller.user_id, caller.project_id, caller.key_type, caller.key_id, caller.project_role) == (
        owner.user_id,
        project_id,
        "project",
        key.id,
        "owner",
    )


async def test_revoked_and_expired_keys_stop_at_once(app: AuthApp) -> None:
    owner, project_id = await owner_and_project(app)
    key = await app.api_keys.create_project_key(owner, project_id, "a", None)
    await caller_for(app, key.value or "")  # cached now
    await app.api_keys.delete_project_key(owner, project_id, key.id)
    with pytest.raises(errors.Unauthenticated, match="revoked"):
        await caller_for(app, key.value or "")
    with pytest.raises(errors.NotFound):
        await app.api_keys.get_project_key(owner, project_id, key.id)

    short = await app.api_keys.create_project_key(owner, project_id, "b", 3600)
    await caller_for(app, short.value or "")
    await app.store._db.execute("UPDATE auth.api_keys SET expires_at = now() - interval '1 s' WHERE id = $1", short.id)
    app.authenticator.api_keys.clear()  # what the expiry below does without any invalidation:
    with pytest.raises(errors.Unauthenticated, match="expired"):
        await caller_for(app, short.value or "")
    with pytest.raises(errors.Unauthenticated, match="Incorrect API key"):
        await caller_for(app, "sk-proj-not-a-real-key-0000000000000000")


async def test_expiry_is_checked_on_cached_keys(app: AuthApp) -> None:
    owner, project_id = await owner_and_project(app)
    key = await app.api_keys.create_project_key(owner, project_id, "soon", 1)
    await caller_for(app, key.value or "")
    assert app.authenticator.api_keys.get(app.key_secrets.digest(key.value or "")) is not None  # cached
    await asyncio.sleep(1.1)
    with pytest.raises(errors.Unauthenticated, match="expired"):
        await caller_for(app, key.value or "")


async def test_members_see_only_their_own_keys(app: AuthApp) -> None:
    owner, project_id = await owner_and_project(app)
    email = unique_email()
    session = await app.accounts.register(email, PASSWORD, "", Caller())
    await app.organization.add_project_user(owner, project_id, session.user.id, None, "member")
    member = await caller_for(app, session.access_token)
    mine = await app.api_keys.create_project_key(member, project_id, "mine", None)
    theirs = await app.api_keys.create_project_key(owner, project_id, "theirs", None)
    assert [k.id for k in (await app.api_keys.list_project_keys(member, project_id, 0, "")).items] == [mine.id]
    assert {k.id for k in (await app.api_keys.list_project_keys(owner, project_id, 0, "")).items} == {
        mine.id,
        theirs.id,
    }
    with pytest.raises(errors.NotFound):
        await app.api_keys.get_project_key(member, project_id, theirs.id)
    with pytest.raises(errors.NotFound):
        await app.api_keys.delete_project_key(member, project_id, theirs.id)
    with pytest.raises(errors.PermissionDenied):
        await app.api_keys.list_service_accounts(member, project_id, 0, "")

    # Leaving the project makes the member's key inactive everywhere at once.
    await app.organization.remove_project_user(owner, project_id, session.user.id)
    with pytest.raises(errors.Unauthenticated):
        await caller_for(app, mine.value or "")
    listed = await app.api_keys.get_project_key(owner, project_id, mine.id)
    assert listed.owner_project_access is False


async def test_service_accounts_have_their_own_keys(app: AuthApp) -> None:
    owner, project_id = await owner_and_project(app)
    sa, key = await app.api_keys.create_service_account(owner, project_id, "bot", None)
    assert sa.id.startswith("svc_acct_") and sa.role == "member" and key.value and key.value.startswith("sk-svcacct-")
    caller = await caller_for(app, key.value)
    assert (caller.user_id, caller.key_type, caller.project_id, caller.project_role) == (
        sa.id,
        "service_account",
        project_id,
        "member",
    )
    me = await app.accounts.me(caller)
    assert me.id == sa.id and me.project_id == project_id
    modified = await app.api_keys.modify_service_account(owner, project_id, sa.id, "robot", "owner")
    assert (modified.name, modified.role) == ("robot", "owner")
    assert (await caller_for(app, key.value)).project_role == "owner"
    await app.api_keys.delete_service_account(owner, project_id, sa.id)
    with pytest.raises(errors.Unauthenticated):
        await caller_for(app, key.value)


async def test_archiving_a_project_stops_its_keys(app: AuthApp) -> None:
    owner, project_id = await owner_and_project(app)
    key = await app.api_keys.create_project_key(owner, project_id, "k", None)
    await caller_for(app, key.value or "")
    await app.organization.archive_project(owner, project_id)
    with pytest.raises(errors.Unauthenticated):
        await caller_for(app, key.value or "")


async def test_admin_keys(app: AuthApp) -> None:
    owner, _ = await owner_and_project(app)
    keys = [await app.api_keys.create_admin_key(owner, f"admin {i}", None) for i in range(3)]
    assert all(k.value and k.value.startswith("sk-admin-") for k in keys)
    caller = await caller_for(app, keys[0].value or "")
    assert (caller.key_type, caller.org_role, caller.user_id) == ("admin", "owner", owner.user_id)
    asc = await app.api_keys.list_admin_keys(owner, 2, "", "asc")
    assert [k.id for k in asc.items] == [keys[0].id, keys[1].id] and asc.has_more
    desc = await app.api_keys.list_admin_keys(owner, 20, "", "desc")
    assert [k.id for k in desc.items] == [k.id for k in reversed(keys)]
    await app.api_keys.delete_admin_key(owner, keys[0].id)
    with pytest.raises(errors.Unauthenticated):
        await caller_for(app, keys[0].value or "")
    with pytest.raises(errors.PermissionDenied):
        await app.api_keys.list_admin_keys(
            await caller_for(app, (await app.accounts.guest_login()).access_token), 0, "", ""
        )


async def test_keys_expire_within_ten_years(app: AuthApp) -> None:
    """Fuzzing found it (issue 16): an admin key asked to expire in 2**32 - 2 seconds was stored, then no
    answer could print its expires_at (a uint32), so creating it and every list after were 500s."""
    owner, project_id = await owner_and_project(app)
    for create in (
        lambda seconds: app.api_keys.create_admin_key(owner, "far", seconds),
        lambda seconds: app.api_keys.create_project_key(owner, project_id, "far", seconds),
    ):
        with pytest.raises(errors.InvalidArgument) as raised:
            await create(2**32 - 2)
        assert raised.value.param == "expires_in_seconds"
        assert (await create(MAX_EXPIRES_IN_SECONDS)).expires_at is not None
    assert len((await app.api_keys.list_admin_keys(owner, 20, "", "")).items) == 1


async def test_last_used_is_recorded_per_minute_in_batches(app: AuthApp) -> None:
    owner, project_id = await owner_and_project(app)
    key = await app.api_keys.create_project_key(owner, project_id, "used", None)
    await app.key_last_used.flush()
    for _ in range(5):
        await caller_for(app, key.value or "")
    assert app.key_last_used.pending == 1  # one pending write however many uses
    before = await app.api_keys.get_project_key(owner, project_id, key.id)
    assert before.last_used_at is None  # nothing written per request
    assert await app.key_last_used.flush() == 1
    after = await app.api_keys.get_project_key(owner, project_id, key.id)
    assert after.last_used_at is not None and after.last_used_at.second == 0


async def test_pending_last_used_times_are_written_at_shutdown(app: AuthApp) -> None:
    owner, project_id = await owner_and_project(app)
    key = await app.api_keys.create_project_key(owner, project_id, "shutdown", None)
    await caller_for(app, key.value or "")
    await app.key_last_used.stop()
    assert (await app.api_keys.get_project_key(owner, project_id, key.id)).last_used_at is not None
