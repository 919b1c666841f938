"""Killed runs: `SIGKILL` at every stage of a run, then run again; the history must be as if nothing happened.

Each case kills a real `run_snapshot` process (a small driver script, below) at one point:

    extract              while it reads the API (the emulator answers slowly; killed after a few answers)
    extracted            extraction done, incomplete tables dropped, before normalize
    normalize            normalized files written, package not yet committed
    normalize-committed  package committed for loading, extracted copy not yet deleted
    load-copied          the copy of `sources` into the staging dataset committed, dlt has not recorded it
                         (dlt runs such a job again when it resumes the load: the rows are copied twice)
    state-copied         the same for the append of dlt's state (PostgreSQL: the second insert is refused)
    load-merged          some load jobs done (the first SCD2 merge among them), the rest not
    load-transaction     inside the transaction of an SCD2 merge, before its commit
    history              all tables loaded, change log computed, nothing of it loaded
    records-load         the `snapshots` / `config_changes` package half loaded

The driver reaches a point by pausing there (it writes a marker file and sleeps) and the test kills it
from outside with SIGKILL; `extract` is killed on a timer keyed to the emulator's answers. Then the
pipeline runs again (it recovers first) and the sequence goes on. Every case is a twin of one
uninterrupted reference sequence (same workspace, same mutations at the same moments) and must end with
the same history: SCD2 versions, change log (no change lost, none twice), audit trail (no event twice),
and `snapshots` rows only for runs whose tables were loaded. All cases run in lockstep with the
reference (killed runs in parallel), so they cost little more than one case.

Also: two runs started at once on the same pipeline, the second refuses (exit 7) and reads nothing.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict
from pathlib import Path
from typing import Dict, List

import pytest

from segment_emulator import Emulator

from pipelines import cli
from pipelines.runner import RunOptions, make_pipeline, run_snapshot, unfinished_extractions

from .conftest import TOKEN
from .helpers import dataset_fingerprint, query
from .history_state import Cycles, assert_same_history, dataset_state, mutate_twins, twin_workspaces

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]
# the configuration tables the README documents, and the audit trail: what a kill can break is the same
# for every table, and fewer tables keep each run short
RESOURCES = ["sources", "destinations", "warehouses", "source_warehouses", "tracking_plans", "tracking_plan_rules",
             "tracking_plan_sources", "functions", "function_versions", "labels", "audit_events"]
# (point, cycle in which the run is killed): cycle 0 is the first run ever, 1 and 2 follow mutations
CASES = [
    ("extract", 1), ("extracted", 1), ("normalize", 1), ("normalize-committed", 1), ("load-copied", 1),
    ("load-merged", 1), ("load-transaction", 1), ("history", 1), ("records-load", 1), ("load-copied", 0),
    ("state-copied", 1),
]
# a run killed at these points had its tables loaded (or their load was finished on recovery): the next run
# records it, so its cycle has one `snapshots` row more than the reference's
LOADED_WHEN_KILLED = {"load-copied", "state-copied", "load-merged", "load-transaction", "history", "records-load"}
CYCLES = 3
KILL_TIMEOUT = 120
RUNS_AT_ONCE = 3  # tracks are independent; dlt keeps its contexts per thread

DRIVER = r'''
"""One `run_snapshot` that pauses at a given point, so that the test can SIGKILL it right there."""
import contextlib, json, os, sys, threading, time

config = json.loads(sys.argv[1])
point, marker = config["point"], config["marker"]
first = threading.Lock()  # parallel load jobs can reach a point together: the first one writes the marker


def pause(detail=""):
    if first.acquire(blocking=False):
        with open(marker + ".tmp", "w") as handle:
            json.dump({"point": point, "detail": detail}, handle)
        os.replace(marker + ".tmp", marker)
    time.sleep(600)
    os._exit(3)  # never reached: the test kills us


from dlt.common.destination.client import RunnableLoadJob
from dlt.common.storages.load_package import PackageStorage
from dlt.common.storages.load_storage import LoadStorage
from dlt.destinations.job_client_impl import SqlLoadJob
from dlt.pipeline.pipeline import Pipeline

if point == "extracted":
    Pipeline.normalize = lambda self, *args, **kwargs: pause(str(self.list_extracted_load_packages()))
elif point in ("normalize", "normalize-committed"):
    commit = LoadStorage.commit_new_load_package

    def commit_new_load_package(self, load_id):
        if point == "normalize":
            pause(load_id)
        commit(self, load_id)
        pause(load_id)

    LoadStorage.commit_new_load_package = commit_new_load_package
elif point in ("load-copied", "state-copied"):
    release = RunnableLoadJob._release
    table = "sources." if point == "load-copied" else "_dlt_pipeline_state."

    def _release(self, next_state):
        if next_state == "completed" and self.file_name().startswith(table):
            pause(self.file_name())  # its rows are committed to the destination, dlt has not recorded that
        release(self, next_state)

    RunnableLoadJob._release = _release
elif point in ("load-merged", "records-load"):
    complete = PackageStorage.complete_job
    packages = []

    def complete_job(self, load_id, file_name):
        moved = complete(self, load_id, file_name)
        packages.append(load_id) if load_id not in packages else None
        if point == "load-merged" and file_name.endswith(".sql"):  # an SCD2 merge is done, others are not
            pause(f"{load_id}/{file_name}")
        if point == "records-load" and len(packages) == 2:  # the run's second package: its records
            pause(f"{load_id}/{file_name}")
        return moved

    PackageStorage.complete_job = complete_job
elif point == "load-transaction":
    in_transaction = SqlLoadJob.maybe_transaction

    @contextlib.contextmanager
    def maybe_transaction(self, sql):
        with in_transaction(self, sql):
            yield
            if "_dlt_valid_to" in sql:  # the merge ran, its transaction is still open
                pause(self.file_name())

    SqlLoadJob.maybe_transaction = maybe_transaction
elif point == "history":
    import pipelines.run_records
    pipelines.run_records.load_synced = lambda *args, **kwargs: pause()  # loads config_changes and snapshots

from pipelines.runner import RunOptions, run_snapshot

run_snapshot(RunOptions(**config["options"]))
print("finished without reaching", point)
'''


class Track:
    """One pipeline following the run/mutate sequence against its own twin workspace."""

    def __init__(self, name: str, workspace, root: Path) -> None:
        self.name = name
        self.emulator = Emulator(workspace, tokens={TOKEN: "owner"})
        self.emulator.start()
        self.root = root
        root.mkdir(parents=True)
        self.options = RunOptions(access_token=TOKEN, base_url=self.emulator.base_url, resources=RESOURCES,
                                  duckdb_path=str(root / "history.duckdb"), pipelines_dir=str(root / "pipelines"),
                                  pipeline_name="interrupted")
        self.killed_at: Dict[str, object] = {}
        self.pending_after_kill: Dict[str, List[str]] = {}
        self.errors: List[str] = []


    def copy_first_snapshot_of(self, other: "Track") -> None:
        """This track's destination and dlt working dir become a copy of `other`'s (same pipeline name, twin
        workspace): as if it had taken the same first snapshot, without the cost of taking it."""
        shutil.copytree(other.root / "pipelines", self.root / "pipelines")
        for path in other.root.glob("history.duckdb*"):
            shutil.copy(path, self.root / path.name)


def start_killable_run(track: Track, point: str) -> subprocess.Popen:
    driver = track.root / "driver.py"
    driver.write_text(DRIVER)
    marker = track.root / "reached.json"
    config = {"point": point, "marker": str(marker), "options": asdict(track.options)}
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    if point == "extract":
        track.emulator.latency_ms = 150  # extraction takes a few seconds: time to kill it
    track.emulator.clear_requests()
    return subprocess.Popen([sys.executable, str(driver), json.dumps(config)], env=env, cwd=str(track.root),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def reached(track: Track, point: str) -> bool:
    if point == "extract":
        return len(track.emulator.requests) >= 6  # GET / and some pages answered, many more to come
    return (track.root / "reached.json").exists()


def kill_all_at_their_points(runs: Dict[str, subprocess.Popen], tracks: Dict[str, Track],
                             points: Dict[str, str]) -> None:
    deadline = time.monotonic() + KILL_TIMEOUT
    waiting = dict(runs)
    while waiting and time.monotonic() < deadline:
        for name, process in list(waiting.items()):
            track, point = tracks[name], points[name]
            if reached(track, point):
                process.send_signal(signal.SIGKILL)
                process.wait()
                marker = track.root / "reached.json"
                track.killed_at = json.loads(marker.read_text()) if marker.exists() else {
                    "point": point, "detail": f"after {len(track.emulator.requests)} API answers"}
                track.emulator.latency_ms = 0
                del waiting[name]
            elif process.poll() is not None:
                out, err = process.communicate()
                track.errors.append(f"the run ended (exit {process.returncode}) before {point}: {out} {err[-3000:]}")
                del waiting[name]
        time.sleep(0.01)
    for name, process in waiting.items():
        process.kill()
        tracks[name].errors.append(f"{points[name]} not reached in {KILL_TIMEOUT}s")


def pending_packages(options: RunOptions) -> List[str]:
    """The pipeline's pending packages, and ("new") the folder of an extraction that never finished."""
    pipeline = make_pipeline(options)
    return [f"extracted:{p}" for p in pipeline.list_extracted_load_packages()] + [
        f"normalized:{p}" for p in pipeline.list_normalized_load_packages()] + [
        f"new:{os.path.basename(path)}" for path in unfinished_extractions(pipeline)]


