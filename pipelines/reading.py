"""Opening the history for reading, from the destination alone.

A machine that holds nothing but the destination (a CI runner, a laptop with a copy of the DuckDB file)
has no dlt working directory, so no schema. dlt's dataset reads the schema the loads stored in the
destination instead: without it the filesystem destination, whose tables are views over files, would
show no table at all, and nothing would say which columns hold JSON.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Iterator, Set

from .runner import RunOptions, history_mode, make_pipeline


@dataclass
class History:
    sql: Any  # dlt's SQL client of the destination, with the dataset's tables visible
    mode: str  # "scd2" (validity columns) or "snapshots" (every run appended in full, with `snapshot_at`)
    schema: Any  # the dlt schema stored with the data

    def json_columns(self, table: str) -> Set[str]:
        columns = self.schema.tables.get(table, {}).get("columns", {})
        return {name for name, column in columns.items() if column.get("data_type") == "json"}


@contextmanager
def open_history(options: RunOptions) -> Iterator[History]:
    if options.destination == "duckdb" and not os.path.exists(options.duckdb_path):
        raise ValueError(f"No history at {os.path.abspath(options.duckdb_path)}: run `segment-history run` first,"
                         " or point --duckdb-path at the file it wrote.")
    pipeline = make_pipeline(options)
    with pipeline.dataset() as dataset:
        yield History(dataset.sql_client, history_mode(pipeline), dataset.schema)
