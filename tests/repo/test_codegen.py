"""The generated code matches protos/, the API passes buf lint and breaking checks, and the Python passes
ruff and (over services/) mypy. These run in `make test`, so CI fails on stale stubs, lint or type errors, or
breaking API changes."""

from __future__ import annotations

import filecmp
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

BUF = ROOT / ".tools" / "bin" / "buf"


def _run(args: list[str], **kwargs) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=300, **kwargs)


def _differences(a: Path, b: Path) -> list[str]:
    comparison = filecmp.dircmp(a, b)
    found = [f"{a / name}" for name in comparison.left_only + comparison.right_only + comparison.diff_files]
    for sub in comparison.common_dirs:
        found += _differences(a / sub, b / sub)
    return [f for f in found if "__pycache__" not in f]


def test_generated_files_are_fresh(tmp_path: Path) -> None:
    result = _run(["bash", "scripts/gen_protos.sh"], env={**os.environ, "OUT": str(tmp_path), "PYTHON": sys.executable})
    assert result.returncode == 0, result.stderr
    stale = _differences(ROOT / "gen" / "python", tmp_path / "gen" / "python")
    stale += _differences(ROOT / "third_party" / "googleapis", tmp_path / "third_party" / "googleapis")
    for generated in ("envoy/descriptor.pb", "envoy/openapi.json"):
        if not filecmp.cmp(ROOT / generated, tmp_path / generated, shallow=False):
            stale.append(generated)
    assert not stale, f"generated files are stale; run `make proto`: {stale}"


def test_buf_lint_and_format() -> None:
    lint = _run([str(BUF), "lint"])
    assert lint.returncode == 0, lint.stdout + lint.stderr
    fmt = _run([str(BUF), "format", "-d", "--exit-code", "protos"])
    assert fmt.returncode == 0, fmt.stdout + fmt.stderr


def api_baseline() -> str:
    """The commit the API must stay compatible with (protos/API_BASELINE's first non-comment line)."""
    lines = (ROOT / "protos" / "API_BASELINE").read_text().splitlines()
    return next(line.strip() for line in lines if line.strip() and not line.startswith("#"))


def test_buf_breaking_against_the_api_baseline() -> None:
    baseline = api_baseline()
    found = _run(["git", "cat-file", "-e", f"{baseline}^{{commit}}"])
    if found.returncode != 0:
        pytest.skip(f"the API baseline {baseline} is not in this clone's history")
    result = _run([str(BUF), "breaking", "--against", f".git#ref={baseline}"])
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_is_clean_over_services() -> None:
    mypy = Path(sys.executable).parent / "mypy"
    result = _run([str(mypy), "services"], env={**os.environ, "PYTHONPATH": f"{ROOT}:{ROOT / 'gen' / 'python'}"})
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_lint_and_format() -> None:
    ruff = Path(sys.executable).parent / "ruff"
    check = _run([str(ruff), "check", "."])
    assert check.returncode == 0, check.stdout
    fmt = _run([str(ruff), "format", "--check", "."])
    assert fmt.returncode == 0, fmt.stdout


def test_no_service_module_is_over_400_lines() -> None:
    """Small modules (the service shape in the README): a module past 400 lines is split by what it does."""
    long = {
        str(path.relative_to(ROOT)): lines
        for path in (ROOT / "services").rglob("*.py")
        if (lines := len(path.read_text().splitlines())) > 400
    }
    assert long == {}
