"""What a run tells a user or a scheduler, and what it leaves behind, when it does not simply succeed:
an interrupted load."""

from __future__ import annotations

import os
import signal

import pytest

from segment_emulator import generate_workspace

from pipelines.runner import make_pipeline, run_snapshot

from .conftest import TOKEN
from .helpers import query, tables
from .history_state import Cycles, assert_same_history, dataset_state, mutate_twins, twin_workspaces
from .signalled_run import run_interrupted
from .test_interrupted import RESOURCES


def every_table(options) -> dict:
    """Rows of every table of the dataset, dlt's own included ({} when the file does not exist)."""
    if not os.path.exists(options.duckdb_path):
        return {}
    return {t: query(options, f"select count(*) from {{ds}}.{t}")[0][0] for t in sorted(tables(options))}


def run_args(options, *extra: str) -> list:
    return ["run", "--base-url", options.base_url, "--duckdb-path", options.duckdb_path, "--pipelines-dir",
            options.pipelines_dir, "--pipeline-name", options.pipeline_name, "--progress", "none", *extra]


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


def test_sigterm_is_an_interruption_too(start_emulator, options_for, tmp_path):
    options = options_for(start_emulator(generate_workspace(seed=88, scale="tiny")))
    code, _, err = run_interrupted("during-load", run_args(options), {"SEGMENT_ACCESS_TOKEN": TOKEN}, tmp_path,
                                   sig=signal.SIGTERM)
    assert code == 130 and len(err.strip().splitlines()) == 1, err
    run_snapshot(options)
    assert query(options, "select count(*) from {ds}.snapshots")[0][0] == 2
