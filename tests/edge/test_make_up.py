"""`make up` itself, the README's first command: it comes up on free ports, answers through Envoy (auth's
ext_authz included), and a SIGTERM to its process group (what a terminal's Ctrl-C or a supervisor sends,
after which make passes a second SIGTERM on to devstack; the test sends more) stops every process it
started.

The inference service runs the instant test engine here: the real engine is the session stack's, and
loading a second one would only make this test slower."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import urllib.request
from pathlib import Path

import psutil
import pytest

from devstack.ports import free_port
from devstack.stack import ROOT

READY = "Jan Server is ready"
PORT_VARIABLES = (
    "JAN_ENVOY_ADMIN_PORT",
    "JAN_AUTH_PORT",
    "JAN_CHAT_PORT",
    "JAN_INFERENCE_PORT",
    "JAN_SEARCH_PORT",
    "JAN_AUTH_AUTHZ_PORT",
    "JAN_CHAT_MCP_PORT",
    "JAN_AUTH_METRICS_PORT",
    "JAN_CHAT_METRICS_PORT",
    "JAN_INFERENCE_METRICS_PORT",
    "JAN_SEARCH_METRICS_PORT",
    "JAN_POSTGRES_PORT",
)


def post(url: str, body: dict, token: str | None = None) -> tuple[int, dict]:
    headers = {"content-type": "application/json", **({"authorization": f"Bearer {token}"} if token else {})}
    request = urllib.request.Request(url, json.dumps(body).encode(), headers, method="POST")
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.status, json.loads(response.read())


def wait_for_line(log: Path, text: str, process: subprocess.Popen, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if text in log.read_text(errors="replace"):
            return
        if process.poll() is not None:
            pytest.fail(f"make up exited with {process.returncode}:\n{log.read_text(errors='replace')[-3000:]}")
        time.sleep(0.5)
    pytest.fail(f"no {text!r} after {timeout:.0f} s:\n{log.read_text(errors='replace')[-3000:]}")


def test_make_up_serves_and_a_sigterm_to_its_group_stops_everything(tmp_path: Path) -> None:
    http_port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env.update({variable: str(free_port()) for variable in PORT_VARIABLES})
    env.update(
        JAN_HTTP_PORT=str(http_port),
        JAN_DATA_DIR=str(tmp_path / "data"),
        JAN_MODEL="instant",  # any model: the instant engine answers canned tokens
        JAN_ENGINE="instant",
        JAN_SERVED_MODEL_NAME="instant",
        JAN_SHUTDOWN_GRACE_SECONDS="2",
    )
    log = tmp_path / "make-up.log"
    with log.open("wb") as out:
        make = subprocess.Popen(
            ["make", "up"], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    started: list[psutil.Process] = []
    try:
        wait_for_line(log, READY, make, timeout=180)
        base = f"http://127.0.0.1:{http_port}"
        with urllib.request.urlopen(f"{base}/healthz", timeout=10) as health:
            assert health.status == 200
        _, guest = post(f"{base}/v1/auth/guest-login", {})
        status, completion = post(
            f"{base}/v1/chat/completions",
            {"model": "instant", "messages": [{"role": "user", "content": "hi"}]},
            guest["access_token"],
        )
        assert status == 200 and completion["object"] == "chat.completion"

        started = psutil.Process(make.pid).children(recursive=True)
        names = " ".join(" ".join(p.cmdline()) for p in started)
        for part in ("services.auth", "services.chat", "services.inference", "services.search", "envoy", "postgres"):
            assert part in names, f"{part} is not among make up's processes: {names}"

        devstack = next(p for p in started if "devstack" in p.cmdline())
        os.killpg(make.pid, signal.SIGTERM)
        # make passes a second SIGTERM on to devstack at a moment of its choosing; a stream of them for a
        # moment makes sure that no later signal cuts devstack's clean-up short, whenever it lands.
        deadline = time.monotonic() + 0.3
        while time.monotonic() < deadline:
            try:
                os.kill(devstack.pid, signal.SIGTERM)
            except ProcessLookupError:
                break
        make.wait(timeout=90)
        _, alive = psutil.wait_procs(started, timeout=30)
        assert not alive, f"left running after make up stopped: {[(p.pid, p.name()) for p in alive]}"
        assert "==> stopping" in log.read_text(errors="replace")
    finally:
        if make.poll() is None:
            os.killpg(make.pid, signal.SIGKILL)
        for process in started or []:
            try:
                os.killpg(process.pid, signal.SIGKILL)  # each service leads a process group of its own
            except (ProcessLookupError, PermissionError):
                pass
