"""`segment-history demo`: the whole product on the built-in emulator, with no token and no network.

Starts the emulator in-process, takes a snapshot, changes the emulated workspace, snapshots again (as
many times as asked), then prints the change log and commands to try next. Two tables of the metrics group
are read too (`NOTEBOOK_METRICS`), so that the notebook `changes_and_metrics` has event volumes and delivery
figures to put beside the changes; the group's usage tables, which nothing in the demo shows, are not.
"""

from __future__ import annotations

import os
import time
from datetime import timedelta, timezone
from typing import List, Optional

import duckdb

from segment_emulator import Emulator, generate_workspace
from segment_source.endpoints import GROUPS_ON_BY_DEFAULT, history_tables

from . import output, queries
from .errors import UsageError
from .notify import SegmentSink, notify_after_runs
from .runner import RunOptions, RunResult, make_pipeline, run_snapshot

DEMO_TOKEN = "demo-token"
DEMO_DUCKDB = "segment_history_demo.duckdb"
DEMO_PIPELINE = "segment_history_demo"
MUTATIONS_PER_RUN = 6
NOTEBOOK_METRICS = ("events_volume", "delivery_metrics")


def _fresh_demo_destination(options: RunOptions, force: bool) -> None:
    """The emulated workspace is regenerated each time, so the demo history starts over too; a file the
    demo did not make is someone's data, and is replaced only when asked to."""
    path = options.duckdb_path
    if os.path.isdir(path) or (os.path.exists(path) and not force and not made_by_demo(path)):
        raise UsageError(
            f"{path} exists and is not a history made by `segment-history demo`: choose another --duckdb-path,"
            " or add --force to replace it."
        )
    for suffix in ("", ".wal"):
        if os.path.exists(path + suffix):
            os.remove(path + suffix)
    make_pipeline(options).drop()


def made_by_demo(path: str) -> bool:
    """A DuckDB file in which the demo's pipeline, and no other, has stored its state."""
    try:
        with duckdb.connect(path, read_only=True) as connection:
            schemas = connection.execute(
                "SELECT table_schema FROM information_schema.tables WHERE table_name = '_dlt_pipeline_state'"
            ).fetchall()
            pipelines = {
                name for (schema,) in schemas for (name,) in connection.execute(
                    f'SELECT DISTINCT pipeline_name FROM "{schema}"._dlt_pipeline_state').fetchall()
            }
    except duckdb.Error:  # not a DuckDB file at all
        return False
    return pipelines == {DEMO_PIPELINE}


def run_demo(duckdb_path: str, scale: str, seed: int, runs: int, pipelines_dir: Optional[str],
             force: bool = False) -> int:
    workspace = generate_workspace(seed=seed, scale=scale)
    options = RunOptions(access_token=DEMO_TOKEN, duckdb_path=duckdb_path, pipeline_name=DEMO_PIPELINE,
                         pipelines_dir=pipelines_dir, groups=list(GROUPS_ON_BY_DEFAULT),
                         resources=list(NOTEBOOK_METRICS))
    _fresh_demo_destination(options, force)
    with Emulator(workspace, tokens={DEMO_TOKEN: "owner"}) as emulator:
        options.base_url = emulator.base_url
        alerts = SegmentSink(_a_write_key(workspace), emulator.base_url)
        print(f"Segment API emulator ({scale} workspace) at {emulator.base_url}")
        results: List[RunResult] = []
        for run in range(1, runs + 1):
            if run > 1:
                mutations = workspace.mutate(count=MUTATIONS_PER_RUN)
                print(f"\nChanged the emulated workspace: {', '.join(m.kind for m in mutations)}")
                time.sleep(0.01)
            started = time.monotonic()
            results.append(run_snapshot(options))
            changes = "baseline" if run == 1 else f"{results[-1].changes} changes"
            print(f"Snapshot {run}/{runs}, {changes}: {snapshot_line(results[-1], time.monotonic() - started)}")
            notify_after_runs(options, [results[-1].run_id], [alerts])
    _print_change_log(options)
    print(f"\n{len(emulator.tracking.received)} alerts delivered to the emulated Tracking API")
    print(try_next(duckdb_path, options.dataset_name, results))
    return 0


def snapshot_line(result: RunResult, seconds: float) -> str:
    """The configuration rows are the whole workspace as it now is; the audit trail and the metrics are read
    since the last snapshot, so their count is what this run read, not what the history holds."""
    configuration = {t: n for t, n in result.table_rows.items() if t in history_tables()}
    read = sum(n for t, n in result.table_rows.items() if t not in configuration)
    requests = result.requests.get("requests", 0)
    return (f"configuration {sum(configuration.values())} rows in {len(configuration)} tables;"
            f" read {read} audit-trail and metrics rows; {requests} requests in {seconds:.1f}s")


def try_next(duckdb_path: str, dataset: str, results: List[RunResult]) -> str:
    """Commands that work as printed: `as-of` and `diff` name a moment inside the demo's history (the
    second snapshot's start, to the second: the workspace as the first snapshot saw it)."""
    later = results[1].started_at if len(results) > 1 else results[0].finished_at + timedelta(seconds=1)
    moment = later.astimezone(timezone.utc).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")
    return f"""
History is in {os.path.abspath(duckdb_path)} (dataset {dataset}). Try next:
  segment-history changes --duckdb-path {duckdb_path} --resource-type destinations
  segment-history as-of {moment} --duckdb-path {duckdb_path} --table sources
  segment-history diff {moment} --duckdb-path {duckdb_path}
  python -c "import duckdb; duckdb.connect('{duckdb_path}').sql('select resource_type, change_kind, count(*) from {dataset}.config_changes group by all').show()"
"""


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
