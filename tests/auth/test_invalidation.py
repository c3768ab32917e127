"""Cache invalidation between auth replicas: two AuthApps on one database, each with its own caches and
listener. A change made on one replica reaches the other through NOTIFY (sent in the change's transaction)
and this one on commit; a notification a replica does not understand clears all of its caches."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator, Callable

import asyncpg
import pytest

from services.auth.invalidation import (
    CHANNEL,
    ApiKeyChanged,
    Everything,
    Invalidation,
    ProjectChanged,
    SessionChanged,
    UserChanged,
    decode,
    encode,
)
from services.auth.server import AuthApp
from services.auth.store import Store
from services.common.identity import Caller
from tests.auth.conftest import PASSWORD, caller_for, register_owner, start_app, unique_email
from tests.auth.test_authz import check_request, denied, identity
from tests.conftest import ROOT

EVENTS: list[Invalidation] = [
    SessionChanged("sess_1"),
    UserChanged("user_1"),
    ApiKeyChanged("key_1"),
    ProjectChanged("proj_1"),
    Everything(),
]


# -- the events and their payloads (no database) ----------------------------------------------------------
@pytest.mark.parametrize("event", EVENTS, ids=lambda e: type(e).__name__)
def test_events_survive_their_payload(event: Invalidation) -> None:
    assert decode(encode(event)) == event


def test_the_payloads_are_the_ones_earlier_releases_send() -> None:
    """Replicas of the previous release (a rolling update) send and understand these."""
    assert [encode(e) for e in EVENTS] == ["s:sess_1", "u:user_1", "k:key_1", "p:proj_1", "*"]
    assert decode("u:user:with:colons") == UserChanged("user:with:colons")


@pytest.mark.parametrize("payload", ["v2:user:user_1", "x:1", "u", "u:", "", "S:sess_1", " u:1"])
def test_a_payload_not_understood_is_everything(payload: str) -> None:
    assert decode(payload) == Everything()


def test_only_the_store_sends_invalidations() -> None:
    """One call (Store.invalidate) does both halves; nothing else in the auth service notifies or publishes."""
    auth = ROOT / "services" / "auth"
    for path in auth.rglob("*.py"):
        name, text = path.relative_to(auth).as_posix(), path.read_text()
        if name != "store/base.py":
            assert "pg_notify(" not in text and "NOTIFY jan" not in text, name
        if name != "cache.py":
            assert ".publish(" not in text, name


# -- the store's one call: the others in the transaction, this replica on commit --------------------------
@pytest.fixture
async def notifications(database_url: str) -> AsyncIterator[list[str]]:
    """The payloads another replica's listener receives."""
    received: list[str] = []
    conn = await asyncpg.connect(database_url)
    await conn.add_listener(CHANNEL, lambda *args: received.append(args[-1]))
    yield received
    await conn.close()


async def test_a_committed_change_reaches_this_replica_after_the_commit_and_the_others(
    app: AuthApp, notifications: list[str]
) -> None:
    published: list[Invalidation] = []
    store = Store(app.store._db, published.extend)
    async with store.transaction() as tx:
        await tx.invalidate(UserChanged("user_a"), SessionChanged("sess_a"))
        await asyncio.sleep(0.1)
        assert published == [] and notifications == []  # nothing is told before the commit
    assert published == [UserChanged("user_a"), SessionChanged("sess_a")]
    assert await eventually(lambda: notifications == ["u:user_a", "s:sess_a"])


async def test_a_rolled_back_change_reaches_nobody(app: AuthApp, notifications: list[str]) -> None:
    published: list[Invalidation] = []
    store = Store(app.store._db, published.extend)
    with pytest.raises(RuntimeError):
        async with store.transaction() as tx:
            await tx.invalidate(ApiKeyChanged("key_a"))
            raise RuntimeError("the change failed")
    await store.invalidate(ProjectChanged("proj_b"))  # a marker, sent after
    assert await eventually(lambda: notifications == ["p:proj_b"])
    assert published == [ProjectChanged("proj_b")]  # outside a transaction: at once


async def test_this_replica_forgets_a_revoked_session_on_commit(app: AuthApp) -> None:
    """Locally the change holds as soon as the call that made it returns, without waiting for the NOTIFY."""
    session = await app.accounts.register(unique_email(), PASSWORD, "", Caller())
    request = check_request("GET", "/v1/models", session.access_token)
    identity(await app.authorizer.check(request))
    await app.hub.close()  # no NOTIFY will be heard any more
    await app.accounts.logout(session.refresh_token, Caller())
    assert denied(await app.authorizer.check(request))[0] == 401


