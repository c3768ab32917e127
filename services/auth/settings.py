"""The auth service's settings, read once from the environment.

The signing secrets (JAN_JWT_SECRET, JAN_APIKEY_SECRET, and JAN_IDENTITY_SECRET, the last shared with the
chat service) are required and must be at least 32 characters: the service refuses to start without them
(JAN_BOOTSTRAP_TOKEN too, when set, is at least 32 characters). Google sign-in is optional; with no client
id, secret and redirect URL its RPCs answer FAILED_PRECONDITION. Google's endpoints must be https: oauthlib
refuses anything else, which would otherwise surface only at sign-in time, as a server error.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationInfo, field_validator
from pydantic_settings import SettingsConfigDict

from services.auth.emails import canonical_email
from services.common.settings import (
    METRICS_LISTEN,
    DatabaseSettings,
    IdentitySettings,
    JanSettings,
    ServerSettings,
    long_enough_secret,
)

GOOGLE_ISSUER = "https://accounts.google.com"


class GoogleSettings(JanSettings):
    """Google OAuth2/OIDC client. The endpoints default to Google's; tests point them at a local stand-in."""

    client_id: str = Field("", validation_alias="OAUTH2_GOOGLE_CLIENT_ID")
    client_secret: SecretStr = Field(SecretStr(""), validation_alias="OAUTH2_GOOGLE_CLIENT_SECRET")
    redirect_url: str = Field("", validation_alias="OAUTH2_GOOGLE_REDIRECT_URL")
    auth_uri: str = Field("https://accounts.google.com/o/oauth2/v2/auth", validation_alias="OAUTH2_GOOGLE_AUTH_URI")
    token_uri: str = Field("https://oauth2.googleapis.com/token", validation_alias="OAUTH2_GOOGLE_TOKEN_URI")
    jwks_uri: str = Field("https://www.googleapis.com/oauth2/v3/certs", validation_alias="OAUTH2_GOOGLE_JWKS_URI")
    issuer: str = Field(GOOGLE_ISSUER, validation_alias="OAUTH2_GOOGLE_ISSUER")
    # A CA bundle to trust for the endpoints above (a private CA or a test server); the system's by default.
    ca_bundle: str | None = Field(None, validation_alias="OAUTH2_GOOGLE_CA_BUNDLE")
    timeout_seconds: float = Field(10.0, validation_alias="OAUTH2_GOOGLE_TIMEOUT_SECONDS", gt=0)
    state_ttl_seconds: int = Field(600, validation_alias="OAUTH2_GOOGLE_STATE_TTL_SECONDS", gt=0)

    # The redirect URL is not checked: it is this deployment's own page (http://localhost in development).
    @field_validator("auth_uri", "token_uri", "jwks_uri", "issuer")
    @classmethod
    def _https(cls, value: str, info: ValidationInfo) -> str:
        parts = urlsplit(value)
        if parts.scheme.lower() != "https" or not parts.hostname:
            variable = cls.model_fields[info.field_name or ""].validation_alias
            raise ValueError(f"{variable} must be an https:// URL")
        return value

    @property
    def configured(self) -> bool:
        return bool(self.client_id and self.client_secret.get_secret_value() and self.redirect_url)


