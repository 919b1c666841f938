"""Crash recovery: what a killed run left in dlt's working folder and in the destination, put right.

Every step here operates on dlt's internal folders and load packages, or repairs what dlt does when it
resumes a load. Each names the dlt behaviour it works around. `recover_interrupted_run` runs them in order,
holding the run lock, before a run reads anything:

    abort extracted packages  ->  delete unfinished extractions  ->  delete half-moved jobs
      ->  undo unrecorded copies  ->  finish the normalized packages' load  ->  drop doubled SCD2 versions
      ->  state from the destination  ->  the run that was loaded but not recorded, for the runner to record
"""

from __future__ import annotations

import logging
import os
import re
import shutil
from typing import Any, Dict, List, Optional, Sequence, Set

import dlt
from dlt.common.schema.utils import get_write_disposition
from dlt.common.storages.load_package import PackageStorage
from dlt.common.storages.load_storage import LoadStorage
from dlt.common.storages.normalize_storage import NormalizeStorage

from segment_source.endpoints import history_tables

from . import history
from .destination import Target, history_mode, other_targets
from .lock import is_running
from .run_records import (
    CONFIG_CHANGES,
    SNAPSHOTS,
    forget_pending_run,
    pending_run,
    pending_run_path,
    read_pending_run,
)

logger = logging.getLogger("segment_history")


def recover_interrupted_run(pipeline: dlt.Pipeline) -> Optional[Dict[str, Any]]:
    """Leaves the pipeline with nothing pending and the destination as if the killed run had either not
    happened (killed before its load) or finished its load. Returns the pending-run record of a run whose
    tables were loaded but whose `snapshots` row and change log were not: the runner records it."""
    abort_extracted_packages(pipeline)
    delete_unfinished_extractions(pipeline)
    resumed = pipeline.list_normalized_load_packages()
    if resumed:
        delete_half_moved_jobs(pipeline, resumed)
        undo_unrecorded_copies(pipeline, resumed)
        pipeline.load()
        drop_doubled_versions(pipeline, resumed)
    # dlt keeps the pipeline state in the destination too: a fresh machine (or a CI runner) resumes the
    # audit trail where the last run stopped
    pipeline.sync_destination()
    return loaded_unrecorded_run(pipeline)


def abort_extracted_packages(pipeline: dlt.Pipeline) -> None:
    """dlt normalizes and loads every pending package on the next `normalize()`/`load()`, whoever calls
    them (https://github.com/dlt-hub/dlt/issues/3227). A package killed after extraction may still hold
    tables the run would have discarded as incomplete (`package.discard_tables` runs after extraction):
    it is aborted instead, and dlt restores the local state from before it."""
    if pipeline.list_extracted_load_packages():
        pipeline.abort_packages()


def unfinished_extractions(pipeline: dlt.Pipeline) -> List[str]:
    """dlt extracts into a folder of its own under normalize/ and moves the package out when extraction
    ends; a run killed before that leaves the folder behind, and no dlt command ever removes it."""
    extract_dir = os.path.join(pipeline.working_dir, "normalize")
    names = os.listdir(extract_dir) if os.path.isdir(extract_dir) else []
    return [os.path.join(extract_dir, name) for name in names
            if name != NormalizeStorage.EXTRACTED_FOLDER and os.path.isdir(os.path.join(extract_dir, name))]


def delete_unfinished_extractions(pipeline: dlt.Pipeline) -> None:
    for path in unfinished_extractions(pipeline):
        logger.info("Deleting %s, left by a run killed while it read the API.", path)
        shutil.rmtree(path, ignore_errors=True)


# the temporary name dlt copies a file under (`dlt.common.utils.uniq_id()`: 16 random bytes in hex)
_COPY_IN_PROGRESS = re.compile(r"[0-9a-f]{32}")


def delete_half_moved_jobs(pipeline: dlt.Pipeline, load_ids: Sequence[str]) -> None:
    """dlt writes a follow-up job (an SCD2 merge's SQL) to the temporary folder and moves it into its package's
    new jobs. Where that folder is on another device than the pipeline's, the move is a copy under a temporary
    name, renamed when complete (`FileStorage.move_atomic_to_file`). A run killed during the copy leaves the
    temporary file among the jobs, and dlt can no longer read the package (`TerminalValueError` on the next
    load). The job that was completing stays started, so the resumed load completes it and writes its follow-up
    again: the half copy is deleted."""
    for load_id in load_ids:
        folder = os.path.join(_normalized_folder(pipeline.working_dir), load_id, PackageStorage.NEW_JOBS_FOLDER)
        names = os.listdir(folder) if os.path.isdir(folder) else []
        for name in filter(_COPY_IN_PROGRESS.fullmatch, names):
            logger.info("Deleting %s, a job half copied into load %s when its run was killed.", name, load_id)
            os.remove(os.path.join(folder, name))


def undo_unrecorded_copies(pipeline: dlt.Pipeline, load_ids: Sequence[str]) -> None:
    """dlt resumes a half-loaded package by running its started jobs again, except those it recorded as
    done or whose commit it noted in the package's pending transitions
    (https://github.com/dlt-hub/dlt/pull/3767). A copy killed between its commit and that note copies its
    rows a second time (https://github.com/dlt-hub/dlt/issues/4052): into the staging dataset for a merged
    table, into the table itself for an append (dlt's state, `snapshots`, `config_changes`). PostgreSQL
    refuses the second copy (`_dlt_id` is unique), so the load could never finish. Such a table's rows of
    the load are deleted first, unless one of its copies in the package is done or noted (then
    `drop_doubled_versions` is the remedy)."""
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


