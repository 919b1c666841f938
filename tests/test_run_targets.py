"""A run that did not finish is only ever finished into the destination and dataset it was extracted for.

dlt keeps what a run leaves pending per pipeline name, and the default pipeline name is the same for every
run: a run interrupted on its way to one destination used to be loaded into the next run's destination.
Each case compares the row counts of every table of every destination before and after each step.
"""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path
from typing import Dict

import duckdb
import pytest

from segment_emulator import generate_workspace

from pipelines import cli
from pipelines.runner import make_pipeline

from .helpers import ONE_TABLE
from .signalled_run import run_interrupted


def duckdb_rows(path: Path, dataset: str = "segment_config") -> Dict[str, int]:
    """Rows of every table in the dataset, dlt's own included ({} when there is no such file)."""
    if not path.exists():
        return {}
    with duckdb.connect(str(path), read_only=True) as connection:
        names = [row[0] for row in connection.execute(
            "select table_name from information_schema.tables where table_schema = ?", [dataset]).fetchall()]
        return {name: connection.execute(f'select count(*) from "{dataset}"."{name}"').fetchone()[0]
                for name in sorted(names)}


def workspace_ids(path: Path) -> set:
    with duckdb.connect(str(path), read_only=True) as connection:
        return {row[0] for row in connection.execute("select id from segment_config.workspace").fetchall()}


@pytest.fixture
def two_workspaces(start_emulator):
    x, y = generate_workspace(seed=31, scale="tiny"), generate_workspace(seed=32, scale="tiny")
    return (x, start_emulator(x, tokens={"token-x": "owner"})), (y, start_emulator(y, tokens={"token-y": "owner"}))


@pytest.mark.slow
def test_an_interrupted_run_is_finished_only_into_its_own_destination(two_workspaces, tmp_path, capsys, caplog,
                                                                       monkeypatch):
    (x, x_api), (y, y_api) = two_workspaces
    a, b, pipelines = tmp_path / "A.duckdb", tmp_path / "B.duckdb", str(tmp_path / "pipelines")

    def args(api, path):
        return ["run", "--base-url", api.base_url, "--duckdb-path", str(path), "--pipelines-dir", pipelines,
                "--progress", "none"]

    # X into A, interrupted once its data is extracted and normalized, before anything is loaded
    code, _, err = run_interrupted("before-load", args(x_api, a), {"SEGMENT_ACCESS_TOKEN": "token-x"}, tmp_path)
    assert code == 130, err
    before = {"A": duckdb_rows(a), "B": duckdb_rows(b)}
    assert before == {"A": {}, "B": {}}

    # Y into B, same pipeline name: B gets Y alone, and the run says where X's data waits
    monkeypatch.setenv("SEGMENT_ACCESS_TOKEN", "token-y")
    assert cli.main(args(y_api, b)) == cli.EXIT_OK
    err = capsys.readouterr().err + caplog.text
    assert workspace_ids(b) == {y.workspace["id"]}
    assert duckdb_rows(a) == before["A"], "nothing was loaded into A"
    notes = [line for line in err.splitlines() if "did not finish" in line]
    assert len(notes) == 1, err
    assert x.workspace["id"] in notes[0] and str(a) in notes[0] and "dataset segment_config" in notes[0]
    assert f"--duckdb-path {a}" in notes[0] and "token-x" not in err
    after_b = duckdb_rows(b)

    # X into A again: the interrupted run is loaded first, then this one; B is untouched
    monkeypatch.setenv("SEGMENT_ACCESS_TOKEN", "token-x")
    caplog.clear()
    assert cli.main(args(x_api, a)) == cli.EXIT_OK
    assert "did not finish" not in capsys.readouterr().err + caplog.text
    assert workspace_ids(a) == {x.workspace["id"]}
    assert duckdb_rows(b) == after_b
    rows_a = duckdb_rows(a)
    # the interrupted run's load and run records (with the bridge tables it learned, tracking_plan_ids and
    # destination_ids, kept in its pending-run record), then this run's
    assert rows_a["snapshots"] == 2 and rows_a["_dlt_loads"] == 4, "the interrupted run, then this one"
    assert not make_pipeline(cli._run_options(cli.build_parser().parse_args(args(x_api, a)))).has_pending_data


@pytest.mark.slow
def test_a_run_failed_on_a_bad_dataset_is_not_loaded_into_another_dataset(start_emulator, on_postgres,
                                                                          capsys, caplog, monkeypatch):
    workspace = generate_workspace(seed=33, scale="tiny")
    emulator = start_emulator(workspace)
    good, reference = on_postgres(emulator), on_postgres(emulator)
    monkeypatch.setenv("SEGMENT_ACCESS_TOKEN", "test-token")

    def run(dataset):
        return cli.main(["run", "--destination", "postgres", "--dataset-name", dataset, "--base-url",
                         emulator.base_url, "--pipeline-name", good.pipeline_name,
                         "--pipelines-dir", good.pipelines_dir, "--progress", "none", *ONE_TABLE])

    assert run(good.dataset_name) == run(reference.dataset_name) == cli.EXIT_OK
    before = postgres_rows(good)

    # PostgreSQL refuses a schema named pg_*: the load fails after extraction, its package stays pending
    capsys.readouterr()
    assert run("pg_bad") == cli.EXIT_DESTINATION
    assert postgres_rows(good) == before
    bad_pipeline = make_pipeline(replace(good, dataset_name="pg_bad"))
    pending = bad_pipeline.list_normalized_load_packages()
    assert pending, "the failed run's package waits for its own dataset"

    # the next plain run loads only itself (as a run without the failure in between does), and says where
    # the failed run's data waits
    caplog.clear()
    assert run(good.dataset_name) == run(reference.dataset_name) == cli.EXIT_OK
    notes = [line for line in caplog.text.splitlines() if "did not finish" in line]
    assert postgres_rows(good) == postgres_rows(reference)
    with make_pipeline(good).sql_client() as sql:
        loads = {row[0] for row in sql.execute_sql(
            f"select load_id from {sql.make_qualified_table_name('_dlt_loads')}")}
    assert not loads & set(pending)
    assert bad_pipeline.list_normalized_load_packages() == pending
    assert len(notes) == 2 and all("dataset pg_bad" in n and "--dataset-name pg_bad" in n for n in notes), notes


