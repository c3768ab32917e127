"""The organization's first owner: the one-time bootstrap token, made and printed at first start or set by
JAN_BOOTSTRAP_TOKEN, stored hashed, spent once, and only while the organization has no owner."""

from __future__ import annotations

import asyncio
import hashlib
import logging

import pytest

from services.auth.server import AuthApp
from services.common import errors
from services.common.identity import Caller
from tests.auth.conftest import PASSWORD, caller_for, start_app, unique_email
from tests.conftest import BOOTSTRAP_TOKEN


async def signed_in(app: AuthApp) -> Caller:
    session = await app.accounts.register(unique_email(), PASSWORD, "", Caller())
    return await caller_for(app, session.access_token)


async def test_a_configured_token_makes_one_owner_once(app: AuthApp) -> None:
    first, second = await signed_in(app), await signed_in(app)
    owner = await app.bootstrap.redeem(first, BOOTSTRAP_TOKEN)
    assert owner.id == first.user_id and owner.role == "owner"
    assert (await caller_for(app, (await app.accounts.login(owner.email or "", PASSWORD)).access_token)).org_role == (
        "owner"
    )
    with pytest.raises(errors.FailedPrecondition, match="already has an owner"):
        await app.bootstrap.redeem(second, BOOTSTRAP_TOKEN)
    row = await app.store._db.fetchrow("SELECT token_hash, used_at, used_by FROM auth.bootstrap_tokens")
    assert bytes(row["token_hash"]) == hashlib.sha256(BOOTSTRAP_TOKEN.encode()).digest()  # never the token
    assert row["used_at"] is not None and row["used_by"] == owner.id


async def test_wrong_tokens_guests_and_api_keys_are_refused(app: AuthApp) -> None:
    user = await signed_in(app)
    with pytest.raises(errors.PermissionDenied, match="invalid or already used"):
        await app.bootstrap.redeem(user, BOOTSTRAP_TOKEN + "x")
    with pytest.raises(errors.InvalidArgument):
        await app.bootstrap.redeem(user, "")
    guest = await caller_for(app, (await app.accounts.guest_login()).access_token)
    with pytest.raises(errors.PermissionDenied, match="guest"):
        await app.bootstrap.redeem(guest, BOOTSTRAP_TOKEN)
    with pytest.raises(errors.Unauthenticated):
        await app.bootstrap.redeem(Caller(), BOOTSTRAP_TOKEN)
    assert await app.store.count_owners(app.accounts.org_id) == 0
    assert (await app.bootstrap.redeem(user, BOOTSTRAP_TOKEN)).role == "owner"  # still unspent


async def test_concurrent_claims_make_exactly_one_owner(app: AuthApp) -> None:
    callers = [await signed_in(app) for _ in range(6)]
    results = await asyncio.gather(*(app.bootstrap.redeem(c, BOOTSTRAP_TOKEN) for c in callers), return_exceptions=True)
    assert len([r for r in results if not isinstance(r, Exception)]) == 1, results
    assert all(
        isinstance(r, errors.PermissionDenied | errors.FailedPrecondition) for r in results if isinstance(r, Exception)
    )
    assert await app.store.count_owners(app.accounts.org_id) == 1


async def test_without_a_configured_token_one_is_made_and_printed_once(
    database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="services.auth.bootstrap")
    app, pool = await start_app(database_url, JAN_BOOTSTRAP_TOKEN="")
    again, pool_again = await start_app(database_url, JAN_BOOTSTRAP_TOKEN="")  # a restart, or a second replica
    try:
        token = app.printed_bootstrap_token
        assert token and token.startswith("jbt_") and len(token) >= 40
        assert again.printed_bootstrap_token is None  # the first one stands; nobody prints a second
        assert sum(token in r.getMessage() for r in caplog.records) == 1
        stored = await pool.fetchval("SELECT token_hash FROM auth.bootstrap_tokens")
        assert bytes(stored) == hashlib.sha256(token.encode()).digest()
        assert (await again.bootstrap.redeem(await signed_in(again), token)).role == "owner"
    finally:
        for a, p in ((app, pool), (again, pool_again)):
            await a.stop()
            await p.close()


async def test_once_there_is_an_owner_no_token_is_left_or_made(database_url: str) -> None:
    app, pool = await start_app(database_url, JAN_BOOTSTRAP_TOKEN="")
    try:
        await app.store.set_org_role(app.accounts.org_id, (await signed_in(app)).user_id or "", "owner")
    finally:
        await app.stop()
        await pool.close()
    restarted, pool = await start_app(database_url)  # JAN_BOOTSTRAP_TOKEN set: it is ignored as well
    try:
        assert restarted.printed_bootstrap_token is None
        assert await pool.fetchval("SELECT count(*) FROM auth.bootstrap_tokens") == 0
        with pytest.raises(errors.FailedPrecondition):
            await restarted.bootstrap.redeem(await signed_in(restarted), "whatever-token-0123456789abcdef0123")
    finally:
        await restarted.stop()
        await pool.close()
