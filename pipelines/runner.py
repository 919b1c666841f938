"""One snapshot run: extract, drop incomplete tables, load as SCD2, then record changes and the run.

    recover what a killed run left (`recovery`)
      ->  GET / (which workspace), and for `--mode changes` the plan from the audit trail (`change_runs`)
      ->  extract (dlt rest_api, concurrent; in a process of its own: `extraction`)
      ->  discard tables the report marks incomplete (`package`)
      ->  normalize + load (SCD2 per workspace, audit events merged on id)
      ->  config_changes + snapshots, and new bridges (`run_records`: a second, small load into the same dataset)
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from typing import Any, ContextManager, Dict, List, Optional, Sequence

import dlt

from segment_source import ExtractionReport, open_session, segment_source, source_settings
from segment_source.changes import endpoints_to_read
from segment_source.config_api import config_api_source, open_config_api
from segment_source.config_api.endpoints import select as config_endpoints
from segment_source.identity import Identities
from segment_source.client import SegmentSession
from segment_source.endpoints import WORKSPACE_TABLE, history_tables, select_endpoints, tables as all_tables
from segment_source.outcomes import Kind, kind_of_skip
from segment_source.workspace import fetch_workspace

from . import change_runs, config, history
from .destination import (  # noqa: F401 - make_pipeline, check_destination, DestinationUnavailable: public here
    DestinationUnavailable,
    OpenDatabase,
    check_destination,
    history_mode,
    kept_open,
    loader_file_format,
    make_pipeline,
    removed_if_left_empty,
    target_of,
)
from .extraction import can_fork, extract_in_child
from .interrupts import interrupts_as_keyboard_interrupt, is_interrupt
from .lock import run_lock
from .memory import is_large, keep_fewer_rows_in_writers, load, normalize
from .package import discard_tables, with_dependent_tables
from .progress import show_progress
from .recovery import (  # noqa: F401 - unfinished_extractions: public here
    forget_loaded_packages,
    recover_interrupted_run,
    unfinished_elsewhere,
    unfinished_extractions,
)
from .bridges import bridge_resources, move_to_public_ids, new_bridge_rows, read_bridges
from .run_records import forget_pending_run, load_run_records, save_pending_run

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
    api: Optional[str] = None  # public (default) | config: the legacy Config API (`segment_source.config_api`)
    workspace_slug: Optional[str] = None  # with the Config API: which workspace, when the token sees several


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
    api: str = "public"  # which API the run read

    @property
    def partial(self) -> bool:
        """True when a table could not be read for another reason than a lasting gap (a permission or a
        feature the token or plan lacks)."""
        return any(kind_of_skip(reason, self.skipped_kinds.get(table)) is not Kind.LASTING_GAP
                   for table, reason in self.skipped.items())

    def snapshot_row(self, complete: List[str]) -> Dict[str, Any]:
        """The run's row of the `snapshots` table."""
        return {
            "run_id": self.run_id,
            "workspace_id": self.workspace_id,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "status": "partial" if self.skipped else "complete",
            "mode": self.mode,
            "api": self.api,
            "full_reason": self.full_reason,
            "table_rows": self.table_rows,
            "complete_tables": complete,
            "skipped_tables": self.skipped,
            "skipped_kinds": self.skipped_kinds,
            "changes": self.changes,
            "requests": self.requests,
        }

    def to_record(self) -> Dict[str, Any]:
        """As JSON for the pending-run record (`run_records.save_pending_run`)."""
        record = {name: getattr(self, name) for name in self.__dataclass_fields__}
        record.update(started_at=self.started_at.isoformat(), finished_at=self.finished_at.isoformat())
        return record

    @classmethod
    def from_record(cls, record: Dict[str, Any]) -> "RunResult":
        fields = {name: value for name, value in record.items() if name in cls.__dataclass_fields__}
        fields.update(started_at=datetime.fromisoformat(record["started_at"]),
                      finished_at=datetime.fromisoformat(record["finished_at"]))
        return cls(**fields)


class _RecordedRows:
    """The row counts `_record_history` reads from an ExtractionReport, for a run recorded from its record."""

    def __init__(self, table_rows: Dict[str, int]) -> None:
        self.table_rows = table_rows

    def rows(self, table: str) -> int:
        return self.table_rows.get(table, 0)


