"""Memory: what a run keeps, and giving it back between the steps of a run.

Extraction parses every page in Python; the objects are freed when a step ends, but glibc keeps the pages
in its heap for Python to reuse. DuckDB allocates with an allocator of its own, so the load's memory came
on top of what extraction and normalize had left (benchmarks: BENCHMARKS.md, "Peak memory"). Extraction
now runs in a process of its own (`extraction.py`), normalize in worker processes, and the load's jobs and
DuckDB's threads share the cores ("Memory, third pass").
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import os
from functools import lru_cache
from typing import Any, Optional

import dlt
from dlt.common.pipeline import LoadInfo
from dlt.load.configuration import LoaderConfiguration

from .destination import is_duckdb

# normalize in worker processes: its heap leaves with them instead of staying under the load's
# (a worker forked from the run does not hold the run's lock: lock.py)
NORMALIZE_WORKERS = 2

# below this many extracted rows a run's heap is a few MB: forking workers and collecting garbage would cost
# more CPU (about half a second a run) than the memory they give back is worth
LARGE_RUN_ROWS = 10_000

# A DuckDB load job runs its statements on every core, and each job at once holds working memory of its own:
# jobs at once times DuckDB's threads beyond the cores add no speed, only memory (dlt's default is 20 jobs)
DUCKDB_GLOBAL_CONFIG = "destination.duckdb.credentials.global_config"

# rows each table's writer keeps before it writes them to its file: dlt's default of 5,000 kept 15-18 MB of rows
# at the medium workspace, 9.6 MB at 1,000 (BENCHMARKS.md); dlt's Airflow helper lowers it to 1,000 likewise
WRITER_BUFFER_ITEMS = 1000


@lru_cache(maxsize=1)
def _libc() -> Optional[Any]:
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name) if name else None
    except OSError:
        return None
    return libc if libc is not None and hasattr(libc, "malloc_trim") else None  # glibc only


def keep_fewer_rows_in_writers() -> None:
    """Smaller writer buffers for this process's runs, unless the configuration sets `data_writer.buffer_max_items`."""
    if dlt.config.get("data_writer.buffer_max_items") is None:
        dlt.config["data_writer.buffer_max_items"] = WRITER_BUFFER_ITEMS


def is_large(extracted_rows: int) -> bool:
    return extracted_rows >= LARGE_RUN_ROWS


def normalize(pipeline: dlt.Pipeline, extracted_rows: int) -> None:
    """Normalizes the extracted package. A large run first hands extraction's heap back and normalizes in worker
    processes, so that neither extraction's nor normalize's heap stays under the memory DuckDB's load takes.
    A setting of `normalize.workers` is dlt's and wins either way."""
    if not is_large(extracted_rows):
        pipeline.normalize()
        return
    give_back_freed_memory()
    pipeline.normalize(workers=NORMALIZE_WORKERS)
    give_back_freed_memory()


def load(pipeline: dlt.Pipeline) -> LoadInfo:
    """Loads the normalized packages. Into DuckDB: at most as many jobs at once as the machine has cores, and
    DuckDB's threads shared among them, so that together they use every core once (BENCHMARKS.md, "Memory,
    third pass": at the large workspace on 2 cores, 20 jobs took 233 MB, 2 jobs 201 MB, 2 jobs of one thread
    115 MB in the same time). dlt's `load.workers` and DuckDB's `global_config`, when set, win."""
    if not is_duckdb(pipeline):
        return pipeline.load()
    cores = os.cpu_count() or 1
    jobs = min(LoaderConfiguration.workers, cores)
    if dlt.config.get(DUCKDB_GLOBAL_CONFIG) is None:
        dlt.config[DUCKDB_GLOBAL_CONFIG] = {"threads": max(1, cores // jobs)}
    return pipeline.load(workers=jobs)


def give_back_freed_memory() -> None:
    """Collects garbage and returns the heap's free pages to the operating system (glibc's `malloc_trim`)."""
    gc.collect()
    libc = _libc()
    if libc is not None:
        libc.malloc_trim(0)
