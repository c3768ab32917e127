"""A project's controls through Envoy with the official SDK's admin client
(`client.admin.organization.projects.rate_limits / model_permissions / hosted_tool_permissions`), enforced on
that project's API keys by the chat service: the rate limit (429 `rate_limit_exceeded` with `retry-after`
and `x-ratelimit-*`, RESOURCE_EXHAUSTED natively) counted across two chat replicas each polling its own auth
replica, the model permissions (the models list, completions and Responses), web search (chat completions
and the MCP endpoint). Raw bodies are validated against OpenAI's document."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import grpc
import httpx
import openai
import pytest
from google.protobuf import json_format

from devstack.ports import free_port
from devstack.stack import ROOT, Stack, stop_process_group, wait_until_serving
from jan.v1 import chat_service_pb2 as chat_pb
from jan.v1 import chat_service_pb2_grpc
from tests.auth.conftest import Owner, Rest
from tests.conftest import TINY_MODEL_NAME
from tests.support.identity import identity_metadata
from tests.support.openai_spec import assert_error, assert_route

FORCED = {"chat_template_kwargs": {"enable_thinking": False}, "structured_outputs": {"regex": "ok"}}


def admin_client(stack: Stack, owner: Owner) -> openai.OpenAI:
    return openai.OpenAI(
        base_url=f"{stack.http_url}/v1", api_key="unused", admin_api_key=owner.admin_key, max_retries=0
    )


def new_project(stack: Stack, owner: Owner, rest: Rest, name: str) -> tuple[str, str, str]:
    """A project, one API key of it: (project id, key value, key id)."""
    project = admin_client(stack, owner).admin.organization.projects.create(name=name)
    created = rest(
        "POST", f"/v1/organization/projects/{project.id}/api_keys", {"name": name}, token=owner.access_token
    ).json()
    return project.id, created["value"], created["id"]


def hello(client: openai.OpenAI, **extra: object):
    messages = [{"role": "user", "content": "Hi"}]
    return client.chat.completions.create(
        model=TINY_MODEL_NAME, messages=messages, max_tokens=4, extra_body={**FORCED, **extra}
    )


def eventually(check: Callable[[], bool], seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "the change did not reach the chat service"
        time.sleep(0.1)


def test_the_admin_calls_answer_openai_shapes(stack: Stack, owner: Owner, rest: Rest) -> None:
    project, _, _ = new_project(stack, owner, rest, "controls shapes")
    projects = admin_client(stack, owner).admin.organization.projects
    limits = projects.rate_limits.list_rate_limits(project)
    (limit,) = [x for x in limits.data if x.model == TINY_MODEL_NAME]
    assert limit.id == f"rl-{TINY_MODEL_NAME}" and limit.max_requests_per_1_minute == 0  # 0: no limit
    updated = projects.rate_limits.update_rate_limit(
        limit.id, project_id=project, max_requests_per_1_minute=7, max_tokens_per_1_minute=9000
    )
    assert (updated.max_requests_per_1_minute, updated.max_tokens_per_1_minute) == (7, 9000)
    assert projects.rate_limits.list_rate_limits(project).data[0].max_requests_per_1_minute == 7
    permissions = projects.model_permissions.retrieve(project)
    assert (permissions.mode, permissions.model_ids) == ("deny_list", [])
    assert projects.model_permissions.update(project, mode="allow_list", model_ids=["x"]).model_ids == ["x"]
    deleted = projects.model_permissions.delete(project)
    assert deleted.deleted and projects.model_permissions.retrieve(project).model_ids == []
    tools = projects.hosted_tool_permissions.retrieve(project)
    assert tools.web_search.enabled and not tools.file_search.enabled
    assert not projects.hosted_tool_permissions.update(project, web_search={"enabled": False}).web_search.enabled

    token = {"authorization": f"Bearer {owner.admin_key}"}
    base = f"{stack.http_url}/v1/organization/projects/{project}"
    for path in ("/rate_limits", "/model_permissions", "/hosted_tool_permissions"):
        raw = httpx.get(base + path, headers=token, timeout=30)
        assert raw.status_code == 200, raw.text
        assert_route("GET", f"/v1/organization/projects/{project}{path}", raw.json())
    for method, path, body, param in (
        ("POST", "/rate_limits/rl-nope", {"max_requests_per_1_minute": 1}, "rate_limit_id"),
        ("POST", f"/rate_limits/rl-{TINY_MODEL_NAME}", {"max_requests_per_1_minute": -1}, "max_requests_per_1_minute"),
        ("POST", f"/rate_limits/rl-{TINY_MODEL_NAME}", {"max_images_per_1_minute": 5}, "max_images_per_1_minute"),
        ("POST", "/model_permissions", {"mode": "maybe_list", "model_ids": []}, "mode"),
        ("POST", "/hosted_tool_permissions", {"code_interpreter": {"enabled": True}}, "code_interpreter"),
    ):
        refused = httpx.request(method, base + path, json=body, headers=token, timeout=30)
        assert refused.status_code in (400, 404), refused.text
        assert_error(refused.json())
        assert refused.json()["error"]["param"] == param
    other = httpx.get(f"{stack.http_url}/v1/organization/projects/proj_missing/rate_limits", headers=token, timeout=30)
    assert other.status_code == 404 and other.json()["error"]["param"] == "project_id"


def test_model_permissions_apply_to_the_projects_keys(stack: Stack, owner: Owner, rest: Rest) -> None:
    project, key, _ = new_project(stack, owner, rest, "controls models")
    client = openai.OpenAI(base_url=f"{stack.http_url}/v1", api_key=key, max_retries=0, timeout=120)
    assert TINY_MODEL_NAME in [m.id for m in client.models.list().data]
    projects = admin_client(stack, owner).admin.organization.projects
    projects.model_permissions.update(project, mode="deny_list", model_ids=[TINY_MODEL_NAME])
    eventually(lambda: TINY_MODEL_NAME not in [m.id for m in client.models.list().data])
    for call in (
        lambda: hello(client),
        lambda: client.responses.create(model=TINY_MODEL_NAME, input="Hi", extra_body=FORCED),
        lambda: client.models.retrieve(TINY_MODEL_NAME),
    ):
        with pytest.raises(openai.NotFoundError) as refused:
            call()
        assert refused.value.body["code"] == "model_not_found"
    projects.model_permissions.update(project, mode="allow_list", model_ids=[TINY_MODEL_NAME])
    eventually(lambda: TINY_MODEL_NAME in [m.id for m in client.models.list().data])
    assert hello(client).choices[0].message.content == "ok"


def test_web_search_permission_applies_to_completions_and_mcp(stack: Stack, owner: Owner, rest: Rest) -> None:
    project, key, _ = new_project(stack, owner, rest, "controls tools")
    client = openai.OpenAI(base_url=f"{stack.http_url}/v1", api_key=key, max_retries=0, timeout=120)
    admin_client(stack, owner).admin.organization.projects.hosted_tool_permissions.update(
        project, web_search={"enabled": False}
    )

    def refused() -> bool:
        try:
            hello(client, web_search_options={})
        except openai.PermissionDeniedError as error:
            return error.body["param"] == "web_search_options"
        return False

    eventually(refused)
    mcp = httpx.post(
        f"{stack.http_url}/v1/mcp",
        json={"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {}},
        headers={"authorization": f"Bearer {key}", "accept": "application/json, text/event-stream"},
        timeout=30,
    )
    assert mcp.status_code == 403
    assert_error(mcp.json())


@pytest.fixture
def second_replicas(stack: Stack) -> Iterator[str]:
    """Another auth replica and another chat replica (polling that auth replica) on the stack's database;
    yields the second chat replica's gRPC target."""
    env = stack.service_env()
    auth_port, chat_port = free_port(), free_port()
    env = {**env, "JAN_AUTH_METRICS_LISTEN": "", "JAN_CHAT_METRICS_LISTEN": ""}  # the stack's replicas have those
    env_auth = {**env, "JAN_AUTH_LISTEN": f"127.0.0.1:{auth_port}", "JAN_AUTH_AUTHZ_LISTEN": f"127.0.0.1:{free_port()}"}
    env_chat = {
        **env,
        "JAN_CHAT_LISTEN": f"127.0.0.1:{chat_port}",
        "JAN_CHAT_MCP_LISTEN": f"127.0.0.1:{free_port()}",
        "JAN_AUTH_TARGET": f"127.0.0.1:{auth_port}",
    }
    logs = stack.config.run_dir / "logs"
    processes = []
    try:
        for name, service_env in (("auth", env_auth), ("chat", env_chat)):
            log = open(Path(logs) / f"{name}-replica.log", "ab")  # noqa: SIM115 - the child's; closed below
            process = subprocess.Popen(
                [sys.executable, "-m", f"services.{name}"], env=service_env, cwd=ROOT, stdout=log, stderr=log,
                process_group=0,
            )  # fmt: skip
            log.close()
            processes.append(process)
            port = auth_port if name == "auth" else chat_port
            wait_until_serving(f"127.0.0.1:{port}", process, 120, name=f"{name} replica")
        yield f"127.0.0.1:{chat_port}"
    finally:
        for process in reversed(processes):
            stop_process_group(process)