def run_or_recover(track: Track) -> None:
    """The track's run of this cycle; after a kill, it recovers the killed run first."""
    if not track.errors:
        try:
            run_snapshot(track.options)
        except Exception as exc:  # noqa: BLE001 - reported by the case's test
            track.errors.append(f"the run after the kill failed: {exc!r}")


def case_id(case) -> str:
    point, cycle = case
    return f"{point}@run{cycle}"


@pytest.fixture(scope="module")
def lockstep(tmp_path_factory):
    """The reference and every case, run/mutated in lockstep; killed runs killed in parallel."""
    root = tmp_path_factory.mktemp("interrupted")
    twins = twin_workspaces(seed=71, scale="small", count=len(CASES) + 1)
    reference = Track("reference", twins[0], root / "reference")
    tracks = {case_id(case): Track(case_id(case), ws, root / case_id(case)) for case, ws in zip(CASES, twins[1:])}
    points = {case_id(case): case[0] for case in CASES}
    cycles = Cycles()
    try:
        for cycle in range(CYCLES):
            if cycle:
                cycles.mutated(mutate_twins(twins, count=6, seed=710 + cycle))
            run_snapshot(reference.options)
            killed = {case_id(c): start_killable_run(tracks[case_id(c)], c[0]) for c in CASES if c[1] == cycle}
            kill_all_at_their_points(killed, tracks, points)
            for name in killed:
                tracks[name].pending_after_kill = pending_packages(tracks[name].options)
            if cycle == 0:  # tracks not killed in their first run start from a copy of the reference's
                for track in tracks.values():
                    if track.name not in killed:
                        track.copy_first_snapshot_of(reference)
            with ThreadPoolExecutor(RUNS_AT_ONCE) as pool:
                list(pool.map(run_or_recover, [t for t in tracks.values() if cycle or t.name in killed]))
        yield reference, tracks, cycles
    finally:
        for track in [reference, *tracks.values()]:
            track.emulator.stop()


