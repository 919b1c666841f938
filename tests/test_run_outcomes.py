"""What a run tells a user or a scheduler, and what it leaves behind, when it does not simply succeed:
an interrupted load, several workspaces of which one fails, a whole failure with `--json`, a change-driven
run that had to read everything, a failed run into a new DuckDB file, and dlt's loaded packages."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import pytest

from segment_emulator import generate_workspace

from pipelines import cli
from pipelines.runner import make_pipeline, run_snapshot

from .conftest import TOKEN
from .helpers import ONE_TABLE, dataset_fingerprint, query
from .history_state import Cycles, assert_same_history, dataset_state, mutate_twins, twin_workspaces
from .signalled_run import run_interrupted
from .test_interrupted import RESOURCES


def every_table(options) -> dict:
    """Rows of every table of the dataset, dlt's own included ({} when the file does not exist)."""
    if not os.path.exists(options.duckdb_path):
        return {}
    return dataset_fingerprint(options)


def run_args(options, *extra: str) -> list:
    return ["run", "--base-url", options.base_url, "--duckdb-path", options.duckdb_path, "--pipelines-dir",
            options.pipelines_dir, "--pipeline-name", options.pipeline_name, "--progress", "none", *extra]


@pytest.mark.slow
@pytest.mark.parametrize("point", ["during-load", "before-load"])
def test_sigint_in_the_load_exits_130_and_the_next_run_finishes_it(start_emulator, options_for, tmp_path, point):
    """A real process signalled while it loads (or about to): exit 130 with one line, and the next run
    finishes the package, so the history is that of a sequence that was never interrupted."""
    twins = twin_workspaces(seed=81, scale="small")
    reference_api, interrupted_api = start_emulator(twins[0]), start_emulator(twins[1])
    reference = options_for(reference_api, resources=RESOURCES, pipeline_name="reference",
                            duckdb_path=str(tmp_path / "reference.duckdb"))
    interrupted = options_for(interrupted_api, resources=RESOURCES, pipeline_name="interrupted",
                              duckdb_path=str(tmp_path / "interrupted.duckdb"))
    cycles = Cycles()

    run_snapshot(reference)
    code, out, err = run_interrupted(point, run_args(interrupted, "--resources", ",".join(RESOURCES)),
                                     {"SEGMENT_ACCESS_TOKEN": TOKEN}, tmp_path)
    assert code == 130, err
    assert err.strip().splitlines() == ["segment-history: interrupted; the next run starts cleanly."], err
    assert make_pipeline(interrupted).list_normalized_load_packages(), "the package waits for the next run"

    cycles.mutated(mutate_twins(twins, count=6, seed=810))
    run_snapshot(reference)
    run_snapshot(interrupted)  # finishes the interrupted run's load first
    assert not make_pipeline(interrupted).has_pending_data
    assert every_table(interrupted) == every_table(reference)
    assert_same_history(dataset_state(reference, cycles), dataset_state(interrupted, cycles), f"SIGINT {point}")


@pytest.fixture
def three_workspaces(start_emulator, monkeypatch):
    """Three configured workspaces; the second one's token is refused (it is named 'eu-prod')."""
    workspaces = [generate_workspace(seed=seed, scale="tiny") for seed in (82, 83, 84)]
    apis = [start_emulator(ws, tokens={f"token-{i}": "owner"}) for i, ws in enumerate(workspaces)]
    entries = [{"access_token": "token-0", "base_url": apis[0].base_url},
               {"access_token": "refused-token", "base_url": apis[1].base_url, "name": "eu-prod"},
               {"access_token": "token-2", "base_url": apis[2].base_url}]
    monkeypatch.delenv("SEGMENT_ACCESS_TOKEN", raising=False)
    return workspaces, apis, entries


