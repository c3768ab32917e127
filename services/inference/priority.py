"""Lower the CPU priority of vLLM's engine processes below the service's own (for CPU hosts).

On a CPU host vLLM's engine keeps the cores busy while it computes: its worker's OpenMP threads, and the
engine core spinning (sched_yield) until they finish. A request arriving meanwhile waits for a core
before the service can even read it. With the engine's threads at a higher niceness the scheduler runs
the service's event loop first; the engine gets every cycle the service leaves. Measured on 2 cores at 8
streams (bench/inference_overhead.py): see the README's performance section.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable

import psutil

log = logging.getLogger(__name__)


def lower_priority(processes: Iterable[psutil.Process], increment: int) -> int:
    """Adds `increment` to the niceness of every thread of these processes (niceness is per thread on
    Linux, and the engine's threads exist by now); returns how many threads it changed."""
    changed = 0
    for process in processes:
        try:
            threads = process.threads()
        except psutil.Error:
            continue
        for thread in threads:
            try:
                current = os.getpriority(os.PRIO_PROCESS, thread.id)
                os.setpriority(os.PRIO_PROCESS, thread.id, min(19, current + increment))
                changed += 1
            except OSError:  # the thread ended meanwhile
                continue
    return changed


def lower_engine_priority(increment: int) -> None:
    """The engine's processes are this service's descendants (engine core, worker)."""
    engine = psutil.Process().children(recursive=True)
    changed = lower_priority(engine, increment)
    log.info("engine processes niced", extra={"increment": increment, "processes": len(engine), "threads": changed})
