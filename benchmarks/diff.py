"""Benchmark: `segment-history diff` across a history of several snapshots.

    python -m benchmarks.diff --scale medium --runs 5 --mutations 20

Builds a history on one emulated workspace (`--runs` snapshots of the `--groups`, `--mutations` random
changes between two), then times `segment-history diff FIRST LAST` over every history table, run the way a
user runs it: a process of its own (so the figure includes starting Python and importing dlt, about 2 s),
reading a copy of the DuckDB file with no dlt working directory. Reports the diff's rows, wall seconds and
peak memory, and the history's size; writes `benchmarks/results/diff-<scale>-<runs>x<mutations>.json`.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from typing import Any, Dict, List

import duckdb

from pipelines.runner import RunOptions, run_snapshot
from segment_emulator import Emulator, generate_workspace
from segment_source.endpoints import history_tables

from .run import RESULTS, TOKEN, machine


def build_history(scale: str, seed: int, runs: int, mutations: int, groups: List[str], workdir: str) -> List:
    workspace = generate_workspace(seed=seed, scale=scale)
    options = RunOptions(access_token=TOKEN, duckdb_path=os.path.join(workdir, "history.duckdb"),
                         pipeline_name="diff_benchmark", pipelines_dir=os.path.join(workdir, "pipelines"),
                         groups=groups)
    results = []
    with Emulator(workspace, tokens={TOKEN: "owner"}) as emulator:
        options.base_url = emulator.base_url
        for run in range(runs):
            if run:
                workspace.mutate(count=mutations, seed=seed + run)
            results.append(run_snapshot(options))
    return results


def history_size(path: str) -> Dict[str, int]:
    with duckdb.connect(path, read_only=True) as con:
        present = {r[0] for r in con.execute(
            "select table_name from information_schema.tables where table_schema = 'segment_config'").fetchall()}
        versions = sum(con.execute(f"select count(*) from segment_config.{t}").fetchone()[0]
                       for t in history_tables() if t in present)
        changes = con.execute("select count(*) from segment_config.config_changes").fetchone()[0]
    return {"version_rows": versions, "config_changes": changes}


# The command, reporting its peak memory as it exits. Not `wait4`'s ru_maxrss: a child forked from this
# process (which built the history, so is large) starts with this process's high-water mark, and Linux
# keeps it across exec. VmHWM is the peak of the process's own address space, after exec.
PEAK_REPORTING = """
import atexit, runpy, sys
atexit.register(lambda: sys.stderr.write(next(l for l in open("/proc/self/status") if l.startswith("VmHWM"))))
sys.argv[0] = "segment-history"
runpy.run_module("pipelines.cli", run_name="__main__")
"""


def timed_diff(history: str, start: str, end: str, workdir: str) -> Dict[str, Any]:
    """The command in a process of its own, on a machine with no dlt working directory."""
    env = dict(os.environ, DLT_DATA_DIR=os.path.join(workdir, "fresh-dlt"), RUNTIME__DLTHUB_TELEMETRY="false")
    started = time.perf_counter()
    result = subprocess.run([sys.executable, "-c", PEAK_REPORTING, "diff", start, end, "--duckdb-path", history,
                             "--output", "json"], env=env, capture_output=True, text=True, check=True)
    seconds = time.perf_counter() - started
    rows = json.loads(result.stdout)
    peak_kb = int(result.stderr.strip().splitlines()[-1].split()[1])
    return {"rows": len(rows), "resources": len({(r["resource_type"], r["resource_id"]) for r in rows}),
            "wall_s": round(seconds, 2), "peak_rss_mb": round(peak_kb / 1024, 1)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", default="medium", choices=["tiny", "small", "medium", "large"])
    parser.add_argument("--seed", type=int, default=31)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--mutations", type=int, default=20)
    parser.add_argument("--groups", default="core", help="groups each snapshot reads (default: core)")
    args = parser.parse_args()
    workdir = tempfile.mkdtemp(prefix="diff-benchmark-")
    try:
        started = time.perf_counter()
        results = build_history(args.scale, args.seed, args.runs, args.mutations, args.groups.split(","), workdir)
        building = time.perf_counter() - started
        copy = os.path.join(workdir, "copy.duckdb")
        shutil.copy(os.path.join(workdir, "history.duckdb"), copy)
        start, end = results[0].started_at.isoformat(), results[-1].started_at.isoformat()
        report = {
            "scale": args.scale, "runs": args.runs, "mutations_per_run": args.mutations, "groups": args.groups,
            "history": {**history_size(copy), "build_s": round(building, 1)},
            "diff_first_to_last": timed_diff(copy, start, end, workdir),
            "diff_last_two": timed_diff(copy, results[-2].started_at.isoformat(), end, workdir),
            "load_average": os.getloadavg()[0], "machine": machine(),
        }
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    print(json.dumps(report, indent=2))
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"diff-{args.scale}-{args.runs}x{args.mutations}.json").write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
