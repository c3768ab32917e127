"""The whole stack as child processes: PostgreSQL (unless DATABASE_URL is given), auth, chat, inference,
search and Envoy. `make up` runs it in the foreground; the tests start one per session on free ports."""

from __future__ import annotations

import logging
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from devstack.envoy_config import EdgeSettings, EnvoyPorts, render
from devstack.ports import free_port
from devstack.postgres import LocalPostgres

log = logging.getLogger(__name__)
ROOT = Path(__file__).resolve().parent.parent
SERVICES = ("auth", "chat", "inference", "search")


@dataclass
class StackConfig:
    run_dir: Path  # rendered Envoy config and logs
    data_dir: Path  # the embedded PostgreSQL's data
    http_port: int = 8080
    admin_port: int = 9901
    service_ports: dict[str, int] = field(
        default_factory=lambda: {"auth": 50051, "chat": 50052, "inference": 50053, "search": 50054}
    )
    authz_port: int = 50061  # the auth service's HTTP ext_authz endpoint (Envoy asks it for every request)
    mcp_port: int = 50062  # the chat service's MCP endpoint (HTTP, behind Envoy's /v1/mcp)
    # Each service's Prometheus metrics (HTTP GET /metrics, not through Envoy); a service left out serves none.
    metrics_ports: dict[str, int] = field(
        default_factory=lambda: {"auth": 50071, "chat": 50072, "inference": 50073, "search": 50074}
    )
    database_url: str | None = None  # external PostgreSQL; embedded when None
    database_name: str = "jan"
    postgres_port: int | None = None  # embedded PostgreSQL's port; a free one when None
    env: dict[str, str] = field(default_factory=dict)  # on top of os.environ, for every service
    logs_to_console: bool = False  # `make up` shows logs; tests write them to run_dir/logs
    durable_postgres: bool = True
    envoy_binary: Path = ROOT / ".tools" / "bin" / "envoy"
    envoy_listen_address: str = "127.0.0.1"

    @classmethod
    def on_free_ports(cls, run_dir: Path, data_dir: Path, *, metrics: bool = True, **kwargs: object) -> StackConfig:
        return cls(
            run_dir=run_dir,
            data_dir=data_dir,
            http_port=free_port(),
            admin_port=free_port(),
            service_ports={s: free_port() for s in SERVICES},
            authz_port=free_port(),
            mcp_port=free_port(),
            metrics_ports={s: free_port() for s in SERVICES} if metrics else {},
            **kwargs,  # type: ignore[arg-type]
        )


class StackError(RuntimeError):
    pass


