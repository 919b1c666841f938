"""docs/examples/airflow_dag.py, run by Airflow (`dag.test()`, its own database) against emulated workspaces.

Airflow runs in a subprocess, in a virtual environment of its own, so that the rest of the suite runs without
Airflow's dependencies (dlt also probes for Airflow wherever it is installed). The interpreter is this one if
it has Airflow, else the one SEGMENT_HISTORY_AIRFLOW_PYTHON names (.ci/run builds one), else one this test
builds once (`pip install ".[airflow]"`, a minute or two) and keeps in the user's cache folder, keyed by the
project's dependencies: the README's test command runs this test too, on any machine that reaches PyPI.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from segment_emulator import generate_workspace  # noqa: E402

from pipelines.runner import RunOptions  # noqa: E402

from .helpers import current_keys, query  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


def airflow_python() -> str:
    if importlib.util.find_spec("airflow") is not None:
        return sys.executable
    return os.environ.get("SEGMENT_HISTORY_AIRFLOW_PYTHON") or cached_airflow_python()


def cached_airflow_python() -> str:
    """The interpreter of a virtual environment with `.[airflow]` installed, built on first use under the user's
    cache folder; a change to pyproject.toml or to the interpreter's version builds a new one."""
    needs = f"{sys.version_info[:2]}\n{(REPO / 'pyproject.toml').read_text()}"
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "segment-history"
    venv = cache / f"airflow-venv-{hashlib.sha256(needs.encode()).hexdigest()[:12]}"
    python = venv / "bin" / "python"
    if python.exists():
        return str(python)
    cache.mkdir(parents=True, exist_ok=True)
    building = Path(tempfile.mkdtemp(prefix="airflow-venv-building-", dir=cache))
    try:
        steps = [[sys.executable, "-m", "venv", str(building)],
                 [str(building / "bin" / "python"), "-m", "pip", "install", "-q", f"{REPO}[airflow]"]]
        for step in steps:
            done = subprocess.run(step, capture_output=True, text=True, timeout=1800)
            if done.returncode != 0:
                pytest.fail(f"Could not build Airflow's virtual environment ({' '.join(step[2:4])} failed):\n"
                            f"{done.stderr[-3000:]}\nInstall `.[airflow]` into a virtual environment and set"
                            " SEGMENT_HISTORY_AIRFLOW_PYTHON to its python.", pytrace=False)
        building.rename(venv)  # whole or not at all: a session stopped half way leaves only a building- folder
    except OSError:
        if not python.exists():  # another session renamed its own first: that one is as good
            raise
    finally:
        shutil.rmtree(building, ignore_errors=True)
    return str(python)


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
