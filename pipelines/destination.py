"""The destination a run writes to: dlt's pipeline for it, what it can do, and a check that it opens."""

from __future__ import annotations

import os
from typing import Any, Dict, Optional, Protocol

import dlt


class Place(Protocol):
    """Where a run writes (the runner's options have these fields)."""

    destination: str
    duckdb_path: str
    dataset_name: str
    pipeline_name: str
    pipelines_dir: Optional[str]


class DestinationUnavailable(RuntimeError):
    """The destination could not be opened before the run started."""


def make_pipeline(options: Place) -> dlt.Pipeline:
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


def history_mode(pipeline: dlt.Pipeline) -> str:
    """SCD2 where the destination can merge that way; full snapshots appended elsewhere (files)."""
    strategies = pipeline.destination.capabilities().supported_merge_strategies or []
    return "scd2" if "scd2" in strategies else "snapshots"


def loader_file_format(pipeline: dlt.Pipeline) -> Optional[str]:
    # parquet loads into DuckDB 20-30x faster than insert_values (DLT_NOTES); other SQL
    # destinations keep their own preferred format
    return "parquet" if pipeline.destination.destination_name in ("duckdb", "filesystem") else None


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
