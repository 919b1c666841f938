"""The run lock against processes forked from a run (dlt forks its normalize workers from it)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from pipelines.lock import is_running

REPO = Path(__file__).resolve().parents[2]

# takes the lock, forks a child that outlives it (as a normalize worker orphaned by a killed run does),
# says both pids, then waits to be killed
RUN_THAT_FORKS = textwrap.dedent("""
    import os, sys, time
    from pipelines.lock import pipeline_lock

    folder, pids = sys.argv[1], sys.argv[2]
    with pipeline_lock(folder, "forking"):
        child = os.fork()
        if child == 0:
            time.sleep(120)
            os._exit(0)
        with open(pids + ".tmp", "w") as handle:
            handle.write(f"{os.getpid()} {child}")
        os.replace(pids + ".tmp", pids)
        time.sleep(120)
""")


def _wait_for(predicate, seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_a_child_forked_by_a_killed_run_does_not_keep_its_lock(tmp_path):
    pids_file = tmp_path / "pids"
    run = subprocess.Popen([sys.executable, "-c", RUN_THAT_FORKS, str(tmp_path), str(pids_file)], cwd=REPO)
    child = None
    try:
        _wait_for(pids_file.exists)
        parent, child = (int(pid) for pid in pids_file.read_text().split())
        assert is_running(str(tmp_path), "forking")  # the fork did not take the run's lock away

        run.send_signal(signal.SIGKILL)
        run.wait(timeout=30)
        assert _alive(child)
        assert not is_running(str(tmp_path), "forking")
    finally:
        run.kill()
        if child is not None and _alive(child):
            os.kill(child, signal.SIGKILL)