def drop_doubled_versions(pipeline: dlt.Pipeline, load_ids: Sequence[str]) -> None:
    """dlt records a finished job after closing the job's connection, so a job killed after its commit but
    before that (DuckDB may checkpoint on close) is run again on resume and copies its table into the
    staging dataset a second time; the SCD2 merge does not deduplicate its staging table, so it inserts
    every new version twice (https://github.com/dlt-hub/dlt/issues/3023). Such rows are identical in every
    column: each table keeps one of each among the rows the resumed loads inserted."""
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


def loaded_unrecorded_run(pipeline: dlt.Pipeline) -> Optional[Dict[str, Any]]:
    """The pending-run record of a run whose tables were loaded (by itself or by the recovery above) but
    whose `snapshots` row was not; a run killed before its load is forgotten. On SCD2 destinations the
    run's rows already in `snapshots` and `config_changes` are deleted, to be written again whole: dlt
    resumes a half-loaded package by running its started jobs again, so its appended rows may be there in
    part or twice (https://github.com/dlt-hub/dlt/issues/4052). Files are never rewritten: a run already
    in `snapshots` there counts as recorded."""
    record = pending_run(pipeline)
    if record is None:
        return None
    run_id = record["run_id"]
    with pipeline.sql_client() as sql:
        loaded = history.table_exists(sql, "_dlt_loads") and sql.execute_sql(
            f"SELECT count(*) FROM {sql.make_qualified_table_name('_dlt_loads')} WHERE load_id = %s AND status = 0",
            run_id,
        )[0][0] > 0
        if loaded and history_mode(pipeline) == "scd2":
            for table in (SNAPSHOTS, CONFIG_CHANGES):
                if history.table_exists(sql, table):
                    sql.execute_sql(f"DELETE FROM {sql.make_qualified_table_name(table)} WHERE run_id = %s", run_id)
        elif loaded and history.table_exists(sql, SNAPSHOTS):
            loaded = not sql.execute_sql(
                f"SELECT count(*) FROM {sql.make_qualified_table_name(SNAPSHOTS)} WHERE run_id = %s", run_id,
            )[0][0]
    if not loaded:
        forget_pending_run(pipeline)
        return None
    logger.info("Recording run %s, which was interrupted after its load.", run_id)
    return record


def forget_loaded_packages(pipeline: dlt.Pipeline) -> None:
    """dlt moves each loaded package to load/loaded/ and, with `[load] delete_completed_jobs`, deletes only
    its job files: the package's schema, state and metadata stay for good, about 200 KB a run here
    (https://github.com/dlt-hub/dlt/issues/2005,
    https://dlthub.com/docs/running-in-production/running#data-left-behind).
    The destination holds all of it, so loaded packages are deleted too, unless a job of theirs failed (its
    error is kept to look at) or `delete_completed_jobs = false` asks to keep everything for debugging."""
    if not dlt.config.get("load.delete_completed_jobs", bool):
        return
    storage = pipeline._get_load_storage()  # dlt has no public call that deletes a loaded package
    for load_id in pipeline.list_completed_load_packages():
        if not pipeline.list_failed_jobs_in_package(load_id):
            storage.delete_loaded_package(load_id)


def unfinished_elsewhere(target: Target) -> List[str]:
    """One line for each other target of the pipeline that holds a run which did not finish: what it is,
    where its data waits and how to finish it. Only a run into that target loads it (see destination.py);
    a target another process is running into is not reported."""
    notes = []
    for other in other_targets(target):
        working_dir = os.path.join(other.folder, other.pipeline_name)
        record = read_pending_run(pending_run_path(other.folder, other.pipeline_name))
        if not (_normalized_packages(working_dir) or record) or is_running(other.folder, other.pipeline_name):
            continue
        workspace = f" of workspace {record['workspace_name']!r} ({record['workspace_id']})" if record else ""
        notes.append(
            f"A run{workspace} did not finish: its data for {other.describe()} waits in {working_dir}; the next"
            f" run into that destination and dataset loads it ({other.run_command()}); delete that folder to"
            " discard it."
        )
    base, name = target.base_pipelines_dir, target.pipeline_name
    legacy, legacy_record = os.path.join(base, name), pending_run_path(base, name)
    if _normalized_packages(legacy) or os.path.exists(legacy_record):
        notes.append(
            f"An earlier version of segment-history left a run that did not finish in {legacy}, without recording"
            f" its destination, so it is loaded nowhere: if it belongs to {target.describe()}, move that folder"
            f" and {legacy_record} (if there is one) into {target.folder}, replacing what is there, before the"
            " next run; otherwise delete them."
        )
    return notes


def _normalized_folder(working_dir: str) -> str:
    return os.path.join(working_dir, "load", LoadStorage.NORMALIZED_FOLDER)


def _normalized_packages(working_dir: str) -> List[str]:
    folder = _normalized_folder(working_dir)
    return os.listdir(folder) if os.path.isdir(folder) else []
