"""One run at a time per pipeline and target: a second run started while one is going refuses to start.

The lock is an OS file lock (released by the kernel when the process dies, so a killed run never leaves
a stale lock behind) on a file beside dlt's working directory of the pipeline's target (see destination.py):
runs of one pipeline into different destinations or datasets share nothing and may run at once.

A process forked from a run (dlt's normalize workers) neither holds the lock nor outlives the run: a worker
orphaned by a killed run must not keep the next run out, nor linger.
"""

from __future__ import annotations

import ctypes
import fcntl
import os
import signal
from contextlib import contextmanager
from typing import ContextManager, Iterator, Set

from .destination import Place, target_of
from .errors import RunInProgress

_held_locks: Set[int] = set()  # descriptors of the lock files this process holds
_holder = {"pid": 0}  # the process that holds them
PR_SET_PDEATHSIG = 1  # linux/prctl.h


def _forked_from_a_run() -> None:
    """In a child forked while this process holds a run lock (dlt's normalize workers): it neither holds the
    lock nor outlives the run.

    `flock` belongs to the open file, which a fork shares; the lock ends only when every copy is closed.
    The child's copies are pointed at /dev/null (not closed: the descriptor numbers stay valid for the file
    objects that own them). A pool worker waits for work on a pipe it holds both ends of, so it would wait
    forever once a killed run is gone: on Linux it is killed with its parent instead.
    """
    if not _held_locks:
        return
    null = os.open(os.devnull, os.O_RDONLY)
    for fd in _held_locks:
        os.dup2(null, fd, inheritable=False)
    os.close(null)
    _held_locks.clear()
    _die_with_parent(_holder["pid"])


def _die_with_parent(parent: int) -> None:
    try:
        prctl = ctypes.CDLL(None).prctl
    except (OSError, AttributeError):
        return  # not Linux
    if prctl(PR_SET_PDEATHSIG, signal.SIGKILL) == 0 and os.getppid() != parent:
        os._exit(1)  # the parent died before the request took effect


os.register_at_fork(after_in_child=_forked_from_a_run)


def _lock_path(pipelines_dir: str, pipeline_name: str) -> str:
    return os.path.join(pipelines_dir, f"{pipeline_name}.lock")


def is_running(pipelines_dir: str, pipeline_name: str) -> bool:
    """True while a run holds the lock (another process's, or this one's through another open file)."""
    path = _lock_path(pipelines_dir, pipeline_name)
    if not os.path.exists(path):
        return False
    with open(path, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(handle, fcntl.LOCK_UN)
        return False


@contextmanager
def pipeline_lock(pipelines_dir: str, pipeline_name: str) -> Iterator[None]:
    os.makedirs(pipelines_dir, exist_ok=True)
    path = _lock_path(pipelines_dir, pipeline_name)
    with open(path, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise RunInProgress(
                f"Another segment-history run is in progress for pipeline {pipeline_name!r} (lock {path});"
                " wait for it to finish."
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        _held_locks.add(handle.fileno())
        _holder["pid"] = os.getpid()
        try:
            yield
        finally:
            _held_locks.discard(handle.fileno())
            fcntl.flock(handle, fcntl.LOCK_UN)


def run_lock(options: Place) -> ContextManager[None]:
    """The lock of the options' target: taken by a run, and by anything else that writes into it."""
    return pipeline_lock(target_of(options).folder, options.pipeline_name)
