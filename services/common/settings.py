"""Typed settings read from the environment once, at start-up.

Every service builds one settings object (a pydantic-settings class) in its own `settings.py` from these
parts; a bad or missing value fails the start with a message naming the variable. Nothing else in the
code base reads os.environ.
"""

from __future__ import annotations

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

MIN_SECRET_CHARS = 32
# A metrics listen address: empty (off) or host:port ("127.0.0.1:50071", "[::]:50071", ":50071").
METRICS_LISTEN = r"^(|\S*:\d+)$"


class JanSettings(BaseSettings):
    """Base for all settings classes: environment only, immutable, unknown variables ignored."""

    model_config = SettingsConfigDict(frozen=True, extra="ignore", populate_by_name=True)


def split_listen_address(address: str) -> tuple[str, int]:
    """ "127.0.0.1:50061", "[::]:50061" or ":50061" → (host, port), the form gRPC's listen addresses use; for the
    services' plain-HTTP listeners (ext_authz, metrics), which take a gRPC-style listen address setting."""
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit():
        raise ValueError(f"listen address {address!r} is not host:port")
    return host.strip("[]") or "0.0.0.0", int(port)


class ServerSettings(JanSettings):
    """What every gRPC service needs to run. Each service's subclass re-declares `listen_address` with its
    own variable (JAN_AUTH_LISTEN, ...) and default port, and `metrics_listen_address` with its own
    (JAN_AUTH_METRICS_LISTEN, ...): Prometheus metrics over HTTP, off when empty."""

    listen_address: str = "127.0.0.1:0"
    metrics_listen_address: str = ""
    log_level: str = Field("INFO", validation_alias="JAN_LOG_LEVEL")
    log_format: str = Field("json", validation_alias="JAN_LOG_FORMAT", pattern="^(json|text)$")
    shutdown_grace_seconds: float = Field(10.0, validation_alias="JAN_SHUTDOWN_GRACE_SECONDS", ge=0)
    max_message_bytes: int = Field(32 * 1024 * 1024, validation_alias="JAN_GRPC_MAX_MESSAGE_BYTES", gt=0)
    otlp_endpoint: str | None = Field(None, validation_alias="OTEL_EXPORTER_OTLP_ENDPOINT")

    @property
    def tracing(self) -> bool:
        """Spans are made (and interceptors installed) only when something collects them."""
        return self.otlp_endpoint is not None


class DatabaseSettings(JanSettings):
    """PostgreSQL connection for the services that own tables."""

    url: str = Field(validation_alias="DATABASE_URL")
    pool_min_size: int = Field(1, validation_alias="JAN_DB_POOL_MIN", ge=0)
    pool_max_size: int = Field(10, validation_alias="JAN_DB_POOL_MAX", ge=1)
    connect_timeout_seconds: float = Field(30.0, validation_alias="JAN_DB_CONNECT_TIMEOUT_SECONDS", gt=0)


def long_enough_secret(value: SecretStr) -> SecretStr:
    """For a signing key's field validator: refuses one shorter than MIN_SECRET_CHARS (without echoing it)."""
    if len(value.get_secret_value()) < MIN_SECRET_CHARS:
        raise ValueError(f"must be at least {MIN_SECRET_CHARS} characters")
    return value


class IdentitySettings(JanSettings):
    """Mixed into the settings of every service that reads identity (auth, chat): the key of the signature
    over the identity headers auth's ext_authz sets (services/common/identity.py). Required, the same value
    in each service, at least MIN_SECRET_CHARS characters."""

    model_config = SettingsConfigDict(**JanSettings.model_config, hide_input_in_errors=True)

    identity_secret: SecretStr = Field(validation_alias="JAN_IDENTITY_SECRET")

    @field_validator("identity_secret")
    @classmethod
    def _identity_secret_long_enough(cls, value: SecretStr) -> SecretStr:
        return long_enough_secret(value)

    @property
    def identity_key(self) -> bytes:
        return self.identity_secret.get_secret_value().encode()
