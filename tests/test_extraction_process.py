"""Extraction in a process of its own (`pipelines/extraction.py`): the run loads what an extraction in the run
itself loads, reports the same outcomes and failures, and a signal to the run while its child extracts
leaves nothing the next run cannot finish."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest

from segment_emulator import generate_workspace

from pipelines import cli, runner
from pipelines.runner import make_pipeline, run_snapshot, unfinished_extractions

from .conftest import TOKEN
from .helpers import query
from .test_run_outcomes import every_table, run_args

REPO = Path(__file__).resolve().parents[1]
RESOURCES = ["sources", "destinations", "destination_filters", "tracking_plans", "tracking_plan_rules", "labels"]


def extract_apart(monkeypatch, apart: bool) -> None:
    """The next runs extract in a child process (`apart`) or in the run itself."""
    monkeypatch.setattr(runner, "can_fork", lambda: apart)


def extracting_pids(monkeypatch, tmp_path: Path) -> Path:
    """A file to which every `Pipeline.extract` of the runs appends the id of the process that ran it."""
    from dlt.pipeline.pipeline import Pipeline

    log, extract = tmp_path / "extracting-pids", Pipeline.extract

    def recorded(self, *args, **kwargs):
        with open(log, "a") as handle:
            handle.write(f"{os.getpid()}\n")
        return extract(self, *args, **kwargs)

    monkeypatch.setattr(Pipeline, "extract", recorded)
    return log


def rows_without_load_ids(options, table: str) -> list:
    columns = [name for (name,) in query(options, "select column_name from information_schema.columns where"
                                                  " table_schema = ? and table_name = ?", options.dataset_name, table)
               if not name.startswith("_dlt")]
    return sorted(map(repr, query(options, f"select {', '.join(columns)} from {{ds}}.{table}")))


def test_a_run_extracting_in_a_child_loads_and_reports_what_one_extracting_itself_does(
        start_emulator, options_for, monkeypatch, tmp_path):
    api = start_emulator(generate_workspace(seed=91, scale="small"), disabled_features={"engage"})
    pids = extracting_pids(monkeypatch, tmp_path)
    results = {}
    for apart in (False, True):
        extract_apart(monkeypatch, apart)
        options = options_for(api, pipeline_name=f"apart_{apart}", duckdb_path=str(tmp_path / f"apart_{apart}.duckdb"))
        results[apart] = (options, run_snapshot(options), run_snapshot(options))

    here, apart = results[False], results[True]
    # each run extracts its snapshot, then its run records (always in the run: they are a few rows)
    me, recorded = str(os.getpid()), pids.read_text().split()
    assert recorded[:4] == [me] * 4 and recorded[5::2] == [me] * 2
    assert me not in recorded[4::2] and len(set(recorded[4::2])) == 2, "the second pair extracted in children"
    assert here[1].skipped, "the workspace has tables the token cannot read"
    for first, second in zip(here[1:], apart[1:]):
        assert (second.table_rows, second.skipped, second.skipped_kinds) == (first.table_rows, first.skipped,
                                                                             first.skipped_kinds)
        assert second.requests["requests"] == first.requests["requests"] > 0
        assert second.requests["not_needed"] == first.requests["not_needed"]
    assert every_table(apart[0]) == every_table(here[0])
    for table in ("sources", "destinations", "tracking_plan_rules", "destination_subscriptions", "destination_ids"):
        assert rows_without_load_ids(apart[0], table) == rows_without_load_ids(here[0], table), table
    assert query(apart[0], "select count(*) from {ds}.snapshots") == [(2,)]


def test_a_failed_extraction_in_a_child_exits_with_the_code_and_message_of_one_in_the_run(
        start_emulator, options_for, monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("SEGMENT_ACCESS_TOKEN", TOKEN)
    monkeypatch.setenv("SOURCES__SEGMENT__CONNECT_TIMEOUT_SECONDS", "0.5")
    monkeypatch.setenv("SOURCES__SEGMENT__READ_TIMEOUT_SECONDS", "0.5")
    api = start_emulator(generate_workspace(seed=92, scale="tiny"))
    outcomes = {}
    for apart in (False, True):
        extract_apart(monkeypatch, apart)
        options = options_for(api, pipeline_name=f"apart_{apart}", duckdb_path=str(tmp_path / f"apart_{apart}.duckdb"))
        api.fail_next("/destinations", status="hang", times=1000)
        capsys.readouterr()
        code = cli.main(run_args(options))
        outcomes[apart] = (code, capsys.readouterr().err.strip().splitlines())
        assert not make_pipeline(options).has_pending_data
    assert outcomes[True] == outcomes[False]
    assert outcomes[True][0] == cli.EXIT_API and len(outcomes[True][1]) == 1, outcomes


DRIVER = r'''
import sys
from pipelines import cli, runner

runner.can_fork = lambda: True
sys.exit(cli.main(sys.argv[1:]))
'''


def start_run_extracting_apart(options, tmp_path: Path) -> subprocess.Popen:
    driver = tmp_path / "extracting_apart.py"
    driver.write_text(DRIVER)
    env = {**os.environ, "SEGMENT_ACCESS_TOKEN": TOKEN,
           "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    return subprocess.Popen([sys.executable, str(driver), *run_args(options)], env=env, cwd=str(tmp_path),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def children_of(pid: int) -> list:
    try:
        return [int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def is_alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def wait_for_extracting_child(process: subprocess.Popen, api) -> int:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()
        children = children_of(process.pid)
        if children and len(api.requests) >= 8:  # GET / and some pages answered, many more to come
            return children[0]
        time.sleep(0.01)
    raise AssertionError("the run did not start extracting")


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="extraction in a child process is Linux only")
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGKILL])
def test_a_run_signalled_while_its_child_extracts_stops_it_and_the_next_run_starts_cleanly(
        first_snapshots, start_emulator, options_for, tmp_path, sig):
    root, _, day = first_snapshots(93, "small")  # the uninterrupted reference, taken once per worker
    api = start_emulator(generate_workspace(seed=93, scale="small", now=day), latency_ms=100)
    options = options_for(api)

    process = start_run_extracting_apart(options, tmp_path)
    child = wait_for_extracting_child(process, api)
    process.send_signal(sig)
    _, err = process.communicate(timeout=60)
    deadline = time.monotonic() + 10
    while is_alive(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not is_alive(child), "the extraction process ends with the run"
    if sig == signal.SIGINT:
        assert process.returncode == 130 and err.strip().splitlines() == [
            "segment-history: interrupted; the next run starts cleanly."], err
    else:  # SIGTERM ends the run at once while it extracts, as it did before extraction had a process of its own
        assert process.returncode == -sig
    assert not make_pipeline(options).list_normalized_load_packages(), "nothing of the run was loaded"

    api.latency_ms = 0
    run_snapshot(options)
    pipeline = make_pipeline(options)
    assert not pipeline.has_pending_data and not unfinished_extractions(pipeline)
    assert every_table(options) == every_table(replace(options, duckdb_path=str(root / "history.duckdb")))


def test_a_run_forks_its_extraction_only_from_the_main_thread():
    """A forked child has only the thread that forked: off the main thread (an orchestrator's worker thread) or
    inside an orchestrator's task (whose configuration answers come through threads of its own: under Airflow
    the child waited forever), the run extracts in its own process."""
    import threading

    from pipelines.extraction import can_fork

    seen = []
    worker = threading.Thread(target=lambda: seen.append(can_fork()))
    worker.start()
    worker.join()
    assert can_fork() is True and seen == [False]
