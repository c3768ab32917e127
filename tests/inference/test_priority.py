"""Lowering the CPU priority of the engine's processes: every thread of them, never above 19."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import psutil

from services.inference.priority import lower_priority

# A child with a second thread, as vLLM's engine processes have many.
CHILD = (
    "import threading, time; threading.Thread(target=time.sleep, args=(60,)).start(); print(flush=True); time.sleep(60)"
)


def test_every_thread_of_every_process_is_niced_and_capped_at_19() -> None:
    children = [subprocess.Popen([sys.executable, "-c", CHILD], stdout=subprocess.PIPE) for _ in range(2)]
    try:
        for child in children:
            assert child.stdout is not None
            child.stdout.readline()  # both threads exist
        processes = [psutil.Process(c.pid) for c in children]
        assert lower_priority(processes, 10) == 4
        niceness = [os.getpriority(os.PRIO_PROCESS, t.id) for p in processes for t in p.threads()]
        assert niceness == [10, 10, 10, 10]
        lower_priority(processes, 15)
        assert {os.getpriority(os.PRIO_PROCESS, t.id) for p in processes for t in p.threads()} == {19}
        assert os.getpriority(os.PRIO_PROCESS, 0) == 0  # this process is left alone
        children[0].kill()
        children[0].wait()
        time.sleep(0.1)
        assert lower_priority(processes, 1) == 2  # the ended process is skipped
    finally:
        for child in children:
            child.kill()
            child.wait()
