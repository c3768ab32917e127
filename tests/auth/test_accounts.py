"""Accounts and sessions against a real PostgreSQL: guests, registration, login, refresh rotation with
reuse detection, logout; an email in JAN_ADMIN_EMAILS proves nothing by itself."""

from __future__ import annotations

import asyncio

import pytest

from services.auth.server import AuthApp
from services.common import errors
from services.common.identity import Caller
from tests.auth.conftest import PASSWORD, caller_for, start_app, unique_email
from tests.conftest import ADMIN_EMAIL


async def test_guest_login_creates_a_guest_reader_with_a_session(app: AuthApp) -> None:
    session = await app.accounts.guest_login()
    assert session.user.is_guest and session.user.email is None and session.user.role == "reader"
    assert session.refresh_token.startswith("rt_")
    caller = await caller_for(app, session.access_token)
    assert caller.user_id == session.user.id and caller.key_type == "session"
    me = await app.accounts.me(caller)
    assert me.id == session.user.id and me.is_guest


async def test_register_then_login_with_the_password(app: AuthApp) -> None:
    email = unique_email()
    registered = await app.accounts.register(email.upper(), PASSWORD, "Ada", Caller())
    assert registered.user.email == email and registered.user.name == "Ada" and registered.user.role == "reader"
    logged_in = await app.accounts.login(email, PASSWORD)
    assert logged_in.user.id == registered.user.id
    with pytest.raises(errors.Unauthenticated, match="invalid email or password"):
        await app.accounts.login(email, PASSWORD + "x")
    with pytest.raises(errors.Unauthenticated, match="invalid email or password"):
        await app.accounts.login(unique_email(), PASSWORD)


async def test_passwords_are_stored_as_argon2id_hashes(app: AuthApp) -> None:
    email = unique_email()
    await app.accounts.register(email, PASSWORD, "", Caller())
    found = await app.store.user_by_email(email, app.accounts.org_id)
    assert found is not None
    password_hash = found[1]
    assert password_hash.startswith("$argon2id$") and PASSWORD not in password_hash


@pytest.mark.parametrize(
    ("email", "password", "param"),
    [("not-an-email", PASSWORD, "email"), ("x@example.com", "short", "password")],
)
async def test_register_validates_its_input(app: AuthApp, email: str, password: str, param: str) -> None:
    with pytest.raises(errors.InvalidArgument) as raised:
        await app.accounts.register(email, password, "", Caller())
    assert raised.value.param == param


async def test_register_refuses_a_taken_email(app: AuthApp) -> None:
    email = unique_email()
    await app.accounts.register(email, PASSWORD, "", Caller())
    with pytest.raises(errors.AlreadyExists):
        await app.accounts.register(email.upper(), PASSWORD, "", Caller())


async def test_register_upgrades_the_calling_guest_in_place(app: AuthApp) -> None:
    guest = await app.accounts.guest_login()
    caller = await caller_for(app, guest.access_token)
    registered = await app.accounts.register(unique_email(), PASSWORD, "Grace", caller)
    assert registered.user.id == guest.user.id and not registered.user.is_guest


async def test_registering_an_admin_email_proves_nothing_and_makes_a_reader(app: AuthApp) -> None:
    # Whoever registered an address listed in JAN_ADMIN_EMAILS first became an owner, at every login.
    session = await app.accounts.register(ADMIN_EMAIL, PASSWORD, "", Caller())
    assert session.user.role == "reader"
    assert (await caller_for(app, session.access_token)).org_role == "reader"
    assert (await app.accounts.login(ADMIN_EMAIL.upper(), PASSWORD)).user.role == "reader"


