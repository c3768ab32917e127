"""Helpers the benchmark scripts share: the environment of a benchmark's stack, percentiles, child processes in
their own process group, gRPC health waits (devstack's), the machine's load, per-process CPU accounting and a
plain-text table printer."""

from __future__ import annotations

import os
import secrets
import subprocess
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import psutil

from devstack.stack import wait_until_serving

ROOT = Path(__file__).resolve().parent.parent


def stack_env(engine: dict[str, str] | None = None, **extra: str) -> dict[str, str]:
    """The environment of a benchmark's whole stack (devstack.Stack): fresh secrets, no guest rate limits
    (benchmarks send more than a guest may, and make guests from one address), a short shutdown grace, then
    `engine` (the INSTANT test engine, canned tokens at once, when None; never a default outside tests and
    benchmarks) and `extra`."""
    return {
        "JAN_JWT_SECRET": secrets.token_urlsafe(48),
        "JAN_APIKEY_SECRET": secrets.token_urlsafe(48),
        "JAN_GUEST_REQUESTS_PER_MINUTE": "0",
        "JAN_GUEST_ACCOUNTS_PER_IP_PER_HOUR": "0",
        "JAN_SIGN_INS_PER_IP_PER_MINUTE": "0",
        "JAN_SHUTDOWN_GRACE_SECONDS": "2",
        **(engine if engine is not None else {"JAN_ENGINE": "instant", "JAN_SERVED_MODEL_NAME": "instant"}),
        **extra,
    }


def percentile(samples: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in [0, 100]); NaN for no samples."""
    if not samples:
        return float("nan")
    ordered = sorted(samples)
    rank = max(1, int(-(-q * len(ordered) // 100)))  # ceil(q/100 * n), at least 1
    return ordered[min(rank, len(ordered)) - 1]


def ms(seconds: float) -> float:
    return seconds * 1000.0


def python_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {**os.environ, **(extra or {})}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), str(ROOT / "gen" / "python")])
    return env


def spawn(
    args: list[str],
    env: dict[str, str],
    log_path: Path,
    *,
    new_session: bool = True,
    cpus: set[int] | None = None,
    **popen: object,
) -> subprocess.Popen:
    """Starts a child in its own process group (so the whole group can be killed), output to a log file.

    new_session=True also makes it a session leader. On Linux that puts it in its own scheduler autogroup
    (kernel.sched_autogroup_enabled), which changes how CPU is shared with this process when cores are
    saturated; new_session=False keeps it in this process's session and autogroup, as devstack.Stack starts
    the services. Other keyword arguments go to Popen (e.g. stdin, pass_fds)."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    log = open(log_path, "ab")  # noqa: SIM115 - the child owns it; closed with the process
    preexec = (lambda: os.sched_setaffinity(0, cpus)) if cpus else None
    group = {"start_new_session": True} if new_session else {"process_group": 0}
    try:
        return subprocess.Popen(
            args, env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, preexec_fn=preexec, **group, **popen
        )
    finally:
        log.close()


def autogroups_enabled() -> bool:
    try:
        return Path("/proc/sys/kernel/sched_autogroup_enabled").read_text().strip() == "1"
    except OSError:
        return False


def log_tail(path: Path, lines: int = 25) -> str:
    if not path.exists():
        return ""
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def wait_serving(target: str, process: subprocess.Popen, log_path: Path, timeout: float, service: str = "") -> float:
    """Polls grpc.health.v1 until SERVING; returns the seconds it took."""
    return wait_until_serving(target, process, timeout, service, describe=lambda: ":\n" + log_tail(log_path))


def pin_tree(pid: int, cpus: set[int]) -> None:
    """Sets the CPU affinity of a process, every thread it has and every descendant (and their threads)."""
    try:
        procs = [psutil.Process(pid), *psutil.Process(pid).children(recursive=True)]
    except psutil.NoSuchProcess:
        return
    for proc in procs:
        for task in Path(f"/proc/{proc.pid}/task").glob("*"):
            try:
                os.sched_setaffinity(int(task.name), cpus)
            except (ProcessLookupError, PermissionError, OSError):
                pass


def pin_self(cpus: set[int]) -> None:
    pin_tree(os.getpid(), cpus)


def machine_load(exclude: Iterable[int] = ()) -> str:
    """Load averages plus any other process that used more than 5 % of a core over half a second."""
    skip = set(exclude) | {os.getpid()}
    procs = []
    for proc in psutil.process_iter(["pid", "name"]):
        if proc.pid in skip:
            continue
        try:
            proc.cpu_percent(None)
            procs.append(proc)
        except psutil.Error:
            pass
    time.sleep(0.5)
    busy = []
    for proc in procs:
        try:
            used = proc.cpu_percent(None)
        except psutil.Error:
            continue
        if used > 5:
            busy.append(f"{proc.info['name']}({proc.pid}) {used:.0f}%")
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    return f"load average {load}; cores {os.cpu_count()}; busy processes: {', '.join(busy) or 'none'}"


@dataclass
class CpuMeter:
    """CPU seconds used by named process trees between start() and stop(); names in `alone` count their own
    process only (the load generator is the parent of the servers it started)."""

    pids: dict[str, int]
    alone: frozenset[str] = frozenset({"loadgen"})

    def _sample(self) -> dict[str, float]:
        out = {}
        for name, pid in self.pids.items():
            total = 0.0
            try:
                root = psutil.Process(pid)
                tree = [root] if name in self.alone else [root, *root.children(recursive=True)]
                for proc in tree:
                    try:
                        t = proc.cpu_times()
                        total += t.user + t.system
                    except psutil.Error:
                        pass
            except psutil.Error:
                pass
            out[name] = total
        return out

    def start(self) -> None:
        self._before = self._sample()

    def stop(self) -> dict[str, float]:
        after = self._sample()
        return {name: after[name] - self._before.get(name, 0.0) for name in after}


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    cells = [[str(h) for h in headers]] + [[_fmt(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = []
    for r in cells:
        lines.append("  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True))))
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _fmt(value: object) -> str:
    if isinstance(value, float):
        if value != value:  # NaN
            return "-"
        return f"{value:,.2f}" if abs(value) < 1000 else f"{value:,.0f}"
    return str(value)