@pytest.mark.slow
def test_each_configured_workspace_succeeds_or_fails_on_its_own(three_workspaces, options_for, tmp_path, capsys,
                                                                 monkeypatch):
    workspaces, apis, entries = three_workspaces
    reference = options_for(apis[0], duckdb_path=str(tmp_path / "reference.duckdb"), pipeline_name="reference")
    monkeypatch.setenv("SOURCES__SEGMENT__WORKSPACES", json.dumps([entries[0], entries[2]]))
    assert cli.main(run_args(reference, *ONE_TABLE)) == cli.EXIT_OK

    options = options_for(apis[0])
    monkeypatch.setenv("SOURCES__SEGMENT__WORKSPACES", json.dumps(entries))
    capsys.readouterr()
    code = cli.main(run_args(options, *ONE_TABLE))
    out, err = capsys.readouterr()
    assert code == cli.EXIT_AUTH, "the worst of ok, token refused, ok"
    assert every_table(options) == every_table(reference), "the two others are loaded as if alone"
    for workspace in (workspaces[0], workspaces[2]):
        assert f"({workspace.workspace['id']})" in out, "a summary for each loaded workspace"
    errors = [line for line in err.splitlines() if line.startswith("segment-history: error:")]
    assert len(errors) == 1 and errors[0].startswith("segment-history: error: workspace entry 2 ('eu-prod'): ")
    assert "refused the access token" in errors[0] and "refused-token" not in out + err

    capsys.readouterr()
    code = cli.main(run_args(options, *ONE_TABLE, "--json"))
    summary = json.loads(capsys.readouterr().out)
    assert code == cli.EXIT_AUTH and summary["status"] == "failed" and summary["exit_code"] == cli.EXIT_AUTH
    assert [(r["entry"], r["name"], r["status"], r["exit_code"]) for r in summary["runs"]] == [
        (1, None, "ok", 0), (2, "eu-prod", "failed", cli.EXIT_AUTH), (3, None, "ok", 0)]
    assert "refused the access token" in summary["runs"][1]["error"]
    assert summary["runs"][2]["workspace_id"] == workspaces[2].workspace["id"]
    assert "refused-token" not in json.dumps(summary)


def test_the_exit_code_of_several_workspaces_is_the_worst_one():
    assert cli.worst_exit_code([cli.EXIT_OK, cli.EXIT_PARTIAL, cli.EXIT_OK]) == cli.EXIT_PARTIAL
    assert cli.worst_exit_code([cli.EXIT_PARTIAL, cli.EXIT_API, cli.EXIT_AUTH]) == cli.EXIT_AUTH
    assert cli.worst_exit_code([cli.EXIT_AUTH, cli.EXIT_DESTINATION, cli.EXIT_USAGE]) == cli.EXIT_DESTINATION
    assert cli.worst_exit_code([cli.EXIT_DESTINATION, cli.EXIT_ERROR]) == cli.EXIT_ERROR
    assert cli.worst_exit_code([]) == cli.EXIT_OK
    assert sorted(cli.SEVERITY) == list(range(8)), "every exit code has its place"


def test_json_says_what_failed_when_the_whole_run_fails(start_emulator, options_for, capsys, monkeypatch):
    options = options_for(start_emulator(generate_workspace(seed=85, scale="tiny")))
    monkeypatch.setenv("SEGMENT_ACCESS_TOKEN", TOKEN)
    assert cli.main(run_args(options, *ONE_TABLE)) == cli.EXIT_OK
    before = every_table(options)
    capsys.readouterr()

    code = cli.main(run_args(options, "--json", "--base-url", "http://127.0.0.1:9"))
    out, err = capsys.readouterr()
    summary = json.loads(out)
    assert code == cli.EXIT_API
    assert summary["status"] == "failed" and summary["exit_code"] == cli.EXIT_API and summary["runs"] == []
    assert "Cannot reach the Segment API" in summary["error"]
    assert err.strip().splitlines() == [f"segment-history: error: {summary['error']}"]
    assert every_table(options) == before


@pytest.mark.slow
def test_a_change_driven_run_that_read_everything_says_why(start_emulator, options_for, capsys, monkeypatch):
    options = options_for(start_emulator(generate_workspace(seed=86, scale="tiny")))
    monkeypatch.setenv("SEGMENT_ACCESS_TOKEN", TOKEN)
    a_table_and_the_trail = ("--resources", "sources,audit_events")
    assert cli.main(run_args(options, *a_table_and_the_trail, "--mode", "changes")) == cli.EXIT_OK
    assert "A full snapshot, not a change-driven one: no complete snapshot yet." in capsys.readouterr().out

    assert cli.main(run_args(options, *a_table_and_the_trail, "--mode", "changes", "--json")) == cli.EXIT_OK
    run = json.loads(capsys.readouterr().out)["runs"][0]
    assert (run["mode"], run["requested_mode"], run["full_reason"]) == ("changes", "changes", None)

    assert cli.main(run_args(options, *a_table_and_the_trail, "--json")) == cli.EXIT_OK
    run = json.loads(capsys.readouterr().out)["runs"][0]
    assert (run["mode"], run["requested_mode"], run["full_reason"]) == ("full", "full", None)

    monkeypatch.setenv("SOURCES__SEGMENT__FULL_SNAPSHOT_EVERY", "1")
    assert cli.main(run_args(options, *a_table_and_the_trail, "--mode", "changes", "--json")) == cli.EXIT_OK
    run = json.loads(capsys.readouterr().out)["runs"][0]
    assert (run["mode"], run["requested_mode"]) == ("full", "changes") and "full snapshot" in run["full_reason"]


