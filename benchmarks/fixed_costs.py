"""Benchmark: what one snapshot costs whatever the workspace's size (issue 15, item 4).

    python -m benchmarks.fixed_costs --runs 4

Starts the emulator in a child process (so its CPU is not counted), then takes `--runs` snapshots of the same
small workspace into one DuckDB file, in this process, one after the other. For each run it prints the CPU
seconds of this process and of the extraction process each run forks (user + system, every thread), the wall
seconds, the DuckDB connections dlt and the run opened (and how many of them opened the file: a connection to
a database already open takes well under a millisecond, one that opens the file 10-100 ms; 4 ms is the line),
and dlt's configuration resolutions in this process (not the extraction process's). The first run creates
the tables; the later ones find nothing changed.
"""

from __future__ import annotations

import argparse
import re
import resource
import subprocess
import sys
import tempfile
import time
from collections import Counter
from contextlib import contextmanager
from typing import Any, Callable, Iterator, List, Optional

import duckdb
from dlt.common.configuration import resolve

from pipelines.runner import RunOptions, run_snapshot

from .run import TOKEN

FILE_OPEN_SECONDS = 0.004
counts: Counter = Counter()


def _counted_connect(connect: Callable[..., Any]) -> Callable[..., Any]:
    def connect_and_count(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return connect(*args, **kwargs)
        finally:
            counts["connections"] += 1
            counts["file_opens"] += time.perf_counter() - started > FILE_OPEN_SECONDS
    return connect_and_count


def _counted_resolve(resolve_configuration: Callable[..., Any]) -> Callable[..., Any]:
    def resolve_and_count(*args: Any, **kwargs: Any) -> Any:
        counts["resolutions"] += 1
        return resolve_configuration(*args, **kwargs)
    return resolve_and_count


def count_calls() -> None:
    """duckdb.connect and dlt's resolve_configuration, counted wherever dlt imported them by name."""
    duckdb.connect = _counted_connect(duckdb.connect)
    uncounted = resolve.resolve_configuration
    counted = _counted_resolve(uncounted)
    for module in list(sys.modules.values()):
        if module is not None and module.__dict__.get("resolve_configuration") is uncounted:
            module.resolve_configuration = counted


def cpu_seconds() -> float:
    """This process's CPU and its reaped children's: on Linux a run extracts in a child it forks
    (`pipelines/extraction.py`) and reaps. The emulator's process is reaped only at the end, so never counted."""
    return sum(usage.ru_utime + usage.ru_stime
               for usage in map(resource.getrusage, (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)))


@contextmanager
def emulator(seed: int, scale: str) -> Iterator[str]:
    process = subprocess.Popen([sys.executable, "-m", "segment_emulator", "--seed", str(seed), "--scale", scale,
                                "--token", TOKEN], stdout=subprocess.PIPE, text=True)
    try:
        found = re.search(r"https?://[\d.:]+", process.stdout.readline() if process.stdout else "")
        if not found:
            raise RuntimeError("the emulator did not say where it listens")
        yield found.group(0)
    finally:
        process.terminate()
        process.wait()


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.fixed_costs", description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=4)
    parser.add_argument("--scale", default="small")
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args(argv)
    count_calls()
    workdir = tempfile.mkdtemp(prefix="fixed-costs-")
    with emulator(args.seed, args.scale) as base_url:
        options = RunOptions(access_token=TOKEN, base_url=base_url, duckdb_path=f"{workdir}/history.duckdb",
                             pipelines_dir=f"{workdir}/pipelines", pipeline_name="fixed_costs")
        for run in range(1, args.runs + 1):
            counts.clear()
            cpu, wall = cpu_seconds(), time.perf_counter()
            run_snapshot(options)
            print(f"run {run}: cpu {cpu_seconds() - cpu:.2f} s, wall {time.perf_counter() - wall:.2f} s,"
                  f" DuckDB connections {counts['connections']} ({counts['file_opens']} opened the file),"
                  f" configuration resolutions {counts['resolutions']}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
