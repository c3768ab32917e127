"""The per-email limit on password sign-ins against a real PostgreSQL: parallel guesses cannot outrun the
count, and every spelling of an address that reaches an account counts on that account's counter."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from services.auth.emails import canonical_email
from services.auth.passwords import Passwords
from services.auth.server import AuthApp
from services.common import errors
from services.common.identity import Caller
from tests.auth.conftest import PASSWORD, fast_passwords, start_app, unique_email

MAX_FAILURES = 5


class CountingPasswords(Passwords):
    """The real hasher, counting the verifications (the guesses that were actually checked)."""

    def __init__(self) -> None:
        super().__init__(fast_passwords()._hasher)
        self.verified = 0

    async def verify(self, password_hash: str | None, password: str) -> bool:
        self.verified += 1
        return await super().verify(password_hash, password)


@pytest.fixture
async def limited(database_url: str) -> AsyncIterator[tuple[AuthApp, CountingPasswords]]:
    passwords = CountingPasswords()
    app, pool = await start_app(database_url, passwords=passwords, JAN_LOGIN_MAX_FAILURES=str(MAX_FAILURES))
    try:
        yield app, passwords
    finally:
        await app.stop()
        await pool.close()


async def test_parallel_guesses_are_counted_before_any_is_checked(limited: tuple[AuthApp, CountingPasswords]) -> None:
    app, passwords = limited
    email = unique_email()
    await app.accounts.register(email, PASSWORD, "", Caller())
    passwords.verified = 0
    results = await asyncio.gather(
        *(app.accounts.login(email, f"guess {i}") for i in range(40)), return_exceptions=True
    )
    assert passwords.verified <= MAX_FAILURES
    refused = [r for r in results if isinstance(r, errors.ResourceExhausted)]
    wrong = [r for r in results if isinstance(r, errors.Unauthenticated)]
    assert len(wrong) == passwords.verified and len(refused) == 40 - passwords.verified, results
    assert all(0 < r.retry_after <= 900 for r in refused)
    with pytest.raises(errors.ResourceExhausted, match="too many failed sign-ins"):
        await app.accounts.login(email, PASSWORD)  # the right password is not looked at either


@pytest.mark.parametrize("email", ["ADMİN@Example.COM", "admİn@example.com", "admi\u0307n@example.com"])
def test_spellings_of_a_dotted_capital_i_have_one_normal_form(email: str) -> None:
    assert canonical_email(email) == "admi\u0307n@example.com"
    assert canonical_email(canonical_email(email)) == canonical_email(email)


async def test_an_address_with_a_dotted_capital_i_signs_in_and_counts_on_one_counter(
    limited: tuple[AuthApp, CountingPasswords],
) -> None:
    app, _ = limited
    local = unique_email("İ").split("@")[0]
    spellings = [f"{local}@example.com", f"{local.upper()}@EXAMPLE.COM", f"{local.lower()}@example.com"]
    registered = await app.accounts.register(spellings[0], PASSWORD, "", Caller())
    for spelling in spellings:
        assert (await app.accounts.login(spelling, PASSWORD)).user.id == registered.user.id
    for i in range(MAX_FAILURES):
        with pytest.raises(errors.Unauthenticated):
            await app.accounts.login(spellings[i % len(spellings)], "a guess")
    for spelling in spellings:
        with pytest.raises(errors.ResourceExhausted):
            await app.accounts.login(spelling, PASSWORD)


async def test_no_spelling_escapes_an_accounts_counter(limited: tuple[AuthApp, CountingPasswords]) -> None:
    # PostgreSQL's lower() turns "İ" into "i" while Python's gives "i" + U+0307: a lookup by lower() in SQL
    # found admin@… for admİn@… while the counter was keyed by Python's form, a fresh counter per spelling.
    app, _ = limited
    local = unique_email("admin").split("@")[0]
    email = f"{local}@example.com"
    await app.accounts.register(email, PASSWORD, "", Caller())
    for _ in range(MAX_FAILURES):
        with pytest.raises(errors.Unauthenticated):
            await app.accounts.login(email, "a guess")
    for spelling in (email.replace("i", "İ"), email.upper().replace("I", "İ"), email.replace("i", "\u0130", 1)):
        with pytest.raises((errors.ResourceExhausted, errors.Unauthenticated)):
            await app.accounts.login(spelling, PASSWORD)  # never a session: that would be a guess checked


async def test_a_success_clears_the_count_and_other_emails_are_unaffected(
    limited: tuple[AuthApp, CountingPasswords],
) -> None:
    app, _ = limited
    email, other = unique_email(), unique_email()
    await app.accounts.register(email, PASSWORD, "", Caller())
    await app.accounts.register(other, PASSWORD, "", Caller())
    for _ in range(MAX_FAILURES - 1):
        with pytest.raises(errors.Unauthenticated):
            await app.accounts.login(email, "a guess")
    await app.accounts.login(email, PASSWORD)
    assert await app.store.login_failures(canonical_email(email), 900) == 0
    for _ in range(MAX_FAILURES):
        with pytest.raises(errors.Unauthenticated):
            await app.accounts.login(email, "a guess")
    with pytest.raises(errors.ResourceExhausted):
        await app.accounts.login(email, PASSWORD)
    assert (await app.accounts.login(other, PASSWORD)).user.email == other