def test_a_rate_limit_holds_across_two_chat_replicas(
    stack: Stack, owner: Owner, rest: Rest, second_replicas: str
) -> None:
    project, key, key_id = new_project(stack, owner, rest, "controls limits")
    client = openai.OpenAI(base_url=f"{stack.http_url}/v1", api_key=key, max_retries=0, timeout=120)
    if time.time() % 60 > 40:  # the limit is per clock minute: start near the beginning of one
        time.sleep(61 - time.time() % 60)
    admin_client(stack, owner).admin.organization.projects.rate_limits.update_rate_limit(
        f"rl-{TINY_MODEL_NAME}", project_id=project, max_requests_per_1_minute=3
    )
    # The second replica is called natively, as the project's key (identity signed as auth's ext_authz does).
    me = rest("GET", "/v1/auth/me", token=owner.access_token).json()
    metadata = identity_metadata(
        stack.identity_secret, me["id"], project_id=project, key_type="project", key_id=key_id, project_role="owner"
    )
    params = json_format.ParseDict(
        {"model": TINY_MODEL_NAME, "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 4, **FORCED},
        chat_pb.ChatCompletionParams(),
    )
    with grpc.insecure_channel(second_replicas) as channel:
        second = chat_service_pb2_grpc.ChatServiceStub(channel)

        def through_second() -> bool:
            try:
                second.CreateChatCompletion(chat_pb.CreateChatCompletionRequest(params=params), metadata=metadata)
                return True
            except grpc.RpcError as error:
                assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED, error
                return False

        def through_envoy() -> bool:
            try:
                hello(client)
                return True
            except openai.RateLimitError:
                return False

        time.sleep(1.0)  # both replicas have polled the limit (every 0.2 s here)
        outcomes = []
        for call in (through_envoy, through_second, through_envoy, through_second, through_envoy, through_second):
            outcomes.append(call())
            time.sleep(0.6)  # more than a sync (0.25 s): each replica knows the other's count
    assert outcomes == [True, True, True, False, False, False]

    raw = httpx.post(
        f"{stack.http_url}/v1/chat/completions",
        json={"model": TINY_MODEL_NAME, "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 4, **FORCED},
        headers={"authorization": f"Bearer {key}"},
        timeout=30,
    )
    assert raw.status_code == 429
    assert_error(raw.json())
    assert raw.json()["error"]["code"] == "rate_limit_exceeded" and int(raw.headers["retry-after"]) >= 1
    assert raw.headers["x-ratelimit-limit-requests"] == "3" and raw.headers["x-ratelimit-remaining-requests"] == "0"
