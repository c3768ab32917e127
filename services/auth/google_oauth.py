"""Google sign-in: OAuth2 authorization code flow with PKCE (S256), state and nonce, via google-auth-oauthlib.

The login URL's state is random and stored (hashed) with the PKCE verifier and the OIDC nonce; the
callback consumes it once, before it expires. The code is exchanged at the token endpoint with the
client secret and the verifier, and the ID token is verified: signature against the JWKS, audience,
expiry (google-auth), then issuer, nonce and a verified email (here). The blocking HTTP calls run in a
thread.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import google.auth.transport.requests
import requests
import requests.adapters
from google.oauth2 import id_token
from google_auth_oauthlib.flow import Flow
from oauthlib.oauth2.rfc6749.errors import OAuth2Error

from services.auth import tokens
from services.auth.accounts import Accounts
from services.auth.domain import SessionTokens
from services.auth.settings import GOOGLE_ISSUER, GoogleSettings
from services.auth.store import Store
from services.common import errors
from services.common.identity import Caller

log = logging.getLogger(__name__)
SCOPES = [
    "openid",
    "https://www.googleapis.com/auth/userinfo.email",
    "https://www.googleapis.com/auth/userinfo.profile",
]


class GoogleSignIn:
    def __init__(self, settings: GoogleSettings, store: Store, accounts: Accounts) -> None:
        self._settings = settings
        self._store = store
        self._accounts = accounts

    @property
    def state_ttl_seconds(self) -> int:
        return self._settings.state_ttl_seconds

    def _require_configured(self) -> None:
        if not self._settings.configured:
            raise errors.FailedPrecondition(
                "Google sign-in is not configured: set OAUTH2_GOOGLE_CLIENT_ID, OAUTH2_GOOGLE_CLIENT_SECRET and "
                "OAUTH2_GOOGLE_REDIRECT_URL"
            )

    def _flow(self, code_verifier: str | None = None) -> Flow:
        s = self._settings
        config = {
            "web": {
                "client_id": s.client_id,
                "client_secret": s.client_secret.get_secret_value(),
                "auth_uri": s.auth_uri,
                "token_uri": s.token_uri,
                "redirect_uris": [s.redirect_url],
            }
        }
        return Flow.from_client_config(
            config,
            scopes=SCOPES,
            redirect_uri=s.redirect_url,
            code_verifier=code_verifier,
            autogenerate_code_verifier=code_verifier is None,
        )

    async def login_url(self) -> tuple[str, str]:
        """(authorization URL, state)."""
        self._require_configured()
        state, nonce = tokens.new_oauth_secret(), tokens.new_oauth_secret()
        flow = self._flow()
        url, _ = flow.authorization_url(
            state=state, nonce=nonce, access_type="online", prompt="select_account", include_granted_scopes="true"
        )
        expires_at = datetime.now(UTC) + timedelta(seconds=self._settings.state_ttl_seconds)
        await self._store.insert_oauth_state(tokens.sha256(state), flow.code_verifier, nonce, expires_at)
        return url, state

    async def callback(self, code: str, state: str, caller: Caller, client_ip: str | None = None) -> SessionTokens:
        """Finishes a Google sign-in; a failed one is recorded in the audit log (login.failed)."""
        self._require_configured()
        self._accounts.count_sign_in(client_ip)
        try:
            return await self._callback(code, state, caller, client_ip)
        except errors.JanError as failure:
            await self._accounts.record_login_failure(None, failure, client_ip)
            raise

    async def _callback(self, code: str, state: str, caller: Caller, client_ip: str | None) -> SessionTokens:
        if not code or not state:
            raise errors.InvalidArgument("code and state are required", param="code" if not code else "state")
        pending = await self._store.take_oauth_state(tokens.sha256(state))
        if pending is None:
            raise errors.InvalidArgument("unknown, used or expired sign-in state; start again", param="state")
        code_verifier, nonce = pending
        claims = await asyncio.to_thread(self._exchange_and_verify, code, code_verifier)
        if claims.get("nonce") != nonce:
            raise errors.Unauthenticated("Google ID token nonce does not match this sign-in")
        if not claims.get("email"):
            raise errors.Unauthenticated("Google account has no verified email")
        return await self._accounts.sign_in_external(
            google_sub=str(claims["sub"]),
            email=str(claims["email"]),
            email_verified=claims.get("email_verified") in (True, "true"),  # linking and owners depend on it
            name=str(claims.get("name") or ""),
            caller=caller,
            client_ip=client_ip,
        )

    def _trust_ca_bundle(self, session: requests.Session) -> requests.Session:
        if self._settings.ca_bundle:  # (session.verify alone loses to REQUESTS_CA_BUNDLE in requests)
            session.mount("https://", _CaBundleAdapter(self._settings.ca_bundle))
        return session

    def _exchange_and_verify(self, code: str, code_verifier: str) -> dict[str, Any]:
        flow = self._flow(code_verifier)
        self._trust_ca_bundle(flow.oauth2session)
        http = self._trust_ca_bundle(requests.Session())
        try:
            token = flow.fetch_token(code=code, timeout=self._settings.timeout_seconds)
        except (OAuth2Error, requests.RequestException, ValueError) as exc:
            log.warning("Google code exchange failed: %s", type(exc).__name__)
            raise errors.Unauthenticated("Google rejected the authorization code") from None
        raw = token.get("id_token")
        if not raw:
            raise errors.Unauthenticated("Google returned no ID token")
        try:
            claims = id_token.verify_token(
                raw,
                google.auth.transport.requests.Request(session=http),
                audience=self._settings.client_id,
                certs_url=self._settings.jwks_uri,
            )
        except Exception as exc:  # google-auth and pyjwt raise many kinds; all mean "not verified"
            log.warning("Google ID token rejected: %s", type(exc).__name__)
            raise errors.Unauthenticated("Google ID token could not be verified") from None
        if claims.get("iss") not in self._issuers():
            raise errors.Unauthenticated("Google ID token has the wrong issuer")
        return dict(claims)

    def _issuers(self) -> set[str]:
        issuer = self._settings.issuer
        return {issuer, "accounts.google.com"} if issuer == GOOGLE_ISSUER else {issuer}


class _CaBundleAdapter(requests.adapters.HTTPAdapter):
    """Verifies TLS against one CA bundle, whatever the environment says."""

    def __init__(self, ca_bundle: str) -> None:
        super().__init__()
        self._ca_bundle = ca_bundle

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        kwargs["verify"] = self._ca_bundle
        return super().send(request, **kwargs)
