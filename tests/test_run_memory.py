"""What a run does to keep its peak memory down (`pipelines/memory.py`): destination pages small enough to
parse at once, and loads into DuckDB with no more jobs at once than cores, sharing DuckDB's threads."""

from __future__ import annotations

import os

from segment_emulator import generate_workspace

from pipelines.runner import run_snapshot

RESOURCES = ["destinations", "destination_filters"]


def load_workers_of_runs(monkeypatch) -> list:
    """The number of load jobs at once of each dlt load of the runs (the run's and its run records')."""
    from dlt.load.load import Load

    seen, init = [], Load.__init__

    def recorded(self, *args, **kwargs):
        init(self, *args, **kwargs)
        seen.append(self.config.workers)

    monkeypatch.setattr(Load, "__init__", recorded)
    return seen


def test_destinations_are_read_in_pages_of_250(start_emulator, options_for):
    api = start_emulator(generate_workspace(seed=95, scale="tiny"))
    run_snapshot(options_for(api, resources=RESOURCES))
    counts = {tuple(r.query.get("pagination.count", [])) for r in api.requests if r.path == "/destinations"}
    assert counts == {("250",)}


def test_a_load_into_duckdb_runs_no_more_jobs_at_once_than_cores(start_emulator, options_for, monkeypatch):
    api = start_emulator(generate_workspace(seed=96, scale="tiny"))
    workers = load_workers_of_runs(monkeypatch)
    run_snapshot(options_for(api, resources=RESOURCES))
    assert workers[0] == min(20, os.cpu_count() or 1)


def test_a_configured_number_of_load_workers_wins(start_emulator, options_for, monkeypatch):
    api = start_emulator(generate_workspace(seed=97, scale="tiny"))
    monkeypatch.setenv("LOAD__WORKERS", "3")
    workers = load_workers_of_runs(monkeypatch)
    run_snapshot(options_for(api, resources=RESOURCES))
    assert workers[0] == 3


def duckdb_threads_of_loads(monkeypatch) -> list:
    """DuckDB's `threads` on each connection the runs' dlt loads open."""
    from dlt.destinations.impl.duckdb.sql_client import DuckDbSqlClient
    from dlt.pipeline.pipeline import Pipeline

    seen, loading, open_connection, load = [], [], DuckDbSqlClient.open_connection, Pipeline.load

    def recorded(self, *args, **kwargs):
        connection = open_connection(self, *args, **kwargs)
        if loading:
            seen.append(int(connection.execute("select current_setting('threads')").fetchone()[0]))
        return connection

    def flagged(self, *args, **kwargs):
        loading.append(True)
        try:
            return load(self, *args, **kwargs)
        finally:
            loading.pop()

    monkeypatch.setattr(DuckDbSqlClient, "open_connection", recorded)
    monkeypatch.setattr(Pipeline, "load", flagged)
    return seen


def test_the_load_jobs_at_once_share_duckdbs_threads(start_emulator, options_for, monkeypatch):
    api = start_emulator(generate_workspace(seed=98, scale="tiny"))
    threads = duckdb_threads_of_loads(monkeypatch)
    run_snapshot(options_for(api, resources=RESOURCES))
    cores = os.cpu_count() or 1
    assert threads and set(threads) == {max(1, cores // min(20, cores))}


def order_of_release_and_loads(monkeypatch) -> list:
    """"release" when the run lets go of the DuckDB database it holds open, "load" at each dlt load."""
    from dlt.pipeline.pipeline import Pipeline

    from pipelines.destination import OpenDatabase

    seen, release, load = [], OpenDatabase.release, Pipeline.load

    def released(self):
        if self._client is not None:
            seen.append("release")
        release(self)

    def loaded(self, *args, **kwargs):
        seen.append("load")
        return load(self, *args, **kwargs)

    monkeypatch.setattr(OpenDatabase, "release", released)
    monkeypatch.setattr(Pipeline, "load", loaded)
    return seen


def test_a_large_run_loads_into_a_database_opened_for_its_load(start_emulator, options_for, monkeypatch, tmp_path):
    """DuckDB held open from step to step keeps its memory: a large run lets go of it before normalize, and
    normalizes in worker processes; a small run keeps it open to the end. Both load the same rows."""
    from pipelines import memory

    small_api = start_emulator(generate_workspace(seed=99, scale="tiny"))
    small = order_of_release_and_loads(monkeypatch)
    small_result = run_snapshot(options_for(small_api, resources=RESOURCES))
    assert small[-1] == "release" and small.count("release") == 1

    monkeypatch.setattr(memory, "LARGE_RUN_ROWS", 1)
    large_api = start_emulator(generate_workspace(seed=99, scale="tiny"))
    large = order_of_release_and_loads(monkeypatch)
    large_result = run_snapshot(options_for(large_api, resources=RESOURCES, duckdb_path=str(tmp_path / "large.duckdb"),
                                           pipelines_dir=str(tmp_path / "large-pipelines")))
    assert large[:2] == ["release", "load"], large
    assert large_result.table_rows == small_result.table_rows
