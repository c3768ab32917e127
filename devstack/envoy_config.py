"""Renders envoy/envoy.yaml (the one Envoy configuration) for a local run.

The chart fills the same ${NAME} placeholders with cluster addresses; here they point at loopback ports.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from string import Template

ENVOY_DIR = Path(__file__).resolve().parent.parent / "envoy"


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


def render(
    ports: EnvoyPorts,
    out_dir: Path,
    *,
    listen_address: str = "127.0.0.1",
    cors_origin_regex: str = ".*",
    health_check_interval: str = "1s",
) -> Path:
    """Writes envoy.yaml, edge.lua and descriptor.pb into out_dir and returns the config's path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    for name in ("edge.lua", "descriptor.pb"):
        shutil.copyfile(ENVOY_DIR / name, out_dir / name)
    values = {
        "LISTEN_ADDRESS": listen_address,
        "LISTEN_PORT": ports.listen,
        "ADMIN_ADDRESS": "127.0.0.1",
        "ADMIN_PORT": ports.admin,
        "CONFIG_DIR": str(out_dir),
        "CORS_ALLOWED_ORIGIN_REGEX": cors_origin_regex,
        "HEALTH_CHECK_INTERVAL": health_check_interval,
        "AUTH_AUTHZ_PORT": ports.auth_authz,
        "CHAT_MCP_PORT": ports.chat_mcp,
    }
    for service in ("auth", "chat", "inference", "search"):
        values[f"{service.upper()}_HOST"] = "127.0.0.1"
        values[f"{service.upper()}_PORT"] = getattr(ports, service)
    # Values sit inside double-quoted YAML strings: escape what would end or break them (the chart does too).
    values = {key: str(value).replace("\\", "\\\\").replace('"', '\\"') for key, value in values.items()}
    config = Template((ENVOY_DIR / "envoy.yaml").read_text()).substitute(values)
    path = out_dir / "envoy.yaml"
    path.write_text(config)
    return path
