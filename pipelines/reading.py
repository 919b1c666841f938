"""Opening the history for reading, from the destination alone.

A machine that holds nothing but the destination (a CI runner, a laptop with a copy of the DuckDB file, a
bucket whose writer's dlt working directory is gone) has no dlt working directory, so no schema. dlt's
dataset reads the schema the loads stored in the destination instead: without it the filesystem
destination, whose tables are views over files, would show no table at all, and nothing would say which
columns hold JSON. Reading never creates anything: not the DuckDB file, not a dataset, not a working
directory.
"""

from __future__ import annotations

import os
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from typing import Any, Iterator, Set, Tuple

import dlt
from dlt.common.configuration.exceptions import ConfigurationException
from dlt.common.destination import Destination
from dlt.common.exceptions import MissingDependencyException

from .errors import DestinationUnavailable, NoHistory, cause_of
from .history import table_exists
from .runner import RunOptions

# the dlt schema the source's tables (and the run's own `snapshots` and `config_changes`) are loaded with
SCHEMA_NAME = "segment"


@dataclass
class History:
    sql: Any  # dlt's SQL client of the destination, with the dataset's tables visible
    mode: str  # "scd2" (validity columns) or "snapshots" (every run appended in full, with `snapshot_at`)
    schema: Any  # the dlt schema stored with the data
    where: str  # the place, as messages name it (a path, a bucket, a destination)

    def json_columns(self, table: str) -> Set[str]:
        columns = self.schema.tables.get(table, {}).get("columns", {})
        return {name for name, column in columns.items() if column.get("data_type") == "json"}


@contextmanager
def open_history(options: RunOptions) -> Iterator[History]:
    """The history in the destination and dataset of `options`; NoHistory if no run ever completed there,
    DestinationUnavailable if the destination cannot be opened."""
    reference, where = _destination(options)
    destination = Destination.from_reference(reference)
    with ExitStack() as stack:
        try:
            dataset = dlt.dataset(destination, options.dataset_name, schema=SCHEMA_NAME)
            (schema,) = dataset.schemas
            sql = stack.enter_context(dataset.sql_client)
        except (ConfigurationException, MissingDependencyException):
            raise  # what to configure or install: a usage error
        except Exception as exc:  # noqa: BLE001 - every driver raises its own kind
            raise DestinationUnavailable(f"Cannot open the history at {where}: {cause_of(exc)}") from exc
        if not table_exists(sql, "snapshots"):
            raise NoHistory(
                f"No history at {where}: no snapshot was ever loaded there. Check --destination,"
                " --duckdb-path and --dataset-name (and run `segment-history run` first)."
            )
        merges = destination.capabilities().supported_merge_strategies or []
        yield History(sql, "scd2" if "scd2" in merges else "snapshots", schema, where)


def _destination(options: RunOptions) -> Tuple[Any, str]:
    """The destination to read, and how messages name it; a DuckDB file that is not there is not created."""
    if options.destination != "duckdb":
        bucket = dlt.config.get("destination.filesystem.bucket_url") if options.destination == "filesystem" else None
        where = bucket or f"the {options.destination} destination"
        return options.destination, f"{where} (dataset {options.dataset_name})"
    path = os.path.abspath(options.duckdb_path)
    if not os.path.isfile(path):
        raise NoHistory(f"No history at {path}: there is no such file. Check --duckdb-path.")
    return dlt.destinations.duckdb(path), f"{path} (dataset {options.dataset_name})"
