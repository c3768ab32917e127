"""The HTTP ext_authz endpoint Envoy asks (authz_http.py), over a real socket against a real PostgreSQL:
the wire format Envoy reads (status, identity headers, x-envoy-auth-headers-to-remove, denial body).
Envoy's side of it is covered by every test through Envoy (tests/auth/test_edge_*.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest

from services.auth.authz_http import HEADERS_TO_REMOVE, AuthzHttpServer
from services.auth.server import AuthApp
from services.common.identity import IDENTITY_HEADERS, Caller
from services.common.settings import split_listen_address
from tests.auth.conftest import PASSWORD, unique_email, verified


@pytest.fixture
async def ask(app: AuthApp) -> AsyncIterator:
    server = AuthzHttpServer(app.authorizer, "127.0.0.1:0")
    port = await server.start()
    async with aiohttp.ClientSession() as session:

        async def ask(method: str, path: str, token: str | None = None, **headers: str) -> aiohttp.ClientResponse:
            if token:
                headers["authorization"] = f"Bearer {token}"
            headers = {k.replace("_", "-"): v for k, v in headers.items()}
            async with session.request(method, f"http://127.0.0.1:{port}{path}", headers=headers) as response:
                await response.read()
                return response

        yield ask
    await server.stop()


def identity(response: aiohttp.ClientResponse) -> dict[str, str]:
    assert response.status == 200
    set_headers = {h: response.headers[h] for h in IDENTITY_HEADERS if h in response.headers}
    removed = [h for h in response.headers.get(HEADERS_TO_REMOVE, "").split(",") if h]
    assert sorted([*set_headers, *removed]) == sorted(IDENTITY_HEADERS)  # every identity header is decided
    return verified(set_headers)


async def test_a_session_gets_its_identity_headers(app: AuthApp, ask) -> None:
    session = await app.accounts.register(unique_email(), PASSWORD, "", Caller())
    headers = identity(await ask("GET", "/v1/models", session.access_token))
    assert headers["x-jan-user-id"] == session.user.id
    assert headers["x-jan-key-type"] == "session"
    assert "x-jan-project-id" not in headers
    # The path of a native gRPC call decides the same way.
    assert identity(await ask("POST", "/jan.v1.ChatService/ListModels", session.access_token)) == headers


async def test_a_public_route_without_credentials_drops_every_identity_header(ask) -> None:
    assert identity(await ask("POST", "/v1/auth/login")) == {}
    assert identity(await ask("POST", "/v1/auth/login", "garbage")) == {}


@pytest.mark.parametrize("authorization", [None, "Basic dXNlcjpwYXNz", "Bearer not-a-jwt", "Bearer sk-nope"])
async def test_no_or_a_bad_credential_is_a_401_with_a_reason(ask, authorization: str | None) -> None:
    response = await ask("GET", "/v1/auth/me", **({"authorization": authorization} if authorization else {}))
    assert response.status == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert not any(h in response.headers for h in IDENTITY_HEADERS)


async def test_the_method_picks_the_rule(app: AuthApp, ask) -> None:
    reader = await app.accounts.register(unique_email(), PASSWORD, "", Caller())
    assert (await ask("GET", "/v1/organization/projects", reader.access_token)).status == 403
    assert (await ask("GET", "/v1/auth/me", reader.access_token)).status == 200


async def test_a_failing_check_is_a_503_not_an_allow(app: AuthApp, ask, monkeypatch: pytest.MonkeyPatch) -> None:
    session = await app.accounts.register(unique_email(), PASSWORD, "", Caller())

    async def broken(*_args: object) -> None:
        raise ConnectionError("database went away")

    monkeypatch.setattr(app.authorizer, "decide", broken)
    response = await ask("GET", "/v1/models", session.access_token)
    assert response.status == 503
    assert not any(h in response.headers for h in IDENTITY_HEADERS)


@pytest.mark.parametrize(
    ("address", "expected"),
    [("127.0.0.1:50061", ("127.0.0.1", 50061)), ("[::]:8", ("::", 8)), (":9", ("0.0.0.0", 9))],
)
def test_listen_addresses_are_read_like_grpc_ones(address: str, expected: tuple[str, int]) -> None:
    assert split_listen_address(address) == expected


@pytest.mark.parametrize("address", ["localhost", "127.0.0.1:http", ""])
def test_a_bad_listen_address_is_refused(address: str) -> None:
    with pytest.raises(ValueError, match="host:port"):
        split_listen_address(address)