async def test_refresh_rotates_and_reuse_revokes_the_family(app: AuthApp) -> None:
    first = await app.accounts.register(unique_email(), PASSWORD, "", Caller())
    second = await app.accounts.refresh(first.refresh_token)
    assert second.refresh_token != first.refresh_token and second.user.id == first.user.id
    third = await app.accounts.refresh(second.refresh_token)
    await caller_for(app, third.access_token)  # the newest access token works

    with pytest.raises(errors.Unauthenticated, match="already used"):
        await app.accounts.refresh(first.refresh_token)  # replay of a rotated token
    with pytest.raises(errors.Unauthenticated, match="revoked"):
        await app.accounts.refresh(third.refresh_token)  # the family is dead...
    for access in (first.access_token, third.access_token):
        with pytest.raises(errors.Unauthenticated, match="revoked"):
            await caller_for(app, access)  # ...and so are its access tokens, at once


async def test_refresh_rejects_unknown_tokens(app: AuthApp) -> None:
    for token in ("", "rt_nope", "garbage"):
        with pytest.raises(errors.Unauthenticated):
            await app.accounts.refresh(token)


async def test_logout_revokes_the_session_by_refresh_token_or_access_token(app: AuthApp) -> None:
    email = unique_email()
    by_refresh = await app.accounts.register(email, PASSWORD, "", Caller())
    assert await app.accounts.logout(by_refresh.refresh_token, Caller()) is True
    with pytest.raises(errors.Unauthenticated):
        await caller_for(app, by_refresh.access_token)
    with pytest.raises(errors.Unauthenticated):
        await app.accounts.refresh(by_refresh.refresh_token)

    by_access = await app.accounts.login(email, PASSWORD)
    caller = await caller_for(app, by_access.access_token)
    assert await app.accounts.logout("", caller) is True
    with pytest.raises(errors.Unauthenticated):
        await caller_for(app, by_access.access_token)
    assert await app.accounts.logout("", Caller()) is False


async def test_me_needs_a_caller(app: AuthApp) -> None:
    with pytest.raises(errors.Unauthenticated):
        await app.accounts.me(Caller())


async def test_failed_logins_lock_the_email_until_the_window_ends(database_url: str) -> None:
    app, pool = await start_app(database_url, JAN_LOGIN_MAX_FAILURES="3", JAN_LOGIN_FAILURE_WINDOW_SECONDS="1.5")
    try:
        email, other = unique_email(), unique_email()
        await app.accounts.register(email, PASSWORD, "", Caller())
        await app.accounts.register(other, PASSWORD, "", Caller())
        for _ in range(3):
            with pytest.raises(errors.Unauthenticated):
                await app.accounts.login(email, "not the password")
        # Locked: even the right password is not looked at, whatever the email's case.
        with pytest.raises(errors.ResourceExhausted, match="too many failed sign-ins"):
            await app.accounts.login(email.upper(), PASSWORD)
        assert (await app.accounts.login(other, PASSWORD)).user.email == other  # other emails are unaffected
        # Unknown emails are counted the same way, so the answers do not tell them apart.
        unknown = unique_email()
        for _ in range(3):
            with pytest.raises(errors.Unauthenticated):
                await app.accounts.login(unknown, PASSWORD)
        with pytest.raises(errors.ResourceExhausted):
            await app.accounts.login(unknown, PASSWORD)
        await asyncio.sleep(1.6)  # the window is over
        assert (await app.accounts.login(email, PASSWORD)).user.email == email
    finally:
        await app.stop()
        await pool.close()


async def test_a_successful_login_clears_the_failures(database_url: str) -> None:
    app, pool = await start_app(database_url, JAN_LOGIN_MAX_FAILURES="3")
    try:
        email = unique_email()
        await app.accounts.register(email, PASSWORD, "", Caller())
        for _ in range(3):
            for _ in range(2):
                with pytest.raises(errors.Unauthenticated):
                    await app.accounts.login(email, "not the password")
            await app.accounts.login(email, PASSWORD)  # 2 failures, then a success: never 3 in a row
        assert await app.store.login_failures(email, 900) == 0
    finally:
        await app.stop()
        await pool.close()
