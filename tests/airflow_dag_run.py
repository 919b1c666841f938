"""Runs docs/examples/airflow_dag.py once with Airflow's `dag.test()` and prints each task's state as JSON.

Started in a subprocess by tests/test_airflow_example.py (Airflow reads its configuration once per process):
    python -m tests.airflow_dag_run <dags folder>
with AIRFLOW_HOME (its database migrated), SEGMENT_HISTORY_STATE_DIR and the workspace list in the environment.
"""

import json
import sys

from airflow.models.dagbag import DagBag


def main(dags_folder: str) -> int:
    bag = DagBag(dags_folder)
    if bag.import_errors:
        print(json.dumps({"import_errors": {path: str(error) for path, error in bag.import_errors.items()}}))
        return 1
    run = bag.get_dag("segment_history").test()
    print(json.dumps({"state": str(run.state), "tasks": {ti.task_id: str(ti.state) for ti in run.get_task_instances()}}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
