"""What `segment-history demo` prints can be taken at its word: each snapshot line says what it counts, and
every "Try next" command works as printed, from the directory the demo ran in, with nothing added."""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Dict, List

import duckdb
import pytest

from pipelines.demo import run_demo
from segment_source.endpoints import history_tables

pytestmark = pytest.mark.slow

DATASET = "segment_config"
SNAPSHOT_LINE = re.compile(
    r"^Snapshot (\d+)/(\d+), (baseline|(\d+) changes): configuration (\d+) rows in (\d+) tables;")


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Dict:
    """The demo as a new user runs it: in an empty directory, dlt's working directory in its default place."""
    directory = tmp_path_factory.mktemp("demo")
    env = dict(os.environ, DLT_DATA_DIR=str(directory / "dlt"), HOME=str(directory))
    printed = io.StringIO()
    with pytest.MonkeyPatch.context() as patch, contextlib.redirect_stdout(printed):
        patch.chdir(directory)
        patch.setenv("DLT_DATA_DIR", env["DLT_DATA_DIR"])
        run_demo("segment_history_demo.duckdb", "tiny", 7, 3, None)
    return {"directory": directory, "env": env, "out": printed.getvalue()}


def sql(demo: Dict, text: str, *params) -> List[tuple]:
    with duckdb.connect(str(demo["directory"] / "segment_history_demo.duckdb"), read_only=True) as con:
        return con.execute(text.replace("{ds}", DATASET), list(params)).fetchall()


def try_next(out: str) -> List[str]:
    lines = out.split("Try next:", 1)[1].strip().splitlines()
    return [line.strip() for line in lines if line.strip()]


def run_printed(demo: Dict, command: str) -> str:
    """The command as a user pastes it into a shell in the demo's directory."""
    arguments = shlex.split(command)
    if arguments[0] == "segment-history":
        arguments = [sys.executable, "-m", "pipelines.cli", *arguments[1:]]
    else:
        arguments[0] = sys.executable
    result = subprocess.run(arguments, cwd=demo["directory"], env=demo["env"], capture_output=True, text=True,
                            timeout=180)
    assert result.returncode == 0, f"{command}\n{result.stderr}"
    assert not result.stderr.strip(), f"{command}\n{result.stderr}"
    return result.stdout


def data_lines(table_output: str) -> List[str]:
    """The rows of a plain-text table (below its header and dashes)."""
    lines = table_output.strip().splitlines()
    return lines[2:] if len(lines) > 1 and set(lines[1]) <= {"-", " "} else []


def test_every_try_next_command_works_as_printed(demo):
    commands = try_next(demo["out"])
    assert [c.split()[:2] for c in commands] == [
        ["segment-history", "changes"], ["segment-history", "as-of"], ["segment-history", "diff"],
        ["python", "-c"]]
    changes, as_of, diff, python = commands

    assert data_lines(run_printed(demo, changes)), "the demo changed destinations"

    moment = shlex.split(as_of)[2]
    sources_then = sql(demo, "select count(*) from {ds}.sources where _dlt_valid_from <= ?::timestamptz"
                             " and (_dlt_valid_to is null or _dlt_valid_to > ?::timestamptz)", moment, moment)[0][0]
    assert sources_then > 0
    assert len(data_lines(run_printed(demo, as_of))) == sources_then

    shown = run_printed(demo, diff + " --output json")
    assert json.loads(shown), "the workspace changed after the moment the demo names"
    assert "resource_type" in run_printed(demo, python)


def test_each_snapshot_line_says_what_it_counts(demo):
    lines = [line for line in demo["out"].splitlines() if line.startswith("Snapshot ")]
    runs = sql(demo, "select run_id, started_at from {ds}.snapshots order by started_at")
    loaded = {row[0] for row in sql(demo, "select table_name from information_schema.tables where table_schema = ?",
                                    DATASET)}
    assert len(lines) == len(runs) == 3
    for line, (run_id, started_at) in zip(lines, runs):
        match = SNAPSHOT_LINE.match(line)
        assert match, line
        changes = sql(demo, "select count(*) from {ds}.config_changes where run_id = ?", run_id)[0][0]
        assert match[3] == "baseline" if match[1] == "1" else int(match[4]) == changes
        configuration = sum(
            sql(demo, f"select count(*) from {{ds}}.{table} where _dlt_valid_from <= ?"
                      " and (_dlt_valid_to is null or _dlt_valid_to > ?)", started_at, started_at)[0][0]
            for table in history_tables() if table in loaded)
        assert int(match[5]) == configuration, "the configuration rows are the workspace as that snapshot saw it"


def test_the_demo_loads_the_metrics_the_notebook_needs(demo):
    for table in ("events_volume", "delivery_metrics"):
        assert sql(demo, f"select count(*) from {{ds}}.{table}")[0][0] > 0, table
