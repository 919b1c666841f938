"""A Dagster code location: each configured workspace's snapshot as a partition of the history's assets.

    dagster dev -m pipelines.dagster_definitions
    dagster asset materialize -m pipelines.dagster_definitions --select '*' [--partition NAME]

One multi-asset, `segment_snapshot`, calls the runner (`runner.run_snapshot`) for one workspace and
reports what it loaded: an asset per table (a child table depends on its parent), then `config_changes`
and `snapshots` downstream of them. Why not dagster-dlt's `@dlt_assets`: its `DagsterDltResource.run` is
`pipeline.run(source)`, which skips everything that makes this history trustworthy: recovery of a killed
run, dropping a table that could not be read in full before SCD2 retires its rows, the change log, the
`snapshots` row and the run lock. And `build_dlt_asset_specs` needs the dlt source built at import time,
which reads GET / (a token and the network just to load the code location). The asset specs are built
from `segment_source.endpoints` instead, the one table that describes the resources.

Partitions: one per `[[sources.segment.workspaces]]` entry, keyed by the entry's `name` (else
`workspace-<position>`; never the token). With a single token and no list, the assets are unpartitioned.
A partition fails on its own: a refused token or a bad configuration fails without retries, anything
else (API unreachable, another run holding the lock) is retried by the asset's retry policy.

A partial snapshot (a table skipped for another reason than a permission the token lacks: the CLI's
exit code 6) loads what was complete, leaves the skipped tables unmaterialized, and fails the
`complete_snapshot` check on `snapshots` with severity WARN.

Concurrency: every run into one dataset takes the runner's lock on that target (one writer; DuckDB
allows no other), so the op runs in the pool `segment_history` (set its limit to 1) and schedules tag
each run with `segment_history/workspace` (a run-queue limit of 1 per value keeps one run per workspace
at a time). docs/orchestration.md has the instance settings.

Configuration is read as the command line reads it (dlt's config.toml / secrets.toml, environment
variables); `SEGMENT_HISTORY_DUCKDB_PATH` sets the DuckDB file. Another destination or dataset:
`defs = build_definitions(RunOptions(destination="postgres", dataset_name=...))` in your own module.
"""

import os
from dataclasses import replace
from typing import Any, Dict, Iterator, List, Optional, Sequence

import dagster as dg

from segment_source.endpoints import WORKSPACE_TABLE, history_tables, parent_of, select_endpoints

from .errors import EXIT_AUTH, EXIT_DESTINATION, EXIT_USAGE, exit_code_for, one_sentence
from .notify import notify_after_runs
from .runner import (RunOptions, RunResult, configured_workspaces, entry_options, run_snapshot, workspace_entry,
                     workspace_keys)

KEY_PREFIX = "segment_history"
CHANGE_LOG, SNAPSHOTS = "config_changes", "snapshots"
COMPLETE_CHECK = "complete_snapshot"
POOL = "segment_history"
WORKSPACE_TAG = "segment_history/workspace"
NIGHTLY_FULL_CRON, HOURLY_CHANGES_CRON = "0 3 * * *", "30 * * * *"
# retried: the API unreachable or failing, another run holding the lock; not a token or setting to fix
NOT_RETRIED = (EXIT_AUTH, EXIT_USAGE, EXIT_DESTINATION)


MODES = ("full", "changes")


class SnapshotConfig(dg.Config):
    mode: str = "full"  # full | changes: re-read only what the audit trail names since the last snapshot


def options_from_environment() -> RunOptions:
    options = RunOptions()
    path = os.environ.get("SEGMENT_HISTORY_DUCKDB_PATH")
    return replace(options, duckdb_path=path) if path else options


def asset_key(table: str) -> dg.AssetKey:
    return dg.AssetKey([KEY_PREFIX, table])


def table_specs(options: RunOptions) -> List[dg.AssetSpec]:
    """An asset per table the run reads, each depending on the table its rows are read through."""
    endpoints = select_endpoints(options.resources, options.groups)
    specs = [dg.AssetSpec(asset_key(WORKSPACE_TABLE), group_name="core", skippable=True, kinds={"dlt"})]
    seen = {WORKSPACE_TABLE}
    for endpoint in endpoints:
        if endpoint.table_name in seen:
            continue
        seen.add(endpoint.table_name)
        parent = parent_of(endpoint)
        deps = [asset_key(parent.table_name)] if parent else [asset_key(WORKSPACE_TABLE)]
        kind = "SCD2 history" if endpoint.history else "merged on its key"
        specs.append(dg.AssetSpec(asset_key(endpoint.table_name), deps=deps, group_name=endpoint.group,
                                  skippable=True, kinds={"dlt"},
                                  description=f"GET /{endpoint.path} ({kind})"))
    return specs