# what the kill left behind, per point: the pipeline's pending packages ("extracted"/"normalized")
LEFT_BEHIND = {
    "extract": {"new"}, "extracted": {"extracted"}, "normalize": {"extracted"},
    "normalize-committed": {"extracted", "normalized"}, "load-copied": {"normalized"}, "state-copied": {"normalized"},
    "load-merged": {"normalized"}, "load-transaction": {"normalized"}, "history": set(),
    "records-load": {"normalized"},
}


@pytest.mark.parametrize("case", CASES, ids=[case_id(c) for c in CASES])
def test_a_killed_run_leaves_the_history_as_if_it_never_happened(lockstep, case):
    reference, tracks, cycles = lockstep
    point, killed_cycle = case
    track = tracks[case_id(case)]
    assert not track.errors, track.errors
    assert track.killed_at.get("point") == point
    assert {p.split(":")[0] for p in track.pending_after_kill} == LEFT_BEHIND[point], track.pending_after_kill

    expected = dataset_state(reference.options, cycles)
    actual = dataset_state(track.options, cycles)
    # a run recorded after its kill and the run that followed it stand for the same cycle
    expected_runs, actual_runs = expected.pop("snapshots"), actual.pop("snapshots")
    assert_same_history({"snapshots": Counter(set(expected_runs))}, {"snapshots": Counter(set(actual_runs))},
                        "the runs recorded differ")
    extra_runs = sum(actual_runs.values()) - sum(expected_runs.values())
    assert extra_runs == (1 if point in LOADED_WHEN_KILLED else 0), "a snapshots row only for loaded runs"
    assert_same_history(expected, actual, f"killed at {point} in run {killed_cycle}")
    assert sum(expected["config_changes"].values()) >= 6

    options = track.options
    assert query(options, "select id from {ds}.audit_events group by id having count(*) > 1") == []
    loaded = {row[0] for row in query(options, "select load_id from {ds}._dlt_loads where status = 0")}
    runs = [row[0] for row in query(options, "select run_id from {ds}.snapshots")]
    assert len(runs) == len(set(runs)) and set(runs) <= loaded, "one snapshots row per loaded run, no more"
    assert not pending_packages(options), "nothing left pending"
    print(f"\nkilled at {point} in run {killed_cycle} ({track.killed_at.get('detail') or 'before the records'}),"
          f" recovered: {sum(actual['config_changes'].values())} changes, {extra_runs} run recorded after its kill")