def _run_lock(options: RunOptions) -> ContextManager[None]:
    # taken before dlt.pipeline(): two processes creating the pipeline's working folder at once race in dlt
    return run_lock(options)


def _source_kwargs(options: RunOptions) -> Dict[str, Any]:
    """Only what the user set: everything else comes from .dlt/config.toml, env or the defaults."""
    names = ("access_token", "region", "base_url", "resources", "groups", "max_concurrency",
             "requests_per_minute", "keep_write_keys", "page_size")
    return {name: getattr(options, name) for name in names if getattr(options, name) is not None}


def _public_api_session(settings: Any, report: ExtractionReport, session: Optional[SegmentSession]) -> SegmentSession:
    if session is None:
        return open_session(settings, report)
    session.headers["Authorization"] = f"Bearer {settings.access_token}"
    return session


def _config_source_kwargs(options: RunOptions) -> Dict[str, Any]:
    names = ("access_token", "base_url", "workspace_slug", "max_concurrency", "requests_per_minute")
    return {name: getattr(options, name) for name in names if getattr(options, name) is not None}


@dataclass
class WorkspaceRun:
    """What became of one workspace of a run: its result, or the error that stopped it. A configured
    workspace is named by its entry in `[[sources.segment.workspaces]]` (position from 1, and its `name`
    if it has one), never by its token."""

    entry: Optional[int] = None  # None: the single token's workspace
    name: Optional[str] = None
    result: Optional[RunResult] = None
    error: Optional[Exception] = None

    @property
    def label(self) -> str:
        if self.entry is None:
            return "the workspace"
        return f"workspace entry {self.entry}" + (f" ({self.name!r})" if self.name else "")

    def result_or_raise(self) -> RunResult:
        if self.error is not None:
            raise self.error
        assert self.result is not None
        return self.result


def run_snapshot(options: RunOptions, session: Optional[SegmentSession] = None) -> RunResult:
    """One snapshot of the workspace of `options.access_token` (or of the configuration's token)."""
    with _run_lock(options), removed_if_left_empty(options), interrupts_as_keyboard_interrupt():
        pipeline = make_pipeline(options)
        with kept_open(pipeline) as database:
            check_destination(pipeline)
            _report_unfinished_elsewhere(options)
            _recover(pipeline)
            return _snapshot_run(pipeline, options, session, database)


def configured_workspaces() -> List[Dict[str, Any]]:
    """`[[sources.segment.workspaces]]` entries (access_token, region, base_url, an optional name)."""
    entries = dlt.secrets.get("sources.segment.workspaces") or []
    if isinstance(entries, str):
        entries = json.loads(entries)
    if not isinstance(entries, list) or not all(isinstance(e, dict) and e.get("access_token") for e in entries):
        raise ValueError("sources.segment.workspaces must be a list of tables, each with an access_token.")
    return entries


def workspace_keys(entries: Sequence[Dict[str, Any]]) -> List[str]:
    """How an orchestrator names each configured workspace (a Dagster partition, an Airflow task group):
    its entry's `name`, else `workspace-<position>`; never its token."""
    keys = [str(entry.get("name") or f"workspace-{position}") for position, entry in enumerate(entries, start=1)]
    repeated = sorted({key for key in keys if keys.count(key) > 1})
    if repeated:
        raise ValueError(f"sources.segment.workspaces: the name {repeated[0]!r} is used twice; give each"
                         " workspace a name of its own.")
    return keys


def workspace_entry(entries: Sequence[Dict[str, Any]], key: str) -> Dict[str, Any]:
    """The configured workspace an orchestrator names `key` (see `workspace_keys`)."""
    keys = workspace_keys(entries)
    if key not in keys:
        raise ValueError(f"sources.segment.workspaces has no workspace named {key!r} (it has {', '.join(keys)});"
                         " reload the orchestrator's definitions after changing the list.")
    return entries[keys.index(key)]


