"""Renders envoy/envoy.yaml (the one Envoy configuration) for a local run.

The chart fills the same ${NAME} placeholders with cluster addresses; here they point at loopback ports.
The edge's own settings (CORS origins, request limits and timeouts) come from JAN_* variables
(EdgeSettings.from_env); the chart has the same settings as values (charts/envoy/values.yaml).
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from string import Template

ENVOY_DIR = Path(__file__).resolve().parent.parent / "envoy"

# An origin as browsers send it: scheme://host[:port], nothing after. "null" (sandboxed frames, file: pages)
# and "*" are not origins one can trust, so they cannot be listed.
_ORIGIN = re.compile(r"^[a-z][a-z0-9+.-]*://[^/\s,\"\\*]+$")
# The services accept 64 KiB of gRPC metadata (services/common/server.py): client headers, Envoy's own and
# edge.lua's x-jan-body-keys (at most 4 KiB) must stay below it.
MAX_HEADERS_KB_LIMIT = 32
MAX_TRUSTED_PROXY_HOPS = 10
NEVER_MATCHES = "^$"  # an empty Origin header is no CORS request, so this regex allows none


@dataclass(frozen=True)
class EnvoyPorts:
    listen: int
    admin: int
    auth: int
    auth_authz: int  # the auth service's HTTP ext_authz endpoint
    chat: int
    chat_mcp: int  # the chat service's MCP endpoint (HTTP)
    inference: int
    search: int


def quote_meta(text: str) -> str:
    """Escapes RE2 metacharacters exactly as Go's regexp.QuoteMeta (Helm's regexQuoteMeta) does, so devstack
    and the chart render the same regex for the same origins."""
    return re.sub(r"([\\.+*?()|\[\]{}^$])", r"\\\1", text)


def origin_regex(origins: list[str]) -> str:
    """The exact-match regex of a list of origins (validated), or one that matches no origin."""
    for origin in origins:
        if not _ORIGIN.match(origin):
            raise ValueError(
                f"JAN_CORS_ALLOWED_ORIGINS: {origin!r} is not an origin (scheme://host[:port], e.g. https://app.example.com)"
            )
    if not origins:
        return NEVER_MATCHES
    return "^(" + "|".join(quote_meta(o) for o in origins) + ")$"


def _whole_number(env: Mapping[str, str], name: str, default: int, maximum: int | None = None, minimum: int = 1) -> int:
    """The variable `name` as a whole number from `minimum` (1 unless said) up to `maximum`; raises naming it."""
    value = env.get(name, "").strip() or str(default)
    if not value.isdigit() or int(value) < minimum or (maximum is not None and int(value) > maximum):
        limit = f" up to {maximum}" if maximum is not None else ""
        raise ValueError(f"{name} must be a whole number from {minimum}{limit}, got {value!r}")
    return int(value)


@dataclass(frozen=True)
class EdgeSettings:
    """What the edge accepts from clients. Defaults are `make up`'s (and the chart's)."""

    cors_allowed_origins: tuple[str, ...] = ()  # JAN_CORS_ALLOWED_ORIGINS: none, so no page may read answers
    max_request_bytes: int = 16 * 1024 * 1024  # JAN_MAX_REQUEST_BYTES: REST bodies (413 beyond)
    max_request_headers_kb: int = 16  # JAN_MAX_REQUEST_HEADERS_KB (431 beyond)
    request_headers_timeout_seconds: int = 10  # JAN_REQUEST_HEADERS_TIMEOUT_SECONDS (connection closed)
    request_timeout_seconds: int = 60  # JAN_REQUEST_TIMEOUT_SECONDS: the whole request (408)
    # JAN_TRUSTED_PROXY_HOPS: proxies of our own in front of Envoy whose x-forwarded-for entries are believed
    # (0: the connection's peer is the client; a client's own header is never read).
    trusted_proxy_hops: int = 0

    def __post_init__(self) -> None:
        origin_regex(list(self.cors_allowed_origins))  # raises on a bad origin
        if not 1 <= self.max_request_headers_kb <= MAX_HEADERS_KB_LIMIT:
            raise ValueError(f"JAN_MAX_REQUEST_HEADERS_KB must be from 1 to {MAX_HEADERS_KB_LIMIT}")
        if not 0 <= self.trusted_proxy_hops <= MAX_TRUSTED_PROXY_HOPS:
            raise ValueError(f"JAN_TRUSTED_PROXY_HOPS must be from 0 to {MAX_TRUSTED_PROXY_HOPS}")

    @classmethod
    def from_env(cls, env: Mapping[str, str], grpc_max_message_bytes: int | None = None) -> EdgeSettings:
        """Reads the JAN_* variables; raises ValueError naming a bad one. The body limit must stay below the
        services' gRPC message limit (JAN_GRPC_MAX_MESSAGE_BYTES), or a large body would reach a service
        and be refused there instead of by Envoy."""
        defaults = cls()
        grpc_limit = grpc_max_message_bytes or _whole_number(env, "JAN_GRPC_MAX_MESSAGE_BYTES", 32 * 1024 * 1024)
        settings = cls(
            cors_allowed_origins=tuple(
                o.strip().lower() for o in env.get("JAN_CORS_ALLOWED_ORIGINS", "").split(",") if o.strip()
            ),
            max_request_bytes=_whole_number(env, "JAN_MAX_REQUEST_BYTES", defaults.max_request_bytes),
            max_request_headers_kb=_whole_number(
                env, "JAN_MAX_REQUEST_HEADERS_KB", defaults.max_request_headers_kb, MAX_HEADERS_KB_LIMIT
            ),
            request_headers_timeout_seconds=_whole_number(
                env, "JAN_REQUEST_HEADERS_TIMEOUT_SECONDS", defaults.request_headers_timeout_seconds
            ),
            request_timeout_seconds=_whole_number(env, "JAN_REQUEST_TIMEOUT_SECONDS", defaults.request_timeout_seconds),
            trusted_proxy_hops=_whole_number(
                env, "JAN_TRUSTED_PROXY_HOPS", defaults.trusted_proxy_hops, MAX_TRUSTED_PROXY_HOPS, minimum=0
            ),
        )
        if settings.max_request_bytes >= grpc_limit:
            raise ValueError(
                f"JAN_MAX_REQUEST_BYTES ({settings.max_request_bytes}) must be below "
                f"JAN_GRPC_MAX_MESSAGE_BYTES ({grpc_limit})"
            )
        return settings

    def placeholders(self) -> dict[str, str | int]:
        return {
            "CORS_ALLOWED_ORIGIN_REGEX": origin_regex(list(self.cors_allowed_origins)),
            "MAX_REQUEST_BYTES": self.max_request_bytes,
            "TOO_LARGE_BODY_BYTES": self.max_request_bytes + 1,  # the smallest content-length refused
            "MAX_REQUEST_HEADERS_KB": self.max_request_headers_kb,
            "REQUEST_HEADERS_TIMEOUT": f"{self.request_headers_timeout_seconds}s",
            "REQUEST_TIMEOUT": f"{self.request_timeout_seconds}s",
            "TRUSTED_PROXY_HOPS": self.trusted_proxy_hops,
        }


def render(
    ports: EnvoyPorts,
    out_dir: Path,
    *,
    listen_address: str = "127.0.0.1",
    edge: EdgeSettings | None = None,
    health_check_interval: str = "1s",
) -> Path:
    """Writes envoy.yaml, edge.lua, descriptor.pb and openapi.json into out_dir and returns the config's path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    for name in ("edge.lua", "descriptor.pb", "openapi.json"):
        shutil.copyfile(ENVOY_DIR / name, out_dir / name)
    values: dict[str, str | int] = {
        "LISTEN_ADDRESS": listen_address,
        "LISTEN_PORT": ports.listen,
        "ADMIN_ADDRESS": "127.0.0.1",
        "ADMIN_PORT": ports.admin,
        "CONFIG_DIR": str(out_dir),
        "HEALTH_CHECK_INTERVAL": health_check_interval,
        "AUTH_AUTHZ_PORT": ports.auth_authz,
        "CHAT_MCP_PORT": ports.chat_mcp,
        **(edge or EdgeSettings()).placeholders(),
    }
    for service in ("auth", "chat", "inference", "search"):
        values[f"{service.upper()}_HOST"] = "127.0.0.1"
        values[f"{service.upper()}_PORT"] = getattr(ports, service)
    # Values sit inside double-quoted YAML strings: escape what would end or break them (the chart does too).
    escaped = {key: str(value).replace("\\", "\\\\").replace('"', '\\"') for key, value in values.items()}
    config = Template((ENVOY_DIR / "envoy.yaml").read_text()).substitute(escaped)
    path = out_dir / "envoy.yaml"
    path.write_text(config)
    return path
