"""A local stand-in for Google's OAuth2/OIDC endpoints (authorize, token, JWKS) that signs real RS256 ID
tokens, so the auth service's production Google sign-in code is what the tests exercise.

Interface used by tests/conftest.py (the auth work fills in the behaviour):
    server = FakeGoogle(); server.start(); server.env() -> the OAUTH2_GOOGLE_* variables; server.stop()
"""

from __future__ import annotations


class FakeGoogle:
    def start(self) -> None:
        pass

    def stop(self) -> None:
        pass

    def env(self) -> dict[str, str]:
        return {}
