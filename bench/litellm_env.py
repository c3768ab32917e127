"""A separate virtual environment for the benchmarks' third-party tools: LiteLLM's proxy (pinned in
bench/requirements-litellm.txt) and, on request, py-spy. Never .venv: LiteLLM's dependencies must not leak
into the project's lock.

    .venv/bin/python -m bench.litellm_env [--py-spy]     # prints the venv's folder

The folder is $JAN_CACHE_DIR/bench-litellm-venv-<hash of the requirements file> (JAN_CACHE_DIR defaults to
~/.cache/jan-server), built once (a few minutes) and reused; a marker file says it is complete.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

from filelock import FileLock

REQUIREMENTS = Path(__file__).resolve().parent / "requirements-litellm.txt"
PY_SPY = "py-spy==0.4.3"
_MARKER = ".complete"


def cache_dir() -> Path:
    return Path(os.environ.get("JAN_CACHE_DIR") or Path.home() / ".cache" / "jan-server").expanduser()


def venv_dir() -> Path:
    digest = hashlib.sha256(REQUIREMENTS.read_bytes()).hexdigest()[:12]
    return cache_dir() / f"bench-litellm-venv-{digest}"


def _base_python() -> str:
    """The interpreter .venv was made from (a venv made from inside a venv still points at the base)."""
    return getattr(sys, "_base_executable", None) or sys.executable


def ensure_litellm_venv(*, py_spy: bool = False, quiet: bool = False) -> Path:
    target = venv_dir()
    target.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(target) + ".lock"):
        if not (target / _MARKER).exists():
            if target.exists():
                shutil.rmtree(target)
            print(f"[litellm-env] creating {target} (pip install -r {REQUIREMENTS.name}; a few minutes)", flush=True)
            subprocess.run([_base_python(), "-m", "venv", str(target)], check=True)
            pip = [str(target / "bin" / "python"), "-m", "pip", "install", "--no-input"]
            if quiet:
                pip.append("-q")
            subprocess.run([*pip, "-r", str(REQUIREMENTS)], check=True)
            (target / _MARKER).write_text("ok\n")
        if py_spy and not (target / "bin" / "py-spy").exists():
            subprocess.run([str(target / "bin" / "python"), "-m", "pip", "install", "-q", PY_SPY], check=True)
    return target


def litellm_binary(venv: Path) -> Path:
    return venv / "bin" / "litellm"


def py_spy_binary(venv: Path) -> Path:
    return venv / "bin" / "py-spy"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--py-spy", action="store_true", help="also install py-spy into the venv")
    args = parser.parse_args()
    print(ensure_litellm_venv(py_spy=args.py_spy))


if __name__ == "__main__":
    main()
