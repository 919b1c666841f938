"""`segment-history demo`: the whole product on the built-in emulator, with no token and no network.

Starts the emulator in-process, takes a snapshot, changes the emulated workspace, snapshots again (as
many times as asked), then prints the change log and a query to try next.
"""

from __future__ import annotations

import os
import time
from typing import Optional

from segment_emulator import Emulator, generate_workspace

from . import output, queries
from .notify import SegmentSink, notify_after_runs
from .runner import RunOptions, make_pipeline, run_snapshot

DEMO_TOKEN = "demo-token"
DEMO_DUCKDB = "segment_history_demo.duckdb"
DEMO_PIPELINE = "segment_history_demo"
MUTATIONS_PER_RUN = 6


def _fresh_demo_destination(options: RunOptions) -> None:
    """The emulated workspace is regenerated each time, so the demo history starts over too."""
    for suffix in ("", ".wal"):
        if os.path.exists(options.duckdb_path + suffix):
            os.remove(options.duckdb_path + suffix)
    make_pipeline(options).drop()


def run_demo(duckdb_path: str, scale: str, seed: int, runs: int, pipelines_dir: Optional[str]) -> int:
    workspace = generate_workspace(seed=seed, scale=scale)
    options = RunOptions(access_token=DEMO_TOKEN, duckdb_path=duckdb_path, pipeline_name=DEMO_PIPELINE,
                         pipelines_dir=pipelines_dir)
    _fresh_demo_destination(options)
    with Emulator(workspace, tokens={DEMO_TOKEN: "owner"}) as emulator:
        options.base_url = emulator.base_url
        alerts = SegmentSink(_a_write_key(workspace), emulator.base_url)
        print(f"Segment API emulator ({scale} workspace) at {emulator.base_url}")
        for run in range(1, runs + 1):
            if run > 1:
                mutations = workspace.mutate(count=MUTATIONS_PER_RUN)
                print(f"\nChanged the emulated workspace: {', '.join(m.kind for m in mutations)}")
                time.sleep(0.01)
            started = time.monotonic()
            result = run_snapshot(options)
            notify_after_runs(options, [result.run_id], [alerts])
            print(f"Snapshot {run}/{runs}: {sum(result.table_rows.values())} rows in"
                  f" {len(result.table_rows)} tables, {result.changes} changes,"
                  f" {result.requests.get('requests', 0)} requests, {time.monotonic() - started:.1f}s")
    _print_change_log(options)
    print(f"""
History is in {os.path.abspath(duckdb_path)} (dataset {options.dataset_name}). Try next:
  segment-history changes --duckdb-path {duckdb_path} --resource-type destinations
  segment-history as-of 1h --duckdb-path {duckdb_path} --table sources
  python -c "import duckdb; duckdb.connect('{duckdb_path}').sql('select resource_type, change_kind, count(*) from {options.dataset_name}.config_changes group by all').show()"
""")
    print(f"{len(emulator.tracking.received)} alerts delivered to the emulated Tracking API")
    return 0


def _a_write_key(workspace) -> str:
    return next(key for source in workspace.sources for key in source.get("writeKeys") or [])


def _print_change_log(options: RunOptions) -> None:
    with make_pipeline(options).sql_client() as sql:
        columns, rows = queries.change_log(sql, limit=25)
    shown = ["observed_at", "resource_type", "resource_name", "change_kind", "field_path", "old_value", "new_value"]
    records = [dict(zip(columns, row)) for row in rows]
    print("\nChange log (newest first):")
    print(output.table(shown + ["actor"], [
        [r[c] for c in shown] + [r["actor_email"] or r["actor"]] for r in records
    ]))