def postgres_rows(options) -> Dict[str, int]:
    with make_pipeline(options).sql_client() as sql:
        names = [row[0] for row in sql.execute_sql(
            "select table_name from information_schema.tables where table_schema = %s", options.dataset_name)]
        return {name: sql.execute_sql(f"select count(*) from {sql.make_qualified_table_name(name)}")[0][0]
                for name in sorted(names)}


def test_each_destination_and_dataset_has_its_own_working_folder(tmp_path):
    from pipelines.runner import RunOptions

    base = RunOptions(duckdb_path=str(tmp_path / "A.duckdb"), pipelines_dir=str(tmp_path / "p"))
    folders = {make_pipeline(options).working_dir for options in (
        base, replace(base, duckdb_path=str(tmp_path / "B.duckdb")),
        replace(base, dataset_name="other"))}
    assert len(folders) == 3
    assert make_pipeline(base).working_dir in folders, "the same target finds the same folder again"
    assert all(os.path.commonpath([folder, str(tmp_path / "p")]) == str(tmp_path / "p") for folder in folders)


def test_a_target_is_recorded_by_where_its_data_lives_never_by_credentials(tmp_path, monkeypatch):
    from pipelines.destination import target_of
    from pipelines.runner import RunOptions

    monkeypatch.setenv("DESTINATION__POSTGRES__CREDENTIALS", "postgresql://loader:secret-pw@db.example:5433/history")
    monkeypatch.setenv("DESTINATION__FILESYSTEM__BUCKET_URL", "sftp://loader:secret-pw@files.example:2222/lake")
    postgres = RunOptions(destination="postgres", pipelines_dir=str(tmp_path / "p"))
    files = replace(postgres, destination="filesystem")
    assert target_of(postgres).location == "db.example:5433/history"
    assert target_of(files).location == "sftp://files.example:2222"
    assert target_of(replace(postgres, dataset_name="other")).folder != target_of(postgres).folder
    make_pipeline(postgres)
    written = [path.read_text(errors="replace") for path in (tmp_path / "p").rglob("*") if path.is_file()]
    assert written and not any("secret-pw" in text for text in written)


def workspace_rows(path: Path, table: str) -> Dict[str, set]:
    """Workspace id -> the ids of its current rows of `table`."""
    found: Dict[str, set] = {}
    with duckdb.connect(str(path), read_only=True) as connection:
        for workspace_id, row_id in connection.execute(
                f"select workspace_id, id from segment_config.{table} where _dlt_valid_to is null").fetchall():
            found.setdefault(workspace_id, set()).add(row_id)
    return found


@pytest.mark.slow
def test_an_interrupted_run_of_one_workspace_is_loaded_as_that_workspace_only(two_workspaces, tmp_path, monkeypatch):
    """Two workspaces into one destination and dataset: a run of X killed before its load is finished by the
    next run into that dataset, whichever workspace it reads, and lands as X's rows and X's `snapshots` row;
    Y's rows are Y's alone, and a later run of X finds nothing changed (as without the kill)."""
    (x, x_api), (y, y_api) = two_workspaces
    history, pipelines = tmp_path / "history.duckdb", str(tmp_path / "pipelines")

    def args(api):
        return ["run", "--base-url", api.base_url, "--duckdb-path", str(history), "--pipelines-dir", pipelines,
                "--progress", "none"]

    code, _, err = run_interrupted("before-load", args(x_api), {"SEGMENT_ACCESS_TOKEN": "token-x"}, tmp_path)
    assert code == 130, err
    assert duckdb_rows(history) == {}, "killed before anything was loaded"

    monkeypatch.setenv("SEGMENT_ACCESS_TOKEN", "token-y")
    assert cli.main(args(y_api)) == cli.EXIT_OK
    x_id, y_id = x.workspace["id"], y.workspace["id"]
    assert workspace_ids(history) == {x_id, y_id}
    assert workspace_rows(history, "sources") == {x_id: {s["id"] for s in x.sources},
                                                  y_id: {s["id"] for s in y.sources}}
    with duckdb.connect(str(history), read_only=True) as connection:
        recorded = sorted(row[0] for row in connection.execute(
            "select workspace_id from segment_config.snapshots where status = 'complete'").fetchall())
    assert recorded == sorted([x_id, y_id]), "the interrupted run is recorded as X's, then Y's run"
    after_y = duckdb_rows(history)

    monkeypatch.setenv("SEGMENT_ACCESS_TOKEN", "token-x")
    assert cli.main(args(x_api)) == cli.EXIT_OK
    with duckdb.connect(str(history), read_only=True) as connection:
        changes = connection.execute("select count(*) from segment_config.config_changes").fetchone()[0]
        versions = connection.execute("select count(*) from segment_config.sources").fetchone()[0]
    assert changes == 0, "X's second run finds X's history complete"
    assert versions == after_y["sources"], "no source got a second version"
