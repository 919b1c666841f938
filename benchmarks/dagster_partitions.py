"""Benchmark: two emulated workspaces (one US, one EU) materialized as the Dagster code location's partitions.

    python -m benchmarks.dagster_partitions --scale small --latency-ms 0

Each partition is materialized in-process (`dagster.materialize`, one run per partition, one after the
other as the pool `segment_history` runs them) into one DuckDB dataset; then the same two workspaces are
snapshotted by the runner alone (`run_workspaces`, as `segment-history run` does) into another file, so
the difference is what Dagster adds. Needs the dagster extra. Results go to
`benchmarks/results/dagster-<scale>.json`.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from typing import Any, Dict, List, Optional

import dagster as dg

from pipelines.dagster_definitions import build_definitions
from pipelines.runner import RunOptions, run_workspaces
from segment_emulator import Emulator, generate_workspace

from .run import RESULTS, result_header, write_result

SEEDS = {"us": 21, "eu": 22}


def timed_partitions(defs: dg.Definitions, keys: List[str]) -> Dict[str, float]:
    seconds = {}
    for key in keys:
        started = time.perf_counter()
        result = dg.materialize(defs.assets, partition_key=key, instance=dg.DagsterInstance.ephemeral())
        seconds[key] = round(time.perf_counter() - started, 2)
        assert result.success, key
    return seconds


def scenario(scale: str, latency_ms: float, workdir: str) -> Dict[str, Any]:
    emulators = {region: Emulator(generate_workspace(seed=seed, scale=scale), tokens={f"{region}-token": "owner"},
                                  region=region, latency_ms=latency_ms) for region, seed in SEEDS.items()}
    try:
        for emulator in emulators.values():
            emulator.start()
        os.environ["SOURCES__SEGMENT__WORKSPACES"] = json.dumps([
            {"access_token": f"{region}-token", "region": region, "base_url": e.base_url, "name": f"{region}-prod"}
            for region, e in emulators.items()])
        place = dict(pipelines_dir=f"{workdir}/pipelines", pipeline_name="bench")
        started = time.perf_counter()
        defs = build_definitions(RunOptions(duckdb_path=f"{workdir}/dagster.duckdb", **place))
        load_seconds = round(time.perf_counter() - started, 2)
        partitions = timed_partitions(defs, ["us-prod", "eu-prod"])
        started = time.perf_counter()
        runs = run_workspaces(RunOptions(duckdb_path=f"{workdir}/runner.duckdb", **place))
        runner_seconds = round(time.perf_counter() - started, 2)
        assert all(run.error is None for run in runs)
    finally:
        for emulator in emulators.values():
            emulator.stop()
    return {"definitions_load_s": load_seconds, "partition_wall_s": partitions,
            "two_partitions_wall_s": round(sum(partitions.values()), 2), "runner_alone_wall_s": runner_seconds}


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.dagster_partitions", description=__doc__.splitlines()[0])
    parser.add_argument("--scale", default="small")
    parser.add_argument("--latency-ms", type=float, default=0)
    parser.add_argument("--out-dir", default=str(RESULTS))
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="segment-history-dagster-") as workdir:
        run = scenario(args.scale, args.latency_ms, workdir)
    name = f"dagster-{args.scale}"
    scenario_of_run = {"scale": args.scale, "seeds": SEEDS, "latency_ms": args.latency_ms}
    result = {**result_header("benchmarks.dagster_partitions", name, argv if argv is not None else sys.argv[1:],
                              scenario_of_run),
              "run": run}
    print(f"two partitions (US, EU) in {run['two_partitions_wall_s']} s {run['partition_wall_s']};"
          f" the runner alone: {run['runner_alone_wall_s']} s; definitions load: {run['definitions_load_s']} s")
    print(f"wrote {write_result(args.out_dir, name, result)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
