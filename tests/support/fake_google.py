"""A local stand-in for Google's OAuth2/OIDC endpoints (authorize, token, JWKS) that signs real RS256 ID
tokens, so the auth service's production Google sign-in code is what the tests exercise.

It serves HTTPS on loopback with its own self-signed certificate (oauthlib refuses plain http), whose
path env() hands over as OAUTH2_GOOGLE_CA_BUNDLE. The authorize endpoint checks the client id, the
redirect URI and an S256 PKCE challenge and redirects with a code; the token endpoint checks the client
credentials, the code, the redirect URI and the PKCE verifier, and returns an ID token with the nonce.

    server = FakeGoogle(); server.start(); server.env() -> the OAUTH2_GOOGLE_* variables; server.stop()
    code, state = server.consent(authorization_url, email="a@example.com")   # the user clicks "Allow"
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import ipaddress
import json
import secrets
import ssl
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

CLIENT_ID = "jan-test-client.apps.googleusercontent.com"
CLIENT_SECRET = "fake-google-client-secret-0123456789"
REDIRECT_URL = "http://localhost:3000/auth/google/callback"
SCOPE = "openid https://www.googleapis.com/auth/userinfo.email https://www.googleapis.com/auth/userinfo.profile"


@dataclass
class _Grant:
    client_id: str
    redirect_uri: str
    challenge: str
    nonce: str | None
    claims: dict[str, Any]
    sign_with_rogue_key: bool


@dataclass
class _State:
    grants: dict[str, _Grant] = field(default_factory=dict)
    token_requests: list[dict[str, str]] = field(default_factory=list)


def _b64url_uint(value: int) -> str:
    raw = value.to_bytes((value.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _self_signed_cert(key: rsa.RSAPrivateKey) -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "fake-google.local")])
    now = dt.datetime.now(dt.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )


class FakeGoogle:
    def __init__(self) -> None:
        self.signing_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.rogue_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.kid = secrets.token_hex(8)
        self.state = _State()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._dir = tempfile.TemporaryDirectory(prefix="fake-google-")
        self.ca_path = Path(self._dir.name) / "ca.pem"
        self._lock = threading.Lock()

    # -- lifecycle -----------------------------------------------------------------------------------
    def start(self) -> None:
        tls_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        cert = _self_signed_cert(tls_key)
        key_path = Path(self._dir.name) / "key.pem"
        self.ca_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        key_path.write_bytes(
            tls_key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.ca_path, key_path)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
        self._thread = threading.Thread(target=self._server.serve_forever, name="fake-google", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        self._dir.cleanup()

    @property
    def base_url(self) -> str:
        assert self._server is not None
        return f"https://127.0.0.1:{self._server.server_address[1]}"

    @property
    def issuer(self) -> str:
        return self.base_url

    def env(self) -> dict[str, str]:
        return {
            "OAUTH2_GOOGLE_CLIENT_ID": CLIENT_ID,
            "OAUTH2_GOOGLE_CLIENT_SECRET": CLIENT_SECRET,
            "OAUTH2_GOOGLE_REDIRECT_URL": REDIRECT_URL,
            "OAUTH2_GOOGLE_AUTH_URI": f"{self.base_url}/o/oauth2/v2/auth",
            "OAUTH2_GOOGLE_TOKEN_URI": f"{self.base_url}/token",
            "OAUTH2_GOOGLE_JWKS_URI": f"{self.base_url}/oauth2/v3/certs",
            "OAUTH2_GOOGLE_ISSUER": self.issuer,
            "OAUTH2_GOOGLE_CA_BUNDLE": str(self.ca_path),
        }

    def ssl_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.ca_path))

    # -- what a test does ----------------------------------------------------------------------------
    def consent(
        self,
        authorization_url: str,
        *,
        email: str,
        sub: str | None = None,
        name: str = "Google User",
        email_verified: bool = True,
        claims: dict[str, Any] | None = None,
        sign_with_rogue_key: bool = False,
    ) -> tuple[str, str]:
        """Plays the user approving the request at `authorization_url`; returns (code, state) from the
        redirect. `claims` overrides ID token claims (e.g. {"aud": "other"}); `sign_with_rogue_key`
        signs it with a key that is not in the JWKS."""
        identity = {
            "sub": sub or secrets.token_hex(10),
            "email": email,
            "email_verified": email_verified,
            "name": name,
            **(claims or {}),
        }
        url = authorization_url + "&jan_test_identity=" + urllib.parse.quote(json.dumps(identity))
        if sign_with_rogue_key:
            url += "&jan_test_rogue=1"
        request = urllib.request.Request(url, method="GET")
        opener = urllib.request.build_opener(_NoRedirect(), urllib.request.HTTPSHandler(context=self.ssl_context()))
        try:
            opener.open(request, timeout=10)
        except urllib.error.HTTPError as exc:
            if exc.code != 302:
                raise AssertionError(f"authorize refused: {exc.code} {exc.read().decode()}") from None
            location = exc.headers["Location"]
        else:
            raise AssertionError("authorize did not redirect")
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(location).query)
        assert location.startswith(REDIRECT_URL), location
        return query["code"][0], query["state"][0]

    # -- the endpoints -------------------------------------------------------------------------------
    def jwks(self) -> dict[str, Any]:
        numbers = self.signing_key.public_key().public_numbers()
        return {
            "keys": [
                {
                    "kty": "RSA",
                    "alg": "RS256",
                    "use": "sig",
                    "kid": self.kid,
                    "n": _b64url_uint(numbers.n),
                    "e": _b64url_uint(numbers.e),
                }
            ]
        }

    def authorize(self, params: dict[str, str]) -> tuple[int, dict[str, str], str]:
        problems = []
        if params.get("client_id") != CLIENT_ID:
            problems.append("unknown client_id")
        if params.get("redirect_uri") != REDIRECT_URL:
            problems.append("redirect_uri mismatch")
        if params.get("response_type") != "code":
            problems.append("response_type must be code")
        if params.get("code_challenge_method") != "S256" or not params.get("code_challenge"):
            problems.append("PKCE S256 challenge required")
        if "openid" not in params.get("scope", "").split():
            problems.append("openid scope required")
        if not params.get("state"):
            problems.append("state required")
        if problems:
            return 400, {}, "; ".join(problems)
        code = "4/" + secrets.token_urlsafe(24)
        identity = json.loads(params.get("jan_test_identity", "{}"))
        with self._lock:
            self.state.grants[code] = _Grant(
                CLIENT_ID,
                REDIRECT_URL,
                params["code_challenge"],
                params.get("nonce"),
                identity,
                params.get("jan_test_rogue") == "1",
            )
        query = urllib.parse.urlencode({"code": code, "state": params["state"], "scope": SCOPE})
        return 302, {"Location": f"{REDIRECT_URL}?{query}"}, ""

    def token(self, form: dict[str, str], basic: tuple[str, str] | None) -> tuple[int, dict[str, Any]]:
        client_id, client_secret = basic or (form.get("client_id", ""), form.get("client_secret", ""))
        with self._lock:
            self.state.token_requests.append({k: v for k, v in form.items() if k != "client_secret"})
            grant = self.state.grants.pop(form.get("code", ""), None)  # codes are single use
        if client_id != CLIENT_ID or client_secret != CLIENT_SECRET:
            return 401, {"error": "invalid_client"}
        if form.get("grant_type") != "authorization_code" or grant is None:
            return 400, {"error": "invalid_grant"}
        if form.get("redirect_uri") != grant.redirect_uri:
            return 400, {"error": "invalid_grant", "error_description": "redirect_uri mismatch"}
        verifier = form.get("code_verifier", "")
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
        if challenge != grant.challenge:
            return 400, {"error": "invalid_grant", "error_description": "PKCE verification failed"}
        now = int(time.time())
        claims = {"iss": self.issuer, "aud": CLIENT_ID, "azp": CLIENT_ID, "iat": now, "exp": now + 3600}
        if grant.nonce:
            claims["nonce"] = grant.nonce
        claims.update(grant.claims)
        key = self.rogue_key if grant.sign_with_rogue_key else self.signing_key
        id_token = jwt.encode(claims, key, algorithm="RS256", headers={"kid": self.kid})
        return 200, {
            "access_token": "ya29." + secrets.token_urlsafe(24),
            "token_type": "Bearer",
            "expires_in": 3599,
            "scope": SCOPE,
            "id_token": id_token,
        }


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def _handler(google: FakeGoogle) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _send(self, status: int, body: str | dict[str, Any], headers: dict[str, str] | None = None) -> None:
            data = (json.dumps(body) if isinstance(body, dict) else body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json" if isinstance(body, dict) else "text/plain")
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            url = urllib.parse.urlsplit(self.path)
            if url.path == "/oauth2/v3/certs":
                self._send(200, google.jwks())
            elif url.path == "/o/oauth2/v2/auth":
                params = {k: v[0] for k, v in urllib.parse.parse_qs(url.query).items()}
                status, headers, body = google.authorize(params)
                self._send(status, body, headers)
            else:
                self._send(404, {"error": "not_found"})

        def do_POST(self) -> None:
            if urllib.parse.urlsplit(self.path).path != "/token":
                self._send(404, {"error": "not_found"})
                return
            length = int(self.headers.get("Content-Length") or 0)
            form = {k: v[0] for k, v in urllib.parse.parse_qs(self.rfile.read(length).decode()).items()}
            basic = None
            auth = self.headers.get("Authorization", "")
            if auth.startswith("Basic "):
                user, _, password = base64.b64decode(auth[6:]).decode().partition(":")
                basic = (urllib.parse.unquote_plus(user), urllib.parse.unquote_plus(password))
            status, body = google.token(form, basic)
            self._send(status, body)

    return Handler
