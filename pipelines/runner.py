"""One snapshot run: extract, drop incomplete tables, load as SCD2, then record changes and the run.

    extract (dlt rest_api, concurrent)  ->  discard tables the report marks incomplete
      ->  normalize + load (SCD2 per workspace, audit events merged on id)
      ->  config_changes + snapshots (a second, small load into the same dataset)
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from typing import Any, Dict, List, Optional, Sequence

import dlt
from dlt.common.schema.typing import TTableSchemaColumns

from segment_source import ExtractionReport, segment_source, settings
from segment_source.client import SegmentSession
from segment_source.endpoints import (
    ENDPOINTS_BY_NAME,
    WORKSPACE_TABLE,
    history_tables,
    select_endpoints,
    tables as all_tables,
)

from . import change_runs, history
from .lock import pipeline_lock
from .package import discard_tables, with_dependent_tables
from .progress import show_progress

PERMISSION_STATUSES = ("HTTP 401", "HTTP 403", "HTTP 404")


def is_permission_gap(reason: str) -> bool:
    """A table the token, plan or enabled features do not let us read (also through its parent)."""
    return any(status in reason for status in PERMISSION_STATUSES)


@dataclass
class RunOptions:
    access_token: Optional[str] = None
    region: Optional[str] = None
    base_url: Optional[str] = None
    resources: Optional[Sequence[str]] = None
    groups: Optional[Sequence[str]] = None
    destination: str = "duckdb"
    duckdb_path: str = "segment_history.duckdb"
    dataset_name: str = "segment_config"
    pipeline_name: str = "segment_history"
    pipelines_dir: Optional[str] = None
    max_concurrency: Optional[int] = None
    requests_per_minute: Optional[float] = None
    keep_write_keys: Optional[bool] = None
    page_size: Optional[int] = None
    progress: str = "none"  # auto | bar | log | none
    mode: str = "full"  # full | changes (refetch what the audit trail names; every Nth run is full)
    full_snapshot_every: Optional[int] = None


@dataclass
class RunResult:
    run_id: str
    workspace_id: str
    workspace_name: str
    started_at: datetime
    finished_at: datetime
    table_rows: Dict[str, int]
    skipped: Dict[str, str]
    changes: int
    requests: Dict[str, Any] = field(default_factory=dict)
    mode: str = "full"
    full_reason: Optional[str] = None  # why a requested change-driven run read everything

    @property
    def partial(self) -> bool:
        """True when a table could not be read for another reason than a permission gap."""
        return any(not is_permission_gap(reason) for reason in self.skipped.values())


def make_pipeline(options: RunOptions) -> dlt.Pipeline:
    destination: Any = options.destination
    if options.destination == "duckdb":
        destination = dlt.destinations.duckdb(os.path.abspath(options.duckdb_path))
    kwargs: Dict[str, Any] = {}
    if options.pipelines_dir:
        kwargs["pipelines_dir"] = options.pipelines_dir
    return dlt.pipeline(
        pipeline_name=options.pipeline_name,
        destination=destination,
        dataset_name=options.dataset_name,
        progress="log" if os.environ.get("SEGMENT_HISTORY_DLT_PROGRESS") else None,
        **kwargs,
    )


def _source_kwargs(options: RunOptions) -> Dict[str, Any]:
    """Only what the user set: everything else comes from .dlt/config.toml, env or the defaults."""
    names = ("access_token", "region", "base_url", "resources", "groups", "max_concurrency",
             "requests_per_minute", "keep_write_keys", "page_size")
    return {name: getattr(options, name) for name in names if getattr(options, name) is not None}


def history_mode(pipeline: dlt.Pipeline) -> str:
    """SCD2 where the destination can merge that way; full snapshots appended elsewhere (files)."""
    strategies = pipeline.destination.capabilities().supported_merge_strategies or []
    return "scd2" if "scd2" in strategies else "snapshots"


def _loader_file_format(pipeline: dlt.Pipeline) -> Optional[str]:
    # parquet loads into DuckDB 20-30x faster than insert_values (DLT_NOTES); other SQL
    # destinations keep their own preferred format
    return "parquet" if pipeline.destination.destination_name in ("duckdb", "filesystem") else None


def recover_interrupted_run(pipeline: dlt.Pipeline) -> None:
    """A run killed after extraction left a package that may hold incomplete tables: abort it (dlt
    restores the local state from before it). A run killed during load left a normalized package whose
    tables were all complete: finish loading it. Then take the state kept in the destination when it
    is newer, so a fresh machine (or a CI runner) resumes the audit trail where the last run stopped."""
    if pipeline.list_extracted_load_packages():
        pipeline.abort_packages()
    if pipeline.list_normalized_load_packages():
        pipeline.load()
    pipeline.sync_destination()


class DestinationUnavailable(RuntimeError):
    """The destination could not be opened before the run started."""


def check_destination(pipeline: dlt.Pipeline) -> None:
    """Opens the destination before any API work, so a wrong path or credentials fail in a second."""
    try:
        with pipeline.sql_client() as sql:
            sql.has_dataset()
    except Exception as exc:  # noqa: BLE001 - every driver raises its own kind
        reason = " ".join(str(exc).split())[:300]
        raise DestinationUnavailable(
            f"Cannot open the {pipeline.destination.destination_name} destination"
            f" (dataset {pipeline.dataset_name}): {reason}"
        ) from exc


def run_snapshot(options: RunOptions, session: Optional[SegmentSession] = None) -> RunResult:
    """One snapshot of the workspace of `options.access_token` (or of the configuration's token)."""
    pipeline = make_pipeline(options)
    with pipeline_lock(pipeline.pipelines_dir, pipeline.pipeline_name):
        check_destination(pipeline)
        recover_interrupted_run(pipeline)
        return _snapshot_run(pipeline, options, session)


def configured_workspaces() -> List[Dict[str, Any]]:
    """`[[sources.segment.workspaces]]` entries (access_token, region, base_url), if any are configured."""
    entries = dlt.secrets.get("sources.segment.workspaces") or []
    if isinstance(entries, str):
        entries = json.loads(entries)
    if not isinstance(entries, list) or not all(isinstance(e, dict) and e.get("access_token") for e in entries):
        raise ValueError("sources.segment.workspaces must be a list of tables, each with an access_token.")
    return entries


def run_snapshots(options: RunOptions) -> List[RunResult]:
    """A snapshot of every configured workspace into the one dataset (or of the single token's)."""
    workspaces = [] if options.access_token else configured_workspaces()
    if not workspaces:
        return [run_snapshot(options)]
    pipeline = make_pipeline(options)
    results = []
    with pipeline_lock(pipeline.pipelines_dir, pipeline.pipeline_name):
        check_destination(pipeline)
        recover_interrupted_run(pipeline)
        for entry in workspaces:
            workspace_options = replace(
                options,
                access_token=entry["access_token"],
                region=entry.get("region", options.region),
                base_url=entry.get("base_url", options.base_url),
            )
            results.append(_snapshot_run(pipeline, workspace_options, None))
    return results


def _snapshot_run(pipeline: dlt.Pipeline, options: RunOptions, session: Optional[SegmentSession]) -> RunResult:
    started = datetime.now(timezone.utc)
    report = ExtractionReport()
    mode = history_mode(pipeline)
    plan_changes = None
    if options.mode == "changes" and mode == "scd2":
        plan_changes = change_runs.planner(pipeline, started, report, _full_every(options))
    source = segment_source(**_source_kwargs(options), snapshot_time=started, history_mode=mode, report=report,
                            session=session, plan_changes=plan_changes)
    workspace = report.workspace  # GET / already happened when the source was built
    change_plan = report.change_plan

    with show_progress(report, options.progress):
        extract_info = pipeline.extract(
            source, workers=_extract_workers(options), loader_file_format=_loader_file_format(pipeline)
        )
    skipped = with_dependent_tables(report.skipped_tables())
    discard_tables(pipeline, extract_info.loads_ids, skipped)
    pipeline.normalize()
    load_info = pipeline.load()
    load_info.raise_on_failed_jobs()
    run_id = extract_info.loads_ids[-1]

    selected_tables = _selected_tables(options.resources, options.groups)
    if change_plan is not None:
        read = {ENDPOINTS_BY_NAME[name].table_name for name in report.endpoints_read}
        selected_tables = [t for t in selected_tables if t in read]
    complete = [t for t in selected_tables if t not in skipped]
    snapshot = _snapshot(pipeline, run_id, workspace["id"], started, mode)
    if change_plan is not None:
        with pipeline.sql_client() as sql:
            change_runs.retire_unseen(sql, change_plan, report, skipped, snapshot)
    changes = _record_history(pipeline, report, complete, snapshot, partial_read=change_plan is not None)
    finished = datetime.now(timezone.utc)
    result = RunResult(
        run_id=run_id,
        workspace_id=workspace["id"],
        workspace_name=workspace.get("name", ""),
        started_at=started,
        finished_at=finished,
        table_rows={t: report.rows(t) for t in selected_tables},
        skipped=skipped,
        changes=len(changes),
        requests={**report.request_stats.as_dict(), "rate_limit_wait_seconds": round(report.rate_limit_wait(), 2)},
        mode="changes" if change_plan is not None else "full",
        full_reason=report.full_reason if options.mode == "changes" else None,
    )
    _load_run_records(pipeline, changes, result, complete)
    return result


def _full_every(options: RunOptions) -> int:
    value = options.full_snapshot_every or dlt.config.get("sources.segment.full_snapshot_every") or (
        change_runs.DEFAULT_FULL_SNAPSHOT_EVERY
    )
    try:
        every = int(value)
    except (TypeError, ValueError):
        every = 0
    if every < 1:
        raise ValueError(f"sources.segment.full_snapshot_every must be a positive whole number, not {value!r}.")
    return every


def _extract_workers(options: RunOptions) -> int:
    """dlt's extract thread pool runs the parallelized resources; it is sized to the request concurrency."""
    value = options.max_concurrency or dlt.config.get("sources.segment.max_concurrency") or (
        settings.DEFAULT_MAX_CONCURRENCY
    )
    try:
        workers = int(value)
    except (TypeError, ValueError):
        workers = 0
    if workers < 1:
        raise ValueError(f"sources.segment.max_concurrency must be a positive whole number, not {value!r}.")
    return workers


def _selected_tables(resources: Optional[Sequence[str]], groups: Optional[Sequence[str]]) -> List[str]:
    selected = {e.table_name for e in select_endpoints(resources, groups)}
    return [t for t in all_tables() if t == WORKSPACE_TABLE or t in selected]


def _snapshot(
    pipeline: dlt.Pipeline, run_id: str, workspace_id: str, started: datetime, mode: str
) -> history.Snapshot:
    with pipeline.sql_client() as sql:
        previous = history.previous_snapshot_time(sql, workspace_id, started)
    return history.Snapshot(run_id=run_id, workspace_id=workspace_id, boundary=started, previous=previous, mode=mode)


def _record_history(
    pipeline: dlt.Pipeline, report: ExtractionReport, complete: List[str], snapshot: history.Snapshot,
    partial_read: bool = False,
) -> List[Dict[str, Any]]:
    schema = pipeline.default_schema
    changes: List[Dict[str, Any]] = []
    with pipeline.sql_client() as sql:
        for table in complete:
            if table not in history_tables():
                continue
            if report.rows(table) == 0 and snapshot.mode == "scd2" and not partial_read:
                history.retire_emptied_table(sql, table, snapshot)
            json_columns = [
                name for name, column in schema.tables.get(table, {}).get("columns", {}).items()
                if column.get("data_type") == "json"
            ]
            changes.extend(history.table_changes(sql, table, json_columns, snapshot))
        history.attribute(sql, changes, snapshot)
    return changes


def _text_columns(*names: str) -> TTableSchemaColumns:
    return {name: {"data_type": "text", "nullable": True} for name in names}


# Declared in full so the table exists (empty) from the first run on, and types never depend on data.
CHANGE_COLUMNS: TTableSchemaColumns = {
    **_text_columns("run_id", "workspace_id"),
    "observed_at": {"data_type": "timestamp", "nullable": True},
    **_text_columns(
        "resource_type", "resource_id", "resource_name", "change_kind", "field_path", "old_value",
        "new_value", "actor", "actor_email", "audit_event_id", "audit_event_type",
    ),
}

SNAPSHOT_COLUMNS: TTableSchemaColumns = {
    **_text_columns("run_id", "workspace_id", "status", "mode", "full_reason"),
    "started_at": {"data_type": "timestamp"},
    "finished_at": {"data_type": "timestamp"},
    "table_rows": {"data_type": "json"},
    "complete_tables": {"data_type": "json"},
    "skipped_tables": {"data_type": "json"},
    "requests": {"data_type": "json"},
}


def _load_run_records(
    pipeline: dlt.Pipeline, changes: List[Dict[str, Any]], result: RunResult, complete: List[str]
) -> None:
    snapshot_row = {
        "run_id": result.run_id,
        "workspace_id": result.workspace_id,
        "started_at": result.started_at,
        "finished_at": result.finished_at,
        "status": "partial" if result.skipped else "complete",
        "mode": result.mode,
        "full_reason": result.full_reason,
        "table_rows": result.table_rows,
        "complete_tables": complete,
        "skipped_tables": result.skipped,
        "changes": result.changes,
        "requests": result.requests,
    }
    resources = [
        dlt.resource([snapshot_row], name="snapshots", write_disposition="append", columns=SNAPSHOT_COLUMNS),
        dlt.resource(changes or [dlt.mark.materialize_table_schema()], name="config_changes",
                     write_disposition="append", columns=CHANGE_COLUMNS),
    ]
    info = pipeline.run(resources, loader_file_format=_loader_file_format(pipeline))
    info.raise_on_failed_jobs()
