"""The run tables: `snapshots` (one row per run) and `config_changes` (the field-level change log).

They are loaded after the run's tables, in a second small load into the same dataset, with the bridges the
run learned (`bridges.new_bridge_rows`). A run killed between the two loads must still get its rows: so the
run keeps what it needs to write them (its pending-run record, bridge rows included) in a file beside the
run lock, written before its tables are loaded and removed once its `snapshots` row is; the next run
records it from there (see `recovery.loaded_unrecorded_run`).
"""

from __future__ import annotations

import json
import os
from typing import Any, Dict, List, Optional, Sequence

import dlt
from dlt.common.schema.typing import TTableSchemaColumns
from dlt.extract import DltResource

from .destination import loader_file_format

SNAPSHOTS, CONFIG_CHANGES = "snapshots", "config_changes"


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
    **_text_columns("run_id", "workspace_id", "status", "mode", "full_reason", "api"),
    "started_at": {"data_type": "timestamp"},
    "finished_at": {"data_type": "timestamp"},
    "table_rows": {"data_type": "json"},
    "complete_tables": {"data_type": "json"},
    "skipped_tables": {"data_type": "json"},
    "skipped_kinds": {"data_type": "json"},  # table -> outcome kind, what the change-driven window reads
    "requests": {"data_type": "json"},
}


def load_run_records(pipeline: dlt.Pipeline, snapshot_row: Dict[str, Any], changes: List[Dict[str, Any]],
                     other_tables: Sequence[DltResource] = ()) -> None:
    """Appends the run's `snapshots` row and its change log (the table is created even when empty), and
    loads `other_tables` in the same load."""
    resources = [
        dlt.resource([snapshot_row], name=SNAPSHOTS, write_disposition="append", columns=SNAPSHOT_COLUMNS),
        dlt.resource(changes or [dlt.mark.materialize_table_schema()], name=CONFIG_CHANGES,
                     write_disposition="append", columns=CHANGE_COLUMNS),
        *other_tables,
    ]
    load_synced(pipeline, resources, loader_file_format(pipeline))


def load_synced(pipeline: dlt.Pipeline, resources: Sequence[DltResource], file_format: Optional[str] = None) -> None:
    """One load of `resources` by a pipeline whose state was synced with the destination in this process
    (`recovery.recover_interrupted_run` does it before every run). `pipeline.run` would sync it once more
    (about a third of a small load's cost) and then extract, normalize and load, as here."""
    pipeline.extract(resources, loader_file_format=file_format)
    pipeline.normalize()
    pipeline.load().raise_on_failed_jobs()


def pending_run_path(pipelines_dir: str, pipeline_name: str) -> str:
    # outside dlt's working dir, which dlt wipes when it restores the state from the destination
    return os.path.join(pipelines_dir, f"{pipeline_name}.pending-run.json")


def _pending_run_path(pipeline: dlt.Pipeline) -> str:
    return pending_run_path(pipeline.pipelines_dir, pipeline.pipeline_name)


def save_pending_run(pipeline: dlt.Pipeline, record: Dict[str, Any]) -> None:
    """Kept on disk (written atomically) until the run's `snapshots` row is loaded."""
    path = _pending_run_path(pipeline)
    with open(path + ".tmp", "w", encoding="utf-8") as handle:
        json.dump(record, handle)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(path + ".tmp", path)


def pending_run(pipeline: dlt.Pipeline) -> Optional[Dict[str, Any]]:
    """The record of a run that ended before its `snapshots` row was loaded, if there is one."""
    return read_pending_run(_pending_run_path(pipeline))


def read_pending_run(path: str) -> Optional[Dict[str, Any]]:
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except FileNotFoundError:
        return None


def forget_pending_run(pipeline: dlt.Pipeline) -> None:
    try:
        os.remove(_pending_run_path(pipeline))
    except FileNotFoundError:
        pass