def run_workspaces(options: RunOptions) -> List[WorkspaceRun]:
    """A snapshot of every configured workspace into the one dataset (or of the single token's). Each
    configured workspace succeeds or fails on its own: one that fails is reported and the next is tried.
    A failure of the whole run (destination, lock, configuration, the single token's workspace) raises."""
    entries = [] if options.access_token else configured_workspaces()
    if not entries:
        return [WorkspaceRun(result=run_snapshot(options))]
    runs = []
    with _run_lock(options), removed_if_left_empty(options), interrupts_as_keyboard_interrupt():
        pipeline = make_pipeline(options)
        with kept_open(pipeline) as database:
            check_destination(pipeline)
            _report_unfinished_elsewhere(options)
            for position, entry in enumerate(entries, start=1):
                run = WorkspaceRun(entry=position, name=entry.get("name"))
                try:
                    _recover(pipeline)  # also what the previous workspace's failure left
                    run.result = _snapshot_run(pipeline, entry_options(options, entry), None, database)
                except Exception as exc:  # noqa: BLE001 - reported per workspace by the caller
                    if is_interrupt(exc):
                        raise
                    logger.debug("%s failed", run.label, exc_info=exc)
                    run.error = exc
                runs.append(run)
    return runs


def run_snapshots(options: RunOptions) -> List[RunResult]:
    """`run_workspaces`, as results: the first workspace's failure is raised once every one was tried."""
    return [run.result_or_raise() for run in run_workspaces(options)]


def entry_options(options: RunOptions, entry: Dict[str, Any]) -> RunOptions:
    return replace(
        options,
        access_token=entry["access_token"],
        region=entry.get("region", options.region),
        base_url=entry.get("base_url", options.base_url),
    )


def _report_unfinished_elsewhere(options: RunOptions) -> None:
    for note in unfinished_elsewhere(target_of(options)):
        logger.warning(note)


def _recover(pipeline: dlt.Pipeline) -> None:
    """What a killed or failed run left is finished (or undone) and recorded."""
    record = recover_interrupted_run(pipeline)
    if record is not None:
        complete, bridges = record.pop("complete_tables"), record.pop("bridges", {})
        result = RunResult.from_record(record)
        _record_run(pipeline, result, complete, _RecordedRows(result.table_rows), bridges)


def _snapshot_run(pipeline: dlt.Pipeline, options: RunOptions, session: Optional[SegmentSession],
                  database: OpenDatabase) -> RunResult:
    started = datetime.now(timezone.utc)
    report = ExtractionReport()
    mode = history_mode(pipeline)
    changes_wanted = options.mode == "changes" and mode == "scd2"
    every = config.full_snapshot_every(options.full_snapshot_every) if changes_wanted else 0
    settings = source_settings(**_source_kwargs(options))
    change_plan, full_reason = None, None
    api = options.api or "public"
    known_bridges = read_bridges(pipeline)
    identities = Identities(known_bridges)
    if api == "config":
        session, base, workspace = open_config_api(**_config_source_kwargs(options))
        if options.mode == "changes":
            full_reason = "the Config API has no audit trail to plan a change-driven run from"
        source = config_api_source(session, base, workspace, report, resources=options.resources,
                                   keep_write_keys=bool(options.keep_write_keys), snapshot_time=started,
                                   history_mode=mode, identities=identities)
    else:
        session = _public_api_session(settings, report, session)
        workspace = fetch_workspace(session, settings.host, settings.region)
        if changes_wanted:
            change_plan, full_reason = change_runs.plan_run(pipeline, session, settings.host, workspace, started,
                                                            every)
        elif options.mode == "changes":
            full_reason = "the destination keeps full snapshots (it cannot merge SCD2 history)"
        source = segment_source(settings, workspace, session, report, plan=change_plan, snapshot_time=started,
                                history_mode=mode, identities=identities)

    load_ids = _extract(pipeline, source, options, session, report, identities)
    skipped_outcomes = with_dependent_tables(report.skipped_tables())
    skipped = {table: outcome.reason for table, outcome in skipped_outcomes.items()}
    discard_tables(pipeline, load_ids, skipped)
    run_id = load_ids[-1]

    selected_tables = _selected_tables(settings.resources, settings.groups, api)
    if change_plan is not None:
        endpoints_read = endpoints_to_read(settings.resources, settings.groups, change_plan)
        read = change_runs.tables_it_may_change(endpoints_read)
        selected_tables = [t for t in selected_tables if t in read]
    complete = [t for t in selected_tables if t not in skipped]
    result = RunResult(
        run_id=run_id,
        workspace_id=workspace["id"],
        workspace_name=workspace.get("name", ""),
        started_at=started,
        finished_at=started,  # set with `changes` by `_record_run`, after the load
        table_rows={t: report.rows(t) for t in selected_tables},
        skipped=skipped,
        changes=0,
        requests={**session.stats.as_dict(),
                  "rate_limit_wait_seconds": round(session.rate_limiter.waited_seconds, 2),
                  "not_needed": report.unneeded_requests()},
        mode="changes" if change_plan is not None else "full",
        full_reason=full_reason,
        skipped_kinds={table: outcome.kind.value for table, outcome in skipped_outcomes.items()},
        api=api,
    )
    bridges = new_bridge_rows(identities.bridge_rows(workspace["id"]), skipped, known_bridges)
    save_pending_run(pipeline, {**result.to_record(), "complete_tables": complete, "bridges": bridges})
    if mode == "scd2":
        move_to_public_ids(pipeline, identities.rekeyed, workspace["id"])
    extracted_rows = sum(report.rows(table) for table in selected_tables)
    if is_large(extracted_rows):
        database.release()  # a large load's peak is lower in a database opened for it (memory.py)
    normalize(pipeline, extracted_rows)
    load_info = load(pipeline)
    load_info.raise_on_failed_jobs()
    if change_plan is not None:
        with pipeline.sql_client() as sql:
            snapshot = _snapshot(sql, run_id, workspace["id"], started, mode, api)
            change_runs.retire_unseen(sql, change_plan, report, endpoints_read, skipped, snapshot)
    return _record_run(pipeline, result, complete, report, bridges)


