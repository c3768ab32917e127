"""Fixtures for the auth service's tests: a fresh database and a wired AuthApp per test, REST helpers for
tests through Envoy, and the shared organization owner (owner@jan.test, registered once per session and
made owner with the bootstrap token)."""

from __future__ import annotations

import json
import secrets
import time
import urllib.error
import urllib.request
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import asyncpg
import pytest
from argon2 import PasswordHasher

from devstack.stack import Stack
from services.auth.domain import SessionTokens
from services.auth.passwords import Passwords
from services.auth.server import AuthApp
from services.auth.settings import AuthSettings
from services.common.identity import SIGNATURE, Caller, caller_from_metadata
from tests.conftest import ADMIN_EMAIL, BOOTSTRAP_TOKEN
from tests.support.fake_google import FakeGoogle

JWT_SECRET = "unit-jwt-secret-0123456789abcdef0123456789"
APIKEY_SECRET = "unit-apikey-secret-0123456789abcdef0123456"
IDENTITY_SECRET = "unit-identity-secret-0123456789abcdef012345"
PASSWORD = "correct horse battery"


def make_settings(database_url: str, **env: Any) -> AuthSettings:
    values = {
        "DATABASE_URL": database_url,
        "JAN_JWT_SECRET": JWT_SECRET,
        "JAN_APIKEY_SECRET": APIKEY_SECRET,
        "JAN_IDENTITY_SECRET": IDENTITY_SECRET,
        "JAN_ADMIN_EMAILS": ADMIN_EMAIL,  # proves nothing unless Google verified it
        "JAN_BOOTSTRAP_TOKEN": BOOTSTRAP_TOKEN,
        "JAN_AUTH_LISTEN": "127.0.0.1:0",
        **env,
    }
    google = {k: values.pop(k) for k in list(values) if k.startswith("OAUTH2_GOOGLE_")}
    from services.auth.settings import GoogleSettings
    from services.common.settings import DatabaseSettings

    return AuthSettings(
        database=DatabaseSettings(DATABASE_URL=values.pop("DATABASE_URL")),
        google=GoogleSettings(**google),
        **values,
    )


def fast_passwords() -> Passwords:
    """argon2id with small costs: the same code path, milliseconds instead of tens of them."""
    return Passwords(PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))


def unique_email(prefix: str = "user") -> str:
    return f"{prefix}-{secrets.token_hex(6)}@example.com"


@pytest.fixture
async def database_url(database_factory) -> str:
    return database_factory("auth")


async def start_app(
    database_url: str, *, passwords: Passwords | None = None, **env: Any
) -> tuple[AuthApp, asyncpg.Pool]:
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=5)
    app = await AuthApp.create(make_settings(database_url, **env), pool, passwords or fast_passwords())
    await app.start()
    return app, pool


@pytest.fixture
async def app(database_url: str, fake_google: FakeGoogle) -> AsyncIterator[AuthApp]:
    app, pool = await start_app(database_url, **fake_google.env())
    try:
        yield app
    finally:
        await app.stop()
        await pool.close()


async def caller_for(app: AuthApp, credential: str, project: str | None = None) -> Caller:
    """The identity ext_authz would pass on for this credential."""
    return (await app.authenticator.authenticate(credential, project)).caller()


def verified(headers: dict[str, str]) -> dict[str, str]:
    """Identity headers an ext_authz answer set, without their signature, once it is checked to hold (a
    service reading them gets the same identity back)."""
    values = {k: v for k, v in headers.items() if k != SIGNATURE}
    if values:
        assert caller_from_metadata(list(headers.items()), IDENTITY_SECRET.encode()).as_headers() == values
    else:
        assert SIGNATURE not in headers
    return values


async def register_owner(app: AuthApp, email: str = ADMIN_EMAIL) -> SessionTokens:
    """Registers `email` and makes it the organization's first owner with the bootstrap token; returns a
    session started after that (its user's role is "owner")."""
    session = await app.accounts.register(email, PASSWORD, "", Caller())
    await app.bootstrap.redeem(await caller_for(app, session.access_token), BOOTSTRAP_TOKEN)
    return await app.accounts.login(email, PASSWORD)


# -- through Envoy ---------------------------------------------------------------------------------------
@dataclass
class Response:
    status: int
    headers: Any
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class Rest:
    def __init__(self, stack: Stack) -> None:
        self.base = stack.http_url

    def __call__(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        token: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> Response:
        data = json.dumps(body).encode() if body is not None else None
        hdrs = {"content-type": "application/json", **(headers or {})}
        if token:
            hdrs["authorization"] = f"Bearer {token}"
        request = urllib.request.Request(self.base + path, data=data, method=method, headers=hdrs)
        try:
            with urllib.request.urlopen(request, timeout=30) as r:
                return Response(r.status, r.headers, r.read())
        except urllib.error.HTTPError as exc:
            return Response(exc.code, exc.headers, exc.read())

    def register(self, email: str | None = None, password: str = PASSWORD, token: str | None = None) -> dict:
        r = self("POST", "/v1/auth/register", {"email": email or unique_email(), "password": password}, token=token)
        assert r.status == 200, r.body
        return r.json()


@pytest.fixture(scope="session")
def rest(stack: Stack) -> Rest:
    return Rest(stack)


class Owner:
    """The organization owner, registered once per session and made owner with the stack's bootstrap token
    (JAN_BOOTSTRAP_TOKEN), with an admin API key.
    `access_token` signs in again when the last one is near its 15-minute expiry (long sessions)."""

    def __init__(self, rest: Rest) -> None:
        self._rest = rest
        self._token, self._issued = self._sign_in(), time.monotonic()
        created = rest("POST", "/v1/organization/admin_api_keys", {"name": "tests"}, token=self._token)
        assert created.status == 200, created.body
        self.admin_key: str = created.json()["value"]

    def _sign_in(self) -> str:
        """Registers the owner and presents the bootstrap token, or signs in if some earlier fixture of this
        session already did."""
        body = {"email": ADMIN_EMAIL, "password": PASSWORD}
        r = self._rest("POST", "/v1/auth/register", body)
        if r.status == 409:
            r = self._rest("POST", "/v1/auth/login", body)
        assert r.status == 200, r.body
        token = r.json()["access_token"]
        if r.json()["user"]["role"] != "owner":
            claimed = self._rest("POST", "/v1/auth/bootstrap", {"bootstrap_token": BOOTSTRAP_TOKEN}, token=token)
            assert claimed.status == 200 and claimed.json()["role"] == "owner", claimed.body
        return token

    @property
    def access_token(self) -> str:
        if time.monotonic() - self._issued > 600:
            self._token, self._issued = self._sign_in(), time.monotonic()
        return self._token


@pytest.fixture(scope="session")
def owner(rest: Rest) -> Owner:
    return Owner(rest)
