"""A DuckDB destination stays open while a run is inside (`destination.kept_open`): the connections dlt and the
run open in between find the database open instead of opening the file again, and the file is free once the
run is over."""

from __future__ import annotations

import duckdb

from pipelines.destination import kept_open, make_pipeline
from pipelines.runner import RunOptions


def _default_order(pipeline) -> str:
    with pipeline.sql_client() as sql:
        order = sql.execute_sql("SELECT current_setting('default_order')")[0][0].lower()
    return "desc" if order.startswith("desc") else "asc"  # DuckDB says `ascending` by default, `desc` once set


def _set_default_order(pipeline, order: str) -> None:
    with pipeline.sql_client() as sql:  # a database-wide setting: it lives as long as the open database
        sql.execute_sql(f"SET GLOBAL default_order = '{order}'")


def test_connections_inside_find_the_database_open_and_the_file_is_free_after(tmp_path):
    path = str(tmp_path / "history.duckdb")
    pipeline = make_pipeline(RunOptions(duckdb_path=path, pipelines_dir=str(tmp_path / "pipelines")))

    _set_default_order(pipeline, "desc")
    assert _default_order(pipeline) == "asc", "outside, each connection opens the file anew"

    with kept_open(pipeline):
        _set_default_order(pipeline, "desc")
        assert _default_order(pipeline) == "desc", "inside, the next connection finds the same open database"

    with duckdb.connect(path, read_only=True) as other:  # would fail while the run's database is open
        assert other.execute("SELECT 1").fetchall() == [(1,)]


def test_a_destination_that_cannot_open_is_left_to_check_destination(tmp_path):
    options = RunOptions(duckdb_path=str(tmp_path / "no such folder" / "history.duckdb"),
                         pipelines_dir=str(tmp_path / "pipelines"))
    with kept_open(make_pipeline(options)):
        pass  # no error here: the run's check_destination says what is wrong, as before
