"""One snapshot run: extract, drop incomplete tables, load as SCD2, then record changes and the run.

    extract (dlt rest_api, concurrent)  ->  discard tables the report marks incomplete
      ->  normalize + load (SCD2 per workspace, audit events merged on id)
      ->  config_changes + snapshots (a second, small load into the same dataset)
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from typing import Any, ContextManager, Dict, List, Optional, Sequence, Set

import dlt
from dlt.common.pipeline import get_dlt_pipelines_dir
from dlt.common.schema.typing import TTableSchemaColumns
from dlt.common.schema.utils import get_write_disposition
from dlt.common.storages.load_package import PackageStorage
from dlt.common.storages.normalize_storage import NormalizeStorage

from segment_source import ExtractionReport, segment_source
from segment_source.client import SegmentSession
from segment_source.endpoints import (
    ENDPOINTS_BY_NAME,
    WORKSPACE_TABLE,
    history_tables,
    select_endpoints,
    tables as all_tables,
)
from segment_source.outcomes import Kind, kind_of_skip

from . import change_runs, config, history
from .errors import DestinationUnavailable, cause_of
from .lock import pipeline_lock
from .package import discard_tables, with_dependent_tables
from .progress import show_progress

logger = logging.getLogger("segment_history")


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
    skipped: Dict[str, str]  # table -> why it was skipped
    changes: int
    requests: Dict[str, Any] = field(default_factory=dict)
    mode: str = "full"
    full_reason: Optional[str] = None  # why a requested change-driven run read everything
    skipped_kinds: Dict[str, str] = field(default_factory=dict)  # table -> its outcome's kind (`outcomes.Kind`)

    @property
    def partial(self) -> bool:
        """True when a table could not be read for another reason than a lasting gap (a permission or a
        feature the token or plan lacks)."""
        return any(kind_of_skip(reason, self.skipped_kinds.get(table)) is not Kind.LASTING_GAP
                   for table, reason in self.skipped.items())


def make_pipeline(options: RunOptions) -> dlt.Pipeline:
    # dlt keeps each loaded package's files under load/loaded/ for good: a nightly schedule would grow the
    # disk by a snapshot a night (and with keep_write_keys keep clear keys there). `[load]
    # delete_completed_jobs = false` keeps them for debugging.
    if dlt.config.get("load.delete_completed_jobs") is None:
        os.environ["LOAD__DELETE_COMPLETED_JOBS"] = "true"
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


def _run_lock(options: RunOptions) -> ContextManager[None]:
    # taken before dlt.pipeline(): two processes creating the pipeline's working folder at once race in dlt
    return pipeline_lock(options.pipelines_dir or get_dlt_pipelines_dir(), options.pipeline_name)


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
    _delete_unfinished_extractions(pipeline)
    resumed = pipeline.list_normalized_load_packages()
    if resumed:
        _undo_unrecorded_copies(pipeline, resumed)  # fix: see there
        pipeline.load()
        _drop_doubled_versions(pipeline, resumed)  # fix: see there
    pipeline.sync_destination()
    _record_interrupted_run(pipeline)  # fix: a run killed after (or during) its load keeps its change log


def unfinished_extractions(pipeline: dlt.Pipeline) -> List[str]:
    """dlt extracts into a folder of its own under normalize/ and moves the package out when extraction
    ends; a run killed before that leaves the folder behind, and no dlt command ever removes it."""
    extract_dir = os.path.join(pipeline.working_dir, "normalize")
    names = os.listdir(extract_dir) if os.path.isdir(extract_dir) else []
    return [os.path.join(extract_dir, name) for name in names
            if name != NormalizeStorage.EXTRACTED_FOLDER and os.path.isdir(os.path.join(extract_dir, name))]


def _delete_unfinished_extractions(pipeline: dlt.Pipeline) -> None:
    for path in unfinished_extractions(pipeline):
        logger.info("Deleting %s, left by a run killed while it read the API.", path)
        shutil.rmtree(path, ignore_errors=True)


def check_destination(pipeline: dlt.Pipeline) -> None:
    """Opens the destination before any API work, so a wrong path or credentials fail in a second."""
    try:
        with pipeline.sql_client() as sql:
            sql.has_dataset()
    except Exception as exc:  # noqa: BLE001 - every driver raises its own kind
        reason = cause_of(exc)
        raise DestinationUnavailable(
            f"Cannot open the {pipeline.destination.destination_name} destination"
            f" (dataset {pipeline.dataset_name}): {reason}"
        ) from exc


def run_snapshot(options: RunOptions, session: Optional[SegmentSession] = None) -> RunResult:
    """One snapshot of the workspace of `options.access_token` (or of the configuration's token)."""
    with _run_lock(options):
        pipeline = make_pipeline(options)
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
    results = []
    with _run_lock(options):
        pipeline = make_pipeline(options)
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
        every = config.full_snapshot_every(options.full_snapshot_every)
        plan_changes = change_runs.planner(pipeline, started, report, every)
    source = segment_source(**_source_kwargs(options), snapshot_time=started, history_mode=mode, report=report,
                            session=session, plan_changes=plan_changes)
    workspace = report.workspace  # GET / already happened when the source was built
    change_plan = report.change_plan

    with show_progress(report, options.progress):
        extract_info = pipeline.extract(
            source, workers=config.max_concurrency(options.max_concurrency),
            loader_file_format=_loader_file_format(pipeline),
        )
    skipped_outcomes = with_dependent_tables(report.skipped_tables())
    skipped = {table: outcome.reason for table, outcome in skipped_outcomes.items()}
    discard_tables(pipeline, extract_info.loads_ids, skipped)
    run_id = extract_info.loads_ids[-1]

    selected_tables = _selected_tables(options.resources, options.groups)
    if change_plan is not None:
        read = {ENDPOINTS_BY_NAME[name].table_name for name in report.endpoints_read}
        selected_tables = [t for t in selected_tables if t in read]
    complete = [t for t in selected_tables if t not in skipped]
    result = RunResult(
        run_id=run_id,
        workspace_id=workspace["id"],
        workspace_name=workspace.get("name", ""),
        started_at=started,
        finished_at=started,  # fix (interrupted runs): set with `changes` by `_record_run`, after the load
        table_rows={t: report.rows(t) for t in selected_tables},
        skipped=skipped,
        changes=0,
        requests={**report.request_stats.as_dict(), "rate_limit_wait_seconds": round(report.rate_limit_wait(), 2)},
        mode="changes" if change_plan is not None else "full",
        full_reason=report.full_reason if options.mode == "changes" else None,
        skipped_kinds={table: outcome.kind.value for table, outcome in skipped_outcomes.items()},
    )
    # fix (interrupted runs): kept until the run's `snapshots` row is loaded; see `_record_interrupted_run`
    _save_pending_run(pipeline, result, complete)
    pipeline.normalize()
    load_info = pipeline.load()
    load_info.raise_on_failed_jobs()
    if change_plan is not None:
        snapshot = _snapshot(pipeline, run_id, workspace["id"], started, mode)
        with pipeline.sql_client() as sql:
            change_runs.retire_unseen(sql, change_plan, report, skipped, snapshot)
    return _record_run(pipeline, result, complete, report)


def _record_run(pipeline: dlt.Pipeline, result: RunResult, complete: List[str], report: Any) -> RunResult:
    """The change log and the `snapshots` row of a loaded run (also of one a killed process loaded)."""
    snapshot = _snapshot(pipeline, result.run_id, result.workspace_id, result.started_at, history_mode(pipeline))
    changes = _record_history(pipeline, report, complete, snapshot, partial_read=result.mode == "changes")
    result = replace(result, finished_at=datetime.now(timezone.utc), changes=len(changes))
    _load_run_records(pipeline, changes, result, complete)
    _forget_pending_run(pipeline)
    return result


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
    "skipped_kinds": {"data_type": "json"},  # table -> outcome kind, what the change-driven window reads
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
        "skipped_kinds": result.skipped_kinds,
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


# --- Interrupted runs (fix) --------------------------------------------------------------------------------------
# A run killed after its tables were loaded (or during their load, which `recover_interrupted_run` finishes)
# but before its `config_changes` and `snapshots` rows were loaded used to lose that run's changes: the next
# run only diffs against its own boundary. So a run keeps the record it needs (its RunResult and complete
# tables) in a file beside the run lock, written before its load and deleted once its `snapshots` row is
# loaded; the next run, holding the lock, records such a run if it was loaded and forgets it if it was not.


class _RecordedRows:
    """The row counts `_record_history` reads from an ExtractionReport, for a run recorded from its file."""

    def __init__(self, table_rows: Dict[str, int]) -> None:
        self.table_rows = table_rows

    def rows(self, table: str) -> int:
        return self.table_rows.get(table, 0)


def _pending_run_path(pipeline: dlt.Pipeline) -> str:
    # outside dlt's working dir, which dlt wipes when it restores the state from the destination
    return os.path.join(pipeline.pipelines_dir, f"{pipeline.pipeline_name}.pending-run.json")


def _save_pending_run(pipeline: dlt.Pipeline, result: RunResult, complete: List[str]) -> None:
    record = {name: getattr(result, name) for name in RunResult.__dataclass_fields__}
    record.update(started_at=result.started_at.isoformat(), finished_at=result.finished_at.isoformat(),
                  complete_tables=complete)
    path = _pending_run_path(pipeline)
    with open(path + ".tmp", "w", encoding="utf-8") as handle:
        json.dump(record, handle)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(path + ".tmp", path)


def _forget_pending_run(pipeline: dlt.Pipeline) -> None:
    try:
        os.remove(_pending_run_path(pipeline))
    except FileNotFoundError:
        pass


def _undo_unrecorded_copies(pipeline: dlt.Pipeline, load_ids: Sequence[str]) -> None:
    """dlt resumes a half-loaded package by running its started jobs again, except those it recorded as
    done or whose commit it noted (a "pending transition"). A copy killed between its commit and that note
    would copy its rows a second time: into the staging dataset for a merged table, into the table itself
    for an append (dlt's state, `snapshots`, `config_changes`). PostgreSQL refuses that (`_dlt_id` is
    unique), so the load could never finish. Such a table's rows of the load are deleted first, unless one
    of its copies in the package is done or noted (then `_drop_doubled_versions` is the remedy)."""
    if history_mode(pipeline) != "scd2":
        return
    with pipeline.sql_client() as sql:
        for load_id in load_ids:
            package = pipeline.get_load_package_info(load_id)
            tables = pipeline.schemas[package.schema_name].tables
            noted = _pending_transitions(package.package_path)
            copies = [job for kind in ("started_jobs", "completed_jobs") for job in package.jobs.get(kind, [])
                      if job.job_file_info.file_format != "sql"]  # merges are idempotent
            runs_again = {job for job in copies
                          if job.state == "started_jobs" and os.path.basename(job.file_path) not in noted}
            kept = {job.job_file_info.table_name for job in copies if job not in runs_again}
            for table in {job.job_file_info.table_name for job in runs_again} - kept:
                if get_write_disposition(tables, table) == "merge":
                    with sql.with_staging_dataset():
                        _delete_rows_of_load(sql, table, load_id)
                else:
                    _delete_rows_of_load(sql, table, load_id)


def _pending_transitions(package_path: str) -> Set[str]:
    folder = os.path.join(package_path, PackageStorage.PENDING_TRANSITIONS_FOLDER)
    return set(os.listdir(folder)) if os.path.isdir(folder) else set()


def _delete_rows_of_load(sql: Any, table: str, load_id: str) -> None:
    if not history.table_exists(sql, table):
        return
    qualified = sql.make_qualified_table_name(table)
    if sql.execute_sql(f"SELECT count(*) FROM {qualified} WHERE _dlt_load_id = %s", load_id)[0][0]:
        logger.info("Deleting the rows of %s that resumed load %s copied before it was killed.", qualified, load_id)
        sql.execute_sql(f"DELETE FROM {qualified} WHERE _dlt_load_id = %s", load_id)


def _drop_doubled_versions(pipeline: dlt.Pipeline, load_ids: Sequence[str]) -> None:
    """dlt resumes a half-loaded package by running its started jobs again, except those it recorded as
    done. It records a job after closing the job's connection, so a job killed after its commit but before
    that (DuckDB may checkpoint on close) copies its table into the staging dataset a second time, and the
    SCD2 merge, which does not deduplicate its staging table, inserts every new version twice. Such rows
    are identical in every column: each table keeps one of each among the rows the resumed loads inserted."""
    if history_mode(pipeline) != "scd2":
        return
    with pipeline.sql_client() as sql:
        for table in history_tables():
            if not history.table_exists(sql, table):
                continue
            qualified = sql.make_qualified_table_name(table)
            for load_id in load_ids:
                doubled = sql.execute_sql(
                    f"SELECT count(*) - (SELECT count(*) FROM (SELECT DISTINCT * FROM {qualified}"
                    f" WHERE _dlt_load_id = %s) AS d) FROM {qualified} WHERE _dlt_load_id = %s",
                    load_id, load_id,
                )[0][0]
                if not doubled:
                    continue
                logger.info("Dropping %d versions of %s inserted twice by resumed load %s.", doubled, table, load_id)
                with sql.begin_transaction():
                    sql.execute_sql(f"CREATE TEMPORARY TABLE segment_history_once AS SELECT DISTINCT * FROM {qualified}"
                                    " WHERE _dlt_load_id = %s", load_id)
                    sql.execute_sql(f"DELETE FROM {qualified} WHERE _dlt_load_id = %s", load_id)
                    sql.execute_sql(f"INSERT INTO {qualified} SELECT * FROM segment_history_once")
                    sql.execute_sql("DROP TABLE segment_history_once")


def _record_interrupted_run(pipeline: dlt.Pipeline) -> None:
    path = _pending_run_path(pipeline)
    if not os.path.exists(path):
        return
    with open(path, encoding="utf-8") as handle:
        record = json.load(handle)
    complete = record.pop("complete_tables")
    record.update(started_at=datetime.fromisoformat(record["started_at"]),
                  finished_at=datetime.fromisoformat(record["finished_at"]))
    result = RunResult(**{name: value for name, value in record.items() if name in RunResult.__dataclass_fields__})
    with pipeline.sql_client() as sql:
        loaded = history.table_exists(sql, "_dlt_loads") and sql.execute_sql(
            f"SELECT count(*) FROM {sql.make_qualified_table_name('_dlt_loads')} WHERE load_id = %s AND status = 0",
            result.run_id,
        )[0][0] > 0
        if loaded and history_mode(pipeline) == "scd2":
            # dlt finishes a half-loaded package by running its started jobs again, so rows of this run that
            # were appended may be there partially or twice: they are written again from scratch
            for table in ("snapshots", "config_changes"):
                if history.table_exists(sql, table):
                    sql.execute_sql(
                        f"DELETE FROM {sql.make_qualified_table_name(table)} WHERE run_id = %s", result.run_id
                    )
        elif loaded and history.table_exists(sql, "snapshots"):  # files are never rewritten: record once
            loaded = not sql.execute_sql(
                f"SELECT count(*) FROM {sql.make_qualified_table_name('snapshots')} WHERE run_id = %s",
                result.run_id,
            )[0][0]
    if not loaded:  # aborted before its load (or already recorded): nothing to add to the history
        _forget_pending_run(pipeline)
        return
    logger.info("Recording run %s, which was interrupted after its load.", result.run_id)
    _record_run(pipeline, result, complete, _RecordedRows(result.table_rows))
