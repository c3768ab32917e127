"""The auth service's settings fail fast on missing or weak secrets and default the rest sensibly."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from services.auth.settings import AuthSettings

GOOD = "x" * 32


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("JAN_JWT_SECRET", "JAN_APIKEY_SECRET", "JAN_ADMIN_EMAILS", "OAUTH2_GOOGLE_CLIENT_ID"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DATABASE_URL", "postgresql://localhost/unused")


@pytest.mark.parametrize("missing", ["JAN_JWT_SECRET", "JAN_APIKEY_SECRET"])
def test_missing_secret_stops_the_start(monkeypatch: pytest.MonkeyPatch, missing: str) -> None:
    for name in ("JAN_JWT_SECRET", "JAN_APIKEY_SECRET"):
        if name != missing:
            monkeypatch.setenv(name, GOOD)
    with pytest.raises(ValidationError, match=missing):
        AuthSettings()


@pytest.mark.parametrize("name", ["JAN_JWT_SECRET", "JAN_APIKEY_SECRET"])
def test_short_secret_stops_the_start_without_echoing_it(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    monkeypatch.setenv("JAN_JWT_SECRET", GOOD)
    monkeypatch.setenv("JAN_APIKEY_SECRET", GOOD)
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
    assert settings.cookie_secure is True
    assert settings.google.issuer == "https://accounts.google.com" and not settings.google.configured
    monkeypatch.setenv("JAN_COOKIE_SECURE", "false")
    assert AuthSettings().cookie_secure is False
