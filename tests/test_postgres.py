"""PostgreSQL holds the same history as DuckDB, through the same runner, history and query code.

A real server (`tests/postgres.py`) and a DuckDB file follow the same run/mutate sequence against one
emulator; they must hold the same current state of every configuration table, the same SCD2 versions, the
same change log (with actors) and the same audit trail. The command line's reports run on PostgreSQL too,
and a run killed in the middle of its load is recovered there as on DuckDB.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time
from dataclasses import asdict
from datetime import datetime, timezone

import pytest

from segment_emulator import generate_workspace

from pipelines import cli, queries
from pipelines.runner import make_pipeline, run_snapshot
from segment_source.endpoints import history_tables

from .history_state import Cycles, assert_same_history, dataset_state, mutate_twins, only_current, twin_workspaces
from .test_interrupted import DRIVER, REPO, RESOURCES

pytestmark = pytest.mark.slow

IGNORED = {"_dlt_id", "_dlt_load_id", "_dlt_valid_from", "_dlt_valid_to"}


def read_side(options):
    """What the command line shows: each history table as of now, and the change log."""
    now = datetime.now(timezone.utc)
    state = {}
    with make_pipeline(options).sql_client() as sql:
        for table in history_tables():
            columns, rows = queries.as_of(sql, now, table)
            state[table] = sorted(json.dumps({c: _plain(v) for c, v in zip(columns, row) if c not in IGNORED},
                                             sort_keys=True, default=str) for row in rows)
        columns, rows = queries.change_log(sql)
    keep = [c for c in columns if c != "observed_at"]
    changes = sorted(json.dumps({c: row[columns.index(c)] for c in keep}, sort_keys=True) for row in rows)
    return state, changes


def _plain(value):
    if isinstance(value, str) and value[:1] in "[{":
        try:
            return json.loads(value)
        except ValueError:
            return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def test_postgres_holds_the_same_history_as_duckdb(start_emulator, options_for, on_postgres, capsys):
    workspace = generate_workspace(seed=91, scale="small")
    emulator = start_emulator(workspace)
    duck, pg = options_for(emulator), on_postgres(emulator)
    cycles = Cycles()
    for cycle in range(3):
        if cycle:
            cycles.mutated(mutate_twins([workspace], count=6, seed=910 + cycle))
            workspace.apply("rotate_destination_secret", visible=True)
            workspace.apply("delete_source")
        duck_result, pg_result = run_snapshot(duck), run_snapshot(pg)
        assert pg_result.skipped.keys() == duck_result.skipped.keys() and not pg_result.partial
        assert (pg_result.table_rows, pg_result.changes) == (duck_result.table_rows, duck_result.changes)

    duck_state, pg_state = dataset_state(duck, cycles), dataset_state(pg, cycles)
    assert_same_history(only_current(duck_state), only_current(pg_state), "current state differs")
    assert_same_history(duck_state, pg_state, "history differs")
    assert sum(duck_state["config_changes"].values()) >= 6
    duck_read, pg_read = read_side(duck), read_side(pg)
    assert pg_read == duck_read and sum(len(rows) for rows in pg_read[0].values()) > 100

    # the reports of the command line work on PostgreSQL
    place = ["--destination", "postgres", "--dataset-name", pg.dataset_name, "--pipeline-name", pg.pipeline_name,
             "--pipelines-dir", pg.pipelines_dir]
    capsys.readouterr()
    assert cli.main(["changes", "--since", "1d", "--output", "json", *place]) == cli.EXIT_OK
    printed = json.loads(capsys.readouterr().out)
    assert len(printed) == len(duck_read[1])
    now = datetime.now(timezone.utc).isoformat()
    assert cli.main(["as-of", now, "--table", "destinations", "--output", "json", *place]) == cli.EXIT_OK
    assert len(json.loads(capsys.readouterr().out)) == len(workspace.destinations)


def test_a_run_killed_during_its_load_is_recovered_on_postgres(start_emulator, options_for, on_postgres, tmp_path,
                                                               caplog):
    """The recovery's own SQL (unrecorded copies undone, the run's change log and snapshots row written again)
    on PostgreSQL: a first run killed when dlt will copy `sources` twice, a second when it will append its
    state twice (refused by PostgreSQL's unique `_dlt_id`), then one more; DuckDB without a kill is the
    reference."""
    twins = twin_workspaces(seed=92, scale="small")
    duck_emulator, pg_emulator = start_emulator(twins[0]), start_emulator(twins[1])
    duck = options_for(duck_emulator, resources=RESOURCES)
    pg = on_postgres(pg_emulator, resources=RESOURCES, pipelines_dir=str(tmp_path / "pg-pipelines"))
    cycles = Cycles()
    caplog.set_level(logging.INFO, logger="segment_history")
    for cycle in range(3):
        if cycle:
            cycles.mutated(mutate_twins(twins, count=6, seed=920 + cycle))
        run_snapshot(duck)
        if cycle < 2:
            kill_at(("load-copied", "state-copied")[cycle], pg, tmp_path)
            assert make_pipeline(pg).list_normalized_load_packages(), "killed in the middle of its load"
        run_snapshot(pg)  # after the kill, it recovers the killed run first

    # the copies dlt had not recorded are undone before it runs them again
    assert '_staging"."sources" that resumed load' in caplog.text
    assert "which was interrupted after its load" in caplog.text
    assert '"_dlt_pipeline_state" that resumed load' in caplog.text
    duck_state, pg_state = dataset_state(duck, cycles), dataset_state(pg, cycles)
    duck_runs, pg_runs = duck_state.pop("snapshots"), pg_state.pop("snapshots")
    assert set(pg_runs) == set(duck_runs) and sum(pg_runs.values()) == sum(duck_runs.values()) + 2
    assert_same_history(duck_state, pg_state, "killed during its load")


def kill_at(point, options, tmp_path):
    marker = tmp_path / "reached.json"
    marker.unlink(missing_ok=True)
    (tmp_path / "driver.py").write_text(DRIVER)
    config = {"point": point, "marker": str(marker), "options": asdict(options)}
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    process = subprocess.Popen([sys.executable, str(tmp_path / "driver.py"), json.dumps(config)], env=env,
                               cwd=str(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not marker.exists():
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, f"{point} not reached"
        time.sleep(0.01)
    process.send_signal(signal.SIGKILL)
    process.wait()
