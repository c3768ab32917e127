"""The edge's settings for a local run (devstack/envoy_config.py): what `make up` and the tests' stack render
into envoy/envoy.yaml (the chart's side: tests/deploy/test_envoy_chart.py)."""

from __future__ import annotations

import re

import pytest

from devstack.envoy_config import EdgeSettings, origin_regex


def test_defaults_allow_no_origin_and_bound_what_clients_send() -> None:
    edge = EdgeSettings.from_env({})
    assert edge == EdgeSettings()
    placeholders = edge.placeholders()
    assert placeholders["CORS_ALLOWED_ORIGIN_REGEX"] == "^$"  # no Origin header matches it
    assert placeholders["MAX_REQUEST_BYTES"] == 16 * 1024 * 1024
    assert placeholders["MAX_REQUEST_HEADERS_KB"] == 16
    assert (placeholders["REQUEST_HEADERS_TIMEOUT"], placeholders["REQUEST_TIMEOUT"]) == ("10s", "60s")


def test_origins_are_matched_exactly() -> None:
    edge = EdgeSettings.from_env({"JAN_CORS_ALLOWED_ORIGINS": " https://Chat.example.com ,http://localhost:1337"})
    pattern = re.compile(edge.placeholders()["CORS_ALLOWED_ORIGIN_REGEX"])
    assert pattern.match("https://chat.example.com") and pattern.match("http://localhost:1337")
    for other in ("null", "https://chatXexample.com", "https://chat.example.com.evil", "http://localhost:13370", ""):
        assert not pattern.match(other), other
    assert not re.match(origin_regex([]), "null")


@pytest.mark.parametrize("origin", ["null", "*", "https://*.example.com", "https://example.com/", "example.com"])
def test_an_origin_that_is_not_one_is_refused(origin: str) -> None:
    with pytest.raises(ValueError, match="JAN_CORS_ALLOWED_ORIGINS"):
        EdgeSettings.from_env({"JAN_CORS_ALLOWED_ORIGINS": origin})


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"JAN_MAX_REQUEST_BYTES": "33554432"}, "JAN_MAX_REQUEST_BYTES"),  # not below the gRPC message limit
        ({"JAN_MAX_REQUEST_BYTES": "2000000", "JAN_GRPC_MAX_MESSAGE_BYTES": "1048576"}, "JAN_MAX_REQUEST_BYTES"),
        ({"JAN_MAX_REQUEST_HEADERS_KB": "64"}, "JAN_MAX_REQUEST_HEADERS_KB"),  # over what services accept
        ({"JAN_REQUEST_TIMEOUT_SECONDS": "0"}, "JAN_REQUEST_TIMEOUT_SECONDS"),
        ({"JAN_REQUEST_HEADERS_TIMEOUT_SECONDS": "ten"}, "JAN_REQUEST_HEADERS_TIMEOUT_SECONDS"),
    ],
)
def test_a_bad_limit_is_refused_by_name(env: dict[str, str], named: str) -> None:
    with pytest.raises(ValueError, match=named):
        EdgeSettings.from_env(env)
