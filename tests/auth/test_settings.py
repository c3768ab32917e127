"""The auth service's settings fail fast on missing or weak secrets and default the rest sensibly."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from services.auth.settings import AuthSettings

GOOD = "x" * 32
SECRETS = ("JAN_JWT_SECRET", "JAN_APIKEY_SECRET", "JAN_IDENTITY_SECRET")


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (*SECRETS, "JAN_ADMIN_EMAILS", "JAN_BOOTSTRAP_TOKEN", "OAUTH2_GOOGLE_CLIENT_ID"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DATABASE_URL", "postgresql://localhost/unused")
    monkeypatch.setenv("JAN_IDENTITY_SECRET", GOOD)


@pytest.mark.parametrize("missing", SECRETS)
def test_missing_secret_stops_the_start(monkeypatch: pytest.MonkeyPatch, missing: str) -> None:
    for name in SECRETS:
        if name != missing:
            monkeypatch.setenv(name, GOOD)
    monkeypatch.delenv(missing, raising=False)
    with pytest.raises(ValidationError, match=missing):
        AuthSettings()


@pytest.mark.parametrize("name", SECRETS)
def test_short_secret_stops_the_start_without_echoing_it(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    for secret in SECRETS:
        monkeypatch.setenv(secret, GOOD)
    monkeypatch.setenv(name, "short-secret-value")
    with pytest.raises(ValidationError, match="at least 32 characters") as raised:
        AuthSettings()
    assert "short-secret-value" not in str(raised.value)


def test_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JAN_JWT_SECRET", GOOD)
    monkeypatch.setenv("JAN_APIKEY_SECRET", GOOD)
    monkeypatch.setenv("JAN_ADMIN_EMAILS", " Owner@Example.com, second@example.com ,")
    settings = AuthSettings()
    assert settings.access_token_ttl_seconds == 15 * 60
    assert settings.refresh_token_ttl_seconds == 30 * 24 * 3600
    assert settings.invite_ttl_seconds == 7 * 24 * 3600
    assert settings.admin_emails == {"owner@example.com", "second@example.com"}
    assert settings.bootstrap_token is None
    assert settings.cookie_secure is True
    assert settings.google.issuer == "https://accounts.google.com" and not settings.google.configured
    monkeypatch.setenv("JAN_COOKIE_SECURE", "false")
    assert AuthSettings().cookie_secure is False


@pytest.mark.parametrize(
    "name", ["OAUTH2_GOOGLE_AUTH_URI", "OAUTH2_GOOGLE_TOKEN_URI", "OAUTH2_GOOGLE_JWKS_URI", "OAUTH2_GOOGLE_ISSUER"]
)
@pytest.mark.parametrize("value", ["http://oauth2.example.com/token", "oauth2.example.com/token", "https://", ""])
def test_a_google_endpoint_that_is_not_https_stops_the_start(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    # Plain http would fail only at sign-in time (oauthlib refuses it: a 500 for the user); refuse it at start.
    monkeypatch.setenv("JAN_JWT_SECRET", GOOD)
    monkeypatch.setenv("JAN_APIKEY_SECRET", GOOD)
    monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError, match=f"{name}.*https") as raised:
        AuthSettings()
    assert "must be an https:// URL" in str(raised.value)


def test_https_google_endpoints_and_a_plain_http_redirect_are_accepted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JAN_JWT_SECRET", GOOD)
    monkeypatch.setenv("JAN_APIKEY_SECRET", GOOD)
    monkeypatch.setenv("OAUTH2_GOOGLE_TOKEN_URI", "HTTPS://idp.example.com:8443/token")
    # The redirect URL is this deployment's own page, not Google's: plain http is fine on localhost.
    monkeypatch.setenv("OAUTH2_GOOGLE_REDIRECT_URL", "http://localhost:3000/auth/google/callback")
    settings = AuthSettings()
    assert settings.google.token_uri == "HTTPS://idp.example.com:8443/token"


def test_a_short_bootstrap_token_stops_the_start_and_an_empty_one_is_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JAN_JWT_SECRET", GOOD)
    monkeypatch.setenv("JAN_APIKEY_SECRET", GOOD)
    monkeypatch.setenv("JAN_BOOTSTRAP_TOKEN", "short-bootstrap")
    with pytest.raises(ValidationError, match="JAN_BOOTSTRAP_TOKEN") as raised:
        AuthSettings()
    assert "short-bootstrap" not in str(raised.value)
    monkeypatch.setenv("JAN_BOOTSTRAP_TOKEN", "")
    assert AuthSettings().bootstrap_token is None
    monkeypatch.setenv("JAN_BOOTSTRAP_TOKEN", "b" * 32)
    token = AuthSettings().bootstrap_token
    assert token is not None and token.get_secret_value() == "b" * 32