# -- two replicas on one database ------------------------------------------------------------------------


@pytest.fixture
async def replica(app: AuthApp, database_url: str) -> AsyncIterator[AuthApp]:
    """A second auth replica on the same database as `app`."""
    other, pool = await start_app(database_url)
    try:
        yield other
    finally:
        await other.stop()
        await pool.close()


async def eventually(condition: Callable[[], bool], seconds: float = 3.0) -> bool:
    for _ in range(int(seconds / 0.01)):
        if condition():
            return True
        await asyncio.sleep(0.01)
    return condition()


async def settled(app: AuthApp, replica: AuthApp) -> None:
    """Waits until the replica has heard every change committed so far: notifications arrive in commit order,
    so once a marker sent now has arrived, so have they (a late one would empty a cache the test just filled)."""
    marker = ApiKeyChanged(f"key_marker_{secrets.token_hex(4)}")
    heard: list[Invalidation] = []
    replica.hub.subscribe(heard.append)
    await app.store.invalidate(marker)
    assert await eventually(lambda: marker in heard)


def cached(app: AuthApp) -> int:
    a = app.authenticator
    return len(a.sessions) + len(a.users) + len(a.api_keys)


@pytest.mark.parametrize("how", ["password", "google"])
async def test_a_guest_who_signs_up_is_no_guest_on_another_replica(app: AuthApp, replica: AuthApp, how: str) -> None:
    guest = await app.accounts.guest_login()
    request = check_request("GET", "/v1/models", guest.access_token)
    await settled(app, replica)
    assert identity(await replica.authorizer.check(request))["x-jan-guest"] == "1"  # cached as a guest there
    caller = await caller_for(app, guest.access_token)
    if how == "password":
        await app.accounts.register(unique_email(), PASSWORD, "", caller)
    else:
        await app.accounts.sign_in_external(
            google_sub=unique_email(), email=unique_email(), email_verified=True, name="", caller=caller
        )
    assert await eventually(lambda: not len(replica.authenticator.users))
    assert "x-jan-guest" not in identity(await replica.authorizer.check(request))  # guests' lower limits lifted


async def test_a_role_change_reaches_another_replica(app: AuthApp, replica: AuthApp) -> None:
    owner = await register_owner(app)
    second = await app.accounts.register(unique_email(), PASSWORD, "", Caller())
    owner_caller = await caller_for(app, owner.access_token)
    await app.organization.modify_user(owner_caller, second.user.id, "owner")
    second = await app.accounts.login(second.user.email or "", PASSWORD)
    await settled(app, replica)
    admin_route = check_request("GET", "/v1/organization/users", second.access_token)
    assert identity(await replica.authorizer.check(admin_route))["x-jan-org-role"] == "owner"
    await app.organization.modify_user(owner_caller, second.user.id, "reader")
    assert await eventually(lambda: not len(replica.authenticator.users))
    assert denied(await replica.authorizer.check(admin_route))[0] == 403


async def test_an_archived_project_reaches_another_replica(app: AuthApp, replica: AuthApp) -> None:
    owner = await register_owner(app)
    owner_caller = await caller_for(app, owner.access_token)
    project = await app.organization.create_project(owner_caller, "p")
    key = await app.api_keys.create_project_key(owner_caller, project.id, "k", None)
    request = check_request("GET", "/v1/models", key.value)
    await settled(app, replica)
    assert identity(await replica.authorizer.check(request))["x-jan-project-id"] == project.id
    await app.organization.archive_project(owner_caller, project.id)
    assert await eventually(lambda: not len(replica.authenticator.api_keys))
    assert denied(await replica.authorizer.check(request))[0] == 401


@pytest.mark.parametrize("payload", ["v2:user:user_1", "x:1", "u", "u:", "", "*"])
async def test_a_notification_the_receiver_does_not_understand_clears_everything(
    app: AuthApp, replica: AuthApp, database_url: str, payload: str
) -> None:
    """A replica of a later version may notify a change in words this one does not know: nothing it caches
    can be known to be unaffected, so it drops everything."""
    session = await app.accounts.register(unique_email(), PASSWORD, "", Caller())
    await settled(app, replica)
    identity(await replica.authorizer.check(check_request("GET", "/v1/models", session.access_token)))
    assert cached(replica) == 2  # the session and its user
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute("SELECT pg_notify('jan_auth_invalidate', $1)", payload)
    finally:
        await conn.close()
    assert await eventually(lambda: cached(replica) == 0)
