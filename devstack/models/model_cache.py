"""Builds a model folder once in a cache directory: under a file lock (safe across processes), in a staging
folder beside the target that is renamed into place only when complete, so a crash never leaves a
half-written model behind."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from filelock import FileLock

_COMPLETE_MARKER = ".complete"


def build_once(cache_dir: str | Path, name: str, build: Callable[[Path, Path], None]) -> Path:
    """Returns `cache_dir/name`, calling `build(staging_dir, cache_dir)` first if it is not complete yet."""
    cache = Path(cache_dir).expanduser()
    cache.mkdir(parents=True, exist_ok=True)
    target = cache / name
    if (target / _COMPLETE_MARKER).exists():
        return target
    with FileLock(str(cache / f"{name}.lock")):
        if (target / _COMPLETE_MARKER).exists():
            return target
        with tempfile.TemporaryDirectory(dir=cache, prefix=f".{name}-") as tmp:
            staging = Path(tmp) / "model"
            build(staging, cache)
            (staging / _COMPLETE_MARKER).write_text("ok\n")
            if target.exists():
                shutil.rmtree(target)
            staging.rename(target)
    return target