def _extract(pipeline: dlt.Pipeline, source: Any, options: RunOptions, session: SegmentSession,
             report: ExtractionReport, identities: Identities) -> List[str]:
    """Extracts the source into a new package, in a forked process of its own where `extraction.can_fork`
    allows (Linux, the main thread, outside an orchestrator's task); returns the load ids."""
    workers = config.max_concurrency(options.max_concurrency)  # threads enough for the session's ceiling
    keep_fewer_rows_in_writers()

    def extract() -> List[str]:
        with show_progress(report, options.progress, session=session):
            return pipeline.extract(source, workers=workers, max_parallel_items=workers,
                                    loader_file_format=loader_file_format(pipeline)).loads_ids

    if not can_fork():
        return extract()
    learned = (report, identities, session.stats, session.concurrency, session.rate_limiter)
    return extract_in_child(pipeline, extract, learned)


def _record_run(pipeline: dlt.Pipeline, result: RunResult, complete: List[str], report: Any,
                bridges: Dict[str, List[Dict[str, Any]]]) -> RunResult:
    """The change log and the `snapshots` row of a loaded run (also of one a killed process loaded), loaded
    with the bridges the run learned (`bridges.new_bridge_rows`)."""
    mode = history_mode(pipeline)
    with pipeline.sql_client() as sql:  # one connection for both: opening DuckDB is a fixed cost of its own
        snapshot = _snapshot(sql, result.run_id, result.workspace_id, result.started_at, mode, result.api)
        changes = _record_history(sql, pipeline.default_schema, report, complete, snapshot,
                                  partial_read=result.mode == "changes")
    result = replace(result, finished_at=datetime.now(timezone.utc), changes=len(changes))
    load_run_records(pipeline, result.snapshot_row(complete), changes, bridge_resources(bridges))
    forget_pending_run(pipeline)
    forget_loaded_packages(pipeline)
    return result




def _selected_tables(resources: Optional[Sequence[str]], groups: Optional[Sequence[str]],
                     api: str = "public") -> List[str]:
    if api == "config":
        selected = {e.table_name for e in config_endpoints(list(resources) if resources else None)}
    else:
        selected = {e.table_name for e in select_endpoints(resources, groups)}
    return [t for t in all_tables() if t == WORKSPACE_TABLE or t in selected]


def _snapshot(sql: Any, run_id: str, workspace_id: str, started: datetime, mode: str, api: str = "public"
              ) -> history.Snapshot:
    previous = history.previous_snapshot_time(sql, workspace_id, started)
    before = history.previous_api(sql, workspace_id, started)
    return history.Snapshot(run_id=run_id, workspace_id=workspace_id, boundary=started, previous=previous, mode=mode,
                            switched_api=before is not None and before != api)


def _record_history(
    sql: Any, schema: Any, report: ExtractionReport, complete: List[str], snapshot: history.Snapshot,
    partial_read: bool = False,
) -> List[Dict[str, Any]]:
    changes: List[Dict[str, Any]] = []
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