def test_two_runs_at_once_the_second_refuses(start_emulator, options_for, tmp_path):
    """Two `segment-history run` processes started together on one pipeline: one runs, the other refuses."""
    from segment_emulator import generate_workspace

    emulator = start_emulator(generate_workspace(seed=72, scale="small"))
    gate = threading.Event()  # the API answers nobody until one run has ended: the two surely overlap
    answer = emulator.respond

    def respond_once_open(*args):
        gate.wait(KILL_TIMEOUT)
        return answer(*args)

    emulator.respond = respond_once_open
    options = options_for(emulator, resources=RESOURCES)
    command = [sys.executable, "-m", "pipelines.cli", "run", "--base-url", emulator.base_url,
               "--duckdb-path", options.duckdb_path, "--pipelines-dir", options.pipelines_dir,
               "--pipeline-name", options.pipeline_name, "--resources", ",".join(RESOURCES)]
    env = {**os.environ, "SEGMENT_ACCESS_TOKEN": TOKEN,
           "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    runs = [subprocess.Popen(command, env=env, cwd=str(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True) for _ in range(2)]
    deadline = time.monotonic() + KILL_TIMEOUT
    while all(run.poll() is None for run in runs) and time.monotonic() < deadline:
        time.sleep(0.02)
    refused = next((run for run in runs if run.poll() is not None), None)
    gate.set()
    outcomes = [(run.wait(timeout=KILL_TIMEOUT), *run.communicate()) for run in runs]

    assert refused is not None, "neither run ended while the other held the pipeline"
    assert sorted(code for code, _, _ in outcomes) == [cli.EXIT_OK, cli.EXIT_LOCKED], outcomes
    refused_err = outcomes[runs.index(refused)][2]
    assert refused.returncode == cli.EXIT_LOCKED
    assert "Another segment-history run is in progress" in refused_err
    assert len(refused_err.strip().splitlines()) == 1, refused_err
    assert query(options, "select count(*) from {ds}.snapshots")[0][0] == 1
    assert Counter(r.path for r in emulator.requests)["/"] == 1, "the refused run did not read the API"


def test_a_job_half_copied_into_its_package_is_deleted_and_the_load_finished(tmp_path):
    """dlt moves a follow-up job into its package from the temporary folder; across devices that is a copy under
    a temporary name (`uniq_id()`), which a kill can leave behind among the jobs: the next run deletes it and
    finishes the load (dlt alone could not read the package any more)."""
    from dlt.common.utils import uniq_id

    twins = twin_workspaces(seed=73, scale="tiny")
    reference, track = Track("reference", twins[0], tmp_path / "reference"), Track("half-copied", twins[1],
                                                                                 tmp_path / "track")
    try:
        run_snapshot(reference.options)
        run_snapshot(reference.options)
        kill_all_at_their_points({"run": start_killable_run(track, "load-copied")}, {"run": track},
                                 {"run": "load-copied"})
        assert not track.errors, track.errors
        pipeline = make_pipeline(track.options)
        load_id, = pipeline.list_normalized_load_packages()
        half_copied = Path(pipeline.working_dir) / "load" / "normalized" / load_id / "new_jobs" / uniq_id()
        half_copied.write_text("INSERT INTO")  # the first bytes of a merge's SQL, and no more

        run_snapshot(track.options)

        assert not half_copied.exists() and not pending_packages(track.options)
        assert query(track.options, "select count(*) from {ds}.snapshots")[0][0] == 2, "the killed run and this one"
        assert dataset_fingerprint(track.options) == dataset_fingerprint(reference.options), "rows of every table"
    finally:
        reference.emulator.stop()
        track.emulator.stop()