class AuthSettings(ServerSettings, IdentitySettings):
    # Errors name the variable but never echo its value (it may be a secret).
    model_config = SettingsConfigDict(**ServerSettings.model_config, hide_input_in_errors=True)

    listen_address: str = Field("127.0.0.1:50051", validation_alias="JAN_AUTH_LISTEN")
    # Envoy's ext_authz asks here, over HTTP/1.1 (authz_http.py); the gRPC Check stays on listen_address.
    authz_listen_address: str = Field("127.0.0.1:50061", validation_alias="JAN_AUTH_AUTHZ_LISTEN")
    # Prometheus metrics over HTTP (services/common/metrics.py), on a port of their own; empty: off.
    metrics_listen_address: str = Field("", validation_alias="JAN_AUTH_METRICS_LISTEN", pattern=METRICS_LISTEN)
    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    google: GoogleSettings = Field(default_factory=GoogleSettings)

    jwt_secret: SecretStr = Field(validation_alias="JAN_JWT_SECRET")
    apikey_secret: SecretStr = Field(validation_alias="JAN_APIKEY_SECRET")
    jwt_issuer: str = Field("jan-server", validation_alias="JAN_JWT_ISSUER")
    access_token_ttl_seconds: int = Field(15 * 60, validation_alias="JAN_ACCESS_TOKEN_TTL_SECONDS", ge=30)
    refresh_token_ttl_seconds: int = Field(30 * 24 * 3600, validation_alias="JAN_REFRESH_TOKEN_TTL_SECONDS", ge=60)
    invite_ttl_seconds: int = Field(7 * 24 * 3600, validation_alias="JAN_INVITE_TTL_SECONDS", ge=60)
    # Comma-separated. A Google sign-in whose ID token says one of these emails is verified makes that account
    # an organization owner, once per email; registering one of them with a password proves nothing.
    admin_emails_csv: str = Field("", validation_alias="JAN_ADMIN_EMAILS")
    # The first owner's one-time token (bootstrap.py), for deployments that cannot read the log; stored hashed.
    bootstrap_token: SecretStr | None = Field(None, validation_alias="JAN_BOOTSTRAP_TOKEN")

    # Password sign-ins: after this many failures for one email within the window, refused until it ends.
    login_max_failures: int = Field(10, validation_alias="JAN_LOGIN_MAX_FAILURES", ge=0)  # 0: no limit
    login_failure_window_seconds: float = Field(900.0, validation_alias="JAN_LOGIN_FAILURE_WINDOW_SECONDS", gt=0)
    # Authenticated requests per minute per user (a burst of that many, then an even pace), counted by each
    # auth replica in memory (rate_limit.py). 0: no limit.
    rate_limit_requests_per_minute: int = Field(0, validation_alias="JAN_RATE_LIMIT_REQUESTS_PER_MINUTE", ge=0)
    # The same for guest accounts, on top of the limit above (anyone can make one). 0: no guest limit.
    guest_requests_per_minute: int = Field(30, validation_alias="JAN_GUEST_REQUESTS_PER_MINUTE", ge=0)
    # Guest accounts one client address may make per hour (rate_limit.py), so that making a new guest does not
    # escape the guest limit above. 0: no limit.
    guest_accounts_per_ip_per_hour: int = Field(20, validation_alias="JAN_GUEST_ACCOUNTS_PER_IP_PER_HOUR", ge=0)
    # Sign-in attempts (password and Google) one client address may make per minute, on top of the failures
    # per email above: guessing across many emails, and the audit events failed attempts write. 0: no limit.
    sign_ins_per_ip_per_minute: int = Field(30, validation_alias="JAN_SIGN_INS_PER_IP_PER_MINUTE", ge=0)

    # Who may call jan.v1.InferenceService and jan.v1.SearchService natively through Envoy (policy.py): "owner",
    # the organization's owners (sessions and admin API keys); "api", any API caller (guests included).
    internal_services_access: str = Field(
        "owner", validation_alias="JAN_INTERNAL_SERVICES_ACCESS", pattern="^(owner|api)$"
    )

    # The inference service, asked for the served models (a project's rate limits list one per model).
    inference_target: str = Field("127.0.0.1:50053", validation_alias="JAN_INFERENCE_TARGET")

    cookie_secure: bool = Field(True, validation_alias="JAN_COOKIE_SECURE")  # false only for local plain http
    cookie_domain: str | None = Field(None, validation_alias="JAN_COOKIE_DOMAIN")
    cookie_samesite: str = Field("Lax", validation_alias="JAN_COOKIE_SAMESITE", pattern="^(Lax|Strict|None)$")

    # ext_authz caches: entries live at most this long, the bound on staleness if an invalidation is lost.
    authz_cache_ttl_seconds: float = Field(30.0, validation_alias="JAN_AUTHZ_CACHE_TTL_SECONDS", ge=0)
    authz_cache_max_entries: int = Field(100_000, validation_alias="JAN_AUTHZ_CACHE_MAX_ENTRIES", ge=1)
    apikey_last_used_flush_seconds: float = Field(30.0, validation_alias="JAN_APIKEY_LAST_USED_FLUSH_SECONDS", gt=0)

    @field_validator("jwt_secret", "apikey_secret")
    @classmethod
    def _long_enough(cls, value: SecretStr) -> SecretStr:
        return long_enough_secret(value)

    @field_validator("bootstrap_token")
    @classmethod
    def _unset_or_long_enough(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value():
            return None  # an empty variable (e.g. an optional Secret key) means unset
        return cls._long_enough(value)

    @property
    def admin_emails(self) -> frozenset[str]:
        return frozenset(canonical_email(e) for e in self.admin_emails_csv.split(",") if e.strip())
