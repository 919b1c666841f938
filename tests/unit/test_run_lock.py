"""The run lock against processes forked from a run (dlt forks its normalize workers from it): a run killed
while they live must leave neither its lock held nor its workers running."""

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

# takes the lock, forks a child, says both pids, then waits to be killed; with "outlive", the child asks the
# kernel not to be killed with its parent (as an orphan would linger where that is not possible)
RUN_THAT_FORKS = textwrap.dedent("""
    import ctypes, os, sys, time
    from pipelines.lock import pipeline_lock

    folder, pids, outlive = sys.argv[1], sys.argv[2], sys.argv[3] == "outlive"
    with pipeline_lock(folder, "forking"):
        child = os.fork()
        if child == 0:
            if outlive:
                ctypes.CDLL(None).prctl(1, 0)  # PR_SET_PDEATHSIG: none
            time.sleep(120)
            os._exit(0)
        with open(pids + ".tmp", "w") as handle:
            handle.write(f"{os.getpid()} {child}")
        os.replace(pids + ".tmp", pids)
        time.sleep(120)
""")


def _wait_for(predicate, seconds: float = 30.0) -> bool:
    deadline = time.monotonic() + seconds
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def _alive(pid: int) -> bool:
    """Running, not a zombie (an orphan's reaper may be slow to collect it)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _kill_a_run_that_forked(tmp_path: Path, child_mode: str):
    """Starts the run, checks it holds the lock, SIGKILLs it; returns the child's pid."""
    pids_file = tmp_path / "pids"
    run = subprocess.Popen([sys.executable, "-c", RUN_THAT_FORKS, str(tmp_path), str(pids_file), child_mode],
                           cwd=REPO)
    try:
        assert _wait_for(pids_file.exists)
        _, child = (int(pid) for pid in pids_file.read_text().split())
        assert is_running(str(tmp_path), "forking")  # the fork did not take the run's lock away
        run.send_signal(signal.SIGKILL)
        run.wait(timeout=30)
        return child
    finally:
        run.kill()


def test_a_child_that_outlives_a_killed_run_does_not_keep_its_lock(tmp_path):
    child = _kill_a_run_that_forked(tmp_path, "outlive")
    try:
        assert _alive(child)
        assert not is_running(str(tmp_path), "forking")
    finally:
        if _alive(child):
            os.kill(child, signal.SIGKILL)


def test_a_child_forked_by_a_run_ends_with_it(tmp_path):
    child = _kill_a_run_that_forked(tmp_path, "default")
    try:
        assert _wait_for(lambda: not _alive(child), seconds=10)
    finally:
        if _alive(child):
            os.kill(child, signal.SIGKILL)
