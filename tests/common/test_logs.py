"""Logs are JSON lines and never contain tokens, keys or passwords."""

from __future__ import annotations

import json
import logging

import pytest

from services.common.logs import configure_logging, redact

SECRETS = [
    "Authorization: Bearer abc.def-ghi",
    "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1c2VyXzEifQ.c2lnbmF0dXJl",
    "key sk-proj_abcdefghijklmnop1234",
    '{"password": "hunter22"}',
    "refresh_token=rt_abcdefghijklmnopqrstuv",
]


@pytest.mark.parametrize("text", SECRETS)
def test_redact_removes_secret(text: str) -> None:
    out = redact(text)
    for secret in ("abc.def-ghi", "c2lnbmF0dXJl", "abcdefghijklmnop1234", "hunter22", "abcdefghijklmnopqrstuv"):
        assert secret not in out


@pytest.fixture
def restore_root_logger():
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def test_json_log_line_is_redacted_everywhere(capsys: pytest.CaptureFixture[str], restore_root_logger) -> None:
    configure_logging("test-service", "INFO", "json")
    try:
        raise ValueError("token sk-abcdefghijklmnopqrstu leaked")
    except ValueError:
        logging.getLogger("t").exception("login for %s", '{"password": "hunter22"}', extra={"auth": "Bearer xyz123"})
    line = capsys.readouterr().err.strip().splitlines()[-1]
    record = json.loads(line)
    assert record["service"] == "test-service" and record["level"] == "ERROR"
    assert "hunter22" not in line and "xyz123" not in line and "abcdefghijklmnopqrstu" not in line