def test_a_run_that_cannot_reach_the_api_leaves_no_duckdb_file(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("SEGMENT_ACCESS_TOKEN", TOKEN)
    path = tmp_path / "new.duckdb"
    code = cli.main(["run", "--base-url", "http://127.0.0.1:9", "--duckdb-path", str(path),
                     "--pipelines-dir", str(tmp_path / "pipelines")])
    assert code == cli.EXIT_API, capsys.readouterr().err
    assert not path.exists() and not Path(str(path) + ".wal").exists()


def test_a_run_that_fails_keeps_an_existing_duckdb_file(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("SEGMENT_ACCESS_TOKEN", TOKEN)
    path = tmp_path / "existing.duckdb"
    import duckdb

    duckdb.connect(str(path)).close()
    code = cli.main(["run", "--base-url", "http://127.0.0.1:9", "--duckdb-path", str(path),
                     "--pipelines-dir", str(tmp_path / "pipelines")])
    assert code == cli.EXIT_API and path.exists()


@pytest.mark.slow
def test_dlt_keeps_no_loaded_packages_between_runs(start_emulator, options_for, monkeypatch):
    options = options_for(start_emulator(generate_workspace(seed=87, scale="tiny")), resources=["sources"])
    for _ in range(3):
        run_snapshot(options)
    pipeline = make_pipeline(options)
    loaded = Path(pipeline.working_dir) / "load" / "loaded"
    assert not pipeline.list_completed_load_packages() and not list(loaded.iterdir())

    monkeypatch.setenv("LOAD__DELETE_COMPLETED_JOBS", "false")  # kept on request, for debugging
    run_snapshot(options)
    assert len(make_pipeline(options).list_completed_load_packages()) == 2


def test_a_first_run_loads_twice_its_records_carry_the_bridges(start_emulator, options_for):
    """A run is two loads, the first run too: the bridge tables it is the first to learn are loaded with its
    `snapshots` row and change log; the next run, which learns nothing new, loads no bridge row again."""
    options = options_for(start_emulator(generate_workspace(seed=89, scale="tiny")))
    first = run_snapshot(options)
    loads = [row[0] for row in query(options, "select load_id from {ds}._dlt_loads order by load_id")]
    assert len(loads) == 2 and loads[0] == first.run_id
    records_load = loads[1]
    for table in ("snapshots", "tracking_plan_ids", "destination_ids"):
        assert query(options, f"select distinct _dlt_load_id from {{ds}}.{table}") == [(records_load,)], table

    second = run_snapshot(options)
    assert len(query(options, "select load_id from {ds}._dlt_loads")) == 4
    for table in ("tracking_plan_ids", "destination_ids"):
        assert query(options, f"select distinct _dlt_load_id from {{ds}}.{table}") == [(records_load,)], table
    assert query(options, "select count(*) from {ds}.snapshots where run_id = ?", second.run_id) == [(1,)]


@pytest.mark.slow
def test_sigterm_is_an_interruption_too(start_emulator, options_for, tmp_path):
    options = options_for(start_emulator(generate_workspace(seed=88, scale="tiny")), resources=["sources"])
    code, _, err = run_interrupted("during-load", run_args(options, *ONE_TABLE), {"SEGMENT_ACCESS_TOKEN": TOKEN},
                                   tmp_path, sig=signal.SIGTERM)
    assert code == 130 and len(err.strip().splitlines()) == 1, err
    run_snapshot(options)
    assert query(options, "select count(*) from {ds}.snapshots")[0][0] == 2