class Stack:
    def __init__(self, config: StackConfig) -> None:
        self.config = config
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self.postgres: LocalPostgres | None = None
        self.database_url: str | None = None
        self._log_files: list[object] = []
        # The key auth signs each request's identity with and chat verifies it with (services/common/identity.py):
        # given, or made for this stack (it signs headers valid for a minute, so nothing needs it to persist).
        given = config.env.get("JAN_IDENTITY_SECRET") or os.environ.get("JAN_IDENTITY_SECRET")
        self.identity_secret: str = given or secrets.token_urlsafe(48)

    # -- addresses -----------------------------------------------------------------------------------
    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.config.http_port}"

    @property
    def grpc_target(self) -> str:
        return f"127.0.0.1:{self.config.http_port}"

    def service_target(self, service: str) -> str:
        return f"127.0.0.1:{self.config.service_ports[service]}"

    def metrics_url(self, service: str) -> str:
        return f"http://127.0.0.1:{self.config.metrics_ports[service]}/metrics"

    def log_path(self, name: str) -> Path:
        return self.config.run_dir / "logs" / f"{name}.log"

    # -- lifecycle -----------------------------------------------------------------------------------
    def start(self, timeout: float = 600.0) -> None:
        try:
            self.database_url = self._start_database()
            for service in SERVICES:
                self.start_service(service)
            self._start_envoy()
            self.wait_until_healthy(timeout)
        except BaseException:
            self.stop()
            raise

    def _start_database(self) -> str:
        if self.config.database_url:
            return self.config.database_url
        port = self.config.postgres_port or free_port()
        self.postgres = LocalPostgres(self.config.data_dir, port, durable=self.config.durable_postgres)
        self.postgres.start()
        try:
            return self.postgres.create_database(self.config.database_name)
        except subprocess.CalledProcessError:  # already there from an earlier run
            return self.postgres.dsn(self.config.database_name)

    def service_env(self) -> dict[str, str]:
        env = {**os.environ, **self.config.env}
        env["JAN_IDENTITY_SECRET"] = self.identity_secret
        env["PYTHONPATH"] = os.pathsep.join([str(ROOT), str(ROOT / "gen" / "python")])
        if self.database_url:
            env["DATABASE_URL"] = self.database_url
        for service in SERVICES:
            env[f"JAN_{service.upper()}_LISTEN"] = self.service_target(service)
            env[f"JAN_{service.upper()}_TARGET"] = self.service_target(service)
        env["JAN_AUTH_AUTHZ_LISTEN"] = f"127.0.0.1:{self.config.authz_port}"
        env["JAN_CHAT_MCP_LISTEN"] = f"127.0.0.1:{self.config.mcp_port}"
        for service in SERVICES:
            port = self.config.metrics_ports.get(service)
            env[f"JAN_{service.upper()}_METRICS_LISTEN"] = f"127.0.0.1:{port}" if port else ""
        return env

    def start_service(self, service: str) -> subprocess.Popen[bytes]:
        self.processes[service] = self._spawn(
            service, [sys.executable, "-m", f"services.{service}"], self.service_env()
        )
        return self.processes[service]

    def _start_envoy(self) -> None:
        ports = EnvoyPorts(
            listen=self.config.http_port,
            admin=self.config.admin_port,
            auth_authz=self.config.authz_port,
            chat_mcp=self.config.mcp_port,
            **{s: self.config.service_ports[s] for s in SERVICES},
        )
        try:  # CORS origins, request limits and timeouts: JAN_* variables, as the services read theirs
            edge = EdgeSettings.from_env({**os.environ, **self.config.env})
        except ValueError as exc:
            raise StackError(str(exc)) from None
        config_path = render(
            ports, self.config.run_dir / "envoy", listen_address=self.config.envoy_listen_address, edge=edge
        )
        if not self.config.envoy_binary.exists():
            raise StackError(f"Envoy not found at {self.config.envoy_binary}; run scripts/bootstrap.sh")
        self.processes["envoy"] = self._spawn(
            "envoy",
            [
                str(self.config.envoy_binary),
                "-c",
                str(config_path),
                "--log-level",
                "warn",
                "--concurrency",
                os.environ.get("JAN_ENVOY_CONCURRENCY", "2"),
                "--base-id",
                str(self.config.admin_port),
            ],
            dict(os.environ),
        )

    def _spawn(self, name: str, args: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
        if self.config.logs_to_console:
            out = None
        else:
            self.log_path(name).parent.mkdir(parents=True, exist_ok=True)
            out = open(self.log_path(name), "ab")  # noqa: SIM115 - closed in stop()
            self._log_files.append(out)
        # A process group of its own (stopped as a whole), but the same session as us: on this kernel each
        # session is a scheduling group, and vLLM's CPU engine core spinning in its own group starved the
        # services' event loops, holding streamed tokens back (measured: 10 of 40 streams stalled).
        return subprocess.Popen(args, env=env, cwd=ROOT, stdout=out, stderr=out, process_group=0)

    def healthz(self) -> int:
        try:
            with urllib.request.urlopen(f"{self.http_url}/healthz", timeout=2) as response:
                return response.status
        except urllib.error.HTTPError as exc:
            return exc.code
        except OSError:
            return 0

    def wait_until_healthy(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for name, process in self.processes.items():
                if process.poll() is not None:
                    raise StackError(f"{name} exited with {process.returncode}{self._log_tail(name)}")
            if self.healthz() == 200:
                return
            time.sleep(0.2)
        raise StackError(f"the stack was not healthy after {timeout:.0f}s")

    def _log_tail(self, name: str, lines: int = 30) -> str:
        path = self.log_path(name)
        if not path.exists():
            return ""
        tail = path.read_text(errors="replace").splitlines()[-lines:]
        return f"; last lines of {path}:\n" + "\n".join(tail)

    def stop_process(self, name: str, timeout: float = 15.0) -> int | None:
        """Stops one process of the stack (stop_process_group); returns its exit code."""
        return stop_process_group(self.processes.pop(name, None), timeout)

    def kill_process(self, name: str) -> None:
        """SIGKILL a process and its children at once, as a crash would; it stays in `processes`."""
        _kill_group(self.processes[name].pid)
        self.processes[name].wait()

    def wait_for_service(self, service: str, timeout: float = 600.0) -> None:
        """Waits until the service itself reports SERVING (Envoy's view lags by a health-check interval)."""
        wait_until_serving(
            self.service_target(service),
            self.processes[service],
            timeout,
            name=service,
            describe=lambda: self._log_tail(service),
        )

    def stop(self) -> None:
        """Stops everything this stack started, newest first."""
        for name in ["envoy", *reversed(SERVICES)]:
            self.stop_process(name)
        if self.postgres:
            self.postgres.stop()
        for f in self._log_files:
            f.close()  # type: ignore[attr-defined]
        self._log_files.clear()


def _kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def stop_process_group(process: subprocess.Popen | None, timeout: float = 15.0) -> int | None:
    """SIGTERM, then SIGKILL after `timeout`; returns the exit code. The process's whole group goes too:
    vLLM's engine core is a child that outlives a parent killed without a clean shutdown."""
    if process is None:
        return None
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    _kill_group(process.pid)
    return process.returncode


def wait_until_serving(
    target: str,
    process: subprocess.Popen,
    timeout: float,
    service: str = "",
    name: str = "",
    describe: Callable[[], str] = lambda: "",
) -> float:
    """Polls grpc.health.v1 at `target` until `service` is SERVING; returns the seconds it took. Raises
    StackError naming `name` (the target by default), with `describe()` appended, if the process exits or
    the time runs out."""
    name = name or target
    import grpc
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    started = time.monotonic()
    # One channel for all polls; a short reconnect backoff so a server that binds late is seen at once.
    backoff = [("grpc.initial_reconnect_backoff_ms", 200), ("grpc.max_reconnect_backoff_ms", 1000)]
    with grpc.insecure_channel(target, options=backoff) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        while time.monotonic() - started < timeout:
            if process.poll() is not None:
                raise StackError(f"{name} exited with {process.returncode}{describe()}")
            try:
                status = stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=2).status
                if status == health_pb2.HealthCheckResponse.SERVING:
                    return time.monotonic() - started
            except grpc.RpcError:
                pass
            time.sleep(0.2)
    raise StackError(f"{name} was not SERVING after {timeout:.0f}s{describe()}")
