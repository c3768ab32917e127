"""A project's API key sees only that project's stored conversations (the security review found a project key
reading its owner's conversations from every project): through Envoy, with the SDK. A session, which has
no project, sees all of its user's conversations; the key of another project gets 404 for everything."""

from __future__ import annotations

import openai
import pytest

from devstack.stack import Stack
from tests.auth.conftest import Owner, Rest

MESSAGE = {"type": "message", "role": "user", "content": "project work"}


def client_for(stack: Stack, key: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{stack.http_url}/v1", api_key=key, max_retries=0, timeout=60)


def project_key(rest: Rest, owner: Owner, name: str) -> str:
    project = rest("POST", "/v1/organization/projects", {"name": name}, token=owner.access_token).json()
    created = rest(
        "POST", f"/v1/organization/projects/{project['id']}/api_keys", {"name": name}, token=owner.access_token
    )
    assert created.status == 200, created.body
    return created.json()["value"]


def test_project_keys_see_their_own_projects_conversations_only(stack: Stack, rest: Rest, owner: Owner) -> None:
    first = client_for(stack, project_key(rest, owner, "tenancy one"))
    second = client_for(stack, project_key(rest, owner, "tenancy two"))
    session = client_for(stack, owner.access_token)

    mine = first.conversations.create(items=[MESSAGE])
    item_id = first.conversations.items.list(mine.id).data[0].id
    assert first.conversations.retrieve(mine.id).id == mine.id
    assert session.conversations.retrieve(mine.id).id == mine.id  # the user's own, seen without a project

    for call in (
        lambda: second.conversations.retrieve(mine.id),
        lambda: second.conversations.update(mine.id, metadata={"k": "v"}),
        lambda: second.conversations.items.list(mine.id),
        lambda: second.conversations.items.retrieve(item_id, conversation_id=mine.id),
        lambda: second.conversations.items.create(mine.id, items=[MESSAGE]),
        lambda: second.conversations.items.delete(item_id, conversation_id=mine.id),
        lambda: second.conversations.delete(mine.id),
        lambda: second.chat.completions.create(
            model="qwen3-tiny", messages=[MESSAGE], max_tokens=1, extra_body={"conversation": mine.id}
        ),
    ):
        with pytest.raises(openai.NotFoundError):
            call()
    listed = rest("GET", "/v1/conversations?limit=100", token=second.api_key).json()
    assert mine.id not in [c["id"] for c in listed["data"]]

    sessions_own = session.conversations.create(items=[MESSAGE])
    with pytest.raises(openai.NotFoundError):  # made without a project: not any project key's
        first.conversations.retrieve(sessions_own.id)
    assert len(first.conversations.items.list(mine.id).data) == 1  # nothing changed
