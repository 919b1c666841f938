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
