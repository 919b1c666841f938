"""docs/examples/airflow_dag.py, run by Airflow (`dag.test()`, its own database) against emulated workspaces.

Airflow runs in a subprocess: this interpreter's if it has Airflow, else the one SEGMENT_HISTORY_AIRFLOW_PYTHON
names (.ci/run installs `.[airflow]` into a venv of its own, so the rest of the suite runs without Airflow's
dependencies, which dlt also probes for when Airflow is installed).
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from segment_emulator import generate_workspace  # noqa: E402

from pipelines.runner import RunOptions  # noqa: E402

from .helpers import current_keys, query  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


def airflow_python() -> str:
    if importlib.util.find_spec("airflow") is not None:
        return sys.executable
    python = os.environ.get("SEGMENT_HISTORY_AIRFLOW_PYTHON")
    if not python:
        pytest.skip("Airflow is not installed: pip install -e '.[airflow]', or set SEGMENT_HISTORY_AIRFLOW_PYTHON")
    return python


@pytest.mark.slow
def test_each_workspace_is_a_task_group_that_fails_on_its_own(start_emulator, tmp_path):
    python = airflow_python()
    us_workspace, eu_workspace = generate_workspace(seed=95, scale="tiny"), generate_workspace(seed=96, scale="tiny")
    us = start_emulator(us_workspace, tokens={"us-token": "owner"}, region="us")
    eu = start_emulator(eu_workspace, tokens={"eu-token": "owner"}, region="eu")
    eu.fail_next("/destinations", status="html", times=1000)  # the EU snapshot is partial
    dags = tmp_path / "dags"
    dags.mkdir()
    shutil.copy(REPO / "docs" / "examples" / "airflow_dag.py", dags / "segment_history_dag.py")
    env = {key: value for key, value in os.environ.items() if not key.startswith(("SOURCES__", "AIRFLOW"))}
    env.update(AIRFLOW_HOME=str(tmp_path / "airflow"), AIRFLOW__CORE__DAGS_FOLDER=str(dags),
               AIRFLOW__CORE__LOAD_EXAMPLES="false", SEGMENT_HISTORY_STATE_DIR=str(tmp_path / "state"),
               SOURCES__SEGMENT__WORKSPACES=json.dumps([
                   {"access_token": "us-token", "base_url": us.base_url, "name": "us-prod"},
                   {"access_token": "eu-token", "region": "eu", "base_url": eu.base_url, "name": "eu-prod"},
                   {"access_token": "refused-token", "base_url": us.base_url}]))
    migrated = subprocess.run([python, "-m", "airflow", "db", "migrate"], env=env, capture_output=True, text=True,
                              timeout=300)
    assert migrated.returncode == 0, migrated.stderr[-3000:]

    done = subprocess.run([python, "-m", "tests.airflow_dag_run", str(dags)], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    states = json.loads(done.stdout.strip().splitlines()[-1])["tasks"]
    assert states == {
        "segment_history.us-prod.snapshot": "success", "segment_history.us-prod.complete": "success",
        "segment_history.eu-prod.snapshot": "success", "segment_history.eu-prod.complete": "failed",
        "segment_history.workspace-3.snapshot": "failed", "segment_history.workspace-3.complete": "upstream_failed",
    }
    assert "refused-token" not in done.stdout + done.stderr

    options = RunOptions(duckdb_path=str(tmp_path / "state" / "segment_history.duckdb"))
    assert current_keys(options, "sources") == {s["id"] for s in us_workspace.sources + eu_workspace.sources}
    statuses = query(options, "select workspace_id, status from {ds}.snapshots order by workspace_id")
    assert sorted(statuses) == sorted([(us_workspace.workspace["id"], "complete"),
                                       (eu_workspace.workspace["id"], "partial")])
