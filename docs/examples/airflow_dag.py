"""Airflow DAG: a nightly snapshot of every configured workspace, one task group per workspace.

Copy this file into your DAGs folder and `.dlt/config.toml` / `.dlt/secrets.toml` (with the
`[[sources.segment.workspaces]]` list) into `<dags folder>/.dlt/`, or put the secrets into the Airflow
Variable `dlt_secrets_toml`: dlt reads both, as it reads `.dlt/` for the command line.
Install segment-history on the workers (`pip install -e ".[airflow]"` from a clone, or `.` into the
environment of an Airflow you already run, with its constraints file). docs/orchestration.md says more
about the pool and the folders below.

The workspaces' groups sit in dlt's `PipelineTasksGroup` (`dlt.helpers.airflow_helper`), which points
dlt at the DAGs folder's `.dlt/`. Its `add_run` is not used: it runs `pipeline.run(source)`, which
would skip what makes the history trustworthy (recovery of a killed run, dropping a table that could not
be read in full before SCD2 retires its rows, the change log, the `snapshots` row, the run lock). The task
calls the runner, as the command line and the Dagster code location do.

    snapshot   loads the workspace; a refused token or a bad setting fails it without retries
    complete   fails when the snapshot was partial (a table skipped: the CLI's exit code 6); what was
               read in full is loaded all the same, so this is a warning to look at, not a lost night
"""

import os
from datetime import datetime, timedelta

from airflow import DAG
from airflow.exceptions import AirflowFailException

try:  # Airflow 3
    from airflow.providers.standard.operators.python import PythonOperator
    from airflow.sdk import TaskGroup
except ImportError:  # Airflow 2
    from airflow.operators.python import PythonOperator
    from airflow.utils.task_group import TaskGroup
from dlt.helpers.airflow_helper import PipelineTasksGroup

from pipelines.errors import EXIT_AUTH, EXIT_DESTINATION, EXIT_USAGE, exit_code_for, one_sentence
from pipelines.notify import notify_after_runs
from pipelines.runner import RunOptions, configured_workspaces, entry_options, run_snapshot, workspace_entry, \
    workspace_keys

# dlt's working folder must outlive a task: a killed run is finished or undone by the next one from there
# (PipelineTasksGroup would otherwise give each parse a new temporary folder). Keep it on a disk that
# persists on the worker that runs the workspace, or use a warehouse destination and accept that a killed
# run's package is lost and re-read.
STATE_DIR = os.environ.get("SEGMENT_HISTORY_STATE_DIR", "/opt/airflow/segment_history")
OPTIONS = RunOptions(duckdb_path=os.path.join(STATE_DIR, "segment_history.duckdb"),
                     pipelines_dir=os.path.join(STATE_DIR, "pipelines"))
POOL = "segment_history"  # create it with 1 slot: one writer per dataset (the runner's lock)


def snapshot(key: str) -> dict:
    entry = workspace_entry(configured_workspaces(), key)
    try:
        options = entry_options(OPTIONS, entry)
        result = run_snapshot(options)
    except Exception as exc:  # noqa: BLE001 - one sentence in the task log; retried only when it may pass
        if exit_code_for(exc) in (EXIT_AUTH, EXIT_USAGE, EXIT_DESTINATION):
            raise AirflowFailException(one_sentence(exc)) from exc
        raise RuntimeError(one_sentence(exc)) from exc
    notify_after_runs(options, [result.run_id])  # the [notify.*] sinks, as after `segment-history run`; never raises
    return {"run_id": result.run_id, "workspace_id": result.workspace_id, "partial": result.partial,
            "skipped": result.skipped, "changes": result.changes}


def complete(ti) -> None:
    summary = ti.xcom_pull(task_ids=ti.task_id.rsplit(".", 1)[0] + ".snapshot")
    if summary["partial"]:
        raise AirflowFailException("partial snapshot: not read in full, not loaded: "
                                   + ", ".join(sorted(summary["skipped"])))


with DAG(
    dag_id="segment_history",
    schedule="0 3 * * *",
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    default_args={"retries": 2, "retry_delay": timedelta(minutes=5), "retry_exponential_backoff": True},
):
    # the outer group points dlt at <dags folder>/.dlt/ before the workspace list is read from it
    with PipelineTasksGroup("segment_history", local_data_folder=STATE_DIR, wipe_local_data=False):
        for key in workspace_keys(configured_workspaces()):
            with TaskGroup(key):
                loaded = PythonOperator(task_id="snapshot", python_callable=snapshot, op_args=[key], pool=POOL)
                loaded >> PythonOperator(task_id="complete", python_callable=complete, retries=0)