def record_specs(tables: Sequence[dg.AssetSpec]) -> List[dg.AssetSpec]:
    history = {asset_key(table) for table in history_tables()}
    return [
        dg.AssetSpec(asset_key(CHANGE_LOG), deps=[s.key for s in tables if s.key in history], group_name="runs",
                     kinds={"dlt"}, description="field-level changes of each snapshot, attributed to actors"),
        dg.AssetSpec(asset_key(SNAPSHOTS), deps=[asset_key(CHANGE_LOG)], group_name="runs", kinds={"dlt"},
                     description="one row per snapshot of a workspace: complete or partial, tables skipped"),
    ]


def materializations(result: RunResult, declared: Sequence[dg.AssetKey]) -> Iterator[Any]:
    """What the run loaded, as Dagster events: a skipped table is not materialized."""
    common = {"run_id": result.run_id, "workspace_id": result.workspace_id}
    for table, rows in result.table_rows.items():
        if table not in result.skipped and asset_key(table) in declared:
            yield dg.MaterializeResult(asset_key=asset_key(table), metadata={**common, "rows_read": rows})
    yield dg.MaterializeResult(asset_key=asset_key(CHANGE_LOG), metadata={**common, "changes": result.changes})
    yield dg.MaterializeResult(asset_key=asset_key(SNAPSHOTS), metadata={
        **common, "mode": result.mode, "skipped_tables": dict(result.skipped),
        "requests": result.requests.get("requests", 0)})
    yield dg.AssetCheckResult(
        asset_key=asset_key(SNAPSHOTS), check_name=COMPLETE_CHECK, passed=not result.partial,
        severity=dg.AssetCheckSeverity.WARN, metadata={"skipped_tables": dict(result.skipped)},
        description=None if not result.partial else
        "tables could not be read in full and were not loaded: " + ", ".join(sorted(result.skipped)))


def workspace_options(options: RunOptions, entries: Sequence[Dict[str, Any]], partition: Optional[str]) -> RunOptions:
    if partition is None:
        return options
    return entry_options(options, workspace_entry(entries, partition))


def snapshot_assets(options: RunOptions, entries: Sequence[Dict[str, Any]]) -> dg.AssetsDefinition:
    tables = table_specs(options)
    partitions = dg.StaticPartitionsDefinition(workspace_keys(entries)) if entries else None

    @dg.multi_asset(
        name="segment_snapshot",
        specs=[*tables, *record_specs(tables)],
        check_specs=[dg.AssetCheckSpec(COMPLETE_CHECK, asset=asset_key(SNAPSHOTS),
                                       description="WARN when a table could not be read in full (exit code 6)")],
        partitions_def=partitions,
        pool=POOL,
        retry_policy=dg.RetryPolicy(max_retries=2, delay=60, backoff=dg.Backoff.EXPONENTIAL),
    )
    def segment_snapshot(context: dg.AssetExecutionContext, config: SnapshotConfig) -> Iterator[Any]:
        if config.mode not in MODES:
            raise dg.Failure(description=f"mode must be full or changes, not {config.mode!r}.", allow_retries=False)
        partition = context.partition_key if context.has_partition_key else None
        run_options = replace(workspace_options(options, entries, partition), mode=config.mode)
        try:
            result = run_snapshot(run_options)
        except Exception as exc:  # noqa: BLE001 - Dagster shows the one sentence; retries only what may pass
            code = exit_code_for(exc)
            raise dg.Failure(description=one_sentence(exc), metadata={"exit_code": code},
                             allow_retries=code not in NOT_RETRIED) from exc
        if result.partial:
            context.log.warning(f"partial snapshot: skipped {', '.join(sorted(result.skipped))}")
        yield from materializations(result, [spec.key for spec in tables])
        report = notify_after_runs(run_options, [result.run_id])  # never raises
        if report.error:
            context.log.warning(f"notifications: {report.error}")

    return segment_snapshot


def snapshot_schedule(name: str, cron: str, mode: str, job: dg.JobDefinition, keys: Sequence[str]
                      ) -> dg.ScheduleDefinition:
    run_config = {"ops": {"segment_snapshot": {"config": {"mode": mode}}}}

    @dg.schedule(name=name, cron_schedule=cron, job=job, execution_timezone="UTC")
    def requests(context: dg.ScheduleEvaluationContext) -> Iterator[dg.RunRequest]:
        moment = context.scheduled_execution_time.isoformat()
        for key in keys or [None]:
            yield dg.RunRequest(run_key=f"{mode}:{key}:{moment}", partition_key=key, run_config=run_config,
                                tags={WORKSPACE_TAG: key or "default"})

    return requests


def build_definitions(options: Optional[RunOptions] = None) -> dg.Definitions:
    options = options or options_from_environment()
    entries = [] if options.access_token else configured_workspaces()
    assets = snapshot_assets(options, entries)
    job = dg.define_asset_job("segment_history_snapshot", selection=dg.AssetSelection.assets(assets))
    keys = workspace_keys(entries)
    return dg.Definitions(
        assets=[assets],
        jobs=[job],
        schedules=[snapshot_schedule("segment_history_nightly_full", NIGHTLY_FULL_CRON, "full", job, keys),
                   snapshot_schedule("segment_history_hourly_changes", HOURLY_CHANGES_CRON, "changes", job, keys)],
    )


defs = build_definitions()
