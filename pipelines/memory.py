"""Giving memory back between the steps of a run.

Extraction parses every page in Python; the objects are freed when a step ends, but glibc keeps the pages
in its heap for Python to reuse. DuckDB allocates with an allocator of its own, so the load's memory came
on top of what extraction and normalize had left (benchmarks: BENCHMARKS.md, "Peak memory").
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
from functools import lru_cache
from typing import Any, Optional

# normalize in worker processes: its heap leaves with them instead of staying under the load's
# (a worker forked from the run does not hold the run's lock: lock.py)
NORMALIZE_WORKERS = 2


@lru_cache(maxsize=1)
def _libc() -> Optional[Any]:
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name) if name else None
    except OSError:
        return None
    return libc if libc is not None and hasattr(libc, "malloc_trim") else None  # glibc only


def give_back_freed_memory() -> None:
    """Collects garbage and returns the heap's free pages to the operating system (glibc's `malloc_trim`)."""
    gc.collect()
    libc = _libc()
    if libc is not None:
        libc.malloc_trim(0)
