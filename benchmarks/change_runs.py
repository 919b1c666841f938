"""Benchmark: a change-driven run (`--mode changes`) against the full snapshot it replaces.

    python -m benchmarks.change_runs --scale large --mutations 20

On one emulated workspace: a full snapshot, then `--mutations` random changes to the workspace (the
emulator writes their audit events), then a change-driven run; the same for a second pipeline that reads
the benchmark's 11 tables only (those `benchmarks.run` compares with the baseline). For each it reports the
requests (per API route too) and seconds of both runs and their ratio, and checks that the change-driven run's current state
equals the state a fresh full snapshot of the mutated workspace reads. Results go to
`benchmarks/results/<name>.json`.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections import Counter
from typing import Any, Dict, List, Optional

import duckdb

from pipelines.runner import RunOptions, run_snapshot
from segment_emulator import Emulator, generate_workspace
from segment_emulator.routes import ROUTES
from segment_source.endpoints import history_tables

from .plan import BENCH_TABLES
from .run import RESULTS, TOKEN, result_header, write_result

TARGET_RATIO = 20.0  # issue 5: at least 20x fewer requests than a full snapshot, after 20 mutations


def current_state(path: str, dataset: str, tables: List[str]) -> Dict[str, List[str]]:
    """Every table's current rows, as sorted JSON (dlt's bookkeeping columns left out)."""
    state = {}
    with duckdb.connect(path, read_only=True) as connection:
        present = {row[0] for row in connection.execute(
            "select table_name from information_schema.tables where table_schema = ?", [dataset]).fetchall()}
        for table in sorted(set(tables) & present):
            cursor = connection.execute(
                f"select * exclude (_dlt_id, _dlt_load_id, _dlt_valid_from, _dlt_valid_to)"
                f" from {dataset}.{table} where _dlt_valid_to is null")
            columns = [c[0] for c in cursor.description]
            state[table] = sorted(json.dumps(dict(zip(columns, row)), default=str, sort_keys=True)
                                  for row in cursor.fetchall())
    return state


def by_route(paths: List[str]) -> Dict[str, int]:
    """Requests per API route (`/sources/{sourceId}`), most requested first."""
    counts = Counter(next((route.pattern for route in ROUTES if route.match(path) is not None), path)
                     for path in paths)
    return dict(counts.most_common())


def timed_run(emulator: Emulator, options: RunOptions) -> Dict[str, Any]:
    emulator.clear_requests()
    started = time.perf_counter()
    result = run_snapshot(options)
    paths = [request.path for request in emulator.requests]
    return {"mode": result.mode, "full_reason": result.full_reason, "requests": len(paths),
            "seconds": round(time.perf_counter() - started, 2), "changes": result.changes,
            "requests_by_route": by_route(paths)}


def scenario(scale: str, seed: int, mutations: int, tables: Optional[List[str]], workdir: str) -> Dict[str, Any]:
    workspace = generate_workspace(seed=seed, scale=scale)
    tag = "bench_tables" if tables else "default_groups"
    with Emulator(workspace, tokens={TOKEN: "owner"}) as emulator:
        def options(name: str, mode: str) -> RunOptions:
            return RunOptions(access_token=TOKEN, base_url=emulator.base_url, resources=tables, mode=mode,
                              duckdb_path=os.path.join(workdir, f"{name}.duckdb"), pipeline_name=name,
                              pipelines_dir=os.path.join(workdir, "pipelines"), progress="none")

        changes = options(f"{tag}_changes", "changes")
        full = timed_run(emulator, changes)
        workspace.mutate(count=mutations, seed=seed + 1)
        change_driven = timed_run(emulator, changes)
        reference = options(f"{tag}_reference", "full")
        timed_run(emulator, reference)
    compared = [t for t in history_tables() if t != "audit_events" and (not tables or t in tables)]
    ours, expected = (current_state(o.duckdb_path, o.dataset_name, compared) for o in (changes, reference))
    differing = sorted(t for t in set(ours) | set(expected) if ours.get(t) != expected.get(t))
    return {"tables": tables or "default groups", "full": full, "change_driven": change_driven,
            "requests_ratio": round(full["requests"] / max(change_driven["requests"], 1), 1),
            "seconds_ratio": round(full["seconds"] / max(change_driven["seconds"], 0.01), 1),
            "same_current_state_as_a_full_snapshot": not differing, "tables_differing": differing}


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.change_runs", description=__doc__.splitlines()[0])
    parser.add_argument("--scale", default="large")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--mutations", type=int, default=20)
    parser.add_argument("--name", help="result name (default: changes-<scale>-<mutations>)")
    parser.add_argument("--out-dir", default=str(RESULTS))
    args = parser.parse_args(argv)
    name = args.name or f"changes-{args.scale}-{args.mutations}"

    with tempfile.TemporaryDirectory(prefix="segment-history-changes-") as workdir:
        runs = {tag: scenario(args.scale, args.seed, args.mutations, tables, workdir)
                for tag, tables in (("bench_tables", list(BENCH_TABLES)), ("default_groups", None))}
    scenario_of_run = {"scale": args.scale, "seed": args.seed, "mutations": args.mutations}
    result = {**result_header("benchmarks.change_runs", name, argv if argv is not None else sys.argv[1:],
                              scenario_of_run),
              "runs": runs, "target_requests_ratio": TARGET_RATIO}
    for tag, run in runs.items():
        met = "met" if run["requests_ratio"] >= TARGET_RATIO else "NOT met"
        print(f"{tag}: full {run['full']['requests']} requests in {run['full']['seconds']} s; change-driven"
              f" ({run['change_driven']['mode']}) {run['change_driven']['requests']} requests in"
              f" {run['change_driven']['seconds']} s, {run['change_driven']['changes']} changes;"
              f" {run['requests_ratio']}x fewer requests (goal >= {TARGET_RATIO:g}: {met});"
              f" same current state as a full snapshot: {run['same_current_state_as_a_full_snapshot']}"
              + (f" (differs: {', '.join(run['tables_differing'])})" if run["tables_differing"] else ""))
    print(f"wrote {write_result(args.out_dir, name, result)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
